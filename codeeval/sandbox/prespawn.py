"""A small pool of sandboxes set up ahead of demand, keyed by their shape.

Setting up namespaces, mounts and a cgroup costs about 10 ms of wall time here; a
pre-spawned sandbox has done all of that and waits, blocked, for its job. Each one is used
for exactly one run and then destroyed, so nothing carries over from one run to the next.

The pool is generic: the backend supplies ``spawn(shape)`` and ``destroy(item)``. After
every ``take`` the backend calls ``refill(shape)``, and one background thread spawns a
replacement, so a stream of jobs of the same shape finds a ready sandbox while the previous
one runs. At most ``max_shapes`` shapes keep idle sandboxes; the least recently used shape
is evicted first.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

from codeeval.errors import SandboxError

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class PrespawnPool(Generic[K, T]):
    """Keeps up to ``per_shape`` idle items for each of the ``max_shapes`` latest shapes."""

    def __init__(self, spawn: Callable[[K], T], destroy: Callable[[T], None], *,
                 per_shape: int, max_shapes: int = 4) -> None:
        self._spawn = spawn
        self._destroy = destroy
        self._per_shape = per_shape
        self._max_shapes = max_shapes
        self._idle: OrderedDict[K, list[T]] = OrderedDict()
        self._pending: dict[K, int] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="codeeval-prespawn")

    def take(self, shape: K) -> T | None:
        """Return an idle item of ``shape``, or ``None`` when none is ready."""
        with self._lock:
            items = self._idle.get(shape)
            if items:
                self._idle.move_to_end(shape)
                return items.pop()
        return None

    def put(self, shape: K, item: T) -> bool:
        """Return a used ``item`` that is fit for another run to the idle items of ``shape``.

        Returns:
            ``False`` (the caller then destroys it) when the pool is closed or ``shape``
            already has ``per_shape`` idle items.
        """
        with self._lock:
            items = self._idle.setdefault(shape, [])
            if self._closed or len(items) >= self._per_shape:
                return False
            items.append(item)
            self._idle.move_to_end(shape)
            return True

    def refill(self, shape: K, in_use: int = 0) -> None:
        """Ask the background thread to top up ``shape`` (returns at once); ``in_use``
        counts items of ``shape`` that will come back with :meth:`put`."""
        with self._lock:
            if self._closed:
                return
            have = len(self._idle.get(shape, ())) + self._pending.get(shape, 0) + in_use
            missing = self._per_shape - have
            if missing <= 0:
                return
            self._pending[shape] = self._pending.get(shape, 0) + missing
        for _ in range(missing):
            try:
                self._executor.submit(self._fill_one, shape)
            except RuntimeError:  # executor shut down concurrently
                with self._lock:
                    self._pending[shape] -= 1

    def _fill_one(self, shape: K) -> None:
        try:
            item = self._spawn(shape)
        except SandboxError:  # the next run of this shape spawns its own sandbox
            with self._lock:
                self._pending[shape] -= 1
            return
        evicted: list[T] = []
        with self._lock:
            self._pending[shape] -= 1
            if self._closed:
                evicted.append(item)
            else:
                self._idle.setdefault(shape, []).append(item)
                self._idle.move_to_end(shape)
                while len(self._idle) > self._max_shapes:
                    _, old = self._idle.popitem(last=False)
                    evicted += old
        for old_item in evicted:
            with contextlib.suppress(SandboxError):
                self._destroy(old_item)

    def wait(self) -> None:
        """Block until every refill asked for so far has finished (spawned or failed)."""
        with self._lock:
            if self._closed:
                return
        with contextlib.suppress(RuntimeError):
            self._executor.submit(lambda: None).result()

    def idle(self) -> list[T]:
        """The idle items (for inspection and tests)."""
        with self._lock:
            return [item for items in self._idle.values() for item in items]

    def close(self) -> None:
        """Stop refilling and destroy every idle item."""
        with self._lock:
            self._closed = True
        self._executor.shutdown(wait=True)
        with self._lock:
            items = [item for items in self._idle.values() for item in items]
            self._idle.clear()
        for item in items:
            with contextlib.suppress(SandboxError):
                self._destroy(item)

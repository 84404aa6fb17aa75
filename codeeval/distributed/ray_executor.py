"""Score units on a Ray cluster: ``codeeval score --executor ray [--ray-address ADDR]``.

The driver (the ``codeeval score`` process) computes the references, owns every time limit
(units carry the expected outputs and reference times) and writes the results; the
cluster only runs :func:`~codeeval.score.executor.score_unit`. Units are grouped by task
into batches of a few programs of one problem, so each problem's inputs and outputs travel
once per batch; each batch is one Ray task holding one CPU, which runs its programs on a
small thread pool (``jobs_per_worker``, two per CPU by default) over a sandbox backend
opened once per Ray worker process (:func:`_worker_backend`) with the driver's settings.

Failures: a batch whose task dies (a worker or node lost, a sandbox backend that cannot
open on that node) is sent once more as a new task; if that fails too, its units are infra
rows (``SE``): counted apart, never a verdict of the programs. Ray workers end without
running ``atexit`` handlers, so a worker's backend is not closed when Ray stops the
worker; what it leaves (scratch directories, cgroups) is the kind the backend's sweeper
removes, and its fork server exits when its control socket closes.

The reward server fans out the same way (``codeeval serve --executor ray``):
:class:`RayItemRunner` sends each item to the cluster as one Ray task holding half a CPU
(two items per CPU, as the local engine runs two per core), with the problem and its
expected outputs put in Ray's object store once per problem, not once per item.

``ray`` is imported only when an executor connects: ``import codeeval`` stays cheap.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections import OrderedDict, deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from codeeval import config
from codeeval.errors import BackendUnavailable, InputError, SandboxError
from codeeval.sandbox.base import Backend
from codeeval.score.executor import Unit, infra_row, score_unit
from codeeval.score.items import ItemOptions, ItemOutcome, Prepared, score_item
from codeeval.score.options import ScoreOptions

RAY_MISSING = "--executor ray needs Ray: pip install 'codeeval[ray]'"
#: Programs of one problem per batch (one Ray task); fewer when a problem has fewer.
DEFAULT_BATCH_SIZE = 12
#: Programs a batch runs at once: two per CPU its task holds (it holds one).
DEFAULT_JOBS_PER_WORKER = 2
#: How long to wait for a TCP connection to ``--ray-address`` before calling it unreachable.
CONNECT_TIMEOUT_S = 5.0


class RayExecutor:
    """Scores units on a Ray cluster (see the module docstring).

    Use it as a context manager, or call :meth:`start` and :meth:`close`: it connects to
    ``address`` (``None``: start a local Ray instance, or join the one ``RAY_ADDRESS``
    names) and, on close, disconnects or stops only what it started itself.
    ``crash_attempts`` is for tests only: batch attempts numbered below it (0 is the
    first, 1 the retry) kill their worker process after their first program.
    """

    def __init__(self, address: str | None = None, backend_name: str | None = None,
                 settings: config.Settings | None = None,
                 jobs_per_worker: int = DEFAULT_JOBS_PER_WORKER,
                 batch_size: int = DEFAULT_BATCH_SIZE, *, num_cpus: int | None = None,
                 crash_attempts: int = 0) -> None:
        """Remember how to connect; nothing is started until :meth:`start`.

        Raises:
            InputError: ``address`` is not ``HOST:PORT``, ``ray://HOST:PORT`` or ``auto``,
                or a count is below 1.
        """
        if address is not None:
            _parse_address(address)
        if jobs_per_worker < 1 or batch_size < 1 or (num_cpus is not None and num_cpus < 1):
            raise InputError("jobs per worker, batch size and CPUs must be at least 1")
        self.address = address
        self._backend_name = backend_name
        self._settings = settings or config.settings()
        self._threads = jobs_per_worker
        self._batch_size = batch_size
        self._num_cpus = num_cpus
        self._crash_attempts = crash_attempts
        self._connected = False
        self._owns_connection = False
        self._nodes = 0
        self._cpus = 0
        self._stats = {"batches": 0, "batches_retried": 0, "batches_failed": 0}

    def __enter__(self) -> RayExecutor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Connect to the cluster (or start a local instance); a no-op when connected.

        Raises:
            BackendUnavailable: Ray is not installed, or no cluster answers at the address.
        """
        if self._connected:
            return
        ray = _import_ray()
        if not ray.is_initialized():
            if self.address is not None and self.address != "auto":
                _check_reachable(self.address)
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                      "configure_logging": True,
                                      "logging_level": logging.ERROR}
            if self._num_cpus is not None and self.address is None:
                kwargs["num_cpus"] = self._num_cpus
            try:
                ray.init(address=self.address, **kwargs)
            except (ConnectionError, RuntimeError, ValueError, TimeoutError) as e:
                where = f"at {self.address}" if self.address else "locally"
                raise BackendUnavailable(
                    f"cannot start or reach a Ray cluster {where}: {_first_line(e)}") from e
            self._owns_connection = True
        self._connected = True
        self._nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
        self._cpus = int(ray.cluster_resources().get("CPU", 0))

    def close(self) -> None:
        """Disconnect from the cluster, stopping the local instance if :meth:`start` made it;
        a connection made before :meth:`start` is left alone."""
        if self._connected and self._owns_connection:
            import ray

            ray.shutdown()
        self._connected = False
        self._owns_connection = False

    def results(self, units: Sequence[Unit], options: ScoreOptions
                ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Score every unit on the cluster, batch by batch (connecting first if needed).

        Returns:
            An iterator of ``(unit key, outcome row)``, batch by batch as batches finish.

        Raises:
            BackendUnavailable: Ray is missing, the cluster cannot be reached, or its
                workers cannot import codeeval.
        """
        self.start()
        import ray

        run_batch = ray.remote(num_cpus=1, max_retries=0)(_run_batch)
        queue: deque[tuple[list[Unit], int]] = deque(
            (b, 0) for b in batches(units, self._batch_size))
        self._stats["batches"] += len(queue)
        # Enough tasks in flight to keep every CPU busy while results come back.
        in_flight = max(2, 2 * self._cpus)
        pending: dict[Any, tuple[list[Unit], int]] = {}
        try:
            while queue or pending:
                while queue and len(pending) < in_flight:
                    batch, attempt = queue.popleft()
                    ref = run_batch.remote(batch, options, self._backend_name, self._settings,
                                           self._threads, attempt < self._crash_attempts)
                    pending[ref] = (batch, attempt)
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    batch, attempt = pending.pop(ref)
                    try:
                        rows: list[tuple[str, dict[str, Any]]] = ray.get(ref)
                    except ray.exceptions.RayError as e:
                        reason = _task_failure(e)
                        if attempt == 0:
                            self._stats["batches_retried"] += 1
                            queue.appendleft((batch, 1))
                            continue
                        self._stats["batches_failed"] += 1
                        for u in batch:
                            yield u.key, infra_row(u.problem, f"Ray task failed twice: {reason}")
                        continue
                    yield from rows
        finally:
            for ref in pending:  # only when the caller stopped early or something raised
                with contextlib.suppress(ray.exceptions.RayError, ValueError, TypeError):
                    ray.cancel(ref, force=True)

    @property
    def cpus(self) -> int:
        """The cluster's CPUs, as seen at connection (0 before)."""
        return self._cpus

    def describe(self) -> dict[str, Any]:
        """Returns:
            ``{"executor": "ray", "ray": {nodes, cpus, batches, batches_retried,
            batches_failed}}`` (the cluster as seen at connection).
        """
        return {"executor": "ray", "ray": {"nodes": self._nodes, "cpus": self._cpus,
                                           **self._stats}}


class RayItemRunner:
    """The reward server's item runner on a Ray cluster (an
    :data:`~codeeval.server.engine.ItemRunner`).

    Each item is one Ray task (``cpus_per_item`` CPUs, half by default) that scores it on
    its worker's own sandbox backend; the engine's threads wait for the answers. A task
    that dies (worker or node lost) is sent once more; if that fails too, the item raises
    :class:`~codeeval.errors.SandboxError`, which the engine reports as a retryable infra
    error. An input error of the item (a suite the problem lacks) is raised as itself.
    """

    #: Problems whose object-store copy is kept (least recently used dropped first).
    KEEP_PROBLEMS = 4096

    def __init__(self, executor: RayExecutor, *, cpus_per_item: float = 0.5) -> None:
        self.executor = executor
        self._cpus_per_item = cpus_per_item
        self._remote: Any = None
        self._refs: OrderedDict[int, tuple[Prepared, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.stats = {"items": 0, "items_retried": 0, "items_failed": 0}

    def start(self) -> None:
        """Connect to the cluster (see :meth:`RayExecutor.start`)."""
        self.executor.start()
        import ray

        self._remote = ray.remote(num_cpus=self._cpus_per_item, max_retries=0)(_run_item)

    def close(self) -> None:
        """Drop the object-store copies and disconnect."""
        with self._lock:
            self._refs.clear()
        self.executor.close()

    def describe(self) -> dict[str, Any]:
        """Returns:
            ``{"executor": "ray", "ray": {nodes, cpus, items, items_retried,
            items_failed}}``.
        """
        info = self.executor.describe()["ray"]
        with self._lock:
            return {"executor": "ray", "ray": {"nodes": info["nodes"], "cpus": info["cpus"],
                                               **self.stats}}

    def slots(self) -> int:
        """Items the cluster runs at once."""
        return max(1, int(self.executor.cpus / self._cpus_per_item))

    def _ref(self, prepared: Prepared) -> Any:
        import ray

        with self._lock:
            found = self._refs.get(id(prepared))
            if found is not None and found[0] is prepared:
                self._refs.move_to_end(id(prepared))
                return found[1]
            ref = ray.put(prepared)
            self._refs[id(prepared)] = (prepared, ref)
            while len(self._refs) > self.KEEP_PROBLEMS:
                self._refs.popitem(last=False)
            return ref

    def __call__(self, backend: Backend, prepared: Prepared, program: str, language: str,
                 options: ItemOptions) -> ItemOutcome:
        del backend  # the item runs on its Ray worker's own backend
        if self._remote is None:
            self.start()
        import ray

        ex = self.executor
        reason = ""
        for attempt in range(2):
            ref = self._remote.remote(self._ref(prepared), program, language, options,
                                      ex._backend_name, ex._settings,
                                      attempt < ex._crash_attempts)
            try:
                outcome: ItemOutcome = ray.get(ref)
            except ray.exceptions.RayError as e:
                reason = _task_failure(e)
                with self._lock:
                    self.stats["items_retried" if attempt == 0 else "items_failed"] += 1
                continue
            with self._lock:
                self.stats["items"] += 1
            return outcome
        raise SandboxError(f"Ray task failed twice: {reason}")


def batches(units: Sequence[Unit], size: int) -> list[list[Unit]]:
    """Group ``units`` by task, and split each group into near-equal batches of at most
    ``size``.

    Returns:
        The batches, tasks in order of their first unit, units in their given order.
    """
    by_task: dict[str, list[Unit]] = {}
    for u in units:
        by_task.setdefault(u.sample.task_id, []).append(u)
    out: list[list[Unit]] = []
    for group in by_task.values():
        n = -(-len(group) // size)
        out += [group[i * len(group) // n:(i + 1) * len(group) // n] for i in range(n)]
    return out


# ---------------------------------------------------------------------- in the Ray worker
_worker_lock = threading.Lock()
_worker: tuple[tuple[str | None, config.Settings], Backend] | None = None


def _worker_backend(name: str | None, settings: config.Settings) -> Backend:
    """The backend of this worker process, opened on first use (again if the driver's
    backend name or settings differ from the open one's)."""
    global _worker
    from codeeval.sandbox import open_backend

    with _worker_lock:
        if _worker is not None and _worker[0] == (name, settings):
            return _worker[1]
        if _worker is not None:
            _worker[1].close()
            _worker = None
        _worker = ((name, settings), open_backend(name, settings))
        return _worker[1]


def _run_item(prepared: Prepared, program: str, language: str, options: ItemOptions,
              backend_name: str | None, settings: config.Settings, crash: bool
              ) -> ItemOutcome:
    """One Ray task: score one server item on this worker's backend."""
    if crash:  # test hook: the worker process dies mid-item
        os._exit(70)
    return score_item(_worker_backend(backend_name, settings), prepared, program,
                      language=language, options=options)


def _run_batch(units: list[Unit], options: ScoreOptions, backend_name: str | None,
               settings: config.Settings, threads: int, crash: bool
               ) -> list[tuple[str, dict[str, Any]]]:
    """One Ray task: score ``units`` on this worker's backend, ``threads`` at a time."""
    backend = _worker_backend(backend_name, settings)
    rows: list[tuple[str, dict[str, Any]]] = []
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(score_unit, backend, u, options) for u in units]
        for u, fut in zip(units, futures, strict=True):
            rows.append((u.key, fut.result()))
            if crash:  # test hook: the worker process dies mid-batch
                os._exit(70)
    return rows


# ---------------------------------------------------------------------- on the driver
def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise BackendUnavailable(RAY_MISSING) from None
    return ray


def _parse_address(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of ``HOST:PORT`` or ``ray://HOST:PORT``; ``None`` for ``auto``.

    Raises:
        InputError: the address has neither form.
    """
    if address == "auto":
        return None
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"--ray-address {address!r}: expected HOST:PORT, ray://HOST:PORT "
                         "or auto")
    return host, int(port)


def _check_reachable(address: str) -> None:
    """Fail fast when nothing listens at ``address`` (``ray.init`` would retry for minutes).

    Raises:
        BackendUnavailable: no TCP connection within :data:`CONNECT_TIMEOUT_S`.
    """
    target = _parse_address(address)
    if target is None:
        return
    try:
        socket.create_connection(target, timeout=CONNECT_TIMEOUT_S).close()
    except OSError as e:
        raise BackendUnavailable(
            f"no Ray cluster at {address}: {e.strerror or e} (start one with "
            "'ray start --head', or leave out --ray-address to start a local one)") from None


def _task_failure(error: Exception) -> str:
    """Why a batch task failed, in one line, for the infra rows of its units.

    Raises:
        BackendUnavailable: the workers cannot import codeeval (retrying would not help).
        Exception: the task raised something other than a sandbox failure: a bug, raised
            as itself.
    """
    import ray

    if isinstance(error, ray.exceptions.RayTaskError):
        cause = error.cause
        if isinstance(cause, ImportError):
            raise BackendUnavailable(f"Ray workers cannot import codeeval ({cause}): install "
                                     "it on every node of the cluster") from None
        if not isinstance(cause, SandboxError):
            raise cause if isinstance(cause, Exception) else error
        return f"{type(cause).__name__}: {_first_line(cause)}"
    return f"{type(error).__name__}: {_first_line(error)}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__

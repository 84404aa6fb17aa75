"""Host uids for sandboxed programs, one per concurrent run ("slot"), held with file locks.

Each concurrent run gets its own host uid (``uid_base + slot``), as ioi/isolate does with
box ids: ``RLIMIT_NPROC`` then counts one run's processes only, and two runs can never
signal or ptrace each other. Slots are claimed with ``flock`` on a lock file per slot, so
separate codeeval processes on one host share the range safely; a lock dies with the
process that held it, so a crashed supervisor frees its slots.

A process claims the slots it released most recently first, then searches round the
range: the fork server keeps an init and namespaces per slot it has served, so a few
slots used again and again cost less than every slot used in turn.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from codeeval.errors import SandboxCrashed


@dataclass(frozen=True, slots=True)
class Slot:
    """A claimed slot: its index, the host uid/gid to run as, and the lock's fd."""

    index: int
    uid: int
    fd: int


class SlotPool:
    """Claims and releases slots in ``[uid_base, uid_base + count)``."""

    def __init__(self, lock_dir: Path, uid_base: int, count: int) -> None:
        self.lock_dir = lock_dir
        self.uid_base = uid_base
        self.count = count
        self._next = itertools.count()
        self._mutex = threading.Lock()
        self._recent: list[int] = []  # released here, most recent last

    def acquire(self) -> Slot:
        """Claim a free slot.

        Raises:
            SandboxCrashed: every slot is taken, or the lock directory is unusable.
        """
        while True:
            with self._mutex:
                index = self._recent.pop() if self._recent else None
            if index is None:
                break
            slot = self._try(index)
            if slot is not None:
                return slot
        with self._mutex:
            start = next(self._next)
        for i in range(self.count):
            slot = self._try((start + i) % self.count)
            if slot is not None:
                return slot
        raise SandboxCrashed(f"all {self.count} sandbox slots are busy")

    def _try(self, index: int) -> Slot | None:
        """Slot ``index`` if its lock is free, else ``None``."""
        path = f"{self.lock_dir}/slot-{index}.lock"
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
        try:
            fd = os.open(path, flags, 0o600)
        except FileNotFoundError:  # the directory is made on first use (or again)
            try:
                self.lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
                fd = os.open(path, flags, 0o600)
            except OSError as e:
                raise SandboxCrashed(f"cannot create slot lock dir {self.lock_dir}: {e}") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return Slot(index, self.uid_base + index, fd)

    def release(self, slot: Slot) -> None:
        """Free a slot (closing the fd drops the lock)."""
        os.close(slot.fd)
        with self._mutex:
            if slot.index not in self._recent:
                self._recent.append(slot.index)

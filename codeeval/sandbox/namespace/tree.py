"""Host-side state of one namespace run: its processes, work dir, cgroup and uid slot."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import time

from codeeval.errors import SandboxCrashed
from codeeval.sandbox import workdir
from codeeval.sandbox.namespace import cgroups
from codeeval.sandbox.namespace.slots import Slot, SlotPool
from codeeval.sandbox.process import ProcessTree
from codeeval.sandbox.procfs import TreeMeter

_SETUP_TIMEOUT_S = 20.0


def read_info(info_fd: int, popen: subprocess.Popen[bytes], stderr_fd: int) -> dict[str, int]:
    """Read bwrap's --info-fd JSON (it arrives once the namespaces exist)."""
    data = b""
    deadline = time.monotonic() + _SETUP_TIMEOUT_S
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise SandboxCrashed("bubblewrap did not report its child within "
                                 f"{_SETUP_TIMEOUT_S:g} s")
        ready, _, _ = select.select([info_fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(info_fd, 4096)
        if not chunk:
            break
        data += chunk
    try:
        info = json.loads(data)
        if isinstance(info, dict) and isinstance(info.get("child-pid"), int):
            return info
    except ValueError:
        pass
    popen.wait(timeout=_SETUP_TIMEOUT_S)
    err = b""
    with contextlib.suppress(OSError):
        os.set_blocking(stderr_fd, False)
        err = os.read(stderr_fd, 4096)
    raise SandboxCrashed("bubblewrap failed before starting the program: "
                         + (err.decode(errors="replace").strip() or f"exit {popen.returncode}"))


def reap_pidfd(fd: int, timeout_s: float = 5.0) -> None:
    """Wait (bounded) for the process of pidfd ``fd`` to exit, and reap it if it is our
    child (an adopted orphan included). Never raises; does not close ``fd``."""
    with contextlib.suppress(OSError, ValueError):
        select.select([fd], [], [], timeout_s)  # readable once it has exited
        os.waitid(os.P_PIDFD, fd, os.WEXITED | os.WNOHANG)


class NsTree(ProcessTree):
    """Host-side state of one namespace run."""

    def __init__(self, slots: SlotPool, slot: Slot | None, run_id: str, uid: int,
                 gid: int) -> None:
        self.run_id = run_id
        self.uid = uid
        self.gid = gid
        self.init_pid = -1
        self._init_pidfd: int | None = None
        self._slots = slots
        self._slot = slot
        self.workdir: workdir.Workdir | None = None
        self.cgroup: cgroups.RunCgroup | None = None
        self._crash: str | None = None

    def held_fds(self) -> list[int]:
        """Supervisor fds this run holds besides its pipes (init pidfd, slot lock)."""
        fds = [self._init_pidfd] if self._init_pidfd is not None else []
        return fds + ([self._slot.fd] if self._slot is not None else [])

    def set_init(self, pid: int) -> None:
        self.init_pid = pid
        try:
            self._init_pidfd = os.pidfd_open(pid)
        except OSError as e:
            raise SandboxCrashed(f"sandbox init {pid} vanished during setup: {e}") from e

    def kill(self) -> None:
        if self._init_pidfd is not None:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self._init_pidfd, signal.SIGKILL)
        if self.cgroup is not None:
            self.cgroup.kill_all()

    def new_meter(self) -> TreeMeter:
        """Without a cgroup: every process of the sandbox's PID namespace."""
        return TreeMeter(pid_in_ns=self.init_pid)

    def cpu_time_s(self) -> float | None:
        if self.cgroup is not None:
            return self.cgroup.cpu_time_s()
        return self.sampled().cpu_s

    def memory(self) -> tuple[int | None, bool]:
        if self.cgroup is not None:
            return self.cgroup.peak_memory_bytes(), self.cgroup.oom_killed()
        return self.sampled_peak(), False

    def memory_now(self) -> int | None:
        return None if self.cgroup is not None else self.sampled().rss_bytes

    def decode_status(self, wait_status: int) -> tuple[int | None, int | None]:
        code, sig = super().decode_status(wait_status)
        # bwrap reports a program killed by signal N as exit code 128 + N.
        if code is not None and 128 < code < 128 + signal.NSIG:
            return None, code - 128
        return code, sig

    def reaped(self, wait_status: int) -> None:
        super().reaped(wait_status)
        if os.WIFSIGNALED(wait_status):
            # bubblewrap reports its program's death as an exit code, and the supervisor
            # kills a run through its init and cgroup, never through this outer bubblewrap
            # (which is outside the cgroup): bubblewrap itself dead of a signal means the
            # sandbox was killed from outside (the program's uid cannot signal it). An
            # infra error, never the program's verdict.
            self._crash = ("the sandbox (bubblewrap) was killed by signal "
                           f"{os.WTERMSIG(wait_status)}")

    def reap_init(self) -> None:
        """Kill the sandbox's init and reap it (we adopted it as a subreaper). Never raises."""
        fd = self._init_pidfd
        if fd is None:
            return
        self.kill()
        reap_pidfd(fd)

    def cleanup(self, outputs: tuple[str, ...], max_bytes: int) -> dict[str, bytes]:
        files: dict[str, bytes] = {}
        errors: list[str] = []
        self.reap_init()
        if self._crash:
            errors.append(self._crash)
        if self.workdir is not None and not errors:
            try:
                files = self.workdir.collect(outputs, max_bytes)
            except OSError as e:
                errors.append(f"copy-out failed: {e}")
        self._release(errors)
        if errors:
            raise SandboxCrashed("; ".join(errors))
        return files

    def abort(self) -> None:
        """Tear down a run whose setup failed part-way, or that never ran. Never raises."""
        self.kill()
        if self.popen is not None:
            with contextlib.suppress(OSError):
                self.popen.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=10)
        self.reap_init()
        self._release([])

    def _release(self, errors: list[str]) -> None:
        if self.workdir is not None:
            try:
                self.workdir.remove()
            except SandboxCrashed as e:
                errors.append(str(e))
            self.workdir = None
        if self.cgroup is not None:
            self.cgroup.remove_noting(errors)
            self.cgroup = None
        if self._init_pidfd is not None:
            os.close(self._init_pidfd)
            self._init_pidfd = None
        if self._slot is not None:
            self._slots.release(self._slot)
            self._slot = None

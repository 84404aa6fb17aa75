"""A started sandboxed process tree, supervised from the host.

:class:`SandboxProcess` is what every backend returns from ``start()``. The supervisor owns
every timer and every kill: one thread runs a selector loop that feeds stdin, drains stdout
and stderr into capped buffers (the host never holds more than the caps), moves JSON lines
over the structured channel, polls the tree's CPU time and enforces the wall clock.

The structured channel is two pipes. Inside the sandbox their fd numbers are given in the
environment variable ``CODEEVAL_CHANNEL`` as ``"<read fd>,<write fd>"``; each message is
one line of JSON (UTF-8) in each direction. A one-shot run (``Backend.run``) is the same
machinery without the channel: start, then :meth:`SandboxProcess.finish`.

A program that misbehaves on the channel (garbage, an oversized line, closing it, dying)
yields a :class:`Reply` describing that; only a failure of the sandbox itself raises.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import resource
import selectors
import subprocess
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from codeeval.errors import SandboxCrashed
from codeeval.model.run import Limits, RunResult
from codeeval.sandbox.classify import DEFAULT_OOM_MARKERS, KillReason, Observation, classify
from codeeval.sandbox.procfs import TreeMeter

#: Largest single channel message (one JSON line) accepted from the sandbox.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
#: Environment variable that tells the sandboxed program its channel fds.
CHANNEL_ENV = "CODEEVAL_CHANNEL"
_READ_CHUNK = 1 << 16
_STDERR_TAIL = 4096


def message_line(message: Any) -> bytes:
    """``message`` as one line of the structured channel (JSON, NaN and infinities allowed).

    Raises:
        TypeError: ``message`` is not JSON-serialisable.
    """
    return json.dumps(message, separators=(",", ":"), allow_nan=True).encode() + b"\n"


class ProcessTree(ABC):
    """Backend-specific handle on a started tree; :class:`SandboxProcess` drives it."""

    #: Host pid of the process whose exit ends the run (waited for with a pidfd).
    pid: int = -1
    #: The Popen of :attr:`pid`, told its return code once the supervisor has reaped it.
    popen: subprocess.Popen[bytes] | None = None
    #: Set once :attr:`pid` is reaped: from then on, ids that named the tree (its pid, its
    #: process group) may name unrelated processes, so meters must stop looking them up.
    ended: bool = False
    _meter: TreeMeter | None = None

    @abstractmethod
    def kill(self) -> None:
        """SIGKILL every process of the tree. Must be idempotent and never raise."""

    def note_kill(self, reason: KillReason) -> None:  # noqa: B027 - optional hook
        """Called just before the supervisor kills a live tree, with the reason."""

    @abstractmethod
    def cpu_time_s(self) -> float | None:
        """CPU time of the whole tree so far, or ``None`` if only rusage at exit can tell."""

    @abstractmethod
    def memory(self) -> tuple[int | None, bool]:
        """``(peak bytes or None, whether the OOM killer fired)``, read after the tree ended."""

    def memory_now(self) -> int | None:
        """Resident memory of the tree now, when the supervisor must enforce the limit itself.

        ``None`` (the default) means something else enforces it (a cgroup).
        """
        return None

    def new_meter(self) -> TreeMeter:
        """The ``/proc`` meter that selects this tree's processes (trees without a cgroup).

        Raises:
            NotImplementedError: the tree is always measured some other way.
        """
        raise NotImplementedError

    def sampled(self) -> TreeMeter:
        """The tree's ``/proc`` meter, sampled now unless the tree was already reaped (after
        the reap its ids may name other processes, so the last sample stands)."""
        if self._meter is None:
            self._meter = self.new_meter()
        if not self.ended:
            self._meter.sample()
        return self._meter

    def sampled_peak(self) -> int | None:
        """The highest resident memory seen by :meth:`sampled`, or ``None`` if never sampled."""
        return (self._meter.peak_rss_bytes or None) if self._meter is not None else None

    def exit_fd(self) -> int | None:
        """A new fd that becomes readable once the run has ended (the caller closes it).

        The default is a pidfd of :attr:`pid`; ``None`` when it cannot be had.
        """
        try:
            return os.pidfd_open(self.pid)
        except OSError:  # the outer process is already gone, or pidfd is unsupported
            return None

    def wait_exit(self, block: bool) -> tuple[int, Any] | None:
        """Reap the run: ``(wait status, rusage or None)``, or ``None`` if it is still running
        (only when not ``block``). The default waits for :attr:`pid`, our child."""
        try:
            pid, status, rusage = os.wait4(self.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return 0, None
        return None if pid == 0 else (status, rusage)

    def reaped(self, wait_status: int) -> None:
        """Called once the supervisor has reaped :attr:`pid`; keeps :attr:`popen` in step."""
        self.ended = True
        if self.popen is not None:
            self.popen.returncode = os.waitstatus_to_exitcode(wait_status)

    def decode_status(self, wait_status: int) -> tuple[int | None, int | None]:
        """Turn the wait status of :attr:`pid` into ``(exit_code, signal)`` of the program."""
        if os.WIFSIGNALED(wait_status):
            return None, os.WTERMSIG(wait_status)
        return os.waitstatus_to_exitcode(wait_status), None

    @abstractmethod
    def cleanup(self, outputs: tuple[str, ...], max_bytes: int) -> dict[str, bytes]:
        """After the tree is dead: copy out ``outputs``, then remove every trace of the run.

        Raises:
            SandboxCrashed: something could not be removed (the run is then an infra error).
        """


class ReplyKind(enum.Enum):
    """What :meth:`SandboxProcess.receive` found."""

    MESSAGE = "message"  #: a JSON value arrived
    TIMEOUT = "timeout"  #: the per-call wall or CPU budget ran out; the tree was killed
    EXITED = "exited"  #: the process tree ended before sending a message
    CLOSED = "closed"  #: the program closed its end of the channel
    MALFORMED = "malformed"  #: a line that is not JSON arrived
    OVERSIZE = "oversize"  #: a line longer than MAX_MESSAGE_BYTES; the tree was killed
    LIMIT = "limit"  #: a run-wide limit (time, output) ended the run


@dataclass(frozen=True, slots=True)
class Reply:
    """One answer from :meth:`SandboxProcess.receive`."""

    kind: ReplyKind
    value: Any = None
    wall_time_s: float = 0.0
    cpu_time_s: float = 0.0
    detail: str = ""


class _Capped:
    """A byte buffer that keeps at most ``cap`` bytes and remembers whether it overflowed."""

    __slots__ = ("buf", "cap", "overflow")

    def __init__(self, cap: int) -> None:
        self.buf = bytearray()
        self.cap = cap
        self.overflow = False

    def add(self, data: bytes) -> bool:
        room = self.cap - len(self.buf)
        if len(data) > room:
            self.buf += data[: max(room, 0)]
            self.overflow = True
            return False
        self.buf += data
        return True


class SandboxProcess:
    """A running sandboxed process tree: stdin/stdout/stderr, the channel, the limits.

    Use as a context manager; leaving the block kills the tree and cleans up if
    :meth:`finish` was not called.
    """

    def __init__(
        self,
        tree: ProcessTree,
        *,
        limits: Limits,
        stdin_data: bytes,
        stdin_fd: int,
        stdout_fd: int,
        stderr_fd: int,
        channel_to: int | None,
        channel_from: int | None,
        outputs: tuple[str, ...],
        oom_markers: Sequence[bytes] = DEFAULT_OOM_MARKERS,
    ) -> None:
        self._tree = tree
        self.limits = limits
        self._outputs = outputs
        self._oom_markers = oom_markers
        self._started = time.monotonic()
        self._ended: float | None = None
        self._status: int | None = None
        self._rusage_cpu: float | None = None
        self._rusage_maxrss: int | None = None
        self._killed: KillReason | None = None
        self._result: RunResult | None = None
        #: Set when finishing raised: later calls raise it again instead of cleaning twice.
        self._failure: SandboxCrashed | None = None
        self._stdout = _Capped(limits.stdout_bytes)
        self._stderr = _Capped(limits.stderr_bytes)
        self._stdin_pending = memoryview(stdin_data)
        self._chan_out = bytearray()  # to the sandbox
        self._chan_in = bytearray()  # from the sandbox, not yet a full line
        self._messages: deque[tuple[ReplyKind, Any, str]] = deque()
        self._chan_eof = channel_from is None
        self._has_channel = channel_to is not None
        self._fds = {"stdin": stdin_fd, "stdout": stdout_fd, "stderr": stderr_fd}
        if channel_to is not None:
            self._fds["chan_to"] = channel_to
        if channel_from is not None:
            self._fds["chan_from"] = channel_from
        for fd in self._fds.values():
            os.set_blocking(fd, False)
        self._exit_fd: int | None = tree.exit_fd()
        self._sel = selectors.DefaultSelector()
        if self._exit_fd is not None:
            self._sel.register(self._exit_fd, selectors.EVENT_READ, "exit")
        for name in ("stdout", "stderr", "chan_from"):
            if name in self._fds:
                self._sel.register(self._fds[name], selectors.EVENT_READ, name)
        if self._stdin_pending:
            self._sel.register(stdin_fd, selectors.EVENT_WRITE, "stdin")
        else:
            self._close_fd("stdin")

    # ----------------------------------------------------------------- public API
    @property
    def running(self) -> bool:
        """Whether the tree has not ended yet."""
        return self._status is None

    def send(self, message: Any) -> bool:
        """Queue one JSON value for the program; it is written while the caller waits.

        Returns:
            ``False`` when the channel is closed (the program closed it or ended), else ``True``.

        Raises:
            SandboxCrashed: the job was started without a channel.
            TypeError: ``message`` is not JSON-serialisable.
        """
        return self.send_line(message_line(message))

    def send_line(self, data: bytes) -> bool:
        """Like :meth:`send`, for a message already encoded: one JSON line ending in ``\\n``.

        Raises:
            SandboxCrashed: the job was started without a channel.
        """
        if not self._has_channel:
            raise SandboxCrashed("this process was started without a channel")
        if "chan_to" not in self._fds or self._status is not None:
            return False
        if not self._chan_out:
            self._sel.register(self._fds["chan_to"], selectors.EVENT_WRITE, "chan_to")
        self._chan_out += data
        self._pump(time.monotonic())  # write what fits now, without blocking
        return "chan_to" in self._fds

    def receive(self, timeout_s: float | None = None, cpu_time_s: float | None = None) -> Reply:
        """Wait for the next message from the program.

        Args:
            timeout_s: wall-clock budget of this call; when it runs out the tree is killed
                and the run's status becomes TLE.
            cpu_time_s: CPU-time budget of this call (needs a backend that meters CPU).

        Returns:
            A :class:`Reply`; only ``MESSAGE`` carries a value.
        """
        t0 = time.monotonic()
        cpu0 = self._cpu_now()
        deadline = None if timeout_s is None else t0 + timeout_s
        cpu_deadline = None if cpu_time_s is None else cpu0 + cpu_time_s

        def reply(kind: ReplyKind, value: Any = None, detail: str = "") -> Reply:
            return Reply(kind, value, time.monotonic() - t0, max(0.0, self._cpu_now() - cpu0),
                         detail)

        while True:
            if self._messages:
                kind, value, detail = self._messages.popleft()
                return reply(kind, value, detail)
            if self._status is not None:
                if self._killed in (KillReason.WALL_TIME, KillReason.CPU_TIME,
                                    KillReason.OUTPUT):
                    return reply(ReplyKind.LIMIT, detail=self._killed.value)
                return reply(ReplyKind.EXITED)
            if self._chan_eof:
                return reply(ReplyKind.CLOSED)
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                self._kill(KillReason.WALL_TIME)
                return reply(ReplyKind.TIMEOUT, detail="wall")
            if cpu_deadline is not None and self._cpu_now() >= cpu_deadline:
                self._kill(KillReason.CPU_TIME)
                return reply(ReplyKind.TIMEOUT, detail="cpu")
            wait = self._poll_interval(now)
            if deadline is not None:
                wait = min(wait, deadline - now)
            self._pump(now + max(wait, 0.0))

    def finish(self, timeout_s: float | None = None) -> RunResult:
        """Close the channel and stdin, wait for the tree to end within its limits, and clean up.

        Args:
            timeout_s: extra wall-clock bound for this wait (the run's own limits still apply).

        Returns:
            The run's result (computed once; later calls return the same object).

        Raises:
            SandboxCrashed: the tree could not be killed or the run could not be cleaned up.
        """
        if self._result is not None:
            return self._result
        if self._failure is not None:
            raise self._failure
        self._close_fd("chan_to")
        self._chan_out.clear()
        limit = None if timeout_s is None else time.monotonic() + timeout_s
        while self._status is None:
            now = time.monotonic()
            if limit is not None and now >= limit:
                self._kill(KillReason.WALL_TIME)
                break
            step = self._poll_interval(now)
            self._pump(now + (step if limit is None else min(step, limit - now)))
        return self._finalise()

    def kill(self) -> RunResult:
        """Kill the tree now and return the result (status from what happened before)."""
        if self._result is None and self._status is None:
            self._kill(KillReason.REQUESTED)
        return self.finish()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._result is None and self._failure is None:
            if exc is not None:
                with contextlib.suppress(SandboxCrashed):
                    self.kill()
            else:
                self.kill()

    # ----------------------------------------------------------------- internals
    def _cpu_now(self) -> float:
        cpu = self._tree.cpu_time_s()
        return cpu if cpu is not None else 0.0

    def _poll_interval(self, now: float) -> float:
        wall_left = self._started + self.limits.wall_s - now
        cpu = self._tree.cpu_time_s()
        cpu_left = self.limits.time_s - cpu if cpu is not None else wall_left
        return max(0.002, min(wall_left, cpu_left / 2, 0.05))

    def _check_limits(self, now: float) -> None:
        if self._status is not None or self._killed is not None:
            return
        if now - self._started >= self.limits.wall_s:
            self._kill(KillReason.WALL_TIME)
            return
        cpu = self._tree.cpu_time_s()
        if cpu is not None and cpu > self.limits.time_s:
            self._kill(KillReason.CPU_TIME)
            return
        rss = self._tree.memory_now()
        if rss is not None and rss > self.limits.memory_bytes:
            self._kill(KillReason.MEMORY)

    def _kill(self, reason: KillReason) -> None:
        if self._killed is None:
            self._killed = reason
        if self._status is None:
            self._tree.note_kill(reason)
        self._tree.kill()
        # Wait (bounded) for the tree to be reaped so the result is final.
        deadline = time.monotonic() + 10.0
        while self._status is None:
            if time.monotonic() > deadline:
                raise SandboxCrashed(f"process {self._tree.pid} survived SIGKILL for 10 s")
            self._pump(time.monotonic() + 0.05, check_limits=False)

    def _pump(self, until: float, *, check_limits: bool = True) -> None:
        """Run the selector loop once (at most until ``until``), then check the limits."""
        timeout = max(0.0, until - time.monotonic())
        try:
            events = self._sel.select(timeout)
        except InterruptedError:
            events = []
        for key, _ in events:
            name = key.data
            if name != "exit" and name not in self._fds:
                continue  # closed by an earlier event of this batch (e.g. the exit's drain)
            if name == "exit":
                self._reap()
            elif name in ("stdout", "stderr"):
                self._read_output(name)
            elif name == "chan_from":
                self._read_channel()
            elif name == "stdin":
                self._write_stdin()
            elif name == "chan_to":
                self._write_channel()
        if self._exit_fd is None and self._status is None:
            self._reap(block=False)
        if check_limits:
            self._check_limits(time.monotonic())

    def _reap(self, block: bool = True) -> None:
        reaped = self._tree.wait_exit(block)
        if reaped is None:
            return
        status, rusage = reaped
        self._ended = time.monotonic()
        self._status = status
        self._tree.reaped(status)
        if rusage is not None:
            self._rusage_cpu = rusage.ru_utime + rusage.ru_stime
            # A child inherits its parent's high-water RSS at exec (the kernel folds the old
            # address space's peak into it), so its ru_maxrss proves a large peak only when
            # it exceeds everything it could have inherited: this process's own peak.
            inherited = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            if rusage.ru_maxrss > inherited:
                self._rusage_maxrss = rusage.ru_maxrss * 1024
        if self._exit_fd is not None:
            self._sel.unregister(self._exit_fd)
            os.close(self._exit_fd)
            self._exit_fd = None
        # The outer process is gone; make sure nothing of the tree outlives it, then drain
        # what is still buffered in the pipes.
        self._tree.kill()
        self._drain(time.monotonic() + 1.0)

    def _drain(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            names = [n for n in ("stdout", "stderr", "chan_from") if n in self._fds]
            if not names:
                return
            events = self._sel.select(max(0.0, deadline - time.monotonic()))
            for key, _ in events:
                if key.data not in self._fds:
                    continue
                if key.data in ("stdout", "stderr"):
                    self._read_output(key.data)
                elif key.data == "chan_from":
                    self._read_channel()

    def _read_output(self, name: str) -> None:
        fd = self._fds[name]
        buf = self._stdout if name == "stdout" else self._stderr
        for _ in range(16):
            try:
                data = os.read(fd, _READ_CHUNK)
            except BlockingIOError:
                return
            if not data:
                self._close_fd(name)
                return
            if not buf.add(data):
                # Over the cap: stop reading this stream for good and end the run.
                self._close_fd(name)
                if self._status is None and self._killed is None:
                    self._killed = KillReason.OUTPUT
                    self._tree.note_kill(KillReason.OUTPUT)
                    self._tree.kill()
                return

    def _read_channel(self) -> None:
        fd = self._fds["chan_from"]
        for _ in range(64):
            try:
                data = os.read(fd, _READ_CHUNK)
            except BlockingIOError:
                break
            if not data:
                self._close_fd("chan_from")
                self._chan_eof = True
                break
            self._chan_in += data
            if len(self._chan_in) > MAX_MESSAGE_BYTES and b"\n" not in data:
                self._messages.append((ReplyKind.OVERSIZE, None,
                                       f"message over {MAX_MESSAGE_BYTES} bytes"))
                self._chan_in.clear()
                self._close_fd("chan_from")
                self._chan_eof = True
                if self._status is None:
                    self._killed = self._killed or KillReason.REQUESTED
                    self._tree.note_kill(KillReason.OUTPUT)  # an oversized message
                    self._tree.kill()
                break
        while True:
            nl = self._chan_in.find(b"\n")
            if nl < 0:
                break
            line = bytes(self._chan_in[:nl])
            del self._chan_in[: nl + 1]
            try:
                self._messages.append((ReplyKind.MESSAGE, json.loads(line), ""))
            except (ValueError, RecursionError) as e:
                self._messages.append((ReplyKind.MALFORMED, None, str(e)[:200]))

    def _write_stdin(self) -> None:
        try:
            n = os.write(self._fds["stdin"], self._stdin_pending[: 1 << 16])
        except BlockingIOError:
            return
        except (BrokenPipeError, OSError):
            self._stdin_pending = memoryview(b"")
            self._close_fd("stdin")
            return
        self._stdin_pending = self._stdin_pending[n:]
        if not self._stdin_pending:
            self._close_fd("stdin")

    def _write_channel(self) -> None:
        try:
            n = os.write(self._fds["chan_to"], self._chan_out[: 1 << 16])
        except BlockingIOError:
            return
        except (BrokenPipeError, OSError):
            self._chan_out.clear()
            self._close_fd("chan_to")
            return
        del self._chan_out[:n]
        if not self._chan_out:
            self._sel.unregister(self._fds["chan_to"])

    def _close_fd(self, name: str) -> None:
        fd = self._fds.pop(name, None)
        if fd is None:
            return
        with contextlib.suppress(KeyError, ValueError):
            self._sel.unregister(fd)
        with contextlib.suppress(OSError):
            os.close(fd)

    def _finalise(self) -> RunResult:
        try:
            status = self._status if self._status is not None else 0
            exit_code, sig = self._tree.decode_status(status)
            cpu = max(self._tree.cpu_time_s() or 0.0, self._rusage_cpu or 0.0)
            peak, oom = self._tree.memory()
            if peak is None:
                peak = self._rusage_maxrss
            wall = (self._ended or time.monotonic()) - self._started
            files = self._tree.cleanup(self._outputs, self.limits.file_size_mb * 1024 * 1024)
        except SandboxCrashed as e:
            self._failure = e
            raise
        finally:
            for name in list(self._fds):
                self._close_fd(name)
            if self._exit_fd is not None:
                os.close(self._exit_fd)
                self._exit_fd = None
            self._sel.close()
        obs = Observation(
            exit_code=exit_code, signal=sig, killed=self._killed, cpu_time_s=cpu,
            wall_time_s=wall, peak_memory_bytes=peak, oom_killed=oom,
            stdout_overflow=self._stdout.overflow, stderr_overflow=self._stderr.overflow,
            stderr_tail=bytes(self._stderr.buf[-_STDERR_TAIL:]),
        )
        status_, reason = classify(obs, self.limits, self._oom_markers)
        self._result = RunResult(
            status=status_, exit_code=exit_code, signal=sig, cpu_time_s=cpu, wall_time_s=wall,
            peak_memory_mb=None if peak is None else peak / (1024 * 1024),
            stdout=bytes(self._stdout.buf), stderr=bytes(self._stderr.buf),
            stdout_truncated=self._stdout.overflow, stderr_truncated=self._stderr.overflow,
            files=files, reason=reason,
        )
        return self._result

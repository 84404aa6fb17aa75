"""codeeval's agent inside a pooled container: PID 1, runs one job at a time, cleans up.

This file is bind-mounted read-only into every container of the docker backend's pool and
started as the container's command (``python3 -I -S agent.py SOCKET``). It needs only the
standard library of Python >= 3.9, so any image with ``python3`` can serve. It never
imports codeeval.

Why PID 1: the kernel does not deliver a signal to a PID namespace's init from inside that
namespace unless init installed a handler for it, so a program (which runs as the same uid)
cannot kill or stop the agent; ``kill(-1, SIGKILL)`` from the agent reaches every other
process of the container. The agent resets every handler Python installs, and marks itself
non-dumpable, so a program can neither ptrace it nor open ``/proc/1/mem`` or its fds.

Protocol, over a ``SOCK_SEQPACKET`` unix socket the agent connects to (the host listens,
accepts once and unlinks the socket file): one JSON object per packet, fds in
``SCM_RIGHTS``.

* agent -> host ``{"ev": "hello", "pid": 1, "env": {...}}`` once.
* host -> agent ``{"op": "run"}`` with fds ``[job, stdin, stdout, stderr(, chan_in,
  chan_out)]``; ``job`` is a memfd: one JSON line (argv, env, rlimits, files, outputs,
  seccomp size) and then the files' bytes and the seccomp program.
* agent -> host ``{"ev": "started", "pid": N}`` or ``{"ev": "failed", "error": "..."}``.
* host -> agent ``{"op": "kill"}`` at any time: SIGKILL to every process but the agent.
* agent -> host ``{"ev": "exit", "status": W, "cpu": S, "maxrss": B, "leftover": N,
  "outputs": [[name, size], ...]}`` with a memfd holding the outputs.
* agent -> host ``{"ev": "clean", "ok": bool, "detail": "..."}`` once every process is gone
  and ``/box``, ``/tmp`` and ``/dev/shm`` are empty again: only then is the container reused.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import json
import os
import resource
import selectors
import signal
import socket
import stat
import sys
import time
from typing import Any

_PR_SET_DUMPABLE = 4
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_SCRATCH = ("/box", "/tmp", "/dev/shm")
_MAX_FDS = 8
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                        ctypes.c_ulong]


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _send(sock: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode()
    if fds:
        socket.send_fds(sock, [data], list(fds))
    else:
        sock.send(data)


def _recv(sock: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
    data, fds, _flags, _addr = socket.recv_fds(sock, 1 << 16, _MAX_FDS)
    if not data:
        for fd in fds:
            os.close(fd)
        return None, []
    message: dict[str, Any] = json.loads(data)
    return message, fds


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _others() -> list[int]:
    """Pids of live (non-zombie) processes other than the agent."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or name == "1":
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                state = f.read().rpartition(b")")[2].split()[0]
        except (OSError, IndexError):
            continue
        if state != b"Z":
            out.append(int(name))
    return out


def _reap_all(deadline: float) -> bool:
    """SIGKILL every process but the agent and reap them all; False if some survive."""
    while True:
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pid = -1
            if pid <= 0:
                break
        if not _others():
            # Zombies of processes that are not our children cannot exist: PID 1 inherits all.
            with contextlib.suppress(ChildProcessError):
                while os.waitpid(-1, os.WNOHANG)[0] > 0:
                    pass
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)


def _wipe(path: str) -> list[str]:
    """Remove everything under ``path`` (not ``path`` itself); return what could not go."""
    left: list[str] = []
    try:
        names = os.listdir(path)
    except OSError as e:
        return [f"{path}: {e}"]
    for name in names:
        full = os.path.join(path, name)
        try:
            st = os.lstat(full)
            if stat.S_ISDIR(st.st_mode):
                if st.st_mode & 0o700 != 0o700:
                    os.chmod(full, 0o700)
                left += _wipe(full)
                os.rmdir(full)
            else:
                os.unlink(full)
        except OSError as e:
            left.append(f"{full}: {e}")
    return left


def _scratch_clean() -> list[str]:
    left: list[str] = []
    for path in _SCRATCH:
        if os.path.isdir(path):
            with contextlib.suppress(OSError):
                os.chmod(path, 0o755 if path == "/box" else 0o1777)
            left += _wipe(path)
    return left


def _place(files: list[list[Any]], blob: bytes) -> int:
    at = 0
    for rel, size, executable in files:
        path = "/box/" + rel
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            os.makedirs(parent, 0o755)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                     0o755 if executable else 0o644)
        try:
            view = memoryview(blob)[at:at + size]
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        at += size
    return at


def _open_beneath(rel: str) -> int:
    """Open ``/box/REL`` for reading without following a symlink in any component."""
    parts = rel.split("/")
    at = os.open("/box", os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=at)
            os.close(at)
            at = nxt
        return os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=at)
    finally:
        os.close(at)


def _collect(names: list[str], cap: int) -> tuple[list[list[Any]], int]:
    """Read the requested output files, refusing symlinks and non-regular files."""
    found: list[list[Any]] = []
    data: list[bytes] = []
    for name in names:
        try:
            fd = _open_beneath(name)
        except OSError:
            continue
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                continue
            content = os.read(fd, cap + 1)
            while len(content) <= cap:
                more = os.read(fd, cap + 1 - len(content))
                if not more:
                    break
                content += more
            if len(content) > cap:
                continue
            found.append([name, len(content)])
            data.append(content)
        finally:
            os.close(fd)
    fd = os.memfd_create("codeeval-outputs", os.MFD_CLOEXEC)
    view = memoryview(b"".join(data))
    while view:
        view = view[os.write(fd, view):]
    os.lseek(fd, 0, os.SEEK_SET)
    return found, fd


def _child(job: dict[str, Any], bpf: bytes, io: list[int], err_w: int) -> None:
    """In the forked child: become the program, or write why not to ``err_w`` (close on
    exec, so the agent reads end-of-file exactly when the exec succeeded). Never returns."""
    try:
        os.setsid()
        _libc.prctl(_PR_SET_DUMPABLE, 1, 0, 0, 0)  # the program's /proc files are its own
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 16) for fd in io]  # above every target
        err_w = fcntl.fcntl(err_w, fcntl.F_DUPFD_CLOEXEC, 16 + len(io))
        for target, fd in enumerate(high):
            os.dup2(fd, target, inheritable=True)
        for fd in range(len(high), 16 + len(io) + 1):
            if fd != err_w:
                with contextlib.suppress(OSError):
                    os.close(fd)
        os.closerange(err_w + 1, 1 << 16)
        os.chdir("/box")
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")  # the OOM killer picks the program, never the agent
        for res, soft, hard in job["rlimits"]:
            resource.setrlimit(res, (soft, hard))
        if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "no_new_privs")
        if bpf:
            buf = ctypes.create_string_buffer(bpf, len(bpf))
            prog = _Fprog(len(bpf) // 8, ctypes.addressof(buf))
            if _libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(prog),
                           0, 0) != 0:
                raise OSError(ctypes.get_errno(), "seccomp")
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
        os.execvpe(job["argv"][0], job["argv"], job["env"])
    except BaseException as e:  # report anything, then die
        with contextlib.suppress(BaseException):
            os.write(err_w, f"cannot start {job['argv'][0]}: {e}".encode()[:1000])
    os._exit(127)


class Agent:
    """The agent's state: its connection to the supervisor."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def serve(self) -> None:
        _send(self.sock, {"ev": "hello", "pid": os.getpid(), "uid": os.getuid(),
                          "env": {k: v for k, v in os.environ.items() if k != "HOSTNAME"},
                          "python": sys.version.split()[0]})
        while True:
            message, fds = _recv(self.sock)
            if message is None or message.get("op") == "exit":
                return
            if message.get("op") == "run":
                self.run(fds)
            else:
                for fd in fds:
                    os.close(fd)

    def run(self, fds: list[int]) -> None:
        if len(fds) < 4:
            for fd in fds:
                os.close(fd)
            _send(self.sock, {"ev": "failed", "error": "run request without its fds"})
            return
        job_fd, io = fds[0], fds[1:]
        try:
            raw = _read_all(job_fd)
            head, _, blob = raw.partition(b"\n")
            job = json.loads(head)
            used = _place(job["files"], blob)
            bpf = blob[used:used + job["seccomp"]]
            err_r, err_w = os.pipe2(os.O_CLOEXEC)
            pid = os.fork()
        except BaseException as e:  # the host learns why and discards the container
            for fd in fds:
                os.close(fd)
            _send(self.sock, {"ev": "failed", "error": f"run setup failed: {e}"})
            return
        if pid == 0:
            self.sock.close()
            os.close(job_fd)
            os.close(err_r)
            _child(job, bpf, io, err_w)
        for fd in fds:
            os.close(fd)
        os.close(err_w)
        del raw, blob
        error = _read_all(err_r)
        os.close(err_r)
        if error:
            _reap_all(time.monotonic() + 5.0)
            _scratch_clean()
            _send(self.sock, {"ev": "failed", "error": error.decode("utf-8", "replace")})
            return
        _send(self.sock, {"ev": "started", "pid": pid})
        status, rusage, hung_up = self.wait(pid)
        leftover = len(_others())
        gone = _reap_all(time.monotonic() + 5.0)
        found, out_fd = _collect(job.get("outputs", ()), job.get("max_output", 1 << 26))
        _send(self.sock, {
            "ev": "exit", "status": status,
            "cpu": rusage.ru_utime + rusage.ru_stime if rusage else None,
            "maxrss": rusage.ru_maxrss * 1024 if rusage else None,
            "leftover": leftover,
            "outputs": found}, [out_fd])
        os.close(out_fd)
        left = _scratch_clean()
        if not gone:
            left.append(f"processes survived SIGKILL: {_others()[:5]}")
        if hung_up:
            left.append("the supervisor hung up")
        _send(self.sock, {"ev": "clean", "ok": not left, "detail": "; ".join(left)[:500]})

    def wait(self, pid: int) -> tuple[int, Any, bool]:
        """Wait for the run's first process, obeying kill requests meanwhile."""
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ, "sock")
        pidfd = None
        with contextlib.suppress(AttributeError, OSError):
            pidfd = os.pidfd_open(pid)
            sel.register(pidfd, selectors.EVENT_READ, "exit")
        hung_up = False
        try:
            while True:
                events = sel.select(None if pidfd is not None else 0.01)
                for key, _ in events:
                    if key.data == "sock":
                        message, fds = _recv(self.sock)
                        for fd in fds:
                            os.close(fd)
                        if message is None:
                            hung_up = True
                            sel.unregister(self.sock)
                        if message is None or message.get("op") == "kill":
                            with contextlib.suppress(ProcessLookupError):
                                os.kill(-1, signal.SIGKILL)
                got, status, rusage = os.wait4(pid, os.WNOHANG)
                if got == pid:
                    return status, rusage, hung_up
        finally:
            sel.close()
            if pidfd is not None:
                os.close(pidfd)


def main() -> None:
    for signum in range(1, signal.NSIG):
        with contextlib.suppress(OSError, ValueError, RuntimeError):
            if signum not in (signal.SIGKILL, signal.SIGSTOP):
                signal.signal(signum, signal.SIG_DFL)
    _libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    os.umask(0o022)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    deadline = time.monotonic() + 30.0
    while True:
        try:
            sock.connect(sys.argv[1])
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    with contextlib.suppress(OSError):  # the socket's path is dead from now on
        os.chdir("/box")
    Agent(sock).serve()


if __name__ == "__main__":
    main()

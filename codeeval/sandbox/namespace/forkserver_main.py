"""The fork server of the namespace backend. Runs INSIDE a bubblewrap sandbox.

This file is copied into the fork server's own sandbox and run there as root (with the
capabilities bubblewrap was told to keep); it imports nothing from codeeval and never runs
untrusted code in its own process. It has imported the interpreter's common modules
once, so a run forked from it skips the interpreter's start-up, and for every run it
builds fresh namespaces. Per request (one datagram on the control socket carrying fds):

* **The server** forks B into a PID namespace of its own (``setns`` back to its own PID
  namespace, ``unshare(CLONE_NEWPID)``, ``fork``) and into a network namespace that no
  other run holds (see below), then watches B (a pidfd) and the run's kill pipe: on a
  byte there, or its EOF when the supervisor died, it kills B; when B ends it reports B's
  wait status on the status pipe (``a STATUS``), preceded by ``d`` when B died without
  such a request (killed from outside the sandbox).
* **B** (PID 1 of the new PID namespace): reads the job from a memfd, joins the run's
  cgroups through the ``cgroup.procs`` fds the supervisor opened, unshares mount, IPC,
  UTS and cgroup namespaces, mounts private size-capped tmpfs on ``/box``, ``/tmp`` and
  ``/dev/shm`` and a new ``/proc``, writes the job's files into ``/box``, forks C, reaps
  every process of the namespace until C ends, and reports C's wait status
  (``x STATUS``). When B exits the kernel kills whatever is left in the namespace.
* **C**: starts a session, moves stdio and the channel to fds 0-4 and closes every other
  fd, sets the rlimits, clears the environment, drops the capability bounding set,
  switches to the run's uid and gid (which clears its capabilities), sets
  ``no_new_privs``, installs the seccomp filter, closes the status pipe and runs the job,
  ``python -S -B SCRIPT ARGS``, as this already-started interpreter would.

A setup failure anywhere is reported as ``e MESSAGE`` (an infra error, never a verdict).

**Network namespaces are reused, once proven clean.** Making and destroying one (loopback
up, then the kernel's teardown) cost 0.5-1 ms of CPU per run here, 4-7% of a scoring.
So the server keeps the network namespaces of finished runs: only loopback, which no run
can reconfigure (that needs ``CAP_NET_ADMIN``), so what a run can leave behind once all
its processes are gone is kernel state of its sockets: TIME_WAIT and other closing TCP
sockets, IP fragments being reassembled, IPv6 flow labels still leased. A namespace goes
back to the spares only when its per-namespace counts of those (``/proc/net/sockstat``,
``sockstat6``, ``ip6_flowlabel``) equal the ones it had when new; otherwise it is dropped
and a later run gets a new one. A spare is used by one run at a time. What a later run can
still see of an earlier one are loopback's traffic counters.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import select
import signal
import socket
import struct
import sys
from typing import Any

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_char_p]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                        ctypes.c_ulong]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 16384, 1 << 18
PR_CAPBSET_DROP, PR_SET_SECCOMP, PR_SET_NO_NEW_PRIVS = 24, 22, 38
SECCOMP_MODE_FILTER = 2
SIOCSIFFLAGS, IFF_UP = 0x8914, 1
_MOVE_ABOVE = 100  # fds are moved above this before being put in place


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _enc(text: str | None) -> bytes | None:
    return None if text is None else text.encode()


def _mount(source: str | None, target: str, fstype: str | None, flags: int,
           data: str | None = None) -> None:
    _check(_libc.mount(_enc(source), target.encode(), _enc(fstype), flags, _enc(data)),
           f"mount {target}")


def _report(fd: int, tag: str, text: object) -> None:
    line = f"{tag} {text}".replace("\n", " ")[:2000] + "\n"
    with contextlib.suppress(OSError):
        os.write(fd, line.encode(errors="replace"))


def _max_fd() -> int:
    """One more than the highest fd this process can hold (the hard RLIMIT_NOFILE, which
    bounds the soft one; Linux never lets it be infinite, but a C int bounds it here)."""
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return 1 << 20 if hard == resource.RLIM_INFINITY else min(hard, (1 << 31) - 1)


def _read_all(fd: int) -> bytes:
    """Everything left to read from ``fd`` (this file imports nothing from codeeval, so it
    cannot use ``procfs.read_all``)."""
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _read_job(fd: int) -> tuple[dict[str, Any], bytes]:
    data = _read_all(fd)
    nl = data.index(b"\n")
    return json.loads(data[:nl]), data[nl + 1:]


#: Files of ``/proc/net`` whose per-namespace counts show what sockets left behind.
_NET_STATE_FILES = ("sockstat", "sockstat6", "ip6_flowlabel")
#: Fields of ``sockstat`` that count for the whole host, not one namespace.
_GLOBAL_SOCKSTAT_FIELDS = frozenset({b"orphan", b"alloc", b"mem"})
_MAX_SPARE_NETS = 64


def _net_state() -> tuple[bytes, ...] | None:
    """What sockets left in the current network namespace: the per-namespace counts of
    ``sockstat`` and ``sockstat6`` and the number of leased IPv6 flow labels; ``None``
    when they cannot be read."""
    state: list[bytes] = []
    try:
        for name in _NET_STATE_FILES:
            fd = os.open("/proc/self/net/" + name, os.O_RDONLY | os.O_CLOEXEC)
            try:
                data = _read_all(fd)
            finally:
                os.close(fd)
            if name == "ip6_flowlabel":
                state.append(b"%d" % data.count(b"\n"))
                continue
            for line in data.splitlines():
                words = line.split()
                state.append(b" ".join(
                    w for i, w in enumerate(words)
                    if not (i > 0 and words[i - 1] in _GLOBAL_SOCKSTAT_FIELDS)
                    and w not in _GLOBAL_SOCKSTAT_FIELDS))
    except OSError:
        return None
    return tuple(state)


class _Net:
    """A network namespace for runs (an fd of it), with its counts when it was new."""

    __slots__ = ("fd", "fresh")

    def __init__(self, fd: int, fresh: tuple[bytes, ...] | None) -> None:
        self.fd, self.fresh = fd, fresh


class _Run:
    """The server's view of one run: its first process (B), its network namespace, and the
    pipes of the run."""

    __slots__ = ("asked", "kill_r", "net", "pid", "pidfd", "status_w")

    def __init__(self, pid: int, pidfd: int, status_w: int, kill_r: int, net: _Net) -> None:
        self.pid, self.pidfd, self.status_w, self.kill_r = pid, pidfd, status_w, kill_r
        self.net = net
        self.asked = False

    def close(self) -> None:
        """Close the server's descriptors of the run (its network namespace stays)."""
        for fd in (self.status_w, self.kill_r, self.pidfd):
            os.close(fd)


class Server:
    def __init__(self, sock_fd: int, seccomp_path: str, preload: list[str],
                 warm: list[str]) -> None:
        with open(seccomp_path, "rb") as f:
            self.bpf = f.read()
        with open("/proc/sys/kernel/cap_last_cap") as f:
            self.cap_last = int(f.read())
        for name in preload:
            with contextlib.suppress(Exception):
                __import__(name)
        # Scripts runs execute often, compiled once: source bytes -> code object. Each
        # argument is ``PATH=NAME``: the file here, and the name runs give the script.
        self.warm: dict[bytes, Any] = {}
        for spec in warm:
            path, _, name = spec.partition("=")
            with open(path, "rb") as f:
                source = f.read()
            self.warm[source] = compile(source, name, "exec", dont_inherit=True)
        self.pristine_path = list(sys.path)
        self.sock = socket.socket(fileno=sock_fd)

    def serve(self) -> dict[str, Any]:
        """Answer requests until the supervisor hangs up; returns only in a run's C.

        Each run's first process (B) is this server's child, in a PID namespace of its
        own; the server watches it (a pidfd) and its kill pipe, kills it when asked (a byte
        on the kill pipe, or its EOF when the supervisor died), and reports its wait
        status on the status pipe when it ends (``a STATUS``), preceded by ``d`` when it
        died without such a request (killed from outside the sandbox)."""
        own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        self.own_net = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        spare_nets: list[_Net] = []  # clean network namespaces no run holds
        runs: dict[int, _Run] = {}  # pidfd -> run
        by_kill: dict[int, _Run] = {}  # kill pipe -> run, until a kill is asked for
        poller = select.poll()
        sock_fd = self.sock.fileno()
        poller.register(sock_fd, select.POLLIN)
        self.sock.send(b"ready")
        while True:
            try:
                events = poller.poll()
            except InterruptedError:
                continue
            for fd, _ in events:
                run = by_kill.pop(fd, None)
                if run is not None:  # asked to kill (or the supervisor is gone)
                    run.asked = True
                    poller.unregister(fd)
                    with contextlib.suppress(OSError):
                        signal.pidfd_send_signal(run.pidfd, signal.SIGKILL)
            for fd, _ in events:
                run = runs.pop(fd, None)
                if run is None:
                    continue
                poller.unregister(fd)
                if by_kill.pop(run.kill_r, None) is not None:
                    poller.unregister(run.kill_r)
                    # The supervisor writes the kill pipe before it kills through the
                    # cgroup, so a kill it asked for is always visible here by now.
                    check = select.poll()  # (not select(): fds here may pass 1024)
                    check.register(run.kill_r, select.POLLIN)
                    run.asked = bool(check.poll(0))
                _, status = os.waitpid(run.pid, 0)
                if not run.asked:
                    _report(run.status_w, "d", "unasked")  # B died with nobody asking
                _report(run.status_w, "a", status)
                run.close()
                # Every process of the run is gone: its network namespace is a spare again
                # if its sockets left nothing behind.
                if len(spare_nets) < _MAX_SPARE_NETS and self._net_is_fresh(run.net):
                    spare_nets.append(run.net)
                else:
                    os.close(run.net.fd)
            if not any(fd == sock_fd for fd, _ in events):
                continue
            try:
                msg, fds, _, _ = socket.recv_fds(self.sock, 16, 64)
            except InterruptedError:
                continue
            if not msg:
                os._exit(0)
            if len(fds) < 3:
                for fd in fds:
                    os.close(fd)
                continue
            mem, status_w, kill_r, rest = fds[0], fds[1], fds[2], fds[3:]
            net: _Net | None = None
            try:
                net = spare_nets.pop() if spare_nets else self._new_net()
                # B is forked into the run's network namespace, and into a PID namespace of
                # its own, whose init it is (back to this process's own PID namespace
                # first, since the last run's is still set).
                _check(_libc.setns(net.fd, CLONE_NEWNET), "setns net")
                _check(_libc.setns(own_pid_ns, CLONE_NEWPID), "setns pid")
                _check(_libc.unshare(CLONE_NEWPID), "unshare pid")
                pid = os.fork()
            except OSError as e:
                with contextlib.suppress(OSError):
                    self._leave_net()
                _report(status_w, "e", f"the fork server cannot start a run: {e}")
                for fd in fds:
                    os.close(fd)
                if net is not None:
                    os.close(net.fd)
                continue
            assert net is not None
            if pid == 0:
                self.sock.close()
                for fd in (own_pid_ns, self.own_net, net.fd, kill_r):
                    os.close(fd)
                for spare in spare_nets:
                    os.close(spare.fd)
                for run in runs.values():
                    run.close()
                    os.close(run.net.fd)
                return self._run_b(mem, status_w, rest)
            self._leave_net()
            os.close(mem)
            for fd in rest:
                os.close(fd)
            try:
                pidfd = os.pidfd_open(pid)
            except OSError as e:  # cannot watch it: end it, and say why
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                _report(status_w, "e", f"the fork server cannot watch a run: {e}")
                os.close(status_w)
                os.close(kill_r)
                os.close(net.fd)
                continue
            run = _Run(pid, pidfd, status_w, kill_r, net)
            runs[pidfd] = run
            by_kill[kill_r] = run
            poller.register(pidfd, select.POLLIN)
            poller.register(kill_r, select.POLLIN)

    def _new_net(self) -> _Net:
        """A new network namespace with loopback up, and its counts while new."""
        _check(_libc.unshare(CLONE_NEWNET), "unshare net")
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", IFF_UP))
            fd = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            return _Net(fd, _net_state())
        finally:
            self._leave_net()

    def _net_is_fresh(self, net: _Net) -> bool:
        """Whether ``net`` (no process in it) shows the counts it had when it was new."""
        if net.fresh is None:
            return False
        try:
            _check(_libc.setns(net.fd, CLONE_NEWNET), "setns net")
        except OSError:
            return False
        try:
            return _net_state() == net.fresh
        finally:
            self._leave_net()

    def _leave_net(self) -> None:
        """Back to the server's own network namespace (after entering a run's)."""
        _check(_libc.setns(self.own_net, CLONE_NEWNET), "setns net")

    # ------------------------------------------------------------------ B
    def _run_b(self, mem: int, status_w: int, fds: list[int]) -> dict[str, Any]:
        try:
            job, blob = _read_job(mem)
            os.close(mem)
            nprocs = job["nprocs"]
            procs, io = fds[len(fds) - nprocs:], fds[:len(fds) - nprocs]
            for fd in procs:  # into the run's cgroups first: what follows is the run's
                os.write(fd, b"0")
                os.close(fd)
            # PID 1 of its own PID namespace, in the run's network namespace already; the
            # other namespaces are made here.
            _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS), "unshare")
            # A kernel without cgroup namespaces: the run still has its cgroup.
            with contextlib.suppress(OSError):
                _check(_libc.unshare(CLONE_NEWCGROUP), "unshare cgroup")
            _mount(None, "/", None, MS_REC | MS_PRIVATE)
            uid, gid = job["uid"], job["gid"]
            size, inodes = job["scratch_bytes"], job["inodes"]
            _mount("tmpfs", "/box", "tmpfs", MS_NOSUID | MS_NODEV,
                   f"size={size},nr_inodes={inodes},mode=0700,uid={uid},gid={gid}")
            for target in ("/tmp", "/dev/shm"):
                _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV,
                       f"size={size},nr_inodes={inodes},mode=1777")
            _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            _check(_libc.sethostname(b"codeeval", 8), "sethostname")
            _place(job["files"], blob, uid, gid)
            del blob
            c = os.fork()
        except BaseException as e:
            _report(status_w, "e", f"run setup failed: {e}")
            os._exit(0)
        if c == 0:
            return self._run_c(job, status_w, io)
        for fd in io:
            os.close(fd)
        status = None
        while True:  # the namespace's init: reap everything until the program ends
            try:
                pid, st = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            if pid == c:
                status = st
                break
        if status is not None:
            _report(status_w, "x", status)
        os._exit(0)

    # ------------------------------------------------------------------ C
    def _run_c(self, job: dict[str, Any], status_w: int, io: list[int]) -> dict[str, Any]:
        try:
            os.setsid()
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, _MOVE_ABOVE) for fd in io]
            status_w = fcntl.fcntl(status_w, fcntl.F_DUPFD_CLOEXEC, _MOVE_ABOVE)
            for target, fd in enumerate(high):
                os.dup2(fd, target, inheritable=True)
            # The status pipe just above them, and every other fd closed at once
            # (close_range: listing /proc/self/fd and closing one by one cost 0.4 ms).
            status_w = os.dup2(status_w, len(high), inheritable=False)
            os.closerange(len(high) + 1, _max_fd())
            os.chdir("/box")
            import resource

            for res, soft, hard in job["rlimits"]:
                resource.setrlimit(res, (soft, hard))
            os.environ.clear()
            os.environ.update(job["env"])
            for cap in range(self.cap_last + 1):
                _check(_libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), "drop capability")
            uid, gid = job["uid"], job["gid"]
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
            buf = ctypes.create_string_buffer(self.bpf, len(self.bpf))
            prog = _Fprog(len(self.bpf) // 8, ctypes.addressof(buf))
            _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(prog),
                               0, 0), "seccomp")
        except BaseException as e:
            _report(status_w, "e", f"run setup failed: {e}")
            os._exit(0)
        os.close(status_w)
        sys.path[:] = self.pristine_path
        sys.path_importer_cache.clear()
        job["warm"] = self.warm
        return job


def _place(files: list[list[Any]], blob: bytes, uid: int, gid: int) -> None:
    view = memoryview(blob)
    at = 0
    for rel, size, executable in files:
        path = "/box/" + rel
        parent = os.path.dirname(rel)
        if parent:
            built = "/box"
            for part in parent.split("/"):
                built += "/" + part
                if not os.path.isdir(built):
                    os.mkdir(built, 0o755)
                    os.chown(built, uid, gid)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                     0o755 if executable else 0o644)
        try:
            data = view[at:at + size]
            while data:
                data = data[os.write(fd, data):]
            os.fchown(fd, uid, gid)
        finally:
            os.close(fd)
        at += size


def _run_script(job: dict[str, Any]) -> None:
    """Run the job's script as ``python -S -B SCRIPT ARGS`` would, in this interpreter.

    The exit is the interpreter's, minus tearing down every module the server preloaded
    (tens of milliseconds, and invisible to the program): non-daemon threads are joined,
    ``atexit`` handlers run and the standard streams are flushed, then the process exits.
    """
    import traceback
    import types

    script = job["argv"][3]
    sys.argv[:] = job["argv"][3:]
    warm = job.pop("warm")
    code = 0
    try:
        with open(script, "rb") as f:
            source = f.read()
        compiled = warm.get(source)
        del warm
        if compiled is None:
            compiled = compile(source, script, "exec", dont_inherit=True)
        main = types.ModuleType("__main__")
        main.__file__ = script
        sys.modules["__main__"] = main
        exec(compiled, main.__dict__)
    except SystemExit as e:
        code = _exit_code(e.code)
    except Exception as e:
        tb = e.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
            tb = tb.tb_next
        traceback.print_exception(type(e), e, tb)
        code = 1
    threading = sys.modules.get("threading")
    try:
        if threading is not None:
            threading._shutdown()
        import atexit

        atexit._run_exitfuncs()
    except SystemExit as e:
        code = _exit_code(e.code)
    except BaseException:
        pass
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):  # e.g. a closed stdout
            stream.flush()
    os._exit(code)


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    with contextlib.suppress(BaseException):
        print(code, file=sys.stderr)
    return 1


if __name__ == "__main__":
    _args = sys.argv[1:]
    _job = Server(int(_args[0]), _args[1], _args[2].split(",") if _args[2] else [],
                  _args[3:]).serve()
    del _args
    _run_script(_job)

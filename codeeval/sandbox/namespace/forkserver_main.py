"""The fork server of the namespace backend. Runs INSIDE a bubblewrap sandbox.

This file is copied into the fork server's own sandbox and run there as root (with the
capabilities bubblewrap was told to keep); it imports nothing from codeeval and never runs
untrusted code in its own process. It has imported the interpreter's common modules
once, so a run forked from it skips the interpreter's start-up. Three kinds of process:

* **The server** answers the supervisor. A request is one datagram on the control socket,
  ``r UID``, carrying the run's fds; the server hands them on to the init of that uid's
  slot (starting one first if the slot has none, or if its init died). ``R UID`` asks it
  to end that slot's init and every process of its namespaces (the supervisor could not
  empty a run's cgroup). On EOF (the supervisor is gone) the server exits, and the
  sandbox's teardown takes every init and run with it.
* **A slot's init** (forked by the server once per uid slot, and kept): PID 1 of a PID
  namespace of its own, in a network namespace of its own, serving the runs of its slot
  one at a time. For a run it forks C, then watches the run's kill pipe (a byte, or its
  EOF when the supervisor died, makes it kill every process of its namespace) and reaps.
  When C ends it reports C's wait status on the status pipe (``x STATUS``), kills
  whatever the program left behind, and once every process of the namespace is reaped
  reports that (``a STATUS``) and closes the pipe. If the init itself is killed, the
  kernel kills every process of its namespace and the run ends with no ``x``, which the
  supervisor reports as an infra error (the sandbox died), never as a verdict.
* **C**: reads the job from a memfd, joins the run's cgroups through the
  ``cgroup.procs`` fds the supervisor opened, unshares mount, IPC, UTS and cgroup
  namespaces, mounts private size-capped tmpfs on ``/box``, ``/tmp`` and ``/dev/shm`` and
  a new ``/proc``, writes the job's files into ``/box``, starts a session, moves stdio and
  the channel to fds 0-4 and closes every other fd, sets the rlimits, sets the job's
  environment (on the init's empty one), switches to the run's uid and gid (which clears
  its capabilities; the server dropped the capability bounding set once, for every fork
  to inherit), sets ``no_new_privs``, installs the seccomp filter, closes the status pipe
  and runs the job, ``python -S -B SCRIPT ARGS``, as this already-started interpreter
  would.

A setup failure anywhere is reported as ``e MESSAGE`` (an infra error, never a verdict).

**Why a kept init per slot.** Each run used to get a new PID namespace, whose init was a
fork of the server that forked C in turn: a second fork and exit of a 20 MB interpreter
per run, 1.4 ms of CPU here, a tenth of what a HumanEval+ scoring costs. A slot serves
one run at a time (the supervisor holds the slot's lock until the run's cgroup is gone),
and between runs its init kills and reaps every process left in its namespace, so a run
still finds nothing of earlier ones in its PID namespace but the init; what it can tell
is how many PIDs earlier runs used.

**A slot's network namespace is kept too, while clean.** Making and destroying one
(loopback up, then the kernel's teardown) cost 0.5-1 ms of CPU per run. Only loopback is
in it, which no run can reconfigure (that needs ``CAP_NET_ADMIN``), so what a run can leave
behind once its processes are gone is kernel state of its sockets: TIME_WAIT and other
closing TCP sockets, IP fragments being reassembled, IPv6 flow labels still leased. After
each run the init compares the per-namespace counts of those (``/proc/net/sockstat``,
``sockstat6``, ``ip6_flowlabel``) with the ones the namespace had when new, and moves to a
new namespace when they differ. What a later run can still see of an earlier one are
loopback's traffic counters.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]
import contextlib
import ctypes
import fcntl
import json
import os
import re
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
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_SECCOMP, PR_SET_NO_NEW_PRIVS = 1, 24, 22, 38
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


# What a slot's init runs for every run catches exceptions with try/except, not
# contextlib.suppress: its objects wrote to 11 more pages per run, each a page fault, since
# every fork write-protects the init's memory (copy-on-write).
def _report(fd: int, tag: str, text: object) -> None:
    line = f"{tag} {text}".replace("\n", " ")[:2000] + "\n"
    try:  # noqa: SIM105 (see above _report)
        os.write(fd, line.encode(errors="replace"))
    except OSError:
        pass


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
#: Fields of ``sockstat`` that count for the whole host, not one namespace, with their values.
_GLOBAL_SOCKSTAT_FIELDS = re.compile(rb" (?:orphan|alloc|mem) [0-9]+")


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
            state.append(b"%d" % data.count(b"\n") if name == "ip6_flowlabel"
                         else _GLOBAL_SOCKSTAT_FIELDS.sub(b"", data))
    except OSError:
        return None
    return tuple(state)


def _new_net() -> tuple[bytes, ...] | None:
    """Move to a new network namespace with loopback up; its counts while new."""
    _check(_libc.unshare(CLONE_NEWNET), "unshare net")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", IFF_UP))
    return _net_state()


def _close_all_but(keep: set[int]) -> None:
    """Close every fd from 3 up except those in ``keep`` (a close_range per gap)."""
    low = 3
    for fd in sorted(k for k in keep if k >= 3):
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, _max_fd())


class _Init:
    """The server's view of a slot's init: its slot's uid, its pid, a pidfd, and the
    socket to it."""

    __slots__ = ("ctl", "pid", "pidfd", "uid")

    def __init__(self, uid: int, pid: int, pidfd: int, ctl: socket.socket) -> None:
        self.uid, self.pid, self.pidfd, self.ctl = uid, pid, pidfd, ctl


class _SlotRun:
    """A slot init's view of its run: C, the run's pipes, and C's status once reaped."""

    __slots__ = ("kill_r", "pid", "status", "status_w")

    def __init__(self, pid: int, status_w: int, kill_r: int) -> None:
        self.pid, self.status_w, self.kill_r = pid, status_w, kill_r
        self.status: int | None = None


def _kill_namespace() -> None:
    """From a PID namespace's init: SIGKILL every other process of the namespace (the
    kernel signals them all under one lock, so none can fork its way out)."""
    try:  # noqa: SIM105 (see above _report)
        os.kill(-1, _signal.SIGKILL)
    except ProcessLookupError:
        pass


class Server:
    def __init__(self, sock_fd: int, seccomp_path: str, preload: list[str],
                 heavy: list[str], warm: list[str]) -> None:
        with open(seccomp_path, "rb") as f:
            self.bpf = f.read()
        # The capability bounding set goes once, here, for every fork to inherit: it only
        # bounds what an execve can grant, so this process and its forks keep the
        # capabilities they have (C drops those when it switches to the run's uid).
        with open("/proc/sys/kernel/cap_last_cap") as f:
            cap_last = int(f.read())
        for cap in range(cap_last + 1):
            _check(_libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), "drop capability")
        for name in preload:
            with contextlib.suppress(Exception):
                __import__(name)
        if heavy:
            # Third-party modules, from the site-packages the Python driver puts on its
            # path (the runs of this server are the driver's); the path goes back after.
            import site

            before = list(sys.path)
            sys.path.extend(p for p in site.getsitepackages() if os.path.isdir(p))
            for name in heavy:
                with contextlib.suppress(Exception):
                    __import__(name)
            sys.path[:] = before
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

        A request ``r UID`` goes to the init of that uid's slot, started on first use (or
        again when the last one died); ``R UID`` ends the slot's init, which takes every
        process of its namespaces with it."""
        own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        inits: dict[int, _Init] = {}  # uid -> its slot's init
        by_pidfd: dict[int, _Init] = {}  # pidfd -> init, every init until it is reaped
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
                init = by_pidfd.pop(fd, None)
                if init is None:
                    continue
                poller.unregister(fd)
                os.waitpid(init.pid, 0)
                os.close(init.pidfd)
                init.ctl.close()
                if inits.get(init.uid) is init:  # not replaced already
                    del inits[init.uid]
            if not any(fd == sock_fd for fd, _ in events):
                continue
            try:
                msg, fds, _, _ = socket.recv_fds(self.sock, 32, 64)
            except InterruptedError:
                continue
            if not msg:
                os._exit(0)
            kind, _, uid_text = msg.partition(b" ")
            try:
                uid = int(uid_text)
            except ValueError:
                kind = b"?"
            if kind == b"R":
                init = inits.pop(uid, None)
                if init is not None:
                    with contextlib.suppress(OSError):
                        signal.pidfd_send_signal(init.pidfd, signal.SIGKILL)
            if kind != b"r" or len(fds) < 3:
                for fd in fds:
                    os.close(fd)
                continue
            status_w = fds[1]
            for attempt in range(2):
                init = inits.get(uid)
                if init is None:
                    try:
                        # The init is forked into a PID namespace of its own, whose PID 1
                        # it is (back to this process's own PID namespace first).
                        _check(_libc.setns(own_pid_ns, CLONE_NEWPID), "setns pid")
                        _check(_libc.unshare(CLONE_NEWPID), "unshare pid")
                        ours, theirs = socket.socketpair(socket.AF_UNIX,
                                                         socket.SOCK_SEQPACKET)
                        pid = os.fork()
                    except OSError as e:
                        _report(status_w, "e", f"the fork server cannot start a slot: {e}")
                        break
                    if pid == 0:
                        # The server's sockets are closed by number in the init; their
                        # objects must not close those numbers again later.
                        self.sock.detach()
                        for other in inits.values():
                            other.ctl.detach()
                        ours.close()
                        return self._slot_init(theirs)
                    theirs.close()
                    try:
                        pidfd = os.pidfd_open(pid)
                    except OSError as e:  # cannot watch it: end it, and say why
                        with contextlib.suppress(OSError):
                            os.kill(pid, signal.SIGKILL)
                        os.waitpid(pid, 0)
                        ours.close()
                        _report(status_w, "e", f"the fork server cannot watch a slot: {e}")
                        break
                    init = inits[uid] = by_pidfd[pidfd] = _Init(uid, pid, pidfd, ours)
                    poller.register(pidfd, select.POLLIN)
                try:
                    socket.send_fds(init.ctl, [b"r"], fds)
                    break
                except OSError as e:  # the init died meanwhile: end it, and start another
                    del inits[uid]
                    with contextlib.suppress(OSError):
                        signal.pidfd_send_signal(init.pidfd, signal.SIGKILL)
                    if attempt:
                        _report(status_w, "e", f"the fork server cannot reach a slot: {e}")
            for fd in fds:
                os.close(fd)

    # ------------------------------------------------------------------ a slot's init
    def _slot_init(self, ctl: socket.socket) -> dict[str, Any]:
        """Serve the runs of one slot, as PID 1 of its namespace; returns only in C."""
        _close_all_but({ctl.fileno()})
        _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")
        os.environ.clear()  # once: each run's C sets its job's environment on this
        fresh = _new_net()
        # SIGCHLD wakes the poll below through a pipe: the init reaps whatever dies.
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, _ignore)
        poller = select.poll()
        poller.register(ctl, select.POLLIN)
        poller.register(wake_r, select.POLLIN)
        run: _SlotRun | None = None
        ctl_fd = ctl.fileno()
        while True:
            events = poller.poll()
            asked = False
            for fd, _ in events:
                if fd == ctl_fd:
                    asked = True
                elif fd == wake_r:
                    try:
                        while os.read(wake_r, 512):
                            pass
                    except BlockingIOError:
                        pass
                elif run is not None and fd == run.kill_r:
                    # Asked to kill (or the supervisor is gone): the whole namespace.
                    poller.unregister(fd)
                    _kill_namespace()
            while run is not None:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:  # every process of the namespace is reaped
                    fresh = self._end_run(run, fresh, poller)
                    run = None
                    break
                if pid == 0:
                    break
                if pid == run.pid:
                    run.status = status
                    _report(run.status_w, "x", status)
                    _kill_namespace()  # what the program left behind
            if run is None:
                try:
                    while os.waitpid(-1, os.WNOHANG)[0]:
                        pass
                except ChildProcessError:
                    pass
            if not asked:
                continue
            msg, fds, _, _ = socket.recv_fds(ctl, 16, 64)
            if not msg:
                os._exit(0)  # the server is gone; the kernel ends this namespace
            if run is not None:
                # A run the supervisor gave up on (its slot came back before the run's
                # end): its processes are killed before the next run starts (a process
                # with SIGKILL pending never runs user code again), and reaped as they go.
                _kill_namespace()
                fresh = self._end_run(run, fresh, poller, all_gone=False)
                run = None
            if len(fds) < 3:
                for fd in fds:
                    os.close(fd)
                continue
            mem, status_w, kill_r, rest = fds[0], fds[1], fds[2], fds[3:]
            try:
                pid = os.fork()
            except OSError as e:
                _report(status_w, "e", f"the fork server cannot start a run: {e}")
                for fd in fds:
                    os.close(fd)
                continue
            if pid == 0:
                # _signal, not signal: signal.signal's enum wrapper wrote to 55 more of the
                # pages C shares with its init (copy-on-write faults), 0.17 ms per run.
                _signal.set_wakeup_fd(-1)
                _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
                ctl.detach()  # closed with every other fd in C
                return self._run_c(mem, status_w, rest)
            os.close(mem)
            for fd in rest:
                os.close(fd)
            run = _SlotRun(pid, status_w, kill_r)
            poller.register(kill_r, select.POLLIN)

    @staticmethod
    def _end_run(run: _SlotRun, fresh: tuple[bytes, ...] | None, poller: select.poll, *,
                 all_gone: bool = True) -> tuple[bytes, ...] | None:
        """Report that every process of ``run`` is gone (when ``all_gone``), close its
        pipes, and move to a new network namespace if its sockets left something behind;
        the counts of the namespace the next run gets."""
        if all_gone and run.status is not None:
            _report(run.status_w, "a", run.status)
        try:  # noqa: SIM105 (see above _report)
            poller.unregister(run.kill_r)
        except KeyError:
            pass
        os.close(run.status_w)
        os.close(run.kill_r)
        if fresh is not None and _net_state() == fresh:
            return fresh
        return _new_net()

    # ------------------------------------------------------------------ C
    def _run_c(self, mem: int, status_w: int, fds: list[int]) -> dict[str, Any]:
        try:
            job, blob = _read_job(mem)
            os.close(mem)
            nprocs = job["nprocs"]
            procs, io = fds[len(fds) - nprocs:], fds[:len(fds) - nprocs]
            for fd in procs:  # into the run's cgroups first: what follows is the run's
                os.write(fd, b"0")
                os.close(fd)
            # In the slot's PID and network namespaces already; the others are made here.
            _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS), "unshare")
            # A kernel without cgroup namespaces: the run still has its cgroup.
            with contextlib.suppress(OSError):
                _check(_libc.unshare(CLONE_NEWCGROUP), "unshare cgroup")
            _mount(None, "/", None, MS_REC | MS_PRIVATE)
            uid, gid = job["uid"], job["gid"]
            size, inodes = job["scratch_bytes"], job["inodes"]
            _mount("tmpfs", "/box", "tmpfs", MS_NOSUID | MS_NODEV,
                   f"size={size},nr_inodes={inodes},mode=0700,uid={uid},gid={gid}")
            for shared in ("/tmp", "/dev/shm"):
                _mount("tmpfs", shared, "tmpfs", MS_NOSUID | MS_NODEV,
                       f"size={size},nr_inodes={inodes},mode=1777")
            _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            _check(_libc.sethostname(b"codeeval", 8), "sethostname")
            _place(job["files"], blob, uid, gid)
            del blob
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
            os.environ.update(job["env"])  # to the slot init's empty environment
            # Python's random reseeds itself in every fork; NumPy's global generator, seeded
            # once when the server imported it, does not: every run gets a seed of its own.
            numpy_random = sys.modules.get("numpy.random")
            if numpy_random is not None:
                numpy_random.seed()
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
        return {**job, "warm": self.warm}


def _ignore(signum: int, frame: object) -> None:
    """A handler that does nothing (SIGCHLD only has to wake the init's poll)."""



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
                  _args[3].split(",") if _args[3] else [], _args[4:]).serve()
    del _args
    _run_script(_job)

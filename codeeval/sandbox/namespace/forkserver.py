"""The namespace backend's fork server: runs that skip bubblewrap and the interpreter start.

Starting bubblewrap and then Python costs about 40 ms of CPU per run here, several times
what a typical HumanEval candidate spends on its tests. The fork server is one long-lived
bubblewrap sandbox (same read-only root, binds and environment as a normal run) holding a
Python process that has imported the common modules once. Each uid slot gets an init
forked from it once and kept (PID 1 of the slot's PID namespace, in the slot's network
namespace); per run, the slot's init forks, and the fork builds the rest of its namespaces
before anything of the job runs (see :mod:`.forkserver_main` for the processes involved),
so a run still gets:

* new mount, IPC, UTS and cgroup namespaces of its own; a PID namespace and a network
  namespace (loopback only) that no other run holds at the same time, in which nothing of
  an earlier run is left but the kept init; a private size-capped tmpfs on ``/box`` (the
  work dir), ``/tmp`` and ``/dev/shm``; and a new ``/proc`` that shows only the init and
  its own processes;
* the run's own memory cgroup (with swap) created and read by the supervisor, and on v1
  the pids, CPU-accounting and CPU-bandwidth cgroups of its uid slot, which runs of the
  slot use one at a time (:class:`~.cgroups.SlotCgroup`); its own uid slot, rlimits, an
  empty capability bounding set, no capabilities, ``no_new_privs`` and the same seccomp
  filter as a bubblewrap run;
* a cleared environment and only fds 0-4 (stdio and the channel).

What differs from a bubblewrap run: the read-only root and ``/dev`` are shared with the
other runs of the same server (nobody can write them); the job runs in the server's
interpreter: the same hash seed for every run, and the modules the server imported
already in ``sys.modules`` (each run has its own copy-on-write copy; nothing a run does
reaches the server or another run); the PID and network namespaces are ones earlier runs
of the slot used, once their processes are all gone and, for the network namespace, their
sockets left nothing behind (no TIME_WAIT connection, fragment or flow label: see
:mod:`.forkserver_main`), so a later run can tell how many PIDs earlier ones used and sees
loopback's traffic counters, and nothing else, of them; and the program's PID is not 2.

**A second server for heavy imports.** Importing NumPy costs a run 60 ms of CPU here,
requests 90, Flask 110, ten times what a HumanEval+ item costs otherwise; about 1.5% of
the shared completions import one of them (numpy 126, requests 28, flask 25, scipy 20 of
12,410 distinct). Importing them in the one server would make every run dearer (a fork
copies, and an exit tears down, the page tables of the server's memory: 7.7 MB more for
NumPy alone, and NumPy brings ``random``, which reseeds itself in every fork). So a second
server imports them too (``CODEEVAL_FORKSERVER_HEAVY``, those installed of numpy, scipy,
requests and flask by default), started on first use, and a run goes there when it runs
the Python driver (which puts site-packages on its path, so nothing becomes importable
that was not), one of its files imports one of those modules, and it asks for the thread
counts the server's numeric libraries started with (one, the default run's). NumPy's
global generator, which a fork would share, is reseeded in each run.

Only the supervisor talks to the server, over a ``SOCK_SEQPACKET`` socket; a request is a
datagram carrying fds, and the job itself (command, environment, limits, uid, files)
travels in a memfd that only the forked process reads, so the server never holds a
candidate's code. The server serves jobs of one set of runtime paths (the sandboxed
Python's) that are ``python -S -B SCRIPT``, with no files to copy out, as root with cgroups;
every other job goes through bubblewrap, whose pre-spawned sandboxes start an ``exec``'d
program sooner than two forks would.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.resources
import json
import logging
import os
import re
import select
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from codeeval import config
from codeeval.errors import SandboxCrashed
from codeeval.model.run import FileSpec, Job
from codeeval.sandbox import runid, workdir
from codeeval.sandbox.namespace import cgroups
from codeeval.sandbox.namespace.slots import Slot, SlotPool
from codeeval.sandbox.namespace.tree import read_info, reap_pidfd
from codeeval.sandbox.process import ProcessTree

_log = logging.getLogger("codeeval.sandbox")
_SOURCE = importlib.resources.files("codeeval.sandbox.namespace").joinpath(
    "forkserver_main.py").read_bytes()
#: Modules the server imports once, so runs find them loaded: what the sandboxed driver
#: needs (``site`` for its paths: 0.6 ms of each run's CPU otherwise; imported under -S,
#: it changes nothing; ``traceback`` and ``types`` for running a script), and what HumanEval+
#: and MBPP+ problems and the shared completions import (``typing``, ``math``, ``re``,
#: ``collections``, ``heapq``, ``itertools``, ``functools``, ``cmath``, ``bisect``, ...).
#: Each module here makes every run dearer, since a fork copies the page tables of the
#: server's memory and an exit tears them down (0.1 ms per MB here), so the rarely imported
#: are left out: ``dataclasses`` (1 MB, with ``inspect``; 5 of the 16,400 completions import
#: it), ``datetime`` (34), ``decimal`` and ``fractions`` (none), ``copy`` (2), ``textwrap``
#: (none), and ``random`` (39): a loaded ``random`` also reseeds itself in every fork, 0.24
#: ms and 40 copy-on-write page faults of every run. A run that imports one of them pays
#: 1.5-17 ms for it.
PRELOAD = ("_json", "site", "typing", "collections", "math", "re", "itertools", "functools",
           "heapq", "bisect", "string", "json", "operator", "hashlib", "enum", "cmath",
           "array", "traceback", "types", "resource")
_START_TIMEOUT_S = 20.0
_STATUS_TIMEOUT_S = 10.0
_INODES = 16384


class ForkServer:
    """Supervisor-side handle of one fork server (started on first use, restarted if it dies).

    ``argv(work, command, info_fd)`` must return the bubblewrap command line that runs
    ``command`` with ``work`` as ``/box`` and the sandbox's base environment plus ``env``
    (the language's variables), keeping every capability, without a seccomp filter, and
    reporting to ``info_fd``.
    """

    def __init__(self, argv: Callable[[Path, Sequence[str], int], list[str]], scratch: Path,
                 seccomp_bpf: bytes, interpreter: str, env: dict[str, str],
                 runtime_paths: Sequence[str], *, heavy: Sequence[str] = (),
                 started_with: Mapping[str, str] | None = None) -> None:
        self._argv = argv
        #: Modules the server imports after :data:`PRELOAD`, from the interpreter's
        #: site-packages, for the runs of the Python driver whose candidates import them.
        self.heavy = tuple(heavy)
        self._imports_heavy = _import_pattern(self.heavy) if self.heavy else None
        self._heavy_names = tuple(m.encode() for m in self.heavy)
        #: Variables the server's interpreter started with that its imported modules read
        #: once (the thread counts of numeric libraries), which a run must ask for alike.
        self.started_with = dict(started_with or {})
        self._scratch = scratch
        self._bpf = seccomp_bpf
        self.interpreter = interpreter
        self.env = dict(env)
        self.runtime_paths = frozenset(os.path.realpath(p) for p in runtime_paths)
        self._lock = threading.Lock()
        self._popen: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._work: workdir.Workdir | None = None
        self._init_pidfd: int | None = None  # bubblewrap's PID 1, which we adopt and reap
        self._live = 0
        self._closing = False
        self._slot_cgroups: dict[int, cgroups.SlotCgroup] = {}
        #: Runs handed to a server so far (over restarts).
        self.served = 0

    def serves(self, job: Job) -> bool:
        """Whether ``job`` runs through this server: ``python -S -B SCRIPT ...`` under the
        server's own interpreter, with the server's runtime paths, no files to copy out,
        and an environment that adds to the server's only variables the interpreter does
        not read at start-up (its ``PYTHON*`` settings and locale are the server's)."""
        cmd = job.command
        if (job.outputs or self._closing or len(cmd) < 4 or cmd[0] != self.interpreter
                or tuple(cmd[1:3]) != ("-S", "-B")):
            return False
        env = dict(job.env)
        if any(env.get(k) != v for k, v in self.env.items()) or any(
                k.startswith(_STARTUP_VARIABLES) for k in env.keys() - self.env.keys()):
            return False
        return _real_paths(tuple(job.runtime_paths)) <= self.runtime_paths

    def suits(self, job: Job, env: Mapping[str, str]) -> bool:
        """Whether a job this kind of server :meth:`serves`, run with ``env``, should come
        here rather than to the plain server: it runs a warm script (the Python driver,
        which puts site-packages on its path, so a run here can import nothing it could
        not import there), one of its files imports a module of :attr:`heavy` (an
        ``import`` or ``from`` line naming it, at any indentation), and ``env`` sets
        :attr:`started_with` alike (a run that asks its numeric library for more threads
        goes where that library is not loaded yet)."""
        if self._imports_heavy is None or any(env.get(k) != v
                                              for k, v in self.started_with.items()):
            return False
        script = job.command[3]
        spec = job.files.get(script)
        if spec is None or spec.content not in _warm_sources():
            return False
        # The cheap test first: most sources name none of the modules at all.
        return any(any(name in f.content for name in self._heavy_names)
                   and self._imports_heavy.search(f.content)
                   for path, f in job.files.items() if path != script)

    def submit(self, uid: int, fds: Sequence[int]) -> None:
        """Hand one run's fds to the server, for the slot of ``uid`` (starting or
        restarting the server as needed).

        Raises:
            SandboxCrashed: the server cannot be started or does not take the request.
        """
        with self._lock:
            for attempt in range(2):
                if self._sock is None or self._popen is None or self._popen.poll() is not None:
                    self._stop()
                    self._start()
                assert self._sock is not None
                try:
                    socket.send_fds(self._sock, [b"r %d" % uid], list(fds))
                    self._live += 1
                    self.served += 1
                    return
                except OSError as e:
                    if attempt:
                        raise SandboxCrashed(f"the fork server refused a run: {e}") from e
                    self._stop()

    def slot_cgroup(self, host: cgroups.CgroupHost, uid: int) -> cgroups.SlotCgroup | None:
        """The cgroups the runs of ``uid``'s slot share (made on first use), or ``None``
        where each run gets all of its own (cgroup v2: one directory holds them all).

        Raises:
            SandboxCrashed: they could not be made.
        """
        if host.version != 1:
            return None
        with self._lock:
            found = self._slot_cgroups.get(uid)
            if found is None:
                found = self._slot_cgroups[uid] = cgroups.SlotCgroup.create(
                    host, runid.new_run_id())
            return found

    def recycle(self, uid: int) -> None:
        """Have the server end the init of ``uid``'s slot, and with it every process of
        the slot's namespaces (a run's cgroup would not empty). Never raises."""
        with self._lock:
            if self._sock is not None:
                with contextlib.suppress(OSError):
                    self._sock.send(b"R %d" % uid)

    def release(self) -> None:
        """One run handed over by :meth:`submit` is over."""
        with self._lock:
            self._live -= 1
            if self._closing and self._live <= 0:
                self._stop()
                self._remove_slot_cgroups()

    def close(self) -> None:
        """Stop the server once the runs it started have ended (they are not cut short)."""
        with self._lock:
            self._closing = True
            if self._live <= 0:
                self._stop()
                self._remove_slot_cgroups()

    @property
    def pid(self) -> int | None:
        """The pid of the server's bubblewrap process while it runs (our child)."""
        with self._lock:
            return self._popen.pid if self._popen is not None else None

    def resident(self) -> list[tuple[str, list[int]]]:
        """``(run id, supervisor fds)`` of what stays on purpose between runs: the server
        while it runs (first), then the cgroups its uid slots share."""
        with self._lock:
            kept = [(cg.name, cg.fds()) for cg in self._slot_cgroups.values()]
            if self._work is None or self._sock is None:
                return kept
            fds = [self._sock.fileno()]
            if self._init_pidfd is not None:
                fds.append(self._init_pidfd)
            return [(self._work.root.name, fds), *kept]

    # ------------------------------------------------------------------ internals
    def _start(self) -> None:
        work = workdir.Workdir.create(self._scratch, runid.new_run_id(), 4 << 20, 0, 0,
                                      use_tmpfs=True)
        parent: socket.socket | None = None
        popen: subprocess.Popen[bytes] | None = None
        try:
            from codeeval.languages.registry import warm_python_scripts

            warm = warm_python_scripts()
            files = {"forkserver.py": FileSpec(_SOURCE), "seccomp.bpf": FileSpec(self._bpf)}
            files.update({f"warm/{i}": FileSpec(src) for i, src in enumerate(warm.values())})
            work.place(files, 0, 0)
            parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            info_r, info_w = os.pipe2(os.O_CLOEXEC)
            command = [self.interpreter, "-S", "-B", "forkserver.py", str(child.fileno()),
                       "seccomp.bpf", ",".join(PRELOAD), ",".join(self.heavy),
                       *(f"warm/{i}={name}" for i, name in enumerate(warm))]
            try:
                popen = workdir.spawn(
                    self._argv(work.path, command, info_w), stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                    pass_fds=[child.fileno(), info_w], env=config.host_environment_for_tools(),
                    start_new_session=True)
            except OSError as e:
                os.close(info_r)
                raise SandboxCrashed(f"cannot start the fork server: {e}") from e
            finally:
                child.close()
                os.close(info_w)
            assert popen.stderr is not None
            try:
                info = read_info(info_r, popen, popen.stderr.fileno())
            finally:
                os.close(info_r)
            with contextlib.suppress(OSError):
                self._init_pidfd = os.pidfd_open(int(info["child-pid"]))
            parent.settimeout(_START_TIMEOUT_S)
            try:
                hello = parent.recv(16)
            except OSError:
                hello = b""
            if hello != b"ready":
                popen.kill()
                _, err = popen.communicate(timeout=10)
                raise SandboxCrashed("the fork server did not start: "
                                     + (err.decode(errors="replace").strip()[-500:]
                                        or f"exit {popen.returncode}"))
            parent.settimeout(None)
            popen.stderr.close()
        except BaseException:
            if parent is not None:
                parent.close()
            if popen is not None and popen.poll() is None:
                popen.kill()
                popen.wait(timeout=10)
            self._reap_init()
            with contextlib.suppress(SandboxCrashed):
                work.remove()
            raise
        self._popen, self._sock, self._work = popen, parent, work

    def _reap_init(self) -> None:
        """Reap bubblewrap's PID 1: it exits a moment after bubblewrap itself, and comes to
        us (a subreaper) rather than to the host's init. Never raises."""
        fd, self._init_pidfd = self._init_pidfd, None
        if fd is None:
            return
        reap_pidfd(fd)
        os.close(fd)

    def _remove_slot_cgroups(self) -> None:
        """Once no run is left: delete the slots' shared cgroups. Never raises (what
        cannot be deleted is logged, and swept as stale once this process is gone)."""
        for cg in self._slot_cgroups.values():
            for problem in cg.remove():
                _log.warning("fork server: cannot remove %s", problem)
        self._slot_cgroups.clear()

    def _stop(self) -> None:
        if self._sock is not None:
            self._sock.close()  # the server reads EOF and exits
            self._sock = None
        if self._popen is not None:
            try:
                self._popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait(timeout=10)
            self._popen = None
        self._reap_init()
        if self._work is not None:
            with contextlib.suppress(SandboxCrashed):
                self._work.remove()
            self._work = None


def _warm_sources() -> frozenset[bytes]:
    from codeeval.languages.registry import warm_python_scripts

    return frozenset(warm_python_scripts().values())


def _import_pattern(modules: Sequence[str]) -> re.Pattern[bytes]:
    """A line that imports one of ``modules`` (``import a, numpy as np``, ``from numpy.x
    import y``); a false match only sends a run to a server that has imported more."""
    names = b"|".join(re.escape(m.encode()) for m in modules)
    return re.compile(rb"^[ \t]*(?:from[ \t]+(?:%s)\b|import[ \t]+[^\n#]*\b(?:%s)\b)"
                      % (names, names), re.MULTILINE)


#: Prefixes of the variables the interpreter reads once, at start-up.
_STARTUP_VARIABLES = ("PYTHON", "LANG", "LC_")


def job_payload(job: Job, *, uid: int, gid: int, env: dict[str, str],
                rlimits: dict[int, tuple[int, int]], nprocs: int) -> bytes:
    """The request a forked run reads from its memfd: a JSON line, then the files' bytes."""
    files = [(name, spec) for name, spec in job.files.items()]
    header = {"argv": list(job.command), "env": env, "uid": uid, "gid": gid,
              "rlimits": [[r, s, h] for r, (s, h) in rlimits.items()],
              "scratch_bytes": job.limits.scratch_mb << 20, "inodes": _INODES,
              "files": [[n, len(s.content), s.executable] for n, s in files],
              "nprocs": nprocs}
    return json.dumps(header).encode() + b"\n" + b"".join(s.content for _, s in files)


class ForkTree(ProcessTree):
    """Host-side state of one run of the fork server: its cgroup, uid slot and status pipe.

    The run's processes are not our children: the supervisor learns the program's wait
    status from the status pipe, and kills through the cgroup and the kill pipe (the
    slot's init then kills every process of its PID namespace).
    """

    def __init__(self, server: ForkServer, slots: SlotPool, slot: Slot, run_id: str,
                 cgroup: cgroups.RunCgroup, status_r: int, kill_w: int) -> None:
        self.run_id = run_id
        self.uid = slot.uid
        self._server = server
        self._slots = slots
        self._slot: Slot | None = slot
        self.cgroup: cgroups.RunCgroup | None = cgroup
        self._status_r = status_r
        self._kill_w = kill_w
        self._reported: tuple[int, Any] | None = None
        self._crash: str | None = None
        self._kill_sent = False
        #: The slot's init reported every process of the run reaped.
        self._all_gone = False

    def exit_fd(self) -> int | None:
        return os.dup(self._status_r)

    def wait_exit(self, block: bool) -> tuple[int, Any] | None:
        if self._reported is not None:
            return self._reported
        if not block and not select.select([self._status_r], [], [], 0)[0]:
            return None
        data = b""
        deadline = time.monotonic() + _STATUS_TIMEOUT_S
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._status_r], [], [], left)[0]:
                self._crash = "the fork server did not report the run's end"
                self.kill()
                break
            chunk = os.read(self._status_r, 4096)
            if not chunk:
                break
            data += chunk
        found: dict[str, str] = {}
        for line in data.decode(errors="replace").splitlines():
            tag, _, text = line.partition(" ")
            found.setdefault(tag, text)
        status = found.get("x")
        if "e" in found:
            self._crash = found["e"]
        elif status is None:
            # The slot's init (root, unreachable from the program's uid) or the fork
            # server died before the program ended: the sandbox was killed from outside.
            # An infra error, never the program's verdict.
            self._crash = self._crash or "the run's sandbox died before the program ended"
        self._all_gone = "a" in found
        if status is None or not status.isdigit():
            self._crash = self._crash or "the fork server ended the run without a status"
            status = "9"  # report it as killed; the crash makes the run an infra error
        self._reported = (int(status), None)
        return self._reported

    def kill(self) -> None:
        if self._all_gone:
            return  # nothing of the run is left to kill (the usual case once it reported)
        # The kill pipe first: the slot's init kills the whole PID namespace, which also
        # takes a program that has not joined the cgroup yet.
        if not self._kill_sent and self._kill_w >= 0:
            self._kill_sent = True
            with contextlib.suppress(OSError):
                os.write(self._kill_w, b"k")
        if self.cgroup is not None:
            self.cgroup.kill_all()

    def cpu_time_s(self) -> float | None:
        return self.cgroup.cpu_time_s() if self.cgroup is not None else None

    def memory(self) -> tuple[int | None, bool]:
        if self.cgroup is None:
            return None, False
        return self.cgroup.peak_memory_bytes(), self.cgroup.oom_killed()

    def cleanup(self, outputs: tuple[str, ...], max_bytes: int) -> dict[str, bytes]:
        errors: list[str] = []
        if self._reported is None:
            self.kill()
            self.wait_exit(block=True)
        if self._crash:
            errors.append(self._crash)
        self._release(errors)
        if errors:
            raise SandboxCrashed("; ".join(errors))
        return {}

    def abort(self) -> None:
        """Tear down a run that was never handed over. Never raises."""
        self._release([], handed_over=False)

    def _release(self, errors: list[str], handed_over: bool = True) -> None:
        if self.cgroup is not None:
            failed = len(errors)
            self.cgroup.remove_noting(errors)
            if len(errors) > failed and handed_over:
                # Something of the run outlived the cgroup kills: end the slot's init,
                # which takes every process of its namespace (none can escape a PID
                # namespace), before the slot serves another run.
                self._server.recycle(self.uid)
                with contextlib.suppress(SandboxCrashed):
                    self.cgroup.remove(timeout_s=5.0)
            self.cgroup = None
        for fd in (self._status_r, self._kill_w):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._status_r = self._kill_w = -1
        if self._slot is not None:
            self._slots.release(self._slot)
            self._slot = None
            if handed_over:
                self._server.release()


@functools.lru_cache(maxsize=64)
def _real_paths(paths: tuple[str, ...]) -> frozenset[str]:
    """The resolved ``paths`` (every run of a harness asks about the same few: resolving
    them each time cost several per cent of a busy server's CPU)."""
    return frozenset(os.path.realpath(p) for p in paths)

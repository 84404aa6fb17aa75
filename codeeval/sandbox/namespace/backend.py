"""The namespace backend: bubblewrap plus cgroups, rlimits and a host-owned supervisor.

Why bubblewrap and not nsjail: bubblewrap is a small, audited tool (Flatpak's sandbox) that
does exactly the namespace and mount setup and nothing else, is packaged in Debian stable
(nsjail is not, in bookworm), and starts in a few milliseconds here. nsjail's extra
features are ones codeeval needs to own anyway: nsjail creates and deletes its own cgroup
per run, which throws away the peak-memory and OOM-kill counters that decide MLE, and its
time limits would compete with the supervisor's per-test timers. So bubblewrap builds the
box and codeeval supervises it.

What one run gets (as root, the normal case):

* new PID, mount, network (loopback only), IPC, UTS and (when possible) cgroup namespaces;
* a root made of read-only binds: ``/usr`` (and the usual ``/bin``, ``/lib`` links), the
  language runtime's own directories, a few files of ``/etc``, and synthetic
  ``/etc/passwd``, ``/etc/group`` and ``/etc/hosts``; no host home, project or temp dir;
* ``/box``, the work dir: a fresh size- and inode-capped tmpfs mounted by the host and
  owned by the run's uid; ``/tmp`` and ``/dev/shm``: private size-capped tmpfs; a minimal
  ``/dev``; a new ``/proc``;
* the program itself runs as a host uid of its own (``uid_base + slot``), with no
  capabilities, an empty bounding set and ``no_new_privs`` (``setpriv`` just before exec),
  under a seccomp filter that denies namespaces, mounts, io_uring, BPF, userfaultfd,
  keyrings, perf events and ptrace (:mod:`.seccomp`),
  and rlimits (address space, processes, open files, file size, stack, CPU, core) set with
  ``prlimit(2)`` on the sandbox's blocked init, so every process of the run inherits them;
* a cleared environment: ``PATH``, ``LANG=C.UTF-8``, ``LC_ALL``, ``HOME=/box``,
  ``TMPDIR=/tmp``, ``PWD``, the thread-count variables of
  :func:`~codeeval.sandbox.rlimits.thread_env` and the job's variables;
* memory (swap included), pids and CPU-bandwidth limits in a per-run cgroup (v1 or v2);
  the cgroup's CPU time and OOM-kill counter decide TLE and MLE;
* the supervisor owns the CPU and wall limits, reads output concurrently with caps, and
  ends a run by SIGKILL of the PID namespace's init (the kernel then kills every process in
  the namespace, setsid daemons included) plus every pid left in the cgroup.

How a run starts. bwrap is started with ``--block-fd``: it builds the namespaces and mounts
and then waits, while the supervisor moves it into the run's cgroup and lowers its rlimits,
so no process of the run ever exists outside the cgroup or above the limits. Because that
setup is the slow part (about 10 ms), it is done ahead of demand for jobs that repeat: a
:class:`~codeeval.sandbox.prespawn.PrespawnPool` keeps blocked sandboxes per *shape*
(command, environment, limits other than time, runtime paths, channel). A run takes one,
places its files in the (already bound) work dir, sets its CPU rlimit, and unblocks it.
Every sandbox serves exactly one run.

As root with cgroups, Python runs take a faster path with the same isolation: a fork server
(:mod:`.forkserver`) forks each run from a warm interpreter (through an init it keeps per
uid slot, PID 1 of the slot's PID and network namespaces), and the fork builds its other
namespaces, mounts, cgroup membership, uid, rlimits and seccomp filter before any of the
job runs. Other jobs (other runtimes, files to copy out) go through bubblewrap as above.

Without root, bubblewrap runs in a user namespace (``--unshare-user --disable-userns``),
there are no cgroups (the supervisor then samples the namespace's processes in ``/proc``
for CPU time and memory, and kills at the memory limit; rlimits are the second layer), the
program keeps the caller's uid, and the work dir is a plain directory.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import os
import resource
import shutil
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeeval import config
from codeeval.errors import BackendUnavailable, SandboxCrashed, SandboxError
from codeeval.model.run import WORKDIR, Job, Limits
from codeeval.sandbox import runid, workdir
from codeeval.sandbox.base import Backend, register_backend
from codeeval.sandbox.namespace import cgroups, seccomp
from codeeval.sandbox.namespace.forkserver import ForkServer, ForkTree, job_payload
from codeeval.sandbox.namespace.slots import Slot, SlotPool
from codeeval.sandbox.namespace.tree import NsTree, read_info
from codeeval.sandbox.pipes import Pipes, memfd_with
from codeeval.sandbox.prespawn import PrespawnPool
from codeeval.sandbox.process import CHANNEL_ENV, SandboxProcess
from codeeval.sandbox.rlimits import address_space_limit, rlimits, thread_env

_ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime")
_SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
_BASE_ENV = {"PATH": _SANDBOX_PATH, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": WORKDIR,
             "TMPDIR": "/tmp"}
_MIB = 1024 * 1024
_PR_SET_CHILD_SUBREAPER = 36
_live: weakref.WeakSet[NamespaceBackend] = weakref.WeakSet()


@dataclass(frozen=True, slots=True)
class _Shape:
    """What a sandbox must be built with before its job is known."""

    limits: Limits
    runtime_paths: tuple[str, ...]
    limit_address_space: bool
    channel: bool
    command: tuple[str, ...]
    env: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, job: Job) -> _Shape:
        # Time limits are not part of the shape: the supervisor enforces them, and the one
        # rlimit that depends on them (RLIMIT_CPU) is set when the job is launched. So jobs
        # that differ only in files, stdin and time limits share pre-spawned sandboxes.
        limits = dataclasses.replace(job.limits, time_s=1.0, wall_time_s=None)
        return cls(limits, tuple(job.runtime_paths), job.limit_address_space, job.channel,
                   tuple(job.command), tuple(sorted(job.env.items())))


@dataclass(slots=True)
class _Warm:
    """A sandbox whose namespaces, mounts, cgroup and rlimits are ready; blocked."""

    tree: NsTree
    shape: _Shape
    pipes: Pipes
    block_w: int

    def our_fds(self) -> list[int]:
        return [*self.pipes.ours(), self.block_w, *self.tree.held_fds()]


@register_backend("namespace")
class NamespaceBackend(Backend):
    """Runs jobs under bubblewrap with cgroups; see the module docstring for what it isolates."""

    name = "namespace"

    def __init__(self, settings: config.Settings | None = None) -> None:
        """Check the host, prepare shared state, and run one sandbox as a self-test.

        Raises:
            BackendUnavailable: bubblewrap or util-linux is missing, or bubblewrap
                cannot create namespaces here. The message says what to install.
        """
        s = settings or config.settings()
        self.settings = s
        bwrap = s.bwrap or shutil.which("bwrap")
        if not bwrap:
            raise BackendUnavailable(
                "bubblewrap is not installed: install the Debian package 'bubblewrap' "
                "(apt-get install bubblewrap), or choose --backend local for trusted code")
        self._bwrap = bwrap
        self.privileged = os.geteuid() == 0
        self._setpriv = shutil.which("setpriv") or ""
        if self.privileged and not self._setpriv:
            raise BackendUnavailable("setpriv is missing: install the Debian package 'util-linux'")
        self.scratch = Path(s.tmpdir) / f"codeeval-{os.geteuid()}"
        self.scratch.mkdir(mode=0o711, parents=True, exist_ok=True)
        self.cgroup_host: cgroups.CgroupHost | None = None
        self.cgroup_note = "disabled by CODEEVAL_CGROUPS=off"
        if s.cgroups:
            self.cgroup_host, self.cgroup_note = cgroups.detect()
        self._slots = SlotPool(self.scratch / "slots", s.uid_base, s.uid_slots)
        self._seccomp = seccomp.filter_bpf()
        # RLIMIT_NPROC counts processes per uid. As root each run has a uid of its own; without
        # root the count is per (user namespace, uid) since Linux 5.14, so per sandbox too.
        self._nproc_is_per_run = self.privileged or _kernel_at_least(5, 14)
        _become_subreaper()
        self._etc = self._write_etc()
        self.swept = self.sweep()
        self._self_test()
        self._forkserver_finalizers: list[weakref.finalize[Any, Any]] = []
        self._forkserver: ForkServer | None = None
        self._heavy: ForkServer | None = None  # the second server, with heavy modules
        if s.forkserver and self.privileged and self.cgroup_host is not None:
            self._forkserver = self._make_forkserver()
            if self._forkserver is not None and s.forkserver_heavy:
                self._heavy = self._make_forkserver(s.forkserver_heavy)
        self._pool: PrespawnPool[_Shape, _Warm] | None = None
        self._recent: dict[_Shape, None] = {}  # insertion-ordered: the shapes seen lately
        if s.prespawn > 0:
            self._pool = PrespawnPool(self._spawn, self._destroy, per_shape=s.prespawn)
            # The pool refers back to this backend, so without close() the backend lives
            # until interpreter exit, when this finalizer destroys the idle sandboxes.
            self._finalizer = weakref.finalize(self, self._pool.close)
        _live.add(self)

    # ------------------------------------------------------------------ Backend API
    @property
    def capabilities(self) -> frozenset[str]:
        caps = {"isolation", "containment", "syscall_filter"}
        if self.cgroup_host is not None:
            caps.add("memory_cgroup")
        if self.cgroup_host is not None or self._nproc_is_per_run:
            caps.add("pids_limit")
        if self.privileged:
            caps.add("scratch_cap")
        return frozenset(caps)

    def describe(self) -> str:
        mode = "root" if self.privileged else "unprivileged user namespace"
        pool = f"{self.settings.prespawn} pre-spawned per shape" if self._pool else "no pre-spawn"
        fork = "; fork server for Python runs" if self._forkserver else ""
        if self._heavy is not None:
            fork += f" (and one with {', '.join(self._heavy.heavy)} imported, for runs that " \
                    "import them)"
        return f"namespace (bubblewrap {self._bwrap}, {mode}; {self.cgroup_note}; {pool}{fork})"

    def sweep(self) -> list[str]:
        """Remove run directories and cgroups left by supervisors that died; return their names."""
        removed = workdir.sweep_stale(self.scratch)
        if self.cgroup_host is not None:
            removed += cgroups.sweep_stale(self.cgroup_host)
        return removed

    def start(self, job: Job) -> SandboxProcess:
        if self._forkserver is not None and self._forkserver.serves(job):
            env = {**_BASE_ENV, **thread_env(job.limits), **job.env}
            if self._heavy is not None and self._heavy.suits(job, env):
                return self._fork_launch(self._heavy, job, env)
            return self._fork_launch(self._forkserver, job, env)
        shape = _Shape.of(job)
        warm = self._pool.take(shape) if self._pool else None
        if warm is None:
            warm = self._spawn(shape)
        if self._pool is not None:
            # Keep sandboxes ready only for shapes that repeat: a one-off job (say, with an
            # environment of its own) must not leave idle sandboxes behind it.
            if shape in self._recent:
                self._pool.refill(shape)
            self._recent[shape] = None
            while len(self._recent) > 64:
                self._recent.pop(next(iter(self._recent)))
        return self._launch(warm, job)

    def close(self) -> None:
        """Destroy the pre-spawned sandboxes and stop the fork server once its runs have
        ended. Runs already started are not affected."""
        if self._pool is not None:
            self._finalizer()
        for finalize in self._forkserver_finalizers:
            finalize()

    def quiesce(self) -> None:
        """Wait until no sandbox is being pre-spawned in the background."""
        if self._pool is not None:
            self._pool.wait()

    def idle_runs(self) -> list[tuple[str, int, list[int]]]:
        """``(run id, uid, supervisor fds)`` of each pre-spawned sandbox waiting for a job."""
        if self._pool is None:
            return []
        return [(w.tree.run_id, w.tree.uid, w.our_fds()) for w in self._pool.idle()]

    def pool_state(self) -> dict[str, int]:
        """Pre-spawned sandboxes waiting, and the fork server's state and runs served."""
        state = {"prespawned_idle": len(self._pool.idle()) if self._pool is not None else 0}
        if self._forkserver is not None:
            state["forkserver_up"] = int(self._forkserver.pid is not None)
            state["forkserver_runs"] = self._forkserver.served
        if self._heavy is not None:
            state["forkserver_heavy_up"] = int(self._heavy.pid is not None)
            state["forkserver_heavy_runs"] = self._heavy.served
        return state

    @property
    def forkserver_enabled(self) -> bool:
        """Whether Python runs go through the fork server here."""
        return self._forkserver is not None

    @property
    def forkserver_runs(self) -> int:
        """How many runs went through a fork server (either) so far."""
        return sum(server.served for server in self._forkservers())

    @property
    def forkserver_heavy(self) -> tuple[str, ...]:
        """The modules the second fork server imports up front (none: there is none)."""
        return self._heavy.heavy if self._heavy is not None else ()

    @property
    def forkserver_heavy_runs(self) -> int:
        """How many of them went through the one with the heavy modules imported."""
        return self._heavy.served if self._heavy is not None else 0

    @property
    def forkserver_pid(self) -> int | None:
        """The pid of the (plain) fork server's bubblewrap process, while one runs."""
        return self._forkserver.pid if self._forkserver is not None else None

    def resident(self) -> list[tuple[str, list[int]]]:
        """``(run id, supervisor fds)`` of helpers that outlive runs: each fork server
        that runs (the plain one first), then the cgroups its uid slots share."""
        return [entry for server in self._forkservers() for entry in server.resident()]

    def _forkservers(self) -> list[ForkServer]:
        return [s for s in (self._forkserver, self._heavy) if s is not None]

    # ------------------------------------------------------------------ spawn / launch
    def _spawn(self, shape: _Shape) -> _Warm:
        """Build a sandbox of ``shape`` up to the point where it waits for its job.

        Raises:
            SandboxCrashed: any step failed (everything made so far is removed).
        """
        slot = self._slots.acquire() if self.privileged else None
        uid = slot.uid if slot else os.getuid()
        gid = uid if slot else os.getgid()
        tree = NsTree(self._slots, slot, runid.new_run_id(), uid, gid)
        pipes: Pipes | None = None
        ours: list[int] = []
        theirs: list[int] = []

        def pipe() -> tuple[int, int]:
            r, w = os.pipe2(os.O_CLOEXEC)
            ours.append(w)
            theirs.append(r)
            return r, w

        try:
            tree.workdir = workdir.Workdir.create(
                self.scratch, tree.run_id, shape.limits.scratch_mb * _MIB, uid, gid,
                use_tmpfs=self.privileged)
            if self.cgroup_host is not None:
                tree.cgroup = cgroups.RunCgroup.create(self.cgroup_host, shape.limits,
                                                       tree.run_id)
            pipes = Pipes(shape.channel)
            block_r, block_w = pipe()
            seccomp_r, seccomp_w = pipe()
            _write_all(seccomp_w, self._seccomp)  # a few hundred bytes: fits in the pipe
            os.close(seccomp_w)
            ours.remove(seccomp_w)
            info_r, info_w = os.pipe2(os.O_CLOEXEC)  # the other way round: bwrap writes
            ours.append(info_r)
            theirs.append(info_w)
            argv = self._argv(shape, tree.workdir.path, pipes.env, info_w, block_r, seccomp_r,
                              slot)
            stdin, stdout, stderr = pipes.child_stdio
            try:
                popen = workdir.spawn(
                    argv, stdin=stdin, stdout=stdout, stderr=stderr,
                    pass_fds=[*theirs, *pipes.child_pass_fds],
                    env=config.host_environment_for_tools(), start_new_session=True,
                    close_fds=True)
            except OSError as e:
                raise SandboxCrashed(f"cannot start bubblewrap: {e}") from e
            tree.pid = popen.pid
            tree.popen = popen
            pipes.close_child_ends()
            for fd in theirs:
                os.close(fd)
            theirs.clear()
            info = read_info(info_r, popen, pipes.stderr_r)
            os.close(info_r)
            ours.remove(info_r)
            tree.set_init(int(info["child-pid"]))
            if tree.cgroup is not None:
                tree.cgroup.attach(tree.init_pid)
            # bwrap runs as root (or as us), so lowering the blocked child's limits needs no
            # capability; everything it starts after the unblock inherits them.
            address_space = (address_space_limit(shape.limits, cgroup=tree.cgroup is not None)
                             if shape.limit_address_space else None)
            limits = rlimits(shape.limits, address_space=address_space,
                             nproc=self._nproc_is_per_run)
            del limits[resource.RLIMIT_CPU]  # set at launch: it depends on the job's time limit
            try:
                for res, pair in limits.items():
                    resource.prlimit(tree.init_pid, res, pair)
            except OSError as e:
                raise SandboxCrashed(f"cannot set rlimits of the sandbox: {e}") from e
            return _Warm(tree, shape, pipes, block_w)
        except BaseException as e:
            for fd in theirs + ours:
                with contextlib.suppress(OSError):
                    os.close(fd)
            if pipes is not None:
                pipes.close_all()
            tree.abort()
            if isinstance(e, SandboxError | KeyboardInterrupt | SystemExit):
                raise
            raise SandboxCrashed(f"sandbox setup failed: {e}") from e

    def _launch(self, warm: _Warm, job: Job) -> SandboxProcess:
        """Give a pre-spawned sandbox its files and time limit, and let it run.

        Raises:
            SandboxCrashed: the files could not be placed or the sandbox did not take the job.
        """
        tree = warm.tree
        try:
            assert tree.workdir is not None
            tree.workdir.place(job.files, tree.uid, tree.gid)
            cpu = rlimits(job.limits, address_space=None, nproc=False)[resource.RLIMIT_CPU]
            resource.prlimit(tree.init_pid, resource.RLIMIT_CPU, cpu)
            os.write(warm.block_w, b"1")
            os.close(warm.block_w)
            warm.block_w = -1
        except (OSError, SandboxError) as e:
            self._destroy(warm)
            raise SandboxCrashed(f"cannot hand the job to the sandbox: {e}") from e
        return warm.pipes.supervise(tree, limits=job.limits, stdin_data=job.stdin,
                                    outputs=job.outputs)

    def _make_forkserver(self, heavy: Sequence[str] = ()) -> ForkServer | None:
        """The fork server of sandboxed Python, or with ``heavy`` the second one, which
        also imports those of ``heavy`` found in the interpreter's site-packages (``None``
        when there is no sandboxed Python, or none of them is there).

        The second server starts its interpreter with the numeric libraries' thread counts
        of a run at the default :class:`Limits` (one core: 1), from the same
        :func:`~codeeval.sandbox.rlimits.thread_env` that sets them for runs:
        a library reads them when imported, and a server importing NumPy with them unset
        would start an OpenBLAS thread per host core, which forks do not inherit.
        """
        from codeeval.languages.registry import PYTHON, python_interpreter, python_site_packages

        try:
            interpreter = python_interpreter()
            paths = tuple(PYTHON.runtime_paths())
            if heavy:
                found = python_site_packages()
                heavy = [m for m in heavy if _installed(m, found)]
                if not heavy:
                    return None
        except BackendUnavailable:
            return None  # no sandboxed Python: every run goes through bubblewrap
        env = dict(PYTHON.env)
        started_with = thread_env(Limits()) if heavy else {}
        server_env = {**env, **started_with}
        server = ForkServer(
            lambda work, command, info: self._forkserver_argv(paths, server_env, work,
                                                              command, info),
            self.scratch, self._seccomp, interpreter, env, paths, heavy=heavy,
            started_with=started_with)
        self._forkserver_finalizers.append(weakref.finalize(self, server.close))
        return server

    def _fork_launch(self, server: ForkServer, job: Job, env: dict[str, str]
                     ) -> SandboxProcess:
        """Start ``job`` as a fork of ``server``, in namespaces of its own, with the
        environment ``env`` (the base one, the thread counts of its CPU limit and its own).

        Raises:
            SandboxCrashed: the run could not be set up or handed to the server.
        """
        assert self.cgroup_host is not None
        slot = self._slots.acquire()
        run_id = runid.new_run_id()
        ours: list[int] = []
        pipes: Pipes | None = None
        cgroup: cgroups.RunCgroup | None = None
        tree: ForkTree | None = None
        try:
            shared = server.slot_cgroup(self.cgroup_host, slot.uid)
            cgroup = cgroups.RunCgroup.create(self.cgroup_host, job.limits, run_id, shared)
            for path in cgroup.procs_files():
                ours.append(os.open(path, os.O_WRONLY | os.O_CLOEXEC))
            procs = ours + (shared.procs_fds if shared is not None else [])
            status_r, status_w = os.pipe2(os.O_CLOEXEC)
            ours.append(status_w)
            try:
                kill_r, kill_w = os.pipe2(os.O_CLOEXEC)
            except OSError:
                os.close(status_r)
                raise
            ours.append(kill_r)
            tree = ForkTree(server, self._slots, slot, run_id, cgroup, status_r, kill_w)
            pipes = Pipes(job.channel)
            if job.channel:
                env[CHANNEL_ENV] = "3,4"  # the run moves the channel's ends to fds 3 and 4
            address_space = address_space_limit(job.limits, cgroup=True) \
                if job.limit_address_space else None
            payload = job_payload(job, uid=slot.uid, gid=slot.uid, env=env,
                                  rlimits=rlimits(job.limits, address_space=address_space,
                                                  nproc=True),
                                  nprocs=len(procs))
            mem = memfd_with(payload)
            ours.append(mem)
            server.submit(slot.uid, [mem, status_w, kill_r, *pipes.child_stdio,
                                     *pipes.child_pass_fds, *procs])
        except BaseException as e:
            if pipes is not None:
                pipes.close_all()
            if tree is not None:
                tree.abort()  # removes the cgroup and releases the slot
            else:
                if cgroup is not None:
                    with contextlib.suppress(SandboxError):
                        cgroup.remove()
                self._slots.release(slot)
            if isinstance(e, SandboxError | KeyboardInterrupt | SystemExit):
                raise
            raise SandboxCrashed(f"fork server run setup failed: {e}") from e
        finally:
            for fd in ours:
                with contextlib.suppress(OSError):
                    os.close(fd)
        return pipes.supervise(tree, limits=job.limits, stdin_data=job.stdin, outputs=())

    def _destroy(self, warm: _Warm) -> None:
        """Tear down a sandbox that will not run (never raises)."""
        warm.pipes.close_all()
        if warm.block_w >= 0:  # -1: already closed by _launch
            with contextlib.suppress(OSError):
                os.close(warm.block_w)
        warm.tree.abort()

    # ------------------------------------------------------------------ internals
    def _argv(self, shape: _Shape, work: Path, env: dict[str, str], info_fd: int,
              block_fd: int, seccomp_fd: int, slot: Slot | None) -> list[str]:
        a = self._box_argv(shape.runtime_paths, shape.limits.scratch_mb, work,
                           {**thread_env(shape.limits), **dict(shape.env), **env})
        a += ["--seccomp", str(seccomp_fd), "--info-fd", str(info_fd),
              "--block-fd", str(block_fd), "--"]
        if slot is not None:
            a += [self._setpriv, f"--reuid={slot.uid}", f"--regid={slot.uid}",
                  "--clear-groups", "--bounding-set=-all", "--inh-caps=-all",
                  "--no-new-privs", "--"]
        return [*a, *shape.command]

    def _box_argv(self, runtime_paths: Sequence[str], scratch_mb: int, work: Path,
                  env: dict[str, str], *, die_with_parent: bool = True) -> list[str]:
        """bubblewrap's options for the namespaces, the root, the work dir and ``env``."""
        scratch = str(scratch_mb * _MIB)
        a = [self._bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
             "--unshare-cgroup-try", "--new-session", "--hostname", "codeeval"]
        if die_with_parent:
            a.append("--die-with-parent")
        if not self.privileged:
            a += ["--unshare-user", "--disable-userns"]
        a += ["--ro-bind", "/usr", "/usr"]
        for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
            if os.path.islink(top):
                a += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                a += ["--ro-bind", top, top]
        # bubblewrap would make /etc (the parent of the binds below) root-only (0700), so
        # that the run's uid could read nothing in it: make it world-readable first.
        a += ["--perms", "0755", "--dir", "/etc"]
        for f in _ETC_FILES:
            a += ["--ro-bind-try", f, f]
        for name in ("passwd", "group", "hosts"):
            a += ["--ro-bind", str(self._etc / name), f"/etc/{name}"]
        a += ["--proc", "/proc", "--dev", "/dev",
              "--perms", "1777", "--size", scratch, "--tmpfs", "/tmp",
              "--perms", "1777", "--size", scratch, "--tmpfs", "/dev/shm"]
        # Runtime binds come after the tmpfs mounts so a runtime under /tmp stays visible.
        made: set[str] = {"/", "/usr", "/etc", "/tmp", "/dev", "/proc", "/dev/shm"}
        for path in runtime_paths:
            real = os.path.realpath(path)
            if real == "/usr" or real.startswith("/usr/") or real in made:
                continue
            if real == WORKDIR or real.startswith(WORKDIR + "/"):
                raise SandboxCrashed(f"runtime path {real} would hide the work dir {WORKDIR}")
            for parent in reversed(Path(real).parents):
                p = str(parent)
                if p not in made:
                    a += ["--perms", "0755", "--dir", p]
                    made.add(p)
            a += ["--ro-bind", real, real]
            made.add(real)
        a += ["--bind", str(work), WORKDIR, "--remount-ro", "/", "--chdir", WORKDIR,
              "--clearenv"]
        for k, v in {**_BASE_ENV, **env}.items():
            a += ["--setenv", k, v]
        return a

    def _forkserver_argv(self, runtime_paths: Sequence[str], env: dict[str, str],
                         work: Path, command: Sequence[str], info_fd: int) -> list[str]:
        # The server keeps every capability (it builds each run's namespaces and mounts,
        # and drops them all in the run before any of the job's code) and has no seccomp
        # filter of its own: each run installs it. No --die-with-parent: that follows the
        # *thread* that started bubblewrap, and the server must outlive it; the server
        # exits instead when its control socket closes, as it does when the supervisor dies.
        a = self._box_argv(runtime_paths, 8, work, env, die_with_parent=False)
        return [*a, "--cap-add", "ALL", "--info-fd", str(info_fd), "--", *command]

    def _write_etc(self) -> Path:
        etc = self.scratch / "etc"
        etc.mkdir(mode=0o755, exist_ok=True)
        os.chmod(etc, 0o755)
        base = self.settings.uid_base
        users = ["root:x:0:0:root:/root:/usr/sbin/nologin"]
        groups = ["root:x:0:"]
        if self.privileged:
            for i in range(self.settings.uid_slots):
                users.append(f"sandbox{i}:x:{base + i}:{base + i}:sandbox:{WORKDIR}:/bin/sh")
                groups.append(f"sandbox{i}:x:{base + i}:")
        else:
            users.append(f"sandbox:x:{os.getuid()}:{os.getgid()}:sandbox:{WORKDIR}:/bin/sh")
            groups.append(f"sandbox:x:{os.getgid()}:")
        contents = {
            "passwd": "\n".join(users) + "\n",
            "group": "\n".join(groups) + "\n",
            "hosts": "127.0.0.1 localhost codeeval\n::1 localhost ip6-localhost\n",
        }
        for name, text in contents.items():
            tmp = etc / f".{name}.{os.getpid()}"
            tmp.write_text(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, etc / name)
        return etc

    def _self_test(self) -> None:
        job = Job(command=("/bin/true",), limits=Limits(time_s=5, memory_mb=64))
        try:
            with self._launch(self._spawn(_Shape.of(job)), job) as proc:
                result = proc.finish()
        except SandboxError as e:
            raise BackendUnavailable(f"bubblewrap cannot create a sandbox here: {e}") from e
        if result.exit_code != 0:
            raise BackendUnavailable("bubblewrap cannot create a sandbox here: "
                                     + (result.stderr_tail() or result.reason))


def _installed(module: str, site_packages: Sequence[str]) -> bool:
    """Whether the top-level package or module of ``module`` is in one of ``site_packages``
    (a directory, a ``.py`` file or an extension module)."""
    top = module.partition(".")[0]
    for d in site_packages:
        try:
            names = os.listdir(d)
        except OSError:
            continue
        if top in names or f"{top}.py" in names or any(
                n.startswith(f"{top}.") and n.endswith(".so") for n in names):
            return True
    return False


def _kernel_at_least(major: int, minor: int) -> bool:
    try:
        found = tuple(int(x) for x in os.uname().release.split("-")[0].split(".")[:2])
    except ValueError:
        return False
    return found >= (major, minor)


def _become_subreaper() -> None:
    """Make this process adopt its orphaned descendants (``PR_SET_CHILD_SUBREAPER``).

    bwrap's outer process exits as soon as the sandbox's init reports the program's exit
    status, a moment before the init itself is gone; without this, the init would be
    re-parented to the host's PID 1 and linger as a zombie until PID 1 reaps it. As a
    subreaper, the supervisor adopts it and reaps it itself (see ``NsTree.reap_init``).
    Other orphans of this process's children also come here and stay zombies until it exits.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise BackendUnavailable(f"cannot become a child subreaper: {os.strerror(err)}")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def live_backends() -> list[NamespaceBackend]:
    """Namespace backends of this process that have not been garbage-collected."""
    return list(_live)

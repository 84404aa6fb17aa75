"""The docker backend: jobs run in pooled containers, started ahead of demand and reused.

``docker run`` costs a few hundred milliseconds and ``docker exec`` about a hundred, far too
much per test. So the backend keeps warm containers per :class:`~.container.PoolKey` (image
and the limits a container fixes) and runs each job through the container's agent
(:mod:`.agent`, PID 1 of the container): the supervisor hands it pipes for stdin, stdout,
stderr and the structured channel (``SCM_RIGHTS`` over a unix socket), the agent forks
and execs the program with them, so the supervision code is the same as for the namespace
backend (:class:`~codeeval.sandbox.process.SandboxProcess`).

What a container gives every run:

* ``--network none``; a read-only root from the image; size-capped tmpfs ``/box`` (the
  work dir), ``/tmp`` and ``/dev/shm``; no host directory but the agent's file and an empty
  read-only control directory;
* memory limit with swap equal to memory (the run's limit plus what the idle agent uses),
  ``--pids-limit``,
  CPU bandwidth (``--cpus``), ulimits (core 0, open files);
* every capability dropped, ``no-new-privileges``, uid 65532 (not root), Docker's default
  seccomp profile and codeeval's own filter on top (the namespace backend's, plus System V
  IPC, whose objects would outlive the run in a shared IPC namespace);
* per run, set by the agent before exec: a new session, rlimits (CPU, file size, stack,
  open files, address space), OOM score 1000 (the OOM killer takes the program, never the
  agent), a cleared environment (the image's variables such as ``PATH`` and ``JAVA_HOME``,
  ``LANG=C.UTF-8``, ``HOME=/box``, ``TMPDIR=/tmp``, the thread-count variables of
  :func:`~codeeval.sandbox.rlimits.thread_env` and the job's).

Reuse. After a run, the agent SIGKILLs every process but itself, reaps them, and empties
``/box``, ``/tmp`` and ``/dev/shm``; it reports whether anything survived. The container
goes back to the pool only when that cleaning succeeded *and* the run behaved: it ended by
itself (no kill by the supervisor for a limit), left no process behind, and the OOM killer
did not fire. Otherwise it is discarded (removed in the background) and a fresh one is
started. Containers carry a label with their supervisor's run id; :func:`~.container.sweep`
removes those of supervisors that died, when a backend starts.

The CPU time of a run comes from the container's cgroup as seen from the host (the agent
is idle while a run goes on), so per-test CPU budgets work as with the namespace backend;
when the cgroup is not visible (a rootless or remote engine), per-test limits fall back to
wall time. The engine must be local: the agent's socket is a bind-mounted host directory.

What it does not isolate beyond Docker itself: runs in one container share its hostname,
IPC namespace (System V IPC is denied) and kernel keyring (denied by seccomp), and the
container's init is the agent, written in Python, which the run's uid cannot signal or
trace but which shares the container's memory limit.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from codeeval import config
from codeeval.errors import BackendUnavailable, SandboxCrashed
from codeeval.model.run import WORKDIR, Job
from codeeval.sandbox import runid
from codeeval.sandbox.base import Backend, register_backend
from codeeval.sandbox.classify import KillReason
from codeeval.sandbox.docker.container import Container, PoolKey, docker_error, recv, sweep
from codeeval.sandbox.namespace import seccomp
from codeeval.sandbox.pipes import Pipes, memfd_with
from codeeval.sandbox.prespawn import PrespawnPool
from codeeval.sandbox.process import CHANNEL_ENV, ProcessTree, SandboxProcess
from codeeval.sandbox.rlimits import address_space_limit, rlimits, thread_env

_AGENT = Path(__file__).with_name("agent.py")
_START_TIMEOUT_S = 10.0
_CLEAN_TIMEOUT_S = 15.0


@register_backend("docker")
class DockerBackend(Backend):
    """Runs jobs in pooled containers; see the module docstring for what it isolates."""

    name = "docker"
    host_runtimes = False

    def __init__(self, settings: config.Settings | None = None, *, client: Any = None) -> None:
        """Connect to the engine, sweep leftovers of dead supervisors, prepare the pool.

        Raises:
            BackendUnavailable: the ``docker`` package is missing, or the engine is not
                reachable (the message says what to do).
        """
        s = settings or config.settings()
        self.settings = s
        own_client = client is None
        if client is None:
            from codeeval.sandbox.docker import images

            client = images.open_client()
        self.client = client
        self.owner = runid.new_run_id()
        self._dir = Path(tempfile.mkdtemp(prefix=f"codeeval-docker-{os.getpid()}-",
                                          dir=s.tmpdir))
        os.chmod(self._dir, 0o755)
        agent_dir = self._dir / "agent"
        agent_dir.mkdir(mode=0o755)
        shutil.copyfile(_AGENT, agent_dir / "agent.py")
        os.chmod(agent_dir / "agent.py", 0o644)
        self._agent_dir = agent_dir
        self._images: dict[str, str] = {}
        self._bpf = seccomp.filter_bpf(seccomp.SYSV_IPC)
        self.swept = sweep(client)
        self.stats = {"created": 0, "reused": 0, "discarded": 0, "runs": 0}
        self._lock = threading.Lock()
        self._removing = threading.Condition()
        self._pending_removals = 0
        self._in_use: dict[PoolKey, int] = {}
        self._live: set[Container] = set()
        self._remover = ThreadPoolExecutor(max_workers=2, thread_name_prefix="codeeval-docker-rm")
        self._pool: PrespawnPool[PoolKey, Container] = PrespawnPool(
            self._create, self._remove, per_shape=max(s.docker_pool, 1))
        self._closed = False
        self._finalizer = weakref.finalize(self, _shutdown, self._pool, self._live,
                                           self._remover, self._dir,
                                           client if own_client else None)

    # ------------------------------------------------------------------ Backend API
    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset({"isolation", "containment", "memory_cgroup", "pids_limit",
                          "scratch_cap", "syscall_filter"})

    def describe(self) -> str:
        version = "?"
        with contextlib.suppress(Exception):
            version = self.client.version().get("Version", "?")
        return (f"docker (engine {version}; {self.settings.docker_pool} warm containers per "
                "image and limits, reused after clean runs)")

    def image_for(self, runtime: str) -> str:
        """The image that runs jobs of ``runtime`` (a folder of ``sandbox_images/``).

        Raises:
            BackendUnavailable: no image of it has been built.
        """
        found = self._images.get(runtime)
        if found is None:
            from codeeval.sandbox.docker import images

            found = images.resolve(self.client, runtime)
            self._images[runtime] = found
        return found

    def start(self, job: Job) -> SandboxProcess:
        key = PoolKey(self.image_for(job.image or "python"), job.limits.memory_mb,
                      job.limits.processes, job.limits.scratch_mb, job.limits.cpus,
                      job.limits.open_files)
        container = self._pool.take(key)
        if container is None:
            container = self._create(key)
        with self._lock:
            self.stats["reused"] += container.runs > 0
            self._in_use[key] = self._in_use.get(key, 0) + 1
            in_use = self._in_use[key]
        # Containers in use come back to the pool after clean runs: only top up beyond them.
        self._pool.refill(key, in_use)
        try:
            return self._launch(container, job)
        except BaseException:
            self._release(container, False)
            raise

    def close(self) -> None:
        """Remove every idle container; containers serving runs go when their run ends."""
        self._closed = True
        self._finalizer()

    def quiesce(self) -> None:
        """Wait until no container is being started or removed in the background."""
        self._pool.wait()
        with self._removing:
            self._removing.wait_for(lambda: self._pending_removals == 0, timeout=60.0)

    def pool_state(self) -> dict[str, int]:
        """Warm containers waiting, containers alive, and the pool's counters so far."""
        with self._lock:
            live = len(self._live)
        return {"warm_idle": len(self._pool.idle()), "live": live, **self.stats}

    def resident(self) -> list[tuple[str, list[int]]]:
        """``(container id, supervisor fds)`` of every container alive now.

        The docker SDK also keeps connections to the engine open (unix stream sockets);
        they are the SDK's and not listed here.
        """
        with self._lock:
            return [(c.id, c.fds()) for c in self._live]

    def stray_containers(self) -> list[str]:
        """Ids of containers this backend made that are neither in use nor in the pool
        (there should be none once :meth:`quiesce` returned).

        Raises:
            BackendUnavailable: the engine is unreachable.
        """
        import docker.errors

        from codeeval.sandbox.docker.container import OWNER_LABEL

        try:
            found = self.client.containers.list(
                all=True, filters={"label": f"{OWNER_LABEL}={self.owner}"})
        except docker.errors.DockerException as e:
            raise docker_error(e, "listing containers") from e
        with self._lock:
            live = {c.id for c in self._live}
        return [c.id for c in found if c.id not in live]

    # ------------------------------------------------------------------ internals
    def _create(self, key: PoolKey) -> Container:
        container = Container.create(self.client, key, agent_dir=self._agent_dir,
                                     ctl_root=self._dir, owner=self.owner)
        with self._lock:
            self.stats["created"] += 1
            self._live.add(container)
        return container

    def _remove(self, container: Container) -> None:
        container.remove()
        with self._lock:
            self._live.discard(container)

    def _discard(self, container: Container) -> None:
        """Remove a container that misbehaved or broke (in the background)."""
        if container.alive:
            with self._lock:
                self.stats["discarded"] += 1
        container.alive = False
        self._remove_later(container)

    def _release(self, container: Container, reusable: bool) -> None:
        """A run in ``container`` ended: back to the pool, or away (and top the pool up)."""
        with self._lock:
            self._in_use[container.key] = in_use = self._in_use.get(container.key, 1) - 1
        if reusable and container.alive and not self._closed and \
                self._pool.put(container.key, container):
            return
        if reusable:
            container.alive = False
            self._remove_later(container)
        else:
            self._discard(container)
            self._pool.refill(container.key, in_use)

    def _remove_later(self, container: Container) -> None:
        def remove() -> None:
            try:
                self._remove(container)
            finally:
                with self._removing:
                    self._pending_removals -= 1
                    self._removing.notify_all()

        with self._removing:
            self._pending_removals += 1
        try:
            self._remover.submit(remove)
        except RuntimeError:  # shut down: remove in this thread
            remove()

    def _launch(self, container: Container, job: Job) -> SandboxProcess:
        pipes = Pipes(job.channel)
        env = dict(container.env)
        env.update({"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": WORKDIR, "TMPDIR": "/tmp",
                    "PWD": WORKDIR, **thread_env(job.limits)})
        env.update(job.env)
        io = [*pipes.child_stdio, *pipes.child_pass_fds]
        if job.channel:
            env[CHANNEL_ENV] = "3,4"  # the agent moves the channel's ends to fds 3 and 4
        limits = rlimits(job.limits, nproc=False, address_space=address_space_limit(
            job.limits, cgroup=True) if job.limit_address_space else None)
        files = list(job.files.items())
        header = {"argv": self._argv(job), "env": env,
                  "rlimits": [[r, s, h] for r, (s, h) in limits.items()],
                  "files": [[n, len(f.content), f.executable] for n, f in files],
                  "seccomp": len(self._bpf), "outputs": list(job.outputs),
                  "max_output": job.limits.file_size_mb << 20}
        payload = (json.dumps(header).encode() + b"\n" + b"".join(f.content for _, f in files)
                   + self._bpf)
        job_fd = memfd_with(payload)
        try:
            cpu0 = container.cpu_s()
            oom0 = container.oom_kills()
            container.send({"op": "run"}, [job_fd, *io])
        except BaseException:
            pipes.close_all()
            raise
        finally:
            os.close(job_fd)
        pipes.close_child_ends()
        try:
            reply, fds = recv(container.conn, timeout_s=_START_TIMEOUT_S)
        except BaseException:
            pipes.close_all()
            raise
        for fd in fds:
            os.close(fd)
        if reply is None or reply.get("ev") != "started":
            pipes.close_all()
            why = "the agent hung up" if reply is None else reply.get("error", reply)
            raise SandboxCrashed(f"container {container.id[:12]}: run did not start: {why}")
        container.runs += 1
        with self._lock:
            self.stats["runs"] += 1
        tree = ContainerTree(self, container, cpu0, oom0)
        return pipes.supervise(tree, limits=job.limits, stdin_data=job.stdin,
                               outputs=job.outputs)

    @staticmethod
    def _argv(job: Job) -> list[str]:
        """The job's command, with the host's sandbox interpreter named as the image's."""
        from codeeval.languages.registry import python_interpreter

        argv = list(job.command)
        with contextlib.suppress(BackendUnavailable):
            if argv[0] == python_interpreter():
                argv[0] = "python3"
        return argv


class ContainerTree(ProcessTree):
    """Host-side state of one run in a pooled container."""

    def __init__(self, backend: DockerBackend, container: Container, cpu0: float | None,
                 oom0: int | None) -> None:
        self.backend = backend
        self.container = container
        self.pid = -1
        self._cpu0 = cpu0
        self._oom0 = oom0
        self._killed = False
        self._misbehaved = False
        self._exit: dict[str, Any] | None = None
        self._outputs_fd: int | None = None
        self._done = False

    def note_kill(self, reason: KillReason) -> None:
        # A run stopped at a limit misbehaved; one the caller no longer needs (the harness
        # stops at a sample's first failing test) did not.
        if reason is not KillReason.REQUESTED:
            self._misbehaved = True

    def kill(self) -> None:
        if self.ended or self._killed or not self.container.alive:
            return
        self._killed = True
        with contextlib.suppress(SandboxCrashed):
            self.container.send({"op": "kill"})

    def cpu_time_s(self) -> float | None:
        if self._exit is not None and self._exit.get("final_cpu") is not None:
            return float(self._exit["final_cpu"])
        now = self.container.cpu_s()
        if now is None or self._cpu0 is None:
            return None
        return max(0.0, now - self._cpu0)

    def memory(self) -> tuple[int | None, bool]:
        if self._exit is None:
            return None, False
        peak = self._exit.get("maxrss")
        return (int(peak) if peak is not None else None), bool(self._exit.get("oom"))

    def exit_fd(self) -> int | None:
        return os.dup(self.container.conn.fileno())

    def wait_exit(self, block: bool) -> tuple[int, Any] | None:
        if not block:
            import select

            ready, _, _ = select.select([self.container.conn], [], [], 0)
            if not ready:
                return None
        message, fds = recv(self.container.conn, timeout_s=None)
        if message is None or message.get("ev") != "exit":
            for fd in fds:
                os.close(fd)
            self.backend._release(self.container, False)
            self._done = True
            raise SandboxCrashed(f"container {self.container.id[:12]}: the agent "
                                 f"{'died' if message is None else 'broke protocol'} mid-run")
        self._outputs_fd = fds[0] if fds else None
        for fd in fds[1:]:
            os.close(fd)
        cpu = self.container.cpu_s()
        if cpu is not None and self._cpu0 is not None:
            message["final_cpu"] = max(cpu - self._cpu0, float(message.get("cpu") or 0.0))
        oom = self.container.oom_kills()
        message["oom"] = oom is not None and self._oom0 is not None and oom > self._oom0
        self._exit = message
        return int(message["status"]), None

    def cleanup(self, outputs: tuple[str, ...], max_bytes: int) -> dict[str, bytes]:
        if self._done:
            return {}
        self._done = True
        files: dict[str, bytes] = {}
        if self._outputs_fd is not None:
            with os.fdopen(self._outputs_fd, "rb") as f:
                self._outputs_fd = None
                for name, size in (self._exit or {}).get("outputs", []):
                    data = f.read(int(size))
                    if len(data) <= max_bytes:
                        files[str(name)] = data
        container = self.container
        try:
            clean, fds = recv(container.conn, timeout_s=_CLEAN_TIMEOUT_S)
        except SandboxCrashed:
            self.backend._release(container, False)
            raise
        for fd in fds:
            os.close(fd)
        if clean is None or clean.get("ev") != "clean":
            self.backend._release(container, False)
            raise SandboxCrashed(f"container {container.id[:12]}: the agent did not confirm "
                                 "its cleanup")
        behaved = (not self._misbehaved and not (self._exit or {}).get("oom")
                   and not (self._exit or {}).get("leftover"))
        self.backend._release(container, bool(clean.get("ok")) and behaved)
        return files


def _shutdown(pool: PrespawnPool[PoolKey, Container], live: set[Container],
              remover: ThreadPoolExecutor, directory: Path, client: Any) -> None:
    pool.close()
    remover.shutdown(wait=True)
    for container in list(live):
        if not container.runs or not container.alive:
            container.remove()
    live.clear()
    shutil.rmtree(directory, ignore_errors=True)
    if client is not None:
        with contextlib.suppress(Exception):
            client.close()

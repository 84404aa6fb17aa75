"""One pooled container: how it is made, the connection to its agent, how it goes away.

A container is created with everything a run needs fixed at the container level (network
none, read-only root, size-capped tmpfs, pids and memory limits, all capabilities dropped,
no-new-privileges, a non-root user, ulimits) and runs :mod:`.agent` as PID 1. The agent
connects back over a unix socket in a per-container host directory, bind-mounted
read-only; the supervisor accepts that one connection and unlinks the socket, so the
program later sees an empty read-only directory and cannot reach the agent itself.

Docker's errors are translated here, at the boundary: an unreachable engine or a missing
image is :class:`~codeeval.errors.BackendUnavailable`, anything else that breaks a
container is :class:`~codeeval.errors.SandboxCrashed` (an infra error, retried).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import select
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeeval.errors import BackendUnavailable, SandboxCrashed
from codeeval.sandbox import runid
from codeeval.sandbox.namespace import cgroups

#: The uid and gid programs (and the agent) run as inside containers.
SANDBOX_USER = "65532:65532"
#: Label on every container the docker backend makes; its value is the owner's run id.
OWNER_LABEL = "codeeval.owner"
#: Memory the agent itself may use on top of a run's limit.
AGENT_MB = 32
_AGENT_ARGV = ["python3", "-I", "-S", "/opt/codeeval/agent.py", "/run/codeeval/agent.sock"]
_MAX_FDS = 8
_counter = itertools.count()


@dataclass(frozen=True, slots=True)
class PoolKey:
    """What a container fixes for every run it serves: the image and container limits."""

    image: str
    memory_mb: int
    processes: int
    scratch_mb: int
    cpus: float | None
    open_files: int


def docker_error(e: BaseException, what: str) -> Exception:
    """Translate an exception of the docker SDK into codeeval's tree."""
    import docker.errors

    if isinstance(e, docker.errors.ImageNotFound):
        return BackendUnavailable(f"{what}: image not found ({e.explanation}); build it with "
                                  "`codeeval images build` or scripts/build_images.sh")
    if isinstance(e, docker.errors.APIError):
        return SandboxCrashed(f"{what}: Docker engine error: {e.explanation or e}")
    return BackendUnavailable(f"{what}: Docker engine not reachable ({e}); start dockerd, "
                              "or set DOCKER_HOST")


class Container:
    """A started container whose agent is connected and idle (or serving one run)."""

    def __init__(self, key: PoolKey, container: Any, conn: socket.socket, ctl_dir: Path,
                 hello: dict[str, Any]) -> None:
        self.key = key
        self.container = container
        self.id: str = container.id
        self.conn = conn
        self.ctl_dir = ctl_dir
        self.env: dict[str, str] = {str(k): str(v) for k, v in hello.get("env", {}).items()}
        self.runs = 0
        self.alive = True
        self._cpu_fd: int | None = None
        self._cpu_version = 0
        self._oom_fd: int | None = None

    @classmethod
    def create(cls, client: Any, key: PoolKey, *, agent_dir: Path, ctl_root: Path,
               owner: str) -> Container:
        """Create and start a container for ``key`` and wait for its agent.

        Raises:
            BackendUnavailable: the engine is unreachable or the image is missing.
            SandboxCrashed: the container or its agent did not come up.
        """
        import docker.errors
        from docker.types import Mount, Ulimit

        ctl_dir = ctl_root / f"c{next(_counter)}"
        ctl_dir.mkdir(mode=0o755)
        os.chmod(ctl_dir, 0o755)
        sock_path = ctl_dir / "agent.sock"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        container = None
        try:
            listener.bind(str(sock_path))
            os.chmod(sock_path, 0o666)
            listener.listen(1)
            scratch = f"rw,exec,nosuid,nodev,size={key.scratch_mb}m"
            uid, gid = SANDBOX_USER.split(":")
            try:
                # create + start rather than run: run would try to pull a missing image.
                container = client.containers.create(
                    key.image, _AGENT_ARGV, user=SANDBOX_USER,
                    network_mode="none", read_only=True, working_dir="/",
                    # The container's own cgroup files are hidden too (the host reads them).
                    tmpfs={"/tmp": scratch + ",mode=1777",
                           "/box": scratch + f",mode=755,uid={uid},gid={gid}",
                           "/sys/fs/cgroup": "ro,nosuid,nodev,noexec,size=4k"},
                    shm_size=key.scratch_mb << 20,
                    mem_limit=(key.memory_mb + AGENT_MB) << 20,
                    memswap_limit=(key.memory_mb + AGENT_MB) << 20,
                    pids_limit=key.processes + 1,  # the agent is one of them
                    nano_cpus=int(key.cpus * 1e9) if key.cpus else None,
                    cap_drop=["ALL"], security_opt=["no-new-privileges"],
                    ulimits=[Ulimit(name="core", soft=0, hard=0),
                             Ulimit(name="nofile", soft=max(key.open_files, 64),
                                    hard=max(key.open_files, 64))],
                    mounts=[Mount("/opt/codeeval", str(agent_dir), type="bind", read_only=True),
                            Mount("/run/codeeval", str(ctl_dir), type="bind", read_only=True)],
                    hostname="sandbox", labels={OWNER_LABEL: owner}, environment={},
                    stop_signal="SIGKILL")
                container.start()
            except docker.errors.DockerException as e:
                raise docker_error(e, f"starting a container of {key.image}") from e
            ready, _, _ = select.select([listener], [], [], 30.0)
            if not ready:
                raise SandboxCrashed(f"the agent of a {key.image} container did not connect "
                                     f"within 30 s: {_logs(container)}")
            conn, _ = listener.accept()
            conn.set_inheritable(False)
            hello, fds = recv(conn, timeout_s=10.0)
            for fd in fds:
                os.close(fd)
            if hello is None or hello.get("ev") != "hello":
                conn.close()
                raise SandboxCrashed(f"the agent of a {key.image} container sent no greeting: "
                                     f"{_logs(container)}")
        except BaseException:
            listener.close()
            if container is not None:
                with contextlib.suppress(Exception):
                    container.remove(force=True)
            shutil.rmtree(ctl_dir, ignore_errors=True)
            raise
        listener.close()
        sock_path.unlink()
        made = cls(key, container, conn, ctl_dir, hello)
        with contextlib.suppress(Exception):  # best effort: without it, wall limits only
            container.reload()
            made._attach_cgroup(int(container.attrs["State"]["Pid"]))
        return made

    def _attach_cgroup(self, pid: int) -> None:
        """Open the CPU and OOM counters of the container's cgroup (``pid`` is its init's
        host pid), and lower its memory limit to the run's limit plus what the idle agent
        uses now, so that a program gets its limit, not the agent's headroom as well."""
        found = cgroups.cpu_usage_file(pid)
        if found is not None:
            self._cpu_fd = os.open(found[0], os.O_RDONLY | os.O_CLOEXEC)
            self._cpu_version = found[1]
        found = cgroups.oom_events_file(pid)
        if found is not None:
            self._oom_fd = os.open(found[0], os.O_RDONLY | os.O_CLOEXEC)
        found = cgroups.process_cgroup_file(pid, "memory", "memory.usage_in_bytes",
                                            "memory.current")
        if found is None:
            return
        limit = (self.key.memory_mb << 20) + int(found[0].read_text()) + (1 << 20)
        if limit < (self.key.memory_mb + AGENT_MB) << 20:
            self.container.update(mem_limit=limit, memswap_limit=limit)

    def oom_kills(self) -> int | None:
        """OOM kills in the container so far (``None`` when its cgroup is not visible)."""
        return None if self._oom_fd is None else cgroups.read_oom_kills(self._oom_fd)

    def fds(self) -> list[int]:
        """The supervisor's fds that belong to this container."""
        fds = [self.conn.fileno()] if self.alive else []
        return fds + [fd for fd in (self._cpu_fd, self._oom_fd) if fd is not None]

    def cpu_s(self) -> float | None:
        """CPU time of the whole container so far (``None`` when its cgroup is not visible)."""
        if self._cpu_fd is None:
            return None
        return cgroups.read_cpu_usage(self._cpu_fd, self._cpu_version)

    def send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        """Send one message to the agent.

        Raises:
            SandboxCrashed: the agent's connection is gone.
        """
        data = json.dumps(message).encode()
        try:
            if fds:
                socket.send_fds(self.conn, [data], fds)
            else:
                self.conn.send(data)
        except OSError as e:
            self.alive = False
            raise SandboxCrashed(f"container {self.id[:12]}: agent unreachable: {e}") from e

    def remove(self) -> None:
        """Stop and delete the container and its control directory. Never raises."""
        self.alive = False
        with contextlib.suppress(OSError):
            self.conn.close()
        for fd in (self._cpu_fd, self._oom_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._cpu_fd = self._oom_fd = None
        with contextlib.suppress(Exception):
            self.container.remove(force=True)
        shutil.rmtree(self.ctl_dir, ignore_errors=True)


def recv(conn: socket.socket, *,
         timeout_s: float | None) -> tuple[dict[str, Any] | None, list[int]]:
    """One message from an agent: ``(message or None at end of stream, fds)``.

    Raises:
        SandboxCrashed: nothing arrived within ``timeout_s``, or the message is garbage.
    """
    if timeout_s is not None:
        ready, _, _ = select.select([conn], [], [], timeout_s)
        if not ready:
            raise SandboxCrashed(f"the container's agent did not answer within {timeout_s:g} s")
    try:
        data, fds, _, _ = socket.recv_fds(conn, 1 << 16, _MAX_FDS)
    except OSError as e:
        raise SandboxCrashed(f"reading from the container's agent failed: {e}") from e
    if not data:
        for fd in fds:
            os.close(fd)
        return None, []
    try:
        message = json.loads(data)
    except ValueError as e:
        for fd in fds:
            os.close(fd)
        raise SandboxCrashed(f"the container's agent sent garbage: {data[:100]!r}") from e
    if not isinstance(message, dict):
        raise SandboxCrashed(f"the container's agent sent {message!r}")
    return message, fds


def _logs(container: Any) -> str:
    with contextlib.suppress(Exception):
        container.reload()
        state = container.attrs.get("State", {})
        tail = container.logs(tail=20).decode("utf-8", "replace").strip()
        return f"state {state.get('Status')}, exit {state.get('ExitCode')}; log: {tail[-800:]}"
    return "no log"


def sweep(client: Any) -> list[str]:
    """Remove containers whose owning supervisor process is gone; return their ids.

    Raises:
        BackendUnavailable: the engine is unreachable.
    """
    import docker.errors

    removed = []
    try:
        found = client.containers.list(all=True, filters={"label": OWNER_LABEL})
    except docker.errors.DockerException as e:
        raise docker_error(e, "listing containers") from e
    for c in found:
        if runid.is_stale(c.labels.get(OWNER_LABEL, "")):
            with contextlib.suppress(docker.errors.DockerException):
                c.remove(force=True)
                removed.append(c.id)
    return removed

"""Fixtures of the sandbox conformance suite: one backend per parameter, leak checks, report.

Every run made through :class:`Runner` carries a unique environment token. After each run
the leak check asserts, by reading every process's environment on the host (we run as
root in CI), that no process with that token is alive; that no process runs under a
sandbox uid; that the run's cgroups, scratch directories and mounts are gone; and that the
supervisor holds no more file descriptors than before.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from codeeval import config
from codeeval.errors import BackendUnavailable
from codeeval.languages.registry import PYTHON, python_interpreter
from codeeval.model.run import FileSpec, Job, Limits, RunResult
from codeeval.sandbox import Backend, open_backend
from codeeval.sandbox.docker import DockerBackend
from codeeval.sandbox.namespace import NamespaceBackend, live_backends

REPORT: list[tuple[str, str, str, str]] = []
TOKEN_VAR = "CODEEVAL_CONFORMANCE_TOKEN"
_backends: dict[str, Backend | str] = {}


def _backend(name: str) -> Backend:
    if name == "forkserver":
        # The namespace backend's fork server: the same backend, with Python jobs of the
        # form it serves (``python -S -B main.py``; see Runner).
        b = _backend("namespace")
        if not (isinstance(b, NamespaceBackend) and b.forkserver_enabled):
            pytest.skip("the namespace backend has no fork server here (it needs root and "
                        "cgroups)")
        return b
    if name not in _backends:
        try:
            _backends[name] = open_backend(name)
            if isinstance(_backends[name], DockerBackend):
                _backends[name].image_for("python")  # type: ignore[union-attr]
        except BackendUnavailable as e:
            _backends[name] = str(e)
    b = _backends[name]
    if isinstance(b, str):
        pytest.skip(f"{name} backend unavailable here: {b}")
    return b


@pytest.fixture(params=["namespace", "forkserver", "local",
                        pytest.param("docker", marks=pytest.mark.docker)])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each backend in turn (skipped with the reason when it cannot run here);
    ``forkserver`` is the namespace backend running Python through its fork server."""
    return _backend(request.param)


@pytest.fixture
def docker_backend() -> DockerBackend:
    """The docker backend only (skipped with the reason when no engine or image is here)."""
    b = _backend("docker")
    assert isinstance(b, DockerBackend)
    with contextlib.suppress(BackendUnavailable):
        b.image_for("python")
        return b
    pytest.skip("no codeeval python image: build it with scripts/build_images.sh python")


@pytest.fixture
def namespace_backend() -> Backend:
    """The namespace backend only."""
    return _backend("namespace")


def require(backend: Backend, capability: str) -> None:
    """Skip unless ``backend`` has ``capability`` (the reason names what is missing)."""
    if capability not in backend.capabilities:
        pytest.skip(f"the {backend.name} backend does not provide {capability!r} here "
                    f"({backend.describe()})")


def _processes_with_token(token: str) -> list[int]:
    needle = f"{TOKEN_VAR}={token}".encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError), open(f"/proc/{entry.name}/environ", "rb") as f:
            if needle in f.read():
                found.append(int(entry.name))
    return found


def _processes_with_uids(uids: set[int]) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError), open(f"/proc/{entry.name}/status") as f:
            for line in f:
                if line.startswith("Uid:"):
                    if any(int(u) in uids for u in line.split()[1:]):
                        found.append(int(entry.name))
                    break
    return found


def live_processes_of(uid: int) -> list[tuple[int, int]]:
    """``(pid, parent pid)`` of every live process (zombies aside) running under ``uid``."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status") as f:
                fields = dict(line.split(":", 1) for line in f.read().splitlines()
                              if ":" in line)
        except OSError:
            continue
        if (int(fields["Uid"].split()[0]) == uid
                and not fields["State"].strip().startswith("Z")):
            found.append((int(entry.name), int(fields["PPid"])))
    return found


def _our_zombies() -> list[int]:
    """Dead children of this process that nobody reaped (the supervisor must reap them all)."""
    found = []
    me = str(os.getpid()).encode()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry.name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
                if fields[0] == b"Z" and fields[1] == me:
                    found.append(int(entry.name))
    return found


def _unix_stream_sockets(fds: set[str]) -> set[str]:
    """Those of ``fds`` (names in /proc/self/fd) that are unix stream sockets."""
    inodes: dict[str, str] = {}
    for fd in fds:
        with contextlib.suppress(OSError):
            link = os.readlink(f"/proc/self/fd/{fd}")
            if link.startswith("socket:["):
                inodes[link[8:-1]] = fd
    found = set()
    with open("/proc/net/unix", encoding="ascii") as f:
        next(f)
        for line in f:
            fields = line.split()
            if len(fields) >= 7 and fields[6] in inodes and fields[4] == "0001":
                found.add(inodes[fields[6]])
    return found


def _leftovers(backend: Backend) -> list[str]:
    left: list[str] = [f"unreaped zombie {pid}" for pid in _our_zombies()]
    if isinstance(backend, DockerBackend):
        # Containers in the pool (idle or reusable) are alive on purpose; every other
        # container this backend made must be gone.
        backend.quiesce()
        left += [f"container {c} not removed" for c in backend.stray_containers()]
    if isinstance(backend, NamespaceBackend):
        # Sandboxes pre-spawned for later runs are alive on purpose; everything else of
        # ours must be gone.
        idle = []
        for live in live_backends():
            live.quiesce()
            idle += live.idle_runs()
            idle += [(run_id, -1, fds) for run_id, fds in live.resident()]
        idle_ids = {run_id for run_id, _, _ in idle}
        idle_uids = {uid for _, uid, _ in idle}

        def ours(name: str) -> bool:
            return name.startswith(f"run-{os.getpid()}-") and name not in idle_ids

        if backend.scratch.is_dir():
            left += [f"scratch dir {p}" for p in backend.scratch.iterdir() if ours(p.name)]
        if backend.cgroup_host is not None:
            for parent in backend.cgroup_host.parents.values():
                left += [f"cgroup {p}" for p in parent.iterdir() if ours(p.name)]
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            for line in f:
                point = line.split()[4]
                if point.startswith(str(backend.scratch)) and ours(Path(point).parent.name):
                    left.append(f"mount {point}")
        s = config.settings()
        if os.geteuid() == 0:
            uids = [u for u in range(s.uid_base, s.uid_base + s.uid_slots) if u not in idle_uids]
            left += [f"process {p} under a sandbox uid" for p in _processes_with_uids(set(uids))]
    return left


@dataclass
class Runner:
    """Runs Python source on a backend and checks that the run left nothing behind."""

    backend: Backend
    test_name: str
    leaks: list[str] = field(default_factory=list)
    #: Run Python as ``python -S -B`` with the language's environment, the form of job the
    #: namespace backend's fork server serves (and check that it did).
    forkserver: bool = False

    def run(self, code: str, *, stdin: bytes = b"", env: dict[str, str] | None = None,
            outputs: tuple[str, ...] = (), files: dict[str, bytes] | None = None,
            **limits: object) -> RunResult:
        token = uuid.uuid4().hex
        fds_before = set(os.listdir("/proc/self/fd"))
        all_files = {PYTHON.source_name: FileSpec(code.encode())}
        all_files.update({k: FileSpec(v) for k, v in (files or {}).items()})
        lim = {"time_s": 1.0, "memory_mb": 256, "stdout_bytes": 1 << 20,
               "stderr_bytes": 1 << 20, "processes": 32, "open_files": 64, "scratch_mb": 16}
        lim.update(limits)  # type: ignore[arg-type]
        command = PYTHON.substitute(PYTHON.run)
        job_env = {TOKEN_VAR: token, **(env or {})}
        if self.forkserver:
            command = (python_interpreter(), "-S", "-B", PYTHON.source_name)
            job_env = {**dict(PYTHON.env), **job_env}
        job = Job(command=command, files=all_files, stdin=stdin,
                  env=job_env, limits=Limits(**lim),  # type: ignore[arg-type]
                  outputs=outputs, runtime_paths=PYTHON.runtime_paths())
        served = self.backend.forkserver_runs if self.forkserver else 0  # type: ignore[attr-defined]
        result = self.backend.run(job)
        if self.forkserver and not outputs:
            assert self.backend.forkserver_runs == served + 1, "not run by the fork server"  # type: ignore[attr-defined]
        self.check_leaks(token, fds_before)
        REPORT.append((self.test_name, "forkserver" if self.forkserver else self.backend.name,
                       result.status.value,
                       "clean" if not self.leaks else "; ".join(self.leaks)))
        return result

    def check_leaks(self, token: str, fds_before: set[str]) -> None:
        # The local backend kills by process group without waiting for the kernel to
        # finish; poll briefly (never a fixed sleep) before calling it a leak.
        deadline = time.monotonic() + 3.0
        while True:
            leaks = [f"process {p} of the run still alive" for p in _processes_with_token(token)]
            leaks += _leftovers(self.backend)
            if not leaks or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        fds_after = set(os.listdir("/proc/self/fd"))
        fds_after -= {str(fd) for b in live_backends() for _, _, fds in b.idle_runs()
                      for fd in fds}
        fds_after -= {str(fd) for b in live_backends() for _, fds in b.resident() for fd in fds}
        if isinstance(self.backend, DockerBackend):
            fds_after -= {str(fd) for _, fds in self.backend.resident() for fd in fds}
            # The docker SDK keeps HTTP connections to the engine (unix stream sockets) open
            # across calls; the backend's own sockets to its agents are seqpacket.
            fds_after -= _unix_stream_sockets(fds_after - fds_before)
        # listdir itself opens one fd; compare the sets minus that transient one.
        extra = {fd for fd in fds_after - fds_before if os.path.exists(f"/proc/self/fd/{fd}")}
        if len(extra) > 0:
            leaks.append(f"supervisor fds leaked: {sorted(extra)}")
        self.leaks = leaks


@pytest.fixture
def runner(backend: Backend, request: pytest.FixtureRequest) -> Iterator[Runner]:
    """A :class:`Runner` whose runs must leave nothing behind."""
    label = request.node.callspec.params.get("backend", backend.name)
    name = request.node.name.replace(f"[{label}-", "[").replace(f"[{label}]", "")
    r = Runner(backend, name, forkserver=label == "forkserver")
    yield r
    assert not r.leaks, f"run left things behind: {r.leaks}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not REPORT:
        return
    tr = terminalreporter
    tr.section("sandbox conformance: verdict and leak check per hostile program")
    width = max(len(r[0]) for r in REPORT)
    for name, backend, status, leaks in REPORT:
        tr.write_line(f"{name:<{width}}  {backend:<9}  {status:<4}  {leaks}")


def host_path_probe() -> Path:
    """A directory of the host that must not be visible inside a sandbox."""
    return Path(__file__).resolve().parents[2]

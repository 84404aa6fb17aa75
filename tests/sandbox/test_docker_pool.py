"""The docker backend's warm pool: reuse without carry-over, discard after misbehaviour,
the agent's own safety, the sweeper, and errors at the Docker boundary."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Iterator

import pytest

from codeeval import config
from codeeval.errors import BackendUnavailable
from codeeval.model.run import FileSpec, Job, Limits, RunResult, RunStatus
from codeeval.sandbox.docker import DockerBackend
from codeeval.sandbox.docker.container import OWNER_LABEL, Container, PoolKey, sweep
from tests.sandbox.test_hostile import src

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def pool() -> Iterator[DockerBackend]:
    """A docker backend that keeps one warm container, so consecutive runs share it."""
    settings = dataclasses.replace(config.settings(), docker_pool=1)
    try:
        backend = DockerBackend(settings)
        backend.image_for("python")
    except BackendUnavailable as e:
        pytest.skip(f"docker backend unavailable here: {e}")
    yield backend
    backend.close()


def run(backend: DockerBackend, code: str, **limits: object) -> RunResult:
    lim: dict[str, object] = {"time_s": 2.0, "memory_mb": 128, "processes": 16}
    lim.update(limits)
    return backend.run(Job(command=("python3", "-B", "main.py"),
                           files={"main.py": FileSpec(code.encode())},
                           limits=Limits(**lim)))  # type: ignore[arg-type]


CONTAINER_ID = """\
import re
print("CID", re.findall(r"[0-9a-f]{64}", open("/proc/self/cgroup").read())[:1])
"""


def container_of(result: RunResult) -> str:
    for line in result.stdout.decode().splitlines():
        if line.startswith("CID"):
            return line
    raise AssertionError(f"no container id in {result.stdout!r}")


def test_no_state_crosses_from_one_run_to_the_next(pool: DockerBackend) -> None:
    first = run(pool, CONTAINER_ID + src("""
        import os, subprocess
        for d in ("/box", "/tmp", "/dev/shm"):
            with open(d + "/left-behind", "w") as f:
                f.write("secret")
            os.makedirs(d + "/locked/deeper")
            open(d + "/locked/deeper/x", "w").close()
            os.chmod(d + "/locked", 0)
        os.environ["LEAK"] = "1"
        os.putenv("LEAK", "1")
        os.symlink("/etc/passwd", "/tmp/link")
    """))
    assert first.status is RunStatus.OK, first
    reused_before = pool.stats["reused"]
    second = run(pool, CONTAINER_ID + src("""
        import os
        print("files", sorted(os.listdir("/box")), os.listdir("/tmp"), os.listdir("/dev/shm"))
        print("env", "LEAK" in os.environ)
        others = [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid())]
        print("procs", others)
    """))
    assert second.status is RunStatus.OK, second
    assert pool.stats["reused"] == reused_before + 1
    assert container_of(first) == container_of(second), "the warm container was not reused"
    lines = second.stdout.decode().splitlines()
    assert "files ['main.py'] [] []" in lines
    assert "env False" in lines
    assert "procs []" in lines


def test_process_left_behind_discards_the_container(pool: DockerBackend) -> None:
    discarded = pool.stats["discarded"]
    first = run(pool, CONTAINER_ID + src("""
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(1000)
            os._exit(0)
    """))
    assert first.status is RunStatus.OK, first
    second = run(pool, CONTAINER_ID + src("""
        import os
        print("procs", [p for p in os.listdir("/proc") if p.isdigit() and p != "1"
                        and int(p) != os.getpid()])
    """))
    assert pool.stats["discarded"] == discarded + 1
    assert container_of(first) != container_of(second)
    assert "procs []" in second.stdout.decode()


@pytest.mark.parametrize(("code", "status"), [
    ("while True: pass", RunStatus.TLE),
    ("x = bytearray(1 << 30)", RunStatus.MLE),
    ("import sys\nwhile True: sys.stdout.write('x' * 65536)", RunStatus.OLE),
])
def test_misbehaving_run_discards_the_container(pool: DockerBackend, code: str,
                                                status: RunStatus) -> None:
    discarded = pool.stats["discarded"]
    first = run(pool, CONTAINER_ID + "import sys; sys.stdout.flush()\n" + code,
                time_s=0.5, stdout_bytes=1 << 20)
    assert first.status is status, first
    second = run(pool, CONTAINER_ID)
    assert second.status is RunStatus.OK
    assert pool.stats["discarded"] == discarded + 1
    assert container_of(first) != container_of(second)


def test_program_cannot_kill_trace_or_reach_the_agent(pool: DockerBackend) -> None:
    discarded = pool.stats["discarded"]
    r = run(pool, CONTAINER_ID + src("""
        import os, signal
        for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGSTOP):
            try:
                os.kill(1, sig)
                print("sent", sig.name)
            except OSError as e:
                print("refused", sig.name, e.errno)
        for path in ("/proc/1/mem", "/proc/1/fd/3", "/proc/1/environ"):
            try:
                open(path, "rb").close()
                print("opened", path)
            except OSError as e:
                print("denied", path)
        print("ctl", os.listdir("/run/codeeval"), os.access("/run/codeeval", os.W_OK))
        print("cgroup", os.listdir("/sys/fs/cgroup"))
    """))
    assert r.status is RunStatus.OK, r
    out = r.stdout.decode()
    assert "denied /proc/1/mem" in out
    assert "denied /proc/1/fd/3" in out
    assert "ctl [] False" in out
    assert "cgroup []" in out
    # Signals to PID 1 from inside its namespace are dropped: the agent answered for the
    # cleanup, the run counted as clean (the container was not discarded), and it serves on.
    assert pool.stats["discarded"] == discarded
    after = run(pool, CONTAINER_ID)
    assert after.status is RunStatus.OK


def test_run_that_cannot_start_is_an_infra_error(pool: DockerBackend) -> None:
    from codeeval.errors import SandboxCrashed

    with pytest.raises(SandboxCrashed, match="cannot start"):
        pool.run(Job(command=("no-such-runtime", "main.x")))
    assert run(pool, "print('still fine')").stdout == b"still fine\n"


def test_outputs_are_copied_out_refusing_symlinks(pool: DockerBackend) -> None:
    r = pool.run(Job(command=("python3", "-c", src("""
        import os
        open("out.bin", "wb").write(bytes(range(256)))
        os.symlink("/etc/passwd", "link")
    """)), outputs=("out.bin", "link", "missing")))
    assert r.status is RunStatus.OK, r
    assert r.files == {"out.bin": bytes(range(256))}


def test_sweeper_removes_containers_of_a_dead_supervisor(pool: DockerBackend) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, check=True, text=True)
    owner = f"run-{int(dead.stdout)}-0"
    key = PoolKey(pool.image_for("python"), 64, 8, 8, 1.0, 64)
    ctl = pool._dir / "sweep-test"
    ctl.mkdir()
    orphan = Container.create(pool.client, key, agent_dir=pool._agent_dir, ctl_root=ctl,
                              owner=owner)
    try:
        assert orphan.container.labels[OWNER_LABEL] == owner
        removed = sweep(pool.client)
        assert orphan.id in removed
        assert not pool.client.containers.list(all=True, filters={"id": orphan.id})
        # The live backend's own containers are not the sweeper's business.
        for cid, _ in pool.resident():
            assert pool.client.containers.get(cid).status == "running"
    finally:
        orphan.remove()


def test_unreachable_engine_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(BackendUnavailable, match="not reachable"):
        DockerBackend(config.settings())

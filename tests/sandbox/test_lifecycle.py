"""Sandbox lifecycle: pre-spawned sandboxes serve one run each, and are always cleaned up.

Covers what the per-run leak checks cannot: state crossing from one run to the next,
``close()``, interpreter exit without ``close()``, and the sweeper after a supervisor was
SIGKILLed with sandboxes alive.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from codeeval import config
from codeeval.languages.registry import PYTHON
from codeeval.model.run import FileSpec, Job, Limits, RunStatus
from codeeval.sandbox.namespace import NamespaceBackend
from tests.sandbox.conftest import _backend

pytestmark = pytest.mark.conformance


def py_job(code: str, **env: str) -> Job:
    return Job(command=PYTHON.substitute(PYTHON.run), files={"main.py": FileSpec(code.encode())},
               env=env, limits=Limits(time_s=2, memory_mb=256),
               runtime_paths=PYTHON.runtime_paths())


def traces(run_ids: list[str], uids: list[int], scratch: Path) -> list[str]:
    """Everything of these runs still on the host: dirs, mounts, cgroups, processes."""
    found = [f"dir {scratch / r}" for r in run_ids if (scratch / r).exists()]
    mounts = Path("/proc/self/mountinfo").read_text()
    found += [f"mount of {r}" for r in run_ids if f"/{r}/work " in mounts]
    for root in Path("/sys/fs/cgroup").glob("*"):
        for r in run_ids:
            found += [f"cgroup {p}" for p in root.rglob(r)]
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                status = Path(f"/proc/{entry.name}/status").read_text()
            except OSError:
                continue
            uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
            if any(int(u) in uids for u in uid_line.split()[1:]):
                found.append(f"process {entry.name} (uid in {uids})")
    return found


def wait_clean(run_ids: list[str], uids: list[int], scratch: Path) -> list[str]:
    deadline = time.monotonic() + 5
    while (left := traces(run_ids, uids, scratch)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def test_no_state_crosses_from_one_run_to_the_next() -> None:
    backend = _backend("namespace")
    assert isinstance(backend, NamespaceBackend)
    first_job = py_job(textwrap.dedent("""
        import os, subprocess
        for path in ("/box/left.txt", "/tmp/left.txt", "/dev/shm/left.txt"):
            open(path, "w").write("x")
        os.environ["SECRET_OF_FIRST"] = "1"
        subprocess.Popen(["sleep", "60"], start_new_session=True)
        print(os.getuid())
    """))
    for _ in range(2):  # a shape that repeats gets sandboxes prepared for it
        assert backend.run(first_job).status is RunStatus.OK
    backend.quiesce()
    assert backend.idle_runs(), "the next run should be served by a pre-spawned sandbox"
    second = backend.run(py_job(textwrap.dedent("""
        import os
        left = [p for p in ("/box/left.txt", "/tmp/left.txt", "/dev/shm/left.txt")
                if os.path.exists(p)]
        procs = [p for p in os.listdir("/proc") if p.isdigit()]
        print(json.dumps({"left": left, "procs": len(procs), "env": sorted(os.environ),
                          "files": sorted(os.listdir("/box"))}))
    """).replace("import os", "import os, json")))
    assert second.status is RunStatus.OK, second
    seen = json.loads(second.stdout)
    assert seen["left"] == []
    assert seen["procs"] <= 2  # bwrap's init and this program
    assert seen["files"] == ["main.py"]
    # The base environment only: nothing the first runs set (SECRET_OF_FIRST).
    assert set(seen["env"]) == {"PATH", "LANG", "LC_ALL", "HOME", "TMPDIR", "PWD"}


def test_close_destroys_idle_sandboxes() -> None:
    _backend("namespace")
    settings = dataclasses.replace(config.settings(), prespawn=2)
    backend = NamespaceBackend(settings)
    for _ in range(2):
        assert backend.run(py_job("print(1)")).status is RunStatus.OK
    backend.quiesce()
    idle = backend.idle_runs()
    assert len(idle) == 2
    ids, uids = [r for r, _, _ in idle], [u for _, u, _ in idle]
    assert traces(ids, uids, backend.scratch)  # they are really there
    backend.close()
    assert backend.idle_runs() == []
    assert wait_clean(ids, uids, backend.scratch) == []


SCRIPT = textwrap.dedent("""
    import json, os, signal, sys
    from codeeval.sandbox.namespace import NamespaceBackend
    from codeeval.languages.registry import PYTHON
    from codeeval.model.run import FileSpec, Job, Limits
    b = NamespaceBackend()
    job = Job(command=PYTHON.substitute(PYTHON.run), files={"main.py": FileSpec(b"print(1)")},
              limits=Limits(time_s=2), runtime_paths=PYTHON.runtime_paths())
    for _ in range(2):
        assert b.run(job).stdout == b"1\\n"
    b.quiesce()
    print(json.dumps({"idle": [[r, u] for r, u, _ in b.idle_runs()], "scratch": str(b.scratch)}),
          flush=True)
    if sys.argv[1] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
""")


def run_script(mode: str) -> tuple[list[str], list[int], Path]:
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True,
                         timeout=120)
    data = json.loads(out.stdout.splitlines()[0])
    ids = [r for r, _ in data["idle"]]
    uids = [u for _, u in data["idle"]]
    assert ids, out
    return ids, uids, Path(data["scratch"])


def test_interpreter_exit_without_close_cleans_up() -> None:
    _backend("namespace")
    ids, uids, scratch = run_script("exit")
    assert wait_clean(ids, uids, scratch) == []


def test_sweeper_removes_what_a_killed_supervisor_left() -> None:
    _backend("namespace")
    ids, uids, scratch = run_script("kill")
    assert traces(ids, uids, scratch), "a SIGKILLed supervisor should leave its idle sandboxes"
    sweeper = NamespaceBackend(dataclasses.replace(config.settings(), prespawn=0))
    try:
        assert set(ids) <= set(sweeper.swept)
        assert wait_clean(ids, uids, scratch) == []
    finally:
        sweeper.close()


def test_concurrent_runs_from_many_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    backend = _backend("namespace")
    assert isinstance(backend, NamespaceBackend)

    def one(i: int) -> tuple[int, bytes, RunStatus]:
        r = backend.run(py_job(f"import os\nprint({i}, os.getuid())"))
        return i, r.stdout, r.status

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(one, range(24)))
    uids = set()
    for i, out, status in results:
        assert status is RunStatus.OK
        n, uid = out.split()
        assert int(n) == i
        uids.add(int(uid))
    assert len(uids) > 1  # concurrent runs got different uids
    backend.quiesce()
    idle = backend.idle_runs()
    s = config.settings()
    busy_uids = [u for u in range(s.uid_base, s.uid_base + s.uid_slots)
                 if u not in {uid for _, uid, _ in idle}]
    assert wait_clean([], busy_uids, backend.scratch) == []

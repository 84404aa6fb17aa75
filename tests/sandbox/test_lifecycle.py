"""Sandbox lifecycle: pre-spawned sandboxes and fork-server runs serve one run each, and
everything is always cleaned up.

Covers what the per-run leak checks cannot: state crossing from one run to the next (for
both ways a namespace run starts), ``close()``, interpreter exit without ``close()``, and
the sweeper after a supervisor was SIGKILLed with sandboxes alive.
"""

from __future__ import annotations

import contextlib
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
from codeeval.languages.registry import PYTHON, python_interpreter
from codeeval.model.run import FileSpec, Job, Limits, RunStatus
from codeeval.sandbox.namespace import NamespaceBackend
from codeeval.sandbox.rlimits import THREAD_VARIABLES
from tests.sandbox.conftest import _backend, _our_zombies, live_processes_of

pytestmark = pytest.mark.conformance


def py_job(code: str, *, forkserver: bool = False) -> Job:
    """A Python job; with ``forkserver``, of the form the fork server serves."""
    command = (python_interpreter(), "-S", "-B", "main.py") if forkserver \
        else PYTHON.substitute(PYTHON.run)
    return Job(command=command, files={"main.py": FileSpec(code.encode())},
               env=dict(PYTHON.env) if forkserver else {},
               limits=Limits(time_s=2, memory_mb=256), runtime_paths=PYTHON.runtime_paths())


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


def backend_with(*, forkserver: bool, prespawn: int = 2) -> NamespaceBackend:
    _backend("namespace")  # skips with the reason when the backend is unavailable here
    backend = NamespaceBackend(dataclasses.replace(config.settings(), forkserver=forkserver,
                                                   prespawn=prespawn))
    if forkserver and not backend.forkserver_enabled:
        backend.close()
        pytest.skip("the fork server needs root and cgroups")
    return backend


@pytest.mark.parametrize("forkserver", [False, True], ids=["prespawned", "forkserver"])
def test_no_state_crosses_from_one_run_to_the_next(forkserver: bool) -> None:
    backend = backend_with(forkserver=forkserver)
    first_job = py_job(textwrap.dedent("""
        import os, subprocess
        for path in ("/box/left.txt", "/tmp/left.txt", "/dev/shm/left.txt"):
            open(path, "w").write("x")
        os.environ["SECRET_OF_FIRST"] = "1"
        subprocess.Popen(["sleep", "60"], start_new_session=True)
        print(os.getuid())
    """), forkserver=forkserver)
    for _ in range(2):  # a shape that repeats gets sandboxes prepared for it
        first = backend.run(first_job)
        assert first.status is RunStatus.OK
    backend.quiesce()
    if forkserver:
        assert backend.resident(), "the runs should have gone through the fork server"
        assert backend.idle_runs() == []
    else:
        assert backend.idle_runs(), "the next run should be served by a pre-spawned sandbox"
    second = backend.run(py_job(textwrap.dedent("""
        import os
        left = [p for p in ("/box/left.txt", "/tmp/left.txt", "/dev/shm/left.txt")
                if os.path.exists(p)]
        procs = [p for p in os.listdir("/proc") if p.isdigit()]
        print(json.dumps({"left": left, "procs": len(procs), "env": sorted(os.environ),
                          "uid": os.getuid(),
                          "files": sorted(os.listdir("/box"))}))
    """).replace("import os", "import os, json"), forkserver=forkserver))
    assert second.status is RunStatus.OK, second
    seen = json.loads(second.stdout)
    assert seen["left"] == []
    assert seen["procs"] <= 2  # the namespace's init and this program
    if forkserver:  # the slot (and its kept init) the first runs used: their sleep is gone
        assert seen["uid"] == int(first.stdout)
    assert seen["files"] == ["main.py"]
    # The base environment only: nothing the first runs set (SECRET_OF_FIRST).
    job_env = set(dict(PYTHON.env)) if forkserver else set()
    assert set(seen["env"]) <= {"PATH", "LANG", "LC_ALL", "HOME", "TMPDIR", "PWD",
                                *THREAD_VARIABLES} | job_env
    assert "SECRET_OF_FIRST" not in seen["env"]
    backend.close()


def test_close_destroys_idle_sandboxes() -> None:
    backend = backend_with(forkserver=False)
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


def test_close_stops_the_fork_server_after_its_runs() -> None:
    backend = backend_with(forkserver=True, prespawn=0)
    with backend.start(py_job("import time; time.sleep(1); print('done')",
                              forkserver=True)) as running:
        assert backend.run(py_job("print(1)", forkserver=True)).status is RunStatus.OK
        # The server's scratch dir, then the cgroups its uid slots share (two runs at once:
        # two slots).
        ids = [run_id for run_id, _ in backend.resident()]
        assert len(ids) == 3, ids
        backend.close()
        # A run already started is not cut short by close() ...
        assert all(traces([i], [], backend.scratch) for i in ids)
        result = running.finish(timeout_s=10)
    assert result.status is RunStatus.OK, result
    assert result.stdout == b"done\n"
    # ... and the server and the slots' cgroups go once it has ended.
    assert backend.resident() == []
    assert wait_clean(ids, [], backend.scratch) == []


SCRIPT = textwrap.dedent("""
    import dataclasses, json, os, signal, sys
    from codeeval import config
    from codeeval.sandbox.namespace import NamespaceBackend
    from codeeval.languages.registry import PYTHON, python_interpreter
    from codeeval.model.run import FileSpec, Job, Limits
    b = NamespaceBackend(dataclasses.replace(config.settings(),
                                             forkserver=sys.argv[2] == "forkserver"))
    job = Job(command=PYTHON.substitute(PYTHON.run), files={"main.py": FileSpec(b"print(1)")},
              limits=Limits(time_s=2), runtime_paths=PYTHON.runtime_paths())
    for _ in range(2):
        assert b.run(job).stdout == b"1\\n"
    b.quiesce()
    left = [[r, u] for r, u, _ in b.idle_runs()] + [[r, -1] for r, _ in b.resident()]
    print(json.dumps({"idle": left, "scratch": str(b.scratch)}), flush=True)
    if sys.argv[1] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
""")

MODES = pytest.mark.parametrize("mode", ["prespawned", "forkserver"])


def run_script(what: str, mode: str) -> tuple[list[str], list[int], Path]:
    if mode == "forkserver":
        backend_with(forkserver=True).close()  # skips where there is no fork server
    out = subprocess.run([sys.executable, "-c", SCRIPT, what, mode], capture_output=True,
                         text=True, timeout=120)
    data = json.loads(out.stdout.splitlines()[0])
    ids = [r for r, _ in data["idle"]]
    uids = [u for _, u in data["idle"] if u >= 0]
    assert ids, out
    return ids, uids, Path(data["scratch"])


@MODES
def test_interpreter_exit_without_close_cleans_up(mode: str) -> None:
    _backend("namespace")
    ids, uids, scratch = run_script("exit", mode)
    assert wait_clean(ids, uids, scratch) == []


@MODES
def test_sweeper_removes_what_a_killed_supervisor_left(mode: str) -> None:
    _backend("namespace")
    ids, uids, scratch = run_script("kill", mode)
    assert traces(ids, uids, scratch), "a SIGKILLed supervisor should leave its sandboxes"
    sweeper = NamespaceBackend(dataclasses.replace(config.settings(), prespawn=0))
    try:
        assert set(ids) <= set(sweeper.swept)
        assert wait_clean(ids, uids, scratch) == []
    finally:
        sweeper.close()
        # The killed supervisor's bubblewrap processes were orphaned to us (a subreaper)
        # and died with it (--die-with-parent): reap them, as an orchestrator would.
        for pid in _our_zombies():
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


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


def _parent(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines()
                    if line.startswith("PPid:")))


@pytest.mark.parametrize("forkserver", [False, True], ids=["bubblewrap", "forkserver"])
def test_sandbox_killed_from_outside_is_an_infra_error(forkserver: bool) -> None:
    """Killing the sandbox itself (not the program) mid-run raises SandboxCrashed: an infra
    error to retry, never a verdict of the program. The program killing itself with
    SIGKILL stays the program's own runtime error."""
    from codeeval.errors import SandboxCrashed

    backend = backend_with(forkserver=forkserver, prespawn=0)
    job = py_job("import time\nprint('up', flush=True)\ntime.sleep(30)\n",
                 forkserver=forkserver)
    job = dataclasses.replace(job, limits=Limits(time_s=40, memory_mb=256))
    with backend.start(job) as proc:
        deadline = time.monotonic() + 10
        programs: list[tuple[int, int]] = []
        while not programs and time.monotonic() < deadline:
            programs = live_processes_of(proc._tree.uid)  # type: ignore[attr-defined]
            time.sleep(0.02)
        assert len(programs) == 1, programs
        _pid, parent = programs[0]
        # The fork server's run init is the program's parent; a bubblewrap run's is the
        # inner bubblewrap, whose parent (the outer bubblewrap) is the supervisor's child.
        victim = parent if forkserver else _parent(parent)
        os.kill(victim, 9)
        with pytest.raises(SandboxCrashed, match="sandbox"):
            proc.finish()
    own = backend.run(py_job("import os\nos.kill(os.getpid(), 9)\n", forkserver=forkserver))
    assert own.status is RunStatus.RE, own
    assert own.signal == 9, own
    backend.close()

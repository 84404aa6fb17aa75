"""The namespace backend's fork server: what a forked run gets, and how the server survives.

The conformance suite (test_hostile, test_channel, test_lifecycle) already runs its Python
programs through the fork server where there is one; these tests pin down what is
specific to it: that runs really go through it, the fds and privileges of a forked run,
isolation between runs that are alive at the same time, the interpreter's exit semantics
for in-process scripts, and recovery when a run or the server itself is killed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import textwrap
import threading
import time
from collections.abc import Iterator

import pytest

from codeeval import config
from codeeval.languages.registry import PYTHON, python_interpreter
from codeeval.model.run import FileSpec, Job, Limits, RunStatus
from codeeval.sandbox.namespace import NamespaceBackend
from tests.sandbox.conftest import _backend, live_processes_of

pytestmark = pytest.mark.conformance


@pytest.fixture
def backend() -> Iterator[NamespaceBackend]:
    _backend("namespace")  # skips with the reason when there is no namespace backend
    b = NamespaceBackend(dataclasses.replace(config.settings(), prespawn=0))
    if not b.forkserver_enabled:
        b.close()
        pytest.skip("the fork server needs root and cgroups")
    yield b
    b.close()


def script_job(code: str, *, channel: bool = False, in_process: bool = True,
               time_s: float = 5) -> Job:
    """``python -S -B main.py`` (run in the fork server's interpreter) or, for contrast,
    ``python -B main.py`` (which the server does not serve)."""
    flags = ("-S", "-B") if in_process else ("-B",)
    return Job(command=(python_interpreter(), *flags, "main.py"),
               files={"main.py": FileSpec(textwrap.dedent(code).encode())},
               env=dict(PYTHON.env), limits=Limits(time_s=time_s, memory_mb=256),
               channel=channel, runtime_paths=PYTHON.runtime_paths())


def test_only_python_s_b_runs_go_through_the_fork_server(backend: NamespaceBackend) -> None:
    def served(job: Job) -> bool:
        before = backend.forkserver_runs
        r = backend.run(job)
        assert r.status is RunStatus.OK, r
        assert r.stdout == b"hi\n"
        return backend.forkserver_runs == before + 1

    code = "print('hi')"
    assert served(script_job(code))
    extra = script_job(code)
    assert served(dataclasses.replace(extra, env={**extra.env, "ANSWER": "42"}))
    # Everything else goes through bubblewrap: another command line, or variables the
    # interpreter reads at start-up, which the server's interpreter has already read.
    assert not served(script_job(code, in_process=False))
    for var in ("PYTHONHASHSEED", "LANG"):
        assert not served(dataclasses.replace(extra, env={**extra.env, var: "0"}))


def test_a_forked_run_holds_only_its_own_fds_and_no_privileges(
        backend: NamespaceBackend) -> None:
    job = script_job("""
        import json, os
        fds = sorted(int(f) for f in os.listdir("/proc/self/fd"))
        status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
        print(json.dumps({"fds": fds, "uid": os.getuid(), "gid": os.getgid(),
                          "groups": os.getgroups(), "pid": os.getpid(),
                          "ppid": os.getppid(),
                          "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
                          "status": {k: status[k].strip() for k in
                                     ("CapEff", "CapPrm", "CapBnd", "CapAmb", "NoNewPrivs",
                                      "Seccomp")},
                          "env": sorted(os.environ), "cwd": os.getcwd(),
                          "hostname": os.uname().nodename}))
    """, channel=True)
    r = backend.run(job)
    assert r.status is RunStatus.OK, r
    seen = json.loads(r.stdout)
    # stdio and the channel's two ends; the listdir fd is the one more.
    assert seen["fds"][:5] == [0, 1, 2, 3, 4], seen["fds"]
    assert len(seen["fds"]) <= 6, seen["fds"]
    s = config.settings()
    assert s.uid_base <= seen["uid"] < s.uid_base + s.uid_slots
    assert seen["gid"] == seen["uid"]
    assert seen["groups"] == []
    # In a PID namespace of its own, whose init (its slot's) is its parent and the only
    # other process.
    assert seen["pid"] > 1
    assert seen["ppid"] == 1
    assert seen["pids"] == [1, seen["pid"]]
    zero = "0000000000000000"
    assert seen["status"] == {"CapEff": zero, "CapPrm": zero, "CapBnd": zero, "CapAmb": zero,
                              "NoNewPrivs": "1", "Seccomp": "2"}
    assert "CODEEVAL_CHANNEL" in seen["env"]
    assert seen["cwd"] == "/box"
    assert seen["hostname"] == "codeeval"


def test_forked_runs_do_not_share_random_state(backend: NamespaceBackend) -> None:
    # Forks of one interpreter share its memory: each run must still draw random numbers
    # of its own, as a started interpreter would. (The string hash seed is the server's,
    # as the module docstring says.)
    job = script_job("""
        import random
        print(random.getrandbits(64), hash("codeeval"))
    """)
    before = backend.forkserver_runs
    seen = [backend.run(job).stdout.split() for _ in range(3)]
    assert backend.forkserver_runs == before + 3
    assert len({draw for draw, _ in seen}) == 3, seen
    assert len({h for _, h in seen}) == 1, seen


def test_runs_alive_at_the_same_time_do_not_see_each_other(backend: NamespaceBackend) -> None:
    job = script_job("""
        import json, os, sys, time
        me = sys.stdin.readline().strip()
        for d in ("/tmp", "/dev/shm", "/box"):
            open(f"{d}/mark-{me}", "w").write(me)
        written = time.monotonic()
        time.sleep(1.0)  # the other runs write their marks meanwhile
        print(json.dumps({"tmp": sorted(os.listdir("/tmp")), "shm": sorted(os.listdir("/dev/shm")),
                          "box": sorted(os.listdir("/box")),
                          "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
                          "pid": os.getpid(),
                          "net": os.stat("/proc/self/ns/net").st_ino,
                          "written": written, "looked": time.monotonic()}))
    """)
    results: dict[int, bytes] = {}

    def one(i: int) -> None:
        with backend.start(dataclasses.replace(job, stdin=f"{i}\n".encode())) as p:
            results[i] = p.finish(timeout_s=30).stdout

    threads = [threading.Thread(target=one, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == [0, 1, 2]
    seen = {i: json.loads(out) for i, out in results.items()}
    # The runs really were alive together: every one wrote before any of them looked.
    assert max(v["written"] for v in seen.values()) < min(v["looked"] for v in seen.values())
    for i, v in seen.items():
        assert v["tmp"] == [f"mark-{i}"]
        assert v["shm"] == [f"mark-{i}"]
        assert v["box"] == ["main.py", f"mark-{i}"]
        assert v["pids"] == [1, v["pid"]]  # its init, and itself
    assert len({v["net"] for v in seen.values()}) == 3  # a network namespace each


def test_a_network_namespace_is_reused_only_when_its_sockets_left_nothing(
        backend: NamespaceBackend) -> None:
    """The server keeps the network namespaces of finished runs for later ones, but never
    one that still holds the state of a run's sockets: here a TCP connection in TIME_WAIT,
    which would make the same port busy for the next run for a minute."""
    ino = "import os; print(os.stat('/proc/self/ns/net').st_ino)"
    first, again = (backend.run(script_job(ino)) for _ in range(2))
    assert first.status is RunStatus.OK, first
    assert again.status is RunStatus.OK, again
    assert first.stdout == again.stdout  # no sockets: the same namespace serves again
    port = 5555
    leave = script_job(f"""
        import socket
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", {port})); srv.listen()
        c = socket.create_connection(("127.0.0.1", {port}))
        a, _ = srv.accept()
        a.close(); c.close(); srv.close()  # the side that closes first waits in TIME_WAIT
        tcp = [line for line in open("/proc/net/sockstat") if line.startswith("TCP:")][0]
        print(tcp.split()[tcp.split().index("tw") + 1])
    """)
    bind = script_job(f"""
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", {port}))  # no SO_REUSEADDR: fails while a TIME_WAIT holds it
        tcp = [line for line in open("/proc/net/sockstat") if line.startswith("TCP:")][0]
        print("bound", tcp.split()[tcp.split().index("tw") + 1])
    """)
    for _ in range(3):
        r = backend.run(leave)
        assert r.status is RunStatus.OK, r
        assert r.stdout == b"1\n"  # it did leave one
        for _ in range(2):
            r = backend.run(bind)
            assert r.status is RunStatus.OK, r
            assert r.stdout == b"bound 0\n"


@pytest.mark.parametrize(("code", "exit_code", "stdout", "stderr_has"), [
    ("import sys; sys.stdout.write('no newline')", 0, b"no newline", b""),
    ("raise SystemExit(3)", 3, b"", b""),
    ("raise SystemExit('bye')", 1, b"", b"bye"),
    ("import sys; sys.exit()", 0, b"", b""),
    ("def f():\n    raise ValueError('boom')\nf()", 1, b"", b"ValueError: boom"),
    ("import atexit; atexit.register(lambda: print('at exit'))", 0, b"at exit\n", b""),
    ("import threading, time\n"
     "threading.Thread(target=lambda: (time.sleep(0.2), print('thread done'))).start()",
     0, b"thread done\n", b""),
    ("import os; print('x', flush=True); os._exit(7)", 7, b"x\n", b""),
    ("import sys; print(__name__, sys.argv, sys.path[0])", 0,
     b"__main__ ['main.py'] /box\n", b""),
])
def test_in_process_scripts_exit_as_the_interpreter_would(
        backend: NamespaceBackend, code: str, exit_code: int, stdout: bytes,
        stderr_has: bytes) -> None:
    r = backend.run(script_job(code))
    assert r.exit_code == exit_code, r
    assert r.stdout == stdout
    assert stderr_has in r.stderr
    assert b"forkserver" not in r.stderr  # tracebacks show the program's frames only


def test_killing_a_run_or_the_server_is_recovered(backend: NamespaceBackend) -> None:
    # A run killed by the supervisor mid-way ends as killed; the next run is fine.
    with backend.start(script_job("while True: pass", time_s=30)) as p:
        result = p.kill()
    assert result.status is not RunStatus.OK
    assert backend.run(script_job("print(1)")).stdout == b"1\n"
    # The server itself dies (as if OOM-killed): once it is gone, the next run starts a
    # new one. (A run handed over in the instant before it died ends as an infra error,
    # which callers retry.)
    server_id = backend.resident()[0][0]  # the server first, then the slots' cgroups
    server_pid = backend.forkserver_pid
    assert server_pid is not None
    killed = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            # This backend's server only (other backends, of this process or others, may
            # have servers of their own): its bubblewrap is the one we started.
            if cmdline.split(b"\0")[:4] == [python_interpreter().encode(), b"-S", b"-B",
                                             b"forkserver.py"] and server_pid in _ancestors(
                                                 entry.name):
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(entry.name)
    assert killed
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in killed) and time.monotonic() < deadline:
        time.sleep(0.01)
    r = backend.run(script_job("print(2)"))
    assert r.status is RunStatus.OK, r
    assert r.stdout == b"2\n"
    new_id = backend.resident()[0][0]
    assert new_id != server_id


def _alive(pid: str) -> bool:
    """Whether ``pid`` still runs (a zombie has closed its fds already)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def test_a_slot_keeps_its_init_and_recycling_it_ends_every_process_of_the_slot(
        backend: NamespaceBackend) -> None:
    """Runs of one slot share a kept init (the parent of each program), which kills what a
    program left behind before the next run. When a run's cgroup would not empty, the
    supervisor has the server end the slot's init: every process of the slot's PID
    namespace dies with it (none can escape a PID namespace), the run is an infra error,
    and the slot's next run gets a new init."""
    from codeeval.errors import SandboxCrashed

    def init_of(uid: int) -> tuple[int, int]:
        """(host pid of the program, host pid of its parent) for the one program of uid."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            found = live_processes_of(uid)
            if found:
                return found[0]
            time.sleep(0.01)
        raise AssertionError(f"no program of uid {uid} showed up")

    leaves = script_job("""
        import subprocess, sys, time
        subprocess.Popen(["sleep", "60"], start_new_session=True)
        time.sleep(float(sys.stdin.readline()))  # long enough to be seen
    """, time_s=30)
    inits = []
    for _ in range(2):
        with backend.start(dataclasses.replace(leaves, stdin=b"2\n")) as p:
            uid = p._tree.uid  # type: ignore[attr-defined]
            inits.append((uid, init_of(uid)[1]))
            result = p.finish(timeout_s=30)
        assert result.status is RunStatus.OK, result
        assert live_processes_of(uid) == []  # the sleep it left was killed with the run
    assert inits[0] == inits[1], "one slot, one init, for runs one after the other"
    server = backend._forkserver  # type: ignore[attr-defined]
    assert server is not None
    with backend.start(dataclasses.replace(leaves, stdin=b"30\n")) as p:
        uid = p._tree.uid  # type: ignore[attr-defined]
        _, init = init_of(uid)
        deadline = time.monotonic() + 10
        while len(live_processes_of(uid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)  # the program and the sleep it started
        assert len(live_processes_of(uid)) == 2
        server.recycle(uid)
        with pytest.raises(SandboxCrashed, match="sandbox"):
            p.finish(timeout_s=30)
    assert live_processes_of(uid) == []
    assert not _alive(str(init))
    with backend.start(dataclasses.replace(leaves, stdin=b"1\n")) as p:
        assert p._tree.uid == uid  # type: ignore[attr-defined]  # the slot released last
        _, new_init = init_of(uid)
        result = p.finish(timeout_s=30)
    assert result.status is RunStatus.OK, result
    assert new_init not in (init, inits[0][1])  # a new init for the slot


def test_runs_of_a_slot_share_its_cgroups_but_count_and_limit_only_their_own(
        backend: NamespaceBackend) -> None:
    """On cgroup v1 the runs of one uid slot share its pids, cpuacct and cpu cgroups (one
    run at a time) and each has a memory cgroup of its own: a run's CPU time, process
    count and CPU quota are still its own."""
    host = backend.cgroup_host
    assert host is not None
    if host.version != 1:
        pytest.skip("on cgroup v2 every run has a cgroup of its own for every controller")
    spin = script_job("""
        import time
        t = time.process_time()
        while time.process_time() - t < 0.4:
            pass
    """)
    first = backend.run(spin)
    assert first.status is RunStatus.OK, first
    assert first.cpu_time_s >= 0.4
    trivial = script_job("print(1)")
    light = backend.run(trivial)
    assert light.status is RunStatus.OK, light
    assert light.cpu_time_s < 0.2, "the slot's earlier run counted in this one's CPU time"
    shared = [name for name, _ in backend.resident()[1:]]
    assert len(shared) == 1, "runs one after another use one slot"
    slot_dirs = [host.parents[c] / shared[0] for c in ("pids", "cpuacct", "cpu")
                 if c in host.parents]
    assert all(d.is_dir() for d in slot_dirs)
    # Processes: each run may start as many as its limit allows, whatever the last left.
    forks = script_job("""
        import os, sys, time
        n, started = int(sys.stdin.readline()), 0
        try:
            for _ in range(n):
                if os.fork() == 0:
                    time.sleep(30)  # left behind: killed with the run
                    os._exit(0)
                started += 1
            print("started", started)
        except OSError:
            print("refused after", started)
    """)
    limits = Limits(time_s=5, memory_mb=256, processes=6)
    for n, expected in ((4, b"started 4"), (4, b"started 4"), (8, b"refused after 5")):
        r = backend.run(dataclasses.replace(forks, stdin=b"%d\n" % n, limits=limits))
        assert r.status is RunStatus.OK, r
        assert r.stdout.strip() == expected
    # The CPU quota is the run's own (written for each run).
    if "cpu" in host.parents:
        quota = host.parents["cpu"] / shared[0] / "cpu.cfs_quota_us"
        for cpus, written in ((0.5, "50000"), (None, "-1"), (1.0, "100000")):
            r = backend.run(dataclasses.replace(
                trivial, limits=Limits(time_s=5, memory_mb=256, cpus=cpus)))
            assert r.status is RunStatus.OK, r
            assert quota.read_text().strip() == written
    assert [name for name, _ in backend.resident()[1:]] == shared
    backend.close()
    assert not any(d.exists() for d in slot_dirs)


def test_declared_scripts_run_precompiled() -> None:
    """A script declared warm is compiled once by the server: a run of the same bytes
    executes that code object (whose file name is the declared one), other bytes are
    compiled as usual."""
    from codeeval.languages import registry

    source = (b"import sys\ndef where():\n    return sys._getframe().f_code.co_filename\n"
              b"print(where())\n")
    registry.warm_python_script("declared-name.py", source)
    _backend("namespace")
    b = NamespaceBackend(dataclasses.replace(config.settings(), prespawn=0))
    try:
        if not b.forkserver_enabled:
            pytest.skip("the fork server needs root and cgroups")
        r = b.run(script_job(source.decode()))
        assert r.stdout == b"declared-name.py\n", r
        r = b.run(script_job(source.decode() + "\n"))  # different bytes: compiled in the run
        assert r.stdout == b"main.py\n", r
    finally:
        b.close()
        registry._WARM_PYTHON_SCRIPTS.pop("declared-name.py")


def _ancestors(pid: str, depth: int = 4) -> list[int]:
    found = []
    for _ in range(depth):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                pid = f.read().rsplit(b")", 1)[1].split()[1].decode()
        except OSError:
            break
        found.append(int(pid))
    return found


def _heavy_or_skip(backend: NamespaceBackend) -> None:
    if not backend.forkserver_enabled:
        pytest.skip("the fork server needs root and cgroups")
    if "numpy" not in backend.forkserver_heavy:
        pytest.skip("numpy is not installed for the sandboxed Python (pip install numpy), "
                    "or CODEEVAL_FORKSERVER_HEAVY leaves it out")


def _probe(backend: NamespaceBackend, candidate: str) -> str:
    """Judge ``candidate`` (which defines ``f`` raising with what it saw) through the Python
    driver; return the message it raised with."""
    from codeeval.score.items import ProblemBank, inline_function_problem, score_item

    problem, expected = inline_function_problem("f", [[1]], outputs=[1])
    outcome = score_item(backend, ProblemBank({}).inline(backend, problem, expected),
                         textwrap.dedent(candidate))
    assert outcome.first_failure is not None, outcome
    reason = str(outcome.first_failure["reason"])
    assert reason.startswith("ValueError: "), reason
    return reason.removeprefix("ValueError: ")


def test_driver_runs_that_import_numpy_fork_from_a_server_that_has_imported_it() -> None:
    """A candidate that imports a heavy module finds it imported already (the second
    server's), with an OpenBLAS of one thread as its CPU limit asks, and NumPy's global
    generator seeded for it alone (NumPy 2 loads numpy.random on first use, 1.x at import:
    here the server imports it); other candidates fork from the plain server, where NumPy
    is not loaded."""
    _backend("namespace")
    backend = NamespaceBackend(dataclasses.replace(
        config.settings(), prespawn=0, forkserver_heavy=("numpy", "numpy.random")))
    try:
        _numpy_runs(backend)
    finally:
        backend.close()


def _numpy_runs(backend: NamespaceBackend) -> None:
    _heavy_or_skip(backend)
    uses_numpy = """
        import os, sys
        LOADED = "numpy.random" in sys.modules  # before the candidate's own import
        import numpy as np
        def f(x):
            raise ValueError(f"{LOADED} {np.random.randint(2**31)} "
                             f"{os.environ.get('OPENBLAS_NUM_THREADS')} {np.ones(3).sum()}")
    """
    plain, heavy = backend.forkserver_runs, backend.forkserver_heavy_runs
    draws = set()
    for _ in range(3):
        loaded, draw, threads, total = _probe(backend, uses_numpy).split()
        assert (loaded, threads, total) == ("True", "1", "3.0")
        draws.add(draw)
    assert len(draws) == 3, "runs forked from one server drew the same random numbers"
    assert backend.forkserver_heavy_runs == heavy + 3
    assert _probe(backend, """
        import sys
        def f(x):
            raise ValueError(str("numpy" in sys.modules))
    """) == "False"
    assert backend.forkserver_heavy_runs == heavy + 3
    assert backend.forkserver_runs == plain + 4
    state = backend.pool_state()
    assert (state["forkserver_up"], state["forkserver_heavy_up"]) == (1, 1)
    backend.close()
    assert backend.resident() == [], "close() stops both servers and removes their cgroups"
    assert backend.pool_state()["forkserver_heavy_up"] == 0


def test_only_driver_runs_at_one_thread_go_to_the_server_with_numpy(
        backend: NamespaceBackend) -> None:
    """A script that is not the driver (whose path lacks site-packages, so it cannot
    import NumPy) and a driver run asking for more threads go to the plain server."""
    _heavy_or_skip(backend)
    heavy = backend.forkserver_heavy_runs
    r = backend.run(script_job("import numpy"))
    assert r.status is RunStatus.RE, r
    assert b"No module named 'numpy'" in r.stderr
    assert backend.forkserver_heavy_runs == heavy
    server = backend._heavy  # type: ignore[attr-defined]
    from codeeval.languages.registry import warm_python_scripts

    driver = next(iter(warm_python_scripts().items()))
    job = Job(command=(python_interpreter(), "-S", "-B", driver[0]),
              files={driver[0]: FileSpec(driver[1]),
                     "candidate.py": FileSpec(b"import os, numpy as np\n")},
              env=dict(PYTHON.env), runtime_paths=PYTHON.runtime_paths())
    one = dict.fromkeys(("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                         "NUMEXPR_NUM_THREADS"), "1")
    assert server.suits(job, one)
    assert not server.suits(job, {**one, "OPENBLAS_NUM_THREADS": "2"})
    assert not server.suits(dataclasses.replace(
        job, files={**job.files, "candidate.py": FileSpec(b"import numpyro\n# import numpy\n")}),
        one)

"""Hostile programs: each must get its verdict, and leave nothing behind (see conftest)."""

from __future__ import annotations

import hashlib
import resource
import signal
import socket
import textwrap

import pytest

from codeeval.model.run import RunStatus
from codeeval.sandbox.rlimits import THREAD_VARIABLES
from tests.sandbox.conftest import Runner, host_path_probe, require

pytestmark = pytest.mark.conformance


def src(code: str) -> str:
    return textwrap.dedent(code)


# --------------------------------------------------------------------------- time
def test_infinite_loop_is_tle(runner: Runner) -> None:
    r = runner.run("while True:\n    pass\n", time_s=0.5)
    assert r.status is RunStatus.TLE
    assert r.cpu_time_s >= 0.5
    assert r.wall_time_s < 0.5 * 2 + 1 + 1.0


def test_cpu_stuck_in_c_call_is_tle(runner: Runner) -> None:
    # Catastrophic backtracking: the interpreter never returns to run a signal handler.
    r = runner.run("import re\nre.match(r'(a+)+$', 'a' * 64 + 'b')\n", time_s=0.5)
    assert r.status is RunStatus.TLE


def test_sleeping_is_tle_by_wall_clock(runner: Runner) -> None:
    r = runner.run("import time\ntime.sleep(60)\n", time_s=0.5, wall_time_s=1.0)
    assert r.status is RunStatus.TLE
    assert 1.0 <= r.wall_time_s < 3.0
    assert r.cpu_time_s < 0.5


def test_reading_empty_stdin_returns_at_once(runner: Runner) -> None:
    r = runner.run("import sys\ndata = sys.stdin.read()\nprint(len(data))\n")
    assert r.status is RunStatus.OK
    assert r.stdout == b"0\n"


def test_input_on_closed_stdin_is_re(runner: Runner) -> None:
    r = runner.run("input()\n")
    assert r.status is RunStatus.RE
    assert b"EOFError" in r.stderr


def test_unread_large_stdin_does_not_block_supervisor(runner: Runner) -> None:
    r = runner.run("print('ignored my stdin')\n", stdin=b"x" * (8 << 20))
    assert r.status is RunStatus.OK
    assert r.stdout == b"ignored my stdin\n"


def test_stdin_is_delivered_whole(runner: Runner) -> None:
    payload = bytes(range(256)) * 4096
    code = "import sys, hashlib\nprint(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())"
    r = runner.run(code, stdin=payload)

    assert r.status is RunStatus.OK
    assert r.stdout.decode().strip() == hashlib.sha256(payload).hexdigest()


def test_ignoring_sigterm_and_sigxcpu_is_still_tle(runner: Runner) -> None:
    r = runner.run(src("""
        import signal
        for s in (signal.SIGTERM, signal.SIGXCPU, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        while True:
            pass
    """), time_s=0.5)
    assert r.status is RunStatus.TLE


def test_cpu_burn_on_many_processes_counts_all_cpu(runner: Runner) -> None:
    # Four processes burn CPU; the tree's CPU time (not one process's) hits the limit.
    r = runner.run(src("""
        import os
        for _ in range(3):
            if os.fork() == 0:
                break
        while True:
            pass
    """), time_s=1.0, wall_time_s=10.0, cpus=None)
    assert r.status is RunStatus.TLE
    assert r.cpu_time_s >= 1.0
    assert r.wall_time_s < 5.0


def test_cpu_burn_on_many_threads_is_tle(runner: Runner) -> None:
    # hashlib releases the GIL on large buffers, so these threads really run in parallel.
    r = runner.run(src("""
        import hashlib, threading
        buf = b"x" * (1 << 24)
        def burn():
            while True:
                hashlib.sha256(buf).digest()
        for _ in range(4):
            threading.Thread(target=burn, daemon=True).start()
        burn()
    """), time_s=1.0, wall_time_s=10.0, cpus=None)
    assert r.status is RunStatus.TLE
    assert r.cpu_time_s >= 1.0


# --------------------------------------------------------------------------- processes
def test_fork_bomb_is_contained(runner: Runner) -> None:
    require(runner.backend, "pids_limit")
    r = runner.run(src("""
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
    """), time_s=1.0, wall_time_s=3.0, processes=32)
    assert r.status is RunStatus.TLE


def test_thread_bomb_is_capped(runner: Runner) -> None:
    require(runner.backend, "pids_limit")
    r = runner.run(src("""
        import threading, time
        n = 0
        try:
            while True:
                threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
                n += 1
        except RuntimeError:
            pass
        print(n)
    """), processes=32, wall_time_s=5.0)
    assert r.status is RunStatus.OK, r
    assert 0 < int(r.stdout) < 32


def test_setsid_daemon_does_not_outlive_run(runner: Runner) -> None:
    require(runner.backend, "containment")
    r = runner.run(src("""
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(30)
            os._exit(0)
        time.sleep(0.2)
        print("parent done")
    """))
    assert r.status is RunStatus.OK
    assert r.stdout == b"parent done\n"
    # The leak check (token scan of every host process) proves the daemon is dead.


def test_killing_parent_and_everyone(runner: Runner) -> None:
    require(runner.backend, "isolation")
    sentinel = __import__("subprocess").Popen(["sleep", "30"])
    try:
        r = runner.run(src("""
            import os, signal
            results = []
            for target in (os.getppid(), 1, -1):
                try:
                    os.kill(target, signal.SIGKILL)
                    results.append("sent")
                except OSError as e:
                    results.append(type(e).__name__)
            print(results)
        """))
        assert sentinel.poll() is None, "a host process was killed from inside the sandbox"
    finally:
        sentinel.kill()
        sentinel.wait()
    assert r.status is RunStatus.OK
    if runner.backend.name == "docker":
        # The program shares its uid with the container's init (the agent), and signals
        # to PID 1 from inside its namespace are dropped: "sent", to no effect (the pool
        # tests show the agent serving the next run).
        assert r.stdout.startswith(b"['sent', 'sent'"), r.stdout
    else:
        assert b"PermissionError" in r.stdout


# --------------------------------------------------------------------------- memory
def test_memory_growing_slowly_is_mle(runner: Runner) -> None:
    r = runner.run(src("""
        import time
        chunks = []
        while True:
            chunks.append(b"x" * (4 << 20))
            time.sleep(0.005)
    """), memory_mb=128, time_s=5.0)
    assert r.status is RunStatus.MLE, r


def test_one_huge_allocation_is_mle(runner: Runner) -> None:
    r = runner.run("x = b'x' * (64 << 30)\n", memory_mb=128)
    assert r.status is RunStatus.MLE, r


def test_allocation_just_above_limit_is_mle(runner: Runner) -> None:
    r = runner.run("x = b'x' * (300 << 20)\nprint(len(x))\n", memory_mb=128)
    assert r.status is RunStatus.MLE, r
    assert r.peak_memory_mb is not None
    if "memory_cgroup" in runner.backend.capabilities:
        assert r.stdout == b"", "the cgroup should have stopped the program"
        # docker reports the program's peak RSS, which also counts shared library pages
        # the cgroup charged elsewhere; the others report the cgroup's own peak.
        assert r.peak_memory_mb <= (128 * 1.1 if runner.backend.name == "docker" else 128)
    else:  # rlimits only: the program finishes, and the measured peak decides
        assert r.peak_memory_mb > 128


def test_memory_within_limit_is_ok(runner: Runner) -> None:
    # Held for a moment: a backend without a cgroup samples memory from /proc every few
    # tens of milliseconds, and a peak between two samples can be missed.
    r = runner.run("import time\nx = b'x' * (40 << 20)\nprint(len(x))\ntime.sleep(0.3)\n",
                   memory_mb=128)
    assert r.status is RunStatus.OK, r
    if r.peak_memory_mb is not None:
        assert 40 <= r.peak_memory_mb <= 128


# --------------------------------------------------------------------------- output
def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_output_flood_is_ole_with_bounded_host_memory(runner: Runner, stream: str) -> None:
    before = _peak_rss_mb()
    r = runner.run(src(f"""
        import sys
        chunk = "x" * 65536
        while True:
            sys.{stream}.write(chunk)
    """), time_s=3.0, stdout_bytes=1 << 20, stderr_bytes=1 << 20)
    assert r.status is RunStatus.OLE
    out = r.stdout if stream == "stdout" else r.stderr
    assert len(out) == 1 << 20
    assert (r.stdout_truncated if stream == "stdout" else r.stderr_truncated)
    assert _peak_rss_mb() - before < 64, "the supervisor buffered the flood"


def test_invalid_utf8_output_is_kept_as_bytes(runner: Runner) -> None:
    r = runner.run("import sys\nsys.stdout.buffer.write(b'\\xff\\xfe\\x80ok\\n')\n")
    assert r.status is RunStatus.OK
    assert r.stdout == b"\xff\xfe\x80ok\n"
    assert r.to_json()["stdout"] == "\\xff\\xfe\\x80ok\n"


def test_closing_own_stdout_does_not_end_the_run(runner: Runner) -> None:
    r = runner.run(src("""
        import os, time
        os.close(1)
        time.sleep(0.3)
        os.write(2, b"still here")
        os._exit(0)
    """))
    assert r.status is RunStatus.OK
    assert r.stderr == b"still here"
    assert r.wall_time_s >= 0.3


# --------------------------------------------------------------------------- crashes
def test_segfault_is_re_with_signal(runner: Runner) -> None:
    r = runner.run("import ctypes\nctypes.string_at(0)\n")
    assert r.status is RunStatus.RE
    assert r.signal == signal.SIGSEGV
    assert r.exit_code is None


def test_unbounded_recursion_is_re(runner: Runner) -> None:
    r = runner.run("def f(n):\n    return f(n + 1)\nf(0)\n")
    assert r.status is RunStatus.RE
    assert b"RecursionError" in r.stderr


def test_c_stack_overflow_is_re(runner: Runner) -> None:
    # Deep recursion through a C-level path with the recursion limit lifted: the C stack
    # overflows and the process dies with SIGSEGV.
    r = runner.run(src("""
        import sys
        sys.setrecursionlimit(10**8)
        x = []
        for _ in range(10**6):
            x = [x]
        print(repr(x)[:10])
    """), memory_mb=512, time_s=5.0, stack_mb=8)
    assert r.status is RunStatus.RE, r
    assert r.signal == signal.SIGSEGV


@pytest.mark.parametrize(("code", "exit_code"), [
    ("import sys; sys.exit(0)", 0),
    ("import sys; sys.exit(3)", 3),
    ("import os; os._exit(42)", 42),
    ("import sys; sys.exit(255)", 255),
    ("raise SystemExit('bye')", 1),
    ("raise ValueError('boom')", 1),
])
def test_exit_codes(runner: Runner, code: str, exit_code: int) -> None:
    r = runner.run(code)
    assert r.exit_code == exit_code
    assert r.signal is None
    assert r.status is (RunStatus.OK if exit_code == 0 else RunStatus.RE)


def test_abort_signal_is_reported(runner: Runner) -> None:
    r = runner.run("import os\nos.abort()\n")
    assert r.status is RunStatus.RE
    assert r.signal == signal.SIGABRT


# --------------------------------------------------------------------------- files
def test_exhausting_file_descriptors(runner: Runner) -> None:
    r = runner.run(src("""
        import os
        fds = []
        try:
            while True:
                fds.append(os.open("/dev/null", os.O_RDONLY))
        except OSError as e:
            print(len(fds), e.errno)
    """), open_files=64)
    assert r.status is RunStatus.OK
    count, errno_ = map(int, r.stdout.split())
    assert count < 64
    assert errno_ == 24  # EMFILE


@pytest.mark.parametrize("where", ["/tmp", "/dev/shm", "."])
def test_filling_scratch_space_stops_at_its_cap(runner: Runner, where: str) -> None:
    require(runner.backend, "scratch_cap")
    r = runner.run(src(f"""
        import os
        total = 0
        try:
            with open(os.path.join({where!r}, "fill"), "wb") as f:
                while True:
                    f.write(b"x" * (1 << 20))
                    f.flush()
                    total += 1 << 20
        except OSError as e:
            print(total, e.errno)
    """), scratch_mb=16, memory_mb=256, file_size_mb=1024)
    assert r.status is RunStatus.OK, r
    total, errno_ = map(int, r.stdout.split())
    assert total <= 16 << 20
    assert errno_ == 28  # ENOSPC


def test_file_size_limit(runner: Runner) -> None:
    r = runner.run(src("""
        import signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        try:
            with open("big", "wb") as f:
                f.write(b"x" * (3 << 20))
        except OSError as e:
            print("refused", e.errno)
    """), file_size_mb=1, scratch_mb=16)
    assert r.status is RunStatus.OK
    assert r.stdout.startswith(b"refused 27")  # EFBIG


def test_writing_outside_scratch_fails(runner: Runner) -> None:
    require(runner.backend, "isolation")
    r = runner.run(src("""
        import os
        for path in ("/usr/pwned", "/etc/pwned", "/pwned", "/proc/sys/kernel/hostname",
                     "/box/../pwned", "/bin/pwned"):
            try:
                with open(path, "w") as f:
                    f.write("x")
                print("WROTE", path)
            except OSError as e:
                print("denied", path, e.errno)
    """))
    assert r.status is RunStatus.OK
    assert b"WROTE" not in r.stdout
    assert r.stdout.count(b"denied") == 6


def test_copy_out_refuses_symlinks(runner: Runner) -> None:
    r = runner.run(src("""
        import os
        os.symlink("/etc/shadow", "secret")
        os.mkdir("d")
        os.symlink("/etc", "d/link")
        with open("real.txt", "w") as f:
            f.write("fine")
        os.mkfifo("fifo")
    """), outputs=("secret", "d/link/passwd", "real.txt", "fifo", "missing"))
    assert r.status is RunStatus.OK
    assert dict(r.files) == {"real.txt": b"fine"}


def test_numeric_thread_pools_are_sized_to_the_cpu_limit(runner: Runner) -> None:
    # Unset, OpenBLAS (NumPy) starts a thread per host core at import, which a run held to
    # one core only pays for; the job's own environment still decides.
    code = f"import os\nprint(*(os.environ.get(v) for v in {THREAD_VARIABLES!r}))\n"
    assert runner.run(code).stdout.split() == [b"1"] * len(THREAD_VARIABLES)
    assert runner.run(code, cpus=2).stdout.split() == [b"2"] * len(THREAD_VARIABLES)
    assert runner.run(code, cpus=None).stdout.split() == [b"None"] * len(THREAD_VARIABLES)
    own = runner.run(code, env={"OPENBLAS_NUM_THREADS": "7"}).stdout.split()
    assert own == [b"7" if v == "OPENBLAS_NUM_THREADS" else b"1" for v in THREAD_VARIABLES]


# --------------------------------------------------------------------------- secrets
def test_supervisor_environment_is_invisible(runner: Runner,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPERVISOR_SECRET", "hunter2")
    r = runner.run(src("""
        import os
        found = "hunter2" in repr(dict(os.environ))
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    with open(f"/proc/{pid}/environ", "rb") as f:
                        found = found or b"hunter2" in f.read()
                except OSError:
                    pass
        print("FOUND" if found else "clean", sorted(os.environ))
    """))
    assert r.status is RunStatus.OK
    assert r.stdout.startswith(b"clean")
    if runner.backend.isolates:
        assert b"/proc" not in r.stdout


def test_other_processes_are_invisible(runner: Runner) -> None:
    require(runner.backend, "isolation")
    r = runner.run(src("""
        import os
        pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        print(pids)
    """))
    assert r.status is RunStatus.OK
    pids = eval(r.stdout)  # a list of ints printed by the program
    assert len(pids) <= 3, pids  # bwrap's init (or the agent), the program, listdir's view
    # A reused container's pid numbers keep growing, and so do those of a fork-server
    # slot's PID namespace, which serves one run after another.
    if runner.backend.name != "docker" and not runner.forkserver:
        assert max(pids) < 10


def test_host_directories_are_invisible(runner: Runner, tmp_path: object) -> None:
    require(runner.backend, "isolation")
    probes = [str(host_path_probe()), "/root/.bash_history", "/home", "/var/log",
              "/etc/shadow", str(tmp_path), "/sys/fs/cgroup"]
    if runner.backend.name == "docker":
        # /home, /var/log and /etc/shadow are the image's own; /sys/fs/cgroup is an empty
        # mount over the container's cgroup files. Host paths must still be absent.
        probes = [str(host_path_probe()), "/root/.bash_history", str(tmp_path),
                  "/sys/fs/cgroup/memory", "/sys/fs/cgroup/cpuacct"]
    r = runner.run(src(f"""
        import os
        for p in {probes!r}:
            print(p, os.path.exists(p))
    """))
    assert r.status is RunStatus.OK
    assert b"True" not in r.stdout, r.stdout


def test_no_network_but_loopback(runner: Runner) -> None:
    require(runner.backend, "isolation")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    try:
        r = runner.run(src(f"""
            import socket
            out = []
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=2)
                out.append("CONNECTED")
            except OSError as e:
                out.append("refused:" + type(e).__name__)
            try:
                socket.getaddrinfo("pypi.org", 443)
                out.append("RESOLVED")
            except OSError as e:
                out.append("dns-failed")
            try:
                socket.create_connection(("1.1.1.1", 53), timeout=2)
                out.append("OUTSIDE")
            except OSError:
                out.append("no-route")
            s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
            c = socket.create_connection(s.getsockname(), timeout=2)
            out.append("own-loopback-ok")
            print(" ".join(out))
        """))
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()
    assert r.status is RunStatus.OK, r
    assert r.stdout.split() == [b"refused:ConnectionRefusedError", b"dns-failed", b"no-route",
                                b"own-loopback-ok"]


def test_no_privileges_inside(namespace_backend: object, request: pytest.FixtureRequest) -> None:
    from codeeval.sandbox import Backend
    from tests.sandbox.conftest import Runner

    assert isinstance(namespace_backend, Backend)
    runner = Runner(namespace_backend, request.node.originalname)
    r = runner.run(src("""
        import os, ctypes
        status = open("/proc/self/status").read()
        caps = [l for l in status.splitlines() if l.startswith(("CapEff", "CapBnd", "NoNewPrivs"))]
        print(os.getuid(), os.geteuid(), os.getgroups(), caps)
        libc = ctypes.CDLL(None, use_errno=True)
        print("unshare-user", libc.unshare(0x10000000), ctypes.get_errno())
        print("setuid0", libc.setuid(0), ctypes.get_errno())
    """))
    assert not runner.leaks, runner.leaks
    assert r.status is RunStatus.OK
    first = r.stdout.decode().splitlines()[0]
    assert not first.startswith("0 ")
    assert "CapEff:\\t0000000000000000" in first
    assert "CapBnd:\\t0000000000000000" in first
    assert "NoNewPrivs:\\t1" in first
    assert b"setuid0 -1" in r.stdout


def test_runtime_paths_are_visible_read_only(namespace_backend: object, tmp_path: object,
                                             request: pytest.FixtureRequest) -> None:
    # A runtime under /tmp (a venv, say) must stay visible despite the private /tmp.
    from pathlib import Path

    from codeeval.languages.registry import PYTHON
    from codeeval.model.run import FileSpec, Job, Limits
    from codeeval.sandbox import Backend

    assert isinstance(namespace_backend, Backend)
    runtime = Path(str(tmp_path)) / "runtime"
    runtime.mkdir()
    (runtime / "lib.txt").write_text("runtime file")
    code = src(f"""
        print(open({str(runtime / 'lib.txt')!r}).read())
        try:
            open({str(runtime / 'new.txt')!r}, "w")
            print("WROTE")
        except OSError as e:
            print("read-only", e.errno)
    """)
    job = Job(command=PYTHON.substitute(PYTHON.run), files={"main.py": FileSpec(code.encode())},
              limits=Limits(time_s=2), runtime_paths=(*PYTHON.runtime_paths(), str(runtime)))
    r = namespace_backend.run(job)
    assert r.status is RunStatus.OK, r
    assert r.stdout.decode().split("\n")[:2] == ["runtime file", "read-only 30"]  # EROFS
    assert not (runtime / "new.txt").exists()


def test_kernel_attack_surface_is_closed(runner: Runner) -> None:
    require(runner.backend, "syscall_filter")
    r = runner.run(src("""
        import ctypes, os, threading
        libc = ctypes.CDLL(None, use_errno=True)
        def call(name, *args):
            rc = libc.syscall(*args)
            print(name, rc, ctypes.get_errno() if rc < 0 else 0)
        call("unshare-user", 272, 0x10000000)
        call("unshare-mount", 272, 0x00020000)
        call("clone-newuser", 56, 0x10000000 | 17, 0, 0, 0, 0)
        call("io_uring_setup", 425, 1, ctypes.create_string_buffer(120))
        call("bpf", 321, 0, 0, 0)
        call("userfaultfd", 323, 0)
        call("keyctl", 250, 0, 0)
        call("ptrace", 101, 0, 0, 0, 0)
        call("mount", 165, b"none", b"/tmp", b"tmpfs", 0, 0)
        call("perf_event_open", 298, 0, 0, -1, -1, 0)
        # Ordinary things still work: threads (clone3 falls back to clone) and fork.
        t = threading.Thread(target=lambda: None); t.start(); t.join()
        pid = os.fork()
        if pid == 0:
            os._exit(7)
        print("fork", os.waitpid(pid, 0)[1] >> 8)
    """))
    assert r.status is RunStatus.OK, r
    lines = dict(line.split(" ", 1) for line in r.stdout.decode().splitlines())
    for name in ("unshare-user", "unshare-mount", "clone-newuser", "io_uring_setup", "bpf",
                 "userfaultfd", "keyctl", "ptrace", "mount", "perf_event_open"):
        assert lines[name] == "-1 1", f"{name}: {lines[name]} (expected EPERM)"
    assert lines["fork"] == "7"

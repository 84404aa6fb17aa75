#!/usr/bin/env python3
"""Latency of one trivial Python run: bare subprocess vs the sandbox backends, same run.

Each iteration runs ``print('ok')`` once per mode, in rotating order, so that machine noise
hits every mode alike. Prints p50/p95 per mode and the isolation overhead at p50 (namespace
minus bare subprocess), with and without pre-spawned sandboxes; and the same program as
``python -S -B main.py``, bare and through the namespace backend's fork server (the form
of job the scoring harness runs). Goal (issue 2): overhead <= 10 ms at p50.

Then the cost that bounds throughput when every core is busy: machine-wide CPU time per
run (from /proc/stat, so it counts the supervisor, bubblewrap, the fork server and the
kernel), each mode run back to back.

When a Docker engine and codeeval's python image are here, a second table compares, in
one interleaved loop, ``docker run --rm`` per run, ``docker exec`` into a running
container, the docker backend's warm pool and the namespace backend, all running the same
``print('ok')``. Goal (issue 4): warm-pool runs at least 5x faster than ``docker run``.

    python3 scripts/bench_sandbox.py [--runs 200] [--docker-runs 40] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from codeeval import config
from codeeval.languages.registry import PYTHON
from codeeval.model.run import FileSpec, Job, Limits, RunStatus
from codeeval.sandbox import Backend, open_backend

PROGRAM = b"print('ok')\n"


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def busy_cpu_s() -> float:
    """CPU time the whole machine spent not idle, in seconds (from /proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--docker-runs", type=int, default=40,
                    help="runs per mode of the docker comparison (0 skips it)")
    ap.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = ap.parse_args()

    command = PYTHON.substitute(PYTHON.run)
    job = Job(command=command, files={PYTHON.source_name: FileSpec(PROGRAM)},
              limits=Limits(time_s=5, memory_mb=256), env=dict(PYTHON.env),
              runtime_paths=PYTHON.runtime_paths())
    tmp = Path(tempfile.mkdtemp(prefix="codeeval-bench-"))
    (tmp / PYTHON.source_name).write_bytes(PROGRAM)

    fast = (command[0], "-S", "-B", PYTHON.source_name)
    fast_job = dataclasses.replace(job, command=fast)

    def bare(argv: tuple[str, ...] = tuple(command)) -> None:
        out = subprocess.run(list(argv), cwd=tmp, capture_output=True, check=True)
        assert out.stdout == b"ok\n"

    modes: dict[str, Callable[[], None]] = {"bare subprocess": bare}
    cold = dataclasses.replace(config.settings(), prespawn=0)
    backends = {"namespace": open_backend("namespace"),
                "namespace (cold)": open_backend("namespace", cold),
                "local": open_backend("local")}
    for name, backend in backends.items():

        def run(b=backend, j=job) -> None:  # type: ignore[no-untyped-def]
            r = b.run(j)
            if r.status is not RunStatus.OK or r.stdout != b"ok\n":
                raise SystemExit(f"{b.name} run failed: {r}")

        modes[name] = run
    modes["bare -S"] = lambda: bare(fast)
    modes["namespace -S (fork)"] = lambda: run(backends["namespace"], fast_job)  # type: ignore[no-untyped-call]

    names = list(modes)
    times: dict[str, list[float]] = {n: [] for n in names}
    for n in names:  # warm-up
        for _ in range(5):
            modes[n]()
    for i in range(args.runs):
        for n in names[i % len(names):] + names[: i % len(names)]:
            t0 = time.perf_counter()
            modes[n]()
            times[n].append(time.perf_counter() - t0)

    stats = {n: {"p50_ms": statistics.median(v) * 1e3, "p95_ms": pct(v, 0.95) * 1e3,
                 "mean_ms": statistics.fmean(v) * 1e3} for n, v in times.items()}
    for n in names:
        before = busy_cpu_s()
        for _ in range(args.runs):
            modes[n]()
        stats[n]["machine_cpu_ms"] = (busy_cpu_s() - before) / args.runs * 1e3
    docker_stats = docker_comparison(args.docker_runs, job, backends["namespace"])
    for backend in backends.values():
        backend.close()
    overhead = stats["namespace"]["p50_ms"] - stats["bare subprocess"]["p50_ms"]
    if args.json:
        print(json.dumps({"runs": args.runs, "python": command[0], "stats": stats,
                          "namespace_overhead_p50_ms": overhead, "docker": docker_stats},
                         indent=2))
        return 0
    print(f"{args.runs} runs per mode of {command[0]} -B main.py (print('ok')), interleaved")
    print(f"{'mode':<19}{'p50 ms':>9}{'p95 ms':>9}{'mean ms':>9}{'p50 / bare':>12}"
          f"{'CPU ms/run':>12}")
    base = stats["bare subprocess"]["p50_ms"]
    for n in names:
        s = stats[n]
        print(f"{n:<19}{s['p50_ms']:>9.2f}{s['p95_ms']:>9.2f}{s['mean_ms']:>9.2f}"
              f"{s['p50_ms'] / base:>11.2f}x{s['machine_cpu_ms']:>12.1f}")
    verdict = "meets" if overhead <= 10 else "MISSES"
    print(f"namespace isolation overhead at p50: {overhead:+.2f} ms ({verdict} the 10 ms goal)")
    cold_overhead = stats["namespace (cold)"]["p50_ms"] - base
    print(f"without pre-spawned sandboxes (CODEEVAL_PRESPAWN=0): {cold_overhead:+.2f} ms")
    fork = stats["namespace -S (fork)"]
    fork_overhead = fork["p50_ms"] - stats["bare -S"]["p50_ms"]
    print(f"python -S -B through the fork server: {fork_overhead:+.2f}"
          f" ms at p50 against bare, {fork['machine_cpu_ms']:.1f} ms of machine CPU per run "
          f"against {stats['bare -S']['machine_cpu_ms']:.1f} bare")
    if docker_stats:
        print_docker(docker_stats, args.docker_runs)
    return 0


def docker_comparison(runs: int, job: Job, namespace: Backend) -> dict[str, dict[str, float]]:
    """Per-run latency of docker run, docker exec, the warm pool and namespace, interleaved;
    empty when no engine or python image is here (the reason goes to stderr)."""
    if runs <= 0:
        return {}
    from codeeval.errors import BackendUnavailable
    from codeeval.sandbox.docker import DockerBackend

    try:
        pool = DockerBackend()
        image = pool.image_for("python")
    except BackendUnavailable as e:
        print(f"docker comparison skipped: {e}", file=sys.stderr)
        return {}
    docker_job = dataclasses.replace(job, command=("python3", "-B", PYTHON.source_name))
    code = PROGRAM.decode()
    held = subprocess.run(["docker", "run", "-d", "--rm", "--network", "none", "--read-only",
                           image, "sleep", "infinity"], capture_output=True, text=True,
                          check=True).stdout.strip()

    def docker_run() -> None:
        out = subprocess.run(["docker", "run", "--rm", "--network", "none", "--read-only",
                              image, "python3", "-B", "-c", code], capture_output=True,
                             check=True)
        assert out.stdout == b"ok\n"

    def docker_exec() -> None:
        out = subprocess.run(["docker", "exec", held, "python3", "-B", "-c", code],
                             capture_output=True, check=True)
        assert out.stdout == b"ok\n"

    def via(backend: Backend, j: Job) -> Callable[[], None]:
        def go() -> None:
            r = backend.run(j)
            if r.status is not RunStatus.OK or r.stdout != b"ok\n":
                raise SystemExit(f"{backend.name} run failed: {r}")
        return go

    modes = {"docker run": docker_run, "docker exec": docker_exec,
             "docker pool": via(pool, docker_job), "namespace": via(namespace, job)}
    names = list(modes)
    times: dict[str, list[float]] = {n: [] for n in names}
    try:
        for n in names:
            for _ in range(3):
                modes[n]()
        for i in range(runs):
            for n in names[i % len(names):] + names[: i % len(names)]:
                t0 = time.perf_counter()
                modes[n]()
                times[n].append(time.perf_counter() - t0)
    finally:
        subprocess.run(["docker", "rm", "-f", held], capture_output=True, check=False)
        pool.close()
    return {n: {"p50_ms": statistics.median(v) * 1e3, "p95_ms": pct(v, 0.95) * 1e3}
            for n, v in times.items()}


def print_docker(stats: dict[str, dict[str, float]], runs: int) -> None:
    print(f"\n{runs} runs per mode of print('ok') in codeeval's python image, interleaved")
    print(f"{'mode':<19}{'p50 ms':>9}{'p95 ms':>9}{'docker run / mode (p50)':>26}")
    base = stats["docker run"]["p50_ms"]
    for n, s in stats.items():
        print(f"{n:<19}{s['p50_ms']:>9.1f}{s['p95_ms']:>9.1f}{base / s['p50_ms']:>25.1f}x")
    ratio = base / stats["docker pool"]["p50_ms"]
    print(f"warm pool is {ratio:.1f}x faster than docker run at p50 "
          f"({'meets' if ratio >= 5 else 'MISSES'} the 5x goal)")


if __name__ == "__main__":
    sys.exit(main())

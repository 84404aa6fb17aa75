#!/usr/bin/env python3
"""Load test of ``codeeval serve`` with real HumanEval+ completions, and the per-test pattern.

Starts ``codeeval serve --dataset humaneval+=...`` on a loopback port, then this process
runs N concurrent closed-loop clients (asyncio), each posting one item at a time (``suite:
base``) from the 12,410 distinct CodeGen-16B completions (in order, interleaved by task;
from the start again if the time outlasts them), for a bounded time. Prints throughput,
p50/p99 latency, error counts, the verdict mix and how much of the machine's CPU the load
generator itself took (it shares the server's cores); then stops the server with SIGTERM
and checks that it exited 0 and left no process, scratch directory or cgroup of its runs
behind. ``--client httpx`` generates the load with httpx (what codeeval.client uses), which
costs about six times the CPU per request of the default light client (1.9 against
0.3 ms here).

In the same run, for comparison, it scores some of the same completions the way
SandboxFusion clients do: one process per test case (``codeeval run FILE --json``, the
candidate plus one call printed), stopping at a sample's first failing test.

    python3 scripts/bench_server.py [--clients 64] [--duration 60] [--time-floor S]
                                    [--workers N] [--per-test-samples 40]
                                    [--client light|httpx]
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
DATASET = DATA / "evalplus" / "HumanEvalPlus.jsonl.gz"
SAMPLES = DATA / "codet" / "humaneval_codegen16b_100per_task.samples.jsonl.gz"


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


def distinct_items(floor: float | None) -> list[dict[str, object]]:
    """Distinct (task, completion) pairs of the 100-per-task file, interleaved by task."""
    import gzip

    seen: set[tuple[str, str]] = set()
    by_task: dict[str, list[dict[str, object]]] = {}
    with gzip.open(SAMPLES, "rt") as f:
        for line in f:
            row = json.loads(line)
            key = (row["task_id"], row["solution"])
            if key in seen:
                continue
            seen.add(key)
            item: dict[str, object] = {"dataset": "humaneval+", "task_id": row["task_id"],
                                       "solution": row["solution"], "suite": "base"}
            if floor is not None:
                item["limits"] = {"time_floor_s": floor}
            by_task.setdefault(row["task_id"], []).append(item)
    out: list[dict[str, object]] = []
    queues = list(by_task.values())
    while any(queues):
        for q in queues:
            if q:
                out.append(q.pop(0))
    return out


def start_server(workers: int | None) -> tuple[subprocess.Popen[str], str]:
    args = [sys.executable, "-m", "codeeval", "serve", "--port", "0",
            "--dataset", f"humaneval+={DATASET}"]
    if workers:
        args += ["--workers", str(workers)]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stderr is not None
    line = proc.stderr.readline()
    m = re.search(r"serving on (http://\S+)", line)
    if not m:
        proc.kill()
        raise SystemExit(f"server did not start: {line}{proc.stderr.read()}")
    import httpx

    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{m.group(1)}/healthz", timeout=5).status_code == 200:
                return proc, m.group(1)
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("server never became ready")


class _Conn:
    """One keep-alive HTTP/1.1 connection of the light load generator (asyncio streams):
    POSTs a prepared JSON body, reads the status line, headers and a Content-Length body."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                          b"Content-Length: %d\r\n\r\n%s" % (path.encode(), self.host.encode(),
                                                             len(body), body))
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            headers = {k.strip().lower(): v.strip() for k, _, v in
                       (line.partition(":") for line in lines[1:] if line)}
            if "content-length" not in headers:
                raise ConnectionError(f"no Content-Length in the answer ({lines[0]})")
            data = await self.reader.readexactly(int(headers["content-length"]))
        except BaseException:
            self.close()
            raise
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def load(url: str, items: list[dict[str, object]], clients: int, duration: float,
               client_kind: str = "light") -> dict[str, object]:
    """Run ``clients`` closed-loop clients for ``duration`` seconds, each posting one item
    at a time. ``light``: keep-alive HTTP/1.1 over asyncio streams, with the request bodies
    encoded beforehand, so that the load generator takes little of the CPU the server
    needs on the same machine; ``httpx``: httpx.AsyncClient, as codeeval.client uses."""
    import httpx

    latencies: list[float] = []
    verdicts: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    next_item = 0
    stop_at = time.monotonic() + duration
    bodies = [json.dumps({"items": [item]}).encode() for item in items]
    host, _, port = url.removeprefix("http://").partition(":")
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:

        async def client() -> None:
            nonlocal next_item
            conn = _Conn(host, int(port))
            while time.monotonic() < stop_at:
                i = next_item % len(items)  # round again if the run outlasts the list
                next_item += 1
                t = time.monotonic()
                try:
                    if client_kind == "light":
                        status, data = await asyncio.wait_for(
                            conn.post("/v1/score", bodies[i]), 120)
                    else:
                        r = await http.post(f"{url}/v1/score", content=bodies[i],
                                            headers={"content-type": "application/json"})
                        status, data = r.status_code, r.content
                except (OSError, asyncio.IncompleteReadError, TimeoutError,
                        httpx.HTTPError) as e:
                    errors[f"transport {type(e).__name__}"] += 1
                    continue
                latencies.append(time.monotonic() - t)
                if status != 200:
                    errors[f"HTTP {status}"] += 1
                    continue
                res = json.loads(data)["results"][0]
                if res["error"] is not None:
                    errors[f"item {res['error']['kind']}"] += 1
                else:
                    verdicts[res["verdict"]] += 1
            conn.close()

        began = time.monotonic()
        cpu0, busy0 = os.times(), _machine_busy()
        await asyncio.gather(*(client() for _ in range(clients)))
        cpu1, busy1 = os.times(), _machine_busy()
        elapsed = time.monotonic() - began
    done = sum(verdicts.values())
    requests = len(latencies) or 1
    own = cpu1.user + cpu1.system - cpu0.user - cpu0.system
    return {"scored": done, "elapsed_s": elapsed, "per_s": done / elapsed,
            "rounds": next_item / len(items),
            "p50_s": pct(latencies, 0.5), "p99_s": pct(latencies, 0.99),
            "errors": dict(errors), "verdicts": dict(verdicts),
            "client_ms_per_request": own / requests * 1000,
            "client_share": own / (busy1 - busy0) if busy1 > busy0 else 0.0,
            "machine_busy": (busy1 - busy0) / (elapsed * (os.cpu_count() or 1))}


def _machine_busy() -> float:
    """Seconds of CPU the whole machine has spent busy since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def traces(pid: int) -> list[str]:
    tag = f"run-{pid}-"
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if tag in Path(f"/proc/{entry}/cgroup").read_text():
                    found.append(f"process {entry}")
            except OSError:
                pass
    found += glob.glob(f"{tempfile.gettempdir()}/codeeval-*/{tag}*")
    found += glob.glob(f"/sys/fs/cgroup/**/{tag}*", recursive=True)
    return found


def per_test_pattern(items: list[dict[str, object]], n: int) -> dict[str, object]:
    """One ``codeeval run`` process per test case, stop at a sample's first failure."""
    from codeeval import config
    from codeeval.datasets import evalplus
    from codeeval.sandbox import open_backend
    from codeeval.score.references import load_or_compute

    problems = {p.task_id: p for p in evalplus.load(str(DATASET), flavour="humaneval+")}
    chosen = items[:n]
    expected = {}
    with open_backend() as backend:
        for it in chosen:
            tid = str(it["task_id"])
            if tid not in expected:
                problem, exp, _ = load_or_compute(backend, problems[tid],
                                                  Path(config.settings().cache))
                expected[tid] = (problem, exp)
    runs = 0
    passed = 0
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        for it in chosen:
            problem, exp = expected[str(it["task_id"])]
            program = str(it["solution"])
            ok = True
            for i, args in enumerate(problem.suites["base"]):
                if i in exp.failed:
                    continue
                src = Path(tmp) / "main.py"
                src.write_text(f"{program}\n\nprint(repr({problem.entry_point}(*{args!r})))\n")
                r = subprocess.run([sys.executable, "-m", "codeeval", "run", str(src), "--json",
                                    "--time-limit", "1"], capture_output=True, text=True)
                runs += 1
                out = json.loads(r.stdout) if r.stdout.strip() else {}
                if out.get("status") != "OK" or out.get("stdout", "").strip() != repr(
                        exp.outputs[i]):
                    ok = False
                    break
            passed += ok
    elapsed = time.monotonic() - began
    return {"samples": len(chosen), "processes": runs, "elapsed_s": elapsed,
            "per_s": len(chosen) / elapsed, "passed": passed}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--time-floor", type=float, default=None,
                    help="per-test CPU floor sent with every item (default: the server's, 1 s)")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--per-test-samples", type=int, default=40)
    ap.add_argument("--client", choices=("light", "httpx"), default="light",
                    help="the load generator: light (keep-alive HTTP/1.1 over asyncio "
                         "streams, default) or httpx (as codeeval.client); both run here, on "
                         "the server's cores, and the CPU they take is printed")
    args = ap.parse_args()
    if not SAMPLES.exists():
        raise SystemExit(f"needs {SAMPLES}")
    items = distinct_items(args.time_floor)
    proc, url = start_server(args.workers)
    try:
        result = asyncio.run(load(url, items, args.clients, args.duration, args.client))
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=120)
    time.sleep(0.5)
    left = traces(proc.pid)
    floor = args.time_floor if args.time_floor is not None else "server default (1 s)"
    print(f"server: {args.clients} concurrent clients, {args.duration:g} s, base suite, "
          f"per-test floor {floor}")
    print(f"  scored {result['scored']} in {result['elapsed_s']:.1f} s = "
          f"{result['per_s']:.1f}/s; latency p50 {result['p50_s'] * 1000:.0f} ms, "
          f"p99 {result['p99_s'] * 1000:.0f} ms ({result['rounds']:.2f} rounds of the "
          f"{len(items)} items)")
    print(f"  errors: {result['errors'] or 'none'}; verdicts: {result['verdicts']}")
    print(f"  machine {result['machine_busy']:.0%} busy; the load generator ({args.client}) "
          f"took {result['client_ms_per_request']:.2f} ms of CPU per request, "
          f"{result['client_share']:.0%} of the machine's busy time")
    print(f"  server exit code {code}; leaked after shutdown: {left or 'nothing'}")
    if args.per_test_samples > 0:
        per_test = per_test_pattern(items, args.per_test_samples)
        print(f"one process per test (codeeval run per test case): {per_test['samples']} "
              f"samples, {per_test['processes']} processes in {per_test['elapsed_s']:.1f} s = "
              f"{per_test['per_s']:.2f}/s")
        print(f"ratio server / per-test: {result['per_s'] / per_test['per_s']:.1f}x")
    else:
        print("one process per test: not measured (--per-test-samples 0)")
    ok = code == 0 and not left and not result["errors"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""``codeeval serve`` end to end: a real server process, real HTTP on loopback, real sandboxes.

Each test starts its own server (``serve`` fixture) and stops it with SIGTERM; the fixture
checks that it exits 0 and leaves no process, scratch directory or cgroup of its runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import PROBLEMS, Server

pytestmark = pytest.mark.slow

TWO_SUM = "native/two_sum"
RIGHT = ("def two_sum(nums, target):\n    seen = {}\n    for j, x in enumerate(nums):\n"
         "        if target - x in seen:\n            return (seen[target - x], j)\n"
         "        seen[x] = j\n")
LOOP = "def two_sum(nums, target):\n    while True:\n        pass\n"


def sleeper(seconds: float) -> str:
    """Right, after sleeping (wall time, no CPU) on the first call."""
    return RIGHT.replace("def two_sum(nums, target):\n", "import time\nslept = []\n"
                         "def two_sum(nums, target):\n    if not slept:\n"
                         f"        slept.append(time.sleep({seconds}))\n", 1)


def post_in_background(server: Server, items: list[dict[str, Any]]
                       ) -> tuple[threading.Thread, list[Any]]:
    """POST ``items`` to /v1/score from a thread (its answer goes to the list); return once
    an item is running."""
    answers: list[Any] = []
    thread = threading.Thread(target=lambda: answers.append(
        server.post("/v1/score", {"items": items})))
    thread.start()
    deadline = time.monotonic() + 10
    while "codeeval_items_running 1.0" not in server.get("/metrics")[1]:
        assert time.monotonic() < deadline, "no item of the request started in 10 s"
        time.sleep(0.02)
    return thread, answers


def items_of(body: Any) -> list[dict[str, Any]]:
    assert isinstance(body, dict), body
    results: list[dict[str, Any]] = body["results"]
    return results


def test_scores_a_batch_with_per_item_results(serve: Any) -> None:
    server: Server = serve("--dataset", str(PROBLEMS))
    wrong = (PROBLEMS / "two_sum" / "wrong" / "returns_list.py").read_text()
    code, _, body = server.post("/v1/score", {"items": [
        {"task_id": TWO_SUM, "solution": RIGHT},
        {"dataset": "problems", "task_id": TWO_SUM, "solution": wrong},
        {"task_id": TWO_SUM, "solution": LOOP, "limits": {"time_floor_s": 0.2}},
        {"task_id": TWO_SUM, "solution": "def two_sum(:\n"},
        {"task_id": "native/nope", "solution": RIGHT},
        {"task_id": TWO_SUM, "solution": RIGHT, "suite": "nope"},
        {"task_id": "native/sum_lines",
         "solution": "import sys\nprint(sum(int(x) for x in sys.stdin.read().split()))\n"},
        {"task_id": TWO_SUM, "response": f"Here it is:\n```python\n{RIGHT}```\n"},
    ]})
    assert code == 200
    r = items_of(body)
    assert [x["index"] for x in r] == list(range(8))
    assert (r[0]["verdict"], r[0]["reward"], r[0]["error"]) == ("AC", 1.0, None)
    assert r[0]["passed"] == r[0]["total"] > 10  # base tests plus the generated ones
    assert (r[1]["verdict"], r[1]["reward"]) == ("WA", 0.0)
    assert (r[2]["verdict"], r[2]["reward"]) == ("TLE", 0.0)
    assert (r[3]["verdict"], r[3]["reward"]) == ("CE", 0.0)
    for bad in (r[4], r[5]):
        assert bad["reward"] is None
        assert bad["error"]["kind"] == "bad_item"
        assert bad["error"]["retryable"] is False
    assert "native/nope" in r[4]["error"]["message"]
    assert "no suite 'nope'" in r[5]["error"]["message"]
    assert r[6]["verdict"] in ("AC", "WA")
    assert r[6]["error"] is None
    assert (r[7]["verdict"], r[7]["reward"]) == ("AC", 1.0)
    assert r[7]["extraction"]["source"]
    for x in r[:4]:
        assert x["timings"]["total_s"] >= x["timings"]["run_s"] > 0


def test_fraction_reward_runs_every_test(serve: Any) -> None:
    server: Server = serve("--dataset", str(PROBLEMS))
    # Right on inputs whose answer is not (0, 1), wrong on the others.
    half = RIGHT.replace("seen = {}", "seen = {}\n    if len(nums) > 3: return (0, 1)")
    code, _, body = server.post("/v1/score", {"reward": "fraction", "items": [
        {"task_id": TWO_SUM, "solution": half, "suite": "base"},
        {"task_id": TWO_SUM, "solution": RIGHT, "suite": "base"}]})
    assert code == 200
    r = items_of(body)
    assert r[1]["reward"] == 1.0
    assert r[1]["passed"] == r[1]["total"]
    assert 0 < r[0]["passed"] < r[0]["total"]
    assert r[0]["reward"] == pytest.approx(r[0]["passed"] / r[0]["total"])
    assert r[0]["verdict"] == "WA"


def test_inline_problems(serve: Any) -> None:
    server: Server = serve("--dataset", str(PROBLEMS))
    add = {"kind": "function", "entry_point": "pair", "inputs": [[1, 2], [3, 4]],
           "outputs": [[1, 2], [3, 4]]}
    code, _, body = server.post("/v1/score", {"items": [
        # JSON outputs: a tuple result compares as a list.
        {"problem": add, "solution": "def pair(a, b):\n    return (a, b)\n"},
        {"problem": add, "solution": "def pair(a, b):\n    return [b, a]\n"},
        {"problem": {"kind": "function", "entry_point": "sq", "inputs": [[2], [3]],
                     "reference": "def sq(x):\n    return x * x\n"},
         "solution": "def sq(x):\n    return x ** 2\n"},
        {"problem": {"kind": "stdio", "tests": [{"stdin": "1 2\n", "stdout": "3\n"},
                                                {"stdin": "5 5\n", "stdout": "10\n"}]},
         "solution": "a, b = map(int, input().split())\nprint(a + b)\n"},
        {"problem": {"kind": "stdio", "tests": [{"stdin": "1 2\n"}]},
         "solution": "print(3)\n"},
        {"problem": {"kind": "function", "entry_point": "f", "inputs": [[1]],
                     "reference": "def f(x):\n    raise ValueError\n"},
         "solution": "def f(x):\n    return 1\n"},
    ]})
    assert code == 200
    r = items_of(body)
    assert [x["verdict"] for x in r[:4]] == ["AC", "WA", "AC", "AC"]
    assert r[4]["error"]["kind"] == "bad_item"
    assert "stdout" in r[4]["error"]["message"]
    assert r[5]["error"]["kind"] == "unavailable"
    assert r[5]["error"]["retryable"] is False


def test_malformed_requests_get_422_with_the_field(serve: Any) -> None:
    server: Server = serve("--dataset", str(PROBLEMS))
    code, _, body = server.post("/v1/score", {"items": [{"task_id": TWO_SUM}]})
    assert code == 422
    assert "exactly one of 'solution'" in json.dumps(body)
    code, _, body = server.post("/v1/score", {"items": [], "reward": "all"})
    assert code == 422
    code, _, body = server.post("/v1/score", {"items": [{"task_id": TWO_SUM, "solution": "",
                                                        "bogus": 1}]})
    assert code == 422
    assert "bogus" in json.dumps(body)


def test_queue_full_is_429_with_retry_after(serve: Any) -> None:
    server: Server = serve("--dataset", str(PROBLEMS), "--workers", "1", "--max-queue", "1")
    slow = {"task_id": TWO_SUM, "solution": sleeper(1.5), "suite": "base",
            "limits": {"time_floor_s": 2}}
    first, answers = post_in_background(server, [slow, slow])
    code, headers, body = server.post("/v1/score", {"items": [slow]})
    assert code == 429
    assert int(headers["retry-after"]) >= 1
    assert isinstance(body, dict)
    assert body["retryable"] is True
    first.join()
    assert [a[0] for a in answers] == [200]
    _, metrics = server.get("/metrics")
    assert "codeeval_rejected_total 1.0" in metrics
    code, _, _ = server.post("/v1/score", {"items": [slow]})
    assert code == 200  # room again


def test_deadline_answers_in_time_with_retryable_errors(serve: Any) -> None:
    server: Server = serve("--dataset", str(PROBLEMS), "--workers", "1")
    slow = {"task_id": TWO_SUM, "solution": sleeper(3), "suite": "base",
            "limits": {"time_floor_s": 5}}
    started = time.monotonic()
    code, _, body = server.post("/v1/score", {"deadline_s": 1.0, "items": [slow, slow]})
    elapsed = time.monotonic() - started
    assert code == 200
    assert elapsed < 2.5
    for r in items_of(body):
        assert r["reward"] is None
        assert r["error"]["kind"] == "deadline"
        assert r["error"]["retryable"] is True


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _uid(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(x for x in status.splitlines() if x.startswith("Uid:")).split()[1])


def test_killing_a_sandbox_mid_request_is_a_retryable_error(serve: Any) -> None:
    from codeeval import config

    server: Server = serve("--dataset", str(PROBLEMS), "--retries", "0")
    s = config.settings()
    slow = {"task_id": TWO_SUM, "solution": sleeper(3), "suite": "base",
            "limits": {"time_floor_s": 5}}
    answer: list[Any] = []
    t = threading.Thread(target=lambda: answer.append(
        server.post("/v1/score", {"items": [slow, {"task_id": TWO_SUM, "solution": RIGHT}]})))
    t.start()
    def runs() -> set[int]:
        found = set()
        for pid in _descendants(server.proc.pid):
            # The fork server's run of a program (Python items run there), not an idle
            # pre-spawned sandbox (those wait as bubblewrap/setpriv).
            with contextlib.suppress(OSError, StopIteration):
                if (s.uid_base <= _uid(pid) < s.uid_base + s.uid_slots
                        and b"forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes()):
                    found.add(pid)
        return found

    # The sleeper is the run still there half a second later (the other item takes ms).
    program = None
    deadline = time.monotonic() + 20
    seen: set[int] = set()
    while program is None and time.monotonic() < deadline:
        now = runs()
        program = next(iter(seen & now), None)
        seen = now
        time.sleep(0.5)
    assert program is not None, "the sleeping program never showed up"
    # The program's parent is its sandbox: the init of the run's namespaces.
    parent = int(Path(f"/proc/{program}/stat").read_text().rsplit(")", 1)[1].split()[1])
    os.kill(parent, signal.SIGKILL)
    t.join(timeout=60)
    code, _, body = answer[0]
    assert code == 200
    killed, other = items_of(body)
    assert killed["reward"] is None
    assert killed["verdict"] == "SE"
    assert killed["error"]["kind"] == "infra"
    assert killed["error"]["retryable"] is True
    assert "sandbox" in killed["error"]["message"]
    assert (other["verdict"], other["reward"]) == ("AC", 1.0)
    # The server stays up and scores the same item again.
    code, _, body = server.post("/v1/score", {"items": [{"task_id": TWO_SUM, "solution": RIGHT}]})
    assert code == 200
    assert items_of(body)[0]["reward"] == 1.0
    _, metrics = server.get("/metrics")
    assert 'codeeval_item_errors_total{kind="infra"} 1.0' in metrics


def test_sigterm_drains_requests_in_flight(serve: Any) -> None:
    server: Server = serve("--dataset", str(PROBLEMS))
    slow = {"task_id": TWO_SUM, "solution": sleeper(1.5), "suite": "base",
            "limits": {"time_floor_s": 3}}
    t, answer = post_in_background(server, [slow])
    server.proc.send_signal(signal.SIGTERM)
    t.join(timeout=30)
    code, _, body = answer[0]
    assert code == 200
    assert items_of(body)[0]["verdict"] == "AC"
    assert server.proc.wait(timeout=30) == 0


def test_healthz_and_metrics(serve: Any) -> None:
    server: Server = serve("--dataset", str(PROBLEMS))
    code, body = server.get("/healthz")
    health = json.loads(body)
    assert code == 200
    assert health["status"] == "ready"
    assert health["problems"]["ready"] >= 5
    assert health["problems"]["failed"] == 0
    assert health["datasets"] == ["problems"]
    server.post("/v1/score", {"items": [{"task_id": TWO_SUM, "solution": RIGHT}]})
    code, text = server.get("/metrics")
    assert code == 200
    for name in ("codeeval_requests_total", "codeeval_request_seconds_bucket",
                 'codeeval_items_total{verdict="AC"} 1.0', "codeeval_queue_depth 0.0",
                 "codeeval_items_running 0.0", "codeeval_queue_capacity",
                 "codeeval_sandbox_pool", 'codeeval_item_seconds_bucket{le="0.5",phase="run"}',
                 'codeeval_problems{state="ready"}'):
        assert name in text, name


def test_run_code_speaks_sandboxfusion(serve: Any) -> None:
    server: Server = serve("--dataset", str(PROBLEMS))
    # The body verl's sandbox-fusion reward path sends.
    code, _, body = server.post("/run_code", {
        "compile_timeout": 10, "run_timeout": 5, "code": "print(int(input()) * 2)",
        "stdin": "21\n", "memory_limit_MB": 256, "language": "python", "files": {},
        "fetch_files": []})
    assert code == 200
    assert isinstance(body, dict)
    assert body["status"] == "Success"
    assert body["run_result"]["status"] == "Finished"
    assert body["run_result"]["stdout"] == "42\n"
    assert body["run_result"]["return_code"] == 0
    code, _, body = server.post("/run_code", {"code": "while True: pass", "run_timeout": 0.5,
                                              "language": "python"})
    assert code == 200
    assert isinstance(body, dict)
    assert body["status"] == "Failed"
    assert body["run_result"]["status"] == "TimeLimitExceeded"


def test_bad_flags_and_datasets_exit_2(tmp_path: Path) -> None:
    import subprocess
    import sys

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "codeeval", "serve", *args],
                              capture_output=True, text=True, timeout=60)

    r = run("--dataset", "humaneval+")
    assert r.returncode == 2
    assert "needs --dataset-path" in r.stderr
    r = run("--dataset", str(tmp_path / "missing"))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    r = run("--dataset", str(PROBLEMS), "--workers", "0")
    assert r.returncode == 2
    assert "--workers" in r.stderr
    r = run("--dataset", str(PROBLEMS), "--long-run", "-1")
    assert r.returncode == 2
    assert "--long-run must be 0 or more" in r.stderr


def test_port_in_use_exits_1() -> None:
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "codeeval", "serve", "--dataset",
                            str(PROBLEMS), "--port", str(port)], capture_output=True,
                           text=True, timeout=60)
    assert r.returncode == 1
    assert "cannot listen" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("long_run", ["0.3", "0"])
def test_a_long_run_gives_its_place_to_the_next_item(serve: Any, long_run: str) -> None:
    """With one worker, a run still going after --long-run seconds lets the next item
    start (and goes on to its own end); with --long-run 0 the next item waits for it."""
    server: Server = serve("--dataset", str(PROBLEMS), "--workers", "1",
                           "--long-run", long_run)
    slow = {"task_id": TWO_SUM, "solution": sleeper(3), "suite": "base",
            "limits": {"time_floor_s": 5}}
    first, answers = post_in_background(server, [slow])
    started = time.monotonic()
    code, _, body = server.post("/v1/score", {"items": [{"task_id": TWO_SUM,
                                                         "solution": RIGHT}]})
    waited = time.monotonic() - started
    assert code == 200
    assert items_of(body)[0]["reward"] == 1.0
    first.join()
    assert answers[0][0] == 200
    assert items_of(answers[0][2])[0]["reward"] == 1.0  # the long run went on to its end
    long_runs = "codeeval_long_runs_total 1.0" in server.get("/metrics")[1]
    if long_run == "0":
        assert waited > 2.0, "the next item should have waited for the only worker"
        assert not long_runs
    else:
        assert waited < 2.0, "the next item waited for the long run"
        assert long_runs

"""``codeeval score --executor ray``: the same results.jsonl as the local executor, on a real
local Ray instance; a worker killed mid-batch; an unreachable or malformed address.

Rows are compared whole, except two details of ``first_failure.reason`` that differ from
run to run on any executor, the local one included: the measured CPU time quoted for a
time-limit verdict (``CPU time 1.004 s over the limit 1 s``), and, for a program that dies
before answering, whether the supervisor noticed the exit or the closed channel first
(``the program ended early (exited)`` or ``(closed)``). Verdicts, counts, tests, inputs,
limits and everything else still have to match.

Ray runs only in child processes, each under :mod:`tests.distributed.reaper`: Ray is
stopped by the code under test (the CLI, or the executor as a context manager in a script),
and the reaper then checks that nothing Ray or the sandboxes started is left running. Ray is
never started in the test process itself, whose orphans would end as zombies there (see the
reaper's docstring).
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.distributed.reaper import LEFT_BEHIND, run_reaped
from tests.sandbox.conftest import _backend

PROBLEMS = Path(__file__).resolve().parents[2] / "problems"
HAS_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAS_RAY, reason="ray is not installed "
                                                   "(pip install 'codeeval[ray]')")

TWO_SUM_WRONG = "def two_sum(nums, target):\n    return (0, 1)\n"
TWO_SUM_LOOPS = "def two_sum(nums, target):\n    while True:\n        pass\n"
TWO_SUM_CRASHES = "import os\n\n\ndef two_sum(nums, target):\n    os.abort()\n"
TWO_SUM_EXITS = "def two_sum(nums, target):\n    raise SystemExit(3)\n"
SUM_LINES_WRONG = "print(0)\n"
SUM_LINES_LOOPS = "while True:\n    pass\n"
SUM_LINES_CRASHES = "import sys\nsys.exit(1)\n"


def _write_native_samples(path: Path) -> int:
    """Correct, wrong, looping and crashing programs for two native problems (one
    functional, one stdin/stdout), with a duplicate; returns the number of samples."""
    two_sum = (PROBLEMS / "two_sum" / "reference.py").read_text()
    sum_lines = (PROBLEMS / "sum_lines" / "reference.py").read_text()
    rows: list[dict[str, Any]] = [
        *({"task_id": "native/two_sum", "solution": f"{two_sum}\n# variant {i}\n"}
          for i in range(4)),
        {"task_id": "native/two_sum", "solution": TWO_SUM_WRONG},
        {"task_id": "native/two_sum", "solution": TWO_SUM_LOOPS},
        {"task_id": "native/two_sum", "solution": TWO_SUM_CRASHES},
        {"task_id": "native/two_sum", "solution": TWO_SUM_EXITS},
        {"task_id": "native/two_sum", "solution": two_sum},
        {"task_id": "native/two_sum", "solution": two_sum},  # a duplicate: run once
        {"task_id": "native/sum_lines", "solution": sum_lines},
        {"task_id": "native/sum_lines", "solution": SUM_LINES_WRONG},
        {"task_id": "native/sum_lines", "solution": SUM_LINES_LOOPS},
        {"task_id": "native/sum_lines", "solution": SUM_LINES_CRASHES},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return len(rows)


def comparable(results: Path) -> list[dict[str, Any]]:
    """The rows of ``results``, with the run-to-run details of reasons (module docstring)
    blanked."""
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    for row in rows:
        for suite in row["suites"].values():
            failure = suite.get("first_failure") or {}
            reason = failure.get("reason")
            if suite["verdict"] == "TLE" and isinstance(reason, str):
                failure["reason"] = re.sub(r"CPU time [0-9.]+ s", "CPU time <t> s", reason)
            if suite["verdict"] == "RE" and isinstance(reason, str):
                failure["reason"] = re.sub(r"ended early \((exited|closed)\)",
                                           "ended early (<how>)", reason)
    return rows


def _cli(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = run_reaped([sys.executable, "-m", "codeeval", "score", "--out", str(out), *args],
                      env={**os.environ, "CODEEVAL_CACHE": str(out.parent / "cache")})
    assert done.returncode != LEFT_BEHIND, done.stderr
    return done


def _verdicts(rows: list[dict[str, Any]]) -> list[str]:
    return [list(r["suites"].values())[-1]["verdict"] for r in rows]


@pytest.mark.slow
@needs_ray
def test_ray_cli_matches_local_on_native_problems(tmp_path: Path) -> None:
    _backend("namespace")
    samples = tmp_path / "samples.jsonl"
    n = _write_native_samples(samples)
    common = ("--dataset", str(PROBLEMS), "--samples", str(samples))
    local = _cli(tmp_path / "local", *common)
    assert local.returncode == 0, local.stderr
    ray = _cli(tmp_path / "ray", *common, "--executor", "ray")
    assert ray.returncode == 0, ray.stderr
    assert "Traceback" not in ray.stderr

    rows = comparable(tmp_path / "ray" / "results.jsonl")
    assert rows == comparable(tmp_path / "local" / "results.jsonl")
    assert len(rows) == n
    assert _verdicts(rows) == ["AC"] * 4 + ["WA", "TLE", "RE", "RE", "AC", "AC",
                                            "AC", "WA", "TLE", "RE"]
    summary = json.loads((tmp_path / "ray" / "summary.json").read_text())
    assert summary["executor"] == "ray"
    assert summary["ray"]["nodes"] == 1
    assert summary["ray"]["batches_failed"] == 0
    assert summary["distinct_programs_run"] == n - 1
    assert json.loads((tmp_path / "local" / "summary.json").read_text())["executor"] == "local"


@pytest.mark.slow
@needs_ray
def test_ray_cli_matches_local_on_humaneval_plus(shared_data: Path, tmp_path: Path) -> None:
    _backend("namespace")
    source = shared_data / "codet" / "humaneval_codegen16b_10per_task.samples.jsonl.gz"
    with gzip.open(source, "rt") as f:
        lines = [line for _, line in zip(range(60), f, strict=False)]
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(lines))
    common = ("--dataset", "humaneval+", "--dataset-path",
              str(shared_data / "evalplus" / "HumanEvalPlus.jsonl.gz"), "--samples",
              str(samples), "--k", "1,10")
    local = _cli(tmp_path / "local", *common)
    assert local.returncode == 0, local.stderr
    ray = _cli(tmp_path / "ray", *common, "--executor", "ray")
    assert ray.returncode == 0, ray.stderr
    rows = comparable(tmp_path / "ray" / "results.jsonl")
    assert len(rows) == 60
    assert rows == comparable(tmp_path / "local" / "results.jsonl")
    local_summary = json.loads((tmp_path / "local" / "summary.json").read_text())
    ray_summary = json.loads((tmp_path / "ray" / "summary.json").read_text())
    assert ray_summary["metrics"] == local_summary["metrics"]
    assert ray_summary["verdicts_by_suite"] == local_summary["verdicts_by_suite"]


#: Scores the native samples locally, then on a local Ray instance whose first attempt at
#: every batch kills its worker mid-batch, then with every attempt killed; writes
#: DIR/{local,retried,failed}/ and DIR/facts.json.
FAULT_SCRIPT = """
import json, sys
from pathlib import Path

import ray

from codeeval.datasets import native
from codeeval.distributed.ray_executor import RayExecutor
from codeeval.sandbox import open_backend
from codeeval.score.options import ScoreOptions
from codeeval.score.runner import score
from codeeval.score.samples import read_samples

out, problems_dir = Path(sys.argv[1]), sys.argv[2]
problems = list(native.load(problems_dir))
samples, bad = read_samples(out / "samples.jsonl", {p.task_id: p for p in problems})
facts = {}
with open_backend("namespace") as backend:
    def run(name, executor=None):
        summary = score(problems, samples, bad, backend, out / name, out / "cache",
                        ScoreOptions(jobs=4), executor=executor)
        facts[name] = {"infra_errors": summary.infra_errors, **summary.data}
    run("local")
    with RayExecutor(num_cpus=2):
        run("retried", RayExecutor(batch_size=4, crash_attempts=1))
        joined = RayExecutor(crash_attempts=2)
        run("failed", joined)
        joined.close()  # it joined the instance above: closing leaves that running
        facts["still_initialized_after_joined_close"] = ray.is_initialized()
    facts["initialized_after_owner_close"] = ray.is_initialized()
(out / "facts.json").write_text(json.dumps(facts))
"""


@pytest.fixture(scope="module")
def fault_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The output directory and facts of :data:`FAULT_SCRIPT` (run once for the module)."""
    if not HAS_RAY:
        pytest.skip("ray is not installed (pip install 'codeeval[ray]')")
    _backend("namespace")
    out = tmp_path_factory.mktemp("faults")
    _write_native_samples(out / "samples.jsonl")
    done = run_reaped([sys.executable, "-c", FAULT_SCRIPT, str(out), str(PROBLEMS)])
    assert done.returncode == 0, done.stderr
    return out, json.loads((out / "facts.json").read_text())


@pytest.mark.slow
def test_a_worker_killed_mid_batch_is_retried(fault_run: tuple[Path, dict[str, Any]]) -> None:
    out, facts = fault_run
    # Every first attempt killed its worker after one program; the retries finished.
    assert comparable(out / "retried" / "results.jsonl") == comparable(
        out / "local" / "results.jsonl")
    stats = facts["retried"]["ray"]
    assert stats["batches"] == 4  # two problems, 9 and 4 distinct programs, at most 4 each
    assert stats["batches_retried"] == 4
    assert stats["batches_failed"] == 0
    assert facts["retried"]["infra_errors"] == 0


@pytest.mark.slow
def test_a_batch_that_dies_twice_is_infra_errors_not_verdicts(
        fault_run: tuple[Path, dict[str, Any]]) -> None:
    out, facts = fault_run
    rows = [json.loads(line) for line in (out / "failed" / "results.jsonl").read_text()
            .splitlines()]
    assert len(rows) == 14
    for row in rows:
        for suite in row["suites"].values():
            assert suite["verdict"] == "SE"
            assert suite["first_failure"]["reason"].startswith(
                "Ray task failed twice: WorkerCrashedError")
    assert facts["failed"]["infra_errors"] == 14
    assert facts["failed"]["metrics"] == {}  # infra errors are left out of pass@k
    assert facts["failed"]["ray"]["batches_failed"] == 2


@pytest.mark.slow
def test_the_executor_stops_only_the_ray_it_started(
        fault_run: tuple[Path, dict[str, Any]]) -> None:
    _, facts = fault_run
    assert facts["still_initialized_after_joined_close"] is True
    assert facts["initialized_after_owner_close"] is False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@needs_ray
def test_unreachable_address_is_one_line_exit_1(tmp_path: Path) -> None:
    samples = tmp_path / "samples.jsonl"
    _write_native_samples(samples)
    address = f"127.0.0.1:{_free_port()}"
    done = _cli(tmp_path / "out", "--dataset", str(PROBLEMS), "--samples", str(samples),
                "--executor", "ray", "--ray-address", address)
    assert done.returncode == 1
    assert done.stderr.startswith(f"codeeval: error: no Ray cluster at {address}: ")
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "out" / "results.jsonl").exists()  # nothing ran


@pytest.mark.parametrize(("args", "message"), [
    (("--executor", "ray", "--ray-address", "no-port-here"), "expected HOST:PORT"),
    (("--ray-address", "127.0.0.1:6379"), "--ray-address needs --executor ray"),
    (("--executor", "spark"), "invalid choice: 'spark'"),
])
def test_bad_executor_flags_are_bad_input(tmp_path: Path, args: tuple[str, ...],
                                          message: str) -> None:
    samples = tmp_path / "samples.jsonl"
    _write_native_samples(samples)
    done = _cli(tmp_path / "out", "--dataset", str(PROBLEMS), "--samples", str(samples), *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_missing_ray_is_an_install_hint(tmp_path: Path) -> None:
    samples = tmp_path / "samples.jsonl"
    _write_native_samples(samples)
    code = ("import sys\nsys.modules['ray'] = None  # as if Ray were not installed\n"
            "from codeeval.cli.main import main\n"
            f"sys.exit(main(['score', '--dataset', {str(PROBLEMS)!r}, '--samples', "
            f"{str(samples)!r}, '--out', {str(tmp_path / 'out')!r}, '--executor', 'ray']))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip() == ("codeeval: error: --executor ray needs Ray: "
                                   "pip install 'codeeval[ray]'")


@pytest.mark.slow
@needs_ray
def test_server_fans_items_out_to_ray_with_the_local_answers(tmp_path: Path) -> None:
    """``codeeval serve --executor ray``: each item a Ray task, the same answers as the
    local executor; Ray and every sandbox gone after SIGTERM (the reaper checks)."""
    _backend("namespace")
    done = run_reaped([sys.executable, "-m", "tests.distributed.serve_ray_check"],
                      env={**os.environ, "CODEEVAL_CACHE": str(tmp_path / "cache")})
    assert done.returncode != LEFT_BEHIND, done.stderr
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)

    def answers(body: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [(r["verdict"], r["reward"], r["passed"], r["total"],
                 (r["error"] or {}).get("kind")) for r in body["results"]]

    local, ray = out["local"], out["ray"]
    assert (local["status"], ray["status"], local["exit"], ray["exit"]) == (200, 200, 0, 0)
    assert answers(ray["body"]) == answers(local["body"])
    assert [a[0] for a in answers(ray["body"])] == ["AC", "WA", "TLE", "RE", None, "AC", "WA"]
    assert answers(ray["body"])[4][4] == "bad_item"  # an item's own error, not a Ray failure
    assert answers(ray["fraction"]) == answers(local["fraction"])
    assert 0 < ray["fraction"]["results"][1]["reward"] < 1
    assert local["executor"] == {"executor": "local"}
    assert ray["executor"]["executor"] == "ray"
    assert ray["executor"]["ray"]["nodes"] == 1
    # 6 items scored in the first request (the bad suite is raised back as the item's
    # input error, on the cluster) + 2 in the second
    assert ray["executor"]["ray"]["items"] == 8
    assert ray["executor"]["ray"]["items_failed"] == 0

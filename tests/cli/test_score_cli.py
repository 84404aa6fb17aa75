"""``codeeval score`` end to end on real HumanEval+ data (a small slice of the shared file)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sandbox.conftest import _backend

TASKS = ("HumanEval/0", "HumanEval/2", "HumanEval/53")


@pytest.fixture
def slice_samples(shared_data: Path, tmp_path: Path) -> Path:
    source = shared_data / "codet" / "humaneval_codegen16b_10per_task.samples.jsonl.gz"
    with gzip.open(source, "rt") as f:
        rows = [json.loads(line) for line in f]
    path = tmp_path / "samples.jsonl"
    with path.open("w") as f:
        for r in rows:
            if r["task_id"] in TASKS:
                f.write(json.dumps(r) + "\n")
        f.write("{broken\n")
        f.write(json.dumps({"task_id": "HumanEval/0", "answer": "x"}) + "\n")
    return path


def score(shared_data: Path, samples: Path, out: Path, *extra: str
          ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codeeval", "score", "--dataset", "humaneval+",
         "--dataset-path", str(shared_data / "evalplus" / "HumanEvalPlus.jsonl.gz"),
         "--samples", str(samples), "--out", str(out), "--k", "1,10", *extra],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "CODEEVAL_CACHE": str(out.parent / "cache")})


def test_score_writes_the_contract_and_resumes(shared_data: Path, slice_samples: Path,
                                               tmp_path: Path) -> None:
    _backend("namespace")
    out = tmp_path / "out"
    first = score(shared_data, slice_samples, out)
    assert first.returncode == 2, first.stderr  # two malformed lines were reported
    assert f"{slice_samples}:31: not a JSON object" in first.stderr
    assert f"{slice_samples}:32: needs exactly one of" in first.stderr
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["sample_index"] for r in rows] == list(range(30))
    assert [r["task_id"] for r in rows] == [t for t in TASKS for _ in range(10)]
    for r in rows:
        assert set(r["suites"]) == {"base", "plus"}
        for suite in r["suites"].values():
            assert {"verdict", "passed", "total", "first_failure"} <= set(suite)
    summary = json.loads((out / "summary.json").read_text())
    for key in ("n_samples", "n_problems", "metrics", "verdicts", "infra_errors", "wall_time_s",
                "backend", "codeeval_version"):
        assert key in summary
    assert summary["n_samples"] == 30
    assert summary["n_problems"] == 3
    assert set(summary["metrics"]["plus"]) == {"pass@1", "pass@1_se", "pass@10", "pass@10_se"}
    assert summary["infra_errors"] == 0
    assert len(summary["malformed_samples"]) == 2
    # HumanEval/53 (add) is solved by all ten samples; plus never beats base.
    assert all(r["suites"]["plus"]["verdict"] == "AC" for r in rows[20:])
    assert summary["metrics"]["plus"]["pass@1"] <= summary["metrics"]["base"]["pass@1"]

    again = score(shared_data, slice_samples, out, "--resume")
    summary2 = json.loads((out / "summary.json").read_text())
    assert summary2["reused_from_previous_run"] == 30
    assert summary2["distinct_programs_run"] == 0
    assert summary2["metrics"] == summary["metrics"]
    assert again.returncode == 2


def test_score_bad_input_is_one_line(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "codeeval", "score", "--dataset", "humaneval+",
                          "--samples", str(tmp_path / "none.jsonl")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "--dataset-path" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_score_mbpp_plus_end_to_end(shared_data: Path, tmp_path: Path) -> None:
    _backend("namespace")
    release = shared_data / "evalplus" / "MbppPlus.jsonl.gz"
    with gzip.open(release, "rt") as f:
        rows = {r["task_id"]: r for r in map(json.loads, f)}
    samples = tmp_path / "mbpp.jsonl"
    with samples.open("w") as f:
        for tid in ("Mbpp/2", "Mbpp/737", "Mbpp/88"):  # tuple inputs, regex oracle, Counter
            f.write(json.dumps({"task_id": tid, "solution": rows[tid]["canonical_solution"]})
                    + "\n")
        f.write(json.dumps({"task_id": "Mbpp/2", "solution":
                            "def similar_elements(a, b):\n    return list(a)\n"}) + "\n")
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "codeeval", "score", "--dataset", "mbpp+", "--dataset-path",
         str(release), "--samples", str(samples), "--out", str(out), "--k", "1"],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "CODEEVAL_CACHE": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stderr
    verdicts = [json.loads(line)["suites"]["plus"]["verdict"]
                for line in (out / "results.jsonl").read_text().splitlines()]
    assert verdicts == ["AC", "AC", "AC", "WA"]


def test_score_humaneval_package_examples(tmp_path: Path) -> None:
    """The README's first command: the embedded defaults, no shared data needed."""
    _backend("namespace")
    repo = Path(__file__).resolve().parents[2]
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "codeeval", "score", "--dataset", "humaneval", "--samples",
         str(repo / "problems" / "humaneval-examples.jsonl"), "--out", str(out)],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "CODEEVAL_CACHE": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stderr
    verdicts = [json.loads(line)["suites"]["base"]["verdict"]
                for line in (out / "results.jsonl").read_text().splitlines()]
    assert verdicts == ["AC", "WA", "AC", "WA", "AC", "WA"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["metrics"]["base"]["pass@1"] == 0.5
    assert summary["references"]["computed"] == 3

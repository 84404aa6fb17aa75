"""``codeeval score`` on the native problems shipped in ``problems/``, end to end.

Every reference (canonical and alternate) must pass every suite, every known-wrong program
must fail, raw responses are extracted and scored, and the summary reports static quality
and where each problem's limits came from.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from codeeval.datasets import native
from codeeval.datasets.problem import Problem
from codeeval.languages import language_for_path
from tests.sandbox.conftest import _backend

PROBLEMS = Path(__file__).resolve().parents[2] / "problems"

TWO_SUM_RESPONSE = (
    "Use a dictionary of positions:\n\n```python\ndef two_sum(nums, target):\n"
    "    where = {}\n    for j, x in enumerate(nums):\n        if target - x in where:\n"
    "            return (where[target - x], j)\n        where[x] = j\n\n\n"
    "print(two_sum([2, 7], 9))\nassert two_sum([3, 3], 6) == (0, 1)\n```\n")
SUM_LINES_RESPONSE = (
    "```python\nimport sys\n\n\ndef main():\n    lines = sys.stdin.read().split('\\n')\n"
    "    for line in lines[1:int(lines[0]) + 1]:\n        print(sum(map(int, line.split())))\n"
    "\n\nif __name__ == '__main__':\n    main()\n```\nThis reads all input at once.")


def _samples(problems: list[Problem]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for p in problems:
        rows.append({"task_id": p.task_id, "solution": p.reference, "expect": "right"})
        for name, code in p.extra.get("alternate_references", ()):
            rows.append({"task_id": p.task_id, "solution": code, "expect": "right",
                         "name": name, "language": language_for_path(name).name})
        for name, code in p.known_wrong:
            rows.append({"task_id": p.task_id, "solution": code, "expect": "wrong",
                         "name": name, "language": language_for_path(name).name})
    rows.append({"task_id": "native/two_sum", "response": TWO_SUM_RESPONSE, "expect": "right"})
    rows.append({"task_id": "native/sum_lines", "response": SUM_LINES_RESPONSE,
                 "expect": "right"})
    rows.append({"task_id": "native/running_mean", "completion": "    return ()\n",
                 "expect": "wrong"})
    return rows


def _score(samples: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codeeval", "score", "--dataset", str(PROBLEMS),
         "--samples", str(samples), "--out", str(out), *extra],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "CODEEVAL_CACHE": str(out.parent / "cache")})


@pytest.mark.slow
def test_native_problems_score_end_to_end(tmp_path: Path) -> None:
    _backend("namespace")
    problems = native.load(PROBLEMS)
    assert {p.task_id for p in problems} == {
        "native/two_sum", "native/running_mean", "native/sum_lines", "native/pair_with_sum",
        "native/circle_area", "native/range_sums"}
    rows = _samples(problems)
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    run = _score(samples, out, "--static")
    assert run.returncode == 0, run.stderr
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(results) == len(rows)
    for row, result in zip(rows, results, strict=True):
        verdicts = {name: s["verdict"] for name, s in result["suites"].items()}
        label = f"{row['task_id']} {row.get('name', '')}: {result['suites']}"
        if row["expect"] == "right":
            assert set(verdicts.values()) == {"AC"}, label
        else:
            assert verdicts[list(verdicts)[-1]] != "AC", label
            assert "SE" not in verdicts.values(), label
        if row.get("language", "python") == "python":
            assert result["static"]["error"] is None
        else:  # static analysis covers Python only
            assert "static" not in result
    # Generated inputs extend the last suite: 5 tests + 40 generated for two_sum.
    two_sum = next(r for r in results if r["task_id"] == "native/two_sum")
    assert (two_sum["suites"]["base"]["total"], two_sum["suites"]["plus"]["total"]) == (5, 45)
    # The quadratic known-wrong program passes the small tests and times out on big ones.
    quadratic = next(r for row, r in zip(rows, results, strict=True)
                     if row.get("name") == "wrong/quadratic.py")
    assert quadratic["suites"]["base"]["verdict"] == "AC"
    assert quadratic["suites"]["plus"]["verdict"] == "TLE"
    assert "0.50 s" in quadratic["suites"]["plus"]["first_failure"]["reason"]
    # The custom checker explains its rejection.
    zero_based = next(r for row, r in zip(rows, results, strict=True)
                      if row.get("name") == "wrong/zero_based.py")
    assert zero_based["suites"]["base"]["first_failure"]["reason"].startswith("checker: ")
    # Responses record how their code was found.
    extracted = [r for r in results if "extraction" in r]
    assert [r["extraction"]["source"] for r in extracted] == ["fenced block 1 of 1"] * 2
    assert extracted[0]["extraction"]["dropped"] == [
        "top-level call print(...)", "top-level assert: assert two_sum([3, 3], 6) == (0, 1)"]

    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_problems"] == 6
    assert summary["infra_errors"] == 0
    others = [r for r in rows if r.get("language", "python") != "python"]  # all distinct
    assert summary["static"]["programs"] == summary["distinct_programs_run"] - len(others)
    limits = summary["time_limits"]
    assert limits["problems_by_source"] == {"problem": 2, "default": 4}
    assert limits["from_problem"]["native/two_sum"] == {"floor_s": 0.5, "factor": 5.0,
                                                        "memory_mb": 512}
    assert limits["from_problem"]["native/sum_lines"]["memory_mb"] == 256
    assert summary["references"]["computed"] == 6

    # A second run reuses the cached references (with their generated inputs) and,
    # with --resume, every result.
    again = _score(samples, out, "--static", "--resume")
    assert again.returncode == 0, again.stderr
    summary2 = json.loads((out / "summary.json").read_text())
    assert summary2["references"] == {"from_cache": 0, "computed": 0, "failed": {}}
    assert summary2["reused_from_previous_run"] == len(rows)
    assert (out / "results.jsonl").read_text().splitlines() == [
        json.dumps(r) for r in results]

    # Limits from the command line override the problem's (and change the content keys).
    third = _score(samples, tmp_path / "out3", "--time-floor", "2")
    assert third.returncode == 0, third.stderr
    summary3 = json.loads((tmp_path / "out3" / "summary.json").read_text())
    assert summary3["references"]["from_cache"] == 6
    assert summary3["time_limits"]["problems_by_source"] == {"command line": 6}

"""The executor seam of ``codeeval score``: how units are batched for Ray, and what the
runner does with an executor that misses or repeats a unit."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from codeeval.datasets import native
from codeeval.datasets.problem import FunctionalProblem
from codeeval.distributed.ray_executor import batches
from codeeval.harness.functional import Expected
from codeeval.score.executor import LocalExecutor, Unit, score_unit
from codeeval.score.options import ScoreOptions
from codeeval.score.runner import score
from codeeval.score.samples import Sample
from tests.sandbox.conftest import _backend

PROBLEMS = Path(__file__).resolve().parents[2] / "problems"


def _unit(task: str, i: int) -> Unit:
    problem = FunctionalProblem(task_id=task, prompt="", entry_point="f", reference="",
                                suites={"base": ()})
    return Unit(f"{task}#{i}", problem, Expected((), (), {}), Sample(i, i + 1, task, "pass"))


def test_batches_group_by_task_and_split_evenly() -> None:
    units = [_unit("a", i) for i in range(13)] + [_unit("b", 13)] + [_unit("a", 14)]
    got = batches(units, 6)
    assert [[u.key for u in b] for b in got] == [
        ["a#0", "a#1", "a#2", "a#3"], ["a#4", "a#5", "a#6", "a#7", "a#8"],
        ["a#9", "a#10", "a#11", "a#12", "a#14"], ["b#13"]]
    assert batches([], 6) == []


class _Forgetful:
    """Skips the first unit and reports the second twice, the second time wrongly."""

    def __init__(self, inner: LocalExecutor) -> None:
        self.inner = inner

    def results(self, units: Sequence[Unit], options: ScoreOptions
                ) -> Iterator[tuple[str, dict[str, Any]]]:
        yield from self.inner.results(units[1:], options)
        yield units[1].key, {"suites": {}}

    def describe(self) -> dict[str, Any]:
        return {"executor": "forgetful"}


def test_runner_makes_a_unit_never_reported_an_infra_row(tmp_path: Path) -> None:
    backend = _backend("namespace")
    problems = [p for p in native.load(str(PROBLEMS)) if p.task_id == "native/two_sum"]
    reference = (PROBLEMS / "two_sum" / "reference.py").read_text()
    samples = [Sample(0, 1, "native/two_sum", reference),
               Sample(1, 2, "native/two_sum", "def two_sum(nums, target):\n    return (0, 1)\n"),
               Sample(2, 3, "native/two_sum", reference)]
    summary = score(problems, samples, [], backend, tmp_path / "out", tmp_path / "cache",
                    ScoreOptions(jobs=2), executor=_Forgetful(LocalExecutor(backend, 2)))
    rows = [json.loads(line)
            for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert [r["sample_index"] for r in rows] == [0, 1, 2]
    for r in (rows[0], rows[2]):  # the same program: one unit, never reported
        assert {s["verdict"] for s in r["suites"].values()} == {"SE"}
        assert r["suites"]["base"]["first_failure"]["reason"] == (
            "the executor returned no result")
    assert rows[1]["suites"]["base"]["verdict"] == "WA"  # the first report stands
    assert summary.infra_errors == 2
    assert summary.data["executor"] == "forgetful"
    assert summary.data["distinct_programs_run"] == 2


def test_score_unit_is_what_the_local_executor_yields(tmp_path: Path) -> None:
    backend = _backend("namespace")
    problem = next(p for p in native.load(str(PROBLEMS)) if p.task_id == "native/two_sum")
    from codeeval.score.references import load_or_compute

    problem, expected, _ = load_or_compute(backend, problem, tmp_path)
    unit = Unit("k", problem, expected, Sample(0, 1, problem.task_id,
                                               "def two_sum(nums, target):\n    return 1\n"))
    options = ScoreOptions(jobs=1)
    direct = score_unit(backend, unit, options)
    assert list(LocalExecutor(backend, 1).results([unit], options)) == [("k", direct)]
    assert direct["suites"]["base"]["verdict"] == "WA"

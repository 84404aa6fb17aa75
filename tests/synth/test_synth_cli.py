"""codeeval synth and codeeval suite-quality from the command line, on the shipped native
problems (a call-based and a stdin/stdout one), end to end in the real sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeeval.cli.main import main
from codeeval.datasets import native
from codeeval.datasets.problem import FunctionalProblem, StdioProblem

PROBLEMS = Path(__file__).resolve().parents[2] / "problems"


@pytest.fixture(scope="module")
def synthesised(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    code = main(["synth", "--dataset", str(PROBLEMS), "--problems",
                 "native/two_sum,native/sum_lines", "--out", str(out), "--count", "0.3",
                 "--seeds-from", "all", "--mutants", "8"])
    assert code == 0
    return out


def test_synth_writes_native_problems_with_provenance(synthesised: Path) -> None:
    report = json.loads((synthesised / "synth_report.json").read_text())
    assert report["statuses"] == {"done": 2}
    problems = {p.task_id: p for p in native.load(synthesised)}
    two_sum, sum_lines = problems["native/two_sum"], problems["native/sum_lines"]
    assert isinstance(two_sum, FunctionalProblem)
    assert isinstance(sum_lines, StdioProblem)
    # The problem generator's inputs became explicit tests; the synthesised ones follow.
    assert list(two_sum.suites) == ["base", "plus", "synth"]
    assert len(two_sum.suites["plus"]) == len(two_sum.suites["base"]) + 40
    generators = {p["generator"] for p in two_sum.provenance.values()}
    assert {"original", "problem-generator"} <= generators
    assert generators - {"original", "problem-generator"} <= {"boundary", "hypothesis",
                                                              "mutation", "scale"}
    per = report["per_problem"]["native/two_sum"]
    assert per["programs"]["known_wrong"] == 3
    assert per["selected"] == len(two_sum.suites["synth"]) - len(two_sum.suites["plus"])
    # The stdio problem keeps its checker and validator; its tests carry provenance too.
    assert sum_lines.checker.kind == "tokens"
    assert sum_lines.validator is not None
    assert (synthesised / "native_sum_lines" / "tests" / "provenance.jsonl").is_file()
    assert all("generator" in p for p in sum_lines.provenance.values())


def test_resume_reuses_what_was_written(synthesised: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    before = (synthesised / "native_two_sum" / "tests.jsonl").read_text()
    code = main(["synth", "--dataset", str(PROBLEMS), "--problems",
                 "native/two_sum,native/sum_lines", "--out", str(synthesised), "--count",
                 "0.3", "--seeds-from", "all", "--mutants", "8", "--resume"])
    assert code == 0
    report = json.loads((synthesised / "synth_report.json").read_text())
    assert report["statuses"] == {"reused": 2}
    assert (synthesised / "native_two_sum" / "tests.jsonl").read_text() == before


def test_synthesised_suites_score_and_reject_the_known_wrong(synthesised: Path,
                                                             tmp_path: Path) -> None:
    problems = {p.task_id: p for p in native.load(synthesised)}
    samples = tmp_path / "samples.jsonl"
    with samples.open("w") as f:
        for tid in ("native/two_sum", "native/sum_lines"):
            p = problems[tid]
            f.write(json.dumps({"task_id": tid, "solution": p.reference}) + "\n")
            for _, src in p.known_wrong:
                f.write(json.dumps({"task_id": tid, "solution": src}) + "\n")
    out = tmp_path / "score"
    assert main(["score", "--dataset", str(synthesised), "--samples", str(samples),
                 "--out", str(out)]) == 0
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    verdicts = [r["suites"]["synth"]["verdict"] for r in rows]
    # The references pass; every known-wrong program fails (and never as an infra error).
    assert verdicts[0] == "AC"
    assert verdicts[4] == "AC"
    assert all(v not in ("AC", "SE") for i, v in enumerate(verdicts) if i not in (0, 4))


def test_suite_quality_side_by_side(synthesised: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    report_path = tmp_path / "q.json"
    code = main(["suite-quality", "--dataset", str(PROBLEMS), "--problems", "native/two_sum",
                 "--add", f"{synthesised}:synth", "--mutants", "8", "--coverage",
                 "--auc-n", "5", "--out", str(report_path)])
    assert code == 0
    table = capsys.readouterr().out
    assert "detection rate" in table
    assert "synth" in table
    report = json.loads(report_path.read_text())
    base, plus, synth = (report["suites"][s] for s in ("base", "plus", "synth"))
    assert base["wrong_programs"] == plus["wrong_programs"] == synth["wrong_programs"] == 3
    assert base["correct_programs"] == 2  # the two references
    assert synth["tests"] > plus["tests"] > base["tests"]
    assert synth["detection_rate_micro"] >= base["detection_rate_micro"]
    assert synth["false_rejection_rate"] == 0.0
    assert synth["mutation_score_mean"] >= base["mutation_score_mean"]
    assert 0 < synth["branch_coverage_mean"] <= 1
    assert "auc@5" in synth


def test_reduced_seeds_write_one_suite_within_the_cap(tmp_path: Path) -> None:
    """--reduce-seeds --max-ratio: every problem's suite, existing tests included, fits the
    cap, and it is written as the one suite 'synth', which scores (a call-based and a
    stdin/stdout problem)."""
    out = tmp_path / "compact"
    code = main(["synth", "--dataset", str(PROBLEMS), "--problems",
                 "native/two_sum,native/sum_lines", "--out", str(out), "--count", "0.3",
                 "--seeds-from", "all", "--mutants", "8", "--reduce-seeds", "--max-ratio",
                 "0.25"])
    assert code == 0
    originals = {p.task_id: p for p in native.load(PROBLEMS)}
    report = json.loads((out / "synth_report.json").read_text())["per_problem"]
    samples = tmp_path / "samples.jsonl"
    lines = []
    for problem in native.load(out):
        tid = problem.task_id
        assert list(problem.suites) == ["synth"], tid
        per = report[tid]
        assert per["budget"] == max(1, int(0.25 * per["seeds"])), tid
        assert per["seeds_kept"] + per["selected"] == len(problem.suites["synth"]), tid
        assert len(problem.suites["synth"]) <= per["budget"], tid
        lines += [json.dumps({"task_id": tid, "solution": src}) + "\n"
                  for src in (problem.reference, *(w for _, w in problem.known_wrong))]
    # two_sum's largest suite holds its problem generator's 40 inputs too.
    assert report["native/two_sum"]["seeds"] == len(originals["native/two_sum"].suites["base"]) + 40
    assert report["native/two_sum"]["seeds_kept"] < report["native/two_sum"]["seeds"]
    samples.write_text("".join(lines))
    assert main(["score", "--dataset", str(out), "--samples", str(samples),
                 "--out", str(tmp_path / "scored")]) == 0
    rows = [json.loads(line) for line in
            (tmp_path / "scored" / "results.jsonl").read_text().splitlines()]
    verdicts = [r["suites"]["synth"]["verdict"] for r in rows]
    assert "SE" not in verdicts
    assert len(verdicts) == len(lines)
    references = {o.reference for o in native.load(out)}
    for row, line in zip(rows, lines, strict=True):
        if json.loads(line)["solution"] in references:
            assert row["suites"]["synth"]["verdict"] == "AC", row


@pytest.mark.parametrize(("argv", "message"), [
    (["--generators", "nope"], "unknown 'nope'"),
    (["--problems", "native/none"], "no task 'native/none'"),
    (["--cover", "0"], "--cover 0"),
    (["--reduce-seeds", "--no-reduce"], "--reduce-seeds and --no-reduce"),
])
def test_bad_input_is_one_line_and_exit_2(argv: list[str], message: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["synth", "--dataset", str(PROBLEMS), "--out", str(tmp_path), *argv])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1

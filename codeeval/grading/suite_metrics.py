"""How strong is a test suite? Pure metrics over a problem's kill matrix.

For one problem, a suite of tests ``t_1..t_n`` in order, and programs labelled *correct* or
*wrong*, the kill matrix says which tests reject which programs (a test rejects a program
when the program's answer there is wrong, or it crashes or runs out of time). Cells a run
never reached are unknown, and count as not rejecting. The definitions follow SAGA
("Rethinking Verification for LLM Code Generation", 2025) where SAGA defines them:

- **Detection rate (DR)**: the share of wrong programs that at least one test rejects.
  Reported per problem, pooled over all wrong programs (``micro``), and as the mean over
  problems that have wrong programs (``macro``).
- **Verifier accuracy (VAcc)**: the share of problems whose suite rejects *every* wrong
  program (problems without wrong programs are left out).
- **False rejection rate**: the share of correct programs some test rejects (a suite that
  rejects a right answer is wrong itself: an invalid input or a bad expected output).
- **DEPC** (distinct error pattern coverage): the number of distinct non-zero columns of
  the kill matrix, i.e. distinct sets of wrong programs that single tests reject; the
  **diversity ratio** is DEPC divided by the number of tests. Tests that reject the same
  programs add nothing new, however many there are.
- **AUC@N**: the area under the curve of verifier accuracy against suite size ``k``, for
  the first ``k`` tests of each suite, ``k = 1..N``, by the trapezoid rule, divided by
  ``N - 1`` (so a suite whose first test already rejects every wrong program scores 1).
  A suite with fewer than ``k`` tests counts with all of them. SAGA does not say whether
  the size-``k`` suites are prefixes or random subsets; prefixes make the figure
  deterministic and reward suites that put their strongest tests first.
- **Mutation score**: the same detection rate with mutants of the reference as the wrong
  programs (mutants no test rejects may be equivalent to the reference; they are counted,
  as is usual, because telling them apart is undecidable).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class KillMatrix:
    """One problem's suite against its programs.

    ``rejects[p]`` is the set of test indices (``0..tests-1``) that reject program ``p``;
    ``wrong`` and ``correct`` name the programs of each label.
    """

    tests: int
    rejects: Mapping[str, frozenset[int]]
    wrong: tuple[str, ...]
    correct: tuple[str, ...] = ()
    unreached: int = 0  # cells no run got to (counted as not rejecting)

    def restricted(self, k: int) -> KillMatrix:
        """The same programs against the first ``k`` tests only."""
        k = min(k, self.tests)
        return KillMatrix(k, {p: frozenset(i for i in s if i < k)
                              for p, s in self.rejects.items()}, self.wrong, self.correct)


@dataclass(frozen=True, slots=True)
class ProblemQuality:
    """The metrics of one problem's suite."""

    tests: int
    wrong: int
    detected: int
    correct: int
    falsely_rejected: int
    depc: int
    all_detected: bool
    vacc_curve: tuple[bool, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {"tests": self.tests, "wrong": self.wrong, "detected": self.detected,
                "detection_rate": _ratio(self.detected, self.wrong),
                "correct": self.correct, "falsely_rejected": self.falsely_rejected,
                "depc": self.depc, "diversity_ratio": _ratio(self.depc, self.tests),
                "all_wrong_detected": self.all_detected if self.wrong else None}


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 6) if b else None


def measure(m: KillMatrix, *, auc_n: int = 0) -> ProblemQuality:
    """The metrics of one problem; ``auc_n`` > 1 also records VAcc for sizes 1..auc_n."""
    detected = sum(1 for p in m.wrong if m.rejects.get(p))
    false = sum(1 for p in m.correct if m.rejects.get(p))
    columns: dict[int, set[str]] = {}
    for p in m.wrong:
        for t in m.rejects.get(p, ()):
            columns.setdefault(t, set()).add(p)
    depc = len({frozenset(c) for c in columns.values() if c})
    curve: tuple[bool, ...] = ()
    if auc_n > 1 and m.wrong:
        first = {p: min(m.rejects[p]) if m.rejects.get(p) else None for p in m.wrong}
        curve = tuple(all(f is not None and f < k for f in first.values())
                      for k in range(1, auc_n + 1))
    return ProblemQuality(tests=m.tests, wrong=len(m.wrong), detected=detected,
                          correct=len(m.correct), falsely_rejected=false, depc=depc,
                          all_detected=bool(m.wrong) and detected == len(m.wrong),
                          vacc_curve=curve)


def auc(curve: Sequence[float]) -> float | None:
    """Trapezoid area under ``curve`` (values at k = 1..N), divided by N - 1."""
    if len(curve) < 2:
        return None
    area = sum((curve[i] + curve[i + 1]) / 2 for i in range(len(curve) - 1))
    return area / (len(curve) - 1)


def summarise(per_problem: Mapping[str, ProblemQuality], *, auc_n: int = 0) -> dict[str, Any]:
    """Suite-level figures over problems (see the module docstring for each)."""
    qs: Iterable[ProblemQuality] = per_problem.values()
    qs = list(qs)
    with_wrong = [q for q in qs if q.wrong]
    wrong = sum(q.wrong for q in qs)
    detected = sum(q.detected for q in qs)
    correct = sum(q.correct for q in qs)
    false = sum(q.falsely_rejected for q in qs)
    tests = sum(q.tests for q in qs)
    out: dict[str, Any] = {
        "problems": len(qs), "problems_with_wrong_programs": len(with_wrong),
        "tests": tests, "tests_per_problem": _ratio(tests, len(qs)),
        "wrong_programs": wrong, "detected": detected,
        "detection_rate_micro": _ratio(detected, wrong),
        "detection_rate_macro": _ratio(sum(q.detected / q.wrong for q in with_wrong),
                                       len(with_wrong)),
        "verifier_accuracy": _ratio(sum(q.all_detected for q in with_wrong), len(with_wrong)),
        "correct_programs": correct, "falsely_rejected": false,
        "false_rejection_rate": _ratio(false, correct),
        "depc_mean": _ratio(sum(q.depc for q in with_wrong), len(with_wrong)),
        "diversity_ratio_mean": _ratio(sum(q.depc / q.tests for q in with_wrong if q.tests),
                                       len([q for q in with_wrong if q.tests]))}
    if auc_n > 1 and with_wrong:
        curve = [sum(q.vacc_curve[k] for q in with_wrong) / len(with_wrong)
                 for k in range(auc_n)]
        out[f"auc@{auc_n}"] = round(auc(curve) or 0.0, 6)
        out["vacc_at"] = {str(k): round(curve[k - 1], 6) for k in (1, 2, 5, 10, 20, 50, 100)
                          if k <= auc_n}
    return out

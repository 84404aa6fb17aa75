"""Where distinct programs are scored: the unit of work, the pure function that scores one,
and the executors that run many (here, a thread pool; a Ray cluster in
:mod:`codeeval.distributed.ray_executor`).

A :class:`Unit` carries everything needed to judge one program: the problem (with its
inputs), the reference outputs and times computed on the driver, and the sample. Since the
expected outputs travel with the unit, per-test time limits are the driver's wherever the
unit runs. :func:`score_unit` turns a unit into the outcome row that ``results.jsonl``
stores; it retries sandbox failures and, if they persist, returns an infra row (verdict
``SE``), never a verdict of the program.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Protocol

from codeeval.datasets.problem import FunctionalProblem, Problem
from codeeval.errors import SandboxError
from codeeval.harness import functional, stdio
from codeeval.harness.functional import Expected, SuiteOutcome
from codeeval.languages import get_language
from codeeval.model.verdict import Verdict
from codeeval.sandbox.base import Backend
from codeeval.score.options import ScoreOptions
from codeeval.score.samples import Sample


@dataclass(frozen=True, slots=True)
class Unit:
    """One distinct program to score: its content key, problem, reference outputs, sample."""

    key: str
    problem: Problem
    expected: Expected
    sample: Sample


def score_unit(backend: Backend, unit: Unit, options: ScoreOptions) -> dict[str, Any]:
    """Judge ``unit`` on every suite of its problem (and analyse it when ``options.static``).

    A sandbox failure is retried ``options.retries`` times; if it persists, the row is an
    infra row (:func:`infra_row`).

    Returns:
        The outcome row: ``{"suites": {name: outcome}}``, plus ``"static"`` when asked for.

    Raises:
        Nothing deliberately: sandbox failures become infra rows; any other exception is a bug.
    """
    last_error = ""
    for _ in range(options.retries + 1):
        try:
            suites = judge(backend, unit.problem, unit.sample, unit.expected, options)
            row: dict[str, Any] = {"suites": {n: o.to_json() for n, o in suites.items()}}
            if options.static and unit.sample.language == "python":
                from codeeval.score import static

                row["static"] = static.analyse(unit.sample.program)
            return row
        except SandboxError as e:
            last_error = str(e)
    return infra_row(unit.problem, last_error)


def judge(backend: Backend, problem: Problem, sample: Sample, expected: Expected,
          options: ScoreOptions) -> dict[str, SuiteOutcome]:
    """Run ``sample`` on the suites of ``problem`` under the limits ``options`` give it.

    Returns:
        The outcome of each suite, by suite name.

    Raises:
        SandboxError: the sandbox failed (not the program).
    """
    policy, _ = options.policy_for(problem)
    memory = options.memory_for(problem)
    if isinstance(problem, FunctionalProblem):
        return functional.judge(backend, problem, sample.program, expected, policy=policy,
                                memory_mb=memory, all_tests=options.all_tests)
    return stdio.judge(backend, problem, sample.program, expected, policy=policy,
                       memory_mb=memory, all_tests=options.all_tests,
                       language=get_language(sample.language))


def infra_row(problem: Problem, reason: str) -> dict[str, Any]:
    """The outcome row of a program that could not be scored because the system failed.

    Returns:
        A row whose every suite has verdict ``SE`` and ``reason`` (cut to 500 characters).
    """
    return {"suites": {name: {"verdict": Verdict.SE.value, "passed": 0, "total": len(suite),
                              "first_failure": {"reason": reason[:500]}}
                       for name, suite in problem.suites.items()}}


class Executor(Protocol):
    """Scores units somewhere and streams their outcome rows back."""

    def results(self, units: Sequence[Unit], options: ScoreOptions
                ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Score every unit once.

        Returns:
            An iterator of ``(unit key, outcome row)`` in completion order, one per unit.

        Raises:
            CodeevalError: the executor itself cannot work (a lost cluster, say).
        """
        ...

    def describe(self) -> dict[str, Any]:
        """What ``summary.json`` records about the executor (at least ``executor``).

        Returns:
            A JSON-ready mapping merged into the summary.
        """
        ...


class LocalExecutor:
    """Scores units on this machine: a thread pool of ``jobs`` workers over ``backend``."""

    def __init__(self, backend: Backend, jobs: int) -> None:
        self._backend = backend
        self._jobs = max(1, jobs)

    def results(self, units: Sequence[Unit], options: ScoreOptions
                ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Score every unit with :func:`score_unit` on the thread pool.

        Returns:
            An iterator of ``(unit key, outcome row)`` in completion order.

        Raises:
            Nothing deliberately (see :func:`score_unit`).
        """
        if not units:
            return
        with ThreadPoolExecutor(max_workers=self._jobs) as pool:
            futures = {pool.submit(score_unit, self._backend, u, options): u.key for u in units}
            for fut in as_completed(futures):
                yield futures[fut], fut.result()

    def describe(self) -> dict[str, Any]:
        """Returns:
            ``{"executor": "local"}``.
        """
        return {"executor": "local"}

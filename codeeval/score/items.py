"""Score single items, one program against one problem: the work unit of the reward server.

A :class:`ProblemBank` holds the problems a server loaded at start, each with its reference
outputs computed once (and cached on disk like ``codeeval score`` does). An item names a
problem of the bank, or carries an inline problem (:func:`inline_function_problem`,
:func:`inline_stdio_problem`), and :func:`score_item` judges one program on one suite:

* ``reward="all"``: stop at the first failing test; the reward is 1.0 on AC, else 0.0;
* ``reward="fraction"``: run every test; the reward is the share of tests passed.

A sandbox failure is retried ``retries`` times; if it persists, the outcome carries the
verdict ``SE``, no reward and the error: the caller reports it as retryable, never as a
reward of 0.
"""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeeval.datasets.problem import (
    CHECKER_KINDS,
    CheckerSpec,
    FunctionalProblem,
    Problem,
    StdioProblem,
    digest,
)
from codeeval.errors import InputError, SandboxError
from codeeval.harness import functional, stdio
from codeeval.harness.functional import Expected, ReferenceFailed, TimePolicy
from codeeval.languages import get_language
from codeeval.model.verdict import Verdict
from codeeval.sandbox.base import Backend
from codeeval.score.references import load_or_compute

REWARD_MODES = ("all", "fraction")
ORACLE_JSON = "json_equal"
DEFAULT_POLICY = TimePolicy()
DEFAULT_MEMORY_MB = 4096


class UnknownProblem(InputError):
    """An item names a dataset or task the server did not load."""


class ProblemUnavailable(InputError):
    """The problem is known but cannot be scored: its reference failed on this server."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """A problem with its expected outputs, ready to judge programs."""

    problem: Problem
    expected: Expected

    def suite(self, name: str | None) -> tuple[str, Problem]:
        """The suite called ``name`` (``None``: the last, strongest one) and the problem
        cut down to it (suites are cumulative, so the cut keeps expected outputs aligned).

        Raises:
            InputError: the problem has no suite of that name.
        """
        suites = self.problem.suites
        if not suites:
            raise InputError(f"{self.problem.task_id}: the problem has no tests")
        chosen = list(suites)[-1] if name is None else name
        if chosen not in suites:
            raise InputError(f"{self.problem.task_id}: no suite {chosen!r} "
                             f"(it has {', '.join(suites)})")
        if len(suites) == 1:
            return chosen, self.problem
        cut: Problem = dataclasses.replace(
            self.problem, suites={chosen: suites[chosen]})  # type: ignore[arg-type]
        return chosen, cut


@dataclass(frozen=True, slots=True)
class ItemOptions:
    """How to score one item."""

    suite: str | None = None
    reward: str = "all"
    #: ``None`` takes the problem's own limits, else the defaults of ``codeeval score``.
    time_floor_s: float | None = None
    time_factor: float | None = None
    memory_mb: int | None = None
    retries: int = 1

    def policy_for(self, problem: Problem) -> TimePolicy:
        """The per-test time policy for ``problem``."""
        floor = self.time_floor_s if self.time_floor_s is not None else (
            problem.limits.time_floor_s)
        factor = self.time_factor if self.time_factor is not None else (
            problem.limits.time_factor)
        return TimePolicy(DEFAULT_POLICY.floor_s if floor is None else floor,
                          DEFAULT_POLICY.factor if factor is None else factor)

    def memory_for(self, problem: Problem) -> int:
        """The memory limit in MiB."""
        return self.memory_mb or problem.limits.memory_mb or DEFAULT_MEMORY_MB


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """How one program did on one suite. ``verdict`` SE means the sandbox failed: then
    ``reward`` is ``None`` and ``error`` says why."""

    verdict: Verdict
    reward: float | None
    passed: int
    total: int
    suite: str
    first_failure: dict[str, Any] | None = None
    run_s: float = 0.0
    attempts: int = 1
    error: str | None = None


def score_item(backend: Backend, prepared: Prepared, program: str, *,
               language: str = "python", options: ItemOptions = ItemOptions()) -> ItemOutcome:
    """Judge ``program`` on one suite of ``prepared``.

    Returns:
        The outcome; a sandbox failure that persisted through the retries is an outcome
        with verdict SE (never a reward).

    Raises:
        InputError: the suite, language or reward mode does not fit the problem.
    """
    if options.reward not in REWARD_MODES:
        raise InputError(f"reward {options.reward!r}: expected one of {', '.join(REWARD_MODES)}")
    suite, problem = prepared.suite(options.suite)
    lang = get_language(language)
    if isinstance(problem, FunctionalProblem) and lang.name != "python":
        raise InputError(f"{problem.task_id} is a function problem, which runs Python only")
    policy, memory = options.policy_for(problem), options.memory_for(problem)
    all_tests = options.reward == "fraction"
    started = time.monotonic()
    error = ""
    for attempt in range(1, options.retries + 2):
        try:
            if isinstance(problem, FunctionalProblem):
                outcomes = functional.judge(backend, problem, program, prepared.expected,
                                            policy=policy, memory_mb=memory,
                                            all_tests=all_tests)
            else:
                outcomes = stdio.judge(backend, problem, program, prepared.expected,
                                       policy=policy, memory_mb=memory, all_tests=all_tests,
                                       language=lang)
        except SandboxError as e:
            error = str(e)
            continue
        o = outcomes[suite]
        elapsed = time.monotonic() - started
        if o.verdict is Verdict.SE:  # the harness could not finish: not the program's fault
            error = str((o.first_failure or {}).get("reason", "incomplete run"))
            continue
        if all_tests:
            reward = o.passed / o.total if o.total else 0.0
        else:
            reward = 1.0 if o.verdict is Verdict.AC else 0.0
        return ItemOutcome(o.verdict, reward, o.passed, o.total, suite, o.first_failure,
                           elapsed, attempt)
    total = len(problem.suites[suite])
    return ItemOutcome(Verdict.SE, None, 0, total, suite, None, time.monotonic() - started,
                       options.retries + 1, error[:500] or "sandbox failure")


@dataclass
class ProblemBank:
    """Problems by dataset and task id, each with its reference outputs.

    ``load`` computes (or reads from the cache) every reference; inline problems are
    prepared on demand and kept in a small LRU keyed by their content.
    """

    datasets: Mapping[str, Sequence[Problem]]
    prepared: dict[tuple[str, str], Prepared] = field(default_factory=dict)
    failed: dict[tuple[str, str], str] = field(default_factory=dict)
    inline_cache_size: int = 256
    _inline: OrderedDict[str, Prepared] = field(default_factory=OrderedDict)

    def load(self, backend: Backend, cache_dir: Path, *, jobs: int = 2,
             progress: Callable[[int, int], None] | None = None) -> None:
        """Compute or read every problem's reference outputs. A problem whose reference
        fails is recorded in :attr:`failed` (its items get a clear error); the rest load.
        Never raises for one problem's failure."""
        todo = [(name, p) for name, problems in self.datasets.items() for p in problems]

        def one(item: tuple[str, Problem]) -> None:
            name, problem = item
            try:
                full, expected, _ = load_or_compute(backend, problem, cache_dir)
                self.prepared[(name, problem.task_id)] = Prepared(full, expected)
            except SandboxError as e:
                self.failed[(name, problem.task_id)] = str(e)[:500]

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for done, _ in enumerate(pool.map(one, todo), 1):
                if progress is not None:
                    progress(done, len(todo))

    def get(self, dataset: str | None, task_id: str) -> Prepared:
        """The prepared problem ``task_id`` of ``dataset`` (``None``: the only dataset).

        Raises:
            UnknownProblem: no such dataset or task here.
            ProblemUnavailable: its reference failed when the server loaded it.
        """
        if dataset is None:
            if len(self.datasets) != 1:
                raise UnknownProblem(f"name the dataset of {task_id!r}: this server has "
                                     f"{', '.join(self.datasets) or 'none'}")
            dataset = next(iter(self.datasets))
        if dataset not in self.datasets:
            raise UnknownProblem(f"dataset {dataset!r} is not loaded here (loaded: "
                                 f"{', '.join(self.datasets) or 'none'})")
        key = (dataset, task_id)
        if key in self.failed:
            raise ProblemUnavailable(f"{dataset} {task_id}: reference failed: {self.failed[key]}")
        found = self.prepared.get(key)
        if found is None:
            raise UnknownProblem(f"dataset {dataset!r} has no task {task_id!r}")
        return found

    def inline(self, backend: Backend, problem: Problem, expected: Expected | None,
               cache_dir: Path | None = None) -> Prepared:
        """Prepare an inline problem: with ``expected`` given, as is; otherwise by running
        its reference (in the sandbox; once per distinct problem while it stays cached).

        Raises:
            ProblemUnavailable: the reference fails.
            SandboxError: the sandbox failed while running the reference.
        """
        key = problem.source_digest
        hit = self._inline.get(key)
        if hit is not None:
            self._inline.move_to_end(key)
            return hit
        if expected is None:
            try:
                if cache_dir is not None:
                    problem, expected, _ = load_or_compute(backend, problem, cache_dir)
                elif isinstance(problem, FunctionalProblem):
                    expected = functional.run_reference(backend, problem)
                else:
                    expected = stdio.run_reference(backend, problem)
            except ReferenceFailed as e:
                raise ProblemUnavailable(str(e)) from None
            if expected.failed:
                # The caller chose these inputs: one the reference fails on is their error.
                i, why = min(expected.failed.items())
                raise ProblemUnavailable(f"the reference fails on input {i}: {why}")
        prepared = Prepared(problem, expected)
        self._inline[key] = prepared
        while len(self._inline) > self.inline_cache_size:
            self._inline.popitem(last=False)
        return prepared


def inline_function_problem(entry_point: str, inputs: Sequence[Sequence[Any]], *,
                            outputs: Sequence[Any] | None = None, reference: str | None = None,
                            prompt: str = "", atol: float = 0.0, task_id: str = "inline"
                            ) -> tuple[FunctionalProblem, Expected | None]:
    """A call-based problem given by its tests: ``inputs[i]`` are the arguments of call
    ``i``; expected values come from ``outputs`` (JSON values, compared as JSON: tuples as
    lists) or from running ``reference`` (compared strictly, like datasets).

    Returns:
        The problem, and its expected outputs when ``outputs`` gave them.

    Raises:
        InputError: neither or both of ``outputs`` and ``reference``; lengths differ; no tests.
    """
    if not entry_point.isidentifier():
        raise InputError(f"entry_point {entry_point!r} is not a Python identifier")
    if not inputs:
        raise InputError("an inline problem needs at least one test")
    if (outputs is None) == (reference is None):
        raise InputError("an inline function problem needs exactly one of 'outputs' and "
                         "'reference'")
    if outputs is not None and len(outputs) != len(inputs):
        raise InputError(f"{len(inputs)} inputs but {len(outputs)} outputs")
    args = tuple(tuple(a) for a in inputs)
    source = digest({"kind": "function", "entry": entry_point, "inputs": [list(a) for a in args],
                     "outputs": None if outputs is None else list(outputs),
                     "reference": reference, "prompt": prompt, "atol": atol})
    problem = FunctionalProblem(
        task_id=task_id, prompt=prompt, entry_point=entry_point, reference=reference or "",
        suites={"tests": args}, atol=atol,
        oracle=ORACLE_JSON if outputs is not None else "equal", source_digest=source)
    if outputs is None:
        return problem, None
    return problem, Expected(tuple(outputs), (0.0,) * len(args), {})


def inline_stdio_problem(stdins: Sequence[str], *, stdouts: Sequence[str] | None = None,
                         reference: str | None = None, reference_language: str = "python",
                         checker: str = "tokens", task_id: str = "inline"
                         ) -> tuple[StdioProblem, Expected | None]:
    """A stdin/stdout problem given by its tests; expected outputs are ``stdouts`` or the
    ``reference``'s, compared with ``checker`` (``exact``, ``lines``, ``tokens``, ``float``).

    Raises:
        InputError: neither or both of ``stdouts`` and ``reference``; lengths differ; no
            tests; an unknown checker.
    """
    if not stdins:
        raise InputError("an inline problem needs at least one test")
    if (stdouts is None) == (reference is None):
        raise InputError("an inline stdio problem needs exactly one of 'stdouts' and "
                         "'reference'")
    if stdouts is not None and len(stdouts) != len(stdins):
        raise InputError(f"{len(stdins)} stdins but {len(stdouts)} stdouts")
    if checker not in CHECKER_KINDS or checker == "custom":
        raise InputError(f"checker {checker!r}: expected exact, lines, tokens or float")
    tests = tuple(s.encode() for s in stdins)
    source = digest({"kind": "stdio", "stdins": list(stdins), "stdouts": stdouts,
                     "reference": reference, "language": reference_language,
                     "checker": checker})
    answers = {} if stdouts is None else {i: s.encode() for i, s in enumerate(stdouts)}
    problem = StdioProblem(task_id=task_id, prompt="", reference=reference or "",
                           suites={"tests": tests}, checker=CheckerSpec(kind=checker),
                           answers=answers, source_digest=source,
                           reference_language=get_language(reference_language).name)
    if stdouts is None:
        return problem, None
    return problem, Expected(tuple(answers[i] for i in range(len(tests))),
                             (0.0,) * len(tests), {})

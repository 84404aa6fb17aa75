"""Synthesise a stronger suite for one call-based problem.

The steps, each reported with counts (and examples of what was dropped):

1. **Propose.** Every generator asked for (:mod:`codeeval.synth.generators`, and LLM
   generator programs from :mod:`codeeval.synth.llm`) proposes inputs from the problem's
   signature and its existing tests (the seeds), each with its provenance.
2. **Deduplicate** against the seeds and each other (canonical encoding: sets and dicts in
   a sorted order).
3. **Validate** with the problem's input contract (its ``validate``), in the sandbox.
4. **Oracle.** The canonical reference runs on the survivors, in the sandbox, with a CPU
   budget per input; inputs it raises on, times out on or never reaches are dropped and
   reported, and so are finite inputs it answers with a NaN or an infinity (degenerate:
   the reference overflowed). Every other reference runs too: an input on which two
   references disagree is dropped and reported (the problem is ambiguous there, or a
   reference is wrong).
5. **Measure.** Mutants of the reference (:mod:`codeeval.synth.mutants`) and the problem's
   known-wrong programs run on the seeds and every kept input; a test kills a program when
   the program's answer is not a right answer there (or it crashes or times out).
6. **Reduce** (:mod:`codeeval.synth.reduce`): the seeds stay, and the fewest kept inputs
   that kill everything the whole set kills, and reach every input/output class it
   reaches (:mod:`codeeval.synth.features`), are added, within the budget. The input the
   reference works hardest on (its executed lines, counted under a tracer) comes first
   whatever the budget: only such inputs expose right but needlessly slow programs, which
   no mutant models. With ``reduce_seeds`` the seeds compete like the other inputs, so a
   budget holds for the whole suite.

Expected outputs are not stored with the tests: ``codeeval score`` recomputes them from the
reference, as for every native problem.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from codeeval.datasets.problem import FunctionalProblem, Problem
from codeeval.errors import InputError
from codeeval.harness.functional import (
    ReferenceFailed,
    correct,
    describe,
    digest_threshold,
    longest_suite,
)
from codeeval.harness.outcomes import NotLoaded, Outcome, run_inputs
from codeeval.harness.values import ProtocolError, encode
from codeeval.model.verdict import Verdict
from codeeval.sandbox.base import Backend
from codeeval.synth import generators as gen
from codeeval.synth.features import STRESS, STRESS_WEIGHT, alone, edge_class, features_of, stress
from codeeval.synth.mutants import make_mutants
from codeeval.synth.reduce import covered, greedy_cover
from codeeval.synth.shapes import infer

_VALIDATE = """

def __codeeval_validate__(*args):
    validate(*args)
    return True
"""
# Counts the lines of the reference's own code (its module's functions) a call executes: a
# measure of work that, unlike a time, is the same on every run and every machine.
_WORK = """

def __codeeval_work__(*args):
    import sys
    module = globals()
    count = [0]

    def line(frame, event, arg):
        if event == "line":
            count[0] += 1
            if count[0] >= {cap}:
                return None
        return line

    def call(frame, event, arg):
        return line if frame.f_globals is module and count[0] < {cap} else None

    sys.settrace(call)
    try:
        {entry}(*args)
    finally:
        sys.settrace(None)
    return count[0]
"""
#: Lines counted at most per call (beyond it, every test is as heavy as the next).
WORK_CAP = 1_000_000
#: How many examples of each kind of dropped input a report shows.
EXAMPLES = 3


@dataclass(frozen=True, slots=True)
class SynthOptions:
    """How to synthesise.

    Attributes:
        generators: LLM-free generators to run (see :data:`generators.GENERATORS`).
        seed: the seed every generator gets; the same seed gives the same suite.
        budget: how many inputs each generator proposes, and their sizes.
        reference_time_s: CPU budget of the reference per input; slower inputs are dropped
            (a test the reference needs much time for makes a time limit that right but
            slower programs fail: a stress test, not a correctness test).
        mutants: how many mutants of the reference measure the tests (0: none).
        mutant_time_s: the least CPU budget per test for a mutant (else 4 x reference).
        mutant_total_s: CPU budget of one mutant over all tests (the rest go unmeasured).
        reduce: choose a reduced suite (else every kept input is written).
        max_tests: at most this many synthesised tests per problem after reduction.
        max_ratio: at most this fraction of the dataset's largest suite, seeds included.
        reduce_seeds: the existing tests compete with the synthesised ones instead of
            staying whole, and budgets count the whole suite, so a cap holds even where the
            existing tests alone exceed it; the written problem then has one suite.
        cover: how many tests should kill each mutant / wrong program (multi-cover).
        features: reduction also keeps a test of every input/output class the kept inputs
            reach (:mod:`codeeval.synth.features`), not only of every kill.
        memory_mb: memory limit of every sandboxed run.
    """

    generators: tuple[str, ...] = ("boundary", "hypothesis", "mutation", "scale")
    seed: int = 0
    budget: gen.Budget = field(default_factory=gen.Budget)
    reference_time_s: float = 0.05
    mutants: int = 40
    mutant_time_s: float = 0.25
    mutant_total_s: float = 5.0
    reduce: bool = True
    max_tests: int | None = None
    max_ratio: float | None = None
    reduce_seeds: bool = False
    cover: int = 4
    features: bool = True
    memory_mb: int = 4096


@dataclass(frozen=True, slots=True)
class SynthTest:
    """A test input with its provenance."""

    args: tuple[Any, ...]
    provenance: dict[str, Any]


@dataclass
class SynthResult:
    """A problem's seeds, the tests of its synthesised suite, and the report of how (for a
    stdin/stdout problem, each test's ``args`` is ``(stdin bytes,)``). ``tests`` are the
    synthesised tests chosen, preceded with ``reduce_seeds`` by the seeds kept (whose
    provenance is the original one): the suite then holds nothing else."""

    problem: Problem
    seeds: tuple[tuple[Any, ...], ...]
    tests: list[SynthTest]
    report: dict[str, Any]


def canonical_key(args: Sequence[Any]) -> str:
    """A text equal for equal inputs (set members and dict items in sorted order).

    Raises:
        ProtocolError: a value has no encoding.
    """
    return json.dumps(_canon(encode(list(args))), sort_keys=True, allow_nan=True)


def _canon(data: Any) -> Any:
    if isinstance(data, list):
        return [_canon(v) for v in data]
    if isinstance(data, dict):
        (tag, body), *_ = data.items()
        if tag in ("$set", "$frozenset", "$dict") and isinstance(body, list):
            items = [_canon(v) for v in body]
            return {tag: sorted(items, key=lambda v: json.dumps(v, sort_keys=True))}
        return {tag: _canon(body)}
    return data


def _non_finite(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` holds a NaN or an infinity (a reference answering that on finite
    input has overflowed or divided by almost nothing: the input is degenerate)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, complex):
        return not (math.isfinite(value.real) and math.isfinite(value.imag))
    if depth < 20 and isinstance(value, list | tuple | set | frozenset):
        return any(_non_finite(v, depth + 1) for v in value)
    if depth < 20 and isinstance(value, dict):
        return any(_non_finite(v, depth + 1) for v in value.values())
    return False


def _size(args: Sequence[Any]) -> int:
    try:
        return len(json.dumps(encode(list(args)), allow_nan=True))
    except (ProtocolError, ValueError):
        return 1 << 30


class Report:
    """Counts, dropped-input examples and stage timings of one problem's synthesis."""

    def __init__(self, task_id: str) -> None:
        self.data: dict[str, Any] = {"task_id": task_id}
        self.dropped: dict[str, list[dict[str, Any]]] = {}
        self.counts: Counter[str] = Counter()
        self._t = time.monotonic()
        self.timings: dict[str, float] = {}

    def drop(self, why: str, cand: gen.Candidate, detail: str) -> None:
        self.counts[why] += 1
        examples = self.dropped.setdefault(why, [])
        if len(examples) < EXAMPLES:
            examples.append({"input": describe(cand.args, 200), "why": detail[:300],
                             "provenance": cand.provenance})

    def lap(self, stage: str) -> None:
        now = time.monotonic()
        self.timings[stage] = round(now - self._t, 3)
        self._t = now

    def to_json(self) -> dict[str, Any]:
        return self.data | {"dropped": dict(self.counts), "dropped_examples": self.dropped,
                            "timings_s": self.timings}


def propose(problem: FunctionalProblem, options: SynthOptions,
            failures: dict[str, str]) -> list[gen.Candidate]:
    """Every generator's proposals for ``problem``, in generator order; a generator that
    fails is named in ``failures`` with its error, and the others go on."""
    seeds = problem.suites.get("base") or longest_suite(problem)
    sig = infer(problem.reference, problem.entry_point, seeds)
    out: list[gen.Candidate] = []
    for name in options.generators:
        try:
            out.extend(gen.generate(name, sig, seeds, options.seed, options.budget))
        except Exception as e:  # a generator's own bug: reported, and the others go on
            failures[name] = f"{type(e).__name__}: {str(e)[:300]}"
    return out


@dataclass(frozen=True, slots=True)
class Selection:
    """The suite reduction chose: ``seeds``, the existing tests it holds (all of them unless
    :attr:`SynthOptions.reduce_seeds`), and ``tests``, the candidates added, in the order
    chosen; ``budget`` is the cap it worked under (``None``: none)."""

    seeds: list[int]
    tests: list[int]
    budget: int | None
    reduced_seeds: bool

    @property
    def seeds_written(self) -> list[int]:
        """The seeds the synthesised suite holds as tests of its own: with reduced seeds,
        the chosen ones (the written problem then has no other suite); else none (they
        stay in their own suites, which the synthesised one extends)."""
        return self.seeds if self.reduced_seeds else []

    def describe(self, data: dict[str, Any], provenance: Sequence[dict[str, Any]]) -> None:
        """Record the selection in a problem's report."""
        data["budget"] = self.budget
        data["selected"] = len(self.tests)
        if self.reduced_seeds:
            data["seeds_kept"] = len(self.seeds)
        data["selected_by_generator"] = dict(Counter(
            provenance[i].get("generator", "?") for i in self.tests))


_SEED = "seed:"
#: What keeping an existing test is worth in itself with ``reduce_seeds``: less than any
#: requirement, so it only decides where the room left after them goes.
SEED_WEIGHT = 0.01


def select(options: SynthOptions, seed_reqs: Sequence[set[str]],
           cand_reqs: Sequence[set[str]], *, existing: int, seed_cost: Sequence[float],
           cand_cost: Sequence[float]) -> Selection:
    """Reduce: the seeds stay and the candidates that add most are chosen, within
    :func:`tests_budget`; with ``options.reduce_seeds`` the seeds are candidates like the
    others (kept where room is left) and the budget counts the whole suite."""
    weight = {STRESS: STRESS_WEIGHT}
    if not options.reduce_seeds:
        budget = tests_budget(options, len(seed_reqs), existing)
        chosen = greedy_cover(cand_reqs, keep=seed_reqs, k=options.cover, budget=budget,
                              cost=cand_cost, weight=weight) if options.reduce \
            else list(range(len(cand_reqs)))[:budget]
        return Selection(list(range(len(seed_reqs))), chosen, budget, False)
    budget = tests_budget(options, 0, existing)
    if budget is not None:
        budget = max(1, budget)
    n = len(seed_reqs)
    # Each existing test is worth a little of its own: once nothing else is left to meet,
    # what room remains goes to the existing tests (all of them, where the cap allows).
    own = [{f"{_SEED}{i}"} for i in range(n)]
    weight |= {f"{_SEED}{i}": SEED_WEIGHT for i in range(n)}
    chosen = greedy_cover([r | o for r, o in zip(seed_reqs, own, strict=True)] + list(cand_reqs),
                          k=options.cover, budget=budget, cost=[*seed_cost, *cand_cost],
                          weight=weight)
    if not chosen and n:  # nothing tells the tests apart: one is still a suite
        chosen = [0]
    return Selection(sorted(i for i in chosen if i < n), [i - n for i in chosen if i >= n],
                     budget, True)


def original_provenance(problem: Problem, index: int) -> dict[str, Any]:
    """The provenance of the problem's existing test number ``index``."""
    return dict(problem.provenance.get(index, {})) or {"generator": "original"}


def existing_tests(problem: Problem, options: SynthOptions) -> tuple[Any, ...]:
    """The existing tests reduction starts from: the base suite (or the only one); with
    ``options.reduce_seeds``, every existing test, since the chosen suite replaces them."""
    if options.reduce_seeds:
        return tuple(longest_suite(problem))
    return tuple(problem.suites.get("base") or longest_suite(problem))


def tests_budget(options: SynthOptions, seeds: int, existing: int) -> int | None:
    """How many synthesised tests a problem may get: ``max_tests``, and with ``max_ratio``
    at most ``max_ratio x existing`` tests in all, seeds included (``None``: no limit)."""
    limits = [options.max_tests] if options.max_tests is not None else []
    if options.max_ratio is not None:
        limits.append(max(0, int(options.max_ratio * existing) - seeds))
    return min(limits) if limits else None


def synthesize(backend: Backend, problem: FunctionalProblem, options: SynthOptions, *,
               extra: Sequence[gen.Candidate] = (), existing: int = 0) -> SynthResult:
    """Synthesise tests for ``problem`` (see the module docstring for the steps).

    ``extra`` adds proposals made elsewhere (LLM generator programs), which go through the
    same checks. ``existing`` is the size of the dataset's largest suite, which
    ``options.max_ratio`` measures the budget against.

    Raises:
        InputError: the problem has no reference, or no seeds and no signature to go on.
        SandboxError: the sandbox failed (the caller may retry the problem).
        ReferenceFailed: the reference does not load.
    """
    if not problem.reference.strip():
        raise InputError(f"{problem.task_id}: no reference solution: synthesis needs one "
                         f"to compute expected outputs")
    report = Report(problem.task_id)
    seeds = tuple(tuple(a) for a in existing_tests(problem, options))
    failed: dict[str, str] = {}
    proposed = propose(problem, options, failed) + list(extra)
    if failed:
        report.data["generators_failed"] = failed
    report.data["seeds"] = len(seeds)
    report.data["proposed"] = dict(Counter(c.provenance.get("generator", "?")
                                           for c in proposed))
    report.lap("propose")

    # 2. Deduplicate.
    seen = set()
    for s in seeds:
        with contextlib.suppress(ProtocolError):
            seen.add(canonical_key(s))
    unique: list[gen.Candidate] = []
    for c in proposed:
        try:
            key = canonical_key(c.args)
        except ProtocolError as e:
            report.drop("unencodable", c, str(e))
            continue
        if key in seen:
            report.counts["duplicate"] += 1
            continue
        seen.add(key)
        unique.append(c)
    report.lap("dedup")

    # 3. Validate.
    if problem.validator is not None and unique:
        try:
            verdicts = run_inputs(backend, problem.validator + _VALIDATE,
                                  "__codeeval_validate__", [c.args for c in unique],
                                  [options.reference_time_s] * len(unique),
                                  memory_mb=options.memory_mb, max_restarts=20, must_load=True)
        except NotLoaded as e:
            raise InputError(f"{problem.task_id}: the validator does not load: {e}") from None
        kept = []
        for c, o in zip(unique, verdicts, strict=True):
            if o.returned:
                kept.append(c)
            else:
                report.drop("invalid", c, o.error or "rejected")
        unique = kept
    report.lap("validate")

    # 4. Oracle: the canonical reference, cross-checked by the others.
    limit = [options.reference_time_s] * len(unique)
    try:
        outs = _run(backend, problem, problem.reference, [c.args for c in unique], limit,
                    options, max_restarts=50, must_load=True)
    except NotLoaded as e:
        raise ReferenceFailed(f"{problem.task_id}: the reference does not load: {e}") from None
    kept_c: list[gen.Candidate] = []
    kept_o: list[Outcome] = []
    for c, o in zip(unique, outs, strict=True):
        if o.returned and _non_finite(o.value) and not _non_finite(c.args):
            report.drop("reference_not_finite", c, f"finite input, answer {describe(o.value, 100)}")
        elif o.returned:
            kept_c.append(c)
            kept_o.append(o)
        elif not o.reached:
            report.drop("reference_not_reached", c, o.error or "")
        else:
            report.drop("reference_failed", c, f"{o.verdict}: {o.error}")
    alternates = [src for _, src in problem.extra.get("alternate_references", ())]
    for n, alt in enumerate(alternates, 1):
        alt_outs = _run(backend, problem, alt, [c.args for c in kept_c],
                        [options.reference_time_s * 4] * len(kept_c), options, max_restarts=50)
        agree_c, agree_o = [], []
        for c, o, a in zip(kept_c, kept_o, alt_outs, strict=True):
            if a.returned and correct(problem, c.args, a.value, o.value):
                agree_c.append(c)
                agree_o.append(o)
            else:
                report.drop("references_disagree", c, f"reference #{n + 1} gave "
                            f"{describe(a.value, 100) if a.returned else a.error} where "
                            f"the canonical one gave {describe(o.value, 100)}")
        kept_c, kept_o = agree_c, agree_o
    report.data["kept_before_reduction"] = len(kept_c)
    report.lap("oracle")

    # 5. Measure: what each test kills.
    tests_args = list(seeds) + [c.args for c in kept_c]
    programs = _programs(problem, options)
    kills, wrong_answers, reference = _kill_sets(backend, problem, programs, tests_args,
                                                 options)
    every = covered(kills)
    # A program killed only by crashes (an IndexError on an empty string, say) is also
    # wanted killed by a wrong answer where some test does that: real wrong programs
    # mostly answer wrongly rather than crash.
    reqs = [k | {f"{n}#answer" for n in wa} for k, wa in zip(kills, wrong_answers, strict=True)]
    if options.features:
        for i, answer in enumerate(reference):
            if answer.returned:
                reqs[i] |= features_of(tests_args[i], answer.value)
        for i, c in enumerate(kept_c, len(seeds)):
            reqs[i] |= edge_class(c.provenance)
        for i, pure in enumerate(alone(kills)):
            reqs[i] |= pure
        work = _work(backend, problem, tests_args, options)
        for i, big in enumerate(stress(tests_args, work)):
            reqs[i] |= big
    seed_reqs = reqs[:len(seeds)]
    cand_reqs = reqs[len(seeds):]
    report.data["programs"] = {
        "mutants": sum(1 for name in programs if name.startswith("mutant:")),
        "known_wrong": sum(1 for name in programs if name.startswith("wrong:")),
        "killed_by_seeds": len(covered(kills[:len(seeds)])),
        "killed_by_all_kept": len(every),
        "never_killed": sorted(set(programs) - every)[:50]}
    report.lap("measure")

    # 6. Reduce.
    sel = select(options, seed_reqs, cand_reqs, existing=existing,
                 seed_cost=[float(_size(a)) for a in seeds],
                 cand_cost=[float(_size(c.args)) for c in kept_c])
    final = [SynthTest(seeds[i], original_provenance(problem, i)) for i in sel.seeds_written] + \
        [SynthTest(kept_c[i].args, kept_c[i].provenance) for i in sel.tests]
    sel.describe(report.data, [c.provenance for c in kept_c])
    report.data["programs"]["killed_by_selected"] = len(
        covered([kills[i] for i in sel.seeds] + [kills[len(seeds) + i] for i in sel.tests]))
    if options.features:
        feats = [{x for x in r if not x.startswith(("mutant:", "wrong:"))} for r in reqs]
        report.data["features"] = {
            "of_seeds": len(covered(feats[:len(seeds)])), "of_all_kept": len(covered(feats)),
            "of_selected": len(covered([feats[i] for i in sel.seeds] +
                                       [feats[len(seeds) + i] for i in sel.tests]))}
    report.lap("reduce")
    return SynthResult(problem, seeds, final, report.to_json())


def _run(backend: Backend, problem: FunctionalProblem, code: str, inputs: list[Any],
         limits: list[float], options: SynthOptions, *, max_restarts: int,
         must_load: bool = False, total_cpu_s: float | None = None) -> list[Outcome]:
    if not inputs:
        return []
    return run_inputs(backend, code, problem.entry_point, inputs, limits,
                      memory_mb=options.memory_mb, digest_over=digest_threshold(problem),
                      max_restarts=max_restarts, must_load=must_load,
                      total_cpu_s=total_cpu_s)


def _work(backend: Backend, problem: FunctionalProblem, tests: list[tuple[Any, ...]],
          options: SynthOptions) -> list[float]:
    """The reference's work on each test: the lines of its own code it executes, up to
    :data:`WORK_CAP` (a test it times out on under the tracer counts as the cap; one it
    fails on, as nothing)."""
    code = problem.reference + _WORK.format(cap=WORK_CAP, entry=problem.entry_point)
    limit = max(2.0, 20 * options.reference_time_s)
    try:
        outs = run_inputs(backend, code, "__codeeval_work__", tests, [limit] * len(tests),
                          memory_mb=options.memory_mb, max_restarts=5, total_cpu_s=30.0)
    except NotLoaded:
        return [0.0] * len(tests)
    work = []
    for o in outs:
        if o.returned and isinstance(o.value, int):
            work.append(float(o.value))
        elif o.verdict is Verdict.TLE:
            work.append(float(WORK_CAP))
        else:
            work.append(0.0)
    return work


def _programs(problem: FunctionalProblem, options: SynthOptions) -> dict[str, str]:
    """The programs tests are measured against: known-wrong ones, then mutants."""
    out = {f"wrong:{name}": src for name, src in problem.known_wrong}
    if options.mutants > 0:
        try:
            made = make_mutants(problem.reference, limit=options.mutants, seed=options.seed)
        except InputError:
            made = []
        out.update({f"mutant:{m.id}": m.source for m in made})
    return out


def _kill_sets(backend: Backend, problem: FunctionalProblem, programs: dict[str, str],
               tests: list[tuple[Any, ...]], options: SynthOptions
               ) -> tuple[list[set[str]], list[set[str]], list[Outcome]]:
    """For each test: the names of the programs it kills, and of those it kills by a wrong
    answer (not a crash or a time-out); and the reference's answers."""
    kills: list[set[str]] = [set() for _ in tests]
    answers: list[set[str]] = [set() for _ in tests]
    ref = _run(backend, problem, problem.reference, tests,
               [max(1.0, options.reference_time_s * 4)] * len(tests), options,
               max_restarts=50)
    limits = [max(options.mutant_time_s, 4 * o.time_s) for o in ref]
    for name, code in programs.items():
        outs = _run(backend, problem, code, tests, limits, options, max_restarts=3,
                    total_cpu_s=options.mutant_total_s)
        for i, (o, r) in enumerate(zip(outs, ref, strict=True)):
            if not o.reached or not r.returned:
                continue
            if not o.returned:
                kills[i].add(name)
            elif not correct(problem, tests[i], o.value, r.value):
                kills[i].add(name)
                answers[i].add(name)
    return kills, answers, ref

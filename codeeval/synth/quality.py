"""``codeeval suite-quality``: measure suites side by side on the same programs.

For each call-based problem, the tests of every suite compared (the dataset's own suites,
plus suites of another problem set with the same task ids, such as ``codeeval synth``'s
output) are pooled and deduplicated. The canonical reference answers every pooled test in
the sandbox (tests it fails on are left out and reported), then every program runs on
every pooled test (:func:`codeeval.harness.outcomes.run_inputs`, going on after failures;
each suite's own tests with their own budget of restarts after time-outs and crashes, so
that a program hopeless on one suite's inputs still meets the next suite's), which gives
one kill matrix per problem; each suite's metrics
(:mod:`codeeval.grading.suite_metrics`) are read off its own columns, in its own order.

Programs and their labels:

- *correct*: the problem's references; samples the ``truth`` suite accepts;
- *wrong*: the problem's known-wrong programs; samples the ``truth`` suite rejects;
- *mutants* of the canonical reference, for the mutation score (on request).

A sample is labelled by the truth suite's tests only, so a suite stronger than the truth
shows the programs it rejects beyond the truth as *false rejections*: each one is listed,
to be examined (a real bug the truth missed, or an invalid test).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeeval.datasets.problem import FunctionalProblem, Problem
from codeeval.errors import InputError, SandboxError
from codeeval.grading.suite_metrics import KillMatrix, measure, summarise
from codeeval.harness import coverage as cov
from codeeval.harness.functional import correct, describe, digest_threshold
from codeeval.harness.outcomes import NotLoaded, Outcome, run_inputs
from codeeval.harness.values import ProtocolError
from codeeval.sandbox.base import Backend
from codeeval.score.references import materialise
from codeeval.synth.mutants import make_mutants
from codeeval.synth.pipeline import canonical_key


@dataclass(frozen=True, slots=True)
class QualityOptions:
    """What to measure: suites to compare, the truth suite labelling samples, extras."""

    suites: tuple[str, ...]
    truth: str | None = None
    mutants: int = 0
    coverage: bool = False
    auc_n: int = 0
    time_floor_s: float = 1.0
    time_factor: float = 4.0
    max_restarts: int = 2
    max_programs: int | None = None
    seed: int = 0
    memory_mb: int = 4096


@dataclass
class _Pool:
    tests: list[tuple[Any, ...]]
    suites: dict[str, list[int]]  # suite -> pooled test indices, in suite order
    #: ``[lo, hi)`` of the pooled tests each suite added first, in suite order.
    segments: list[tuple[int, int]] = field(default_factory=list)


def pool_suites(sources: Mapping[str, Sequence[tuple[Any, ...]]]) -> _Pool:
    """Pool the tests of several suites, deduplicated by canonical key.

    Raises:
        InputError: a test input cannot be encoded.
    """
    tests: list[tuple[Any, ...]] = []
    index: dict[str, int] = {}
    suites: dict[str, list[int]] = {}
    segments: list[tuple[int, int]] = []
    for name, inputs in sources.items():
        order = []
        lo = len(tests)
        for args in inputs:
            try:
                key = canonical_key(args)
            except ProtocolError as e:
                raise InputError(f"suite {name!r}: a test cannot be encoded: {e}") from None
            if key not in index:
                index[key] = len(tests)
                tests.append(tuple(args))
            order.append(index[key])
        suites[name] = order
        if len(tests) > lo:
            segments.append((lo, len(tests)))
    return _Pool(tests, suites, segments)


def suite_positions(order: Sequence[int], usable: Collection[int]) -> dict[int, int]:
    """Each usable pooled test of a suite (pooled indices in suite order) -> its place
    among them. A test a suite repeats counts once, at its first place (HumanEval+'s plus
    inputs repeat some base inputs: their later copies must not move a test's place, which
    AUC@N reads)."""
    kept = [t for t in dict.fromkeys(order) if t in usable]
    return {t: k for k, t in enumerate(kept)}


def problem_quality(backend: Backend, problem: FunctionalProblem,
                    suites: Mapping[str, Sequence[tuple[Any, ...]]],
                    samples: Sequence[str], options: QualityOptions) -> dict[str, Any]:
    """The kill matrix of one problem and each suite's metrics on it.

    Raises:
        SandboxError: the sandbox failed, or the reference does not load.
    """
    pool = pool_suites(suites)
    limits_ref = [max(10.0, options.time_floor_s * 4)] * len(pool.tests)
    try:
        ref = run_inputs(backend, problem.reference, problem.entry_point, pool.tests,
                         limits_ref, memory_mb=options.memory_mb,
                         digest_over=digest_threshold(problem), max_restarts=20,
                         must_load=True)
    except NotLoaded as e:
        raise SandboxError(f"{problem.task_id}: the reference does not load: {e}") from None
    usable = [i for i, o in enumerate(ref) if o.returned]
    dropped = len(pool.tests) - len(usable)
    limits = [max(options.time_floor_s, options.time_factor * o.time_s) for o in ref]
    programs: dict[str, tuple[str, str]] = {}  # name -> (label, code)
    refs = [problem.reference] + [s for _, s in problem.extra.get("alternate_references", ())]
    for i, src in enumerate(refs):
        programs[f"reference:{i}"] = ("correct", src)
    for name, src in problem.known_wrong:
        programs[f"wrong:{name}"] = ("wrong", src)
    chosen = list(dict.fromkeys(samples))
    if options.max_programs is not None and len(chosen) > options.max_programs:
        rng = random.Random(f"{options.seed}:{problem.task_id}")
        chosen = sorted(rng.sample(chosen, options.max_programs), key=chosen.index)
    for i, src in enumerate(chosen):
        programs[f"sample:{i}"] = ("sample", src)
    if options.mutants:
        for m in make_mutants(problem.reference, limit=options.mutants, seed=options.seed):
            programs[f"mutant:{m.id}"] = ("mutant", m.source)
    rejects: dict[str, dict[int, Outcome]] = {}  # program -> rejecting test -> its outcome
    unreached: dict[str, set[int]] = {}
    # Each suite's own tests run with their own restart budget: a program that times out
    # again and again on one suite's inputs must still meet the next suite's.
    parts = [[t for t in usable if lo <= t < hi] for lo, hi in pool.segments]
    parts = [part for part in parts if part]
    for name, (_, code) in programs.items():
        ran: list[tuple[int, Outcome]] = []
        for part in parts:
            outs = run_inputs(backend, code, problem.entry_point,
                              [pool.tests[t] for t in part], [limits[t] for t in part],
                              memory_mb=options.memory_mb,
                              digest_over=digest_threshold(problem),
                              max_restarts=options.max_restarts)
            ran += zip(part, outs, strict=True)
        rej: dict[int, Outcome] = {}
        miss: set[int] = set()
        for t, o in ran:
            if not o.reached:
                miss.add(t)
            elif not o.returned or not correct(problem, pool.tests[t], o.value, ref[t].value):
                rej[t] = o
        rejects[name], unreached[name] = rej, miss
    # Labels: references are right, known-wrong programs wrong, samples as the truth says.
    labels: dict[str, str] = {}
    for name, (kind, _) in programs.items():
        if kind == "sample":
            truth = set(pool.suites.get(options.truth or "", []))
            if not truth:
                continue
            if rejects[name].keys() & truth:
                labels[name] = "wrong"
            elif not unreached[name] & truth:
                labels[name] = "correct"
        elif kind in ("correct", "wrong"):
            labels[name] = kind
    out: dict[str, Any] = {"pooled_tests": len(pool.tests), "reference_failed_tests": dropped,
                           "programs": {k: sum(1 for v in programs.values() if v[0] == k)
                                        for k in ("correct", "wrong", "sample", "mutant")},
                           "suites": {}}
    statements: Any = None
    if options.coverage:
        statements = cov.measure(backend, problem.reference, problem.entry_point, pool.tests,
                                 memory_mb=options.memory_mb)
    usable_set = set(usable)
    for sname, order in pool.suites.items():
        position = suite_positions(order, usable_set)
        kept = list(position)

        def col(name: str, position: dict[int, int] = position) -> frozenset[int]:
            return frozenset(position[t] for t in rejects[name] if t in position)

        wrong = tuple(n for n, lab in labels.items() if lab == "wrong")
        right = tuple(n for n, lab in labels.items() if lab == "correct")
        matrix = KillMatrix(len(kept), {n: col(n) for n in labels}, wrong, right)
        q = measure(matrix, auc_n=options.auc_n)
        entry: dict[str, Any] = {"quality": q, "metrics": q.to_json()}
        falsely = [n for n in right if matrix.rejects[n]]
        entry["metrics"]["false_rejections"] = [
            {"program": n, **_first_failure(pool, ref, kept, rejects[n])}
            for n in falsely[:20]]
        mutants = [n for n, (k, _) in programs.items() if k == "mutant"]
        if mutants:
            killed = sum(1 for n in mutants if col(n))
            entry["metrics"]["mutants"] = len(mutants)
            entry["metrics"]["mutation_score"] = round(killed / len(mutants), 6)
        if statements is not None:
            entry["metrics"]["line_coverage"] = statements.line_rate(kept)
            entry["metrics"]["branch_coverage"] = statements.branch_rate(kept)
        out["suites"][sname] = entry
    return out


def _first_failure(pool: _Pool, ref: Sequence[Any], kept: Sequence[int],
                   failed: Mapping[int, Outcome]) -> dict[str, Any]:
    """The first test of a suite (its pooled tests ``kept``, in order) that a program
    fails, as input, expected and actual answer."""
    t = next(t for t in kept if t in failed)
    o = failed[t]
    return {"input": describe(pool.tests[t]), "expected": describe(ref[t].value),
            "got": describe(o.value) if o.returned else f"{o.verdict}: {o.error}"}


Progress = Callable[[int, int, str], None]


def suite_quality(backend: Backend, problems: Sequence[Problem],
                  suites_of: Callable[[FunctionalProblem], dict[str, Sequence[Any]]],
                  samples_of: Mapping[str, Sequence[str]], options: QualityOptions, *,
                  jobs: int = 2, progress: Progress | None = None,
                  cache_dir: Path | None = None) -> dict[str, Any]:
    """Every problem's kill matrix, and each suite's metrics over all problems.

    Problems that fail (a sandbox error, a reference that does not load) are reported and
    left out; stdin/stdout problems are skipped (not measured yet). With ``cache_dir``,
    tests that are made rather than listed (HumanEval's test programs, a problem's
    generator) are materialised first, as scoring does.
    """
    per_problem: dict[str, dict[str, Any]] = {}
    failed: dict[str, str] = {}
    skipped = [p.task_id for p in problems if not isinstance(p, FunctionalProblem)]
    todo = [p for p in problems if isinstance(p, FunctionalProblem)]

    def one(p: FunctionalProblem) -> dict[str, Any]:
        if cache_dir is not None:
            loaded = materialise(backend, p, cache_dir)
            assert isinstance(loaded, FunctionalProblem)
            p = loaded
        return problem_quality(backend, p, suites_of(p), samples_of.get(p.task_id, ()),
                               options)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
        futures = {ex.submit(one, p): p.task_id for p in todo}
        for n, f in enumerate(as_completed(futures), 1):
            tid = futures[f]
            try:
                per_problem[tid] = f.result()
            except (SandboxError, InputError) as e:
                failed[tid] = str(e)
            if progress is not None:
                progress(n, len(todo), tid)
    by_suite: dict[str, dict[str, Any]] = defaultdict(dict)
    for tid, r in per_problem.items():
        for sname, entry in r["suites"].items():
            by_suite[sname][tid] = entry
    summary: dict[str, Any] = {}
    for sname in options.suites:
        entries = by_suite.get(sname, {})
        s = summarise({t: e["quality"] for t, e in entries.items()}, auc_n=options.auc_n)
        scores = [e["metrics"]["mutation_score"] for e in entries.values()
                  if "mutation_score" in e["metrics"]]
        if scores:
            s["mutation_score_mean"] = round(sum(scores) / len(scores), 6)
        for metric in ("line_coverage", "branch_coverage"):
            vals = [e["metrics"][metric] for e in entries.values()
                    if e["metrics"].get(metric) is not None]
            if vals:
                s[f"{metric}_mean"] = round(sum(vals) / len(vals), 6)
        s["false_rejections"] = [{"task_id": t, **fr} for t, e in entries.items()
                                 for fr in e["metrics"]["false_rejections"]]
        summary[sname] = s
    for r in per_problem.values():
        for entry in r["suites"].values():
            entry.pop("quality", None)
    return {"suites": summary, "per_problem": per_problem, "failed": failed,
            "skipped_stdio": skipped}


def dataset_suites(problem: FunctionalProblem, names: Sequence[str]) -> dict[str, Any]:
    """The named suites of ``problem`` (``*``: all of them)."""
    if list(names) == ["*"]:
        return dict(problem.suites)
    return {n: problem.suites[n] for n in names if n in problem.suites}


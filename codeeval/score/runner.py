"""Score samples: references once per problem, one sandboxed process per distinct program.

Results are written to ``results.jsonl`` in input order as they arrive (so an interrupted
run keeps what it finished) and ``summary.json`` at the end. Every result line carries a
content key (problem, program, limits, options); ``resume`` reuses lines whose key matches.
Identical programs for the same task are run once. A sandbox failure is retried, and if it
persists the sample is an infra error (``SE``): reported, and left out of pass@k.

References are always computed here, on the driver's backend. The distinct programs go to
an executor (:mod:`codeeval.score.executor`): a local thread pool by default, or a Ray
cluster (:mod:`codeeval.distributed`); either way this module alone writes the results.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeeval import __version__
from codeeval.datasets.problem import Problem, digest
from codeeval.errors import SandboxError
from codeeval.grading.passk import estimate, ks_for
from codeeval.harness.functional import Expected
from codeeval.model.verdict import Verdict
from codeeval.sandbox.base import Backend
from codeeval.score.executor import Executor, LocalExecutor, Unit
from codeeval.score.executor import infra_row as _infra
from codeeval.score.options import DEFAULT_MEMORY_MB, DEFAULT_POLICY, ScoreOptions
from codeeval.score.references import load_or_compute
from codeeval.score.samples import BadLine, Sample

__all__ = ["DEFAULT_MEMORY_MB", "DEFAULT_POLICY", "Progress", "ScoreOptions", "Summary", "score"]


@dataclass
class Summary:
    """What ``summary.json`` holds, plus the exit status of the run."""

    data: dict[str, Any]
    infra_errors: int
    bad_lines: int


#: Called after each distinct program: (done, total, the verdict of its last suite).
Progress = Callable[[int, int, str], None]


def score(problems: Sequence[Problem], samples: Sequence[Sample],
          bad: Sequence[BadLine], backend: Backend, out_dir: Path, cache_dir: Path,
          options: ScoreOptions, progress: Progress | None = None,
          executor: Executor | None = None) -> Summary:
    """Score ``samples`` against ``problems``; write ``results.jsonl`` and ``summary.json``.

    References are computed here, on ``backend``; the distinct programs are scored by
    ``executor`` (default: a :class:`~codeeval.score.executor.LocalExecutor` of
    ``options.jobs`` threads over ``backend``). Programs whose reference failed are not
    sent to the executor: they are infra rows.

    Returns:
        The summary written to ``summary.json``, with the counts that decide the exit code.

    Raises:
        InputError: the output directory cannot be written.
        CodeevalError: the executor cannot work (e.g. a lost Ray cluster).
    """
    started = time.monotonic()
    by_id = {p.task_id: p for p in problems}
    out_dir.mkdir(parents=True, exist_ok=True)
    results_path = out_dir / "results.jsonl"
    suite_names = {tid: list(by_id[tid].suites) for tid in by_id}

    def key_of(s: Sample) -> str:
        problem = by_id[s.task_id]
        policy, _ = options.policy_for(problem)
        key: dict[str, Any] = {
            "problem": problem.source_digest, "program": s.program,
            "policy": [policy.floor_s, policy.factor], "memory": options.memory_for(problem),
            "all": options.all_tests, "static": options.static}
        if s.language != "python":  # keys of Python samples stay as they were
            key["language"] = s.language
        return digest(key)

    keys = [key_of(s) for s in samples]
    previous = _previous_results(results_path) if options.resume else {}

    # References, for the problems that have samples still to score.
    todo = [s for s, k in zip(samples, keys, strict=True) if k not in previous]
    needed = sorted({s.task_id for s in todo})
    if options.static:
        from codeeval.score import static

        static.ensure_available()
    expected: dict[str, Expected] = {}
    ref_errors: dict[str, str] = {}
    ref_sources: Counter[str] = Counter()
    with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
        futures = {pool.submit(load_or_compute, backend, by_id[t], cache_dir): t for t in needed}
        for ref_future in as_completed(futures):
            tid = futures[ref_future]
            try:
                by_id[tid], expected[tid], source = ref_future.result()
                ref_sources[source] += 1
            except SandboxError as e:
                ref_errors[tid] = str(e)

    # One run per distinct (task, program).
    unique: dict[str, Sample] = {}
    for s, k in zip(samples, keys, strict=True):
        if k not in previous:
            unique.setdefault(k, s)
    outcomes: dict[str, dict[str, Any]] = dict(previous)
    writer = _OrderedWriter(results_path, samples, keys, outcomes)
    done = 0

    units: list[Unit] = []
    for k, s in unique.items():
        if s.task_id in ref_errors:
            # The reference failed: nothing to compare with, so the program is not run.
            outcomes[k] = _infra(by_id[s.task_id],
                                 f"reference failed: {ref_errors[s.task_id]}")
            writer.flush()
            done += 1
            _report(progress, done, len(unique), outcomes[k])
        else:
            units.append(Unit(k, by_id[s.task_id], expected[s.task_id], s))
    if executor is None:
        executor = LocalExecutor(backend, options.jobs)
    try:
        # The executor yields on this thread: only it touches outcomes and the writer.
        for k, outcome in executor.results(units, options):
            if k in outcomes:
                continue  # an executor that reports a unit twice: the first row stands
            outcomes[k] = outcome
            writer.flush()
            done += 1
            _report(progress, done, len(unique), outcome)
        for u in units:  # a unit the executor never reported is an infra error, not a gap
            if u.key not in outcomes:
                outcomes[u.key] = _infra(u.problem, "the executor returned no result")
        writer.flush()
    finally:
        writer.close()

    data, infra = _summarise(samples, keys, outcomes, by_id, suite_names, options, bad)
    data.update({
        "wall_time_s": round(time.monotonic() - started, 3),
        "backend": backend.describe(),
        **executor.describe(),
        "codeeval_version": __version__,
        "distinct_programs_run": len(unique),
        "reused_from_previous_run": sum(1 for k in keys if k in previous),
        "references": {"from_cache": ref_sources["cache"], "computed": ref_sources["run"],
                       "failed": ref_errors},
        "time_limits": _limits_report(problems, samples, options),
    })
    if options.static:
        from codeeval.score import static

        data["static"] = static.summarise([outcomes[k]["static"] for k in unique
                                           if "static" in outcomes[k]])
    (out_dir / "summary.json").write_text(json.dumps(data, indent=2) + "\n")
    return Summary(data, infra, len(bad))


def _report(progress: Progress | None, done: int, total: int, outcome: dict[str, Any]) -> None:
    """Tell ``progress`` that one more distinct program is done, with its last verdict."""
    if progress is not None:
        last = list(outcome["suites"].values())[-1] if outcome["suites"] else {}
        progress(done, total, str(last.get("verdict", "")))


def _limits_report(problems: Sequence[Problem], samples: Sequence[Sample],
                   options: ScoreOptions) -> dict[str, Any]:
    """Which per-test limits applied, and where they came from, per problem scored."""
    scored = {s.task_id for s in samples}
    sources: Counter[str] = Counter()
    per_problem: dict[str, Any] = {}
    for p in problems:
        if p.task_id not in scored:
            continue
        policy, source = options.policy_for(p)
        sources[source] += 1
        if source == "problem" or p.limits.memory_mb is not None:
            per_problem[p.task_id] = {"floor_s": policy.floor_s, "factor": policy.factor,
                                      "memory_mb": options.memory_for(p)}
    return {"rule": "per test: max(floor, factor * reference CPU time), CPU time",
            "default": {"floor_s": DEFAULT_POLICY.floor_s, "factor": DEFAULT_POLICY.factor,
                        "memory_mb": DEFAULT_MEMORY_MB},
            "command_line": None if options.policy is None and options.memory_mb is None
            else {"floor_s": options.policy.floor_s if options.policy else None,
                  "factor": options.policy.factor if options.policy else None,
                  "memory_mb": options.memory_mb},
            "problems_by_source": dict(sources), "from_problem": per_problem}


def _previous_results(path: Path) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        try:
            row = json.loads(line)
            suites = row["suites"]
            if any(v["verdict"] == Verdict.SE.value for v in suites.values()):
                continue  # infra errors are retried, never reused
            found[row["key"]] = {"suites": suites} | (
                {"static": row["static"]} if "static" in row else {})
        except (ValueError, KeyError, TypeError):
            continue
    return found


class _OrderedWriter:
    """Writes result lines in sample order as soon as every earlier sample is known.

    The file is rewritten whole: lines reused by ``resume`` come from ``outcomes``.
    """

    def __init__(self, path: Path, samples: Sequence[Sample], keys: Sequence[str],
                 outcomes: dict[str, dict[str, Any]]) -> None:
        self._samples = samples
        self._keys = keys
        self._outcomes = outcomes
        self._next = 0
        self._file = path.open("w", encoding="utf-8")

    def flush(self) -> None:
        while self._next < len(self._samples) and self._keys[self._next] in self._outcomes:
            s = self._samples[self._next]
            row = {"task_id": s.task_id, "sample_index": s.index, "line": s.line,
                   "key": self._keys[self._next]} | self._outcomes[self._keys[self._next]]
            if s.extraction is not None:
                row["extraction"] = s.extraction
            self._file.write(json.dumps(row) + "\n")
            self._next += 1
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _summarise(samples: Sequence[Sample], keys: Sequence[str],
               outcomes: dict[str, dict[str, Any]], by_id: dict[str, Problem],
               suite_names: dict[str, list[str]], options: ScoreOptions,
               bad: Sequence[BadLine]) -> tuple[dict[str, Any], int]:
    per_suite: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    verdicts: dict[str, Counter[str]] = defaultdict(Counter)
    infra = 0
    for s, key in zip(samples, keys, strict=True):
        suites = outcomes[key]["suites"]
        if any(v["verdict"] == Verdict.SE.value for v in suites.values()):
            infra += 1
        for name, o in suites.items():
            verdicts[name][o["verdict"]] += 1
            if o["verdict"] == Verdict.SE.value:
                continue  # infra errors are left out of pass@k
            tally = per_suite[name][s.task_id]
            tally[0] += 1
            tally[1] += o["verdict"] == Verdict.AC.value
    metrics: dict[str, dict[str, float]] = {}
    for name, per_task in per_suite.items():
        counts = [(n, c) for n, c in per_task.values()]
        metrics[name] = {}
        for k in ks_for(counts, options.ks):
            est = estimate(counts, k)
            metrics[name][f"pass@{k}"] = round(est.value, 6)
            metrics[name][f"pass@{k}_se"] = round(est.se, 6)
    order = [n for names in suite_names.values() for n in names]
    last = order[-1] if order else None
    return {
        "n_samples": len(samples),
        "n_problems": len({s.task_id for s in samples}),
        "metrics": metrics,
        "verdicts": dict(verdicts[last]) if last else {},
        "verdicts_by_suite": {n: dict(c) for n, c in verdicts.items()},
        "infra_errors": infra,
        "malformed_samples": [b.message for b in bad],
    }, infra

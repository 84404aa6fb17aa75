#!/usr/bin/env python3
"""codeeval score vs EvalPlus 0.3.1 on the same samples, in one run.

Both tools start cold (fresh caches: reference outputs are computed by each), score the
same samples file on HumanEval+ with the same parallelism, and are timed wall-clock. The
script prints the ratio, both tools' pass@k, and the per-sample agreement of base and plus
verdicts, with each disagreement's task and both sides' view.

EvalPlus is installed from PyPI into its own virtual environment the first time (it needs
numpy and friends, which codeeval does not). It reads the dataset from the local file
through HUMANEVAL_OVERRIDE_PATH, so nothing is downloaded at run time.

    python3 scripts/bench_score.py [--samples FILE] [--dataset-path FILE] [--jobs N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def ensure_evalplus(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "evalplus==0.3.1"],
                       check=True)
    return python


def unzip(src: Path, dst: Path) -> Path:
    opener = gzip.open if src.name.endswith(".gz") else open
    with opener(src, "rb") as f, dst.open("wb") as g:
        shutil.copyfileobj(f, g)
    return dst


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=Path,
                    default=SHARED / "codet" / "humaneval_codegen16b_10per_task.samples.jsonl.gz")
    ap.add_argument("--dataset-path", type=Path,
                    default=SHARED / "evalplus" / "HumanEvalPlus.jsonl.gz")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--evalplus-venv", type=Path,
                    default=Path.home() / ".cache" / "codeeval" / "evalplus-0.3.1-venv")
    args = ap.parse_args()

    evalplus = ensure_evalplus(args.evalplus_venv)
    work = Path(tempfile.mkdtemp(prefix="codeeval-bench-score-"))
    dataset = unzip(args.dataset_path, work / "HumanEvalPlus.jsonl")
    samples = unzip(args.samples, work / "samples.jsonl")

    env = {**os.environ, "HUMANEVAL_OVERRIDE_PATH": str(dataset),
           "XDG_CACHE_HOME": str(work / "evalplus-cache")}
    t0 = time.monotonic()
    subprocess.run([str(evalplus), "-m", "evalplus.evaluate", "--dataset", "humaneval",
                    "--samples", str(samples), "--parallel", str(args.jobs),
                    "--i-just-wanna-run"], env=env, check=True, cwd=work,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    evalplus_s = time.monotonic() - t0

    out = work / "codeeval-out"
    env2 = {**os.environ, "CODEEVAL_CACHE": str(work / "codeeval-cache")}
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-m", "codeeval", "score", "--dataset", "humaneval+",
                    "--dataset-path", str(args.dataset_path), "--samples", str(args.samples),
                    "--out", str(out), "--k", "1,10", "--jobs", str(2 * args.jobs)],
                   env=env2, check=True, stdout=subprocess.DEVNULL)
    codeeval_s = time.monotonic() - t0

    ours = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    theirs_file = next(work.glob("*eval_results.json"))
    theirs = json.loads(theirs_file.read_text())["eval"]
    seen: Counter[str] = Counter()
    agree = {"base": 0, "plus": 0}
    classes: Counter[tuple[str, str, str]] = Counter()
    examples: dict[tuple[str, str, str], str] = {}
    for row in ours:
        task = row["task_id"]
        i = seen[task]
        seen[task] += 1
        ep = theirs[task][i]
        ep_base = ep["base_status"] == "pass"
        ep_plus = ep_base and ep["plus_status"] == "pass"
        for suite, ep_ok in (("base", ep_base), ("plus", ep_plus)):
            verdict = row["suites"][suite]["verdict"]
            if (verdict == "AC") == ep_ok:
                agree[suite] += 1
            else:
                key = (suite, verdict, "pass" if ep_ok else "fail")
                classes[key] += 1
                examples.setdefault(key, f"{task} sample {i}: "
                                    f"{row['suites'][suite]['first_failure']}")
    summary = json.loads((out / "summary.json").read_text())
    n = len(ours)
    print(f"samples: {n} ({args.samples.name}), parallelism {args.jobs} "
          f"(codeeval --jobs {2 * args.jobs}), both with cold caches")
    print(f"EvalPlus 0.3.1: {evalplus_s:7.1f} s")
    print(f"codeeval:       {codeeval_s:7.1f} s   speed-up x{evalplus_s / codeeval_s:.2f}")
    print("codeeval pass@k:", json.dumps(summary["metrics"]))
    for suite in ("base", "plus"):
        print(f"{suite}: verdicts agree on {agree[suite]}/{n} samples "
              f"({100 * agree[suite] / n:.2f}%)")
    for key, count in classes.most_common():
        print(f"  {key[0]}: codeeval {key[1]} vs EvalPlus {key[2]}: {count}  e.g. "
              f"{examples[key][:300]}")
    print(f"(work files kept in {work})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

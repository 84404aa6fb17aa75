#!/usr/bin/env python3
"""How much stronger does `codeeval synth` make HumanEval's original tests, with no LLM?

1. Synthesise from each HumanEval+ task's base tests only (`codeeval synth --seeds-from
   base`): suites `base` and `synth` (= base + synthesised, reduced).
2. Score the 16,400 CodeGen-16B completions on HumanEval+ (`base`, `plus`): the truth.
3. Score the same completions on the synthesised problems.
4. Report, on the completions that pass the base tests but fail HumanEval+'s plus suite
   (the subtle bugs HumanEval+ was built to catch), the share that base + synthesised
   rejects; the tests per task against HumanEval+'s; and every completion the synthesised
   suite rejects although the plus suite accepts it, with the input, for examination.

Usage: python3 scripts/bench_synth.py [--out DIR] [--samples FILE] [--problems N]
                                      [--synth-args "..."] [--keep]
Steps whose output exists in DIR are reused with --keep (the synthesis and the scores are
resumable anyway).
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
RELEASE = DATA / "evalplus" / "HumanEvalPlus.jsonl.gz"
SAMPLES = DATA / "codet" / "humaneval_codegen16b_100per_task.samples.jsonl.gz"


def run(cmd: list[str], what: str) -> float:
    print(f"== {what}: {' '.join(shlex.quote(c) for c in cmd)}", file=sys.stderr, flush=True)
    t = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT)
    if proc.returncode not in (0, 1):
        sys.exit(f"{what} failed with exit code {proc.returncode}")
    return time.monotonic() - t


def results(path: Path) -> dict[tuple[str, int], dict]:
    out = {}
    with path.open() as f:
        for line in f:
            row = json.loads(line)
            out[(row["task_id"], row["sample_index"])] = row
    return out


def provenance(synth_dir: Path, task_id: str, test: object) -> str:
    """Where the synthesised problem's test number ``test`` came from."""
    path = synth_dir / task_id.replace("/", "_") / "tests.jsonl"
    if not isinstance(test, int) or not path.exists():
        return "?"
    lines = path.read_text().splitlines()
    if test >= len(lines):
        return "?"
    return json.dumps(json.loads(lines[test]).get("provenance"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="/tmp/bench_synth")
    ap.add_argument("--samples", default=str(SAMPLES))
    ap.add_argument("--problems", type=int, default=None,
                    help="only the first N tasks (a quick run)")
    ap.add_argument("--synth-args", default="", help="extra arguments for codeeval synth")
    ap.add_argument("--keep", action="store_true", help="reuse finished steps in --out")
    args = ap.parse_args()
    if not RELEASE.exists() or not Path(args.samples).exists():
        sys.exit(f"needs {RELEASE} and {args.samples} (../shared/data)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    with gzip.open(RELEASE, "rt") as f:
        release = [json.loads(line) for line in f]
    tasks = [r["task_id"] for r in release][: args.problems]
    samples = Path(args.samples)
    if args.problems is not None:  # a subset of the samples, for the tasks kept
        subset = out / "samples.jsonl"
        with gzip.open(args.samples, "rt") as f, subset.open("w") as g:
            for line in f:
                if json.loads(line)["task_id"] in tasks:
                    g.write(line)
        samples = subset
    times = {}
    synth_dir = out / "synth"
    if not (args.keep and (synth_dir / "synth_report.json").exists()):
        cmd = [py, "-m", "codeeval", "synth", "--dataset", "humaneval+", "--dataset-path",
               str(RELEASE), "--out", str(synth_dir), "--seeds-from", "base", "--resume",
               *shlex.split(args.synth_args)]
        if args.problems is not None:
            cmd += ["--problems", ",".join(tasks)]
        times["synth"] = run(cmd, "synthesise")
    for name, dataset in (("truth", ["humaneval+", "--dataset-path", str(RELEASE)]),
                          ("synth_score", [str(synth_dir)])):
        if args.keep and (out / name / "summary.json").exists():
            continue
        times[name] = run([py, "-m", "codeeval", "score", "--dataset", *dataset, "--samples",
                           str(samples), "--out", str(out / name), "--resume"], f"score ({name})")
    truth = results(out / "truth" / "results.jsonl")
    synth = results(out / "synth_score" / "results.jsonl")
    report = json.loads((synth_dir / "synth_report.json").read_text())

    def verdict(row: dict, suite: str) -> str:
        # A problem to which synthesis added nothing has no suite of that name: its tests
        # are the base suite's (suites are cumulative).
        return (row["suites"].get(suite) or row["suites"]["base"])["verdict"]

    subtle = caught = 0
    wrong = wrong_base = wrong_synth = lost = 0  # every completion the plus suite rejects
    false_rejects = []
    per_task_subtle: collections.Counter[str] = collections.Counter()
    per_task_missed: collections.Counter[str] = collections.Counter()
    missed = []
    se = 0
    for key, t in truth.items():
        s = synth.get(key)
        if s is None or "SE" in (verdict(t, "base"), verdict(t, "plus"), verdict(s, "synth")):
            se += 1
            continue
        plus_ok = verdict(t, "plus") == "AC"
        synth_ok = verdict(s, "synth") == "AC"
        if not plus_ok:
            wrong += 1
            wrong_base += verdict(t, "base") != "AC"
            wrong_synth += not synth_ok
            lost += verdict(t, "base") != "AC" and synth_ok
        if verdict(t, "base") == "AC" and not plus_ok:
            subtle += 1
            per_task_subtle[key[0]] += 1
            if not synth_ok:
                caught += 1
            else:
                per_task_missed[key[0]] += 1
                missed.append((key, t["suites"]["plus"]["first_failure"]))
        if plus_ok and not synth_ok:
            false_rejects.append((key, (s["suites"].get("synth") or s["suites"]["base"])[
                "first_failure"]))
    # Test counts.
    he_count = {r["task_id"]: len(json.loads(r["base_input"]) if isinstance(r["base_input"], str)
                                  else r["base_input"]) +
                len(json.loads(r["plus_input"]) if isinstance(r["plus_input"], str)
                    else r["plus_input"]) for r in release}
    synth_count = {}
    for tid in tasks:
        per = report["per_problem"].get(tid, {})
        if per.get("status") in ("done", "reused"):
            # With --reduce-seeds the suite holds only the seeds reduction kept.
            synth_count[tid] = per.get("seeds_kept", per.get("seeds", 0)) + \
                per.get("selected", 0)
    ratios = [synth_count[t] / he_count[t] for t in synth_count]
    over = [t for t in synth_count if synth_count[t] > 0.1 * he_count[t]]
    print()
    print(f"samples: {len(truth)} scored on HumanEval+, {len(synth)} on the synthesised "
          f"suites ({se} left out: infra errors or missing)")
    print(f"subtle bugs (pass base, fail plus): {subtle} in {len(per_task_subtle)} tasks")
    if subtle:
        print(f"  rejected by base + synthesised: {caught} = {100 * caught / subtle:.1f}%")
    if wrong:
        print(f"every completion plus rejects: {wrong}; base rejects {wrong_base} = "
              f"{100 * wrong_base / wrong:.1f}%, the synthesised suite {wrong_synth} = "
              f"{100 * wrong_synth / wrong:.1f}%; base rejects but the synthesised suite "
              f"accepts: {lost} (only with --reduce-seeds can it be more than 0)")
    print(f"tests per task: synthesised suite (base + synth) mean "
          f"{statistics.mean(synth_count.values()):.1f}, median "
          f"{statistics.median(synth_count.values()):.0f}, max {max(synth_count.values())}; "
          f"HumanEval+ mean {statistics.mean(he_count[t] for t in synth_count):.1f}")
    print(f"  ratio to HumanEval+ per task: mean {100 * statistics.mean(ratios):.1f}%, "
          f"max {100 * max(ratios):.1f}%; total {sum(synth_count.values())} vs "
          f"{sum(he_count[t] for t in synth_count)} = "
          f"{100 * sum(synth_count.values()) / sum(he_count[t] for t in synth_count):.1f}%; "
          f"tasks over 10%: {len(over)} {over[:10]}")
    print(f"false rejections (plus accepts, synthesised rejects): {len(false_rejects)}")
    kinds: collections.Counter[str] = collections.Counter()
    for (tid, idx), ff in false_rejects:
        reason = str(ff.get("reason"))
        kind = ("performance" if any(w in reason for w in ("time limit", "RecursionError",
                                                            "memory")) else "answer")
        kinds[kind] += 1
        print(f"  {tid} #{idx} [{kind}]: {reason[:80]} | input {str(ff.get('input'))[:120]} | "
              f"expected {str(ff.get('expected'))[:60]} | got {str(ff.get('got'))[:60]} | "
              f"test from {provenance(synth_dir, tid, ff.get('test'))}")
    print(f"  by kind: {dict(kinds)} (performance: a valid input the program is much slower "
          f"on, or recurses deeper on, than the reference; answer: examine each)")
    print(f"missed subtle bugs: {len(missed)} in {len(per_task_missed)} tasks: "
          f"{dict(per_task_missed.most_common(20))}")
    for (tid, idx), ff in missed[:40]:
        print(f"  {tid} #{idx}: plus fails on {str(ff.get('input'))[:120]} "
              f"(expected {str(ff.get('expected'))[:60]}, got {str(ff.get('got'))[:60]})")
    print(f"synthesis totals: {json.dumps(report['totals'])}")
    print(f"wall times (s): {json.dumps({k: round(v, 1) for k, v in times.items()})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

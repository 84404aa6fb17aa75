"""Synthesise tests for stdin/stdout problems.

The same steps as for call-based problems (:mod:`codeeval.synth.pipeline`), over stdin
texts instead of argument lists:

- **Propose**: *token mutation* of the existing inputs (a number nudged, doubled, zeroed,
  negated or replaced by one seen elsewhere; a word's character changed; a line repeated
  or dropped), keeping the line structure; *the problem's own generator* with fresh seeds
  (``SEED:synth:I``) when it has one; and inputs made elsewhere (``extra``).
- **Validate** with the problem's validator (``validate(text)``), in the sandbox. Without
  a validator, mutated inputs cannot be told valid, so only the problem's generator (whose
  inputs are valid by construction) proposes.
- **Oracle**: the reference (any language, compiled once) runs on each input; inputs it
  fails or times out on are dropped; every other reference must give an output the
  problem's checker accepts against it, or the input is dropped.
- **Measure and reduce**: known-wrong programs and mutants of a Python reference run on
  every test; the fewest tests that kill what the whole set kills are kept.

Each candidate is a :class:`~codeeval.synth.generators.Candidate` whose ``args`` is a
one-element tuple holding the stdin bytes.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from codeeval.datasets.problem import StdioProblem
from codeeval.errors import InputError
from codeeval.harness import inputs as problem_inputs
from codeeval.harness.functional import ReferenceFailed
from codeeval.harness.outcomes import NotLoaded, run_inputs
from codeeval.harness.program import Prepared, prepare, run_prepared
from codeeval.harness.stdio import run_one
from codeeval.languages import language_for_path
from codeeval.languages.registry import PYTHON, get_language
from codeeval.model.run import Limits, RunStatus
from codeeval.model.verdict import Verdict
from codeeval.sandbox.base import Backend
from codeeval.synth.features import stress
from codeeval.synth.generators import Candidate
from codeeval.synth.mutants import make_mutants
from codeeval.synth.pipeline import (
    Report,
    SynthOptions,
    SynthResult,
    SynthTest,
    existing_tests,
    original_provenance,
    select,
)
from codeeval.synth.reduce import covered

_VALIDATE_TEXT = """

def __codeeval_validate__(data):
    validate(data.decode("utf-8", "replace"))
    return True
"""
#: Every stdio test is a sandboxed run of its own (per program measured, too), so stdio
#: problems get this fraction of the call-based budgets.
STDIO_SHARE = 4
#: The least CPU budget of one reference run of a stdio problem (a whole process).
STDIO_REFERENCE_S = 1.0
_TOKEN = re.compile(rb"\S+")
_INT = re.compile(rb"-?\d+\Z")
_FLOAT = re.compile(rb"-?\d+\.\d*\Z")


def _ingredients(seeds: Sequence[bytes]) -> list[bytes]:
    seen: dict[bytes, None] = {}
    for s in seeds:
        for tok in _TOKEN.findall(s):
            if _INT.match(tok) and len(seen) < 500:
                seen[tok] = None
    return list(seen)


def _mutate_token(tok: bytes, rng: random.Random, pool: list[bytes]) -> tuple[bytes, str]:
    if _INT.match(tok):
        v = int(tok)
        ops = [("+1", v + 1), ("-1", v - 1), ("*2", v * 2), ("zero", 0), ("neg", -v),
               ("max", max((int(t) for t in pool), default=v) * 10)]
        if pool:
            ops.append(("pick", int(rng.choice(pool))))
        name, out = rng.choice(ops)
        return str(out).encode(), f"int{name}"
    if _FLOAT.match(tok):
        f = float(tok)
        name, val = rng.choice([("+1", f + 1), ("*2", f * 2), ("half", f / 2), ("zero", 0.0),
                                ("neg", -f)])
        return repr(val).encode(), f"float{name}"
    chars = sorted(set(tok)) or [ord("a")]
    j = rng.randrange(len(tok))
    op = rng.choice(["replace", "insert", "delete"])
    c = bytes([rng.choice(chars)])
    if op == "replace":
        return tok[:j] + c + tok[j + 1:], "word-replace"
    if op == "insert":
        return tok[:j] + c + tok[j:], "word-insert"
    return (tok[:j] + tok[j + 1:]) or tok, "word-delete"


def mutate_text(seeds: Sequence[bytes], seed: int, count: int) -> list[Candidate]:
    """``count`` stdin texts by token-level mutation of a pool (seeds, then mutants)."""
    if count <= 0 or not seeds:
        return []
    rng = random.Random(f"stdio-mutation:{seed}")
    pool_tokens = _ingredients(seeds)
    pool: list[tuple[bytes, str]] = [(s, f"seed:{i}") for i, s in enumerate(seeds)]
    out: list[Candidate] = []
    for _ in range(count * 3):
        if len(out) >= count:
            break
        text, origin = pool[rng.randrange(len(pool))]
        lines = text.split(b"\n")
        if rng.random() < 0.15 and len(lines) > 1:
            j = rng.randrange(len(lines))
            if rng.random() < 0.5:
                lines.insert(j, lines[j])
                op = "line-repeat"
            else:
                del lines[j]
                op = "line-drop"
            new = b"\n".join(lines)
        else:
            spans = [m.span() for m in _TOKEN.finditer(text)]
            if not spans:
                continue
            a, b = spans[rng.randrange(len(spans))]
            tok, op = _mutate_token(text[a:b], rng, pool_tokens)
            new = text[:a] + tok + text[b:]
        if new == text or len(new) > 1 << 20:
            continue
        out.append(Candidate((new,), {"generator": "mutation", "seed": seed,
                                      "index": len(out), "parent": origin, "op": op}))
        pool.append((new, f"mutation:{len(out) - 1}"))
    return out


def _with_language(name: str, default: str) -> Any:
    try:
        return language_for_path(name)
    except InputError:
        return get_language(default)


def synthesize_stdio(backend: Backend, problem: StdioProblem, options: SynthOptions, *,
                     extra: Sequence[Candidate] = (), existing: int = 0) -> SynthResult:
    """Synthesise tests for a stdin/stdout problem (see the module docstring).

    Raises:
        InputError: the problem has no reference.
        SandboxError: the sandbox failed.
        ReferenceFailed: the reference does not compile.
    """
    if not problem.reference.strip():
        raise InputError(f"{problem.task_id}: no reference solution: synthesis needs one")
    report = Report(problem.task_id)
    seeds = existing_tests(problem, options)
    proposed: list[Candidate] = []
    budget = options.budget
    if problem.validator is not None and "mutation" in options.generators:
        proposed += mutate_text(seeds, options.seed, budget.mutation // STDIO_SHARE)
    if problem.generator is not None:
        count = max(1, budget.hypothesis // (STDIO_SHARE * 2))
        calls = [(f"{options.seed}:synth:{i}",) for i in range(count)]
        outs = run_inputs(backend, problem.generator.source + problem_inputs.GENERATE_WRAPPER,
                          "__codeeval_generate__", calls, [problem_inputs.PER_INPUT_S] * count,
                          max_restarts=5)
        for i, o in enumerate(outs):
            if o.returned and isinstance(o.value, str | bytes):
                text = o.value.encode() if isinstance(o.value, str) else o.value
                proposed.append(Candidate((text,), {"generator": "problem-generator",
                                                    "seed": options.seed, "index": i}))
            else:
                report.counts["generator_failed"] += 1
    proposed += list(extra)
    report.data["seeds"] = len(seeds)
    report.data["proposed"] = dict(Counter(c.provenance.get("generator", "?")
                                           for c in proposed))
    if problem.validator is None and problem.generator is None and not extra:
        report.data["note"] = ("no validator and no generator: mutated inputs could not be "
                               "told valid, so nothing was proposed")
    report.lap("propose")
    seen = set(seeds)
    unique = []
    for c in proposed:
        if c.args[0] in seen:
            report.counts["duplicate"] += 1
            continue
        seen.add(c.args[0])
        unique.append(c)
    if problem.validator is not None and unique:
        try:
            verdicts = run_inputs(backend, problem.validator + _VALIDATE_TEXT,
                                  "__codeeval_validate__", [c.args for c in unique],
                                  [options.reference_time_s] * len(unique), max_restarts=20,
                                  must_load=True)
        except NotLoaded as e:
            raise InputError(f"{problem.task_id}: the validator does not load: {e}") from None
        kept = []
        for c, o in zip(unique, verdicts, strict=True):
            if o.returned:
                kept.append(c)
            else:
                report.drop("invalid", c, o.error or "rejected")
        unique = kept
    report.lap("validate")
    reference = prepare(backend, get_language(problem.reference_language),
                        problem.reference.encode())
    if reference.compile_error is not None:
        raise ReferenceFailed(f"{problem.task_id}: the reference does not compile: "
                              f"{reference.compile_error.reason}")
    # A stdio test is a whole process: its budget covers the interpreter's (or the JVM's)
    # start-up too, so it is never below STDIO_REFERENCE_S.
    limits = Limits(time_s=max(STDIO_REFERENCE_S, options.reference_time_s),
                    memory_mb=options.memory_mb, stdout_bytes=64 << 20)
    kept_c: list[Candidate] = []
    answers: list[bytes] = []
    times: list[float] = []
    for c in unique:
        r = run_prepared(backend, reference, stdin=c.args[0], limits=limits)
        if r.status is RunStatus.OK and r.exit_code == 0:
            kept_c.append(c)
            answers.append(r.stdout)
            times.append(r.cpu_time_s)
        else:
            report.drop("reference_failed", c, f"{r.status.value}: {r.reason} "
                                               f"{r.stderr_tail(120)}")
    for name, src in problem.extra.get("alternate_references", ()):
        alt = prepare(backend, _with_language(name, problem.reference_language), src.encode())
        agree_c, agree_a, agree_t = [], [], []
        for c, answer, t in zip(kept_c, answers, times, strict=True):
            verdict, why, _ = (Verdict.CE, "does not compile", None) if alt.compile_error \
                else run_one(backend, problem, alt, c.args[0], answer,
                             max(4 * t, options.reference_time_s), options.memory_mb)
            if verdict is Verdict.AC:
                agree_c.append(c)
                agree_a.append(answer)
                agree_t.append(t)
            else:
                report.drop("references_disagree", c, f"{name}: {verdict.value}: {why}")
        kept_c, answers, times = agree_c, agree_a, agree_t
    report.data["kept_before_reduction"] = len(kept_c)
    report.lap("oracle")
    # Measure on the seeds and the kept inputs.
    seed_answers, seed_times = [], []
    for i, s in enumerate(seeds):
        r = run_prepared(backend, reference, stdin=s, limits=replace(limits, time_s=20.0))
        seed_answers.append(problem.answers.get(i, r.stdout))
        seed_times.append(r.cpu_time_s)
    tests = list(seeds) + [c.args[0] for c in kept_c]
    all_answers = seed_answers + answers
    all_times = seed_times + times
    programs: dict[str, Prepared] = {}
    for name, src in problem.known_wrong:
        programs[f"wrong:{name}"] = prepare(backend, _with_language(
            name, problem.reference_language), src.encode())
    if problem.reference_language == PYTHON.name and options.mutants:
        for m in make_mutants(problem.reference, limit=min(options.mutants, 10),
                              seed=options.seed):
            programs[f"mutant:{m.id}"] = prepare(backend, PYTHON, m.source.encode())
    kills: list[set[str]] = [set() for _ in tests]
    for name, prepared in programs.items():
        spent = 0.0
        for i, stdin in enumerate(tests):
            if prepared.compile_error is not None:
                kills[i].add(name)
                continue
            if spent > options.mutant_total_s:
                break
            verdict, _, _ = run_one(backend, problem, prepared, stdin, all_answers[i],
                                    max(options.mutant_time_s, 4 * all_times[i]),
                                    options.memory_mb)
            spent += max(options.mutant_time_s, all_times[i])
            if verdict is not Verdict.AC:
                kills[i].add(name)
    # The longest input stands for the heaviest (see features.stress); times are too noisy.
    reqs = [k | big for k, big in zip(kills, stress([(t,) for t in tests], [0.0] * len(tests)),
                                      strict=True)]
    seed_reqs, cand_reqs = reqs[:len(seeds)], reqs[len(seeds):]
    report.data["programs"] = {
        "mutants": sum(1 for n in programs if n.startswith("mutant:")),
        "known_wrong": sum(1 for n in programs if n.startswith("wrong:")),
        "killed_by_seeds": len(covered(kills[:len(seeds)])),
        "killed_by_all_kept": len(covered(kills)),
        "never_killed": sorted(set(programs) - covered(kills))[:50]}
    report.lap("measure")
    sel = select(options, seed_reqs, cand_reqs, existing=existing,
                 seed_cost=[float(len(s)) for s in seeds],
                 cand_cost=[float(len(c.args[0])) for c in kept_c])
    final = [SynthTest((seeds[i],), original_provenance(problem, i)) for i in sel.seeds_written] + \
        [SynthTest(kept_c[i].args, kept_c[i].provenance) for i in sel.tests]
    sel.describe(report.data, [c.provenance for c in kept_c])
    report.data["programs"]["killed_by_selected"] = len(
        covered([kills[i] for i in sel.seeds] + [kills[len(seeds) + i] for i in sel.tests]))
    report.lap("reduce")
    return SynthResult(problem, tuple((s,) for s in seeds), final, report.to_json())

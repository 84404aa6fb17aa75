"""Reference outputs and times, computed once in the sandbox and cached on disk.

The cache key is a hash of the dataset row, the interpreter and the machine (references
carry timings, which belong to one machine), so a changed problem, interpreter or host
never reuses stale outputs. Files live under ``<cache dir>/references/<key>.json``. For
datasets whose tests are programs (HumanEval's ``check``), the recorded inputs are cached
with the outputs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

from codeeval.datasets.problem import FunctionalProblem, Problem, digest
from codeeval.harness import inputs as generated_inputs
from codeeval.harness import stdio
from codeeval.harness.functional import Expected, digest_threshold, record_inputs, run_reference
from codeeval.harness.values import ProtocolError, decode, encode
from codeeval.languages.registry import python_interpreter
from codeeval.sandbox.base import Backend


def cache_key(problem: Problem) -> str:
    """The content key of a problem's reference outputs on this machine."""
    machine = (platform.node(), platform.machine(), os.cpu_count())
    return digest({"problem": problem.source_digest, "suites": list(problem.suites),
                   "kind": type(problem).__name__,
                   "digest_over": digest_threshold(problem)
                   if isinstance(problem, FunctionalProblem) else 0,
                   "python": python_interpreter(), "version": sys.version, "machine": machine})


def load_or_compute(backend: Backend, problem: Problem, cache_dir: Path) -> tuple[
        Problem, Expected, str]:
    """Return the problem (with its inputs, when they had to be recorded or generated), its
    reference outputs, and where they came from (``cache`` or ``run``).

    Raises:
        SandboxError: the sandbox failed while computing them.
        ReferenceFailed: the reference itself does not work.
    """
    path = cache_dir / "references" / f"{cache_key(problem)}.json"
    try:
        data = json.loads(path.read_text())
        if "inputs" in data and isinstance(problem, FunctionalProblem):
            problem = _with_inputs(problem, tuple(tuple(decode(a)) for a in data["inputs"]))
        if "generated" in data:
            problem = _with_generated(problem, tuple(_input(problem, decode(a))
                                                     for a in data["generated"]))
        expected = Expected(tuple(decode(v) for v in data["outputs"]),
                            tuple(float(t) for t in data["times"]),
                            {int(k): str(v) for k, v in data["failed"].items()})
        return problem, expected, "cache"
    except (OSError, ValueError, KeyError, TypeError, ProtocolError):
        pass
    recorded = None
    if (isinstance(problem, FunctionalProblem) and "check" in problem.extra
            and not any(problem.suites.values())):
        recorded = record_inputs(backend, problem)
        problem = _with_inputs(problem, recorded)
    generated = None
    if problem.generator is not None:
        generated = generated_inputs.generate(backend, problem)
        problem = _with_generated(problem, generated)
    if isinstance(problem, FunctionalProblem):
        expected = run_reference(backend, problem)
    else:
        expected = stdio.run_reference(backend, problem)
    try:
        payload: dict[str, Any] = {"task_id": problem.task_id,
                                   "outputs": [encode(v) for v in expected.outputs],
                                   "times": list(expected.times),
                                   "failed": {str(k): v for k, v in expected.failed.items()}}
        if recorded is not None:
            payload["inputs"] = [encode(list(a)) for a in recorded]
        if generated is not None:
            payload["generated"] = [encode(a) for a in generated]
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(payload, allow_nan=True))
        os.replace(tmp, path)
    except (OSError, ProtocolError):
        pass  # the cache is an optimisation: scoring goes on without it
    return problem, expected, "run"


def materialise(backend: Backend, problem: Problem, cache_dir: Path) -> Problem:
    """The problem with every test explicit: HumanEval's test programs recorded, a
    problem generator's inputs generated (both cached with the reference outputs). The
    generator itself is dropped: its inputs are now tests like the others.

    Raises:
        SandboxError: the sandbox failed.
        ReferenceFailed: the reference, the generator or the validator does not work.
    """
    recorded = isinstance(problem, FunctionalProblem) and "check" in problem.extra and not any(
        problem.suites.values())
    if not (recorded or problem.generator is not None):
        return problem
    loaded, _, _ = load_or_compute(backend, problem, cache_dir)
    return dataclasses.replace(loaded, generator=None)


def _with_inputs(problem: FunctionalProblem, inputs: tuple[tuple[Any, ...], ...]
                 ) -> FunctionalProblem:
    return dataclasses.replace(problem, suites={name: inputs for name in problem.suites})


def _input(problem: Problem, value: Any) -> Any:
    if isinstance(problem, FunctionalProblem):
        return tuple(value)
    if not isinstance(value, bytes):
        raise ProtocolError("a cached stdin is not bytes")
    return value


def _with_generated(problem: Problem, generated: tuple[Any, ...]) -> Problem:
    """The problem with its generated suite filled: the file's tests, then the generated."""
    spec = problem.generator
    if spec is None:
        return problem
    suites = dict(problem.suites)
    # The generator's suite starts as every test of the tests file (see datasets.native).
    before = tuple(suites.get(spec.suite, ()))
    suites[spec.suite] = before + generated
    provenance = dict(problem.provenance) | {
        len(before) + i: {"generator": "problem-generator", "seed": spec.seed, "index": i}
        for i in range(len(generated))}
    return dataclasses.replace(problem, suites=suites,  # type: ignore[arg-type]
                               provenance=provenance)

"""Generated test inputs: run a problem's seeded generator and its validator in the sandbox.

Both are Python modules written by the problem's author, loaded by the ordinary in-sandbox
driver (:mod:`codeeval.harness.pydriver`) behind a small wrapper, so they get the same
isolation, limits and typed channel as candidates. Input ``i`` of a generator with seed
``s`` is ``generate(random.Random("s:i"))``: the same inputs on every machine and every
run, independent of how many are asked for.
"""

from __future__ import annotations

from typing import Any

from codeeval.datasets.problem import FunctionalProblem, GeneratorSpec, Problem
from codeeval.harness.functional import ReferenceFailed, Session
from codeeval.model.run import Limits
from codeeval.sandbox.base import Backend

GENERATE_WRAPPER = """

def __codeeval_generate__(seed):
    import random
    return generate(random.Random(seed))
"""
_VALIDATE_CALL = """

def __codeeval_validate__(args):
    validate(*args)
    return True
"""
_VALIDATE_TEXT = """

def __codeeval_validate__(data):
    validate(data.decode("utf-8", "replace"))
    return True
"""
PER_INPUT_S = 10.0


def generate(backend: Backend, problem: Problem) -> tuple[Any, ...]:
    """The problem's generated inputs (argument tuples, or stdin bytes), validated.

    Raises:
        SandboxError: the sandbox failed.
        ReferenceFailed: the generator or the validator failed, or an input is invalid
            (a fault of the problem, reported for every sample of it).
    """
    spec = problem.generator
    if spec is None:
        return ()
    functional = isinstance(problem, FunctionalProblem)
    seeds = [(f"{spec.seed}:{i}",) for i in range(spec.count)]
    raw = _call_all(backend, problem.task_id, "generator", spec.source + GENERATE_WRAPPER,
                    "__codeeval_generate__", seeds)
    inputs: list[Any] = []
    for i, value in enumerate(raw):
        if functional and isinstance(value, list | tuple):
            inputs.append(tuple(value))
        elif not functional and isinstance(value, str | bytes):
            inputs.append(value.encode() if isinstance(value, str) else value)
        else:
            want = "a list of arguments" if functional else "the stdin text (str)"
            raise ReferenceFailed(f"{problem.task_id}: generator input {i} is "
                                  f"{type(value).__name__}, not {want}")
    # The problem's own tests must satisfy the validator too.
    validate(backend, problem, spec, tuple(problem.suites.get(spec.suite, ())) + tuple(inputs))
    return tuple(inputs)


def validate(backend: Backend, problem: Problem, spec: GeneratorSpec,
             inputs: tuple[Any, ...]) -> None:
    """Check ``inputs`` with the problem's validator, if it has one.

    Raises:
        SandboxError: the sandbox failed.
        ReferenceFailed: an input is invalid, or the validator itself fails.
    """
    if spec.validator is None or not inputs:
        return
    functional = isinstance(problem, FunctionalProblem)
    wrapper = _VALIDATE_CALL if functional else _VALIDATE_TEXT
    calls = [(list(a),) if functional else (a,) for a in inputs]
    _call_all(backend, problem.task_id, "validator", spec.validator + wrapper,
              "__codeeval_validate__", calls)


def _call_all(backend: Backend, task_id: str, what: str, code: str, entry: str,
              calls: list[tuple[Any, ...]]) -> list[Any]:
    limits = Limits(time_s=PER_INPUT_S * len(calls) + 10.0, memory_mb=4096,
                    stdout_bytes=1 << 20, stderr_bytes=1 << 20)
    session = Session.open(backend, code, entry, limits)
    try:
        if session.load_error is not None:
            raise ReferenceFailed(f"{task_id}: the {what} does not load: {session.load_error}")
        values: list[Any] = []
        for call in session.calls(calls, [PER_INPUT_S] * len(calls)):
            if call.verdict is not None:
                verb = "rejected" if what == "validator" else "failed on"
                raise ReferenceFailed(f"{task_id}: the {what} {verb} input {call.index}: "
                                      f"{call.error}")
            values.append(call.value)
        if len(values) != len(calls):
            raise ReferenceFailed(f"{task_id}: the {what} answered {len(values)} of "
                                  f"{len(calls)} calls")
        return values
    finally:
        session.close()

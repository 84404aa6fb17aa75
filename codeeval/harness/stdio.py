"""Stdin/stdout problems: one sandboxed run of the whole program per test, judged on the host.

Programs may be in any registered language. The program is compiled once when its
language needs it (:mod:`codeeval.harness.program`) and then run once per test with the
test's stdin, its own per-test limits and a fresh sandbox (pre-spawned by the backend, so
the cost is a process start). The expected answer never enters the candidate's sandbox:
built-in checkers compare on the host (:mod:`codeeval.grading.checkers`); a custom checker
is a program run in a sandbox of its own with the test's input, the program's output and
the expected answer as files::

    python checker.py input.txt output.txt answer.txt

exit status 0 accepts, 1 rejects (the first line of its stdout is the reason), anything
else is a fault of the checker (an infra error, ``SE``).
"""

from __future__ import annotations

from typing import Any

from codeeval.datasets.problem import StdioProblem
from codeeval.errors import SandboxError
from codeeval.grading.checkers import CHECKERS
from codeeval.harness.functional import (
    Expected,
    ReferenceFailed,
    SuiteOutcome,
    TimePolicy,
    describe,
    longest_suite,
    suite_outcomes,
)
from codeeval.harness.program import Prepared, prepare, run_prepared
from codeeval.languages.registry import PYTHON, Language, get_language, python_interpreter
from codeeval.model.run import FileSpec, Job, Limits, RunResult, RunStatus
from codeeval.model.verdict import Verdict
from codeeval.sandbox.base import Backend

#: A program may print this much more than the expected answer before it is cut (OLE).
OUTPUT_SLACK = 1 << 20
CHECKER_TIME_S = 10.0
#: How much of the compiler's message a CE's ``first_failure`` keeps.
COMPILER_MESSAGE = 2000
_DEFAULT_POLICY = TimePolicy()


def run_reference(backend: Backend, problem: StdioProblem, *, per_test_s: float = 20.0,
                  memory_mb: int = 4096, language: Language | None = None) -> Expected:
    """Run the reference on every test; its outputs (or the given answers) are expected.
    The reference is compiled once, in ``language`` (default: the problem's
    ``reference_language``).

    Raises:
        SandboxError: the sandbox failed.
        ReferenceFailed: the reference fails to compile or fails a test.
    """
    language = language or get_language(problem.reference_language)
    prepared = prepare(backend, language, problem.reference.encode())
    if prepared.compile_error is not None:
        raise ReferenceFailed(f"{problem.task_id}: the reference does not compile: "
                              f"{prepared.compile_error.reason}")
    outputs: list[bytes] = []
    times: list[float] = []
    limits = Limits(time_s=per_test_s, memory_mb=memory_mb, stdout_bytes=64 << 20)
    for i, stdin in enumerate(longest_suite(problem)):
        result = run_prepared(backend, prepared, stdin=stdin, limits=limits)
        if result.status is not RunStatus.OK or result.exit_code != 0:
            raise ReferenceFailed(f"{problem.task_id}: the reference failed test {i} "
                                  f"({result.reason or result.status.value}) "
                                  f"{result.stderr_tail(200)}")
        outputs.append(problem.answers.get(i, result.stdout))
        times.append(result.cpu_time_s)
    return Expected(tuple(outputs), tuple(times), {})


def judge(backend: Backend, problem: StdioProblem, code: str, expected: Expected, *,
          policy: TimePolicy = _DEFAULT_POLICY, memory_mb: int = 4096,
          all_tests: bool = False, language: Language = PYTHON) -> dict[str, SuiteOutcome]:
    """Run ``code`` on every test in order; stop at the first failure unless ``all_tests``.

    Raises:
        SandboxError: the sandbox (or a custom checker) failed: an infra error.
    """
    inputs = longest_suite(problem)
    bounds = {name: len(suite) for name, suite in problem.suites.items()}
    passed = [False] * len(inputs)
    failures: list[tuple[int, Verdict, dict[str, Any]]] = []
    prepared = prepare(backend, language, code.encode("utf-8", "surrogatepass"))
    if prepared.compile_error is not None:
        error = prepared.compile_error
        failures.append((0, Verdict.CE, {
            "test": None, "reason": error.reason,
            "compiler": error.stderr[:COMPILER_MESSAGE].decode("utf-8", "replace")}))
        return suite_outcomes(bounds, passed, failures)
    for i, stdin in enumerate(inputs):
        verdict, reason, got = run_one(backend, problem, prepared, stdin, expected.outputs[i],
                                    policy.limit(expected.times[i]), memory_mb)
        if verdict is Verdict.AC:
            passed[i] = True
            continue
        failures.append((i, verdict, {"test": i, "input": describe(stdin), "reason": reason,
                                      "expected": describe(expected.outputs[i]),
                                      "got": got}))
        if not all_tests:
            break
    return suite_outcomes(bounds, passed, failures)


def run_one(backend: Backend, problem: StdioProblem, prepared: Prepared, stdin: bytes,
         answer: bytes, time_s: float, memory_mb: int) -> tuple[Verdict, str, str | None]:
    """Run a prepared program on one test and judge its output against ``answer``:
    ``(verdict, reason, the output described)``.

    Raises:
        SandboxError: the sandbox (or a custom checker) failed.
    """
    limits = Limits(time_s=time_s, memory_mb=memory_mb,
                    stdout_bytes=len(answer) + OUTPUT_SLACK)
    result = run_prepared(backend, prepared, stdin=stdin, limits=limits)
    if result.status is RunStatus.SE:
        raise SandboxError(f"sandbox failure: {result.reason}")
    if result.status not in (RunStatus.OK, RunStatus.RE):
        return Verdict.from_status(result.status), result.reason or result.status.value, None
    if result.status is RunStatus.RE or result.exit_code != 0:
        how = (f"exit code {result.exit_code}" if result.exit_code is not None
               else result.reason or "runtime error")
        return Verdict.RE, f"{how}: {result.stderr_tail(300)}", None
    got = describe(result.stdout)
    checker = problem.checker
    if checker.kind == "custom":
        why = run_checker(backend, checker.source or "", stdin, result.stdout, answer)
    else:
        why = CHECKERS[checker.kind](result.stdout, answer, checker.abs_tol, checker.rel_tol)
    return (Verdict.AC, "", got) if why is None else (Verdict.WA, why, got)


def run_checker(backend: Backend, source: str, stdin: bytes, output: bytes,
                answer: bytes) -> str | None:
    """Run a custom checker in its own sandbox; ``None`` accepts, else the reason.

    Raises:
        SandboxError: the checker crashed, timed out or exited with a status other than
            0 or 1 (a fault of the problem, never of the program).
    """
    job = Job(command=(python_interpreter(), "-B", "checker.py", "input.txt", "output.txt",
                       "answer.txt"),
              files={"checker.py": FileSpec(source.encode()), "input.txt": FileSpec(stdin),
                     "output.txt": FileSpec(output), "answer.txt": FileSpec(answer)},
              env=dict(PYTHON.env), runtime_paths=PYTHON.runtime_paths(),
              limits=Limits(time_s=CHECKER_TIME_S, memory_mb=1024,
                            scratch_mb=64 + (len(output) + len(answer) + len(stdin) >> 20)))
    result: RunResult = backend.run(job)
    # A checker's "reject" is exit status 1, which the sandbox reports as a runtime error.
    if result.status in (RunStatus.OK, RunStatus.RE) and result.exit_code in (0, 1):
        if result.exit_code == 0:
            return None
        first = result.stdout.decode(errors="replace").strip().splitlines()[:1] or [""]
        return f"checker: {first[0][:300] or 'rejected'}"
    raise SandboxError(f"the checker failed ({result.reason or result.status.value}, exit "
                       f"{result.exit_code}) {result.stderr_tail(200)}")

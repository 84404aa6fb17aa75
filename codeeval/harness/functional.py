"""Call-based problems: load a candidate once in a sandbox, stream inputs, judge on the host.

One sandboxed process per program: the driver (:mod:`codeeval.harness.pydriver`) executes
the candidate once and then answers one typed result per input, streamed, while the host
compares each with the expected output *outside* the sandbox and stops at the first
failure. Per-test time limits are enforced by the supervisor (CPU time, with a wall-clock
backstop); expected outputs never enter the sandbox.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import itertools
import json
import math
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from codeeval.datasets.problem import ORACLE_EQUAL, FunctionalProblem, Problem
from codeeval.errors import SandboxError
from codeeval.grading.compare import outputs_match
from codeeval.grading.oracles import ORACLES
from codeeval.harness.values import ProtocolError, decode, encode
from codeeval.languages.registry import (
    PYTHON,
    python_interpreter,
    python_site_packages,
    warm_python_script,
)
from codeeval.model.run import FileSpec, Job, Limits, RunResult, RunStatus
from codeeval.model.verdict import Verdict
from codeeval.sandbox.base import Backend
from codeeval.sandbox.process import ReplyKind, SandboxProcess, message_line

_HERE = importlib.resources.files("codeeval.harness")
_DRIVER = _HERE.joinpath("pydriver.py").read_bytes()
_RECORDER = _HERE.joinpath("pyrecorder.py").read_bytes()
warm_python_script("driver.py", _DRIVER)
LOAD_TIMEOUT_S = 10.0
#: Encoded input batches by cache key: every sample of a problem sends the same ones.
_BATCHES: dict[Any, bytes] = {}
_BATCH_CACHE_SIZE = 1024


@dataclass(frozen=True, slots=True)
class Call:
    """The outcome of one call: a decoded value, or why there is none."""

    index: int
    value: Any = None
    error: str | None = None  # the program's exception, or a protocol violation
    verdict: Verdict | None = None  # set when the call did not return (TLE, RE, ...)
    time_s: float = 0.0

    @property
    def error_is_protocol(self) -> bool:
        return bool(self.error and self.error.startswith("protocol violation"))


@dataclass(frozen=True, slots=True)
class SuiteOutcome:
    """How a program did on one suite."""

    verdict: Verdict
    passed: int
    total: int
    first_failure: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict.value, "passed": self.passed, "total": self.total,
                "first_failure": self.first_failure}


@dataclass
class Session:
    """A sandboxed Python process with a candidate loaded, answering calls."""

    proc: SandboxProcess
    load_error: str | None = None
    load_verdict: Verdict | None = None
    result: RunResult | None = field(default=None)

    @classmethod
    def open(cls, backend: Backend, code: str, entry_point: str, limits: Limits, *,
             digest_over: int = 0) -> Session:
        """Start the sandbox and load ``code``; results of at least ``digest_over`` bytes
        of text come back as digests (0: never; see :func:`digest_threshold`).

        Raises:
            SandboxError: the sandbox failed.
        """
        # -S: no site processing at start-up (40 ms of the interpreter's 55 here); the
        # driver puts site-packages on sys.path itself, so installed packages still import.
        job = Job(command=(python_interpreter(), "-S", "-B", "driver.py"),
                  files={"driver.py": FileSpec(_DRIVER),
                         "candidate.py": FileSpec(code.encode("utf-8", "surrogatepass"))},
                  env=dict(PYTHON.env), limits=limits, channel=True,
                  runtime_paths=PYTHON.runtime_paths())
        session = cls(backend.start(job))
        session.proc.send({"entry": entry_point, "path": list(python_site_packages()),
                           "digest_over": digest_over})
        reply = session.proc.receive(timeout_s=LOAD_TIMEOUT_S)
        if reply.kind is ReplyKind.MESSAGE and isinstance(reply.value, dict):
            if reply.value.get("ready") is True:
                return session
            error = str(reply.value.get("load_error", "unexpected first message"))
            session.load_error = error
            session.load_verdict = (Verdict.CE if error.startswith(("SyntaxError",
                                    "IndentationError", "TabError")) else Verdict.RE)
        else:
            session.load_error = f"the program did not load ({reply.kind.value})"
            session.load_verdict = session._ended_verdict()
        return session

    def calls(self, inputs: Sequence[Sequence[Any]], cpu_limits: Sequence[float], *,
              stop_on_exception: bool = True, cache_key: Any = None,
              each: bool = False) -> Iterator[Call]:
        """Send ``inputs`` as one batch and yield each call's outcome as it arrives.

        Stops after the first call that did not return normally (with
        ``stop_on_exception=False``, calls that raised are reported and the rest go on).
        ``cpu_limits[i]`` is the CPU-time budget of call ``i``; the wall clock gets three
        times that plus a second. With a ``cache_key`` (hashable, naming these inputs),
        the encoded batch is kept and reused by later calls with the same key. With
        ``each``, the driver sends every result before starting the next call, so a call that
        never returns is always the one blamed (batched results that were not yet sent are
        otherwise lost with the process, and the first of them takes the blame).
        """
        flush_before = list(range(1, len(cpu_limits))) if each else [
            i for i in range(1, len(cpu_limits)) if cpu_limits[i] != cpu_limits[i - 1]]
        key = None if cache_key is None else (
            cache_key, ("each",) if each else tuple(flush_before))
        line = _BATCHES.get(key) if key is not None else None
        if line is None:
            try:
                batch = [encode(list(args)) for args in inputs]
            except ProtocolError as e:
                raise SandboxError(f"a test input cannot be encoded: {e}") from e
            line = message_line({"tests": batch, "flush_before": flush_before})
            if key is not None:
                if len(_BATCHES) >= _BATCH_CACHE_SIZE:
                    _BATCHES.clear()
                _BATCHES[key] = line
        if not self.proc.send_line(line):
            yield Call(0, error="the program closed its channel", verdict=self._ended_verdict())
            return
        pending: deque[Any] = deque()
        i = 0
        while i < len(inputs):
            if not pending:
                # Waiting for the next batch: the budget is that of the first call not yet
                # reported (calls finished in the last flush interval may ride along).
                budget = cpu_limits[i]
                reply = self.proc.receive(timeout_s=3 * budget + 1.0, cpu_time_s=budget)
                if reply.kind is ReplyKind.MESSAGE:
                    results = reply.value.get("r") if isinstance(reply.value, dict) else None
                    if not isinstance(results, list) or not results:
                        yield Call(i, error="protocol violation: not a batch of results",
                                   verdict=Verdict.RE)
                        return
                    pending.extend(results)
                    continue
                if reply.kind is ReplyKind.TIMEOUT:
                    yield Call(i, error=f"time limit {budget:.2f} s exceeded",
                               verdict=Verdict.TLE, time_s=reply.cpu_time_s)
                elif reply.kind in (ReplyKind.MALFORMED, ReplyKind.OVERSIZE):
                    yield Call(i, error=f"protocol violation: {reply.detail}",
                               verdict=Verdict.RE)
                else:
                    yield Call(i, error=f"the program ended early ({reply.kind.value})",
                               verdict=self._ended_verdict())
                return
            call = _parse_reply(i, pending.popleft(), 0.0)
            if call.verdict is None and call.time_s > 3 * cpu_limits[i] + 1.0:
                call = Call(i, error=f"time limit {cpu_limits[i]:.2f} s exceeded "
                                     f"({call.time_s:.2f} s)", verdict=Verdict.TLE,
                            time_s=call.time_s)
            yield call
            i += 1
            raised = call.verdict is Verdict.RE and not call.error_is_protocol
            if call.verdict is not None and (stop_on_exception or not raised):
                return

    def close(self) -> RunResult:
        """Kill the process (if still running) and return its run result."""
        if self.result is None:
            self.result = self.proc.kill()
        return self.result

    def _ended_verdict(self) -> Verdict:
        result = self.close()
        if result.status is RunStatus.OK:
            return Verdict.RE  # exiting before answering is a failure, whatever the code
        return Verdict.from_status(result.status)


def _parse_reply(i: int, msg: Any, cpu: float) -> Call:
    if not isinstance(msg, dict) or msg.get("i") != i:
        return Call(i, error="protocol violation: reply out of order", verdict=Verdict.RE)
    if "exc" in msg:
        return Call(i, error=str(msg["exc"])[:500], verdict=Verdict.RE, time_s=cpu)
    if "ok" not in msg:
        return Call(i, error="protocol violation: no result", verdict=Verdict.RE)
    try:
        value = decode(msg["ok"])
    except ProtocolError as e:
        return Call(i, error=f"protocol violation: {e}", verdict=Verdict.RE)
    t = msg.get("t")
    return Call(i, value=value, time_s=float(t) if isinstance(t, int | float) else cpu)


def describe(value: Any, limit: int = 300) -> str:
    """A short repr for reports (an int too long for ``repr``, past the interpreter's
    4,300-digit limit, is shown by its size and leading hex digits instead)."""
    try:
        text = repr(value)
    except ValueError:
        text = _repr_huge(value, 0)
    return text if len(text) <= limit else text[:limit] + "..."


def _repr_huge(value: Any, depth: int) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        with contextlib.suppress(ValueError):
            return repr(value)
        digits = int(value.bit_length() * math.log10(2)) + 1
        return f"<int of ~{digits} digits: {hex(value)[:18]}...>"
    if depth < 20 and isinstance(value, list | tuple | set | frozenset):
        items = ", ".join(_repr_huge(v, depth + 1) for v in itertools.islice(value, 20))
        more = ", ..." if len(value) > 20 else ""
        brackets = {list: "[]", tuple: "()"}.get(type(value), "{}")
        return f"{brackets[0]}{items}{more}{brackets[1]}"
    if depth < 20 and isinstance(value, dict):
        items = ", ".join(f"{_repr_huge(k, depth + 1)}: {_repr_huge(v, depth + 1)}"
                          for k, v in itertools.islice(value.items(), 20))
        return "{" + items + (", ..." if len(value) > 20 else "") + "}"
    try:
        return repr(value)
    except ValueError:
        return f"<{type(value).__name__}>"


#: Results whose encoded text is at least this long travel as digests, when compared exactly.
DIGEST_OVER = 1 << 20


def digest_threshold(problem: FunctionalProblem) -> int:
    """When results of ``problem`` may travel as digests: only if they are compared exactly
    (no tolerance, no special oracle), and then from :data:`DIGEST_OVER` bytes of text.

    Huge outputs (HumanEval/130 returns lists of a million numbers; one MBPP+ input makes
    a list of 1.6 million tuples) then cost a hash in the sandbox instead of megabytes on
    the channel, and never exceed the channel's message limit.
    """
    return DIGEST_OVER if problem.oracle == ORACLE_EQUAL and not problem.atol else 0


@dataclass(frozen=True, slots=True)
class Expected:
    """Reference outputs of a problem, per input of its longest suite.

    ``outputs[i]`` is the reference's result on input ``i`` and ``times[i]`` its CPU time;
    inputs in ``failed`` (index -> error) made the reference itself fail and are left out of
    every suite.
    """

    outputs: tuple[Any, ...]
    times: tuple[float, ...]
    failed: dict[int, str]


@dataclass(frozen=True, slots=True)
class TimePolicy:
    """Per-test limits from reference times: ``max(floor_s, factor * reference time)``."""

    floor_s: float = 1.0
    factor: float = 4.0

    def limit(self, reference_s: float) -> float:
        return max(self.floor_s, self.factor * reference_s)


def run_reference(backend: Backend, problem: FunctionalProblem, *,
                  per_input_s: float = 20.0, memory_mb: int = 4096) -> Expected:
    """Run the problem's reference on every input, in the sandbox, and keep its outputs.

    Raises:
        SandboxError: the sandbox failed.
        ReferenceFailed: the reference does not load, or dies instead of answering.
    """
    inputs = longest_suite(problem)
    limits = Limits(time_s=per_input_s * max(1, len(inputs)) + LOAD_TIMEOUT_S,
                    memory_mb=memory_mb, stdout_bytes=1 << 20, stderr_bytes=1 << 20)
    session = Session.open(backend, problem.reference, problem.entry_point, limits,
                           digest_over=digest_threshold(problem))
    try:
        if session.load_error is not None:
            raise ReferenceFailed(f"{problem.task_id}: the reference does not load: "
                                  f"{session.load_error}")
        outputs: list[Any] = [None] * len(inputs)
        times = [0.0] * len(inputs)
        failed: dict[int, str] = {}
        seen = 0
        for call in session.calls(inputs, [per_input_s] * len(inputs), stop_on_exception=False):
            seen = call.index + 1
            if call.verdict is None:
                outputs[call.index] = call.value
                times[call.index] = call.time_s
            elif call.verdict is Verdict.RE and not call.error_is_protocol:
                failed[call.index] = call.error or "raised"
            else:
                raise ReferenceFailed(f"{problem.task_id}: the reference failed on input "
                                      f"{call.index}: {call.error}")
        if seen != len(inputs):
            raise ReferenceFailed(f"{problem.task_id}: the reference answered {seen} of "
                                  f"{len(inputs)} inputs")
        return Expected(tuple(outputs), tuple(times), failed)
    finally:
        session.close()


class ReferenceFailed(SandboxError):
    """The reference solution could not produce expected outputs (a dataset problem)."""


def longest_suite(problem: Problem) -> tuple[Any, ...]:
    """The inputs of the problem's last (cumulative, so longest) suite: argument tuples
    for call-based problems, stdin bytes for stdio problems."""
    return list(problem.suites.values())[-1] if problem.suites else ()


def judge(backend: Backend, problem: FunctionalProblem, code: str, expected: Expected, *,
          policy: TimePolicy = TimePolicy(), memory_mb: int = 4096,
          all_tests: bool = False) -> dict[str, SuiteOutcome]:
    """Run ``code`` against every suite of ``problem``; one sandboxed process for all.

    Suites are cumulative prefixes of the longest one, so inputs run once, in order. By
    default the run stops at the first failure, which fails every suite containing it;
    ``all_tests`` runs everything and counts passes (a fresh process after a crash).

    Raises:
        SandboxError: the sandbox failed (an infra error: retry, never a verdict).
    """
    inputs = longest_suite(problem)
    keep = [i for i in range(len(inputs)) if i not in expected.failed]
    bounds = {name: sum(1 for i in keep if i < len(suite))
              for name, suite in problem.suites.items()}
    # Each suite's new inputs go to the driver as a batch of their own, so results are
    # flushed at every suite boundary and a slow test of a later suite can never hold back
    # (and so fail) an earlier suite.
    edges = sorted({b for b in bounds.values() if b > 0} | {len(keep)})
    cpu = [policy.limit(expected.times[i]) for i in keep]
    limits = Limits(time_s=math.fsum(cpu) + LOAD_TIMEOUT_S, memory_mb=memory_mb,
                    stdout_bytes=1 << 20, stderr_bytes=1 << 20)
    passed = [False] * len(keep)
    failures: list[tuple[int, Verdict, dict[str, Any]]] = []
    pos = 0
    session: Session | None = None
    try:
        while pos < len(keep):
            if session is None:
                session = Session.open(backend, code, problem.entry_point, limits,
                                       digest_over=digest_threshold(problem))
                if session.load_error is not None:
                    failures.append((pos, session.load_verdict or Verdict.RE,
                                     {"test": None, "reason": session.load_error}))
                    break
            end = next(e for e in edges if e > pos)
            stop = restart = False
            for call in session.calls([inputs[i] for i in keep[pos:end]], cpu[pos:end],
                                      stop_on_exception=not all_tests,
                                      cache_key=(problem.task_id, problem.source_digest,
                                                 tuple(keep[pos:end]))):
                at = pos + call.index
                original = keep[at]
                if call.verdict is None and correct(problem, inputs[original], call.value,
                                                     expected.outputs[original]):
                    passed[at] = True
                    continue
                failures.append((at, call.verdict or Verdict.WA, {
                    "test": original, "input": describe(inputs[original]),
                    "reason": call.error or "wrong answer",
                    "expected": describe(expected.outputs[original]),
                    "got": None if call.verdict else describe(call.value)}))
                if not all_tests:
                    stop = True
                elif call.verdict not in (None, Verdict.RE) or call.error_is_protocol:
                    restart, end = True, at + 1  # the process is gone: go on in a new one
                if stop or restart:
                    break
            if stop:
                break
            if restart:
                session.close()
                session = None
            pos = end
    finally:
        if session is not None:
            session.close()
    return suite_outcomes(bounds, passed, failures)


def suite_outcomes(bounds: dict[str, int], passed: Sequence[bool],
                   failures: Sequence[tuple[int, Verdict, dict[str, Any]]]
                   ) -> dict[str, SuiteOutcome]:
    """Fold per-test results into one outcome per cumulative suite.

    ``bounds`` maps each suite to its number of tests (a prefix of the run order),
    ``passed[i]`` says whether test ``i`` passed, and ``failures`` lists ``(position,
    verdict, details)`` in run order; a failure whose ``details["test"]`` is ``None`` (the
    program did not load) fails every suite.
    """
    outcomes = {}
    for name, bound in bounds.items():
        first = next(((pos, v, d) for pos, v, d in failures if pos < bound or (
            d["test"] is None)), None)
        count = sum(passed[:bound])
        if first is None and count == bound:
            outcomes[name] = SuiteOutcome(Verdict.AC, count, bound)
        elif first is None:
            # Not every test ran and none failed: that is the harness's fault, never a pass.
            outcomes[name] = SuiteOutcome(Verdict.SE, count, bound, {
                "test": None, "reason": f"only {count} of {bound} tests produced a result"})
        else:
            outcomes[name] = SuiteOutcome(first[1], count, bound, first[2])
    return outcomes


def correct(problem: FunctionalProblem, args: Sequence[Any], out: Any, exp: Any) -> bool:
    """Whether ``out`` is a right answer to ``args`` given the reference's ``exp``."""
    if problem.oracle == ORACLE_EQUAL:
        return outputs_match(out, exp, problem.atol)
    return ORACLES[problem.oracle](args, out, exp, problem.atol)


def record_inputs(backend: Backend, problem: FunctionalProblem, *,
                  time_s: float = 120.0) -> tuple[tuple[Any, ...], ...]:
    """Run the problem's ``check(candidate)`` test against its reference, in the sandbox,
    and return the argument lists it called the function with, in order.

    Raises:
        SandboxError: the sandbox failed.
        ReferenceFailed: the test program failed against the reference, or made no call.
    """
    check = problem.extra.get("check")
    if not isinstance(check, str):
        raise ReferenceFailed(f"{problem.task_id}: no test program to record inputs from")
    job = Job(command=(python_interpreter(), "-B", "recorder.py", problem.entry_point),
              files={"driver.py": FileSpec(_DRIVER), "recorder.py": FileSpec(_RECORDER),
                     "solution.py": FileSpec(problem.reference.encode()),
                     "test.py": FileSpec(check.encode())},
              env=dict(PYTHON.env), limits=Limits(time_s=time_s, memory_mb=4096,
                                                   stdout_bytes=64 << 20),
              runtime_paths=PYTHON.runtime_paths())
    result = backend.run(job)
    if result.status is not RunStatus.OK:
        raise ReferenceFailed(f"{problem.task_id}: recording the test's inputs failed "
                              f"({result.reason}) {result.stderr_tail(300)}")
    try:
        calls = [tuple(decode(c)) for c in json.loads(result.stdout)]
    except (ValueError, ProtocolError, TypeError) as e:
        raise ReferenceFailed(f"{problem.task_id}: unreadable recorded inputs: {e}") from None
    if not calls:
        raise ReferenceFailed(f"{problem.task_id}: the test program never called the function")
    return tuple(calls)

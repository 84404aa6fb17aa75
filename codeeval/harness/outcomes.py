"""Every input's outcome for one program: the per-test matrix that synthesis measures with.

:func:`codeeval.harness.functional.judge` stops at a program's first failure, which is
what scoring wants. Test synthesis wants the whole row instead: what a reference returns
on each proposed input (to keep or drop it), which inputs a validator rejects, and which
tests kill which mutant or known-wrong program. :func:`run_inputs` runs a program on every
input in one sandboxed process, going on after an input raises and starting a fresh
process after one that ends it (a time limit, a crash), up to ``max_restarts`` times.
Each result is sent as soon as it is known, so the input that hangs or crashes is the
one blamed; inputs never reached are reported as such, not guessed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from codeeval.errors import CodeevalError
from codeeval.harness.functional import Session
from codeeval.harness.values import ProtocolError, encode
from codeeval.model.run import Limits
from codeeval.model.verdict import Verdict
from codeeval.sandbox.base import Backend


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a program did on one input.

    ``verdict`` is ``None`` when the call returned ``value``; otherwise it says how the call
    failed (``RE`` for an exception, ``TLE``, ``MLE``, ...) and ``error`` says why.
    ``reached`` is false for inputs the run never got to (too many restarts).
    """

    value: Any = None
    verdict: Verdict | None = None
    error: str | None = None
    time_s: float = 0.0
    reached: bool = True

    @property
    def returned(self) -> bool:
        """Whether the call returned a value."""
        return self.reached and self.verdict is None


class NotLoaded(CodeevalError):
    """The program did not load (its message is the load error)."""


#: A batch of inputs sent at once holds at most this many inputs, or this much encoded
#: text: the driver decodes a whole batch before the first call, on that call's budget.
BATCH_INPUTS = 256
BATCH_BYTES = 1 << 20


def _chunks(inputs: Sequence[Sequence[Any]], start: int) -> list[tuple[int, int]]:
    """``[lo, hi)`` ranges from ``start`` on, each a batch small enough to send at once."""
    out = []
    lo, size = start, 0
    for i in range(start, len(inputs)):
        try:
            n = len(json.dumps(encode(list(inputs[i])), allow_nan=True))
        except (ProtocolError, ValueError):
            n = 0  # the session reports it when it encodes the batch
        if i > lo and (i - lo >= BATCH_INPUTS or size + n > BATCH_BYTES):
            out.append((lo, i))
            lo, size = i, 0
        size += n
    if lo < len(inputs):
        out.append((lo, len(inputs)))
    return out


NOT_REACHED = Outcome(verdict=Verdict.SE, error="not run: too many restarts", reached=False)


def run_inputs(backend: Backend, code: str, entry_point: str, inputs: Sequence[Sequence[Any]],
               cpu_limits: Sequence[float], *, memory_mb: int = 4096, digest_over: int = 0,
               max_restarts: int = 5, cache_key: Any = None,
               must_load: bool = False, total_cpu_s: float | None = None) -> list[Outcome]:
    """Call ``entry_point`` of ``code`` on each of ``inputs``; one outcome per input.

    A call that raises is that input's ``RE`` and the process goes on. A call that ends the
    process (time or memory limit, a crash, a protocol violation) is that input's failure,
    and the next input runs in a new process; after ``max_restarts`` such restarts the
    remaining inputs are :data:`NOT_REACHED`. A program that does not load fails every
    input with the load error (``CE`` for a syntax error, else ``RE``), or raises
    :class:`NotLoaded` with ``must_load``. With ``total_cpu_s``, no input starts once the
    calls so far have used that much CPU time: the rest are :data:`NOT_REACHED`.

    Raises:
        SandboxError: the sandbox failed (an infra error: the caller retries).
        NotLoaded: ``must_load`` is set and the program does not load.
    """
    out: list[Outcome] = []
    restarts = 0
    spent = 0.0
    while len(out) < len(inputs):
        start = len(out)
        budget = sum(cpu_limits[start:])
        limits = Limits(time_s=budget + 10.0, memory_mb=memory_mb, stdout_bytes=1 << 20,
                        stderr_bytes=1 << 20)
        session = Session.open(backend, code, entry_point, limits, digest_over=digest_over)
        try:
            if session.load_error is not None:
                if must_load:
                    raise NotLoaded(session.load_error)
                failed = Outcome(verdict=session.load_verdict or Verdict.RE,
                                 error=session.load_error)
                out.extend([failed] * (len(inputs) - start))
                break
            ended = False
            for lo, hi in _chunks(inputs, start):
                key = None if cache_key is None else (cache_key, lo, hi)
                got = 0
                for call in session.calls(inputs[lo:hi], cpu_limits[lo:hi],
                                          stop_on_exception=False, cache_key=key, each=True):
                    got += 1
                    out.append(Outcome(value=call.value, verdict=call.verdict,
                                       error=call.error, time_s=call.time_s))
                    spent += call.time_s
                    if total_cpu_s is not None and spent > total_cpu_s:
                        out.extend([NOT_REACHED] * (len(inputs) - len(out)))
                        break
                    raised = call.verdict is Verdict.RE and not call.error_is_protocol
                    if call.verdict is not None and not raised:
                        ended = True
                        break
                if ended or len(out) >= len(inputs):
                    break
                if got < hi - lo:
                    # The calls stopped early: the last outcome ended the process (it
                    # exited or closed the channel, which looks like an exception's RE).
                    ended = True
                    break
        finally:
            session.close()
        if ended and len(out) < len(inputs):
            restarts += 1
            if restarts > max_restarts:
                out.extend([NOT_REACHED] * (len(inputs) - len(out)))
    return out

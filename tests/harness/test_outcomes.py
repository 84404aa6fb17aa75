"""run_inputs: one outcome per input, going on after failures, blaming the right input."""

from __future__ import annotations

import pytest

from codeeval.harness.outcomes import NotLoaded, run_inputs
from codeeval.model.verdict import Verdict
from codeeval.sandbox.base import Backend
from tests.sandbox.conftest import _backend


@pytest.fixture(scope="module")
def backend() -> Backend:
    return _backend("namespace")

PROGRAM = """
import os

def f(x):
    if x == 3:
        while True:
            pass
    if x == 5:
        raise ValueError("five")
    if x == 7:
        os._exit(0)
    return x * 2
"""


def test_every_input_gets_its_own_outcome(backend: Backend) -> None:
    inputs = [(i,) for i in range(10)]
    outs = run_inputs(backend, PROGRAM, "f", inputs, [0.5] * 10)
    assert [o.value for o in outs if o.returned] == [0, 2, 4, 8, 12, 16, 18]
    assert outs[3].verdict is Verdict.TLE  # the hang is blamed on the input that hangs
    assert outs[5].verdict is Verdict.RE
    assert "five" in (outs[5].error or "")
    assert outs[7].verdict is not None  # leaving the process is a failure, not an answer
    assert all(o.reached for o in outs)


def test_restarts_are_bounded(backend: Backend) -> None:
    inputs = [(3,)] * 4 + [(1,)]
    outs = run_inputs(backend, PROGRAM, "f", inputs, [0.2] * 5, max_restarts=1)
    assert [o.verdict for o in outs[:2]] == [Verdict.TLE, Verdict.TLE]
    assert not any(o.reached for o in outs[2:])


def test_total_cpu_budget_stops_early(backend: Backend) -> None:
    slow = "def f(x):\n    s = 0\n    for i in range(3_000_000):\n        s += i\n    return s\n"
    outs = run_inputs(backend, slow, "f", [(i,) for i in range(20)], [5.0] * 20,
                      total_cpu_s=0.3)
    reached = [o for o in outs if o.reached]
    assert 1 <= len(reached) < 20
    assert all(o.returned for o in reached)


def test_a_program_that_does_not_load(backend: Backend) -> None:
    outs = run_inputs(backend, "def f(:\n", "f", [(1,), (2,)], [1.0, 1.0])
    assert [o.verdict for o in outs] == [Verdict.CE, Verdict.CE]
    with pytest.raises(NotLoaded, match="SyntaxError"):
        run_inputs(backend, "def f(:\n", "f", [(1,)], [1.0], must_load=True)

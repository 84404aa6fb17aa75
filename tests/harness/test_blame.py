"""A call that never returns is the one blamed for the time limit, not the quick calls
whose results were batched before it (the driver sends waiting results when a call runs
long), and a program's own SIGALRM is left alone."""

from __future__ import annotations

import pytest

from codeeval.datasets.problem import FunctionalProblem
from codeeval.harness.functional import judge, run_reference
from codeeval.model.verdict import Verdict
from codeeval.sandbox import Backend
from tests.sandbox.conftest import _backend

PROBLEM = FunctionalProblem(
    task_id="demo/blame", prompt="", entry_point="f",
    reference="def f(n):\n    return n * 2\n",
    suites={"base": ((1,), (2,), (3,), (4,), (5,))})


@pytest.fixture(scope="module")
def backend() -> Backend:
    return _backend("namespace")


def test_the_call_that_hangs_is_blamed(backend: Backend) -> None:
    expected = run_reference(backend, PROBLEM)
    hangs = "def f(n):\n    while n == 4:\n        pass\n    return n * 2\n"
    outcome = judge(backend, PROBLEM, hangs, expected)["base"]
    assert outcome.verdict is Verdict.TLE
    assert outcome.first_failure is not None
    assert outcome.first_failure["test"] == 3, outcome.first_failure  # the input 4
    assert outcome.passed == 3


def test_a_programs_own_alarm_is_left_alone(backend: Backend) -> None:
    """A program that times itself with SIGALRM gets its own handler and its own alarm."""
    expected = run_reference(backend, PROBLEM)
    own_alarm = '''
import signal
import time

fired = []
signal.signal(signal.SIGALRM, lambda *_: fired.append(1))

def f(n):
    fired.clear()
    signal.setitimer(signal.ITIMER_REAL, 0.03)
    deadline = time.monotonic() + 2
    while not fired and time.monotonic() < deadline:
        pass
    return n * 2 if fired else -1
'''
    outcome = judge(backend, PROBLEM, own_alarm, expected)["base"]
    assert outcome.verdict is Verdict.AC, outcome.first_failure

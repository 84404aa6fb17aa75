"""Large results end to end: they travel as digests and are judged like any other result.

HumanEval/130 returns lists of a million numbers; sending them whole cost more than the
tests. A result of 1 MiB of text or more now comes back as a digest, for problems compared
exactly; these tests check that verdicts are unchanged by it.
"""

from __future__ import annotations

import pytest

from codeeval.datasets.problem import FunctionalProblem
from codeeval.harness.functional import judge, run_reference
from codeeval.harness.values import Digest
from codeeval.model.verdict import Verdict
from codeeval.sandbox import Backend
from tests.sandbox.conftest import _backend

BIG = FunctionalProblem(
    task_id="demo/big", prompt="", entry_point="squares",
    reference="def squares(n):\n    return [i * i for i in range(n)]\n",
    suites={"base": ((3,), (300_000,)), "plus": ((3,), (300_000,), (400_000,))})


@pytest.fixture(scope="module")
def backend() -> Backend:
    return _backend("namespace")


@pytest.mark.parametrize(("code", "verdict", "first_failing"), [
    ("def squares(n):\n    return [i ** 2 for i in range(n)]\n", Verdict.AC, None),
    # Wrong only in the large results: caught through the digest.
    ("def squares(n):\n    out = [i * i for i in range(n)]\n"
     "    if n > 1000: out[-1] += 1\n    return out\n", Verdict.WA, 1),
    ("def squares(n):\n    return [i * i for i in range(min(n, 1000))]\n", Verdict.WA, 1),
    ("def squares(n):\n    if n < 10: return [i * i for i in range(n)]\n"
     "    return tuple(i * i for i in range(n))\n", Verdict.WA, 1),
    ("def squares(n):\n    if n < 10: return [i * i for i in range(n)]\n"
     "    return [float(i * i) for i in range(n)]\n", Verdict.WA, 1),
])
def test_large_results_are_judged_exactly(backend: Backend, code: str, verdict: Verdict,
                                          first_failing: int | None) -> None:
    expected = run_reference(backend, BIG)
    assert isinstance(expected.outputs[1], Digest)  # 300,000 squares: over 1 MiB of text
    assert expected.outputs[0] == [0, 1, 4]  # small results travel whole
    outcome = judge(backend, BIG, code, expected)
    assert outcome["plus"].verdict is verdict, outcome
    if first_failing is not None:
        assert outcome["base"].verdict is Verdict.WA
        assert outcome["base"].first_failure is not None
        assert outcome["base"].first_failure["test"] == first_failing


def test_a_tolerance_keeps_results_whole(backend: Backend) -> None:
    floats = FunctionalProblem(
        task_id="demo/floats", prompt="", entry_point="f", atol=1e-6,
        reference="def f(n):\n    return [[i / 3] for i in range(n)]\n",
        suites={"base": ((200_000,),)})
    expected = run_reference(backend, floats)
    assert isinstance(expected.outputs[0], list)
    close = "def f(n):\n    return [[i / 3 + 1e-9] for i in range(n)]\n"
    assert judge(backend, floats, close, expected)["base"].verdict is Verdict.AC

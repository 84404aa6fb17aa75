"""Stdin/stdout judging: verdicts for failing programs, checkers, and generated inputs."""

from __future__ import annotations

import pytest

from codeeval.datasets.problem import CheckerSpec, GeneratorSpec, StdioProblem
from codeeval.errors import SandboxError
from codeeval.harness import inputs, stdio
from codeeval.harness.functional import ReferenceFailed, TimePolicy
from codeeval.model.verdict import Verdict
from codeeval.sandbox.base import Backend
from tests.sandbox.conftest import _backend

DOUBLE = "print(2 * int(input()))\n"
PROBLEM = StdioProblem(task_id="t/double", prompt="", reference=DOUBLE,
                       suites={"base": (b"1\n", b"21\n"), "plus": (b"1\n", b"21\n", b"-4\n")},
                       answers={1: b"42\n"})
FAST = TimePolicy(floor_s=0.5, factor=1.0)


@pytest.fixture
def backend() -> Backend:
    return _backend("namespace")  # shared by the whole session: never closed here


def judge(backend: Backend, code: str, problem: StdioProblem = PROBLEM, **kw: bool
          ) -> dict[str, tuple[Verdict, int, str]]:
    expected = stdio.run_reference(backend, problem)
    out = stdio.judge(backend, problem, code, expected, policy=FAST, memory_mb=256, **kw)
    return {name: (o.verdict, o.passed, (o.first_failure or {}).get("reason", ""))
            for name, o in out.items()}


def test_reference_outputs_and_given_answers(backend: Backend) -> None:
    expected = stdio.run_reference(backend, PROBLEM)
    assert expected.outputs == (b"2\n", b"42\n", b"-8\n")
    assert all(t >= 0 for t in expected.times)


@pytest.mark.parametrize(("code", "verdict", "reason"), [
    (DOUBLE, Verdict.AC, ""),
    ("print(2 * int(input()) + 0.0)\n", Verdict.WA, "line 1: expected '2', got '2.0'"),
    ("import sys\nsys.exit(3)\n", Verdict.RE, "exit code 3"),
    ("raise ValueError('no')\n", Verdict.RE, "ValueError: no"),
    ("while True:\n    pass\n", Verdict.TLE, ""),
    ("print('x' * (8 << 20))\n", Verdict.OLE, ""),
    ("def broken(:\n", Verdict.RE, "SyntaxError"),
    # Expected answers never enter the sandbox: nothing to find on disk.
    ("import glob\nfound = glob.glob('/box/**', recursive=True) + glob.glob('/tmp/**')\n"
     "print(2 * int(input()) if found == ['/box/', '/box/main.py'] else found)\n", Verdict.AC, ""),
    ("print('PASSED')\nprint('All tests passed')\n", Verdict.WA, "expected '2'"),
])
def test_verdicts(backend: Backend, code: str, verdict: Verdict, reason: str) -> None:
    got = judge(backend, code)
    assert got["base"][0] is verdict, got
    assert reason in got["base"][2]


def test_all_tests_counts_and_cumulative_suites(backend: Backend) -> None:
    wrong_on_second = "x = int(input())\nprint(2 * x if x != 21 else 0)\n"
    assert judge(backend, wrong_on_second) == {
        "base": (Verdict.WA, 1, "line 1: expected '42', got '0'"),
        "plus": (Verdict.WA, 1, "line 1: expected '42', got '0'")}
    assert judge(backend, wrong_on_second, all_tests=True)["plus"][:2] == (Verdict.WA, 2)


def test_float_and_custom_checkers(backend: Backend) -> None:
    floats = StdioProblem(task_id="t/half", prompt="", reference="print(int(input()) / 3)\n",
                          suites={"base": (b"1\n", b"2\n")},
                          checker=CheckerSpec(kind="float", abs_tol=1e-4, rel_tol=0))
    assert judge(backend, "print(round(int(input()) / 3, 5))\n", floats)["base"][0] \
        is Verdict.AC
    assert judge(backend, "print(round(int(input()) / 3, 2))\n", floats)["base"][0] \
        is Verdict.WA
    # Any even number is right; the checker sees input, output and answer as files.
    even = "import sys\nout = int(open(sys.argv[2]).read())\n" \
           "print('odd') if out % 2 else None\nsys.exit(out % 2)\n"
    custom = StdioProblem(task_id="t/even", prompt="", reference="print(2)\n",
                          suites={"base": (b"\n",)},
                          checker=CheckerSpec(kind="custom", source=even))
    assert judge(backend, "print(10)\n", custom)["base"][0] is Verdict.AC
    assert judge(backend, "print(7)\n", custom)["base"] == (Verdict.WA, 0, "checker: odd")
    crashing = StdioProblem(task_id="t/crash", prompt="", reference="print(2)\n",
                            suites={"base": (b"\n",)},
                            checker=CheckerSpec(kind="custom", source="raise SystemExit(5)\n"))
    with pytest.raises(SandboxError, match="the checker failed"):
        judge(backend, "print(2)\n", crashing)


def test_generated_inputs_are_seeded_and_validated(backend: Backend) -> None:
    gen = "def generate(rng):\n    return f'{rng.randint(1, 10**6)}\\n'\n"
    spec = GeneratorSpec(source=gen, count=5, seed=3,
                         validator="def validate(text):\n    assert int(text) > 0\n")
    problem = StdioProblem(task_id="t/gen", prompt="", reference=DOUBLE,
                           suites={"base": (b"1\n",), "plus": (b"1\n",)}, generator=spec)
    first = inputs.generate(backend, problem)
    assert len(first) == 5
    assert all(isinstance(x, bytes) for x in first)
    assert inputs.generate(backend, problem) == first
    bad = GeneratorSpec(source=gen, count=5, seed=3,
                        validator="def validate(text):\n    assert int(text) < 0, 'negative'\n")
    with pytest.raises(ReferenceFailed, match="rejected input 0: AssertionError: negative"):
        inputs.generate(backend, StdioProblem(task_id="t/bad", prompt="", reference=DOUBLE,
                                              suites={"base": (b"1\n",), "plus": (b"1\n",)},
                                              generator=bad))

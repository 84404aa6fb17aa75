"""Stdin/stdout problems in compiled languages: one compile per sample, not per test; a
reference in C++; CE with the compiler's message. Skips where a toolchain is missing."""

from __future__ import annotations

import pytest

from codeeval.datasets.problem import StdioProblem
from codeeval.errors import BackendUnavailable
from codeeval.harness import stdio
from codeeval.harness.functional import TimePolicy
from codeeval.languages import get_language
from codeeval.languages.registry import Language
from codeeval.model.verdict import Verdict
from tests.harness.test_program import CountingBackend
from tests.sandbox.conftest import _backend

DOUBLE_CPP = ("#include <cstdio>\nint main() { long long x; std::scanf(\"%lld\", &x); "
              "std::printf(\"%lld\\n\", 2 * x); }\n")
DOUBLE_JAVA = ("public class Main { public static void main(String[] a) { System.out.println("
               "2 * new java.util.Scanner(System.in).nextLong()); } }\n")
PROBLEM = StdioProblem(task_id="t/double", prompt="", reference=DOUBLE_CPP,
                       reference_language="cpp",
                       suites={"base": (b"1\n", b"21\n", b"-4\n", b"5000000000\n")})
POLICY = TimePolicy(floor_s=2.0, factor=1.0)


def language(name: str) -> Language:
    lang = get_language(name)
    try:
        lang.runtime_paths()
        lang.environment()
    except BackendUnavailable as e:
        pytest.skip(f"{name} toolchain missing (scripts/install.sh installs it): {e}")
    return lang


@pytest.fixture
def counting() -> CountingBackend:
    return CountingBackend(_backend("namespace"))


def test_cpp_reference_compiles_once(counting: CountingBackend) -> None:
    language("cpp")
    expected = stdio.run_reference(counting, PROBLEM)
    assert expected.outputs == (b"2\n", b"42\n", b"-8\n", b"10000000000\n")
    assert len(counting.jobs) == 1 + 4
    assert counting.jobs[0].outputs == ("main",)  # the compile job


@pytest.mark.parametrize(("name", "code"), [("cpp", DOUBLE_CPP), ("java", DOUBLE_JAVA)])
def test_a_sample_compiles_once_and_runs_once_per_test(counting: CountingBackend, name: str,
                                                       code: str) -> None:
    lang = language(name)
    language("cpp")
    expected = stdio.run_reference(counting.inner, PROBLEM)
    outcome = stdio.judge(counting, PROBLEM, code, expected, policy=POLICY, memory_mb=256,
                          language=lang)
    assert outcome["base"].verdict is Verdict.AC, outcome["base"].first_failure
    compiles = [j for j in counting.jobs if j.outputs]
    assert len(compiles) == 1
    assert len(counting.jobs) == 1 + 4
    assert all(lang.source_name not in j.files for j in counting.jobs[1:])


def test_compile_error_stops_before_any_test(counting: CountingBackend) -> None:
    language("cpp")
    expected = stdio.run_reference(counting.inner, PROBLEM)
    outcome = stdio.judge(counting, PROBLEM, "int main() { return nope; }\n", expected,
                          policy=POLICY, language=get_language("cpp"))
    assert outcome["base"].verdict is Verdict.CE
    failure = outcome["base"].first_failure or {}
    assert "nope" in failure["compiler"]
    assert len(failure["compiler"]) <= stdio.COMPILER_MESSAGE
    # Only compile jobs ran: the sample's, and (the first time a compile fails on this
    # backend) the language's canary program, which tells a broken toolchain from a bad one.
    assert counting.jobs
    assert all(j.outputs == ("main",) for j in counting.jobs)
    assert sum(j.files["main.cpp"].content.startswith(b"int main() { return nope")
               for j in counting.jobs) == 1


def test_int32_overflow_is_wa(counting: CountingBackend) -> None:
    language("cpp")
    expected = stdio.run_reference(counting.inner, PROBLEM)
    code = DOUBLE_CPP.replace("long long", "int").replace("%lld", "%d")
    outcome = stdio.judge(counting, PROBLEM, code, expected, policy=POLICY,
                          language=get_language("cpp"))
    assert outcome["base"].verdict is Verdict.WA
    assert outcome["base"].passed == 3

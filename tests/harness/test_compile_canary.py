"""A compiler broken in the sandbox is an infra error, never CE for every program: the
first failed compilation on a backend compiles the language's canary to tell which."""

from __future__ import annotations

import pytest

from codeeval.errors import BackendUnavailable
from codeeval.harness.program import prepare
from codeeval.languages.registry import PYTHON, CompileStep, Language
from codeeval.model.run import Limits, RunStatus
from tests.harness.test_program import CountingBackend
from tests.sandbox.conftest import _backend

COMPILE = ("{python}", "-c", "import py_compile; "
           "py_compile.compile('main.py', cfile='main.pyc', doraise=True)")


def language(command: tuple[str, ...]) -> Language:
    return Language(name="canary-test", extensions=(), source_name="main.py",
                    compile=CompileStep(command=command, artifacts=("main.pyc",),
                                        limits=Limits(time_s=5, memory_mb=256),
                                        canary=b"print(1)\n"),
                    run=("{python}", "main.pyc"), runtime_paths=PYTHON.runtime_paths)


@pytest.fixture
def counting() -> CountingBackend:
    return CountingBackend(_backend("namespace"))


def test_working_compiler_reports_ce_and_checks_once(counting: CountingBackend) -> None:
    lang = language(COMPILE)
    first = prepare(counting, lang, b"def broken(:\n")
    assert first.compile_error is not None
    assert first.compile_error.status is RunStatus.CE
    assert len(counting.jobs) == 2  # the program, then the canary
    assert counting.jobs[1].files["main.py"].content == b"print(1)\n"
    second = prepare(counting, lang, b"def also_broken(:\n")
    assert second.compile_error is not None
    assert len(counting.jobs) == 3  # the canary's verdict is remembered per backend
    assert prepare(counting, lang, b"print(2)\n").compile_error is None


def test_broken_compiler_is_an_infra_error(counting: CountingBackend) -> None:
    lang = language(("{python}", "-c", "import sys; sys.exit('no compiler here')"))
    for _ in range(2):
        with pytest.raises(BackendUnavailable, match=r"canary-test toolchain does not work"
                                                     r".*no compiler here"):
            prepare(counting, lang, b"print(2)\n")
    assert len(counting.jobs) == 3  # program, canary, program

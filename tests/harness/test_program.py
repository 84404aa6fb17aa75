"""The compile step: compiled once inside the sandbox, artifacts carried into each run, CE."""

from __future__ import annotations

import pytest

from codeeval.harness.program import prepare, run_prepared, run_source
from codeeval.languages.registry import PYTHON, CompileStep, Language, register_language
from codeeval.model.run import Job, Limits, RunResult, RunStatus
from codeeval.sandbox import Backend
from tests.sandbox.conftest import _backend

# A real compiled language built from what every machine has: Python source compiled to
# bytecode inside the sandbox, then the bytecode file (the artifact) is what runs.
PYC = register_language(Language(
    name="pyc-test",
    extensions=(".pyc-test",),
    source_name="main.py",
    compile=CompileStep(
        command=("{python}", "-c", "import py_compile; "
                 "py_compile.compile('main.py', cfile='main.pyc', doraise=True)"),
        artifacts=("main.pyc",),
        limits=Limits(time_s=5, memory_mb=256)),
    run=("{python}", "main.pyc"),
    runtime_paths=PYTHON.runtime_paths,
))


class CountingBackend(Backend):
    """Wraps a real backend and counts the jobs it runs."""

    name = "counting"

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.jobs: list[Job] = []

    @property
    def capabilities(self) -> frozenset[str]:
        return self.inner.capabilities

    def start(self, job: Job):  # type: ignore[no-untyped-def]
        self.jobs.append(job)
        return self.inner.start(job)

    def run(self, job: Job) -> RunResult:
        self.jobs.append(job)
        return self.inner.run(job)


@pytest.fixture(params=["namespace", "local"])
def counting(request: pytest.FixtureRequest) -> CountingBackend:
    return CountingBackend(_backend(request.param))


def test_compiles_once_runs_many(counting: CountingBackend) -> None:
    prepared = prepare(counting, PYC, b"import sys\nprint(int(sys.stdin.read()) * 2)\n")
    assert prepared.compile_error is None
    assert list(prepared.files) == ["main.pyc"]
    outs = [run_prepared(counting, prepared, stdin=str(i).encode()) for i in range(3)]
    assert [o.stdout for o in outs] == [b"0\n", b"2\n", b"4\n"]
    assert all(o.status is RunStatus.OK for o in outs)
    assert len(counting.jobs) == 4  # one compile + three runs
    assert "main.py" not in counting.jobs[-1].files  # only the artifact goes into runs


def test_compile_error_is_ce_with_message(counting: CountingBackend) -> None:
    result = run_source(counting, PYC, b"def broken(:\n")
    assert result.status is RunStatus.CE
    assert b"SyntaxError" in result.stderr
    assert len(counting.jobs) == 1  # nothing ran after the failed compile


def test_compile_time_limit_is_ce(counting: CountingBackend) -> None:
    slow = Language(name="slow-compiler", extensions=(), source_name="main.py",
                    compile=CompileStep(command=("{python}", "-c", "while True: pass"),
                                        artifacts=("out",), limits=Limits(time_s=0.3)),
                    run=("{python}", "out"), runtime_paths=PYTHON.runtime_paths)
    result = run_source(counting, slow, b"")
    assert result.status is RunStatus.CE
    assert "time" in result.reason.lower()


def test_python_runs_without_compile_step(counting: CountingBackend) -> None:
    result = run_source(counting, PYTHON, b"print('hi')")
    assert result.status is RunStatus.OK
    assert result.stdout == b"hi\n"
    assert len(counting.jobs) == 1

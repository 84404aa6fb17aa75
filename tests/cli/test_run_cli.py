"""``codeeval run``: the contract's JSON for every status, and one-line bad-input errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codeeval.cli.main import main
from tests.harness.test_program import PYC  # registers the compiled test language
from tests.sandbox.conftest import _backend

CONTRACT = {"status", "exit_code", "signal", "cpu_time_s", "wall_time_s", "peak_memory_mb",
            "stdout", "stderr", "stdout_truncated", "stderr_truncated"}


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codeeval.cli.main", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=120)


@pytest.fixture
def prog(tmp_path: Path):  # type: ignore[no-untyped-def]
    def write(code: str, name: str = "p.py") -> str:
        path = tmp_path / name
        path.write_text(code)
        return str(path)
    return write


@pytest.mark.parametrize("backend", ["namespace", "local"])
@pytest.mark.parametrize(("code", "extra", "status"), [
    ("print('hi')", [], "OK"),
    ("import sys; sys.exit(4)", [], "RE"),
    ("while True: pass", ["--time-limit", "0.3"], "TLE"),
    ("x = b'x' * (400 << 20)", ["--memory-limit", "128"], "MLE"),
    ("import sys\nwhile True: sys.stdout.write('x' * 4096)", ["--output-limit", "1"], "OLE"),
])
def test_json_for_each_status(prog, backend: str, code: str, extra: list[str],  # type: ignore[no-untyped-def]
                              status: str) -> None:
    _backend(backend)  # skip when unavailable
    out = cli("run", prog(code), "--json", "--backend", backend, *extra)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert set(data) >= CONTRACT
    assert data["status"] == status, data


def test_json_for_ce(prog, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    _backend("namespace")
    assert PYC.name == "pyc-test"
    code = main(["run", prog("def f(:\n", "bad.py"), "--lang", "pyc-test", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert data["status"] == "CE"
    assert "SyntaxError" in data["stderr"]


def test_json_for_se_when_the_sandbox_cannot_start(prog) -> None:  # type: ignore[no-untyped-def]
    out = cli("run", prog("print(1)"), "--json", env={"CODEEVAL_BWRAP": "/bin/false"})
    assert out.returncode == 1
    data = json.loads(out.stdout)
    assert data["status"] == "SE"
    assert "bubblewrap" in data["reason"]
    assert "Traceback" not in out.stderr


def test_plain_output_passes_program_output_through(prog) -> None:  # type: ignore[no-untyped-def]
    _backend("namespace")
    out = cli("run", prog("import sys; print('to out'); print('to err', file=sys.stderr)"))
    assert out.returncode == 0
    assert out.stdout == "to out\n"
    assert out.stderr.startswith("to err\n")
    assert "codeeval: OK" in out.stderr


@pytest.mark.parametrize(("args", "needle"), [
    (["run", "/nonexistent/x.py"], "no such file"),
    (["run", "{prog}", "--lang", "cobol"], "unknown language"),
    (["run", "{prog}", "--time-limit", "-1"], "--time-limit"),
    (["run", "{prog}", "--memory-limit", "0"], "--memory-limit"),
    (["run", "{prog}", "--time-limit", "soon"], "invalid float"),
    (["run", "{prog}", "--stdin", "/nonexistent/in.txt"], "stdin file"),
    (["run", "{dir}"], "directory"),
    (["run", "{noext}"], "--lang"),
    (["run", "{prog}", "--backend", "moon"], "unknown backend"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_is_one_line_and_exit_2(prog, tmp_path: Path, args: list[str],  # type: ignore[no-untyped-def]
                                          needle: str) -> None:
    p = prog("print(1)")
    noext = prog("print(1)", "program")
    (tmp_path / "d.py").mkdir()
    args = [a.format(prog=p, dir=str(tmp_path / "d.py"), noext=noext) for a in args]
    out = cli(*args)
    assert out.returncode == 2, out
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert needle in out.stderr

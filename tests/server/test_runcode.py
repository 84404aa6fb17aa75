"""SandboxFusion's ``/run_code``, answered by :func:`codeeval.server.runcode.run_code` on the
namespace backend: statuses, limits, files, languages, and the JSON verl sends and reads."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from pydantic import ValidationError

from codeeval.errors import BackendUnavailable, InputError, SandboxCrashed, SandboxError
from codeeval.languages import get_language
from codeeval.languages.registry import PYTHON, CompileStep, Language, register_language
from codeeval.model.run import Job, Limits, RunResult
from codeeval.sandbox import Backend, SandboxProcess
from codeeval.server.runcode import (
    RESPONSE_OUTPUT_BYTES,
    RunCodeRequest,
    RunCodeResponse,
    run_code,
    sandbox_error_response,
)
from tests.sandbox.conftest import _backend

RESPONSE_KEYS = {"status", "message", "compile_result", "run_result", "executor_pod_name",
                 "files"}
COMMAND_KEYS = {"status", "execution_time", "return_code", "stdout", "stderr"}


@pytest.fixture
def backend() -> Backend:
    return _backend("namespace")


def need(language: str) -> None:
    """Skip unless ``language``'s toolchain is on this host."""
    try:
        lang = get_language(language)
        lang.runtime_paths()
        lang.environment()
    except BackendUnavailable as e:
        pytest.skip(f"{language} toolchain missing (scripts/install.sh installs it): {e}")


def run(backend: Backend, **fields: Any) -> RunCodeResponse:
    fields.setdefault("language", "python")
    fields.setdefault("run_timeout", 5)
    return run_code(backend, RunCodeRequest(**fields))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def verl_score(body: dict[str, Any], expected: str) -> bool | int:
    """How verl's sandbox-fusion reward scores one case from a response body, restated:
    True/False on a finished run, -1 sandbox or API error, -2 runtime error, -3 time-out,
    -4 compile error or compile time-out."""
    compiled, ran = body.get("compile_result"), body.get("run_result")
    if body.get("status") == "SandboxError":
        return -1
    if body.get("status") == "Failed":
        if compiled and (compiled.get("status") in ("Error", "TimeLimitExceeded")
                         or compiled.get("return_code") != 0):
            return -4
        if ran and ran.get("status") == "TimeLimitExceeded":
            return -3
        if ran and (ran.get("status") == "Error" or ran.get("return_code") != 0):
            return -2
        return -1
    if body.get("status") == "Success" and ran and ran.get("status") == "Finished":
        return str(ran.get("stdout") or "").rstrip("\n") == expected.rstrip("\n")
    return -1


def wire(response: RunCodeResponse) -> dict[str, Any]:
    """The response as the route sends it: JSON text, parsed back."""
    body: dict[str, Any] = json.loads(response.model_dump_json())
    return body


# --------------------------------------------------------------------------- python


def test_hello_with_stdin(backend: Backend) -> None:
    r = run(backend, code="print('hello', input())", stdin="world\n")
    assert r.status == "Success"
    assert r.compile_result is None
    assert r.run_result is not None
    assert (r.run_result.status, r.run_result.return_code) == ("Finished", 0)
    assert (r.run_result.stdout, r.run_result.stderr) == ("hello world\n", "")
    assert r.run_result.execution_time is not None
    assert r.run_result.execution_time > 0
    assert (r.message, r.files, r.executor_pod_name) == ("", {}, None)


def test_nonzero_exit_is_finished_and_failed(backend: Backend) -> None:
    r = run(backend, code="import sys\nprint('partial')\nsys.exit(3)")
    assert r.status == "Failed"
    assert r.run_result is not None
    assert (r.run_result.status, r.run_result.return_code) == ("Finished", 3)
    assert r.run_result.stdout == "partial\n"


def test_exception_is_exit_code_one_with_traceback(backend: Backend) -> None:
    r = run(backend, code="raise ValueError('bad value')")
    assert r.status == "Failed"
    assert r.run_result is not None
    assert (r.run_result.status, r.run_result.return_code) == ("Finished", 1)
    assert "ValueError: bad value" in (r.run_result.stderr or "")


@pytest.mark.parametrize("code", ["print('started', flush=True)\nwhile True: pass",
                                  "print('started', flush=True)\nimport time; time.sleep(30)"],
                         ids=["cpu", "wall"])
def test_timeout_is_time_limit_exceeded_without_return_code(backend: Backend, code: str) -> None:
    r = run(backend, code=code, run_timeout=0.5)
    assert r.status == "Failed"
    assert r.run_result is not None
    assert r.run_result.status == "TimeLimitExceeded"
    assert r.run_result.return_code is None
    assert r.run_result.stdout == "started\n"  # what was printed before the kill
    assert r.run_result.execution_time is not None
    assert 0.4 < r.run_result.execution_time < 5


def test_memory_bomb_fails_with_nonzero_code_and_default_limit_is_generous(
        backend: Backend) -> None:
    bomb = "data = b'x' * (300 << 20)\nprint(len(data))"
    r = run(backend, code=bomb, memory_limit_MB=128)
    assert r.status == "Failed"
    assert r.run_result is not None
    assert r.run_result.status == "Finished"  # SandboxFusion has no memory status
    assert r.run_result.return_code not in (0, None)
    assert verl_score(wire(r), "314572800") == -2
    # -1 (SandboxFusion's default, "no limit") is 1024 MiB here: 300 MiB fits.
    r = run(backend, code=bomb, memory_limit_MB=-1)
    assert r.status == "Success"
    assert r.run_result is not None
    assert r.run_result.stdout == "314572800\n"


def test_output_is_cut_at_one_mib_like_sandboxfusion(backend: Backend) -> None:
    r = run(backend, code="import sys\nsys.stdout.write('x' * (2 << 20))\n"
                          "sys.stderr.buffer.write(b'bad \\xff')")
    assert r.status == "Success"  # past the response cap the run goes on, as in SandboxFusion
    assert r.run_result is not None
    assert r.run_result.stdout == "x" * RESPONSE_OUTPUT_BYTES
    assert r.run_result.stderr == "bad \\xff"  # bytes that are not UTF-8 come escaped


def test_output_flood_ends_the_run_as_a_nonzero_finish(backend: Backend) -> None:
    r = run(backend, code="import sys\nwhile True: sys.stdout.write('x' * 65536)")
    assert r.status == "Failed"
    assert r.run_result is not None
    assert (r.run_result.status, r.run_result.return_code) == ("Finished", -9)
    assert len(r.run_result.stdout or "") == RESPONSE_OUTPUT_BYTES


# --------------------------------------------------------------------------- files


def test_files_in_and_fetch_files_out(backend: Backend) -> None:
    code = ("import os\n"
            "n = int(open('data/in.txt').read())\n"
            "open('out.txt', 'w').write(str(n + 1))\n"
            "open('blob.bin', 'wb').write(open('blob.in', 'rb').read()[::-1])\n"
            "os.mkdir('sub')\n"
            "os.symlink('/etc/passwd', 'link')\n")
    blob = bytes(range(256))
    r = run(backend, code=code, files={"data/in.txt": b64(b"41\n"), "blob.in": b64(blob),
                                       "skipped.txt": None},
            fetch_files=["out.txt", "blob.bin", "./data/in.txt", "missing.txt", "sub", "link"])
    assert r.status == "Success", r.run_result
    # Keys are the names as asked; directories, symlinks and missing files are left out.
    assert set(r.files) == {"out.txt", "blob.bin", "./data/in.txt"}
    assert base64.b64decode(r.files["out.txt"]) == b"42"
    assert base64.b64decode(r.files["blob.bin"]) == blob[::-1]
    assert base64.b64decode(r.files["./data/in.txt"]) == b"41\n"


def test_skipped_files_are_not_placed(backend: Backend) -> None:
    code = "import os\nprint(sorted(os.listdir('.')))"
    r = run(backend, code=code, files={"none.txt": None, "a_IGNORE_THIS_FILE": b64(b"x"),
                                       "kept.txt": b64(b"y")})
    assert r.run_result is not None
    assert r.run_result.stdout == "['kept.txt', 'main.py']\n"


@pytest.mark.parametrize("files", [
    {"../evil.txt": b64(b"x")},
    {"/etc/evil.txt": b64(b"x")},
    {"a/../../evil.txt": b64(b"x")},
    {"": b64(b"x")},
    {"main.py": b64(b"print('not the program')")},
    {"a": b64(b"x"), "a/b": b64(b"y")},
    {"bad.txt": "not base64!"},
], ids=["dotdot", "absolute", "climbing", "empty", "program", "file-and-dir", "base64"])
def test_bad_files_are_input_errors(backend: Backend, files: dict[str, str]) -> None:
    with pytest.raises(InputError, match="files entry"):
        run(backend, code="print(1)", files=files)


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a/../../x"])
def test_fetch_files_outside_the_work_dir_are_input_errors(backend: Backend, name: str) -> None:
    with pytest.raises(InputError, match="fetch_files entry"):
        run(backend, code="print(1)", fetch_files=[name])


# --------------------------------------------------------------------------- languages


def test_unknown_language_is_an_input_error(backend: Backend) -> None:
    with pytest.raises(InputError, match="unknown language 'brainfuck'"):
        run(backend, code="+++", language="brainfuck")
    # A SandboxFusion mode codeeval does not run is refused the same way, never "Failed".
    with pytest.raises(InputError, match="unknown language 'php'"):
        run(backend, code="<?php echo 1;", language="php")


HELLO = {
    "cpp": "#include <iostream>\nint main() { std::string s; std::cin >> s; "
           "std::cout << \"hello \" << s << std::endl; }\n",
    "java": "public class Main { public static void main(String[] a) { "
            "System.out.println(\"hello \" + new java.util.Scanner(System.in).next()); } }\n",
    "nodejs": "const s = require('fs').readFileSync(0, 'utf8').trim();\n"
              "console.log('hello ' + s);\n",
    "go": "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tvar s string\n\tfmt.Scan(&s)\n"
          "\tfmt.Println(\"hello \" + s)\n}\n",
    "rust": "fn main() { let mut s = String::new(); std::io::stdin().read_line(&mut s)"
            ".unwrap(); println!(\"hello {}\", s.trim()); }\n",
}


@pytest.mark.parametrize("language", sorted(HELLO))
def test_sandboxfusion_language_names(backend: Backend, language: str) -> None:
    need(language)
    r = run(backend, code=HELLO[language], language=language, stdin="world\n",
            compile_timeout=60)
    assert r.status == "Success", (r.compile_result, r.run_result)
    assert r.run_result is not None
    assert r.run_result.stdout == "hello world\n"
    compiled = get_language(language).compile is not None
    assert (r.compile_result is not None) == compiled
    if r.compile_result is not None:
        assert (r.compile_result.status, r.compile_result.return_code) == ("Finished", 0)
    assert verl_score(wire(r), "hello world") is True


def test_cpp_compile_error(backend: Backend) -> None:
    need("cpp")
    r = run(backend, code="int main() { return missing_name; }\n", language="cpp")
    assert r.status == "Failed"
    assert r.run_result is None
    assert r.compile_result is not None
    assert r.compile_result.status == "Finished"
    assert r.compile_result.return_code not in (0, None)
    assert "missing_name" in (r.compile_result.stderr or "")
    assert verl_score(wire(r), "") == -4


class CountingBackend(Backend):
    """Runs jobs on a real backend and records them."""

    name = "runcode-counting"

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.jobs: list[Job] = []

    @property
    def capabilities(self) -> frozenset[str]:
        return self.inner.capabilities

    def start(self, job: Job) -> SandboxProcess:
        self.jobs.append(job)
        return self.inner.start(job)

    def run(self, job: Job) -> RunResult:
        self.jobs.append(job)
        return self.inner.run(job)


def test_compile_timeout_is_a_compile_time_limit_that_spares_the_canary(
        backend: Backend) -> None:
    need("cpp")
    counting = CountingBackend(backend)
    slow = "#include <bits/stdc++.h>\nint main() { std::cout << 1; }\n"
    r = run_code(counting, RunCodeRequest(code=slow, language="cpp", compile_timeout=0.2))
    assert r.status == "Failed"
    assert r.run_result is None
    assert r.compile_result is not None
    assert (r.compile_result.status, r.compile_result.return_code) == ("TimeLimitExceeded", None)
    assert verl_score(wire(r), "1") == -4
    assert len(counting.jobs) == 1  # a time-out says nothing about the toolchain
    r = run_code(counting, RunCodeRequest(code="int main( {", language="cpp"))
    assert r.compile_result is not None
    assert r.compile_result.return_code not in (0, None)
    assert len(counting.jobs) == 3  # the program, then the canary with the language's limits
    assert counting.jobs[2].limits == get_language("cpp").compile.limits  # type: ignore[union-attr]
    r = run_code(counting, RunCodeRequest(code=slow, language="cpp", compile_timeout=60))
    assert r.status == "Success"
    assert r.run_result is not None
    assert r.run_result.stdout == "1"


BROKEN = register_language(Language(
    name="runcode-broken-test", extensions=(), source_name="main.py",
    compile=CompileStep(command=("{python}", "-c", "import sys; sys.exit('no compiler here')"),
                        artifacts=("main.pyc",), limits=Limits(time_s=5, memory_mb=256),
                        canary=b"print(1)\n"),
    run=("{python}", "main.pyc"), runtime_paths=PYTHON.runtime_paths))


def test_broken_toolchain_raises_instead_of_failing_the_program(backend: Backend) -> None:
    with pytest.raises(BackendUnavailable, match="toolchain does not work"):
        run(backend, code="print(2)\n", language=BROKEN.name)


# --------------------------------------------------------------------------- infra errors


class CrashingBackend(Backend):
    """A backend whose sandbox always fails."""

    name = "runcode-crashing"

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset()

    def start(self, job: Job) -> SandboxProcess:
        raise SandboxCrashed("the sandbox fell over")


def test_sandbox_failure_propagates_and_is_never_a_failed_response() -> None:
    with pytest.raises(SandboxError, match="fell over"):
        run_code(CrashingBackend(), RunCodeRequest(code="print(1)", language="python"))


def test_sandbox_error_response_has_sandboxfusion_shape() -> None:
    body = wire(sandbox_error_response("backend unavailable: no user namespaces"))
    assert body == {"status": "SandboxError", "message": "backend unavailable: no user namespaces",
                    "compile_result": None, "run_result": None, "executor_pod_name": None,
                    "files": {}}
    assert verl_score(body, "") == -1


# --------------------------------------------------------------------------- the wire


def test_request_defaults_match_sandboxfusion() -> None:
    r = RunCodeRequest(code="print(1)", language="python")
    assert (r.compile_timeout, r.run_timeout, r.memory_limit_MB) == (10, 10, -1)
    assert (r.stdin, r.files, r.fetch_files) == (None, {}, [])


@pytest.mark.parametrize("bad", [{"run_timeout": 0}, {"compile_timeout": -1},
                                 {"run_timeout": "inf"}, {"code": None}, {"language": None}])
def test_request_validation(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RunCodeRequest.model_validate({"code": "print(1)", "language": "python", **bad})


def test_lone_surrogates_are_input_errors(backend: Backend) -> None:
    # Python's json module (FastAPI's body parser) lets "\\ud800" through; UTF-8 cannot hold it.
    for fields in ({"code": "print(1) # \ud800"}, {"code": "print(1)", "stdin": "\udc00"}):
        request = RunCodeRequest.model_validate(json.loads(json.dumps(
            {"language": "python", **fields})))
        with pytest.raises(InputError, match="not valid Unicode"):
            run_code(backend, request)


def verl_body(code: str, stdin: str, language: str = "python", timeout: int = 5) -> str:
    """A request body with the fields and values verl's ``call_sandbox_api`` posts."""
    return json.dumps({"compile_timeout": timeout, "run_timeout": timeout, "code": code,
                       "stdin": stdin, "memory_limit_MB": 1024, "language": language,
                       "files": {}, "fetch_files": []})


def test_verl_request_validates_and_response_has_sandboxfusion_fields(backend: Backend) -> None:
    payload = json.loads(verl_body("print(int(input()) * 2)", "21"))
    payload["args"] = []  # pytest mode's field, and a field from some future version
    payload["some_new_field"] = {"x": 1}
    request = RunCodeRequest.model_validate_json(json.dumps(payload))
    body = wire(run_code(backend, request))
    assert set(body) == RESPONSE_KEYS
    assert body["compile_result"] is None
    assert set(body["run_result"]) == COMMAND_KEYS
    assert (body["status"], body["run_result"]["status"]) == ("Success", "Finished")
    assert (body["run_result"]["stdout"], body["run_result"]["return_code"]) == ("42\n", 0)
    assert isinstance(body["run_result"]["execution_time"], float)


@pytest.mark.parametrize(("code", "language", "expected", "score"), [
    ("print(int(input()) * 2)", "python", "42", True),
    ("print(int(input()) * 3)", "python", "42", False),
    ("print(int(input()) * 2, end='')", "python", "42\n", True),
    ("import sys; sys.exit(2)", "python", "42", -2),
    ("raise SystemExit('boom')", "python", "42", -2),
    ("while True: pass", "python", "42", -3),
    ("int main() { return x; }", "cpp", "42", -4),
    ("#include <cstdio>\nint main() { int n; scanf(\"%d\", &n); printf(\"%d\\n\", 2 * n); }",
     "cpp", "42", True),
], ids=["right", "wrong", "newline", "exit", "exception", "timeout", "compile-error",
        "cpp-right"])
def test_verl_reads_what_it_expects(backend: Backend, code: str, language: str, expected: str,
                                    score: bool | int) -> None:
    need(language)
    request = RunCodeRequest.model_validate_json(verl_body(code, "21", language, timeout=2))
    body = wire(run_code(backend, request))
    assert set(body) == RESPONSE_KEYS
    for key in ("compile_result", "run_result"):
        assert body[key] is None or set(body[key]) == COMMAND_KEYS
    assert verl_score(body, expected) == score

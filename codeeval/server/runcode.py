"""SandboxFusion's ``POST /run_code``, answered by codeeval's sandbox.

What SandboxFusion does (read in ``bytedance/SandboxFusion``):

* Request (``sandbox/server/sandbox_api.py``, ``RunCodeRequest``): ``code`` and ``language``
  are required; ``compile_timeout`` and ``run_timeout`` are seconds (floats, default 10
  each); ``memory_limit_MB`` defaults to -1, and only a positive value sets a limit
  (``sandbox/runners/base.py`` turns it into ``RLIMIT_AS``/``RLIMIT_DATA``); ``stdin`` is an
  optional string; ``files`` maps a path to base64 content (a ``null`` content is skipped,
  and so is any name containing ``IGNORE_THIS_FILE``); ``fetch_files`` lists paths to read
  back; ``args`` only matters to the pytest mode. Unknown fields are ignored (pydantic's
  default).
* ``language`` is a ``Literal`` of 29 modes (``sandbox/runners/types.py``): python, cpp,
  nodejs, go, go_test, java, php, csharp, bash, typescript, sql, rust, cuda, lua, R, perl,
  D_ut, ruby, scala, julia, pytest, junit, kotlin_script, jest, verilog, python_gpu, lean,
  swift, racket. Anything else fails request validation, so FastAPI answers HTTP 422 and no
  ``RunCodeResponse`` is produced at all.
* Response (``RunCodeResponse``): ``status`` (``Success`` | ``Failed`` | ``SandboxError``),
  ``message``, ``compile_result`` and ``run_result`` (each ``null`` or a command result),
  ``executor_pod_name`` (the ``MY_POD_NAME`` environment variable, usually ``null``) and
  ``files`` (fetched path -> base64). A command result (``CommandRunResult``) has
  ``status`` (``Finished`` | ``Error`` | ``TimeLimitExceeded``), ``execution_time``
  (wall seconds), ``return_code``, ``stdout`` and ``stderr``.
* How it fills them (``sandbox/runners/base.py``, ``run_command_bare``/``run_commands``):
  a command that ends on its own is ``Finished`` with its return code, whatever the code
  (a process killed by a signal gets the negative signal number, Python's convention);
  one that outlives its timeout (wall clock) is killed and is ``TimeLimitExceeded`` with
  no return code but the output captured so far; ``Error`` only when running the command
  itself raised. Compiled modes (cpp, go, java, rust) run a compile command first and run
  the program only if it finished with code 0; interpreted modes have no compile result.
  Each stream is captured up to 1 MiB and silently cut there (the program keeps running),
  then decoded as UTF-8 (undecodable output becomes a ``[DecodeError] ...`` string).
  ``parse_run_status`` then sets ``status``: ``SandboxError`` (with the command's stderr as
  ``message``) if any result is ``Error``; ``Failed`` on a time-out or any non-zero return
  code; ``Success`` otherwise. An exception anywhere is ``SandboxError`` too. There is no
  memory-limit status: a program over its memory limit just fails (``MemoryError`` exit 1,
  an abort, or a kill), i.e. ``Finished`` with a non-zero code (issue
  bytedance/SandboxFusion#43 asks for one).

What verl does with it (``volcengine/verl``,
``verl/utils/reward_score/sandbox_fusion/utils.py``):

* ``call_sandbox_api`` refuses languages outside the list above before sending, posts
  ``compile_timeout``, ``run_timeout``, ``code``, ``stdin``, ``memory_limit_MB``,
  ``language``, ``files={}`` and ``fetch_files=[]`` with an HTTP timeout of compile + run +
  10 s, and retries (3 attempts, 1 s then 2 s apart) **only on HTTP 504**; any other
  HTTP error or a body that is not JSON ends the attempts and the case scores -1
  ("api error").
* ``_process_single_case`` reads ``status``, ``compile_result.status``/``return_code``/
  ``stderr``/``execution_time`` and ``run_result.status``/``stdout``/``stderr``/
  ``return_code``/``execution_time``. ``SandboxError`` scores -1. ``Failed`` with a compile
  result that timed out, errored or finished non-zero scores -4 (compile error); else a run
  ``TimeLimitExceeded`` scores -3, a run ``Error`` or non-zero finish -2. ``Success`` with a
  ``Finished`` run compares ``stdout`` with the expected output, both stripped of trailing
  newlines: True or False.

How codeeval answers it here:

* Languages resolve through codeeval's registry, whose aliases cover SandboxFusion's names
  (``nodejs`` is codeeval's ``javascript``). A name the registry does not know raises
  :class:`~codeeval.errors.UnknownLanguageError` (an ``InputError``): SandboxFusion
  answers 422 for it, so the route should answer a 4xx, never a ``Failed`` response.
* ``run_timeout`` is both the CPU and the wall-clock limit of the run (SandboxFusion's is
  wall-clock); ``compile_timeout`` is both for the compile step, whose other limits
  (memory, processes) stay the language's. ``memory_limit_MB`` <= 0 means
  :data:`DEFAULT_MEMORY_MB` (1024 MiB): codeeval never runs without a memory limit.
* Compilation is codeeval's (:func:`codeeval.harness.program.prepare`). A failed
  compilation that was not a time-out is checked against the language's canary with the
  language's own limits, so a toolchain broken in the sandbox raises instead of failing
  every program; the request's compile limit never reaches the canary, whose verdict is
  remembered per backend. Files from ``files`` are placed for the run only: they are not
  visible to the compiler, and names the program itself uses (``main.py``, ``main``, ...)
  are refused. A successful compile result carries no compiler output.
* Statuses: ``OK`` -> ``Finished`` 0; ``RE`` -> ``Finished`` with the exit code (a signal
  as its negative number); ``TLE`` -> ``TimeLimitExceeded``, no return code; ``MLE`` and
  ``OLE`` -> ``Finished`` with the exit code, or the negative signal, or -9 (``SIGKILL``)
  when the supervisor ended a run that had not failed by itself: SandboxFusion has no
  status for either, and a non-zero finish keeps verl's reading (runtime error). ``CE`` ->
  ``compile_result`` ``Finished`` with a non-zero code (``TimeLimitExceeded`` when the
  compile ran out of time) and no ``run_result``. ``Failed`` whenever the run is not
  ``Finished`` with 0.
* Output: each stream may reach :data:`OUTPUT_LIMIT_BYTES` (16 MiB, codeeval's stdout
  default) before the run is ended as ``OLE``; the response carries the first
  :data:`RESPONSE_OUTPUT_BYTES` (1 MiB, SandboxFusion's cap) of each, decoded as UTF-8 with
  backslash escapes for bytes that are not (codeeval's convention, not ``[DecodeError]``).
* The sandbox's own failure (:class:`~codeeval.errors.SandboxError`) propagates from
  :func:`run_code`, so the route can answer a retryable HTTP error (504 is the one verl
  retries); :func:`sandbox_error_response` builds SandboxFusion's ``SandboxError`` body
  for a route that prefers SandboxFusion's own shape (verl scores it -1 without retrying).
  ``executor_pod_name`` is left ``null`` (library code reads no environment).
"""

from __future__ import annotations

import base64
import binascii
import enum
import math
import signal
import time
from dataclasses import replace
from pathlib import PurePosixPath
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, Field

from codeeval.errors import InputError, SandboxError
from codeeval.harness.program import (
    Prepared,
    _check_compiler,  # the per-backend canary verdict; see _prepare
    prepare,
)
from codeeval.languages import get_language
from codeeval.languages.registry import Language
from codeeval.model.run import MIB, FileSpec, Job, Limits, RunResult, RunStatus, check_relative_path
from codeeval.sandbox.base import Backend

#: Memory limit of a run whose request has ``memory_limit_MB`` <= 0 (SandboxFusion: none).
DEFAULT_MEMORY_MB = 1024
#: How much of each stream the response carries (SandboxFusion captures 1 MiB per stream).
RESPONSE_OUTPUT_BYTES = 1 * MIB
#: Output past this, on either stream, ends the run as OLE (codeeval's stdout default).
OUTPUT_LIMIT_BYTES = 16 * MIB
#: Caps on ``files``: their number and their total decoded size.
MAX_FILES = 1000
MAX_FILES_BYTES = 32 * MIB
#: The return code reported for a run the supervisor ended (memory, output) without one.
KILLED_RETURN_CODE = -int(signal.SIGKILL)


class CommandStatus(enum.StrEnum):
    """How one command (compile or run) ended, in SandboxFusion's words."""

    FINISHED = "Finished"
    ERROR = "Error"
    TIME_LIMIT_EXCEEDED = "TimeLimitExceeded"


class RunCodeStatus(enum.StrEnum):
    """The outcome of a whole request, in SandboxFusion's words."""

    SUCCESS = "Success"
    FAILED = "Failed"
    SANDBOX_ERROR = "SandboxError"


class CommandResult(BaseModel):
    """One command's result: SandboxFusion's ``CommandRunResult``."""

    status: CommandStatus
    execution_time: float | None = None
    return_code: int | None = None
    stdout: str | None = None
    stderr: str | None = None


class RunCodeRequest(BaseModel):
    """The body of ``POST /run_code``, with SandboxFusion's fields and defaults.

    Unknown fields (``args``, ...) are ignored. Timeouts must be positive and finite.
    """

    model_config = ConfigDict(extra="ignore")

    code: str
    language: str
    compile_timeout: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    run_timeout: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    memory_limit_MB: int = -1
    stdin: str | None = None
    files: dict[str, str | None] = Field(default_factory=dict)
    fetch_files: list[str] = Field(default_factory=list)


class RunCodeResponse(BaseModel):
    """The answer of ``POST /run_code``: SandboxFusion's ``RunCodeResponse``."""

    status: RunCodeStatus
    message: str = ""
    compile_result: CommandResult | None = None
    run_result: CommandResult | None = None
    executor_pod_name: str | None = None
    files: dict[str, str] = Field(default_factory=dict)


def sandbox_error_response(message: str) -> RunCodeResponse:
    """SandboxFusion's body for a failure of the sandbox itself.

    Returns:
        A response with status ``SandboxError``, ``message``, and no command results.
    """
    return RunCodeResponse(status=RunCodeStatus.SANDBOX_ERROR, message=message)


def run_code(backend: Backend, request: RunCodeRequest) -> RunCodeResponse:
    """Compile (when the language needs it) and run ``request.code`` on ``backend``.

    Returns:
        The response; the program's failures (compile error, exit code, time-out, memory,
        output) are in it, with status ``Success`` or ``Failed``.

    Raises:
        UnknownLanguageError: the registry knows no language of that name.
        InputError: a bad file name or content in ``files`` or ``fetch_files``.
        SandboxError: the sandbox failed (including ``BackendUnavailable`` when the
            language's toolchain does not work there): an infra error, never the program's.
    """
    language = get_language(request.language)
    files = _input_files(request.files, language)
    fetch = {check_relative_path(name, "fetch_files entry"): name for name in request.fetch_files}
    source = _utf8(request.code, "code")
    stdin = _utf8(request.stdin or "", "stdin")

    started = time.monotonic()
    prepared, compile_limits = _prepare(backend, language, source, request.compile_timeout)
    compile_result = None
    if compile_limits is not None:
        if prepared.compile_error is not None:
            return RunCodeResponse(status=RunCodeStatus.FAILED,
                                   compile_result=_compile_failure(prepared.compile_error,
                                                                   compile_limits))
        compile_result = CommandResult(status=CommandStatus.FINISHED, return_code=0,
                                       execution_time=time.monotonic() - started,
                                       stdout="", stderr="")

    memory_mb = request.memory_limit_MB if request.memory_limit_MB > 0 else DEFAULT_MEMORY_MB
    total = sum(len(spec.content) for spec in files.values())
    limits = Limits(time_s=request.run_timeout, wall_time_s=request.run_timeout,
                    memory_mb=memory_mb, stdout_bytes=OUTPUT_LIMIT_BYTES,
                    stderr_bytes=OUTPUT_LIMIT_BYTES,
                    scratch_mb=Limits().scratch_mb + math.ceil(total / MIB))
    result = _run(backend, prepared, files, stdin, limits, tuple(fetch))
    run_result = _command_result(result)
    ok = run_result.status is CommandStatus.FINISHED and run_result.return_code == 0
    return RunCodeResponse(
        status=RunCodeStatus.SUCCESS if ok else RunCodeStatus.FAILED,
        compile_result=compile_result, run_result=run_result,
        files={fetch[path]: base64.b64encode(data).decode("ascii")
               for path, data in result.files.items() if path in fetch})


def _utf8(text: str, what: str) -> bytes:
    """``text`` as UTF-8.

    Raises:
        InputError: it holds a lone surrogate (JSON allows ``\\ud800``; UTF-8 does not).
    """
    try:
        return text.encode()
    except UnicodeEncodeError as e:
        raise InputError(f"{what} is not valid Unicode: {e.reason} at {e.start}") from None


def _input_files(files: dict[str, str | None], language: Language) -> dict[str, FileSpec]:
    """Decode ``files`` into the run's extra files, refusing bad names and contents.

    Raises:
        InputError: an absolute or climbing path, a name the program itself uses, content
            that is not base64, or more than the caps allow.
    """
    reserved = {language.source_name, *(language.compile.artifacts if language.compile else ())}
    decoded: dict[str, FileSpec] = {}
    for name, content in files.items():
        path = check_relative_path(name, "files entry")
        if content is None or "IGNORE_THIS_FILE" in name:  # SandboxFusion skips these too
            continue
        if path in reserved:
            raise InputError(f"files entry {name!r} would replace the program's own "
                             f"{path!r}")
        try:
            decoded[path] = FileSpec(base64.b64decode(content))
        except (binascii.Error, ValueError) as e:
            raise InputError(f"files entry {name!r} is not valid base64: {e}") from None
    dirs = {str(parent) for path in decoded for parent in PurePosixPath(path).parents}
    clash = sorted(dirs.intersection(decoded))
    if clash:
        raise InputError(f"files entry {clash[0]!r} is both a file and a directory of others")
    if len(decoded) > MAX_FILES:
        raise InputError(f"files has {len(decoded)} entries; at most {MAX_FILES} are allowed")
    total = sum(len(spec.content) for spec in decoded.values())
    if total > MAX_FILES_BYTES:
        raise InputError(f"files total {total} bytes; at most {MAX_FILES_BYTES} are allowed")
    return decoded


def _prepare(backend: Backend, language: Language, source: bytes, compile_timeout: float
             ) -> tuple[Prepared, Limits | None]:
    """Compile with the request's time limit; the canary check keeps the language's.

    Returns:
        The prepared program and the compile limits used (``None``: nothing to compile).

    Raises:
        SandboxError: the sandbox failed, or the toolchain is broken there.
    """
    step = language.compile
    if step is None:
        return prepare(backend, language, source), None
    limits = replace(step.limits, time_s=compile_timeout, wall_time_s=compile_timeout)
    # Without its canary, prepare() leaves the toolchain check to us: a short compile
    # limit must neither decide nor poison the per-backend verdict on the toolchain.
    asked = replace(language, compile=replace(step, limits=limits, canary=b""))
    prepared = prepare(backend, asked, source)
    failed = prepared.compile_error
    if (failed is not None and step.canary and source != step.canary
            and not _timed_out(failed, limits)):
        _check_compiler(backend, language)
    return prepared, limits


def _run(backend: Backend, prepared: Prepared, files: dict[str, FileSpec], stdin: bytes,
         limits: Limits, outputs: tuple[str, ...]) -> RunResult:
    """Run a compiled program with extra files, copying ``outputs`` back.

    This is :func:`codeeval.harness.program.run_prepared` plus ``outputs``, which that
    function does not take.

    Raises:
        SandboxError: the sandbox failed.
    """
    lang = prepared.language
    job = Job(command=lang.substitute(prepared.command, limits),
              files=MappingProxyType({**files, **prepared.files}), stdin=stdin, limits=limits,
              outputs=outputs, env=lang.environment(limits, host=backend.host_runtimes),
              runtime_paths=lang.runtime_paths() if backend.host_runtimes else (),
              limit_address_space=lang.limit_address_space, image=lang.image)
    result = backend.run(job)
    if result.status is RunStatus.SE:
        raise SandboxError(f"sandbox failure: {result.reason}")
    return result


def _timed_out(result: RunResult, limits: Limits) -> bool:
    """Whether a run used up its CPU or wall time (the classifier's own test)."""
    return result.cpu_time_s > limits.time_s or result.wall_time_s >= limits.wall_s


def _return_code(result: RunResult) -> int:
    """The code SandboxFusion would report: the exit code, -signal, or -9 when stopped."""
    if result.exit_code:
        return result.exit_code
    if result.signal is not None:
        return -result.signal
    return 0 if result.status is RunStatus.OK else KILLED_RETURN_CODE


def _text(data: bytes) -> str:
    return data[:RESPONSE_OUTPUT_BYTES].decode("utf-8", errors="backslashreplace")


def _command_result(result: RunResult) -> CommandResult:
    """The run's result in SandboxFusion's terms (see the module docstring)."""
    out, err = _text(result.stdout), _text(result.stderr)
    if result.status is RunStatus.TLE:
        return CommandResult(status=CommandStatus.TIME_LIMIT_EXCEEDED,
                             execution_time=result.wall_time_s, stdout=out, stderr=err)
    return CommandResult(status=CommandStatus.FINISHED, execution_time=result.wall_time_s,
                         return_code=_return_code(result), stdout=out, stderr=err)


def _compile_failure(failed: RunResult, limits: Limits) -> CommandResult:
    """A ``CE`` as SandboxFusion's compile result: a time-out, or a non-zero finish."""
    if _timed_out(failed, limits):
        return CommandResult(status=CommandStatus.TIME_LIMIT_EXCEEDED,
                             execution_time=failed.wall_time_s, stdout=_text(failed.stdout),
                             stderr=_text(failed.stderr))
    # A compiler that exited 0 without its artifact still failed: report 1, as a shell would.
    code = failed.exit_code or (-failed.signal if failed.signal is not None else 1)
    return CommandResult(status=CommandStatus.FINISHED, execution_time=failed.wall_time_s,
                         return_code=code, stdout=_text(failed.stdout),
                         stderr=_text(failed.stderr))

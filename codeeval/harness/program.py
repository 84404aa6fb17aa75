"""Compile (when the language has a compile step) and run one program in a sandbox.

Compilation is a sandboxed job of its own with the compile step's limits; its artifacts are
copied out (refusing symlinks) and placed into every later run, so a program is compiled
once and run many times. A failed or over-limit compilation is ``CE`` with the compiler's
message, capped.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType

from codeeval.languages.registry import Language
from codeeval.model.run import FileSpec, Job, Limits, RunResult, RunStatus
from codeeval.sandbox.base import Backend


@dataclass(frozen=True, slots=True)
class Prepared:
    """A program ready to run: the files to place and the command, or a CE result."""

    language: Language
    files: MappingProxyType[str, FileSpec] = field(default_factory=lambda: MappingProxyType({}))
    command: tuple[str, ...] = ()
    compile_error: RunResult | None = None


def prepare(backend: Backend, language: Language, source: bytes) -> Prepared:
    """Compile ``source`` if the language needs it.

    Returns:
        A :class:`Prepared`; when compilation failed, its ``compile_error`` is a ``CE`` result.

    Raises:
        SandboxError: the sandbox failed during compilation.
        BackendUnavailable: the language's runtime is not usable here.
    """
    src = {language.source_name: FileSpec(source)}
    run_cmd = language.substitute(language.run)  # {memory_mb} is filled per run
    step = language.compile
    if step is None:
        return Prepared(language, MappingProxyType(src), run_cmd)
    job = Job(command=language.substitute(step.command, step.limits), files=src,
              limits=step.limits, outputs=step.artifacts,
              env=language.environment(step.limits),
              runtime_paths=language.runtime_paths(),
              limit_address_space=language.limit_address_space, image=language.image)
    result = backend.run(job)
    missing = [a for a in step.artifacts if a not in result.files]
    if result.status is not RunStatus.OK or missing:
        message = (result.stderr + result.stdout)[: step.message_bytes]
        why = (f"compilation failed: {result.reason}" if result.status is not RunStatus.OK
               else f"compiler produced no {', '.join(missing)}")
        return Prepared(language, compile_error=replace(
            result, status=RunStatus.CE, stdout=b"", stderr=message, files={}, reason=why))
    files = {name: FileSpec(result.files[name], executable=True) for name in step.artifacts}
    return Prepared(language, MappingProxyType(files), run_cmd)


def run_prepared(backend: Backend, prepared: Prepared, *, stdin: bytes = b"",
                 limits: Limits | None = None) -> RunResult:
    """Run a prepared program once; a compile error is returned as is.

    Raises:
        SandboxError: the sandbox failed.
        BackendUnavailable: the language's runtime is not usable here.
    """
    if prepared.compile_error is not None:
        return prepared.compile_error
    lang = prepared.language
    limits = limits or Limits()
    job = Job(command=lang.substitute(prepared.command, limits), files=prepared.files,
              stdin=stdin, limits=limits, env=lang.environment(limits),
              runtime_paths=lang.runtime_paths(),
              limit_address_space=lang.limit_address_space, image=lang.image)
    return backend.run(job)


def run_source(backend: Backend, language: Language, source: bytes, *, stdin: bytes = b"",
               limits: Limits | None = None) -> RunResult:
    """Compile (if needed) and run ``source`` once.

    Raises:
        SandboxError: the sandbox failed.
        BackendUnavailable: the language's runtime is not usable here.
    """
    return run_prepared(backend, prepare(backend, language, source), stdin=stdin, limits=limits)

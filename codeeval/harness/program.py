"""Compile (when the language has a compile step) and run one program in a sandbox.

Compilation is a sandboxed job of its own with the compile step's limits; its artifacts are
copied out (refusing symlinks) and placed into every later run, so a program is compiled
once and run many times. A failed or over-limit compilation is ``CE`` with the compiler's
message, capped, unless the toolchain itself is broken in this sandbox: the first time a
language's compilation fails on a backend, its known-good canary program is compiled too,
and if that fails as well, the failure is the system's (``BackendUnavailable``), never the
program's.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from codeeval.errors import BackendUnavailable
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
              env=language.environment(step.limits, host=backend.host_runtimes),
              runtime_paths=language.runtime_paths() if backend.host_runtimes else (),
              limit_address_space=language.limit_address_space, image=language.image)
    result = backend.run(job)
    missing = [a for a in step.artifacts if a not in result.files]
    if result.status is not RunStatus.OK or missing:
        message = (result.stderr + result.stdout)[: step.message_bytes]
        why = (f"compilation failed: {result.reason}" if result.status is not RunStatus.OK
               else f"compiler produced no {', '.join(missing)}")
        if step.canary and source != step.canary:
            _check_compiler(backend, language)
        return Prepared(language, compile_error=replace(
            result, status=RunStatus.CE, stdout=b"", stderr=message, files={}, reason=why))
    files = {name: FileSpec(result.files[name], executable=True) for name in step.artifacts}
    return Prepared(language, MappingProxyType(files), run_cmd)


#: Per backend: language name -> why its compiler is broken there ("" when it works).
_compilers: weakref.WeakKeyDictionary[Backend, dict[str, str]] = weakref.WeakKeyDictionary()
_compilers_lock = threading.Lock()


def _check_compiler(backend: Backend, language: Language) -> None:
    """Compile the language's canary once per backend; raise if even that fails.

    Raises:
        BackendUnavailable: the canary does not compile: the toolchain is broken here.
        SandboxError: the sandbox failed while compiling it.
    """
    with _compilers_lock:
        known = _compilers.setdefault(backend, {}).get(language.name)
    if known is None:
        assert language.compile is not None
        failed = prepare(backend, language, language.compile.canary).compile_error
        known = "" if failed is None else (
            f"{failed.reason}: {failed.stderr.decode(errors='replace').strip()[:300]}")
        with _compilers_lock:
            _compilers.setdefault(backend, {})[language.name] = known
    if known:
        raise BackendUnavailable(f"the {language.name} toolchain does not work on the "
                                 f"{backend.name} backend (a known-good program does not "
                                 f"compile either): {known}")


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
              stdin=stdin, limits=limits, env=lang.environment(limits, host=backend.host_runtimes),
              runtime_paths=lang.runtime_paths() if backend.host_runtimes else (),
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

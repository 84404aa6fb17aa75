"""Languages as data: source file name, optional compile step with its own limits, run command.

A :class:`Language` is one registry entry. Commands are argument lists with placeholders:
``{src}`` (the source file name), ``{exe}`` (the compile step's artifact), ``{python}``
(the interpreter that runs sandboxed Python) and ``{memory_mb}`` (the run's memory limit,
for runtimes that size their heap themselves; it may appear in environment values too).
Compilation runs *inside the sandbox* as a job of its own, with
:attr:`CompileStep.limits`; its failure is ``CE``. A stdio problem compiles once per
sample and runs the artifact once per test.

Registered: Python, and (in :mod:`codeeval.languages.builtin`) C++, Java, JavaScript, Go
and Rust. Their commands use names found on ``PATH`` so that they resolve in a Docker
image too; their host toolchains are found at use time (:mod:`.toolchains`).
"""

from __future__ import annotations

import functools
import os
import site
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from codeeval import config
from codeeval.errors import BackendUnavailable, UnknownLanguageError
from codeeval.model.run import Limits


@dataclass(frozen=True, slots=True)
class CompileStep:
    """How to turn a source file into something runnable, inside the sandbox.

    Attributes:
        command: argument list; ``{src}`` and ``{exe}`` are substituted.
        artifacts: files the step must leave in the work dir (copied out, then into the run).
        limits: limits of the compile run (compilers need more than the program).
        message_bytes: how much of the compiler's output a CE result keeps.
        canary: a program that must compile; when a program fails to compile, the canary
            is compiled once per backend to tell a broken toolchain (an infra error) from
            a broken program (``CE``). Empty: no such check.
    """

    command: tuple[str, ...]
    artifacts: tuple[str, ...]
    limits: Limits = field(default_factory=lambda: Limits(
        time_s=20.0, wall_time_s=40.0, memory_mb=1024, processes=64, file_size_mb=256,
        scratch_mb=512, stdout_bytes=1 << 20, stderr_bytes=1 << 20))
    message_bytes: int = 16 * 1024
    canary: bytes = b""


@dataclass(frozen=True, slots=True)
class Language:
    """One registry entry.

    Attributes:
        name: what ``--lang`` takes.
        extensions: file suffixes that select this language when ``--lang`` is omitted.
        source_name: the file name the source gets in the work dir.
        run: argument list to run the program (``{src}``, ``{exe}``, ``{python}``).
        compile: optional compile step.
        runtime_paths: callable returning host paths to show read-only in the sandbox.
        limit_address_space: whether RLIMIT_AS is a sane backstop for this runtime.
        env: extra environment for the program.
        image: the runtime folder of ``sandbox_images/`` whose image runs this language on
            image-based backends (docker).
        aliases: other names ``--lang`` and a sample's ``language`` field accept.
        runtime_env: callable returning environment resolved on the host at use time
            (``PATH`` with the toolchain's directory); it overrides ``env``.
    """

    name: str
    extensions: tuple[str, ...]
    source_name: str
    run: tuple[str, ...]
    compile: CompileStep | None = None
    runtime_paths: Callable[[], tuple[str, ...]] = lambda: ()
    limit_address_space: bool = True
    env: tuple[tuple[str, str], ...] = ()
    image: str = "python"
    aliases: tuple[str, ...] = ()
    runtime_env: Callable[[], tuple[tuple[str, str], ...]] = lambda: ()

    def substitute(self, args: tuple[str, ...], limits: Limits | None = None
                   ) -> tuple[str, ...]:
        """Fill the placeholders of ``args``; ``{memory_mb}`` only when ``limits`` are given
        (it stays for a later call that knows them). Other braces are left alone.

        Raises:
            BackendUnavailable: the language's runtime is not usable on this host.
        """
        values = {"{src}": self.source_name,
                  "{exe}": self.compile.artifacts[0] if self.compile else self.source_name}
        if any("{python}" in a for a in args):
            values["{python}"] = python_interpreter()
        if limits is not None:
            values["{memory_mb}"] = str(limits.memory_mb)
        return tuple(_fill(a, values) for a in args)

    def environment(self, limits: Limits | None = None, *, host: bool = True) -> dict[str, str]:
        """The job environment: ``env``, then (for backends that run the host's toolchains,
        ``host``) ``runtime_env()``, placeholders filled.

        Raises:
            BackendUnavailable: the language's runtime is not usable on this host.
        """
        merged = {**dict(self.env), **(dict(self.runtime_env()) if host else {})}
        keys = tuple(merged)
        return dict(zip(keys, self.substitute(tuple(merged[k] for k in keys), limits),
                        strict=True))


def _fill(arg: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        arg = arg.replace(key, value)
    return arg


@functools.cache
def python_interpreter() -> str:
    """Absolute path of the interpreter that runs sandboxed Python (``CODEEVAL_PYTHON``).

    Raises:
        BackendUnavailable: it does not exist or is not executable.
    """
    path = config.settings().python
    if not os.path.isabs(path) or not os.access(path, os.X_OK):
        raise BackendUnavailable(f"Python interpreter {path!r} (CODEEVAL_PYTHON) is not executable")
    return path


@functools.cache
def python_runtime_paths() -> tuple[str, ...]:
    """Host directories the sandboxed Python needs: its prefix and base prefix.

    Raises:
        BackendUnavailable: the interpreter cannot report its prefixes.
    """
    exe = python_interpreter()
    if os.path.realpath(exe) == os.path.realpath(sys.executable):
        prefixes = {sys.prefix, sys.base_prefix}
    else:
        try:
            out = subprocess.run(
                [exe, "-I", "-c", "import sys; print(sys.prefix); print(sys.base_prefix)"],
                capture_output=True, timeout=30, check=True,
                env=config.host_environment_for_tools(),
            ).stdout.decode()
        except (OSError, subprocess.SubprocessError) as e:
            raise BackendUnavailable(f"cannot query Python interpreter {exe}: {e}") from e
        prefixes = set(out.split())
    paths = {os.path.realpath(p) for p in prefixes}
    paths.add(os.path.dirname(os.path.realpath(exe)))
    return tuple(sorted(paths))


@functools.cache
def python_site_packages() -> tuple[str, ...]:
    """The interpreter's site-packages directories (for drivers that start it with ``-S``).

    Raises:
        BackendUnavailable: the interpreter cannot report them.
    """
    exe = python_interpreter()
    if os.path.realpath(exe) == os.path.realpath(sys.executable):
        return tuple(site.getsitepackages())
    code = "import site; print('\\n'.join(site.getsitepackages()))"
    try:
        out = subprocess.run([exe, "-I", "-c", code], capture_output=True, timeout=30,
                             check=True, env=config.host_environment_for_tools()).stdout.decode()
    except (OSError, subprocess.SubprocessError) as e:
        raise BackendUnavailable(f"cannot query Python interpreter {exe}: {e}") from e
    return tuple(line for line in out.splitlines() if line)


_REGISTRY: dict[str, Language] = {}


def register_language(lang: Language) -> Language:
    """Add ``lang`` to the registry (replacing one of the same name) and return it."""
    _REGISTRY[lang.name] = lang
    return lang


def get_language(name: str) -> Language:
    """Return the language called ``name``.

    Raises:
        UnknownLanguageError: no such language.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        for lang in _REGISTRY.values():
            if name in lang.aliases:
                return lang
        raise UnknownLanguageError(
            f"unknown language {name!r}; available: {', '.join(language_names())}") from None


def language_for_path(path: str) -> Language:
    """Return the language whose extensions match ``path``.

    Raises:
        UnknownLanguageError: no language claims the file's extension.
    """
    for lang in _REGISTRY.values():
        if path.endswith(lang.extensions):
            return lang
    raise UnknownLanguageError(
        f"cannot tell the language of {path!r} from its extension; pass --lang "
        f"({', '.join(language_names())})")


def language_names() -> list[str]:
    """Names of the registered languages."""
    return sorted(_REGISTRY)


PYTHON = register_language(Language(
    name="python",
    extensions=(".py",),
    source_name="main.py",
    # -B: no .pyc writes into the (size-capped) work dir. site stays on, so candidates
    # may import what the interpreter has installed, as with EvalPlus.
    run=("{python}", "-B", "{src}"),
    runtime_paths=python_runtime_paths,
    env=(("PYTHONDONTWRITEBYTECODE", "1"), ("PYTHONIOENCODING", "utf-8")),
))


#: Python scripts that sandboxed jobs run again and again (the harness's driver), by the
#: name they run under: a backend that keeps an interpreter warm may compile them once.
_WARM_PYTHON_SCRIPTS: dict[str, bytes] = {}


def warm_python_script(name: str, source: bytes) -> None:
    """Declare that jobs will often run ``source`` as ``python -S -B NAME``."""
    _WARM_PYTHON_SCRIPTS[name] = source


def warm_python_scripts() -> dict[str, bytes]:
    """The scripts declared with :func:`warm_python_script`."""
    return dict(_WARM_PYTHON_SCRIPTS)

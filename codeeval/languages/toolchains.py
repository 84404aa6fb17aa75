"""Host toolchains of the compiled and non-Python languages, found at use time and cached.

The namespace backend shows the host's ``/usr`` read-only inside every sandbox, so a
toolchain installed from Debian packages needs nothing more than its name on ``PATH``. A
toolchain installed elsewhere (rustup under ``~/.rustup``, a JDK whose configuration is
symlinked into ``/etc``, node under ``~/.nvm``) needs those directories bound read-only:
:class:`Toolchain` says which, and which directories go first on the program's ``PATH``.

Commands in the registry use plain names (``g++``, ``java``, ``rustc``) so they resolve
inside a Docker image as well, where each runtime's image has its toolchain on ``PATH``.
The ``PATH`` given to a job is the host toolchain's own directory, then the usual
directories of the runtime's image, then the standard ones; directories that do not exist
where the job runs are skipped by the shell and ``execvp``.

A missing toolchain raises :class:`~codeeval.errors.BackendUnavailable` with an install hint:
an infra error (``SE``), never a verdict on the program.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from codeeval import config
from codeeval.errors import BackendUnavailable

#: Directories every job's ``PATH`` ends with (the namespace backend's default).
STANDARD_PATH = ("/usr/local/bin", "/usr/bin", "/bin")
_INSTALL = "run scripts/install.sh as root, or install the Debian package(s) {packages}"


@dataclass(frozen=True, slots=True)
class Toolchain:
    """What a language needs from the host.

    Attributes:
        bin_dirs: directories to put first on ``PATH`` (where the real binaries are).
        paths: host paths outside ``/usr`` to show read-only in the sandbox.
    """

    bin_dirs: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()

    def path_env(self, image_dirs: tuple[str, ...] = ()) -> str:
        """The ``PATH`` for jobs: own bin dirs, then ``image_dirs``, then the standard ones."""
        own = [d for d in (*self.bin_dirs, *image_dirs) if d not in STANDARD_PATH]
        return ":".join(dict.fromkeys((*own, *STANDARD_PATH)))


def _missing(what: str, packages: str) -> BackendUnavailable:
    return BackendUnavailable(f"{what} is not installed on this host; "
                              + _INSTALL.format(packages=packages))


def find_tool(name: str, extra_dirs: tuple[str, ...] = ()) -> str | None:
    """The absolute path of ``name`` on the host's ``PATH`` (then ``extra_dirs``), or ``None``."""
    dirs = [*config.host_environment_for_tools()["PATH"].split(":"), *extra_dirs]
    return shutil.which(name, path=":".join(d for d in dirs if d))


def _under_usr(path: str) -> bool:
    return path == "/usr" or path.startswith("/usr/")


def _outside_usr(*paths: str) -> tuple[str, ...]:
    """``paths`` minus those under ``/usr`` and those inside another one of them."""
    keep = sorted({p for p in paths if not _under_usr(p)})
    return tuple(p for p in keep if not any(p.startswith(q + "/") for q in keep if q != p))


def symlink_targets(root: str) -> tuple[str, ...]:
    """Directories outside ``root`` holding the targets of absolute symlinks under ``root``.

    Debian's JDK keeps its configuration in ``/etc/java-N-openjdk`` and links it from
    ``JAVA_HOME/conf`` and ``JAVA_HOME/lib``; without those directories the JVM cannot start.
    """
    found: set[str] = set()
    for top in ("conf", "lib"):
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            for name in (*dirnames, *filenames):
                link = os.path.join(dirpath, name)
                if not os.path.islink(link) or not os.readlink(link).startswith("/"):
                    continue
                real = os.path.realpath(link)
                if os.path.exists(real) and not real.startswith(root + "/"):
                    found.add(real if os.path.isdir(real) else os.path.dirname(real))
    return tuple(sorted(found))


def _prefix_of(binary: str) -> str:
    """The installation prefix of a real binary (``/opt/node`` for ``/opt/node/bin/node``)."""
    return str(Path(binary).parent.parent)


@functools.cache
def cpp() -> Toolchain:
    """g++ (with its assembler and linker).

    Raises:
        BackendUnavailable: g++ is not installed.
    """
    gxx = find_tool("g++")
    if gxx is None:
        raise _missing("C++ (g++)", "g++")
    real = os.path.realpath(gxx)
    return Toolchain((os.path.dirname(real),), _outside_usr(_prefix_of(real)))


@functools.cache
def java() -> Toolchain:
    """A JDK: ``java``, ``javac`` and ``jar`` from one ``JAVA_HOME``.

    Raises:
        BackendUnavailable: no JDK (or only a JRE) is installed.
    """
    javac = find_tool("javac")
    if javac is None:
        raise _missing("Java (a JDK with javac)", "openjdk-17-jdk-headless")
    bin_dir = os.path.dirname(os.path.realpath(javac))
    for tool in ("java", "jar"):
        if not os.access(os.path.join(bin_dir, tool), os.X_OK):
            raise BackendUnavailable(f"the JDK in {bin_dir} has no {tool}; "
                                     + _INSTALL.format(packages="openjdk-17-jdk-headless"))
    home = os.path.dirname(bin_dir)
    return Toolchain((bin_dir,), _outside_usr(home, *symlink_targets(home)))


@functools.cache
def node() -> Toolchain:
    """Node.js.

    Raises:
        BackendUnavailable: node is not installed.
    """
    exe = find_tool("node") or find_tool("nodejs")
    if exe is None:
        raise _missing("JavaScript (node)", "nodejs")
    real = os.path.realpath(exe)
    return Toolchain((os.path.dirname(real),), _outside_usr(_prefix_of(real)))


@functools.cache
def go() -> Toolchain:
    """The Go toolchain (its ``GOROOT`` is the directory above ``bin/go``).

    Raises:
        BackendUnavailable: go is not installed.
    """
    exe = find_tool("go", ("/usr/local/go/bin",))
    if exe is None:
        raise _missing("Go", "golang-go")
    real = os.path.realpath(exe)
    return Toolchain((os.path.dirname(real),), _outside_usr(_prefix_of(real)))


@functools.cache
def rust() -> Toolchain:
    """rustc: the toolchain's sysroot (a rustup proxy is resolved to the real compiler),
    plus the C compiler that links for it (``gcc``) on the host.

    Raises:
        BackendUnavailable: rustc or gcc is not installed, or rustc cannot report its sysroot.
    """
    exe = find_tool("rustc", (str(Path.home() / ".cargo" / "bin"),))
    if exe is None:
        raise _missing("Rust (rustc)", "rustc")
    if find_tool("gcc") is None:
        raise _missing("Rust's linker (gcc)", "gcc")
    env = config.host_environment_for_tools()
    env.setdefault("HOME", str(Path.home()))  # rustup's proxy looks for ~/.rustup
    try:
        out = subprocess.run([exe, "--print", "sysroot"], capture_output=True, timeout=60,
                             check=True, env=env).stdout.decode().strip()
    except (OSError, subprocess.SubprocessError) as e:
        raise BackendUnavailable(f"cannot ask {exe} for its sysroot: {e}") from e
    sysroot = os.path.realpath(out)
    if not os.access(os.path.join(sysroot, "bin", "rustc"), os.X_OK):
        raise BackendUnavailable(f"{exe} reports sysroot {out!r}, which has no bin/rustc")
    return Toolchain((os.path.join(sysroot, "bin"),), _outside_usr(sysroot))

"""Value types for one sandboxed run: what to run (:class:`Job`) and what happened.

These are frozen, slotted dataclasses. Validation happens in ``__post_init__`` so that a bad
value (a negative limit, an absolute file path) is rejected where it is made, with an
:class:`~codeeval.errors.InputError` whose message names the field.
"""

from __future__ import annotations

import enum
import math
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from codeeval.errors import InputError

#: Where a job's files are placed inside the sandbox, and the program's working directory.
WORKDIR = "/box"

MIB = 1024 * 1024
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class RunStatus(enum.StrEnum):
    """How one run of a program ended.

    ``OK`` ran to completion with exit code 0; ``RE`` ended with a non-zero exit code or a
    signal; ``TLE`` exceeded its CPU or wall time limit; ``MLE`` exceeded its memory limit;
    ``OLE`` wrote more output than allowed; ``CE`` failed to compile; ``SE`` the sandbox
    failed (an infra error: never a verdict on the program).
    """

    OK = "OK"
    RE = "RE"
    TLE = "TLE"
    MLE = "MLE"
    OLE = "OLE"
    CE = "CE"
    SE = "SE"

    @property
    def priority(self) -> int:
        """Rank when several statuses apply; higher wins: SE > CE > TLE > MLE > OLE > RE > OK."""
        return _PRIORITY[self]


_PRIORITY = {
    RunStatus.OK: 0,
    RunStatus.RE: 1,
    RunStatus.OLE: 2,
    RunStatus.MLE: 3,
    RunStatus.TLE: 4,
    RunStatus.CE: 5,
    RunStatus.SE: 6,
}


def worst_status(*statuses: RunStatus) -> RunStatus:
    """Return the status of highest priority among ``statuses`` (``OK`` when none are given)."""
    return max(statuses, key=lambda s: s.priority, default=RunStatus.OK)


def _positive(name: str, value: float | int | None, *, allow_none: bool = False) -> None:
    if value is None:
        if allow_none:
            return
        raise InputError(f"limit {name} must be given")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"limit {name} must be a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"limit {name} must be a positive number, got {value!r}")


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits of one run.

    Attributes:
        time_s: CPU-time limit of the whole process tree, in seconds (the "time limit").
        wall_time_s: wall-clock limit; ``None`` means ``2 * time_s + 1``.
        memory_mb: memory limit of the whole process tree (resident + tmpfs), in MiB.
        stdout_bytes: stdout beyond this is cut and the run ends with ``OLE``.
        stderr_bytes: the same for stderr.
        processes: processes plus threads the tree may hold at once.
        open_files: file descriptors per process.
        file_size_mb: largest file a process may write, in MiB.
        scratch_mb: size of each writable tmpfs (the work dir, ``/tmp``, ``/dev/shm``), in MiB.
        stack_mb: stack size per process (and default thread stack), in MiB.
        cpus: CPU bandwidth cap in cores (cgroup ``cpu`` controller); ``None`` for no cap.
    """

    time_s: float = 2.0
    wall_time_s: float | None = None
    memory_mb: int = 512
    stdout_bytes: int = 16 * MIB
    stderr_bytes: int = 1 * MIB
    processes: int = 64
    open_files: int = 256
    file_size_mb: int = 64
    scratch_mb: int = 64
    stack_mb: int = 64
    cpus: float | None = 1.0

    def __post_init__(self) -> None:
        _positive("time_s", self.time_s)
        _positive("wall_time_s", self.wall_time_s, allow_none=True)
        for name in ("memory_mb", "stdout_bytes", "stderr_bytes", "processes", "open_files",
                     "file_size_mb", "scratch_mb", "stack_mb"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise InputError(f"limit {name} must be a whole number, got {value!r}")
            _positive(name, value)
        _positive("cpus", self.cpus, allow_none=True)

    @property
    def wall_s(self) -> float:
        """The effective wall-clock limit in seconds."""
        return self.wall_time_s if self.wall_time_s is not None else 2 * self.time_s + 1

    @property
    def memory_bytes(self) -> int:
        """The memory limit in bytes."""
        return self.memory_mb * MIB


@dataclass(frozen=True, slots=True)
class FileSpec:
    """A file to place in the work dir: its bytes and whether it is executable."""

    content: bytes
    executable: bool = False


def check_relative_path(path: str, what: str) -> str:
    """Return ``path`` normalised, if it is a plain relative path inside the work dir.

    Raises:
        InputError: the path is empty, absolute, or climbs out with ``..``.
    """
    norm = posixpath.normpath(path)
    if not path or path.startswith("/") or norm == "." or norm.startswith("../") or norm == "..":
        raise InputError(f"{what} {path!r} must be a relative path inside the work dir")
    if "\0" in path:
        raise InputError(f"{what} {path!r} contains a NUL byte")
    return norm


@dataclass(frozen=True, slots=True)
class Job:
    """One program run: files to place, a command, stdin, environment and limits.

    The command runs with ``/box`` (:data:`WORKDIR`) as its working directory, where
    ``files`` are placed. ``outputs`` names files to copy back out after the run; copy-out
    refuses symlinks and anything that is not a regular file. ``channel`` opens the
    structured message channel (see :mod:`codeeval.sandbox.channel`).
    """

    command: tuple[str, ...]
    files: Mapping[str, FileSpec] = field(default_factory=dict)
    stdin: bytes = b""
    env: Mapping[str, str] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    outputs: tuple[str, ...] = ()
    channel: bool = False
    #: Extra host paths to show read-only inside the sandbox (the runtime of a language).
    runtime_paths: tuple[str, ...] = ()
    #: Set RLIMIT_AS (address space) as a memory backstop; off for runtimes that reserve
    #: huge virtual ranges (JVM, Go).
    limit_address_space: bool = True
    #: The runtime (a folder of ``sandbox_images/``) whose image runs this job on image-based
    #: backends (docker); ``None`` means ``python``. Other backends ignore it.
    image: str | None = None

    def __post_init__(self) -> None:
        if not self.command or not all(isinstance(a, str) and a for a in self.command):
            raise InputError("job command must be a non-empty list of non-empty strings")
        for path in self.files:
            check_relative_path(path, "job file")
        for path in self.outputs:
            check_relative_path(path, "job output")
        for key, value in self.env.items():
            if not _ENV_NAME.fullmatch(key):
                raise InputError(f"environment variable name {key!r} is not a portable name "
                                 "(letters, digits and _, not starting with a digit)")
            if "\0" in value:
                raise InputError(f"environment variable {key} contains a NUL byte")


@dataclass(frozen=True, slots=True)
class RunResult:
    """What happened in one run.

    Attributes:
        status: how the run ended (see :class:`RunStatus`).
        exit_code: the exit code, or ``None`` when the program was ended by a signal.
        signal: the signal that ended the program, or ``None``.
        cpu_time_s: CPU time of the whole process tree.
        wall_time_s: wall-clock time from start to the end of the process tree.
        peak_memory_mb: peak memory of the tree (``None`` when the backend cannot measure it).
        stdout, stderr: captured output, cut at the limits.
        stdout_truncated, stderr_truncated: whether output was cut.
        files: the job's ``outputs`` that existed as regular files after the run.
        reason: one human-readable line on why the status is what it is.
    """

    status: RunStatus
    exit_code: int | None
    signal: int | None
    cpu_time_s: float
    wall_time_s: float
    peak_memory_mb: float | None
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    files: Mapping[str, bytes] = field(default_factory=dict)
    reason: str = ""

    def stderr_tail(self, limit: int | None = None) -> str:
        """The last non-empty line of stderr (a traceback's message), cut to ``limit``."""
        lines = self.stderr.decode(errors="replace").strip().splitlines()
        return lines[-1][:limit] if lines else ""

    def to_json(self) -> dict[str, Any]:
        """Return the command-line contract's JSON object for this result.

        Output bytes that are not valid UTF-8 are shown with backslash escapes (``\\xff``).
        """
        return {
            "status": self.status.value,
            "exit_code": self.exit_code,
            "signal": self.signal,
            "cpu_time_s": round(self.cpu_time_s, 4),
            "wall_time_s": round(self.wall_time_s, 4),
            "peak_memory_mb": (None if self.peak_memory_mb is None
                               else round(self.peak_memory_mb, 2)),
            "stdout": self.stdout.decode("utf-8", errors="backslashreplace"),
            "stderr": self.stderr.decode("utf-8", errors="backslashreplace"),
            "stdout_truncated": self.stdout_truncated,
            "stderr_truncated": self.stderr_truncated,
            "reason": self.reason,
        }

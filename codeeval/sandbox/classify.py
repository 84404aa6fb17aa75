"""Decide a run's status from the facts the supervisor observed. Pure: no I/O.

Which failures are the program's and which are the sandbox's is decided before this
module is reached: a sandbox that could not be set up, supervised or torn down raises
:class:`~codeeval.errors.SandboxError` and never gets here. Everything here is a fact
about the *program*:

* ``TLE`` — the supervisor killed the tree for exceeding its CPU or wall limit, or the
  tree's CPU time (measured by the cgroup, or by rusage) is above the limit even though it
  finished.
* ``MLE`` — the kernel's OOM killer fired inside the run's memory cgroup; or, without a
  cgroup, the supervisor saw the tree's resident memory pass the limit; or the measured
  peak memory is above the limit (possible only where no cgroup enforces it, and the peak
  comes from rusage); or the program failed after its peak memory reached the limit; or
  it failed and its stderr ends with a runtime's allocation-failure message (Python
  ``MemoryError``, C++ ``std::bad_alloc``, ...). The kernel refuses an allocation larger
  than the machine before any limit is touched, so without that last rule a huge
  allocation would look like a plain crash. Printed markers can only turn one failing
  status into another failing status; they can never make a failed run pass.
* ``OLE`` — stdout or stderr went past its cap and the supervisor killed the tree.
* ``RE`` — a non-zero exit code or a fatal signal.
* ``OK`` — exit code 0 and none of the above.

When several apply the highest priority wins: TLE > MLE > OLE > RE (CE and SE come from
other layers and outrank all of these).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from codeeval.model.run import Limits, RunStatus


class KillReason(enum.Enum):
    """Why the supervisor killed the process tree."""

    WALL_TIME = "wall"
    CPU_TIME = "cpu"
    OUTPUT = "output"
    MEMORY = "memory"  # sampled resident memory over the limit (hosts without cgroups)
    REQUESTED = "requested"


@dataclass(frozen=True, slots=True)
class Observation:
    """Facts about one finished run, as the supervisor saw them."""

    exit_code: int | None
    signal: int | None
    killed: KillReason | None
    cpu_time_s: float
    wall_time_s: float
    peak_memory_bytes: int | None
    oom_killed: bool
    stdout_overflow: bool
    stderr_overflow: bool
    stderr_tail: bytes = b""


#: Allocation-failure messages of common runtimes, matched against the end of stderr.
DEFAULT_OOM_MARKERS: tuple[bytes, ...] = (
    rb"\bMemoryError\b",
    rb"std::bad_alloc",
    rb"java\.lang\.OutOfMemoryError",
    rb"memory allocation of \d+ bytes failed",
    rb"fatal error: runtime: out of memory",
    rb"JavaScript heap out of memory",
)


def classify(
    obs: Observation, limits: Limits, oom_markers: Sequence[bytes] = DEFAULT_OOM_MARKERS
) -> tuple[RunStatus, str]:
    """Return the status of a finished run and one line saying why.

    Args:
        obs: what the supervisor observed.
        limits: the limits the run had.
        oom_markers: regular expressions (bytes) for allocation-failure messages.
    """
    failed = obs.signal is not None or (obs.exit_code is not None and obs.exit_code != 0)
    if obs.killed is KillReason.CPU_TIME or obs.cpu_time_s > limits.time_s:
        return RunStatus.TLE, f"CPU time {obs.cpu_time_s:.3f} s over the limit {limits.time_s:g} s"
    if obs.killed is KillReason.WALL_TIME or obs.wall_time_s > limits.wall_s:
        return RunStatus.TLE, f"wall time over the limit {limits.wall_s:g} s"
    if obs.oom_killed:
        return RunStatus.MLE, f"killed by the OOM killer at the memory limit {limits.memory_mb} MiB"
    if obs.killed is KillReason.MEMORY:
        return RunStatus.MLE, f"killed when its memory passed the limit {limits.memory_mb} MiB"
    if obs.peak_memory_bytes is not None and obs.peak_memory_bytes > limits.memory_bytes:
        return RunStatus.MLE, f"peak memory over the limit {limits.memory_mb} MiB"
    reached = obs.peak_memory_bytes is not None and obs.peak_memory_bytes >= limits.memory_bytes
    if failed and reached:
        return RunStatus.MLE, f"failed after reaching the memory limit {limits.memory_mb} MiB"
    if failed and _matches_any(obs.stderr_tail, oom_markers):
        return RunStatus.MLE, "failed with an allocation error (memory limit or oversized request)"
    if obs.killed is KillReason.OUTPUT or obs.stdout_overflow or obs.stderr_overflow:
        which = "stdout" if obs.stdout_overflow else "stderr"
        cap = limits.stdout_bytes if obs.stdout_overflow else limits.stderr_bytes
        return RunStatus.OLE, f"{which} exceeded {cap} bytes"
    if obs.signal is not None:
        return RunStatus.RE, f"killed by signal {obs.signal}"
    if obs.killed is KillReason.REQUESTED:
        return RunStatus.RE, "stopped by the caller before it finished"
    if obs.exit_code:
        return RunStatus.RE, f"exit code {obs.exit_code}"
    return RunStatus.OK, "exit code 0"


def _matches_any(text: bytes, patterns: Sequence[bytes]) -> bool:
    return any(re.search(p, text) for p in patterns)

"""Resource limits (rlimits) of a run: the second layer under cgroups, the only one without.

They are set on the sandbox's blocked init with ``prlimit(2)`` by the namespace backend
(lowering a limit needs no capability), or by exec'ing util-linux ``prlimit`` in the local
backend, whose child starts at once.

Also here, what a run's CPU limit tells the program: :func:`thread_env`, the variables that
size numeric libraries' thread pools to the cores the run may use.
"""

from __future__ import annotations

import math
import resource

from codeeval.model.run import Limits

_MIB = 1024 * 1024

_PRLIMIT_NAMES = {resource.RLIMIT_CPU: "cpu", resource.RLIMIT_NOFILE: "nofile",
                  resource.RLIMIT_FSIZE: "fsize", resource.RLIMIT_STACK: "stack",
                  resource.RLIMIT_CORE: "core", resource.RLIMIT_AS: "as",
                  resource.RLIMIT_NPROC: "nproc"}


def address_space_limit(limits: Limits, *, cgroup: bool) -> int:
    """RLIMIT_AS for a run: a loose backstop, since it also counts untouched thread stacks.

    With a memory cgroup the cgroup decides MLE, so the backstop is far away. Without one,
    it is the memory limit plus room for the stacks of up to 16 threads, and MLE is judged
    from the measured peak.
    """
    if cgroup:
        return 4 * limits.memory_bytes + 4096 * _MIB
    return limits.memory_bytes + min(limits.processes, 16) * limits.stack_mb * _MIB


#: Variables that size the thread pools of OpenMP, OpenBLAS, MKL and numexpr. Unset, those
#: start a thread per host core when imported (NumPy's OpenBLAS does, at ``import numpy``),
#: which a run limited to one core only pays for: 0.1 s more CPU per ``import numpy`` here.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMEXPR_NUM_THREADS")


def thread_env(limits: Limits) -> dict[str, str]:
    """The :data:`THREAD_VARIABLES` of a run limited to ``limits.cpus`` cores (rounded up),
    to go under the job's own environment, which may set them otherwise; none without a
    CPU limit. EvalPlus's harness sets ``OMP_NUM_THREADS=1`` likewise."""
    if limits.cpus is None:
        return {}
    return dict.fromkeys(THREAD_VARIABLES, str(max(1, math.ceil(limits.cpus))))


def rlimits(limits: Limits, *, address_space: int | None,
            nproc: bool) -> dict[int, tuple[int, int]]:
    """Return the rlimits of a run as ``{resource.RLIMIT_*: (soft, hard)}``.

    Args:
        limits: the run's limits.
        address_space: RLIMIT_AS in bytes, or ``None`` for no address-space limit.
        nproc: whether to set RLIMIT_NPROC (only meaningful for a uid of the run's own).
    """
    cpu_soft = int(limits.time_s) + 1
    out = {
        resource.RLIMIT_CPU: (cpu_soft, cpu_soft + 1),
        resource.RLIMIT_NOFILE: (limits.open_files, limits.open_files),
        resource.RLIMIT_FSIZE: (limits.file_size_mb * _MIB, limits.file_size_mb * _MIB),
        resource.RLIMIT_STACK: (limits.stack_mb * _MIB, limits.stack_mb * _MIB),
        resource.RLIMIT_CORE: (0, 0),
    }
    if address_space is not None:
        out[resource.RLIMIT_AS] = (address_space, address_space)
    if nproc:
        out[resource.RLIMIT_NPROC] = (limits.processes, limits.processes)
    return out


def prlimit_options(limits: dict[int, tuple[int, int]]) -> list[str]:
    """Render :func:`rlimits` as options of util-linux ``prlimit`` (``--name=soft:hard``)."""
    return [f"--{_PRLIMIT_NAMES[r]}={soft}:{hard}" for r, (soft, hard) in limits.items()]

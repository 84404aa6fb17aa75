"""How to score: per-test time policy, memory, retries, what to run (:class:`ScoreOptions`).

Kept apart from the runner so that executors (:mod:`codeeval.score.executor`, and the Ray
one in :mod:`codeeval.distributed`) can take the options without importing the runner.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from codeeval.datasets.problem import Problem
from codeeval.harness.functional import TimePolicy

DEFAULT_POLICY = TimePolicy()
DEFAULT_MEMORY_MB = 4096


@dataclass(frozen=True, slots=True)
class ScoreOptions:
    """How to score."""

    #: Scoring waits on process start-up and pipes more than it computes: two programs per
    #: core keep the cores busy.
    jobs: int = 2 * (os.cpu_count() or 1)
    ks: tuple[int, ...] = (1, 10, 100)
    all_tests: bool = False
    #: Per-test time limits and memory; ``None`` takes the problem's own limits where it
    #: declares them (native problems), else the defaults below.
    policy: TimePolicy | None = None
    memory_mb: int | None = None
    retries: int = 2
    resume: bool = False
    static: bool = False

    def policy_for(self, problem: Problem) -> tuple[TimePolicy, str]:
        """The time policy for ``problem`` and where it came from.

        Returns:
            The policy, and ``"command line"``, ``"problem"`` or ``"default"``.
        """
        if self.policy is not None:
            return self.policy, "command line"
        floor, factor = problem.limits.time_floor_s, problem.limits.time_factor
        if floor is None and factor is None:
            return DEFAULT_POLICY, "default"
        return TimePolicy(DEFAULT_POLICY.floor_s if floor is None else floor,
                          DEFAULT_POLICY.factor if factor is None else factor), "problem"

    def memory_for(self, problem: Problem) -> int:
        """The memory limit for ``problem``.

        Returns:
            The limit in MiB: the command line's, else the problem's, else the default.
        """
        if self.memory_mb is not None:
            return self.memory_mb
        return problem.limits.memory_mb or DEFAULT_MEMORY_MB

"""pass@k: the unbiased estimator, its numerically stable form, and its standard error.

For a problem with ``n`` samples of which ``c`` pass, the unbiased estimate of pass@k
(Chen et al., 2021) is ``1 - C(n-c, k) / C(n, k)``. The binomials overflow for large
``n``; the same quantity is the product ``1 - prod_{i=n-c+1}^{n} (1 - k / i)``, which stays
in floating point range. The benchmark score is the mean over problems.

The standard error is that of a mean over problems (Miller, "Adding Error Bars to Evals",
2024): ``sd(per-problem pass@k) / sqrt(#problems)``, with the sample standard deviation.
It measures how much the score would move with a different draw of problems of the same
kind, which is what decides whether two models really differ. With one problem it is 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from codeeval.errors import InputError


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem with ``n`` samples, ``c`` of them correct.

    Raises:
        InputError: ``k`` exceeds ``n``, or the counts are inconsistent.
    """
    if not 0 <= c <= n:
        raise InputError(f"correct count {c} must be between 0 and the sample count {n}")
    if not 1 <= k <= n:
        raise InputError(f"pass@{k} needs at least {k} samples per problem, got {n}")
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


@dataclass(frozen=True, slots=True)
class Estimate:
    """A benchmark-level pass@k: mean over problems and its standard error."""

    k: int
    value: float
    se: float
    problems: int


def estimate(counts: Iterable[tuple[int, int]], k: int) -> Estimate:
    """Mean pass@k over problems given ``(n, c)`` per problem, with its standard error.

    Raises:
        InputError: no problems, or some problem has fewer than ``k`` samples.
    """
    per_problem = [pass_at_k(n, c, k) for n, c in counts]
    if not per_problem:
        raise InputError("no problems to compute pass@k over")
    mean = math.fsum(per_problem) / len(per_problem)
    return Estimate(k=k, value=mean, se=standard_error(per_problem), problems=len(per_problem))


def standard_error(values: Sequence[float]) -> float:
    """Standard error of the mean of ``values`` (0 for fewer than two values)."""
    m = len(values)
    if m < 2:
        return 0.0
    mean = math.fsum(values) / m
    var = math.fsum((v - mean) ** 2 for v in values) / (m - 1)
    return math.sqrt(var / m)


def ks_for(counts: Sequence[tuple[int, int]], wanted: Sequence[int]) -> list[int]:
    """The ``wanted`` k values every problem has enough samples for, sorted."""
    smallest = min((n for n, _ in counts), default=0)
    return sorted({k for k in wanted if 1 <= k <= smallest})

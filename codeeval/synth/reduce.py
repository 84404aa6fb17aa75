"""Suite reduction: greedy set cover over what each test distinguishes.

Each test is described by the set of *requirements* it meets: the mutants and known-wrong
programs it kills (``mutant:ID``, ``wrong:NAME``), and the input/output classes it is of
(:mod:`codeeval.synth.features`). Reduction keeps the tests that must stay (the original
ones) and adds, one at a time, the test that meets the most requirements still short of
``k`` tests each (a requirement may weigh more than one: see ``weight``); ties go to the
cheaper test, then the earlier one. It stops when no test adds anything or the budget is
spent. Greedy set cover is within a factor ln(n) of the smallest cover, and it keeps every
requirement the full suite meets (when the budget allows), so the reduced suite kills
every mutant and wrong program the full one kills.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence


def greedy_cover(tests: Sequence[Collection[str]], *, keep: Sequence[Collection[str]] = (),
                 k: int = 1, budget: int | None = None,
                 cost: Sequence[float] | None = None,
                 weight: Mapping[str, float] | None = None) -> list[int]:
    """Indices of ``tests`` to add to the kept ones, in the order chosen.

    Args:
        tests: the requirements each candidate test meets.
        keep: the requirements of tests that stay whatever happens (counted first).
        k: how many tests each requirement should have (multi-cover), at least 1.
        budget: at most this many tests chosen (``None``: no limit).
        cost: a tie-breaker per test (smaller wins), e.g. the size of its input.
        weight: what meeting a requirement is worth (default 1): a heavy requirement is met
            first, which matters when the budget is too small to meet them all.

    Raises:
        ValueError: ``k`` < 1, or ``cost`` does not match ``tests``.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    if cost is not None and len(cost) != len(tests):
        raise ValueError("one cost per test")
    have: Counter[str] = Counter()
    for reqs in keep:
        have.update(set(reqs))
    reachable: Counter[str] = Counter(have)
    for reqs in tests:
        reachable.update(set(reqs))
    # What is worth reaching: each requirement up to k tests, or as many as exist.
    want = {r: min(k, n) for r, n in reachable.items()}
    sets = [frozenset(t) for t in tests]
    chosen: list[int] = []
    left = set(range(len(sets)))
    while left and (budget is None or len(chosen) < budget):
        best, best_key = -1, None
        for i in left:
            gain = sum(1.0 if weight is None else weight.get(r, 1.0)
                       for r in sets[i] if have[r] < want[r])
            if gain == 0:
                continue
            key = (-gain, cost[i] if cost is not None else 0.0, i)
            if best_key is None or key < best_key:
                best, best_key = i, key
        if best < 0:
            break
        chosen.append(best)
        left.discard(best)
        have.update(sets[best])
    return chosen


def covered(tests: Sequence[Collection[str]]) -> set[str]:
    """Every requirement at least one of ``tests`` meets."""
    out: set[str] = set()
    for t in tests:
        out.update(t)
    return out

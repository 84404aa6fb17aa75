"""pass@k against the closed form, edge cases, and standard errors."""

from __future__ import annotations

import math

import pytest

from codeeval.errors import InputError
from codeeval.grading.passk import estimate, ks_for, pass_at_k, standard_error


@pytest.mark.parametrize(("n", "c", "k"), [(10, 3, 1), (10, 3, 5), (100, 1, 10), (20, 0, 3),
                                           (20, 20, 3), (7, 6, 2), (200, 37, 100)])
def test_matches_closed_form(n: int, c: int, k: int) -> None:
    closed = 1.0 - math.comb(n - c, k) / math.comb(n, k) if n - c >= k else 1.0
    assert pass_at_k(n, c, k) == pytest.approx(closed, rel=1e-12, abs=1e-15)


def test_pass_at_1_is_the_fraction_correct() -> None:
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)


def test_large_n_is_stable() -> None:
    value = pass_at_k(100_000, 50, 1000)
    assert 0.0 < value <= 1.0
    assert not math.isnan(value)


@pytest.mark.parametrize(("n", "c", "k"), [(5, 6, 1), (5, -1, 1), (5, 2, 6), (5, 2, 0)])
def test_bad_counts(n: int, c: int, k: int) -> None:
    with pytest.raises(InputError):
        pass_at_k(n, c, k)


def test_estimate_and_standard_error() -> None:
    est = estimate([(10, 10), (10, 0), (10, 5), (10, 5)], k=1)
    assert est.value == pytest.approx(0.5)
    per = [1.0, 0.0, 0.5, 0.5]
    sd = math.sqrt(sum((v - 0.5) ** 2 for v in per) / 3)
    assert est.se == pytest.approx(sd / 2)
    assert est.problems == 4
    assert standard_error([0.7]) == 0.0


def test_ks_for_drops_ks_above_the_smallest_n() -> None:
    assert ks_for([(10, 1), (5, 0)], [1, 5, 10, 100]) == [1, 5]

"""Greedy set-cover reduction and the suite-quality metrics (pure)."""

from __future__ import annotations

import pytest

from codeeval.grading.suite_metrics import KillMatrix, auc, measure, summarise
from codeeval.synth.features import STRESS, magnitude, stress
from codeeval.synth.pipeline import SynthOptions, select
from codeeval.synth.reduce import covered, greedy_cover


def test_greedy_cover_picks_the_fewest_that_keep_everything():
    tests = [{"a"}, {"a", "b"}, {"c"}, {"b", "c", "d"}, set()]
    chosen = greedy_cover(tests)
    assert chosen == [3, 0]  # {b,c,d} first, then a test with "a" (the cheaper index)
    assert covered([tests[i] for i in chosen]) == covered(tests)


def test_kept_tests_count_first():
    tests = [{"a", "b"}, {"c"}]
    assert greedy_cover(tests, keep=[{"a", "b"}]) == [1]


def test_multi_cover_and_budget():
    tests = [{"m1"}, {"m1"}, {"m1", "m2"}, {"m2"}]
    assert greedy_cover(tests, k=2) == [2, 0, 3]
    assert len(greedy_cover(tests, k=2, budget=1)) == 1


def test_ties_go_to_the_cheaper_test():
    tests = [{"a"}, {"a"}, {"a"}]
    assert greedy_cover(tests, cost=[5.0, 1.0, 3.0]) == [1]


def test_a_heavy_requirement_is_met_first_whatever_the_budget():
    tests = [{"m1", "m2", "m3"}, {"stress"}, {"m1"}]
    assert greedy_cover(tests, budget=1) == [0]
    assert greedy_cover(tests, budget=1, weight={"stress": 1e6}) == [1]
    assert greedy_cover(tests, weight={"stress": 1e6}) == [1, 0]


def test_stress_marks_the_heaviest_test_and_each_arguments_largest():
    tests = [(3, "abc"), (40, ""), (5, "")]
    marks = stress(tests, [10.0, 10.0, 50.0])
    assert marks == [{"stress:in1"}, {"stress:in0"}, {STRESS}]
    # Equal work: the larger input is the heavier.
    assert STRESS in stress(tests, [0.0, 0.0, 0.0])[1]
    # Collections count their items at every level; numbers inside count one each.
    assert magnitude([1, 2, [3, "ab"]]) == 7.0
    assert magnitude([10**9]) == 1.0
    assert magnitude(10**400) == 2.0 ** 1000  # no overflow
    assert magnitude(float("nan")) == 0.0
    assert magnitude(True) == 0.0


def test_with_reduced_seeds_the_budget_counts_the_whole_suite():
    seeds = [{"m1", "f"}, {"m1"}, {"m2"}]
    cands = [{"stress", "m1"}, {"m3"}, {"m2", "m3"}]
    kept = SynthOptions(max_tests=2, cover=1)
    sel = select(kept, seeds, cands, existing=0, seed_cost=[1, 1, 1], cand_cost=[2, 2, 2])
    # The seeds stay; the heaviest test, then one of the two that add m3 (the earlier).
    assert (sel.seeds, sel.tests, sel.seeds_written) == ([0, 1, 2], [0, 1], [])
    reduced = SynthOptions(max_tests=2, cover=1, reduce_seeds=True)
    sel = select(reduced, seeds, cands, existing=0, seed_cost=[1, 1, 1], cand_cost=[2, 2, 2])
    # The heaviest test first, then the one that adds most; two tests in all.
    assert (sel.seeds, sel.tests) == ([], [0, 2])
    ratio = SynthOptions(max_ratio=0.1, cover=1, reduce_seeds=True)
    sel = select(ratio, seeds, cands, existing=25, seed_cost=[1, 1, 1], cand_cost=[2, 2, 2])
    assert len(sel.seeds) + len(sel.tests) == 2  # a tenth of 25, rounded down
    # Room left after every requirement is met goes to the existing tests.
    roomy = SynthOptions(max_tests=5, cover=1, reduce_seeds=True)
    sel = select(roomy, seeds, cands, existing=0, seed_cost=[1, 1, 1], cand_cost=[2, 2, 2])
    assert (sel.seeds, sel.tests) == ([0, 1, 2], [0, 2])
    tiny = select(ratio, seeds, cands, existing=5, seed_cost=[1, 1, 1], cand_cost=[2, 2, 2])
    assert (tiny.budget, len(tiny.seeds) + len(tiny.tests)) == (1, 1)  # never an empty suite


def test_bad_arguments():
    with pytest.raises(ValueError, match="k must"):
        greedy_cover([{"a"}], k=0)
    with pytest.raises(ValueError, match="one cost"):
        greedy_cover([{"a"}], cost=[1.0, 2.0])


def matrix(rejects, wrong, correct=(), tests=4):
    return KillMatrix(tests, {p: frozenset(s) for p, s in rejects.items()}, tuple(wrong),
                      tuple(correct))


def test_detection_depc_and_false_rejections():
    m = matrix({"w1": {0, 2}, "w2": {2}, "w3": set(), "c1": {3}}, ["w1", "w2", "w3"], ["c1"])
    q = measure(m)
    assert (q.wrong, q.detected, q.correct, q.falsely_rejected) == (3, 2, 1, 1)
    # columns over wrong programs: t0 -> {w1}, t2 -> {w1, w2}: two distinct patterns
    assert q.depc == 2
    assert q.to_json()["diversity_ratio"] == 0.5
    assert not q.all_detected


def test_identical_columns_are_one_pattern():
    m = matrix({"w1": {0, 1, 2, 3}, "w2": {0, 1, 2, 3}}, ["w1", "w2"])
    q = measure(m)
    assert q.depc == 1
    assert q.all_detected


def test_vacc_curve_uses_prefixes():
    m = matrix({"w1": {0}, "w2": {2}}, ["w1", "w2"])
    q = measure(m, auc_n=4)
    assert q.vacc_curve == (False, False, True, True)


def test_summary_over_problems():
    per = {"p1": measure(matrix({"w": {0}}, ["w"]), auc_n=3),
           "p2": measure(matrix({"w": {1}, "v": set()}, ["w", "v"]), auc_n=3),
           "p3": measure(matrix({}, [], ["c"]), auc_n=3)}
    s = summarise(per, auc_n=3)
    assert s["wrong_programs"] == 3
    assert s["detected"] == 2
    assert s["detection_rate_micro"] == round(2 / 3, 6)
    assert s["detection_rate_macro"] == round((1 + 0.5) / 2, 6)
    assert s["verifier_accuracy"] == 0.5  # p1 all detected, p2 not; p3 has no wrong programs
    # VAcc at k=1,2,3: p1 yes from k=1; p2 never -> 0.5, 0.5, 0.5
    assert s["auc@3"] == 0.5


def test_auc_trapezoid():
    assert auc([0.0, 1.0]) == 0.5
    assert auc([1.0, 1.0, 1.0]) == 1.0
    assert auc([0.5]) is None


def test_a_test_repeated_in_a_suite_keeps_its_first_place():
    from codeeval.synth.quality import pool_suites, suite_positions

    base = [(1,), (2,)]
    plus = [(1,), (2,), (3,), (1,), (2,)]  # plus repeats base inputs, as HumanEval+ does
    pool = pool_suites({"base": base, "plus": plus})
    assert pool.suites["plus"] == [0, 1, 2, 0, 1]
    every = set(range(len(pool.tests)))
    assert suite_positions(pool.suites["plus"], every) == {0: 0, 1: 1, 2: 2}
    assert suite_positions(pool.suites["base"], every) == {0: 0, 1: 1}
    # A test the reference cannot answer is left out; the others close up.
    assert suite_positions(pool.suites["plus"], {1, 2}) == {1: 0, 2: 1}
    # The first k tests of plus are base's: the same wrong programs are caught by then.
    m = KillMatrix(3, {"w": frozenset({1})}, ("w",))
    assert measure(m, auc_n=3).vacc_curve == (False, True, True)


def test_each_suite_adds_its_own_segment_of_the_pool():
    from codeeval.synth.quality import pool_suites

    pool = pool_suites({"base": [(1,), (2,)], "plus": [(1,), (2,), (3,), (4,)],
                        "synth": [(1,), (2,), (5,)], "same": [(1,)]})
    assert pool.segments == [(0, 2), (2, 4), (4, 5)]  # "same" adds nothing

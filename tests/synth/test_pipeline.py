"""codeeval synth on call-based problems: proposals are checked, measured and reduced in the
real sandbox; bad proposals and bad problems are reported, never scored."""

from __future__ import annotations

import pytest

from codeeval.datasets.problem import FunctionalProblem
from codeeval.errors import InputError
from codeeval.harness.functional import ReferenceFailed
from codeeval.harness.outcomes import run_inputs
from codeeval.model.verdict import Verdict
from codeeval.sandbox import Backend
from codeeval.synth import generators as g
from codeeval.synth.generators import Candidate
from codeeval.synth.pipeline import SynthOptions, synthesize
from tests.sandbox.conftest import _backend

REFERENCE = '''
def clamp_sum(xs: list, limit: int) -> int:
    """Sum of xs, each value first clamped to [-limit, limit]."""
    total = 0
    for x in xs:
        if x > limit:
            x = limit
        elif x < -limit:
            x = -limit
        total += x
    return total
'''
# Right on the seeds (all values within the limit, none negative), wrong elsewhere.
NO_LOWER_CLAMP = '''
def clamp_sum(xs: list, limit: int) -> int:
    return sum(min(limit, x) for x in xs)
'''
EMPTY_CRASH = '''
def clamp_sum(xs: list, limit: int) -> int:
    return max(xs) * 0 + sum(max(-limit, min(limit, x)) for x in xs)
'''
SEEDS = (([1, 2, 3], 5), ([4, 0], 9), ([7], 10))
VALIDATOR = "def validate(xs, limit):\n    assert limit >= 0, 'limit is not negative'\n"


def problem(**changes: object) -> FunctionalProblem:
    base = FunctionalProblem(
        task_id="t/clamp", prompt="", entry_point="clamp_sum", reference=REFERENCE,
        suites={"base": SEEDS}, validator=VALIDATOR,
        known_wrong=(("no_lower.py", NO_LOWER_CLAMP), ("empty.py", EMPTY_CRASH)))
    fields = {f: getattr(base, f) for f in base.__dataclass_fields__} | changes
    return FunctionalProblem(**fields)  # type: ignore[arg-type]


SMALL = SynthOptions(budget=g.Budget(hypothesis=60, mutation=120, boundary=80, scale=6),
                     mutants=12, cover=1)


@pytest.fixture(scope="module")
def backend() -> Backend:
    return _backend("namespace")


def test_synthesised_tests_kill_what_the_seeds_miss(backend: Backend) -> None:
    result = synthesize(backend, problem(), SMALL)
    r = result.report
    assert r["seeds"] == 3
    assert sum(r["proposed"].values()) > 200
    programs = r["programs"]
    assert programs["known_wrong"] == 2
    assert programs["mutants"] >= 5
    # The seeds pass both wrong programs; the kept and the selected tests kill both.
    assert programs["killed_by_selected"] == programs["killed_by_all_kept"]
    assert programs["killed_by_selected"] > programs["killed_by_seeds"]
    assert "wrong:no_lower.py" not in programs["never_killed"]
    assert "wrong:empty.py" not in programs["never_killed"]
    # Reduction keeps far fewer tests than were valid, each with its provenance.
    assert 0 < r["selected"] < r["kept_before_reduction"] / 4
    for t in result.tests:
        assert t.provenance["generator"] in g.GENERATORS
        assert t.provenance["seed"] == 0
        assert t.args[1] >= 0  # every kept input satisfies the contract
    # Inputs the contract rejects were proposed and dropped, with examples.
    assert r["dropped"]["invalid"] > 0
    assert r["dropped_examples"]["invalid"][0]["why"]


def test_the_same_seed_gives_the_same_suite(backend: Backend) -> None:
    a = synthesize(backend, problem(), SMALL)
    b = synthesize(backend, problem(), SMALL)
    assert [t.args for t in a.tests] == [t.args for t in b.tests]
    c = synthesize(backend, problem(), SynthOptions(
        seed=1, budget=SMALL.budget, mutants=SMALL.mutants, cover=1))
    assert [t.args for t in c.tests] != [t.args for t in a.tests]


def test_disagreeing_references_drop_the_input(backend: Backend) -> None:
    # A second "reference" that differs from the canonical one on negative values.
    alt = ("alt.py", NO_LOWER_CLAMP)
    result = synthesize(backend, problem(extra={"alternate_references": (alt,)}),
                        SynthOptions(generators=(), mutants=0),
                        extra=[Candidate(([-9], 3), {"generator": "test"}),
                               Candidate(([2, 2], 3), {"generator": "test"})])
    r = result.report
    assert r["dropped"]["references_disagree"] == 1
    assert "reference #2 gave" in r["dropped_examples"]["references_disagree"][0]["why"]
    assert r["kept_before_reduction"] == 1


def test_inputs_the_reference_fails_on_are_dropped(backend: Backend) -> None:
    result = synthesize(backend, problem(), SynthOptions(generators=(), mutants=0),
                        extra=[Candidate((["a", 1], 3), {"generator": "test"}),
                               Candidate(([1], 3), {"generator": "test"})])
    assert result.report["dropped"]["reference_failed"] == 1
    assert "TypeError" in result.report["dropped_examples"]["reference_failed"][0]["why"]
    assert result.report["kept_before_reduction"] == 1


def test_a_hanging_input_is_dropped_and_the_rest_kept(backend: Backend) -> None:
    slow = REFERENCE + "\n    # loops forever on a limit of 777\n"
    slow = slow.replace("    total = 0", "    while limit == 777:\n        pass\n    total = 0")
    result = synthesize(backend, problem(reference=slow),
                        SynthOptions(generators=(), mutants=0),
                        extra=[Candidate(([1], 777), {"generator": "test"}),
                               Candidate(([1], 5), {"generator": "test"})])
    assert result.report["dropped"]["reference_failed"] == 1
    assert result.report["kept_before_reduction"] == 1


def test_a_problem_without_reference_is_a_clear_error(backend: Backend) -> None:
    with pytest.raises(InputError, match="no reference solution"):
        synthesize(backend, problem(reference=" \n"), SMALL)


def test_a_reference_that_does_not_load(backend: Backend) -> None:
    with pytest.raises(ReferenceFailed, match="does not load"):
        synthesize(backend, problem(reference="def clamp_sum(:\n"), SMALL)


def test_a_broken_validator_is_a_clear_error(backend: Backend) -> None:
    with pytest.raises(InputError, match="validator does not load"):
        synthesize(backend, problem(validator="def validate(:\n"), SMALL)


def test_a_crashing_generator_is_reported_and_the_others_go_on(
        backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    real = g.generate

    def flaky(name: str, *args: object) -> list[Candidate]:
        if name == "hypothesis":
            raise RuntimeError("strategy exploded")
        return real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(g, "generate", flaky)
    result = synthesize(backend, problem(), SMALL)
    assert result.report["generators_failed"] == {"hypothesis": "RuntimeError: strategy exploded"}
    assert "hypothesis" not in result.report["proposed"]
    assert result.report["selected"] > 0


def test_a_budget_relative_to_the_existing_suite(backend: Backend) -> None:
    options = SynthOptions(budget=SMALL.budget, mutants=12, max_ratio=0.1)
    result = synthesize(backend, problem(), options, existing=60)
    assert result.report["budget"] == 3  # a tenth of 60 tests, less the 3 seeds
    assert len(result.tests) == 3
    unlimited = synthesize(backend, problem(), SynthOptions(budget=SMALL.budget, mutants=12))
    assert len(unlimited.tests) > 3
    assert result.report["programs"]["killed_by_selected"] <= \
        unlimited.report["programs"]["killed_by_selected"]


def test_suite_quality_reaches_every_suite_past_a_hopeless_one(backend: Backend) -> None:
    """A sample that times out on every input of one suite still meets the next suite's
    tests (each suite's own tests have their own restart budget)."""
    from codeeval.synth.quality import QualityOptions, problem_quality

    p = FunctionalProblem(task_id="t/ident", prompt="def f(x):\n", entry_point="f",
                          reference="def f(x):\n    return x\n",
                          suites={"base": ((1,),), "plus": ((1,), (2,), (3,), (4,), (5,))})
    hangs_then_wrong = ("def f(x):\n    if 2 <= x <= 5:\n        while True:\n"
                        "            pass\n    return -1 if x == 6 else x\n")
    suites = {"base": [(1,)], "plus": [(1,), (2,), (3,), (4,), (5,)], "synth": [(1,), (6,)]}
    report = problem_quality(backend, p, suites, [hangs_then_wrong],
                             QualityOptions(suites=("base", "plus", "synth"), truth="base",
                                            time_floor_s=0.2, max_restarts=1))
    synth = report["suites"]["synth"]["metrics"]
    # base accepts the sample (so it is labelled correct); synth's own test rejects it
    assert synth["correct"] == 2
    assert synth["falsely_rejected"] == 1
    assert synth["false_rejections"][0]["input"] == "(6,)"
    plus = report["suites"]["plus"]["metrics"]
    assert plus["falsely_rejected"] == 1  # the time-outs, on the inputs it reached


FIB = '''
def fib(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a
'''
# Right, but exponential: only a large n tells it apart, and no mutant is slow.
SLOW_FIB = '''
def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)
'''


def fib_problem() -> FunctionalProblem:
    return FunctionalProblem(task_id="t/fib", prompt="", entry_point="fib", reference=FIB,
                             suites={"base": ((1,), (5,), (10,), (12,))},
                             validator="def validate(n):\n    assert n >= 0\n",
                             known_wrong=(("slow.py", SLOW_FIB),))


def test_one_test_is_spent_on_the_heaviest_input(backend: Backend) -> None:
    """With room for one test, reduction picks the input the reference works hardest on,
    which is the one that exposes a right but exponential program."""
    options = SynthOptions(budget=SMALL.budget, mutants=12, max_tests=1)
    result = synthesize(backend, fib_problem(), options)
    [test] = result.tests
    assert result.report["kept_before_reduction"] > 1
    assert test.args[0] >= 1000, test  # a scaled input, not one of the small ones
    [slow] = run_inputs(backend, SLOW_FIB, "fib", [test.args], [1.0])
    assert slow.verdict in (Verdict.TLE, Verdict.RE)  # out of time, or of stack


def test_reduced_seeds_compete_and_the_cap_holds(backend: Backend) -> None:
    """With reduce_seeds the cap counts the whole suite: here 10% of 40 tests is 4, which
    the 4 seeds alone would fill, and the suite still gets its heaviest test."""
    options = SynthOptions(budget=SMALL.budget, mutants=12, max_ratio=0.1, reduce_seeds=True)
    result = synthesize(backend, fib_problem(), options, existing=40)
    assert result.report["budget"] == 4
    assert len(result.tests) == 4 == result.report["seeds_kept"] + result.report["selected"]
    assert max(t.args[0] for t in result.tests) >= 1000
    originals = [t for t in result.tests if t.provenance == {"generator": "original"}]
    assert len(originals) == result.report["seeds_kept"] < 4
    assert all(t.args in fib_problem().suites["base"] for t in originals)

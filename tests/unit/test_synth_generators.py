"""Shapes from hints and seeds; the LLM-free generators: seeded, typed, within bounds."""

from __future__ import annotations

import string

import pytest

from codeeval.synth import generators as g
from codeeval.synth.shapes import Shape, infer, of_value, signature

PROMPT = '''from typing import Dict, List, Optional, Tuple

def f(xs: List[int], name: str, scale: float, pair: Tuple[int, str],
      table: Dict[str, List[int]], maybe: Optional[int] = None) -> bool:
    """doc"""
'''
SEEDS = [([1, 2, 3], "abc", 1.5, (1, "x"), {"a": [1]}, None),
         ([0, 5], "zz", 0.0, (2, "y"), {}, 3)]


def test_signature_reads_type_hints():
    sig = signature(PROMPT, "f")
    assert sig is not None
    assert sig.names == ("xs", "name", "scale", "pair", "table", "maybe")
    kinds = [s.kinds for s in sig.shapes]
    assert kinds[:3] == [("list",), ("str",), ("float",)]
    assert sig.shapes[0].items is not None
    assert sig.shapes[0].items.kinds == ("int",)
    assert sig.shapes[3].fields is not None
    assert [f.kinds for f in sig.shapes[3].fields] == [("int",), ("str",)]
    assert sig.shapes[4].keys.kinds == ("str",)
    assert sig.shapes[4].values.kinds == ("list",)
    assert set(sig.shapes[5].kinds) == {"none", "int"}
    assert sig.returns.kinds == ("bool",)


def test_signature_of_missing_function_or_bad_source_is_none():
    assert signature(PROMPT, "g") is None
    assert signature("def (:", "f") is None


def test_seeds_give_structure_without_hints_and_domain_always():
    sig = infer("def f(a, b):\n    return a\n", "f", [([3, 9], "hello"), ([4], "aa")])
    a, b = sig.shapes
    assert a.kinds == ("list",)
    assert a.items is not None
    assert a.items.kinds == ("int",)
    assert (a.items.domain.lo, a.items.domain.hi) == (3, 9)
    assert (a.domain.min_len, a.domain.max_len) == (1, 2)
    assert b.kinds == ("str",)
    assert set(b.domain.alphabet) == set("heloa")


def test_float_hint_seeded_with_ints_admits_both():
    sig = infer("def f(x: float):\n    pass\n", "f", [(1,), (2.5,)])
    assert set(sig.shapes[0].kinds) == {"float", "int"}


def test_of_value_nested():
    s = of_value({"k": [(1, "a")]})
    assert s.kinds == ("dict",)
    assert s.keys.kinds == ("str",)
    inner = s.values.items
    assert inner.kinds == ("tuple",)
    assert [f.kinds for f in inner.fields] == [("int",), ("str",)]


@pytest.mark.parametrize("name", g.GENERATORS)
def test_generators_are_deterministic_and_name_their_provenance(name):
    sig = infer(PROMPT, "f", SEEDS)
    budget = g.Budget(hypothesis=30, mutation=60, boundary=40, scale=6)
    first = g.generate(name, sig, SEEDS, 7, budget)
    again = g.generate(name, sig, SEEDS, 7, budget)
    other = g.generate(name, sig, SEEDS, 8, budget)
    assert first, name
    assert [c.args for c in first] == [c.args for c in again]
    if name != "boundary":  # boundary values are the same for every seed unless sampled
        assert [c.args for c in first] != [c.args for c in other]
    for i, c in enumerate(first):
        assert c.provenance["generator"] == name
        assert c.provenance["seed"] == 7
        assert c.provenance["index"] == i
        assert len(c.args) == len(SEEDS[0])


def test_hypothesis_inputs_follow_shapes_and_size():
    sig = infer(PROMPT, "f", SEEDS)
    cands = g.generate("hypothesis", sig, SEEDS, 0, g.Budget(hypothesis=80, size=5))
    assert len(cands) == 80
    for c in cands:
        xs, name, scale, pair, table, maybe = c.args
        assert isinstance(xs, list)
        assert all(type(x) is int for x in xs)
        assert len(xs) <= 5
        # every seed was non-negative: mostly non-negative, a few negatives, within reach
        assert all(-20 <= x <= 20 for x in xs)
        assert isinstance(name, str)
        assert set(name) <= set(string.ascii_letters + " ")  # letters seen: both cases
    negatives = [x for c in cands for x in c.args[0] if x < 0]
    assert 0 < len(negatives) < sum(len(c.args[0]) for c in cands) / 2
    assert any(set(c.args[1]) & set(string.ascii_uppercase + " ") for c in cands)
    for c in cands:
        xs, name, scale, pair, table, maybe = c.args
        assert type(scale) in (int, float)
        assert isinstance(pair, tuple)
        assert type(pair[0]) is int
        assert isinstance(pair[1], str)
        assert (isinstance(table, dict) and maybe is None) or type(maybe) is int


def test_mutation_changes_one_argument_of_a_pool_member():
    seeds = [([1, 2, 3], "abc")]
    sig = infer("def f(xs, s):\n    pass\n", "f", seeds)
    cands = g.generate("mutation", sig, seeds, 3, g.Budget(mutation=200))
    assert len(cands) == 200
    ops = {c.provenance["op"].split(":")[1].split("-")[0] for c in cands}
    assert {"list", "str"} <= ops
    first = cands[0]
    assert first.provenance["parent"] == "seed:0"
    assert sum(a != b for a, b in zip(first.args, seeds[0], strict=True)) == 1
    # later inputs build on earlier mutants
    assert any(c.provenance["parent"].startswith("mutation:") for c in cands)


def test_boundary_values_include_edges():
    seeds = [([4, 1, 3], 7)]
    sig = infer("def f(xs: list, k: int):\n    pass\n", "f", seeds)
    values = {repr(c.args) for c in g.generate("boundary", sig, seeds, 0, g.Budget())}
    for expected in ([], [4], [4, 4], [1, 3, 4], [4, 3, 1]):
        assert repr((expected, 7)) in values
    for k in (0, 1, -1, 7, 8, 6):
        assert repr(([4, 1, 3], k)) in values


def test_scale_grows_collections_within_the_cap():
    seeds = [([1, 2, 3], "ab")]
    sig = infer("def f(xs, s):\n    pass\n", "f", seeds)
    cands = g.generate("scale", sig, seeds, 0, g.Budget(scale=10, scale_size=100))
    sizes = sorted(len(c.args[0]) for c in cands)
    assert sizes == [30, 97, 100]  # the largest step is to a prime size
    assert all(sorted(set(c.args[0])) == [1, 2, 3] for c in cands)
    assert max(len(c.args[1]) for c in cands) == 100


def test_unknown_generator_is_an_error():
    with pytest.raises(ValueError, match="unknown generator"):
        g.generate("nope", infer("def f(x):\n    pass\n", "f", [(1,)]), [(1,)], 0, g.Budget())


def test_shape_merge_keeps_alternatives():
    merged = of_value(1).merge(of_value("a"))
    assert merged.kinds == ("int", "str")
    assert Shape(()).is_any


def test_integers_stay_within_the_size_cap():
    seeds = [(5,), (17,)]
    sig = infer("def f(n: int):\n    pass\n", "f", seeds)
    cap = g.int_cap(seeds)
    assert cap == g.INT_FLOOR  # 1000 x 17 is below the floor
    budget = g.Budget(hypothesis=50, mutation=300, boundary=100, scale=20)
    for name in g.GENERATORS:
        assert all(abs(c.args[0]) <= cap for c in g.generate(name, sig, seeds, 0, budget))
    big = g.int_cap([(10**5,)])
    assert big == 10**8
    values = g.big_ints(big)
    assert max(values) == big
    primes = [v for v in values if v not in (big, 1 << (big.bit_length() - 1))]
    assert primes == [99_999_989, 99_991]  # the largest primes at and under a thousandth
    assert all(g._is_prime(p) for p in primes)
    assert not g._is_prime(99_999_991)


def test_no_bool_for_a_top_level_int_but_inside_lists():
    seeds = [([1, 2], 3)]
    sig = infer("def f(xs: list, k: int):\n    pass\n", "f", seeds)
    cands = g.generate("boundary", sig, seeds, 0, g.Budget())
    assert not any(isinstance(c.args[1], bool) for c in cands)
    assert any(any(isinstance(x, bool) for x in c.args[0]) for c in cands)


def test_other_empty_sequences_only_where_no_hint_fixes_the_type():
    unhinted = infer("def f(xs, s: str):\n    pass\n", "f", [([1, 2], "ab")])
    assert unhinted.hinted == (False, True)
    ops = {c.provenance["op"] for c in g.boundary(unhinted, [([1, 2], "ab")], seed=0,
                                                   count=1000)}
    assert "arg0:other-empty-str" in ops
    assert "arg0:other-empty-tuple" in ops
    assert not any(op.startswith("arg1:other-empty") for op in ops)
    hinted = infer("from typing import List\ndef f(xs: List[int], s: str):\n    pass\n", "f",
                   [([1, 2], "ab")])
    assert hinted.hinted == (True, True)
    ops = {c.provenance["op"] for c in g.boundary(hinted, [([1, 2], "ab")], seed=0,
                                                   count=1000)}
    assert not any("other-empty" in op for op in ops)
    assert "arg0:list-empty" in ops
    assert "arg1:str-empty" in ops

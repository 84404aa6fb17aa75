"""First-order mutants: each operator, scope, determinism, the limit and bad input."""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Callable
from typing import Any

import pytest

from codeeval.errors import InputError
from codeeval.synth.mutants import OPERATORS, Mutant, make_mutants


def _src(text: str) -> str:
    return textwrap.dedent(text).lstrip()


def _load(source: str, name: str) -> Callable[..., Any]:
    namespace: dict[str, Any] = {}
    exec(compile(source, "<mutant>", "exec"), namespace)
    return namespace[name]  # type: ignore[no-any-return]


def _one(mutants: list[Mutant], operator: str, description: str) -> Mutant:
    found = [m for m in mutants if m.operator == operator and m.description == description]
    assert len(found) == 1, [(m.operator, m.description) for m in mutants]
    return found[0]


def _descriptions(mutants: list[Mutant], operator: str) -> set[str]:
    return {m.description for m in mutants if m.operator == operator}


BELOW_ZERO = _src('''
    from typing import List


    def below_zero(operations: List[int]) -> bool:
        """ You're given a list of deposit and withdrawal operations on a bank account.
        >>> below_zero([1, 2, -4, 5])
        True
        """
        balance = 0

        for op in operations:
            balance += op
            if balance < 0:
                return True

        return False
''')


def test_ror_boundary_changes_behaviour() -> None:
    src = "def is_adult(age):\n    return age >= 18\n"
    mutants = make_mutants(src)
    assert {"'>=' -> '>'", "'>=' -> '<='"} <= _descriptions(mutants, "ROR")
    mutant = _one(mutants, "ROR", "'>=' -> '>'")
    assert mutant.line == 2
    assert _load(src, "is_adult")(18) is True
    assert _load(mutant.source, "is_adult")(18) is False


def test_ror_membership_and_identity() -> None:
    src = "def f(x, xs):\n    return x in xs and x is not None\n"
    mutants = make_mutants(src)
    assert {"'in' -> 'not in'", "'is not' -> 'is'"} <= _descriptions(mutants, "ROR")
    mutant = _one(mutants, "ROR", "'in' -> 'not in'")
    assert _load(mutant.source, "f")(1, [1]) is False


def test_aor_in_expressions_and_augmented_assignments() -> None:
    src = _src("""
        def area(w, h):
            return w * h

        def total(xs):
            t = 0
            for x in xs:
                t += x
            return t
    """)
    mutants = make_mutants(src)
    assert {"'*' -> '/'", "'*' -> '+'", "'+=' -> '-='"} <= _descriptions(mutants, "AOR")
    assert _load(_one(mutants, "AOR", "'*' -> '/'").source, "area")(6, 3) == 2.0
    assert _load(_one(mutants, "AOR", "'+=' -> '-='").source, "total")([1, 2]) == -3


def test_cor_swaps_and_or() -> None:
    src = "def both(a, b):\n    return a and b\n"
    mutant = _one(make_mutants(src), "COR", "'and' -> 'or'")
    assert _load(src, "both")(True, False) is False
    assert _load(mutant.source, "both")(True, False) is True


def test_neg_removes_and_inserts_not() -> None:
    src = _src("""
        def pick(xs, flag):
            if not flag:
                return [x for x in xs if x > 0]
            return xs
    """)
    mutants = make_mutants(src)
    negations = _descriptions(mutants, "NEG")
    assert "'not flag' -> 'flag'" in negations
    assert "'x > 0' -> 'not x > 0'" in negations
    assert not any("not not" in m.source for m in mutants)  # no double negation
    removed = _one(mutants, "NEG", "'not flag' -> 'flag'")
    assert _load(removed.source, "pick")([1, -1], False) == [1, -1]
    filtered = _one(mutants, "NEG", "'x > 0' -> 'not x > 0'")
    assert _load(filtered.source, "pick")([1, -1], False) == [-1]


def test_neg_inserts_not_into_if_and_while() -> None:
    src = _src("""
        def count(n):
            k = 0
            while k < n:
                k += 1
            return k
    """)
    mutant = _one(make_mutants(src), "NEG", "'k < n' -> 'not k < n'")
    assert _load(mutant.source, "count")(3) == 0


def test_idx_shifts_indices_and_slice_bounds() -> None:
    src = _src("""
        def last(xs):
            return xs[-1]

        def head(xs, n):
            return xs[:n]

        def prev(xs, i):
            return xs[i - 1]
    """)
    mutants = make_mutants(src)
    idx = _descriptions(mutants, "IDX")
    assert {"'xs[-1]' -> 'xs[0]'", "'xs[-1]' -> 'xs[-2]'"} <= idx
    assert {"'xs[:n]' -> 'xs[:n + 1]'", "'xs[:n]' -> 'xs[:n - 1]'"} <= idx
    assert {"'xs[i - 1]' -> 'xs[i]'", "'xs[i - 1]' -> 'xs[i - 2]'"} <= idx  # offsets fold
    assert _load(_one(mutants, "IDX", "'xs[-1]' -> 'xs[-2]'").source, "last")([1, 2, 3]) == 2
    shorter = _one(mutants, "IDX", "'xs[:n]' -> 'xs[:n - 1]'")
    assert _load(shorter.source, "head")([1, 2, 3], 2) == [1]


def test_rng_moves_range_bounds() -> None:
    src = _src("""
        def total(n):
            return sum(range(1, n))

        def squares(n):
            return [i * i for i in range(n)]
    """)
    mutants = make_mutants(src)
    rng = _descriptions(mutants, "RNG")
    assert {"'range(1, n)' -> 'range(1, n + 1)'", "'range(1, n)' -> 'range(2, n)'",
            "'range(n)' -> 'range(1, n)'", "'range(n)' -> 'range(n + 1)'"} <= rng
    inclusive = _one(mutants, "RNG", "'range(1, n)' -> 'range(1, n + 1)'")
    assert _load(src, "total")(4) == 6
    assert _load(inclusive.source, "total")(4) == 10
    assert _load(_one(mutants, "RNG", "'range(n)' -> 'range(1, n)'").source, "squares")(3) == [1, 4]


def test_bsr_swaps_builtins_and_sort_order() -> None:
    src = _src("""
        def spread(xs):
            return min(xs), any(x > 2 for x in xs), sorted(xs), sorted(xs, reverse=True)
    """)
    mutants = make_mutants(src)
    bsr = _descriptions(mutants, "BSR")
    assert {"'min' -> 'max'", "'any' -> 'all'"} <= bsr
    assert "'sorted(xs)' -> 'sorted(xs, reverse=True)'" in bsr
    assert "'sorted(xs, reverse=True)' -> 'sorted(xs, reverse=False)'" in bsr
    assert _load(_one(mutants, "BSR", "'min' -> 'max'").source, "spread")([3, 1])[0] == 3
    flipped = _one(mutants, "BSR", "'sorted(xs)' -> 'sorted(xs, reverse=True)'")
    assert _load(flipped.source, "spread")([1, 3])[2] == [3, 1]


def test_bcr_and_sdl_on_loop_control() -> None:
    src = _src("""
        def first_even(xs):
            found = None
            for x in xs:
                if x % 2 == 0:
                    found = x
                    break
            return found
    """)
    mutants = make_mutants(src)
    to_continue = _one(mutants, "BCR", "'break' -> 'continue'")
    assert _load(src, "first_even")([1, 2, 4]) == 2
    assert _load(to_continue.source, "first_even")([1, 2, 4]) == 4
    deleted = _one(mutants, "SDL", "delete 'found = x'")
    assert _load(deleted.source, "first_even")([1, 2, 4]) is None
    assert "delete 'break'" in _descriptions(mutants, "SDL")


def test_sdl_replaces_an_only_statement_with_pass() -> None:
    src = "def log(items, x):\n    items.append(x)\n"
    mutant = _one(make_mutants(src), "SDL", "delete 'items.append(x)'")
    assert "pass" in mutant.source
    items: list[int] = []
    _load(mutant.source, "log")(items, 1)
    assert items == []


def test_uoi_removes_and_inserts_unary_minus() -> None:
    src = "def scale(a, b):\n    return -a + a * b\n"
    mutants = make_mutants(src)
    uoi = _descriptions(mutants, "UOI")
    assert "'-a' -> 'a'" in uoi
    assert "'a * b' -> '-a * b'" in uoi
    assert _load(_one(mutants, "UOI", "'-a' -> 'a'").source, "scale")(2, 3) == 8


def test_crp_replaces_constants() -> None:
    src = _src("""
        def consts():
            return 5, 0, 2.5, True, "sep", ""
    """)
    crp = _descriptions(make_mutants(src), "CRP")
    assert {"5 -> 6", "5 -> 4", "5 -> 0", "5 -> 1"} <= crp
    assert {"0 -> 1", "0 -> -1"} <= crp
    assert {"2.5 -> 3.5", "2.5 -> 1.5", "2.5 -> 0.0"} <= crp
    assert "True -> False" in crp
    assert "'sep' -> ''" in crp
    assert not any(d.startswith("'' ->") for d in crp)  # an empty string stays


def test_crp_negative_result_keeps_precedence() -> None:
    src = "def f(x):\n    return x ** 0\n"
    mutant = _one(make_mutants(src), "CRP", "0 -> -1")
    assert _load(mutant.source, "f")(2) == 0.5


def test_docstrings_and_fstring_literals_are_untouched() -> None:
    src = _src('''
        def greet(name):
            """Say hello 3 times."""
            return f"hello {name}!"
    ''')
    mutants = make_mutants(src)
    assert all('"""Say hello 3 times."""' in m.source for m in mutants)
    assert all("hello {" in m.source and "}!" in m.source for m in mutants)
    assert not any(m.line == 2 for m in mutants)


def test_only_code_inside_functions_is_mutated() -> None:
    src = _src("""
        import math
        LIMIT = 10
        THRESHOLD: float = 0.5

        def clip(x: int = 3) -> int:
            return min(x, LIMIT)
    """)
    mutants = make_mutants(src)
    assert mutants
    assert {m.line for m in mutants} == {6}
    for m in mutants:
        assert "LIMIT = 10" in m.source
        assert "THRESHOLD: float = 0.5" in m.source
        assert "def clip(x: int=3) -> int:" in m.source


def test_functions_selects_definitions_and_their_helpers() -> None:
    src = _src("""
        def outer(xs):
            def helper(x):
                return x + 1
            return [helper(x) for x in xs if x > 0]

        def other(y):
            return y * 2
    """)
    everything = make_mutants(src)
    chosen = make_mutants(src, functions=["outer"])
    assert {m.line for m in everything} >= {3, 4, 7}
    assert {m.line for m in chosen} >= {3, 4}
    assert all(m.line <= 4 for m in chosen)
    only_helper = make_mutants(src, functions={"helper"})
    assert {m.line for m in only_helper} == {3}
    with pytest.raises(InputError, match="missing"):
        make_mutants(src, functions=["outer", "missing"])
    with pytest.raises(InputError):
        make_mutants(src, functions="outer")


def test_methods_are_functions() -> None:
    src = "class Box:\n    def size(self):\n        return 1 + 1\n"
    mutants = make_mutants(src, functions=["size"])
    assert _descriptions(mutants, "AOR") == {"'+' -> '-'"}


def test_every_mutant_compiles_and_is_distinct() -> None:
    mutants = make_mutants(BELOW_ZERO)
    original = ast.unparse(ast.parse(BELOW_ZERO))
    sources = [m.source for m in mutants]
    assert len(set(sources)) == len(sources)
    assert original not in sources
    assert len({m.id for m in mutants}) == len(mutants)
    for m in mutants:
        compile(m.source, "<mutant>", "exec")
        assert m.operator in OPERATORS
        assert m.id.startswith(f"{m.operator}@{m.line}:")


def test_mutants_that_would_not_compile_are_dropped() -> None:
    src = _src("""
        def counter():
            n = 0
            def bump():
                nonlocal n
                n += 1
            bump()
            return n
    """)
    mutants = make_mutants(src)
    # Deleting `n = 0` leaves `nonlocal n` without a binding: a SyntaxError, so no such mutant.
    assert "delete 'n = 0'" not in _descriptions(mutants, "SDL")
    assert "delete 'n += 1'" in _descriptions(mutants, "SDL")


def test_realistic_reference_yields_many_operators() -> None:
    mutants = make_mutants(BELOW_ZERO)
    assert len(mutants) >= 10
    assert len({m.operator for m in mutants}) >= 4
    boundary = _one(mutants, "ROR", "'<' -> '<='")
    assert _load(BELOW_ZERO, "below_zero")([1, -1]) is False
    assert _load(boundary.source, "below_zero")([1, -1]) is True
    assert all('""" You\'re given' in m.source for m in mutants)


def test_deterministic() -> None:
    assert make_mutants(BELOW_ZERO) == make_mutants(BELOW_ZERO)
    assert make_mutants(BELOW_ZERO, limit=5, seed=3) == make_mutants(BELOW_ZERO, limit=5, seed=3)


def test_limit_spreads_over_operators_and_keeps_ids() -> None:
    everything = make_mutants(BELOW_ZERO)
    operators = {m.operator for m in everything}
    by_id = {m.id: m for m in everything}
    subsets = set()
    for seed in range(8):
        chosen = make_mutants(BELOW_ZERO, limit=len(operators), seed=seed)
        assert len(chosen) == len(operators)
        assert {m.operator for m in chosen} == operators  # one per operator first
        assert all(by_id[m.id] == m for m in chosen)  # a subset, with the same ids
        assert [m.id for m in chosen] == [m.id for m in everything if m in chosen]
        subsets.add(tuple(m.id for m in chosen))
    assert len(subsets) > 1  # the seed matters
    assert make_mutants(BELOW_ZERO, limit=len(everything) + 5) == everything
    assert make_mutants(BELOW_ZERO, limit=0) == []


def test_limit_spreads_over_lines_within_an_operator() -> None:
    src = _src("""
        def f(a, b, c):
            x = 10 + 20 + 30
            y = 40
            z = 50
            return x + y + z
    """)
    everything = make_mutants(src)
    assert sorted(m.line for m in everything if m.operator == "CRP") == [2] * 10 + [3] * 4 + [4] * 4
    assert {m.operator for m in everything} == {"AOR", "UOI", "CRP", "SDL"}
    for seed in range(10):
        # Round-robin over AOR, UOI (one mutant), CRP, SDL gives CRP three of nine places;
        # interleaving lines puts them on three different lines although line 2 has 10 of 18.
        chosen = make_mutants(src, limit=9, seed=seed)
        assert sorted(m.line for m in chosen if m.operator == "CRP") == [2, 3, 4]


def test_compiler_warnings_in_the_reference_are_not_errors() -> None:
    # "\d" is an invalid escape, which warns at compile time; pytest makes warnings errors here.
    src = 'import re\n\ndef second(s):\n    return re.findall("\\d+", s)[1]\n'
    assert "\\d+" in src
    mutants = make_mutants(src)
    next_one = [m for m in mutants if m.operator == "IDX" and m.description.endswith("[2]'")]
    assert len(next_one) == 1
    assert _load(next_one[0].source, "second")("a1b22c333") == "333"


def test_bad_input() -> None:
    with pytest.raises(InputError, match="line 2"):
        make_mutants("def f():\n    x = = 1\n")
    with pytest.raises(InputError, match="line 3"):
        make_mutants("def f():\n    pass\nbreak\n")
    with pytest.raises(InputError):
        make_mutants(BELOW_ZERO, limit=-1)
    assert make_mutants("X = 1 + 2\nprint(X)\n") == []
    assert make_mutants("") == []


def test_guard_removal_and_condition_operand_deletion_model_forgotten_checks():
    source = (
        "def valid(date):\n"
        "    if len(date) != 10:\n"
        "        return False\n"
        "    m = int(date[:2])\n"
        "    if m < 1 or m > 12:\n"
        "        return False\n"
        "    return True\n"
    )
    mutants = {m.description: m for m in make_mutants(source)}
    guard = mutants["remove the guard 'if len(date) != 10: ...'"]
    assert guard.operator == "GRD"
    ns: dict[str, object] = {}
    exec(guard.source, ns)
    assert ns["valid"]("06-04-202") is True  # the forgotten length check lets it through
    drop = mutants["drop 'm < 1' from 'm < 1 or m > 12'"]
    assert drop.operator == "COD"
    ns = {}
    exec(drop.source, ns)
    assert ns["valid"]("00-04-2020") is True  # month 0 is no longer rejected
    assert "drop 'm > 12' from 'm < 1 or m > 12'" in mutants

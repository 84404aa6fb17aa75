"""Input and output features of a test: the category-partition side of suite reduction.

Mutants measure what a test *detects*; features describe what a test *is*: for each
argument and for the reference's answer, its type, sign and magnitude, its length class,
whether it is empty, sorted, reverse-sorted or has duplicates, which kinds of characters
a string holds, which types its elements have. Wrong programs written by people and models
fail on classes of inputs (empty lists, negative numbers, booleans where integers go,
strings with spaces or capitals, very large numbers) more than on particular values, so a
reduced suite keeps at least one test of every class the whole set reaches.

Boundary values are classes of their own: every edge case the boundary generator made
(``edge:arg0:str-space-inside``) that survived validation keeps a test.

Features are plain strings such as ``in0:len=2-5`` or ``out:sign=neg``; they are
requirements for :func:`codeeval.synth.reduce.greedy_cover` like killed mutants are.

Size is a class too, of a different kind: a program that is right but needlessly slow
(exponential recursion, trial division up to n, a cubic loop) fails only on the inputs on
which a right program has the most to do, and no mutant of the reference models that. So
the test on which the reference does the most work (:data:`STRESS`) is a requirement that
outweighs all others, and the test with the largest value of each argument is one of the
ordinary kind (``stress:in0``).
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping, Sequence
from typing import Any

_PUNCT = set(string.punctuation)
#: The requirement the heaviest test meets ...
STRESS = "stress"
#: ... and its weight in reduction: more than every other requirement together, so that a
#: budget of one test spends it there.
STRESS_WEIGHT = 1e6


def _length(n: int) -> str:
    for bound, name in ((0, "0"), (1, "1"), (5, "2-5"), (20, "6-20"), (100, "21-100")):
        if n <= bound:
            return name
    return ">100"


def _magnitude(x: float) -> str:
    a = abs(x)
    for bound, name in ((1, "<=1"), (10, "<=10"), (1000, "<=1e3"), (10**6, "<=1e6"),
                        (2**31, "<=2^31")):
        if a <= bound:
            return name
    return "huge"


def value_features(v: Any, depth: int = 0) -> set[str]:
    """The features of one value (elements of collections add ``item:`` features)."""
    if depth > 2:
        return set()
    out = {f"type={type(v).__name__}"}
    if isinstance(v, bool):
        out.add(f"bool={v}")
    elif isinstance(v, int):
        sign = "neg" if v < 0 else "zero" if v == 0 else "pos"
        parity = "even" if v % 2 == 0 else "odd"
        out |= {f"sign={sign}", f"mag={_magnitude(v)}", f"parity={parity}",
                f"sign-parity={sign}-{parity}"}
    elif isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            out.add("float=special")
        else:
            sign = "neg" if v < 0 else "zero" if v == 0 else "pos"
            out |= {f"sign={sign}", f"mag={_magnitude(v)}",
                    "float=integral" if v.is_integer() else "float=fraction"}
            if v.is_integer():  # a whole float behaves like an int in many programs
                out.add(f"float-int={sign}-{'even' if v % 2 == 0 else 'odd'}")
            elif round(v, 2) != v:  # more precision than two decimals (rounding bugs)
                out.add("float=fine")
            if v != 0 and abs(v) < 1e-6:
                out.add("float=tiny")
    elif isinstance(v, str):
        out.add(f"len={_length(len(v))}")
        for name, test in (("lower", str.islower), ("upper", str.isupper),
                           ("digit", str.isdigit), ("space", str.isspace)):
            if any(test(c) for c in v):
                out.add(f"has={name}")
        if any(c in _PUNCT for c in v):
            out.add("has=punct")
        if any(ord(c) > 127 for c in v):
            out.add("has=non-ascii")
        if len(v) > 1 and v == v[::-1]:
            out.add("palindrome")
    elif isinstance(v, list | tuple | set | frozenset | dict):
        items = list(v.values()) if isinstance(v, dict) else list(v)
        out.add(f"len={_length(len(items))}")
        if isinstance(v, list | tuple) and len(items) > 1:
            try:
                if all(items[i] <= items[i + 1] for i in range(len(items) - 1)):
                    out.add("sorted")
                elif all(items[i] >= items[i + 1] for i in range(len(items) - 1)):
                    out.add("sorted-desc")
            except TypeError:
                out.add("unorderable")
            try:
                if len(set(items)) < len(items):
                    out.add("duplicates")
            except TypeError:
                pass
        for item in items[:50]:
            out |= {f"item:{f}" for f in value_features(item, depth + 1)
                    if not f.startswith("item:")}
        if isinstance(v, dict):
            for key in list(v)[:50]:
                out |= {f"key:{f}" for f in value_features(key, depth + 1)
                        if f.startswith("type=")}
    return out


def features_of(args: Sequence[Any], output: Any) -> set[str]:
    """The requirements one test meets: each argument's features and the answer's."""
    out = {f"out:{f}" for f in value_features(output)}
    for j, a in enumerate(args):
        out |= {f"in{j}:{f}" for f in value_features(a)}
    return out


def edge_class(provenance: Mapping[str, Any]) -> set[str]:
    """The edge case a boundary-generated test stands for (one argument's edge; pairs of
    edges are not classes of their own), as a requirement; empty for other tests."""
    op = provenance.get("op")
    if provenance.get("generator") != "boundary" or not isinstance(op, str) or "," in op:
        return set()
    return {f"edge:{op}"}


def alone(kills: Sequence[set[str]]) -> list[set[str]]:
    """For each test, ``alone:NAME`` when it kills exactly one program: a test that checks
    one condition in isolation, which tests that kill many at once do not replace."""
    return [{f"alone:{next(iter(k))}"} if len(k) == 1 else set() for k in kills]


def magnitude(v: Any, depth: int = 0) -> float:
    """How large a value is, to find an argument's largest value: a number's absolute value,
    a string's length, a collection's items counted at every level (numbers in it count
    one each, not their values)."""
    if v is None or isinstance(v, bool):
        return 0.0
    if isinstance(v, int):
        return 2.0 ** 1000 if v.bit_length() > 1000 else float(abs(v))
    if isinstance(v, float | complex):
        a = abs(v)
        return a if math.isfinite(a) else 0.0
    if isinstance(v, str | bytes):
        return float(len(v))
    if isinstance(v, list | tuple | set | frozenset | dict):
        items = list(v.values()) if isinstance(v, dict) else list(v)
        inner = 0.0
        if depth < 3:
            inner = sum(magnitude(x, depth + 1) for x in items
                        if isinstance(x, str | bytes | list | tuple | set | frozenset | dict))
        return float(len(items)) + inner
    return 0.0


def stress(tests: Sequence[Sequence[Any]], work: Sequence[float]) -> list[set[str]]:
    """For each test, the size requirements it meets: :data:`STRESS` for the one the
    reference worked hardest on (``work``: its count of executed lines; ties go to the
    larger input, then the earlier test), ``stress:inJ`` for the one with argument J's
    largest value (ties go to the earlier test)."""
    out: list[set[str]] = [set() for _ in tests]
    if not tests:
        return out
    sizes = [[magnitude(a) for a in args] for args in tests]
    heaviest = max(range(len(tests)), key=lambda i: (work[i], sum(sizes[i]), -i))
    out[heaviest].add(STRESS)
    arity = max(len(s) for s in sizes)
    for j in range(arity):
        having = [i for i in range(len(tests)) if len(sizes[i]) > j]
        largest = max(having, key=lambda i: (sizes[i][j], -i))
        if sizes[largest][j] > 0:
            out[largest].add(f"stress:in{j}")
    return out

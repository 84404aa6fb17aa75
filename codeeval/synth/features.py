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
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping, Sequence
from typing import Any

_PUNCT = set(string.punctuation)


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

"""Special oracles: problems where "equal to the reference's output" is the wrong test.

Each oracle gets the call's arguments, the program's output and the reference's output
and says whether the output is right. They are chosen per problem by the dataset loader
(data, never a name check in the harness). Each accepts everything plain equality accepts,
except where noted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from codeeval.grading.compare import outputs_match

Oracle = Callable[[Sequence[Any], Any, Any, float], bool]


def poly_root(args: Sequence[Any], out: Any, exp: Any, atol: float) -> bool:
    """HumanEval/32: ``out`` is a root of the polynomial ``args[0]`` within ``atol``.

    The polynomial is evaluated with a left-to-right float sum of ``c * x**i`` terms, the
    same arithmetic as EvalPlus, so borderline roots get the same verdict. The reference's
    root is not consulted: any root is right.
    """
    del exp
    if type(out) not in (float, int) or not args or not isinstance(args[0], list):
        return False
    try:
        value = sum([c * math.pow(out, i) for i, c in enumerate(args[0])])
    except (OverflowError, ValueError, TypeError):
        return False
    return bool(abs(value) <= (atol or 1e-4))


def set_equal(args: Sequence[Any], out: Any, exp: Any, atol: float) -> bool:
    """The output has the same elements as the reference's, in any order or container."""
    if outputs_match(out, exp, atol):
        return True
    try:
        return isinstance(out, list | tuple | set | frozenset) and set(out) == set(exp)
    except TypeError:
        return False


def bool_or_not_none(args: Sequence[Any], out: Any, exp: Any, atol: float) -> bool:
    """Regex tasks whose reference returns a match object or ``None``: what counts is whether
    there was a match. The expected answer is ``reference output is not None``; a bool
    output must equal it, any other output counts as "a match" when it is not ``None``."""
    expected = exp is not None
    if type(out) is bool:
        return out is expected
    return (out is not None) is expected


def any_return(args: Sequence[Any], out: Any, exp: Any, atol: float) -> bool:
    """Any returned value is accepted (the release's reference for the task is unreliable)."""
    return True


def equal_or_zero(args: Sequence[Any], out: Any, exp: Any, atol: float) -> bool:
    """Equal to the reference, or 0 (an accepted reading of the task)."""
    return outputs_match(out, exp, atol) or (type(out) is int and out == 0)


def digit_distance(args: Sequence[Any], out: Any, exp: Any, atol: float) -> bool:
    """Equal to the reference, or to the digit distance with the shorter number zero-padded."""
    if outputs_match(out, exp, atol):
        return True
    try:
        a, b = str(args[0]), str(args[1])
        width = max(len(a), len(b))
        padded = sum(abs(int(x) - int(y)) for x, y in zip(a.zfill(width), b.zfill(width),
                                                           strict=True))
    except (ValueError, IndexError, TypeError):
        return False
    return type(out) is int and out == padded


def surface_area(args: Sequence[Any], out: Any, exp: Any, atol: float) -> bool:
    """Equal to the reference, or to the pyramid's area with ``height`` read as the height
    of the apex (not the slant height), rounded."""
    if outputs_match(out, exp, atol):
        return True
    try:
        edge, height = float(args[0]), float(args[1])
        slant = math.sqrt((edge / 2) ** 2 + height ** 2)
        alternative = round(edge ** 2 + 2 * edge * slant)
    except (ValueError, IndexError, TypeError, OverflowError):
        return False
    return type(out) in (int, float) and abs(out - alternative) <= atol


def json_equal(args: Sequence[Any], out: Any, exp: Any, atol: float) -> bool:
    """For expected outputs written as JSON (inline tests of the reward server): JSON has
    no tuples and one number type, so tuples compare as lists and numbers by value
    (``1`` equals ``1.0``; as everywhere, ``bool`` compares with ``int`` as an integer).
    Everything else follows the strict rules of :mod:`codeeval.grading.compare`."""
    return outputs_match(_as_json(out), exp, atol, strict=False)


def _as_json(value: Any, depth: int = 0) -> Any:
    """``value`` with tuples turned into lists, recursively, as JSON would carry it."""
    if depth > 1000:
        return value
    if type(value) in (list, tuple):
        return [_as_json(v, depth + 1) for v in value]
    if type(value) is dict:
        return {k: _as_json(v, depth + 1) for k, v in value.items()}
    return value


ORACLES: dict[str, Oracle] = {
    "json_equal": json_equal,
    "poly_root": poly_root,
    "set_equal": set_equal,
    "bool_or_not_none": bool_or_not_none,
    "any_return": any_return,
    "equal_or_zero": equal_or_zero,
    "digit_distance": digit_distance,
    "surface_area": surface_area,
}

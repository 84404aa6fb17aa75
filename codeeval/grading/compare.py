"""Compare a program's output with the expected one: strict types, numeric tolerance.

Semantics (``strict``, the default):

* types must match exactly, recursively: ``1`` is not ``1.0``, a list is not a tuple, a
  set is not a frozenset; :class:`~codeeval.harness.values.Opaque` values match nothing.
  The one exception is ``bool`` against ``int``, which compare as integers: ``bool`` is a
  subtype of ``int`` in Python, and references computed on boolean inputs return bools
  where an integer is just as right (HumanEval/114 returns ``False`` for
  ``[True, True, True, False, True, True]``; ``0`` is correct too);
* floats (and the parts of complex numbers) match within ``atol + 1e-7 * |expected|``
  when there is a tolerance, exactly otherwise; ``NaN`` matches ``NaN`` and infinities
  match themselves;
* when the dataset gives no tolerance (``atol == 0``) and the expected value is a float or
  a flat list/tuple of floats, ``atol = 1e-6``, as EvalPlus does; otherwise floats nested in
  structures must be equal;
* containers match element by element (sets and dict keys by equality of their members);
* a large result (1 MiB of encoded text or more) of a problem compared exactly (no
  tolerance, no special oracle) travels as a :class:`~codeeval.harness.values.Digest` of
  its canonical encoding, and matches when the digests are equal: the same rules as above
  except that ``bool`` and ``int`` do not mix inside it.

``lax`` follows Python's ``==`` between numbers of different types (``1 == 1.0``), as the
original HumanEval checks and EvalPlus do; it exists to measure how verdicts differ, not
as a recommendation.
"""

from __future__ import annotations

import math
from typing import Any

from codeeval.harness.values import SCALAR_TYPES, Digest, Opaque

RTOL = 1e-7
DEFAULT_FLOAT_ATOL = 1e-6


def effective_atol(expected: Any, atol: float) -> float:
    """The tolerance to use for ``expected`` given the dataset's ``atol``."""
    if atol:
        return atol
    if type(expected) is float:
        return DEFAULT_FLOAT_ATOL
    if type(expected) in (list, tuple) and expected and all(type(x) is float for x in expected):
        return DEFAULT_FLOAT_ATOL
    return 0.0


def outputs_match(out: Any, expected: Any, atol: float = 0.0, *, strict: bool = True) -> bool:
    """Whether ``out`` matches ``expected`` (see the module docstring for the rules)."""
    return _match(out, expected, effective_atol(expected, atol), strict, 0)


def _close(a: float, b: float, atol: float) -> bool:
    if a == b:
        return True
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b) or atol == 0:
        return False  # no tolerance at all: exact (EvalPlus applies rtol only with an atol)
    return abs(a - b) <= atol + RTOL * abs(b)


def _match(out: Any, exp: Any, atol: float, strict: bool, depth: int) -> bool:
    if depth > 1000 or isinstance(out, Opaque) or isinstance(exp, Opaque):
        return False
    if isinstance(exp, Digest) or isinstance(out, Digest):
        return bool(out == exp)  # large values: the same canonical text, or not
    to, te = type(out), type(exp)
    if not strict and to in (bool, int, float) and te in (bool, int, float):
        if te is float or to is float:
            return _close(float(out), float(exp), atol)
        return bool(out == exp)
    if to is not te:
        if to in (bool, int) and te in (bool, int):
            return int(out) == int(exp)
        return False
    if te is float:
        return _close(out, exp, atol)
    if te is complex:
        return _close(out.real, exp.real, atol) and _close(out.imag, exp.imag, atol)
    if te in (list, tuple):
        # Fast path, at C speed: scalar elements of the very same types, all equal.
        if (len(out) == len(exp) and set(map(type, exp)) <= SCALAR_TYPES
                and list(map(type, out)) == list(map(type, exp)) and out == exp):
            return True
        return len(out) == len(exp) and all(
            _match(o, e, atol, strict, depth + 1) for o, e in zip(out, exp, strict=True))
    if te is dict:
        return out.keys() == exp.keys() and all(
            _match(out[k], exp[k], atol, strict, depth + 1) for k in exp)
    return bool(out == exp)

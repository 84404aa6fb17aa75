"""Output checkers for stdin/stdout problems: pure functions of (output, expected answer).

=========  ==========================================================================
``exact``  the bytes are identical
``lines``  line by line, ignoring trailing whitespace on each line and trailing blank
           lines, and ``\\r\\n`` vs ``\\n`` (the default: what most judges call exact)
``tokens`` the whitespace-separated tokens are identical
``float``  as ``tokens``, but two tokens that both parse as finite decimal numbers are
           equal within ``abs_tol`` or ``rel_tol`` (a NaN or infinity must match exactly)
=========  ==========================================================================

A checker returns ``None`` when the output is accepted and otherwise a one-line reason
naming the first difference. Custom checkers are programs, run by the harness in a
sandbox of their own (:mod:`codeeval.harness.stdio`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

Checker = Callable[[bytes, bytes, float, float], "str | None"]
_NUMBER = re.compile(rb"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\Z")


def _show(token: bytes, limit: int = 60) -> str:
    text = token.decode("utf-8", "replace")
    return repr(text if len(text) <= limit else text[:limit] + "...")


def exact(out: bytes, ans: bytes, abs_tol: float = 0, rel_tol: float = 0) -> str | None:
    """Byte-for-byte equality."""
    if out == ans:
        return None
    at = next((i for i, (a, b) in enumerate(zip(out, ans, strict=False)) if a != b),
              min(len(out), len(ans)))
    return f"output differs at byte {at} (output {len(out)} bytes, answer {len(ans)})"


def _lines(data: bytes) -> list[bytes]:
    lines = [line.rstrip() for line in data.replace(b"\r\n", b"\n").split(b"\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def lines(out: bytes, ans: bytes, abs_tol: float = 0, rel_tol: float = 0) -> str | None:
    """Line-by-line equality, trailing whitespace and trailing blank lines ignored."""
    got, want = _lines(out), _lines(ans)
    for n, (g, w) in enumerate(zip(got, want, strict=False), 1):
        if g != w:
            return f"line {n}: expected {_show(w)}, got {_show(g)}"
    if len(got) != len(want):
        return f"expected {len(want)} lines, got {len(got)}"
    return None


def tokens(out: bytes, ans: bytes, abs_tol: float = 0, rel_tol: float = 0) -> str | None:
    """Equality of the whitespace-separated tokens."""
    return _tokens(out, ans, None)


def floats(out: bytes, ans: bytes, abs_tol: float = 1e-6, rel_tol: float = 1e-6
           ) -> str | None:
    """Token equality, numbers compared within ``abs_tol`` or ``rel_tol``."""
    return _tokens(out, ans, (abs_tol, rel_tol))


def _tokens(out: bytes, ans: bytes, tol: tuple[float, float] | None) -> str | None:
    got, want = out.split(), ans.split()
    for n, (g, w) in enumerate(zip(got, want, strict=False), 1):
        if g == w:
            continue
        if tol is not None and _NUMBER.match(g) and _NUMBER.match(w):
            x, y = float(g), float(w)
            if math.isfinite(x) and math.isfinite(y) and math.isclose(
                    x, y, rel_tol=tol[1], abs_tol=tol[0]):
                continue
        return f"token {n}: expected {_show(w)}, got {_show(g)}"
    if len(got) != len(want):
        return f"expected {len(want)} tokens, got {len(got)}"
    return None


#: The built-in checkers by name.
CHECKERS: dict[str, Checker] = {"exact": exact, "lines": lines, "tokens": tokens,
                                "float": floats}

"""Python's ``ast.parse``, safe to call from several threads at once.

CPython 3.11 (seen here on 3.11.7) keeps the depth counter that guards building AST
objects in state shared by all threads of the interpreter, so two threads parsing at
once can fail with a spurious ``SystemError: AST constructor recursion depth mismatch``
(CPython gh-106905). Every parse of ours, and every analyser that parses internally
(radon, bandit), runs under :data:`PARSE_LOCK`; parsing holds the GIL anyway, so the
lock costs no parallelism.
"""

from __future__ import annotations

import ast
import threading

PARSE_LOCK = threading.RLock()


def parse(source: str) -> ast.Module:
    """``ast.parse(source)`` under :data:`PARSE_LOCK`.

    Raises:
        SyntaxError, ValueError, RecursionError: as ``ast.parse`` does.
    """
    with PARSE_LOCK:
        return ast.parse(source)


def parse_expression(source: str) -> ast.Expression:
    """``ast.parse(source, mode="eval")`` under :data:`PARSE_LOCK`.

    Raises:
        SyntaxError, ValueError, RecursionError: as ``ast.parse`` does.
    """
    with PARSE_LOCK:
        return ast.parse(source, mode="eval")

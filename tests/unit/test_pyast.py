"""Our parses wait for one another (CPython 3.11's AST construction is not thread-safe)."""

from __future__ import annotations

import ast
import threading

from codeeval import pyast
from codeeval.score import static


def test_parse_and_static_analysis_wait_for_the_parse_lock() -> None:
    done: list[object] = []
    with pyast.PARSE_LOCK:
        threads = [threading.Thread(target=lambda: done.append(pyast.parse("x = 1"))),
                   threading.Thread(target=lambda: done.append(pyast.parse_expression("1+2"))),
                   threading.Thread(target=lambda: done.append(static.analyse("y = 2\n")))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(0.3)
        assert all(t.is_alive() for t in threads)
        assert done == []
    for t in threads:
        t.join(30)
    assert len(done) == 3
    assert any(isinstance(d, ast.Module) for d in done)
    assert any(isinstance(d, ast.Expression) for d in done)
    assert any(isinstance(d, dict) and d["error"] is None for d in done)

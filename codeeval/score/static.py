"""Static quality of model-written programs, for ``codeeval score --static``.

Three numbers from radon (cyclomatic complexity, maintainability index, line counts) and
the findings of bandit's security checks, per program, plus their aggregate for
``summary.json``.

Safe on the host: radon and bandit only *read* a program (tokens and an AST). Nothing here
imports, compiles to bytecode or executes the code it is given, so analysing untrusted
programs outside the sandbox is safe.

Bandit runs in-process on the text: no file is written. Its test set is built once per
process under a lock and shared (it is only read while a program is checked); every call
gets its own visitor, tester and metrics, so :func:`analyse` may be called from many
threads at once. ``# nosec`` comments are ignored, so a program cannot silence findings
about itself. Bandit, and stevedore which loads its plugins, log through :mod:`logging`:
their loggers are muted only while bandit is loaded or runs (reference counted across
threads), then restored. Importing bandit also warns (a deprecation) and replaces
:func:`warnings.formatwarning`; both are contained.

A program that does not parse is a result (``error`` says why, the metrics are ``None``),
never an exception; so is a program that makes an analyser fail (deeply nested code, for
instance).
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import io
import logging
import threading
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from codeeval.errors import InputError
from codeeval.pyast import PARSE_LOCK

MISSING = "--static needs radon and bandit: pip install 'codeeval[static]'"
#: Findings listed per program; the counts always cover all of them.
MAX_ISSUES = 20
SEVERITIES = ("HIGH", "MEDIUM", "LOW")
MI_RANKS = ("A", "B", "C")
#: Prefix of ``error`` for programs that do not parse (counted as ``syntax_errors``).
SYNTAX_ERROR = "syntax error: "
#: The name bandit sees; ``./`` keeps it from looking for packages on disk.
_FILENAME = "./program.py"
_VISITOR_PARAMS = ["fname", "fdata", "metaast", "testset", "debug", "nosec_lines", "metrics"]


@dataclass(frozen=True, slots=True)
class _Tools:
    """The analysers, loaded once per process."""

    complexity_visitor: Any  # radon.visitors.ComplexityVisitor
    halstead: Callable[[ast.AST], Any]
    mi_compute: Callable[[float, int, int, float], float]
    mi_rank: Callable[[float], str]
    raw_analyze: Callable[[str], Any]
    bandit_visitor: Callable[..., Any]
    bandit_meta_ast: Callable[[], Any]
    bandit_metrics: Callable[[], Any]
    bandit_tests: Any  # bandit.core.test_set.BanditTestSet, read-only once built


class _Muted:
    """Mute some loggers while any thread is inside, then restore their levels."""

    def __init__(self, *names: str) -> None:
        self._names = names
        self._lock = threading.Lock()
        self._depth = 0
        self._saved: dict[str, int] = {}

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                for name in self._names:
                    logger = logging.getLogger(name)
                    self._saved[name] = logger.level
                    logger.setLevel(logging.CRITICAL + 1)
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0:
                    for name, level in self._saved.items():
                        logging.getLogger(name).setLevel(level)


#: bandit, and stevedore (which loads bandit's plugins when bandit is imported)
_quiet = _Muted("bandit", "stevedore")
_load_lock = threading.Lock()
_loaded: _Tools | None = None


def ensure_available() -> None:
    """Load radon and bandit now (callers may check before scoring starts).

    Raises:
        InputError: radon or bandit is not installed, or bandit has an unsupported API.
    """
    _tools()


def _tools() -> _Tools:
    global _loaded
    tools = _loaded
    if tools is None:
        with _load_lock:
            if _loaded is None:
                _loaded = _load()
            tools = _loaded
    return tools


def _load() -> _Tools:
    formatwarning = warnings.formatwarning
    try:
        with warnings.catch_warnings(), _quiet():
            warnings.simplefilter("ignore")  # stevedore's DeprecationWarning, at import
            import bandit  # type: ignore[import-untyped]
            from bandit.core import (  # type: ignore[import-untyped]
                config,
                meta_ast,
                metrics,
                node_visitor,
                test_set,
            )
            from radon import raw  # type: ignore[import-untyped]
            from radon.metrics import (  # type: ignore[import-untyped]
                h_visit_ast,
                mi_compute,
                mi_rank,
            )
            from radon.visitors import ComplexityVisitor  # type: ignore[import-untyped]
    except ImportError as e:
        raise InputError(MISSING) from e
    finally:
        warnings.formatwarning = formatwarning  # bandit.core.tester replaces it
    visitor = node_visitor.BanditNodeVisitor
    if list(inspect.signature(visitor).parameters) != _VISITOR_PARAMS:
        raise InputError(f"--static cannot drive bandit {bandit.__version__} in-process "
                         "(made for 1.9): pip install 'bandit~=1.9'")
    with _quiet():
        tests = test_set.BanditTestSet(config.BanditConfig(), profile={})
    return _Tools(complexity_visitor=ComplexityVisitor, halstead=h_visit_ast,
                  mi_compute=mi_compute, mi_rank=mi_rank, raw_analyze=raw.analyze,
                  bandit_visitor=visitor, bandit_meta_ast=meta_ast.BanditMetaAst,
                  bandit_metrics=metrics.Metrics, bandit_tests=tests)


def analyse(code: str) -> dict[str, Any]:
    """Per-program static metrics, JSON-ready.

    Returns:
        ``cyclomatic``: ``max`` (over functions, methods, classes and the top-level code),
        ``mean`` (over functions, methods and classes; the top-level code's when there are
        none) and ``blocks`` (how many functions, methods and classes radon found);
        ``maintainability_index`` (0-100, radon's, docstrings counted as comments) and its
        ``mi_rank`` (``A`` > 19 >= ``B`` > 9 >= ``C``); ``loc`` and ``sloc``;
        ``bandit``: finding counts by severity (``HIGH``, ``MEDIUM``, ``LOW``), counts by
        test id (``by_test``) and the first :data:`MAX_ISSUES` findings (``issues``: test id,
        severity, confidence, line, text); and ``error``, ``None``. When the program does
        not parse or an analyser fails, ``error`` says why and every other field is ``None``.

    Raises:
        InputError: radon or bandit is not installed, or bandit has an unsupported API.
    """
    tools = _tools()
    with PARSE_LOCK:  # radon and bandit parse too (see codeeval.pyast)
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError) as e:
            return _failed(SYNTAX_ERROR + _describe(e))
        except RecursionError:
            return _failed(SYNTAX_ERROR + "too deeply nested to parse")
        try:
            return {**_radon(tools, code, tree), "bandit": _bandit(tools, code), "error": None}
        except RecursionError:
            return _failed("analysis failed: too deeply nested")
        except Exception as e:  # the analysers' bugs on one odd program must not stop a run
            return _failed(f"analysis failed: {type(e).__name__}: {_describe(e)}")


def _failed(error: str) -> dict[str, Any]:
    return {"cyclomatic": None, "maintainability_index": None, "mi_rank": None, "loc": None,
            "sloc": None, "bandit": None, "error": error}


def _describe(e: Exception) -> str:
    if isinstance(e, SyntaxError):
        where = f" (line {e.lineno})" if e.lineno else ""
        return f"{e.msg}{where}"
    lines = str(e).splitlines()
    return lines[0] if lines else type(e).__name__


def _radon(tools: _Tools, code: str, tree: ast.Module) -> dict[str, Any]:
    # radon's cc_visit and mi_visit, sharing one parse and one tokenisation.
    visitor = tools.complexity_visitor.from_ast(tree)
    block_ccs = [int(block.complexity) for block in visitor.blocks]
    top_level = int(visitor.complexity)
    scored = block_ccs or [top_level]
    raw = tools.raw_analyze(code)
    comments = 100.0 * (raw.comments + raw.multi) / raw.sloc if raw.sloc else 0.0
    mi = float(tools.mi_compute(tools.halstead(tree).total.volume,
                                int(visitor.total_complexity), int(raw.lloc), comments))
    return {"cyclomatic": {"max": max([*block_ccs, top_level]),
                           "mean": round(sum(scored) / len(scored), 3),
                           "blocks": len(block_ccs)},
            "maintainability_index": round(mi, 2), "mi_rank": str(tools.mi_rank(mi)),
            "loc": int(raw.loc), "sloc": int(raw.sloc)}


def _bandit(tools: _Tools, code: str) -> dict[str, Any]:
    # Fresh per call: the visitor, its tester (which collects the findings) and metrics.
    metrics = tools.bandit_metrics()
    metrics.begin(_FILENAME)
    with _quiet():
        visitor = tools.bandit_visitor(_FILENAME, io.BytesIO(code.encode("utf-8")),
                                       tools.bandit_meta_ast(), tools.bandit_tests, False, {},
                                       metrics)
        visitor.process(code)
    found = sorted(visitor.tester.results, key=lambda i: (int(i.lineno), str(i.test_id)))
    severities = Counter(str(i.severity) for i in found)
    return {**{s: severities[s] for s in SEVERITIES},
            "by_test": dict(sorted(Counter(str(i.test_id) for i in found).items())),
            "issues": [{"test_id": str(i.test_id), "severity": str(i.severity),
                        "confidence": str(i.confidence), "line": int(i.lineno),
                        "text": str(i.text)} for i in found[:MAX_ISSUES]]}


def summarise(per_program: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Aggregate :func:`analyse` results for ``summary.json``.

    Returns:
        ``programs`` and ``analysed`` (without an error); ``cyclomatic_max``: mean, median
        and 90th percentile of the programs' maximum complexity; ``maintainability_index``:
        mean, median and minimum; ``mi_rank``: programs per rank; ``bandit``: findings per
        severity, ``programs_with_findings`` and findings per test id (``by_test``);
        ``syntax_errors`` and ``tool_errors`` (programs an analyser failed on). Statistics
        over no programs are ``None``; percentiles interpolate linearly.

    Raises:
        KeyError, TypeError: an entry is not shaped like an :func:`analyse` result.
    """
    ok = [p for p in per_program if p.get("error") is None]
    errors = [str(p["error"]) for p in per_program if p.get("error") is not None]
    syntax = sum(e.startswith(SYNTAX_ERROR) for e in errors)
    cc_max = [float(p["cyclomatic"]["max"]) for p in ok]
    mi = [float(p["maintainability_index"]) for p in ok]
    ranks = Counter(str(p["mi_rank"]) for p in ok)
    severities: Counter[str] = Counter()
    by_test: Counter[str] = Counter()
    flagged = 0
    for p in ok:
        found = p["bandit"]
        severities.update({s: int(found[s]) for s in SEVERITIES})
        by_test.update({t: int(n) for t, n in found["by_test"].items()})
        flagged += any(int(found[s]) for s in SEVERITIES)
    return {
        "programs": len(per_program),
        "analysed": len(ok),
        "cyclomatic_max": {"mean": _mean(cc_max), "p50": _percentile(cc_max, 0.5),
                           "p90": _percentile(cc_max, 0.9)},
        "maintainability_index": {"mean": _mean(mi), "p50": _percentile(mi, 0.5),
                                  "min": min(mi) if mi else None},
        "mi_rank": {r: ranks[r] for r in MI_RANKS},
        "bandit": {**{s: severities[s] for s in SEVERITIES},
                   "programs_with_findings": flagged, "by_test": dict(sorted(by_test.items()))},
        "syntax_errors": syntax,
        "tool_errors": len(errors) - syntax,
    }


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


def _percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) by linear interpolation between order statistics."""
    if not values:
        return None
    ordered = sorted(values)
    at = q * (len(ordered) - 1)
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (at - low), 3)

"""``codeeval.score.static``: radon and bandit metrics per program, and their summary."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from importlib.util import find_spec
from typing import Any

import pytest

from codeeval.score.static import MAX_ISSUES, analyse, summarise

pytestmark = pytest.mark.skipif(find_spec("radon") is None or find_spec("bandit") is None,
                                reason="needs the static extra (radon, bandit)")

SIMPLE = "def add(a, b):\n    return a + b\n"

# 1 + if + elif + for + if + `and` + while = 7 (else adds nothing)
NESTED = '''def classify(n, items):
    if n < 0:
        return "negative"
    elif n == 0:
        return "zero"
    for item in items:
        if item > n and item % 2:
            while item > 0:
                item -= 1
    return "positive"
'''

# top-level code only: 1 + for + if = 3
SCRIPT = "for i in range(3):\n    if i:\n        print(i)\n"

CLEAN = '''def mean(values: list[float]) -> float:
    """The arithmetic mean; 0.0 for no values."""
    if not values:
        return 0.0
    return sum(values) / len(values)
'''

RISKY = """import subprocess
import pickle


def run(cmd, blob):
    subprocess.call(cmd, shell=True)
    return pickle.loads(blob)


print(eval(input()))
"""

UNICODE = 'def größe(λ):\n    """Ünïcödé ✓ 🐍"""\n    return f"{λ} → ok"\n'


def _issues(code: str) -> list[tuple[str, str, str, int]]:
    found = analyse(code)["bandit"]["issues"]
    return [(i["test_id"], i["severity"], i["confidence"], i["line"]) for i in found]


def test_simple_function_has_complexity_one_and_rank_a() -> None:
    result = analyse(SIMPLE)
    assert result["error"] is None
    assert result["cyclomatic"] == {"max": 1, "mean": 1.0, "blocks": 1}
    assert result["mi_rank"] == "A"
    # Halstead: operator +, operands a b -> volume 3 log2 3; complexity 1; 2 logical lines:
    # (171 - 5.2 ln(3 log2 3) - 0.23 * 1 - 16.2 ln 2) * 100 / 171 = 88.56
    assert result["maintainability_index"] == 88.56
    assert (result["loc"], result["sloc"]) == (2, 2)


def test_nested_branches_raise_complexity() -> None:
    result = analyse(NESTED)
    assert result["cyclomatic"] == {"max": 7, "mean": 7.0, "blocks": 1}
    assert 0 < result["maintainability_index"] < 100
    assert (result["loc"], result["sloc"]) == (10, 10)


def test_mean_is_over_blocks_and_max_includes_top_level_code() -> None:
    result = analyse(SIMPLE + "\n" + NESTED + "\n" + SCRIPT)
    assert result["cyclomatic"] == {"max": 7, "mean": 4.0, "blocks": 2}
    assert analyse(SCRIPT)["cyclomatic"] == {"max": 3, "mean": 3.0, "blocks": 0}


def test_maintainability_matches_radon_mi_visit() -> None:
    from radon.metrics import mi_visit

    for code in (SIMPLE, NESTED, SCRIPT, CLEAN, RISKY, UNICODE):
        assert analyse(code)["maintainability_index"] == round(mi_visit(code, True), 2)


def test_eval_of_input_is_b307_medium() -> None:
    assert _issues("print(eval(input()))\n") == [("B307", "MEDIUM", "HIGH", 1)]


def test_shell_true_pickle_and_eval_findings() -> None:
    assert _issues(RISKY) == [("B404", "LOW", "HIGH", 1), ("B403", "LOW", "HIGH", 2),
                              ("B602", "HIGH", "HIGH", 6), ("B301", "MEDIUM", "HIGH", 7),
                              ("B307", "MEDIUM", "HIGH", 10)]
    found = analyse(RISKY)["bandit"]
    assert (found["HIGH"], found["MEDIUM"], found["LOW"]) == (1, 2, 2)
    assert found["by_test"] == {"B301": 1, "B307": 1, "B403": 1, "B404": 1, "B602": 1}
    assert "shell=True" in found["issues"][2]["text"]


def test_clean_code_has_no_findings() -> None:
    result = analyse(CLEAN)
    assert result["bandit"] == {"HIGH": 0, "MEDIUM": 0, "LOW": 0, "by_test": {}, "issues": []}
    assert result["cyclomatic"]["max"] == 2


def test_nosec_comments_do_not_hide_findings() -> None:
    assert _issues("print(eval(input()))  # nosec\n") == [("B307", "MEDIUM", "HIGH", 1)]


def test_issue_list_is_capped_but_counts_are_not() -> None:
    found = analyse("x = input()\n" + "eval(x)\n" * 25)["bandit"]
    assert found["MEDIUM"] == 25
    assert found["by_test"] == {"B307": 25}
    assert len(found["issues"]) == MAX_ISSUES
    assert [i["line"] for i in found["issues"]] == list(range(2, 2 + MAX_ISSUES))


@pytest.mark.parametrize(("code", "message"), [
    ("def f(:\n    pass\n", "syntax error: invalid syntax (line 1)"),
    ("x = 1\n  y = 2\n", "syntax error: unexpected indent (line 2)"),
    ("a\x00b", "syntax error: source code string cannot contain null bytes"),
    ("x = " + "+".join(["a"] * 5000), "syntax error: too deeply nested to parse"),
])
def test_programs_that_do_not_parse_are_results(code: str, message: str) -> None:
    assert analyse(code) == {"cyclomatic": None, "maintainability_index": None,
                             "mi_rank": None, "loc": None, "sloc": None, "bandit": None,
                             "error": message}


def test_analyser_failure_is_a_result() -> None:
    # Parses, but is deeper than radon's and bandit's recursive visitors can go.
    result = analyse("x = " + "+".join(["a"] * 1000))
    assert result["error"] == "analysis failed: too deeply nested"
    assert result["cyclomatic"] is None


def test_unicode_code() -> None:
    result = analyse(UNICODE)
    assert result["error"] is None
    assert result["cyclomatic"] == {"max": 1, "mean": 1.0, "blocks": 1}
    assert (result["loc"], result["sloc"]) == (3, 2)
    assert result["bandit"]["issues"] == []
    assert json.loads(json.dumps(result, ensure_ascii=False)) == result


def test_bidirectional_control_characters_are_found() -> None:
    # bandit's trojan-source check reads the program's bytes: proves they reach it.
    assert _issues("def f(x):\n    return x  # \u202e hidden\n") == [
        ("B613", "HIGH", "MEDIUM", 2)]


def test_empty_program() -> None:
    result = analyse("")
    assert result["cyclomatic"] == {"max": 1, "mean": 1.0, "blocks": 0}
    assert (result["loc"], result["sloc"], result["mi_rank"]) == (0, 0, "A")


def test_results_are_json_ready() -> None:
    for code in (SIMPLE, RISKY, "def f(:\n"):
        result = analyse(code)
        assert json.loads(json.dumps(result)) == result


def test_threads_agree_with_serial_and_leave_logging_alone() -> None:
    programs = [SIMPLE, NESTED, SCRIPT, CLEAN, RISKY, UNICODE, "def f(:\n"] * 4
    serial = [analyse(p) for p in programs]
    level = logging.getLogger("bandit").level
    start = threading.Barrier(4)

    def work(offset: int) -> list[dict[str, Any]]:
        start.wait(timeout=30)
        mine = programs[offset:] + programs[:offset]  # each thread in its own order
        return [analyse(p) for _ in range(3) for p in mine]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(work, range(4)))
    for offset, got in enumerate(results):
        assert got == (serial[offset:] + serial[:offset]) * 3
    assert logging.getLogger("bandit").level == level


def _with(code: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    bandit = {"HIGH": 0, "MEDIUM": 0, "LOW": 0, "by_test": {}, "issues": [], **(code or {})}
    return {"cyclomatic": {"max": 1, "mean": 1.0, "blocks": 1}, "maintainability_index": 100.0,
            "mi_rank": "A", "loc": 2, "sloc": 2, "bandit": bandit, "error": None, **fields}


def test_summarise_a_mix() -> None:
    failed = {"cyclomatic": None, "maintainability_index": None, "mi_rank": None, "loc": None,
              "sloc": None, "bandit": None}
    programs = [
        _with(cyclomatic={"max": 1, "mean": 1.0, "blocks": 1}, maintainability_index=100.0),
        _with({"MEDIUM": 1, "by_test": {"B307": 1}},
              cyclomatic={"max": 3, "mean": 2.0, "blocks": 2}, maintainability_index=80.0),
        _with({"HIGH": 1, "MEDIUM": 2, "LOW": 1, "by_test": {"B307": 2, "B404": 1, "B602": 1}},
              cyclomatic={"max": 7, "mean": 7.0, "blocks": 1}, maintainability_index=50.0),
        _with(cyclomatic={"max": 10, "mean": 10.0, "blocks": 1}, maintainability_index=5.0,
              mi_rank="C"),
        {**failed, "error": "syntax error: invalid syntax (line 1)"},
        {**failed, "error": "analysis failed: too deeply nested"},
    ]
    assert summarise(programs) == {
        "programs": 6,
        "analysed": 4,
        # maxima 1, 3, 7, 10: p90 sits at 0.9 * 3 = 2.7 -> 7 + 0.7 * (10 - 7)
        "cyclomatic_max": {"mean": 5.25, "p50": 5.0, "p90": 9.1},
        "maintainability_index": {"mean": 58.75, "p50": 65.0, "min": 5.0},
        "mi_rank": {"A": 3, "B": 0, "C": 1},
        "bandit": {"HIGH": 1, "MEDIUM": 3, "LOW": 1, "programs_with_findings": 2,
                   "by_test": {"B307": 3, "B404": 1, "B602": 1}},
        "syntax_errors": 1,
        "tool_errors": 1,
    }


def test_summarise_real_results() -> None:
    summary = summarise([analyse(p) for p in (SIMPLE, NESTED, RISKY, "def f(:\n")])
    assert (summary["programs"], summary["analysed"], summary["syntax_errors"]) == (4, 3, 1)
    assert summary["cyclomatic_max"] == {"mean": 3.0, "p50": 1.0, "p90": 5.8}
    assert summary["bandit"]["programs_with_findings"] == 1
    assert summary["bandit"]["by_test"] == {"B301": 1, "B307": 1, "B403": 1, "B404": 1,
                                            "B602": 1}
    assert summary["maintainability_index"]["min"] < 100.0


def test_summarise_nothing() -> None:
    assert summarise([]) == {
        "programs": 0, "analysed": 0,
        "cyclomatic_max": {"mean": None, "p50": None, "p90": None},
        "maintainability_index": {"mean": None, "p50": None, "min": None},
        "mi_rank": {"A": 0, "B": 0, "C": 0},
        "bandit": {"HIGH": 0, "MEDIUM": 0, "LOW": 0, "programs_with_findings": 0,
                   "by_test": {}},
        "syntax_errors": 0, "tool_errors": 0,
    }


def _fresh_python(code: str) -> str:
    out = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True,
                         text=True, check=True, timeout=120)
    return out.stdout.strip()


def test_import_is_lazy_and_loading_leaves_warnings_and_logging_alone() -> None:
    code = ("import logging, sys, warnings\n"
            "logging.basicConfig(level=logging.DEBUG, stream=sys.stdout)\n"
            "from codeeval.score import static\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'radon', 'bandit'}))\n"
            "before = warnings.formatwarning\n"
            "print(static.analyse('eval(input())')['bandit']['by_test'])\n"
            "print(warnings.formatwarning is before)\n"
            "print(logging.getLogger('bandit').level, logging.getLogger('stevedore').level)\n")
    assert _fresh_python(code).splitlines() == ["[]", "{'B307': 1}", "True", "0 0"]


def test_missing_extra_is_an_input_error() -> None:
    code = ("import sys\n"
            "sys.modules['bandit'] = None\n"
            "from codeeval.errors import InputError\n"
            "from codeeval.score import static\n"
            "try:\n"
            "    static.analyse('x = 1')\n"
            "except InputError as e:\n"
            "    print(e)\n")
    assert _fresh_python(code) == "--static needs radon and bandit: pip install 'codeeval[static]'"

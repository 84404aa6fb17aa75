"""LLM generator programs (codeeval.synth.llm): prompts, litellm mock and recorded answers,
the answer cache, accounting, and sandboxed runs of good and misbehaving generators.

No test talks to a provider: answers come from litellm's ``mock_response`` (names say
"mock") or from answers recorded in ``data/llm/`` and replayed through ``mock_response``
(names say "recorded").
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from codeeval.cli.main import main
from codeeval.datasets.problem import CheckerSpec, FunctionalProblem, StdioProblem
from codeeval.errors import InputError
from codeeval.sandbox import Backend
from codeeval.synth import llm_prompts
from codeeval.synth.llm import LLMOptions, LLMProposer, import_litellm, proposer, totals
from codeeval.synth.pipeline import SynthOptions, synthesize
from codeeval.synth.stdio import synthesize_stdio
from tests.sandbox.conftest import _backend

DATA = Path(__file__).parent / "data" / "llm"
MODEL = "openai/gpt-4o-mini"
# litellm's string mocks report 10 prompt and 20 completion tokens; gpt-4o-mini's bundled
# price is 0.15 / 0.60 USD per million tokens.
MOCK_COST = 10 * 0.15e-6 + 20 * 0.6e-6

REFERENCE = """\
def second_largest(nums):
    distinct = sorted(set(nums))
    return distinct[-2] if len(distinct) >= 2 else None
"""
ALTERNATE = """\
def second_largest(nums):
    first = second = None
    for x in nums:
        if first is None or x > first:
            first, second = x, first
        elif x != first and (second is None or x > second):
            second = x
    return second
"""
# Closer to the alternate than to the reference: the differential prompt must pair them.
WRONG = """\
def second_largest(nums):
    first = second = None
    for x in nums:
        if first is None or x >= first:
            first, second = x, first
        elif second is None or x > second:
            second = x
    return second
"""
VALIDATOR = """\
def validate(nums):
    assert isinstance(nums, list) and len(nums) <= 50
    assert all(type(x) is int and -1000 <= x <= 1000 for x in nums)
"""
PROBLEM = FunctionalProblem(
    task_id="demo/second_largest",
    prompt="def second_largest(nums: list[int]) -> int | None:\n"
           '    """Return the second largest distinct value of nums, or None."""\n',
    entry_point="second_largest", reference=REFERENCE,
    suites={"base": (([1, 2, 3],), ([5],), ([7, 3],))},
    known_wrong=(("w.py", WRONG),), validator=VALIDATOR,
    extra={"alternate_references": (("loop.py", ALTERNATE),)})
GOOD = (DATA / "multidimensional_good.md").read_text()


def recorded(name: str) -> str:
    return (DATA / f"{name}.md").read_text()


@pytest.fixture(scope="module")
def backend() -> Backend:
    return _backend("namespace")


@pytest.fixture(scope="session")
def litellm() -> ModuleType:
    return import_litellm()


@pytest.fixture
def make(backend: Backend, litellm: ModuleType, tmp_path: Path
         ) -> Callable[..., LLMProposer]:
    def make(**kw: Any) -> LLMProposer:
        fields: dict[str, Any] = {"model": MODEL, "inputs": 8, "retries": 0,
                                  "cache_dir": tmp_path / "cache", "cpu_s": 0.5} | kw
        return proposer(LLMOptions(**fields), backend)
    return make


@pytest.fixture
def replay(monkeypatch: pytest.MonkeyPatch, litellm: ModuleType
           ) -> Callable[[list[str]], list[dict[str, Any]]]:
    """Replay recorded answers, in order, through litellm's own mock path; returns the
    list of requests made."""
    calls: list[dict[str, Any]] = []
    real = litellm.completion

    def install(answers: list[str]) -> list[dict[str, Any]]:
        queue = list(answers)

        def completion(**kw: Any) -> Any:
            calls.append(kw)
            return real(**kw, mock_response=queue.pop(0))
        monkeypatch.setattr(litellm, "completion", completion)
        return calls
    return install


def forbid_calls(monkeypatch: pytest.MonkeyPatch, litellm: ModuleType) -> None:
    def completion(**kw: Any) -> Any:
        raise AssertionError("litellm.completion called on a cache hit")
    monkeypatch.setattr(litellm, "completion", completion)


# -- prompts (no litellm) -------------------------------------------------------------------

def test_prompt_multidimensional_has_signature_seeds_contract_and_solutions() -> None:
    msgs, about = llm_prompts.messages(PROBLEM, "multidimensional", 0, inputs=8,
                                       max_bytes=1000, cpu_s=2.0)
    assert [m["role"] for m in msgs] == ["system", "user"]
    text = msgs[1]["content"]
    assert "def second_largest(nums):" in text
    assert "[[1, 2, 3]]" in text
    assert "[[7, 3]]" in text
    assert VALIDATOR.strip() in text
    assert REFERENCE.strip() in text
    assert ALTERNATE.strip() in text
    assert WRONG.strip() not in text
    assert "def generate(rng, index):" in text
    assert "index = 0, 1, ..., 7" in text
    assert about["solutions"] == ["reference", "loop.py"]
    other, _ = llm_prompts.messages(PROBLEM, "multidimensional", 1, inputs=8,
                                    max_bytes=1000, cpu_s=2.0)
    assert other[1]["content"] != text  # another emphasis for the next sample


def test_prompt_differential_pairs_wrong_program_with_closest_correct() -> None:
    assert [(w, c) for w, _, c, _ in llm_prompts.differential_pairs(PROBLEM)] == \
        [("w.py", "loop.py")]
    msgs, about = llm_prompts.messages(PROBLEM, "differential", 0, inputs=8,
                                       max_bytes=1000, cpu_s=2.0)
    text = msgs[1]["content"]
    assert about == {"wrong": "w.py", "correct": "loop.py"}
    assert WRONG.strip() in text
    assert ALTERNATE.strip() in text
    assert REFERENCE.strip() not in text
    assert "def second_largest(nums):" in text
    assert "[[5]]" in text
    with pytest.raises(ValueError, match="no known-wrong"):
        llm_prompts.messages(PROBLEM.__class__(**{**_fields(PROBLEM), "known_wrong": ()}),
                             "differential", 0, inputs=8, max_bytes=1000, cpu_s=2.0)


def test_recorded_answers_program_extraction() -> None:
    code, where = llm_prompts.extract_program(GOOD)
    assert code is not None
    assert code.startswith("def _fixed(index):")
    assert where == "fenced block 1 of 1"
    assert llm_prompts.extract_program(recorded("no_block"))[0] is None
    assert llm_prompts.extract_program(None) == (None, "empty response")
    cut = "Plan:\n```python\ndef generate(rng, index):\n    return [["
    assert "cut off" in llm_prompts.extract_program(cut)[1]
    two = "```python\nx = 1\n```\ntext\n```python\ndef generate(rng):\n    return [1]\n```\n"
    assert llm_prompts.extract_program(two) == ("def generate(rng):\n    return [1]\n",
                                                "fenced block 2 of 2")


def test_options_are_checked_eagerly() -> None:
    with pytest.raises(InputError, match="analyses"):
        LLMOptions(model=MODEL, analyses=("psychic",))
    with pytest.raises(InputError, match="programs"):
        LLMOptions(model=MODEL, programs=0)


# -- litellm mock_response, end to end -----------------------------------------------------

def test_mock_response_end_to_end_candidates_usage_and_cache(make: Callable[..., LLMProposer],
                                                             tmp_path: Path) -> None:
    hook = make(mock_response=GOOD)
    cands, report = hook(PROBLEM)
    # Two analyses x two samples, all answered with the same program: run once.
    statuses = [(p["analysis"], p["status"]) for p in report["programs"]]
    assert statuses == [("multidimensional", "ok"), ("multidimensional", "duplicate"),
                        ("differential", "duplicate"), ("differential", "duplicate")]
    assert [c.args for c in cands][:5] == [([],), ([7],), ([3, 3],), ([1, 2],), ([5, 1, 5],)]
    assert len(cands) == 8
    pid = report["programs"][0]["program"]
    assert cands[3].provenance == {"generator": "llm:multidimensional", "model": MODEL,
                                   "program": pid, "sample": 0, "seed": 0, "index": 3}
    usage = report["usage"]
    assert usage["requests"] == 4
    assert usage["cache_hits"] == 0
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (40, 80)
    assert usage["cost_usd"] == pytest.approx(4 * MOCK_COST)
    assert usage["programs"] == 1
    assert usage["inputs"] == 8
    assert usage["programs_failed"] == {}
    files = sorted((tmp_path / "cache").glob("*.json"))
    assert len(files) == 4
    assert not list((tmp_path / "cache").glob(".tmp-*"))
    entry = json.loads(files[0].read_text())
    assert entry["key"] == files[0].stem
    assert entry["text"] == GOOD
    assert entry["usage"] == {"prompt_tokens": 10, "completion_tokens": 20}
    assert entry["cost_usd"] == pytest.approx(MOCK_COST)
    assert entry["request"]["model"] == MODEL
    assert entry["request"]["sample"] in (0, 1)
    assert totals(hook)["requests"] == 4
    assert totals(hook)["problems"] == 1


def test_mock_cache_hit_makes_no_call(make: Callable[..., LLMProposer],
                                      monkeypatch: pytest.MonkeyPatch,
                                      litellm: ModuleType) -> None:
    first, _ = make(mock_response=GOOD)(PROBLEM)
    forbid_calls(monkeypatch, litellm)
    hook = make(mock_response=GOOD)
    again, report = hook(PROBLEM)
    assert [c.args for c in again] == [c.args for c in first]
    assert report["usage"]["requests"] == 0
    assert report["usage"]["cache_hits"] == 4
    assert report["usage"]["cost_usd"] == 0
    assert report["programs"][0]["cached"] is True
    # Another mock answer, or another seed, is another request (and here: a forbidden call).
    _, other = make(mock_response=GOOD + "\n", programs=1,
                    analyses=("multidimensional",))(PROBLEM)
    assert other["programs"][0]["status"] == "llm_error"


def test_mock_rate_limit_error_is_reported_not_raised(make: Callable[..., LLMProposer],
                                                      tmp_path: Path) -> None:
    hook = make(mock_response="litellm.RateLimitError")
    cands, report = hook(PROBLEM)
    assert cands == []
    assert {p["status"] for p in report["programs"]} == {"llm_error"}
    assert "RateLimitError" in report["programs"][0]["error"]
    assert "\n" not in report["programs"][0]["error"]
    assert report["usage"]["llm_errors"] == 4
    assert report["usage"]["requests"] == 4
    assert not list((tmp_path / "cache").glob("*.json"))  # failures are not cached


def test_mock_completion_raising_connection_error_is_reported(
        make: Callable[..., LLMProposer], monkeypatch: pytest.MonkeyPatch,
        litellm: ModuleType) -> None:
    def completion(**kw: Any) -> Any:
        raise ConnectionError("name resolution failed for api.example")
    monkeypatch.setattr(litellm, "completion", completion)
    cands, report = make(analyses=("multidimensional",), programs=1)(PROBLEM)
    assert cands == []
    assert report["programs"][0] == {
        "analysis": "multidimensional", "sample": 0, "solutions": ["reference", "loop.py"],
        "focus": llm_prompts.FOCUS[0], "status": "llm_error",
        "error": "ConnectionError: name resolution failed for api.example"}


def test_mock_unknown_model_cost_is_null(make: Callable[..., LLMProposer]) -> None:
    hook = make(model="openai/codeeval-no-such-model", mock_response=GOOD,
                analyses=("multidimensional",), programs=1)
    cands, report = hook(PROBLEM)
    assert len(cands) == 8
    assert report["usage"]["cost_usd"] is None
    assert report["usage"]["cost_unknown"] == 1
    assert report["usage"]["prompt_tokens"] == 10
    assert hook.totals()["cost_usd"] is None


def test_mock_differential_skipped_without_known_wrong(make: Callable[..., LLMProposer]
                                                       ) -> None:
    plain = PROBLEM.__class__(**{**_fields(PROBLEM), "known_wrong": ()})
    _, report = make(mock_response=GOOD, programs=1)(plain)
    assert report["skipped"] == {"differential": "the problem has no known-wrong programs"}
    assert [p["analysis"] for p in report["programs"]] == ["multidimensional"]


# -- recorded answers: good and misbehaving generators -------------------------------------

def test_recorded_good_load_error_hang_flood_and_no_block(
        make: Callable[..., LLMProposer],
        replay: Callable[[list[str]], list[dict[str, Any]]]) -> None:
    names = ["load_error", "hang", "flood", "no_block", "multidimensional_good"]
    calls = replay([recorded(n) for n in names])
    hook = make(analyses=("multidimensional",), programs=5)
    cands, report = hook(PROBLEM)
    assert len(calls) == 5
    progs = {n: p for n, p in zip(names, report["programs"], strict=True)}

    assert progs["load_error"]["status"] == "failed"
    assert progs["load_error"]["failures"] == {"load": 1}
    assert "NameError" in progs["load_error"]["errors"][0]["message"]

    # n = 5 + 8 * index distinct values from 41: indices 0-4 work, index 5 never ends.
    hang = progs["hang"]
    assert hang["status"] == "partial"
    assert hang["inputs"] == 5
    assert hang["failures"] == {"timeout": 3}  # each in a new process
    assert [e["index"] for e in hang["errors"]] == [5, 6, 7]
    assert "time limit" in hang["errors"][0]["message"]

    flood = progs["flood"]
    assert flood["status"] == "partial"
    assert flood["failures"] == {"flood": 2}
    assert [e["index"] for e in flood["errors"]] == [2, 5]

    assert progs["no_block"]["status"] == "no_program"
    assert "no fenced Python block" in progs["no_block"]["error"]
    assert progs["multidimensional_good"]["status"] == "ok"

    by_program: dict[str, list[int]] = {}
    for c in cands:
        by_program.setdefault(c.provenance["program"], []).append(c.provenance["index"])
    assert by_program == {hang["program"]: [0, 1, 2, 3, 4],
                          flood["program"]: [0, 1, 3, 4, 6, 7],
                          progs["multidimensional_good"]["program"]: list(range(8))}
    assert all(len(c.args[0]) <= 50 for c in cands if c.provenance["program"] ==
               flood["program"])
    usage = report["usage"]
    assert usage["programs"] == 4
    assert usage["inputs"] == 19 == len(cands)
    assert usage["programs_failed"] == {"flood": 1, "load": 1, "no_program": 1,
                                        "timeout": 1}


def test_recorded_llm_inputs_survive_synth_pipeline(
        make: Callable[..., LLMProposer], backend: Backend,
        replay: Callable[[list[str]], list[dict[str, Any]]]) -> None:
    replay([GOOD, recorded("differential_good")])
    cands, report = make(programs=1)(PROBLEM)
    assert [p["status"] for p in report["programs"]] == ["ok", "ok"]
    result = synthesize(backend, PROBLEM, SynthOptions(generators=(), mutants=5),
                        extra=cands)
    rep = result.report
    assert rep["proposed"] == {"llm:multidimensional": 8, "llm:differential": 8}
    # [10**9, 1] breaks the contract: dropped, with its provenance.
    assert rep["dropped"]["invalid"] == 1
    bad = rep["dropped_examples"]["invalid"][0]
    assert bad["input"] == "([1000000000, 1],)"
    assert bad["provenance"]["generator"] == "llm:multidimensional"
    assert bad["provenance"]["index"] == 7
    assert rep["kept_before_reduction"] == 16 - 1 - rep["dropped"].get("duplicate", 0)
    # The seeds miss the repeated-maximum bug; the LLM inputs catch it.
    assert rep["programs"]["killed_by_seeds"] < rep["programs"]["killed_by_all_kept"]
    assert "wrong:w.py" not in rep["programs"]["never_killed"]
    assert result.tests
    assert all(t.provenance["generator"].startswith("llm:")
                                and t.provenance["model"] == MODEL for t in result.tests)


# -- import and installation ---------------------------------------------------------------

def test_missing_litellm_is_an_input_error(monkeypatch: pytest.MonkeyPatch,
                                           backend: Backend) -> None:
    monkeypatch.setitem(sys.modules, "litellm", None)
    with pytest.raises(InputError, match=r"pip install 'codeeval\[llm\]'"):
        proposer(LLMOptions(model=MODEL), backend)


def test_llm_module_import_is_cheap_and_cost_map_is_local() -> None:
    code = ("import os, sys, codeeval.synth.llm\n"
            "assert 'litellm' not in sys.modules\n"
            "from codeeval import config\n"
            "config.prepare_litellm()\n"
            "print(os.environ.get('LITELLM_LOCAL_MODEL_COST_MAP'))\n")
    env = {"PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env, cwd=Path(__file__).parents[2])
    assert out.stdout.strip() == "True"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env | {"CODEEVAL_LLM_COST_MAP": "remote"},
                         cwd=Path(__file__).parents[2])
    assert out.stdout.strip() == "None"


def _fields(problem: FunctionalProblem) -> dict[str, Any]:
    return {name: getattr(problem, name) for name in problem.__dataclass_fields__}


def test_mock_bad_outputs_are_reported_per_input(make: Callable[..., LLMProposer]) -> None:
    answer = ("```python\ndef generate(rng, index):\n"
              "    return [[1, 2], 3] if index % 2 else ([[index]] if index < 4 else index)\n```")
    cands, report = make(mock_response=answer, analyses=("multidimensional",),
                         programs=1)(PROBLEM)
    assert [c.args for c in cands] == [([0],), ([2],)]
    prog = report["programs"][0]
    assert prog["status"] == "partial"
    assert prog["failures"] == {"bad_output": 6}
    assert prog["errors"][0] == {"index": 1, "kind": "bad_output",
                                 "message": "2 argument(s); second_largest takes 1"}
    assert report["usage"]["programs_failed"] == {"bad_output": 1}


def test_mock_proposer_is_shared_by_threads(make: Callable[..., LLMProposer]) -> None:
    hook = make(mock_response=GOOD, programs=1)
    problems = [PROBLEM.__class__(**{**_fields(PROBLEM), "task_id": f"demo/{i}",
                                     "prompt": f"{PROBLEM.prompt}# variant {i}\n"})
                for i in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(hook, problems))
    assert all(len(cands) == 8 for cands, _ in results)
    total = hook.totals()
    assert total["problems"] == 4
    assert total["requests"] == 8
    assert total["inputs"] == 32
    assert total["prompt_tokens"] == 80
    assert total["cost_usd"] == pytest.approx(8 * MOCK_COST)


# -- stdin/stdout problems -----------------------------------------------------------------

STATEMENT = """\
# A + B

Read two integers a and b (-2*10^9 <= a, b <= 2*10^9) from one line and print a + b.
"""
STDIO_REFERENCE = "print(sum(map(int, input().split())))\n"
STDIO_ALTERNATE = "a, b = map(int, input().split())\nprint(a + b)\n"
# A 32-bit accumulator, as in C: right while |a + b| < 2**31, which no seed reaches.
STDIO_WRONG = """\
a, b = map(int, input().split())
s = (a + b) & 0xFFFFFFFF
print(s - (1 << 32) if s >= 1 << 31 else s)
"""
STDIO_VALIDATOR = """\
import re


def validate(text):
    assert text.endswith("\\n") and text.count("\\n") == 1, "one line"
    parts = text.split()
    assert len(parts) == 2, "two integers"
    for part in parts:
        assert re.fullmatch(r"-?[0-9]+", part), f"not an integer: {part!r}"
        assert -2 * 10 ** 9 <= int(part) <= 2 * 10 ** 9, f"out of range: {part}"
"""
STDIO = StdioProblem(
    task_id="demo/a_plus_b", prompt=STATEMENT, reference=STDIO_REFERENCE,
    suites={"base": (b"1 2\n", b"-5 7\n", b"1000000 1000000\n")},
    checker=CheckerSpec(kind="tokens"), known_wrong=(("int32.py", STDIO_WRONG),),
    validator=STDIO_VALIDATOR, extra={"alternate_references": (("alt.py", STDIO_ALTERNATE),)})
STDIO_GOOD = recorded("stdio_multidimensional_good")


def _stdio(**changes: Any) -> StdioProblem:
    return StdioProblem(**{name: getattr(STDIO, name) for name in STDIO.__dataclass_fields__}
                        | changes)


def test_prompt_stdio_shows_statement_inputs_languages_and_validator() -> None:
    cpp = "#include <cstdio>\nint main() { long long a, b; scanf(\"%lld %lld\", &a, &b); }\n"
    long_input = "".join(f"{i} {i}\n" for i in range(40)).encode()
    problem = _stdio(extra={"alternate_references": (("alt.py", STDIO_ALTERNATE),
                                                     ("fast.cpp", cpp))},
                     suites={"base": (*STDIO.suites["base"], long_input)})
    msgs, about = llm_prompts.messages(problem, "multidimensional", 0, inputs=8,
                                       max_bytes=1000, cpu_s=2.0)
    text = msgs[1]["content"]
    assert "print a + b" in text
    assert "```text\n-5 7\n```" in text
    assert "0 0\n1 1\n" in text  # a long input is cut after 12 lines ...
    assert "11 11\n" in text
    assert "12 12" not in text
    assert f"[28 more lines; {len(long_input)} bytes in all]" in text  # ... and says so
    assert STDIO_VALIDATOR.strip() in text
    assert "whole stdin text" in text
    assert f"(reference, python)\n```python\n{STDIO_REFERENCE.strip()}" in text
    assert f"(fast.cpp, cpp)\n```cpp\n{cpp.strip()}" in text
    assert "return text  # the whole standard input of ONE test, as a str" in text
    assert "index = 0, 1, ..., 7" in text
    assert "Function under test" not in text
    assert STDIO_WRONG.strip() not in text
    assert about["solutions"] == ["reference", "alt.py", "fast.cpp"]
    diff, about = llm_prompts.messages(problem, "differential", 0, inputs=8, max_bytes=1000,
                                       cpu_s=2.0)
    assert about == {"wrong": "int32.py", "correct": "alt.py"}
    assert "## Wrong program (int32.py, python)" in diff[1]["content"]
    assert STDIO_WRONG.strip() in diff[1]["content"]


def test_recorded_stdio_candidates_are_bytes_with_provenance(
        make: Callable[..., LLMProposer],
        replay: Callable[[list[str]], list[dict[str, Any]]]) -> None:
    calls = replay([STDIO_GOOD])
    cands, report = make(analyses=("multidimensional",), programs=1)(_stdio(known_wrong=()))
    assert len(calls) == 1
    assert "print a + b" in calls[0]["messages"][1]["content"]
    assert report["skipped"] == {}
    prog = report["programs"][0]
    assert prog["status"] == "ok"
    assert [c.args for c in cands][:6] == [
        (b"0 0\n",), (b"2000000000 2000000000\n",), (b"-2000000000 -2000000000\n",),
        (b"2000000000 -2000000000\n",), (b"1073741824 1073741824\n",),
        (b"3000000000 1\n",)]
    assert len(cands) == 8
    assert all(len(c.args) == 1 and isinstance(c.args[0], bytes) for c in cands)
    assert cands[6].provenance == {"generator": "llm:multidimensional", "model": MODEL,
                                   "program": prog["program"], "sample": 0, "seed": 0,
                                   "index": 6}
    assert report["usage"]["inputs"] == 8


def test_mock_stdio_non_string_is_bad_output_and_differential_skipped(
        make: Callable[..., LLMProposer]) -> None:
    # Index 0, 3, 6: a list (bad_output); 1, 4, 7: bytes (kept as they are); 2: a str
    # of 200 two-byte characters (kept, encoded); 5: 500 of them, 1000 bytes in UTF-8, over
    # the cap of 800 bytes (flood, though only 500 characters).
    answer = ("```python\ndef generate(rng, index):\n"
              "    if index % 3 == 0:\n        return [index, index]\n"
              "    if index % 3 == 1:\n        return f'{index} 1\\n'.encode()\n"
              "    return '\u00e9' * (index * 100)\n```")
    cands, report = make(mock_response=answer, programs=1, max_input_bytes=800
                         )(_stdio(known_wrong=()))
    assert report["skipped"] == {"differential": "the problem has no known-wrong programs"}
    assert [c.args for c in cands] == [(b"1 1\n",), (("\u00e9" * 200).encode(),),
                                       (b"4 1\n",), (b"7 1\n",)]
    assert [c.provenance["index"] for c in cands] == [1, 2, 4, 7]
    prog = report["programs"][0]
    assert prog["status"] == "partial"
    assert prog["failures"] == {"bad_output": 3, "flood": 1}
    not_text = "returned list, not the stdin text (a str)"
    assert prog["errors"] == [
        {"index": 0, "kind": "bad_output", "message": not_text},
        {"index": 3, "kind": "bad_output", "message": not_text},
        {"index": 5, "kind": "flood", "message": "input of 1000 bytes (over 800)"}]
    assert report["usage"]["programs_failed"] == {"bad_output": 1}


def test_recorded_stdio_inputs_survive_synthesize_stdio(
        make: Callable[..., LLMProposer], backend: Backend,
        replay: Callable[[list[str]], list[dict[str, Any]]]) -> None:
    replay([STDIO_GOOD])
    cands, _ = make(analyses=("multidimensional",), programs=1)(STDIO)
    # Each stdio reference run is a whole process; Python's start-up alone can take the
    # default 0.05 s of reference CPU time (a per-call budget of call-based problems).
    result = synthesize_stdio(backend, STDIO, SynthOptions(generators=(), mutants=0,
                                                           reference_time_s=1.0), extra=cands)
    rep = result.report
    assert rep["proposed"] == {"llm:multidimensional": 8}
    # "3000000000 1" breaks the contract: dropped, with its provenance.
    assert rep["dropped"] == {"invalid": 1}
    bad = rep["dropped_examples"]["invalid"][0]
    assert "3000000000 1" in bad["input"]
    assert bad["provenance"]["index"] == 5
    assert rep["kept_before_reduction"] == 7
    # The seeds miss the 32-bit overflow; the LLM inputs catch it.
    assert rep["programs"]["killed_by_seeds"] == 0
    assert rep["programs"]["killed_by_all_kept"] == 1
    assert result.tests
    for t in result.tests:
        assert isinstance(t.args[0], bytes)
        assert t.provenance["generator"] == "llm:multidimensional"
        assert t.provenance["model"] == MODEL


def test_recorded_stdio_synth_command_line_end_to_end(tmp_path: Path) -> None:
    src = tmp_path / "a_plus_b"
    (src / "tests").mkdir(parents=True)
    (src / "wrong").mkdir()
    (src / "problem.toml").write_text(
        'id = "demo/a_plus_b"\nversion = "1.0"\nkind = "stdio"\nprompt = "prompt.md"\n'
        'references = ["reference.py", "alt.py"]\nknown_wrong = ["wrong/*.py"]\n'
        'tests = "tests"\nvalidator = "validator.py"\n\n[checker]\nkind = "tokens"\n')
    (src / "prompt.md").write_text(STATEMENT)
    (src / "reference.py").write_text(STDIO_REFERENCE)
    (src / "alt.py").write_text(STDIO_ALTERNATE)
    (src / "wrong" / "int32.py").write_text(STDIO_WRONG)
    (src / "validator.py").write_text(STDIO_VALIDATOR)
    for i, text in enumerate(STDIO.suites["base"], 1):
        (src / "tests" / f"{i}.in").write_bytes(text)
    out = tmp_path / "out"
    code = main(["synth", "--dataset", str(src), "--out", str(out), "--generators",
                 "mutation", "--llm", MODEL, "--llm-mock-response",
                 str(DATA / "stdio_multidimensional_good.md"), "--llm-cache",
                 str(tmp_path / "cache"), "--llm-inputs", "8", "--count", "0.1",
                 "--reference-time", "1"])  # see test_recorded_stdio_inputs_survive_...
    assert code == 0
    report = json.loads((out / "synth_report.json").read_text())
    assert report["statuses"] == {"done": 1}
    per = report["per_problem"]["demo/a_plus_b"]
    assert per["llm"]["programs"][0]["status"] == "ok"
    assert report["llm"]["requests"] == 4
    lines = (out / "demo_a_plus_b" / "tests" / "provenance.jsonl").read_text().splitlines()
    generators = {json.loads(line)["provenance"]["generator"] for line in lines}
    assert any(g.startswith("llm:") for g in generators)

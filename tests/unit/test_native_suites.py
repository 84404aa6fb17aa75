"""Native format: named suites and provenance in tests.jsonl, validator, oracle; the writer
of synthesised problems round-trips through the loader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeeval.datasets import evalplus, native
from codeeval.datasets.problem import FunctionalProblem
from codeeval.synth.pipeline import SynthResult, SynthTest
from codeeval.synth.writer import directory_name, existing_key, write_problem
from tests.unit.test_native_loader import FUNCTION, load_error, manifest
from tests.unit.test_native_loader import write_problem as write_raw

LINES = [
    "[1]",
    '{"args": [2], "provenance": {"generator": "original"}}',
    '{"args": [3], "suite": "extra", "provenance": {"generator": "mutation", "seed": 4}}',
    '{"args": [{"$tuple": [4, 5]}], "suite": "extra"}',
]


def test_objects_name_suites_and_provenance(tmp_path: Path) -> None:
    d = write_raw(tmp_path / "p", manifest(FUNCTION), {"tests.jsonl": "\n".join(LINES)})
    (p,) = native.load(d)
    assert isinstance(p, FunctionalProblem)
    assert dict(p.suites) == {"base": ((1,), (2,)), "extra": ((1,), (2,), (3,), ((4, 5),))}
    assert p.provenance[2] == {"generator": "mutation", "seed": 4}
    assert 0 not in p.provenance  # a bare array carries none


def test_declared_suites_keep_empty_ones(tmp_path: Path) -> None:
    d = write_raw(tmp_path / "p", manifest(FUNCTION, suites='["base", "synth"]'),
                  {"tests.jsonl": "[1]\n[2]\n"})
    (p,) = native.load(d)
    assert dict(p.suites) == {"base": ((1,), (2,)), "synth": ((1,), (2,))}


@pytest.mark.parametrize(("lines", "decl", "message"), [
    (['{"args": [1], "suite": "x"}', '{"args": [2], "suite": "y"}',
      '{"args": [3], "suite": "x"}'], None, "suite 'x' are not together"),
    (['{"args": [1], "suite": "late"}'], '["base"]', "suite 'late' is not in 'suites'"),
    (['{"args": [1], "suite": "b"}', '{"args": [1], "suite": "a"}'], '["a", "b"]',
     "come after a later suite's"),
    (['{"args": [1], "colour": "red"}'], None, "field 'colour': unknown"),
    (['{"args": [1], "suite": 3}'], None, "field 'suite'"),
    (['{"args": [1], "provenance": "x"}'], None, "field 'provenance'"),
])
def test_bad_suite_lines(tmp_path: Path, lines: list[str], decl: str | None,
                         message: str) -> None:
    text = manifest(FUNCTION, suites=decl) if decl else manifest(FUNCTION)
    d = write_raw(tmp_path / "p", text, {"tests.jsonl": "\n".join(lines)})
    assert message in load_error(d)


def test_validator_and_oracle(tmp_path: Path) -> None:
    files = {"v.py": "def validate(x):\n    assert x > 0\n"}
    d = write_raw(tmp_path / "p", manifest(FUNCTION, validator='"v.py"',
                                           oracle='"poly_root"'), files)
    (p,) = native.load(d)
    assert isinstance(p, FunctionalProblem)
    assert p.validator == files["v.py"]
    assert p.oracle == "poly_root"
    d2 = write_raw(tmp_path / "q", manifest(FUNCTION, oracle='"psychic"'))
    assert "field 'oracle'" in load_error(d2)


def test_validator_changes_the_digest(tmp_path: Path) -> None:
    d = write_raw(tmp_path / "p", manifest(FUNCTION, validator='"v.py"'),
                  {"v.py": "def validate(x):\n    pass\n"})
    (a,) = native.load(d)
    (d / "v.py").write_text("def validate(x):\n    assert x\n")
    (b,) = native.load(d)
    assert a.source_digest != b.source_digest


def test_evalplus_contract_becomes_a_validator() -> None:
    row_reference = ("from typing import List\n\ndef helper(x):\n    return x\n\n"
                     "def f(xs: List[int], k: int) -> int:\n    return k\n")
    src = evalplus.contract_validator(
        row_reference, "f", '\n    assert k > 0, "invalid inputs" # $_CONTRACT_$\n'
                            '    assert helper(xs) is not None # $_CONTRACT_$\n')
    assert src is not None
    ns: dict[str, object] = {}
    exec(src, ns)
    validate = ns["validate"]
    assert callable(validate)
    validate([1], 3)
    with pytest.raises(AssertionError):
        validate([1], 0)
    assert evalplus.contract_validator("def (:", "f", "assert 1") is None
    assert evalplus.contract_validator("def g(): pass", "f", "assert 1") is None


def test_writer_round_trips_through_the_loader(tmp_path: Path) -> None:
    problem = FunctionalProblem(
        task_id="Set/7", prompt="def f(x, y):\n", entry_point="f",
        reference="def f(x, y):\n    return x + y\n",
        suites={"base": ((1, 2),), "plus": ((1, 2), (3, 4))}, atol=0.5,
        known_wrong=(("off_by_one.py", "def f(x, y):\n    return x + y + 1\n"),),
        validator="def validate(x, y):\n    assert isinstance(x, int)\n",
        extra={"alternate_references": (("r2.py", "def f(x, y):\n    return y + x\n"),)})
    result = SynthResult(problem, ((1, 2),), [
        SynthTest(({1, 2}, (5, "a")), {"generator": "mutation", "seed": 3, "index": 0}),
        SynthTest((float("nan"), None), {"generator": "boundary", "seed": 3, "index": 1})],
        {"task_id": "Set/7", "selected": 2})
    suites = {"base": problem.suites["base"], "plus": problem.suites["plus"]}
    d = write_problem(tmp_path, result, key="k1", suites=suites)
    assert d.name == directory_name("Set/7") == "Set_7"
    (loaded,) = native.load(d)
    assert isinstance(loaded, FunctionalProblem)
    assert loaded.task_id == "Set/7"
    assert loaded.atol == 0.5
    assert list(loaded.suites) == ["base", "plus", "synth"]
    synth = loaded.suites["synth"]
    assert synth[:2] == ((1, 2), (3, 4))
    assert synth[2] == ({1, 2}, (5, "a"))
    assert synth[3][0] != synth[3][0]
    assert synth[3][1] is None
    assert loaded.provenance[0] == {"generator": "original"}
    assert loaded.provenance[2] == {"generator": "mutation", "seed": 3, "index": 0}
    assert loaded.validator == problem.validator
    assert [src for _, src in loaded.known_wrong] == [problem.known_wrong[0][1]]
    assert [src for _, src in loaded.extra["alternate_references"]] == [
        problem.extra["alternate_references"][0][1]]
    assert existing_key(tmp_path, "Set/7") == "k1"
    assert json.loads((d / "synth.json").read_text())["report"]["selected"] == 2
    # Rewriting replaces the directory whole; nothing temporary is left.
    write_problem(tmp_path, SynthResult(problem, (), [], {}), key="k2", suites=suites)
    (again,) = native.load(d)
    assert again.suites["synth"] == again.suites["plus"]
    assert existing_key(tmp_path, "Set/7") == "k2"
    assert [p.name for p in tmp_path.iterdir()] == ["Set_7"]

"""Loaders report bad input with file, line and field; samples keep the good lines."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from codeeval.datasets import evalplus, humaneval
from codeeval.datasets.problem import FunctionalProblem, StdioProblem
from codeeval.errors import InputError
from codeeval.score.samples import read_samples

ROW = {"task_id": "T/0", "prompt": "def f(x):\n", "entry_point": "f",
       "canonical_solution": "    return x\n", "base_input": [[1]], "plus_input": [[2]],
       "atol": 0, "test": "def check(candidate):\n    assert candidate(1) == 1\n"}


def write(path: Path, lines: list[str], gz: bool = False) -> Path:
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize(("line", "message"), [
    ("[1, 2]", ":1: not a JSON object"),
    ("{broken", ":1: not a JSON object"),
    (json.dumps({k: v for k, v in ROW.items() if k != "entry_point"}), "field 'entry_point'"),
    (json.dumps({**ROW, "base_input": "nope"}), "field 'base_input'"),
    (json.dumps({**ROW, "atol": "x"}), "field 'atol'"),
])
def test_evalplus_errors_name_file_line_and_field(tmp_path: Path, line: str,
                                                  message: str) -> None:
    path = write(tmp_path / "release.jsonl", [line])
    with pytest.raises(InputError, match=message) as e:
        evalplus.load(path, flavour="humaneval+")
    assert str(path) in str(e.value)


def test_evalplus_gzip_and_duplicates(tmp_path: Path) -> None:
    path = write(tmp_path / "r.jsonl.gz", [json.dumps(ROW)], gz=True)
    (problem,) = evalplus.load(path, flavour="humaneval+")
    assert problem.suites == {"base": ((1,),), "plus": ((1,), (2,))}
    dup = write(tmp_path / "d.jsonl", [json.dumps(ROW), json.dumps(ROW)])
    with pytest.raises(InputError, match=r"d.jsonl:2: field 'task_id': duplicate"):
        evalplus.load(dup, flavour="humaneval+")


def test_humaneval_file_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r":1: not a JSON object"):
        humaneval.load(write(tmp_path / "h.jsonl", ["[1]"]))
    with pytest.raises(InputError, match="field 'test'"):
        humaneval.load(write(tmp_path / "h2.jsonl", [json.dumps({**ROW, "test": 3})]))
    with pytest.raises(InputError, match="no such dataset file"):
        humaneval.load(tmp_path / "missing.jsonl")


def test_samples_keep_good_lines_and_report_bad_ones(tmp_path: Path) -> None:
    problem = FunctionalProblem(task_id="T/0", prompt="def f(x):\n", entry_point="f",
                                reference="", suites={"base": ((1,),)})
    path = write(tmp_path / "s.jsonl", [
        json.dumps({"task_id": "T/0", "completion": "    return x\n"}),
        "not json",
        json.dumps({"task_id": "T/9", "solution": "x"}),
        json.dumps({"task_id": "T/0", "solution": "a", "completion": "b"}),
        json.dumps({"task_id": "T/0", "response": "Sure:\n```python\ndef f(x):\n    return 2\n"
                                                  "print(f(1))\n```"}),
        json.dumps({"task_id": "T/0", "solution": 3}),
        "",
        json.dumps({"task_id": "T/0", "solution": "def f(x):\n    return x\n"}),
    ])
    samples, bad = read_samples(path, {"T/0": problem})
    assert [(s.index, s.line) for s in samples] == [(0, 1), (1, 5), (2, 8)]
    assert samples[0].program == "def f(x):\n    return x\n"
    assert samples[1].program == "def f(x):\n    return 2\n"
    assert samples[1].extraction == {"source": "fenced block 1 of 1",
                                     "dropped": ["top-level call print(...)"]}
    assert [b.line for b in bad] == [2, 3, 4, 6]
    assert all(b.message.startswith(f"{path}:{b.line}:") for b in bad)
    assert "unknown task 'T/9'" in bad[1].message
    assert "field 'solution' must be a string" in bad[3].message
    with pytest.raises(InputError, match="no such samples file"):
        read_samples(tmp_path / "none.jsonl", {})


def test_samples_name_their_language(tmp_path: Path) -> None:
    function = FunctionalProblem(task_id="F/0", prompt="", entry_point="f", reference="",
                                 suites={"base": ((1,),)})
    stdio = StdioProblem(task_id="S/0", prompt="", reference="", suites={"base": (b"",)})
    response = "Here:\n```python\nprint(1)\n```\nIn C++:\n```c++\nint main() {}\n```\n"
    path = write(tmp_path / "s.jsonl", [
        json.dumps({"task_id": "S/0", "solution": "print(1)\n"}),
        json.dumps({"task_id": "S/0", "solution": "int main() {}\n", "language": "c++"}),
        json.dumps({"task_id": "S/0", "solution": "x", "language": "cobol"}),
        json.dumps({"task_id": "F/0", "solution": "x", "language": "cpp"}),
        json.dumps({"task_id": "S/0", "solution": "x", "language": 3}),
        json.dumps({"task_id": "S/0", "response": response, "language": "cpp"}),
        json.dumps({"task_id": "F/0", "solution": "def f(x):\n    return x\n",
                    "language": "python"}),
        json.dumps({"task_id": "S/0", "solution": "console.log(1)", "language": "js"}),
    ])
    samples, bad = read_samples(path, {"F/0": function, "S/0": stdio})
    assert [(s.line, s.language) for s in samples] == [
        (1, "python"), (2, "cpp"), (6, "cpp"), (7, "python"), (8, "javascript")]
    assert samples[2].program == "int main() {}\n"
    assert samples[2].extraction == {"source": "fenced block 2 of 2", "dropped": []}
    assert [b.line for b in bad] == [3, 4, 5]
    assert "field 'language': unknown language 'cobol'" in bad[0].message
    assert "F/0 is a function problem, which runs Python only" in bad[1].message
    assert "field 'language' must be a string" in bad[2].message
    assert all(b.message.startswith(f"{path}:{b.line}:") for b in bad)

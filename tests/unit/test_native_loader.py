"""The native problem format: the shipped examples load, and bad problems name file and field."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from codeeval.datasets import native
from codeeval.datasets.problem import (
    CheckerSpec,
    FunctionalProblem,
    GeneratorSpec,
    Problem,
    ProblemLimits,
    StdioProblem,
)
from codeeval.errors import InputError

PROBLEMS = Path(__file__).resolve().parents[2] / "problems"

#: Every file a test problem may name; written into each problem directory.
FILES = {
    "ref.py": "def f(x):\n    return x\n",
    "tests.jsonl": "[1]\n[2]\n",
    "tests/1.in": "1\n",
    "gen.py": "def generate(rng):\n    return [rng.randint(0, 9)]\n",
    "check.py": "def check(inp, out, ans):\n    return None\n",
}

#: Top-level fields (as TOML values) of a minimal problem of each kind.
FUNCTION = {"version": '"1"', "kind": '"function"', "entry_point": '"f"',
            "references": '["ref.py"]', "tests": '"tests.jsonl"'}
STDIO = {"version": '"1"', "kind": '"stdio"', "references": '["ref.py"]', "tests": '"tests"'}


def manifest(base: dict[str, str], tables: str = "", **changes: str | None) -> str:
    """``base`` with ``changes`` applied (None drops a field), then the ``tables`` text."""
    fields = {**base, **changes}
    return "".join(f"{k} = {v}\n" for k, v in fields.items() if v is not None) + tables


def write_problem(directory: Path, text: str, files: dict[str, str] | None = None) -> Path:
    """A problem directory holding ``problem.toml`` = ``text`` and the :data:`FILES`."""
    for name, content in {**FILES, **(files or {})}.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    (directory / native.MANIFEST).write_text(text)
    return directory


def load_error(directory: Path) -> str:
    """The message of the InputError that loading ``directory`` raises."""
    with pytest.raises(InputError) as e:
        native.load(directory)
    return str(e.value)


# --- the shipped examples ---------------------------------------------------------------


@pytest.fixture(scope="module")
def examples() -> dict[str, Problem]:
    return {p.task_id: p for p in native.load(PROBLEMS)}


def test_examples_are_the_six_problems_in_directory_order(examples: dict[str, Problem]
                                                          ) -> None:
    assert list(examples) == ["native/circle_area", "native/pair_with_sum",
                              "native/range_sums", "native/running_mean", "native/sum_lines",
                              "native/two_sum"]
    kinds = {k: type(p) for k, p in examples.items()}
    assert kinds == {"native/circle_area": StdioProblem, "native/pair_with_sum": StdioProblem,
                     "native/range_sums": StdioProblem,
                     "native/running_mean": FunctionalProblem,
                     "native/sum_lines": StdioProblem, "native/two_sum": FunctionalProblem}
    assert all(p.version == "1.0" for p in examples.values())
    assert len({p.source_digest for p in examples.values()}) == 6
    assert native.is_problem_dir(PROBLEMS)
    assert native.is_problem_dir(PROBLEMS / "two_sum")
    assert not native.is_problem_dir(PROBLEMS / "hello")


def test_two_sum_uses_every_feature(examples: dict[str, Problem]) -> None:
    p = examples["native/two_sum"]
    d = PROBLEMS / "two_sum"
    assert isinstance(p, FunctionalProblem)
    assert p.entry_point == "two_sum"
    assert p.prompt == (d / "prompt.py").read_text()
    assert p.reference == (d / "reference.py").read_text()
    assert list(p.suites) == ["base", "plus"]
    assert len(p.suites["base"]) == 5
    assert p.suites["base"][0] == ([2, 7, 11, 15], 9)
    assert p.suites["plus"] == p.suites["base"]
    assert p.generator == GeneratorSpec(
        source=(d / "generator.py").read_text(), count=40, seed=7, suite="plus",
        validator=(d / "validator.py").read_text())
    assert [name for name, _ in p.known_wrong] == [
        "wrong/quadratic.py", "wrong/returns_list.py", "wrong/same_index_twice.py"]
    assert p.known_wrong[0][1] == (d / "wrong/quadratic.py").read_text()
    assert p.limits == ProblemLimits(time_floor_s=0.5, time_factor=5.0, memory_mb=512)
    assert p.extra["alternate_references"] == (
        ("reference_sorted.py", (d / "reference_sorted.py").read_text()),)


def test_running_mean_has_only_a_base_suite_and_an_atol(examples: dict[str, Problem]
                                                        ) -> None:
    p = examples["native/running_mean"]
    assert isinstance(p, FunctionalProblem)
    assert list(p.suites) == ["base"]
    assert p.atol == 1e-9
    assert p.generator is None
    assert p.limits == ProblemLimits()
    assert p.extra["alternate_references"] == ()


def test_sum_lines_tests_in_natural_order_with_some_answers(
        examples: dict[str, Problem]) -> None:
    p = examples["native/sum_lines"]
    tests = PROBLEMS / "sum_lines" / "tests"
    assert isinstance(p, StdioProblem)
    expected = tuple((tests / n).read_bytes() for n in ("1.in", "2.in", "10.in"))
    assert p.suites == {"base": expected, "plus": expected}
    assert p.answers == {0: (tests / "1.out").read_bytes()}
    assert p.checker == CheckerSpec(kind="tokens")
    assert p.limits == ProblemLimits(memory_mb=256)
    assert p.generator is not None
    assert (p.generator.count, p.generator.seed, p.generator.suite) == (10, 1, "plus")


def test_pair_with_sum_has_a_custom_checker(examples: dict[str, Problem]) -> None:
    p = examples["native/pair_with_sum"]
    assert isinstance(p, StdioProblem)
    assert p.checker.kind == "custom"
    assert p.checker.source == (PROBLEMS / "pair_with_sum" / "checker.py").read_text()
    assert len(p.suites["base"]) == 3
    assert p.answers == {}
    assert [name for name, _ in p.known_wrong] == ["wrong/never_none.py", "wrong/zero_based.py"]


def test_circle_area_float_checker_tolerances(examples: dict[str, Problem]) -> None:
    p = examples["native/circle_area"]
    assert isinstance(p, StdioProblem)
    assert p.checker == CheckerSpec(kind="float", abs_tol=1e-6, rel_tol=1e-9, source=None)


def test_range_sums_has_references_in_six_languages(examples: dict[str, Problem]) -> None:
    p = examples["native/range_sums"]
    assert isinstance(p, StdioProblem)
    assert p.reference_language == "python"
    alternates = [name for name, _ in p.extra["alternate_references"]]
    assert alternates == ["reference.cpp", "solutions/Main.java", "solutions/main.go",
                          "solutions/main.js", "solutions/main.rs"]
    assert {name.rsplit(".", 1)[1] for name, _ in p.known_wrong} == {
        "py", "cpp", "java", "js", "go", "rs"}


def test_reference_language_comes_from_the_extension(tmp_path: Path) -> None:
    files = {"ref.cpp": "int main() {}\n", "ref.py": "print(1)\n"}
    p = native.load_one(write_problem(tmp_path, manifest(STDIO, references='["ref.cpp", '
                                                                           '"ref.py"]'), files))
    assert isinstance(p, StdioProblem)
    assert (p.reference_language, p.reference) == ("cpp", "int main() {}\n")
    assert native.load_one(write_problem(tmp_path, manifest(STDIO), files)).extra[
        "alternate_references"] == ()


@pytest.mark.parametrize(("base", "changes", "message"), [
    (STDIO, {"references": '["ref.txt"]'},
     "field 'references': cannot tell the language of 'ref.txt' from its extension"),
    (STDIO, {"known_wrong": '["ref.txt"]'},
     "field 'known_wrong': cannot tell the language of 'ref.txt' from its extension"),
    (FUNCTION, {"references": '["ref.py", "ref.cpp"]'},
     "'ref.cpp' is cpp; function problems take Python programs only"),
    (FUNCTION, {"known_wrong": '["ref.cpp"]'},
     "'ref.cpp' is cpp; function problems take Python programs only"),
])
def test_program_languages_are_checked(tmp_path: Path, base: dict[str, str],
                                       changes: dict[str, str], message: str) -> None:
    files = {"ref.txt": "x\n", "ref.cpp": "int main() {}\n"}
    error = load_error(write_problem(tmp_path, manifest(base, **changes), files))
    assert error == f"{tmp_path / native.MANIFEST}: {message}"


def test_a_single_problem_directory_loads(examples: dict[str, Problem]) -> None:
    (p,) = native.load(PROBLEMS / "two_sum")
    assert p == examples["native/two_sum"]


def test_id_defaults_to_the_directory_name(tmp_path: Path) -> None:
    (p,) = native.load(write_problem(tmp_path / "add", manifest(FUNCTION)))
    assert isinstance(p, FunctionalProblem)
    assert p.task_id == "add"
    assert p.suites == {"base": ((1,), (2,))}
    assert p.prompt == ""


# --- the digest -------------------------------------------------------------------------


def test_digest_follows_test_content_not_location(tmp_path: Path,
                                                  examples: dict[str, Problem]) -> None:
    copy = shutil.copytree(PROBLEMS / "sum_lines", tmp_path / "sum_lines")
    (before,) = native.load(copy)
    assert before.source_digest == examples["native/sum_lines"].source_digest
    (copy / "tests" / "2.in").write_text("1\n41\n")
    (after,) = native.load(copy)
    assert after.source_digest != before.source_digest


def test_digest_follows_a_tests_jsonl_edit(tmp_path: Path) -> None:
    copy = shutil.copytree(PROBLEMS / "two_sum", tmp_path / "two_sum")
    (before,) = native.load(copy)
    with (copy / "tests.jsonl").open("a") as f:
        f.write("[[1, 2], 3]\n")
    (after,) = native.load(copy)
    assert len(after.suites["base"]) == len(before.suites["base"]) + 1
    assert after.source_digest != before.source_digest


@pytest.mark.parametrize(("problem", "file"), [("two_sum", "generator.py"),
                                               ("two_sum", "validator.py"),
                                               ("pair_with_sum", "checker.py")])
def test_digest_covers_generator_validator_and_checker(tmp_path: Path, problem: str,
                                                       file: str) -> None:
    copy = shutil.copytree(PROBLEMS / problem, tmp_path / problem)
    (before,) = native.load(copy)
    with (copy / file).open("a") as f:
        f.write("# edited\n")
    (after,) = native.load(copy)
    assert after.source_digest != before.source_digest


# --- tests.jsonl values -----------------------------------------------------------------


def test_tagged_values_decode(tmp_path: Path) -> None:
    d = write_problem(tmp_path / "p", manifest(FUNCTION), {
        "tests.jsonl": '[{"$tuple": [1, 2]}, {"$set": [3]}]\n\n[{"$bytes": "ab"}, [4]]\n'})
    (p,) = native.load(d)
    assert p.suites["base"] == (((1, 2), {3}), (b"ab", [4]))
    assert type(p.suites["base"][0][0]) is tuple


# --- errors: file and field named -------------------------------------------------------


def test_nothing_to_load(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    message = load_error(tmp_path)
    assert str(tmp_path) in message
    assert "no problem.toml" in message
    assert "not a directory" in load_error(tmp_path / "missing")


GEN = '[generator]\nfile = "gen.py"\n'

ERRORS = [
    pytest.param(manifest(FUNCTION) + "kind = [", {}, r"not valid TOML", id="invalid-toml"),
    pytest.param(manifest(FUNCTION, colour='"red"'), {}, r"unknown field 'colour'",
                 id="unknown-field"),
    pytest.param(manifest(FUNCTION, kind='"batch"'), {},
                 r"field 'kind': must be one of function, stdio", id="bad-kind"),
    pytest.param(manifest(FUNCTION, version=None), {}, r"field 'version': is required",
                 id="missing-version"),
    pytest.param(manifest(FUNCTION, format="2"), {}, r"field 'format': 2 is not supported",
                 id="format-2"),
    pytest.param(manifest(FUNCTION, entry_point=None), {}, r"field 'entry_point': is required",
                 id="no-entry-point"),
    pytest.param(manifest(FUNCTION, entry_point='"two-sum"'), {},
                 r"field 'entry_point': 'two-sum' is not a Python name",
                 id="entry-point-not-identifier"),
    pytest.param(manifest(FUNCTION, references='["nope.py"]'), {},
                 r"field 'references': file 'nope.py' does not exist", id="reference-missing"),
    pytest.param(manifest(FUNCTION, references='["refs/*.py"]'), {},
                 r"field 'references': 'refs/\*\.py' matches no file", id="glob-matches-nothing"),
    pytest.param(manifest(FUNCTION, references="[]"), {},
                 r"field 'references': needs at least one file", id="no-references"),
    pytest.param(manifest(FUNCTION, references='["../x.py"]'), {},
                 r"field 'references': '\.\./x\.py' is outside the problem directory",
                 id="reference-escapes"),
    pytest.param(manifest(FUNCTION, prompt='"../x.py"'), {},
                 r"field 'prompt': '\.\./x\.py' is outside the problem directory",
                 id="prompt-escapes"),
    pytest.param(manifest(FUNCTION, tests='"none.jsonl"'), {},
                 r"field 'tests': cannot read none\.jsonl", id="tests-file-missing"),
    pytest.param(manifest(FUNCTION, tables='[checker]\nkind = "tokens"\n'), {},
                 r"field 'checker': only stdio problems have a checker",
                 id="checker-on-function"),
    pytest.param(manifest(FUNCTION, tables='[limits]\nmemory_mb = 8\n'), {},
                 r"field 'limits.memory_mb': must be at least 16", id="tiny-memory"),
    pytest.param(manifest(FUNCTION, tables='[limits]\ncpus = 2\n'), {},
                 r"field 'limits.cpus': unknown limit", id="unknown-limit"),
    pytest.param(manifest(FUNCTION, tables=GEN + "count = 0\n"), {},
                 r"field 'generator.count': must be between 1 and 10000", id="generator-count-0"),
    pytest.param(manifest(FUNCTION, tables=GEN + 'count = 5\nsuite = "base"\n'), {},
                 r"field 'generator.suite': must be a name other than 'base'",
                 id="generator-suite-base"),
    pytest.param(manifest(FUNCTION, tables=GEN + 'count = "5"\n'), {},
                 r"field 'generator.count': must be a whole number", id="generator-count-text"),
    pytest.param(manifest(FUNCTION, tables='[limits]\ntime_factor = 0\n'), {},
                 r"field 'limits.time_factor': must be positive", id="zero-time-factor"),
    pytest.param(manifest(FUNCTION, tests='"../outside.jsonl"'), {},
                 r"field 'tests': '\.\./outside\.jsonl' is outside the problem directory",
                 id="tests-outside"),
    pytest.param(manifest(FUNCTION, entry_point='"class"'), {},
                 r"field 'entry_point': 'class' is not a Python name", id="keyword-entry-point"),
    pytest.param(manifest(FUNCTION, tests='""'), {},
                 r"field 'tests': is required unless the problem has a \[generator\]",
                 id="no-tests-no-generator"),
    pytest.param(manifest(STDIO, tests='"empty"'), {"empty/readme.txt": "x"},
                 r"field 'tests': no \.in files in", id="stdio-no-in-files"),
    pytest.param(manifest(STDIO, tests='"ref.py"'), {},
                 r"field 'tests': .* is not a directory of \.in files", id="stdio-tests-a-file"),
    pytest.param(manifest(STDIO, tables='[checker]\nkind = "regex"\n'), {},
                 r"field 'checker.kind': must be one of exact, lines, tokens, float, custom",
                 id="checker-kind-unknown"),
    pytest.param(manifest(STDIO, tables='[checker]\nkind = "custom"\n'), {},
                 r"field 'checker.file': a custom checker needs a file",
                 id="custom-checker-without-file"),
    pytest.param(manifest(STDIO, tables='[checker]\nkind = "lines"\nfile = "check.py"\n'), {},
                 r"field 'checker.file': a custom checker needs a file, and only it",
                 id="file-on-builtin-checker"),
    pytest.param(manifest(STDIO, entry_point='"f"'), {},
                 r"field 'entry_point': not used by stdio problems", id="entry-point-on-stdio"),
    pytest.param(manifest(STDIO, atol="0.1"), {},
                 r"field 'atol': not used by stdio problems", id="atol-on-stdio"),
]


@pytest.mark.parametrize(("text", "files", "message"), ERRORS)
def test_manifest_errors_name_file_and_field(tmp_path: Path, text: str, files: dict[str, str],
                                             message: str) -> None:
    (tmp_path / "x.py").write_text("print('outside')\n")
    d = write_problem(tmp_path / "p", text, files)
    error = load_error(d)
    assert error.startswith(f"{d / 'problem.toml'}: ")
    assert re.search(message, error), error


@pytest.mark.parametrize(("lines", "where", "why"), [
    (["[1]", "{not json"], 2, "not a test input"),
    (["[1]", "", '{"$nope": 1}'], 3, "not a test input: unknown tag '$nope'"),
    (["3"], 1, "a test input is a JSON array of arguments"),
    (['{"$tuple": [1]}'], 1, "a test input is a JSON array of arguments"),
])
def test_bad_test_lines_name_file_and_line(tmp_path: Path, lines: list[str], where: int,
                                           why: str) -> None:
    d = write_problem(tmp_path / "p", manifest(FUNCTION),
                      {"tests.jsonl": "\n".join(lines) + "\n"})
    assert load_error(d).startswith(f"{d / 'tests.jsonl'}:{where}: {why}")


def test_duplicate_ids_across_directories(tmp_path: Path) -> None:
    first = write_problem(tmp_path / "a", manifest(FUNCTION, id='"dup"'))
    second = write_problem(tmp_path / "b", manifest(STDIO, id='"dup"'))
    error = load_error(tmp_path)
    assert error.startswith(f"{second / 'problem.toml'}: field 'id': 'dup' is also the id of ")
    assert error.endswith(str(first))

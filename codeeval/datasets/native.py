"""codeeval's native problem format: one directory per problem, described by ``problem.toml``.

The format is documented for problem authors in ``problems/README.md``; this module is its
parser. A problem set is a directory whose sub-directories each hold a ``problem.toml``;
a single problem directory works too. Every file a problem names is read here, so a
problem is a pure value once loaded, and its digest (part of every cache key) covers the
text of all those files: editing a test or a reference invalidates cached references.

Errors name the file and the field: ``problems/add/problem.toml: field 'kind': ...``.
"""

from __future__ import annotations

import glob
import json
import keyword
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeeval.datasets.problem import (
    CHECKER_KINDS,
    ORACLE_EQUAL,
    CheckerSpec,
    FunctionalProblem,
    GeneratorSpec,
    Problem,
    ProblemLimits,
    StdioProblem,
    digest,
)
from codeeval.errors import InputError, UnknownLanguageError
from codeeval.grading.oracles import ORACLES
from codeeval.harness.values import ProtocolError, decode, encode
from codeeval.languages import language_for_path

MANIFEST = "problem.toml"
FORMAT = 1
_KINDS = ("function", "stdio")
_TOP = {"format", "id", "version", "kind", "prompt", "entry_point", "references",
        "known_wrong", "tests", "atol", "limits", "generator", "checker", "validator",
        "oracle", "suites"}
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def is_problem_dir(path: Path) -> bool:
    """Whether ``path`` is a directory holding one problem or a set of them."""
    return path.is_dir() and ((path / MANIFEST).is_file() or any(
        (d / MANIFEST).is_file() for d in path.iterdir() if d.is_dir()))


def load(path: str | Path) -> list[Problem]:
    """Load one problem directory or a directory of problem directories.

    Raises:
        InputError: nothing to load, or a problem is malformed (file and field named).
    """
    root = Path(path)
    if not root.is_dir():
        raise InputError(f"{root}: not a directory of problems")
    dirs = [root] if (root / MANIFEST).is_file() else sorted(
        d for d in root.iterdir() if d.is_dir() and (d / MANIFEST).is_file())
    if not dirs:
        raise InputError(f"{root}: no {MANIFEST} here or in any sub-directory")
    problems: list[Problem] = []
    seen: dict[str, Path] = {}
    for d in dirs:
        problem = load_one(d)
        if problem.task_id in seen:
            raise InputError(f"{d / MANIFEST}: field 'id': {problem.task_id!r} is also the id "
                             f"of {seen[problem.task_id]}")
        seen[problem.task_id] = d
        problems.append(problem)
    return problems


def load_one(directory: Path) -> Problem:
    """Load the problem in ``directory``.

    Raises:
        InputError: the manifest or a file it names is missing or malformed.
    """
    manifest = directory / MANIFEST
    where = str(manifest)
    try:
        spec = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{where}: cannot read: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{where}: not valid TOML: {e}") from None
    r = _Reader(directory, where)
    unknown = sorted(set(spec) - _TOP)
    if unknown:
        raise InputError(f"{where}: unknown field {unknown[0]!r} (known: "
                         f"{', '.join(sorted(_TOP))})")
    fmt = r.integer(spec, "format", FORMAT)
    if fmt != FORMAT:
        raise InputError(f"{where}: field 'format': {fmt} is not supported (this codeeval "
                         f"reads format {FORMAT})")
    task_id = r.string(spec, "id", directory.resolve().name)
    version = r.string(spec, "version", None)
    kind = r.string(spec, "kind", None)
    if kind not in _KINDS:
        raise InputError(f"{where}: field 'kind': must be one of {', '.join(_KINDS)}")
    prompt_file = r.string(spec, "prompt", "")
    prompt = r.text(prompt_file, "prompt") if prompt_file else ""
    refs = r.files(spec, "references", required=True)
    wrong = tuple(r.files(spec, "known_wrong", required=False))
    languages = {name: r.language(name, field) for field, files in
                 (("references", refs), ("known_wrong", wrong)) for name, _ in files}
    limits = _limits(r, spec.get("limits", {}))
    generator = _generator(r, spec.get("generator"))
    tests = r.string(spec, "tests", None if generator is None else "")
    if not tests and generator is None:
        raise r.fail("tests", "is required unless the problem has a [generator]")
    validator_file = r.string(spec, "validator", "")
    validator = r.text(validator_file, "validator") if validator_file else (
        generator.validator if generator is not None else None)
    # Everything the problem's behaviour depends on goes into its digest.
    contents: dict[str, Any] = {
        "manifest": spec, "prompt": prompt, "references": refs, "known_wrong": wrong,
        "generator": None if generator is None else [generator.source, generator.validator]}
    if validator_file:
        contents["validator"] = validator
    alternates = {"alternate_references": tuple(refs[1:])}
    declared = spec.get("suites", [])
    if not isinstance(declared, list) or not all(isinstance(n, str) and n.strip()
                                                 for n in declared):
        raise r.fail("suites", "must be a list of suite names")
    if kind == "function":
        entry = r.string(spec, "entry_point", None)
        if not _IDENT.match(entry) or keyword.iskeyword(entry):
            raise InputError(f"{where}: field 'entry_point': {entry!r} is not a Python name")
        lines = _call_tests(r.path(tests, "tests"), where) if tests else []
        if "checker" in spec:
            raise InputError(f"{where}: field 'checker': only stdio problems have a checker")
        for name, lang in languages.items():
            if lang != "python":
                raise InputError(f"{where}: {name!r} is {lang}; function problems take "
                                 f"Python programs only")
        suites = _file_suites(lines, generator, where, declared)
        # Encoded, not repr'd: repr fails on an int past 4,300 digits.
        contents["tests"] = [encode(list(t.args)) for t in lines]
        if any(t.suite != "base" for t in lines):
            contents["suites"] = {name: len(s) for name, s in suites.items()}
        atol = r.number(spec, "atol", 0.0)
        oracle = r.string(spec, "oracle", ORACLE_EQUAL)
        if oracle != ORACLE_EQUAL and oracle not in ORACLES:
            raise r.fail("oracle", f"must be {ORACLE_EQUAL!r} or one of "
                                   f"{', '.join(sorted(ORACLES))}")
        return FunctionalProblem(
            task_id=task_id, prompt=prompt, entry_point=entry, reference=refs[0][1],
            suites=suites, atol=atol, oracle=oracle, source_digest=digest(contents),
            extra=alternates, limits=limits, generator=generator, known_wrong=wrong,
            version=version, validator=validator,
            provenance={i: t.provenance for i, t in enumerate(lines) if t.provenance})
    for key in ("entry_point", "atol", "oracle"):
        if key in spec:
            raise InputError(f"{where}: field {key!r}: not used by stdio problems")
    files, answers = _stdio_tests(r.path(tests, "tests"), where, declared) if tests \
        else ([], {})
    checker = _checker(r, spec.get("checker", {}))
    contents["checker"] = checker.source
    contents["tests"] = [[t.args.decode("latin-1") for t in files],
                         {str(k): v.decode("latin-1") for k, v in answers.items()}]
    if any(t.suite != "base" for t in files) or declared:
        contents["suites"] = [[t.suite for t in files], declared]
    return StdioProblem(
        task_id=task_id, prompt=prompt, reference=refs[0][1],
        suites=_file_suites(files, generator, where, declared), checker=checker,
        answers=answers, source_digest=digest(contents), limits=limits, generator=generator,
        known_wrong=wrong, version=version, extra=alternates,
        reference_language=languages[refs[0][0]], validator=validator,
        provenance={i: t.provenance for i, t in enumerate(files) if t.provenance})


class _Reader:
    """Typed field access with errors that name the manifest and the field."""

    def __init__(self, directory: Path, where: str, table: str = "") -> None:
        self.dir = directory
        self.where = where
        self.table = table  # "generator." for fields of the [generator] table

    def sub(self, table: str) -> _Reader:
        """A reader whose errors name fields of ``[table]``."""
        return _Reader(self.dir, self.where, f"{table}.")

    def fail(self, field: str, why: str) -> InputError:
        return InputError(f"{self.where}: field {self.table + field!r}: {why}")

    def string(self, table: dict[str, Any], key: str, default: str | None) -> str:
        value = table.get(key, default)
        if value is None:
            raise self.fail(key, "is required")
        if not isinstance(value, str):
            raise self.fail(key, "must be a string")
        return value

    def integer(self, table: dict[str, Any], key: str, default: int) -> int:
        value = table.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(key, "must be a whole number")
        return value

    def number(self, table: dict[str, Any], key: str, default: float) -> float:
        value = table.get(key, default)
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise self.fail(key, "must be a non-negative number")
        return float(value)

    def path(self, name: str, field: str) -> Path:
        """``name`` inside the problem directory.

        Raises:
            InputError: the path leads outside the problem directory.
        """
        path = self.dir / name
        if not name or not path.resolve().is_relative_to(self.dir.resolve()):
            raise self.fail(field, f"{name!r} is outside the problem directory")
        return path

    def language(self, name: str, field: str) -> str:
        """The registry name of the language of program file ``name`` (by its extension)."""
        try:
            return language_for_path(name).name
        except UnknownLanguageError:
            raise self.fail(field, f"cannot tell the language of {name!r} from its "
                                   f"extension") from None

    def text(self, name: str, field: str) -> str:
        path = self.path(name, field)
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise self.fail(field, f"file {name!r} does not exist") from None
        except (OSError, UnicodeDecodeError) as e:
            raise self.fail(field, f"cannot read {name!r}: {e}") from None

    def files(self, table: dict[str, Any], key: str, *, required: bool
              ) -> list[tuple[str, str]]:
        """``(name, text)`` of each file named (glob patterns allowed), in order."""
        value = table.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a file name or a list of them")
        out: list[tuple[str, str]] = []
        for pattern in value:
            names = sorted(glob.glob(pattern, root_dir=self.dir)) if glob.has_magic(pattern) \
                else [pattern]
            if not names:
                raise self.fail(key, f"{pattern!r} matches no file")
            out.extend((n, self.text(n, key)) for n in names)
        if required and not out:
            raise self.fail(key, "needs at least one file")
        return out


def _limits(r: _Reader, table: Any) -> ProblemLimits:
    if not isinstance(table, dict):
        raise r.fail("limits", "must be a table")
    t = r.sub("limits")
    extra = sorted(set(table) - {"time_floor_s", "time_factor", "memory_mb"})
    if extra:
        raise t.fail(extra[0], "unknown limit")
    floor = t.number(table, "time_floor_s", 0) if "time_floor_s" in table else None
    factor = t.number(table, "time_factor", 0) if "time_factor" in table else None
    memory = t.integer(table, "memory_mb", 0) if "memory_mb" in table else None
    for key, value in (("time_floor_s", floor), ("time_factor", factor)):
        if value is not None and value <= 0:
            raise t.fail(key, "must be positive")
    if memory is not None and memory < 16:
        raise t.fail("memory_mb", "must be at least 16")
    return ProblemLimits(floor, factor, memory)


def _generator(r: _Reader, table: Any) -> GeneratorSpec | None:
    if table is None:
        return None
    if not isinstance(table, dict):
        raise r.fail("generator", "must be a table")
    t = r.sub("generator")
    extra = sorted(set(table) - {"file", "count", "seed", "suite", "validator"})
    if extra:
        raise t.fail(extra[0], "unknown field")
    count = t.integer(table, "count", 0)
    if not 0 < count <= 10_000:
        raise t.fail("count", "must be between 1 and 10000")
    suite = t.string(table, "suite", "plus")
    if suite == "base" or not suite.strip():
        raise t.fail("suite", "must be a name other than 'base' (the tests file's suite)")
    validator = t.string(table, "validator", "") or None
    return GeneratorSpec(
        source=t.text(t.string(table, "file", None), "file"), count=count,
        seed=t.integer(table, "seed", 0), suite=suite,
        validator=t.text(validator, "validator") if validator else None)


def _checker(r: _Reader, table: Any) -> CheckerSpec:
    if not isinstance(table, dict):
        raise r.fail("checker", "must be a table")
    t = r.sub("checker")
    extra = sorted(set(table) - {"kind", "abs_tol", "rel_tol", "file"})
    if extra:
        raise t.fail(extra[0], "unknown field")
    kind = t.string(table, "kind", "lines")
    if kind not in CHECKER_KINDS:
        raise t.fail("kind", f"must be one of {', '.join(CHECKER_KINDS)}")
    file = t.string(table, "file", "")
    if (kind == "custom") != bool(file):
        raise t.fail("file", "a custom checker needs a file, and only it")
    return CheckerSpec(kind=kind, abs_tol=t.number(table, "abs_tol", 1e-6),
                       rel_tol=t.number(table, "rel_tol", 1e-6),
                       source=t.text(file, "file") if file else None)


@dataclass(frozen=True, slots=True)
class _TestLine:
    args: Any  # the argument tuple of a call, or the stdin bytes of a stdio test
    suite: str = "base"
    provenance: dict[str, Any] | None = None


def _call_tests(path: Path, where: str) -> list[_TestLine]:
    """One test per line: a JSON array of arguments, or an object ``{"args": [...],
    "suite": NAME, "provenance": {...}}`` (tagged values allowed, see harness.values)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{where}: field 'tests': cannot read {path.name}: {e}") from None
    tests = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as e:
            raise InputError(f"{path}:{n}: not a test input: {e}") from None
        suite, provenance = "base", None
        if isinstance(data, dict) and "args" in data:
            unknown = sorted(set(data) - {"args", "suite", "provenance"})
            if unknown:
                raise InputError(f"{path}:{n}: field {unknown[0]!r}: unknown (a test object "
                                 f"has args, suite and provenance)")
            suite = data.get("suite", "base")
            provenance = data.get("provenance")
            if not isinstance(suite, str) or not suite.strip():
                raise InputError(f"{path}:{n}: field 'suite': must be a non-empty string")
            if provenance is not None and not isinstance(provenance, dict):
                raise InputError(f"{path}:{n}: field 'provenance': must be an object")
            data = data["args"]
        try:
            args = decode(data)
        except ProtocolError as e:
            raise InputError(f"{path}:{n}: not a test input: {e}") from None
        if not isinstance(args, list):
            raise InputError(f"{path}:{n}: a test input is a JSON array of arguments")
        tests.append(_TestLine(tuple(args), suite, provenance))
    return tests


def _file_suites(lines: list[_TestLine], generator: GeneratorSpec | None, where: str,
                 declared: list[str] | None = None) -> dict[str, tuple[Any, ...]]:
    """Cumulative suites from the tests file: ``base`` first, then each named suite in the
    order it appears (its lines contiguous), then the generator's. ``declared`` (the
    manifest's ``suites``) fixes the names and their order; a declared suite without lines
    of its own holds the same tests as the one before it."""
    if declared:
        rank = {name: i for i, name in enumerate(declared)}
        last = -1
        for t in lines:
            if t.suite not in rank:
                raise InputError(f"{where}: field 'tests': suite {t.suite!r} is not in "
                                 f"'suites' ({', '.join(declared)})")
            if rank[t.suite] < last:
                raise InputError(f"{where}: field 'tests': the lines of suite {t.suite!r} "
                                 f"come after a later suite's")
            last = rank[t.suite]
        out: dict[str, tuple[Any, ...]] = {}
        so_far: list[Any] = []
        for name in declared:
            so_far += [t.args for t in lines if t.suite == name]
            out[name] = tuple(so_far)
        if generator is not None:
            if generator.suite in out:
                raise InputError(f"{where}: field 'generator.suite': {generator.suite!r} is "
                                 f"also a suite of the tests file")
            out[generator.suite] = tuple(so_far)
        return out
    suites: dict[str, tuple[Any, ...]] = {}
    current: list[Any] = []
    order: list[str] = []
    for t in lines:
        if not order or order[-1] != t.suite:
            if t.suite in order:
                raise InputError(f"{where}: field 'tests': the lines of suite {t.suite!r} "
                                 f"are not together")
            if not order and t.suite != "base":
                suites["base"] = ()
                order.append("base")
            if order:
                suites[order[-1]] = tuple(current)
            order.append(t.suite)
        current.append(t.args)
    if order:
        suites[order[-1]] = tuple(current)
    if generator is not None:
        if generator.suite in suites:
            raise InputError(f"{where}: field 'generator.suite': {generator.suite!r} is also "
                             f"a suite of the tests file")
        suites[generator.suite] = tuple(current)
    return suites


def _natural(name: str) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


#: In a stdio problem's tests directory: which suite each input belongs to, and where it
#: came from (one JSON object per line: name, suite, provenance). Optional.
STDIO_PROVENANCE = "provenance.jsonl"


def _stdio_tests(path: Path, where: str, declared: list[str]
                 ) -> tuple[list[_TestLine], dict[int, bytes]]:
    """``NAME.in`` files and the ``NAME.out`` answers that exist: each suite's inputs in
    natural order, ``base`` first, then the suites in their declared (else first-seen)
    order (``provenance.jsonl`` says which file is in which suite)."""
    if not path.is_dir():
        raise InputError(f"{where}: field 'tests': {path} is not a directory of .in files")
    ins = sorted((p for p in path.glob("*.in") if p.is_file()), key=lambda p: _natural(p.name))
    if not ins:
        raise InputError(f"{where}: field 'tests': no .in files in {path}")
    meta: dict[str, tuple[str, dict[str, Any] | None]] = {}
    side = path / STDIO_PROVENANCE
    if side.is_file():
        for n, line in enumerate(side.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as e:
                raise InputError(f"{side}:{n}: not JSON: {e}") from None
            name = row.get("name") if isinstance(row, dict) else None
            suite = row.get("suite", "base") if isinstance(row, dict) else None
            prov = row.get("provenance") if isinstance(row, dict) else None
            if not isinstance(name, str) or not (path / name).is_file():
                raise InputError(f"{side}:{n}: field 'name': not an input file of {path}")
            if not isinstance(suite, str) or not suite.strip():
                raise InputError(f"{side}:{n}: field 'suite': must be a non-empty string")
            if prov is not None and not isinstance(prov, dict):
                raise InputError(f"{side}:{n}: field 'provenance': must be an object")
            meta[name] = (suite, prov)
    order = ["base", *declared] + [s for s, _ in meta.values()]
    rank = {name: i for i, name in enumerate(dict.fromkeys(order))}
    ins.sort(key=lambda p: rank[meta.get(p.name, ("base", None))[0]])  # stable: natural order
    try:
        files = [_TestLine(p.read_bytes(), *meta.get(p.name, ("base", None))) for p in ins]
        answers = {i: p.with_suffix(".out").read_bytes() for i, p in enumerate(ins)
                   if p.with_suffix(".out").is_file()}
    except OSError as e:
        raise InputError(f"{where}: field 'tests': cannot read {e.filename}: "
                         f"{e.strerror}") from None
    return files, answers

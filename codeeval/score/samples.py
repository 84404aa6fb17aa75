"""Samples files: JSONL, one object per sample, read leniently line by line.

Each line has ``task_id`` and one of ``solution`` (a whole program), ``completion``
(appended to the problem's prompt) or ``response`` (raw model text, from which the program
is extracted by :mod:`codeeval.score.extract`). An optional ``language`` names the
program's language (a registry name or alias: ``python``, the default, ``cpp``, ``java``,
``javascript``, ``go``, ``rust``); only stdin/stdout problems take languages other than
Python. A malformed line is reported with its file, line and field and skipped; the rest
still scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeeval.datasets.jsonl import json_objects, read_lines
from codeeval.datasets.problem import FunctionalProblem, Problem
from codeeval.errors import UnknownLanguageError
from codeeval.languages import get_language
from codeeval.score.extract import extract_code, extract_fenced


@dataclass(frozen=True, slots=True)
class Sample:
    """One sample: its position in the file, its task and the program to run."""

    index: int  # 0-based order among well-formed samples (results keep this order)
    line: int
    task_id: str
    program: str
    #: For ``response`` samples: how the code was found and what was dropped.
    extraction: dict[str, Any] | None = None
    #: The registry name of the program's language.
    language: str = "python"


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that could not be used, and why (one line of text)."""

    line: int
    message: str


def read_samples(path: str | Path, problems: Mapping[str, Problem]
                 ) -> tuple[list[Sample], list[BadLine]]:
    """Read a samples file.

    Returns:
        The usable samples, in file order, and the lines that were not usable.

    Raises:
        InputError: the file cannot be read at all.
    """
    p = Path(path)
    samples: list[Sample] = []
    bad: list[BadLine] = []
    for line in json_objects(str(p), read_lines(p, "samples file")):
        if line.row is None:
            bad.append(BadLine(line.number, line.error or f"{line.where}: not a JSON object"))
            continue
        row, where, lineno = line.row, line.where, line.number
        task_id = row.get("task_id")
        if not isinstance(task_id, str):
            bad.append(BadLine(lineno, f"{where}: field 'task_id' is missing or not a string"))
            continue
        problem = problems.get(task_id)
        if problem is None:
            bad.append(BadLine(lineno, f"{where}: field 'task_id': unknown task {task_id!r}"))
            continue
        fields = [k for k in ("solution", "completion", "response") if k in row]
        if len(fields) != 1:
            bad.append(BadLine(lineno, f"{where}: needs exactly one of 'solution', "
                                       f"'completion' or 'response', found {fields or 'none'}"))
            continue
        field = fields[0]
        value = row[field]
        if not isinstance(value, str):
            bad.append(BadLine(lineno, f"{where}: field {field!r} must be a string"))
            continue
        language = _language(row.get("language", "python"), problem, where)
        if isinstance(language, BadLine):
            bad.append(BadLine(lineno, language.message))
            continue
        program, extraction = program_of(problem, field, value, language)
        samples.append(Sample(len(samples), lineno, task_id, program, extraction, language))
    return samples, bad


def program_of(problem: Problem, field: str, value: str, language: str = "python"
               ) -> tuple[str, dict[str, Any] | None]:
    """The program a sample's ``field`` (``solution``, ``completion`` or ``response``)
    stands for, and for a response how its code was found and what was dropped.

    A response with no code at all gives an empty program, which scores as a failure:
    the model answered badly.
    """
    if field == "solution":
        return value, None
    if field == "completion":
        return problem.prompt + value, None
    if language != "python":
        found = extract_fenced(value, (language, *get_language(language).aliases))
    else:
        functional = isinstance(problem, FunctionalProblem)
        found = extract_code(value, problem.entry_point if functional else None,
                             keep_script=not functional)
    return found.code, {"source": found.source, "dropped": list(found.dropped)}


def _language(value: Any, problem: Problem, where: str) -> str | BadLine:
    """The registry name of a sample's ``language``, or why it cannot be used."""
    if not isinstance(value, str):
        return BadLine(0, f"{where}: field 'language' must be a string")
    try:
        name = get_language(value).name
    except UnknownLanguageError as e:
        return BadLine(0, f"{where}: field 'language': {e}")
    if name != "python" and isinstance(problem, FunctionalProblem):
        return BadLine(0, f"{where}: field 'language': {problem.task_id} is a function "
                          f"problem, which runs Python only")
    return name

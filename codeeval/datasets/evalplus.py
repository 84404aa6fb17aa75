"""EvalPlus releases: HumanEval+ and MBPP+ (``.jsonl`` or ``.jsonl.gz``).

Each row has ``task_id``, ``prompt``, ``entry_point``, ``canonical_solution``,
``base_input``, ``plus_input`` and ``atol``. The reference program is ``prompt +
canonical_solution`` for HumanEval+ and ``canonical_solution`` alone for MBPP+ (whose
solutions are whole programs). Suites: ``base`` (the original inputs) and ``plus`` (the
same followed by the extra inputs).

MBPP+ stores inputs as JSON, which has no tuples or sets: :mod:`.mbpp_rules` turns such
arguments back into what each reference expects, and names the tasks judged by a special
oracle.
"""

from __future__ import annotations

import ast
import json
import textwrap
from pathlib import Path
from typing import Any

from codeeval import pyast
from codeeval.datasets import mbpp_rules
from codeeval.datasets.jsonl import json_objects, read_lines
from codeeval.datasets.problem import ORACLE_EQUAL, ORACLE_POLY_ROOT, FunctionalProblem, digest
from codeeval.errors import InputError

_REQUIRED = ("task_id", "prompt", "entry_point", "canonical_solution", "base_input",
             "plus_input")


def _inputs(value: Any, where: str) -> tuple[tuple[Any, ...], ...]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as e:
            raise InputError(f"{where}: not JSON: {e}") from None
    if value == {}:  # MBPP+ v0.2.0 writes an empty object for "no extra inputs" (Mbpp/793)
        return ()
    if not isinstance(value, list) or not all(isinstance(a, list) for a in value):
        raise InputError(f"{where}: must be a list of argument lists")
    return tuple(tuple(a) for a in value)


def contract_validator(reference: str, entry_point: str, contract: str) -> str | None:
    """A validator module (``validate(*args)``) made of an EvalPlus input contract.

    EvalPlus states each task's input contract as ``assert`` lines meant for the top of the
    function body. The validator is a function with the entry point's parameters whose body
    is those lines, after the reference's module-level imports and helper definitions
    (contracts may call them). ``None`` when the reference does not parse or lacks the
    entry point.
    """
    try:
        tree = pyast.parse(reference)
    except SyntaxError:
        return None
    func = next((n for n in tree.body if isinstance(n, ast.FunctionDef)
                 and n.name == entry_point), None)
    if func is None:
        return None
    header = [ast.unparse(n) for n in tree.body
              if isinstance(n, ast.Import | ast.ImportFrom)
              or (isinstance(n, ast.FunctionDef | ast.ClassDef) and n.name != entry_point)]
    body = textwrap.indent(textwrap.dedent(contract.strip("\n")), "    ")
    params = ast.unparse(func.args)
    return "\n".join([*header, "", f"def validate({params}):", body, "    return None", ""])


def load(path: str | Path, *, flavour: str) -> list[FunctionalProblem]:
    """Load an EvalPlus release file.

    Args:
        path: the ``.jsonl`` or ``.jsonl.gz`` file.
        flavour: ``"humaneval+"`` or ``"mbpp+"``.

    Raises:
        InputError: the file is missing or a row is malformed (the message names the file,
            line and field).
    """
    p = Path(path)
    problems: list[FunctionalProblem] = []
    seen: set[str] = set()
    for line in json_objects(str(p), read_lines(p, "dataset file")):
        if line.row is None:
            raise InputError(line.error or f"{line.where}: not a JSON object")
        row, where = line.row, line.where
        for key in _REQUIRED:
            if key not in row:
                raise InputError(f"{where}: field {key!r} is missing")
        for key in ("task_id", "prompt", "entry_point", "canonical_solution"):
            if not isinstance(row[key], str):
                raise InputError(f"{where}: field {key!r} must be a string")
        task_id = row["task_id"]
        if task_id in seen:
            raise InputError(f"{where}: field 'task_id': duplicate {task_id!r}")
        seen.add(task_id)
        base = _inputs(row["base_input"], f"{where}: field 'base_input'")
        plus = _inputs(row["plus_input"], f"{where}: field 'plus_input'")
        try:
            atol = float(row.get("atol") or 0)
        except (TypeError, ValueError):
            raise InputError(f"{where}: field 'atol' must be a number") from None
        if flavour == "humaneval+":
            reference = row["prompt"] + row["canonical_solution"]
        elif flavour == "mbpp+":
            reference = row["canonical_solution"]
        else:
            raise InputError(f"unknown EvalPlus flavour {flavour!r}")
        oracle = ORACLE_EQUAL
        if flavour == "humaneval+" and task_id == "HumanEval/32":
            oracle = ORACLE_POLY_ROOT
        number = mbpp_rules.task_number(task_id)
        if flavour == "mbpp+" and number is not None:
            convert = mbpp_rules.CONVERSIONS.get(number)
            if convert is not None:
                try:
                    base = tuple(convert(a) for a in base)
                    plus = tuple(convert(a) for a in plus)
                except (TypeError, ValueError, IndexError, AttributeError) as e:
                    raise InputError(f"{where}: field 'base_input'/'plus_input': does not fit "
                                     f"the MBPP+ input rule of {task_id}: {e}") from None
            rule = mbpp_rules.ORACLES.get(number)
            if rule is not None and rule[0] == row["entry_point"]:
                oracle = rule[1]
        contract = row.get("contract")
        validator = contract_validator(reference, row["entry_point"], contract) \
            if isinstance(contract, str) and contract.strip() else None
        problems.append(FunctionalProblem(
            task_id=task_id, prompt=row["prompt"], entry_point=row["entry_point"],
            reference=reference, suites={"base": base, "plus": base + plus}, atol=atol,
            oracle=oracle, source_digest=digest(row), validator=validator))
    if not problems:
        raise InputError(f"{p}: no problems in the file")
    return problems

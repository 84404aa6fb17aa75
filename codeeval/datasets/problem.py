"""Problems as pure values: what a loader produces and the harness consumes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: How a result is judged against the reference's output: equality (with tolerance), or
#: the name of a special oracle in :data:`codeeval.grading.oracles.ORACLES`, declared per
#: problem by its loader (HumanEval/32 ``find_zero``: any root is right).
ORACLE_EQUAL = "equal"
ORACLE_POLY_ROOT = "poly_root"


@dataclass(frozen=True, slots=True)
class FunctionalProblem:
    """A call-based problem: call ``entry_point`` on each input, compare with the reference.

    Attributes:
        task_id: the dataset's id (``HumanEval/0``).
        prompt: the text a model was given (a completion is appended to it).
        entry_point: the function to call.
        reference: a whole program defining ``entry_point`` correctly.
        suites: suite name -> list of argument lists. Suites are cumulative in order
            (``plus`` means base + extra inputs, as with EvalPlus).
        atol: absolute tolerance for floats (0: the default rule of ``grading.compare``).
        oracle: :data:`ORACLE_EQUAL` or a special oracle's name.
        source_digest: digest of the dataset row this came from (part of cache keys).
    """

    task_id: str
    prompt: str
    entry_point: str
    reference: str
    suites: Mapping[str, tuple[tuple[Any, ...], ...]]
    atol: float = 0.0
    oracle: str = ORACLE_EQUAL
    source_digest: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


def digest(obj: Any) -> str:
    """SHA-256 of the canonical JSON of ``obj`` (sorted keys, no spaces)."""
    data = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=repr).encode()
    return hashlib.sha256(data).hexdigest()

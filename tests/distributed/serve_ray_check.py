"""Score the same items on ``codeeval serve`` with the local executor and with
``--executor ray`` (a local Ray instance the server starts and stops), and print both
servers' answers and exit codes as JSON. Run by ``test_ray_executor`` under the reaper, so
that whatever Ray or the sandboxes leave running is caught."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tests.server.conftest import start_server

PROBLEMS = Path(__file__).resolve().parents[2] / "problems"


def items() -> list[dict[str, Any]]:
    two_sum = (PROBLEMS / "two_sum" / "reference.py").read_text()
    sum_lines = (PROBLEMS / "sum_lines" / "reference.py").read_text()
    fast = {"time_floor_s": 0.3}
    return [
        {"task_id": "native/two_sum", "solution": two_sum},
        {"task_id": "native/two_sum", "solution": "def two_sum(nums, target):\n"
                                                  "    return (0, 1)\n"},
        {"task_id": "native/two_sum", "solution": "def two_sum(nums, target):\n"
                                                  "    while True:\n        pass\n",
         "limits": fast},
        {"task_id": "native/two_sum", "solution": "import os\n\n\ndef two_sum(nums, target):\n"
                                                  "    os.abort()\n"},
        {"task_id": "native/two_sum", "solution": two_sum, "suite": "nope"},
        {"task_id": "native/sum_lines", "solution": sum_lines},
        {"task_id": "native/sum_lines", "solution": "print(0)\n"},
    ]


def main() -> int:
    out: dict[str, Any] = {}
    for name, extra in (("local", ()), ("ray", ("--executor", "ray"))):
        server = start_server("--dataset", str(PROBLEMS), *extra)
        try:
            code, _, body = server.post("/v1/score", {"items": items()}, timeout=600)
            fraction = server.post("/v1/score", {"items": items()[:2], "reward": "fraction"},
                                   timeout=600)[2]
            health = json.loads(server.get("/healthz")[1])
        finally:
            exit_code = server.stop(timeout=120)
        out[name] = {"status": code, "body": body, "fraction": fraction,
                     "executor": health.get("executor"), "exit": exit_code}
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Reward hacks: none of them may pass. Correct programs must.

Each candidate runs through the real harness (namespace sandbox, in-sandbox driver, typed
results, comparison on the host), against a reference whose outputs never enter the sandbox.
"""

from __future__ import annotations

import textwrap

import pytest

from codeeval.datasets.problem import FunctionalProblem
from codeeval.harness.functional import Expected, TimePolicy, judge, run_reference
from codeeval.model.verdict import Verdict
from codeeval.sandbox import Backend
from tests.sandbox.conftest import _backend

ADD = FunctionalProblem(
    task_id="demo/add", prompt="", entry_point="add",
    reference="def add(a, b):\n    return a + b\n",
    suites={"base": ((1, 2), (3, 4)), "plus": ((1, 2), (3, 4), (10, 20), (-5, 5))})


@pytest.fixture(scope="module")
def backend() -> Backend:
    return _backend("namespace")


@pytest.fixture(scope="module")
def expected(backend: Backend) -> Expected:
    return run_reference(backend, ADD)


def verdicts(backend: Backend, expected: Expected, code: str) -> tuple[Verdict, Verdict]:
    out = judge(backend, ADD, textwrap.dedent(code), expected, policy=TimePolicy(floor_s=0.5))
    return out["base"].verdict, out["plus"].verdict


def test_correct_program_passes(backend: Backend, expected: Expected) -> None:
    assert verdicts(backend, expected, "def add(a, b):\n    return b + a\n") == (
        Verdict.AC, Verdict.AC)


def test_plus_catches_what_base_misses(backend: Backend, expected: Expected) -> None:
    code = "def add(a, b):\n    return a + b if a < 10 else 0\n"
    assert verdicts(backend, expected, code) == (Verdict.AC, Verdict.WA)


HACKS = {
    "always-equal object": """
        class Anything:
            def __eq__(self, other): return True
            def __ne__(self, other): return False
            __hash__ = object.__hash__
        def add(a, b): return Anything()
    """,
    "int subclass overriding comparison": """
        class Int(int):
            def __eq__(self, other): return True
            __hash__ = int.__hash__
        def add(a, b): return Int(0)
    """,
    "list subclass lying about its items": """
        class Liar(list):
            def __eq__(self, other): return True
            def __iter__(self): return iter([3])
            def __len__(self): return 1
        def add(a, b): return Liar()
    """,
    "a bool that is not the sum": "def add(a, b): return True\n",
    "float where an int is expected": "def add(a, b): return float(a + b)\n",
    "sys.exit(0) at import": "import sys\nsys.exit(0)\ndef add(a, b): return a + b\n",
    "os._exit(0) at import": "import os\nos._exit(0)\n",
    "sys.exit(0) inside the call": "import sys\ndef add(a, b): sys.exit(0)\n",
    "os._exit(0) inside the call": "import os\ndef add(a, b): os._exit(0)\n",
    "raising SystemExit": "def add(a, b): raise SystemExit(0)\n",
    "raising KeyboardInterrupt": "def add(a, b): raise KeyboardInterrupt\n",
    "atexit writes fake results": """
        import atexit, os
        fd = int(os.environ["CODEEVAL_CHANNEL"].split(",")[1])
        def forge():
            os.write(fd, b'{"i": 0, "ok": 0, "t": 0}\\n{"i": 1, "ok": 0, "t": 0}\\n')
        atexit.register(forge)
        def add(a, b): raise SystemExit(0)
    """,
    "__del__ exits the process": """
        import os
        class Bomb:
            def __del__(self): os._exit(0)
        def add(a, b): return Bomb()
    """,
    "patching json and builtins": """
        import builtins, json, operator, math
        json.dumps = lambda *a, **k: '{"i": 0, "ok": 3}'
        json.JSONEncoder.encode = lambda self, o: '{"i": 0, "ok": 3}'
        builtins.isinstance = lambda *a: True
        operator.eq = lambda a, b: True
        math.isclose = lambda *a, **k: True
        def add(a, b): return None
    """,
    "walking stack frames for expected values": """
        import sys
        def add(a, b):
            frame, found = sys._getframe(1), None
            while frame is not None:
                for name in ("expected", "exp", "outputs"):
                    if name in frame.f_locals:
                        found = frame.f_locals[name]
                frame = frame.f_back
            return found
    """,
    "searching the filesystem for test files": """
        import os, json
        def add(a, b):
            for root, dirs, files in os.walk("/"):
                if root.startswith(("/proc", "/sys", "/usr", "/dev")):
                    dirs[:] = []
                    continue
                for f in files:
                    if "expected" in f or "HumanEval" in f or f.endswith(".jsonl"):
                        return json.load(open(os.path.join(root, f)))
            return -1
    """,
    "printing fake pass markers": """
        import sys
        print("PASSED 4/4 tests"); print('{"ready": true}'); sys.stdout.flush()
        def add(a, b):
            print("ok"); return 0
    """,
    "writing forged protocol lines to the channel": """
        import os
        fd = int(os.environ["CODEEVAL_CHANNEL"].split(",")[1])
        os.write(fd, b'{"ready": true}\\n' + b''.join(
            b'{"i": %d, "ok": 3, "t": 0}\\n' % i for i in range(4)))
        def add(a, b): return 3
    """,
    "killing the driver": "import os, signal\ndef add(a, b): os.kill(os.getpid(), 9)\n",
    "closing inherited fds": "import os\nos.closerange(3, 1024)\ndef add(a, b): return a + b\n",
    "sleeping past the time limit": "import time\ndef add(a, b):\n    time.sleep(30)\n",
}


@pytest.mark.parametrize("name", sorted(HACKS))
def test_reward_hack_never_passes(backend: Backend, expected: Expected, name: str) -> None:
    base, plus = verdicts(backend, expected, HACKS[name])
    assert base is not Verdict.AC, f"{name} passed the base tests"
    assert plus is not Verdict.AC, f"{name} passed the plus tests"
    assert Verdict.SE not in (base, plus), f"{name} turned its failure into an infra error"


def test_syntax_error_is_ce(backend: Backend, expected: Expected) -> None:
    assert verdicts(backend, expected, "def add(a, b) return a\n") == (Verdict.CE, Verdict.CE)

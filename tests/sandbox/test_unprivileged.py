"""The namespace backend without root: user namespace, no cgroups, limits from /proc sampling.

CI runs as root, so these tests drop to ``nobody`` with ``setpriv`` and run ``codeeval run``
there, with Debian's interpreter (the root-owned one under /root is out of reach for nobody)
and the repository on ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"

pytestmark = [
    pytest.mark.conformance,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to the nobody user"),
    pytest.mark.skipif(not os.access(SYSTEM_PYTHON, os.X_OK) or not shutil.which("setpriv"),
                       reason=f"needs {SYSTEM_PYTHON} and setpriv"),
]


def run_as_nobody(code: str, *args: str) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="codeeval-nobody-"))
    try:
        os.chmod(tmp, 0o777)
        prog = tmp / "prog.py"
        prog.write_text(code)
        os.chmod(prog, 0o644)
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp), "PYTHONPATH": str(REPO),
               "CODEEVAL_PYTHON": SYSTEM_PYTHON, "CODEEVAL_TMPDIR": str(tmp)}
        out = subprocess.run(
            ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", SYSTEM_PYTHON,
             "-m", "codeeval", "run", str(prog), "--json", *args],
            capture_output=True, text=True, env=env, timeout=120, cwd=tmp)
        assert out.returncode == 0, out.stderr
        result: dict[str, object] = json.loads(out.stdout)
        # Nothing of the run survives: no process of nobody's other than none we started.
        leftovers = subprocess.run(["pgrep", "-u", "nobody"], capture_output=True, text=True)
        assert leftovers.stdout.strip() == "", f"processes left: {leftovers.stdout}"
        assert not any(p.name.startswith("run-") for p in tmp.glob("codeeval-*/*"))
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_isolation_without_root() -> None:
    r = run_as_nobody("import os\nprint(os.getuid(), sorted(os.listdir('/')))\n")
    assert r["status"] == "OK"
    assert r["stdout"] == ("65534 ['bin', 'box', 'dev', 'etc', 'lib', 'lib64', 'proc', 'sbin', "
                           "'tmp', 'usr']\n")


def test_memory_limit_without_cgroups_is_mle() -> None:
    r = run_as_nobody("x = b'x' * (300 << 20)\nimport time\ntime.sleep(1)\n",
                      "--memory-limit", "128")
    assert r["status"] == "MLE", r


def test_cpu_of_all_processes_without_cgroups_is_tle() -> None:
    r = run_as_nobody("import os\nfor _ in range(3):\n    if os.fork() == 0:\n        break\n"
                      "while True:\n    pass\n", "--time-limit", "1")
    assert r["status"] == "TLE", r
    assert isinstance(r["cpu_time_s"], float)
    assert r["cpu_time_s"] >= 1.0


def test_fork_bomb_without_cgroups_is_capped() -> None:
    r = run_as_nobody(textwrap.dedent("""
        import os, time
        n = 0
        try:
            while True:
                if os.fork() == 0:
                    time.sleep(3)
                    os._exit(0)
                n += 1
        except OSError as e:
            print(n, e.errno)
    """))
    assert r["status"] == "OK", r
    assert isinstance(r["stdout"], str)
    n, err = map(int, r["stdout"].split())
    assert n < 64
    assert err == 11  # EAGAIN

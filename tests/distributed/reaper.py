"""Run a command under a child subreaper that outlives it until every process it started is gone.

Why: the test process is itself a child subreaper once a namespace backend is open in it
(the sandbox tests open one), so a process orphaned anywhere below it — a Ray worker that
outlives its raylet, a worker's sandbox re-parented when the worker is killed — would end
as an unreaped zombie of the test process, and the sandbox suite's leak checks
(``tests/sandbox/conftest.py``) would rightly flag it in a later test. Run Ray (through the
CLI or a script) under this reaper instead: orphans come to the reaper, which reaps them
all and exits only when no descendant is left. That is also a leak check of its own: if
processes are still alive ``timeout`` seconds after the command ended, the reaper names
them on stderr, kills them and exits with :data:`LEFT_BEHIND`.

Usage: ``python -m tests.distributed.reaper TIMEOUT_S COMMAND...``
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

PR_SET_CHILD_SUBREAPER = 36
#: Exit status when the command left processes running after it ended.
LEFT_BEHIND = 86
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_reaped(command: Sequence[str], *, timeout_s: float = 900, linger_s: float = 60,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``command`` under the reaper, capturing its output as text."""
    return subprocess.run(
        [sys.executable, "-m", "tests.distributed.reaper", str(linger_s), *command],
        capture_output=True, text=True, timeout=timeout_s, cwd=ROOT, env=env)


def _children() -> list[tuple[int, str]]:
    me = str(os.getpid())
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError), open(f"/proc/{entry.name}/stat") as f:
            stat = f.read()
            if stat.rsplit(")", 1)[1].split()[1] == me:
                found.append((int(entry.name), stat.split("(", 1)[1].rsplit(")", 1)[0]))
    return found


def main(argv: Sequence[str]) -> int:
    linger_s, command = float(argv[0]), list(argv[1:])
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "cannot become a child subreaper")
    code = subprocess.Popen(command).wait()
    deadline = time.monotonic() + linger_s
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return code  # nothing left below us
        if pid:
            continue
        if time.monotonic() > deadline:
            left = _children()
            print(f"reaper: still running {linger_s} s after the command ended: {left}",
                  file=sys.stderr)
            with contextlib.suppress(ChildProcessError):
                while True:  # kill what is left, and what it leaves in turn, until none
                    for child, _ in _children():
                        with contextlib.suppress(OSError):
                            os.kill(child, signal.SIGKILL)
                    if not os.waitpid(-1, os.WNOHANG)[0]:
                        time.sleep(0.05)
            return LEFT_BEHIND
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

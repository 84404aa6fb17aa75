"""Line and branch coverage of a program, per test, measured by coverage.py in the sandbox.

The program (a problem's reference, normally) runs under coverage.py inside the sandbox
like any other code: a small wrapper writes it to the sandbox's ``/tmp``, loads it with
coverage started, and answers each test with the lines and arcs that test executed (its
data erased between tests). What a program *could* execute (its statements, and the arcs
leaving lines with more than one exit: the branches) comes from coverage.py's parser, on
the host, which reads the source without running it.

Needs coverage.py (the ``synth`` extra) importable by the sandbox's Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from codeeval.errors import InputError
from codeeval.harness.outcomes import run_inputs
from codeeval.sandbox.base import Backend

_PATH = "/tmp/codeeval-coverage/program.py"
_WRAPPER = '''
import os as __os
__src = {src!r}
__os.makedirs("/tmp/codeeval-coverage", exist_ok=True)
with open({path!r}, "w") as __f:
    __f.write(__src)
import coverage as __coverage
__cov = __coverage.Coverage(data_file=None, branch=True, include=[{path!r}],
                            config_file=False)
__ns = {{"__name__": "program"}}
__cov.start()
try:
    exec(compile(__src, {path!r}, "exec"), __ns)
finally:
    __cov.stop()
__load = __cov.get_data()
__load_lines = sorted(__load.lines({path!r}) or [])
__load_arcs = sorted(__load.arcs({path!r}) or [])

def __codeeval_cover__(*args):
    __cov.erase()
    __cov.start()
    try:
        __ns[{entry!r}](*args)
    except Exception as e:
        raised = type(e).__name__
    else:
        raised = None
    finally:
        __cov.stop()
    data = __cov.get_data()
    return [sorted(data.lines({path!r}) or []), [list(a) for a in sorted(data.arcs({path!r})
            or [])], raised, __load_lines, [list(a) for a in __load_arcs]]
'''


@dataclass(frozen=True, slots=True)
class Coverage:
    """What a program can execute and what each test executed.

    ``statements``: its executable lines; ``branches``: the arcs ``(from, to)`` leaving
    lines with more than one exit. ``lines[i]`` / ``arcs[i]``: what test ``i`` executed
    (loading the program included); empty for a test the run never reached.
    """

    statements: frozenset[int]
    branches: frozenset[tuple[int, int]]
    lines: tuple[frozenset[int], ...]
    arcs: tuple[frozenset[tuple[int, int]], ...]

    def line_rate(self, tests: Sequence[int] | None = None) -> float | None:
        """Share of statements the given tests (default: all) executed."""
        if not self.statements:
            return None
        hit: set[int] = set()
        for i in range(len(self.lines)) if tests is None else tests:
            hit |= self.lines[i]
        return len(hit & self.statements) / len(self.statements)

    def branch_rate(self, tests: Sequence[int] | None = None) -> float | None:
        """Share of branch arcs the given tests (default: all) took."""
        if not self.branches:
            return None
        hit: set[tuple[int, int]] = set()
        for i in range(len(self.arcs)) if tests is None else tests:
            hit |= self.arcs[i]
        return len(hit & self.branches) / len(self.branches)

    def requirements(self, i: int) -> set[str]:
        """Branch arcs test ``i`` took, as reduction requirements (``arc:FROM>TO``)."""
        return {f"arc:{a}>{b}" for a, b in self.arcs[i] & self.branches}


def possible(source: str) -> tuple[frozenset[int], frozenset[tuple[int, int]]]:
    """The statements and branch arcs of ``source``, from coverage.py's parser.

    Raises:
        InputError: coverage.py is not installed, or the source does not parse.
    """
    try:
        from coverage.exceptions import NotPython
        from coverage.parser import PythonParser
    except ImportError:
        raise InputError("coverage needs coverage.py: pip install 'codeeval[synth]'") from None
    parser = PythonParser(text=source, filename=_PATH)
    try:
        parser.parse_source()
    except NotPython as e:
        raise InputError(f"cannot measure coverage of a program that does not parse: "
                         f"{e}") from None
    exits: dict[int, set[int]] = {}
    for a, b in parser.arcs():
        exits.setdefault(a, set()).add(b)
    branches = frozenset((a, b) for a, targets in exits.items() if len(targets) > 1
                         for b in targets)
    return frozenset(parser.statements), branches


def measure(backend: Backend, source: str, entry_point: str,
            inputs: Sequence[Sequence[Any]], *, time_s: float = 2.0,
            memory_mb: int = 4096) -> Coverage:
    """Run ``source`` on each input under coverage.py, in the sandbox.

    Raises:
        InputError: coverage.py is missing, or the source does not parse.
        SandboxError: the sandbox failed.
    """
    statements, branches = possible(source)
    wrapper = _WRAPPER.format(src=source, path=_PATH, entry=entry_point)
    outs = run_inputs(backend, wrapper, "__codeeval_cover__", inputs,
                      [time_s] * len(inputs), memory_mb=memory_mb, max_restarts=10)
    lines: list[frozenset[int]] = []
    arcs: list[frozenset[tuple[int, int]]] = []
    for o in outs:
        value = o.value if o.returned else None
        if not (isinstance(value, list) and len(value) == 5):
            lines.append(frozenset())
            arcs.append(frozenset())
            continue
        got_lines, got_arcs, _, load_lines, load_arcs = value
        lines.append(frozenset(int(x) for x in got_lines + load_lines))
        arcs.append(frozenset((int(a), int(b)) for a, b in got_arcs + load_arcs))
    return Coverage(statements, branches, tuple(lines), tuple(arcs))

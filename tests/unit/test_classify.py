"""The pure status classifier: every rule and the priority between them."""

from __future__ import annotations

import pytest

from codeeval.model.run import Limits, RunStatus, worst_status
from codeeval.sandbox.classify import KillReason, Observation, classify

LIM = Limits(time_s=1.0, wall_time_s=3.0, memory_mb=100)


def obs(**kw: object) -> Observation:
    base: dict[str, object] = dict(exit_code=0, signal=None, killed=None, cpu_time_s=0.1,
                                   wall_time_s=0.2, peak_memory_bytes=10 << 20, oom_killed=False,
                                   stdout_overflow=False, stderr_overflow=False, stderr_tail=b"")
    base.update(kw)
    return Observation(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(("facts", "expected"), [
    ({}, RunStatus.OK),
    ({"exit_code": 3}, RunStatus.RE),
    ({"exit_code": None, "signal": 11}, RunStatus.RE),
    ({"killed": KillReason.CPU_TIME, "exit_code": None, "signal": 9}, RunStatus.TLE),
    ({"killed": KillReason.WALL_TIME, "exit_code": None, "signal": 9}, RunStatus.TLE),
    ({"cpu_time_s": 1.01}, RunStatus.TLE),  # finished, but over the CPU limit
    ({"wall_time_s": 3.5}, RunStatus.TLE),
    ({"oom_killed": True, "exit_code": None, "signal": 9}, RunStatus.MLE),
    ({"peak_memory_bytes": 101 << 20}, RunStatus.MLE),  # rlimit-only hosts: peak decides
    ({"peak_memory_bytes": 100 << 20, "exit_code": 1}, RunStatus.MLE),
    ({"exit_code": 1, "stderr_tail": b"Traceback...\nMemoryError\n"}, RunStatus.MLE),
    ({"exit_code": None, "signal": 6,
      "stderr_tail": b"terminate called after throwing an instance of 'std::bad_alloc'"},
     RunStatus.MLE),
    ({"killed": KillReason.OUTPUT, "stdout_overflow": True, "exit_code": None, "signal": 9},
     RunStatus.OLE),
    ({"stderr_overflow": True}, RunStatus.OLE),
    ({"killed": KillReason.REQUESTED, "exit_code": None, "signal": 9}, RunStatus.RE),
])
def test_rules(facts: dict[str, object], expected: RunStatus) -> None:
    status, reason = classify(obs(**facts), LIM)
    assert status is expected
    assert reason


def test_markers_never_turn_a_success_into_anything() -> None:
    status, _ = classify(obs(stderr_tail=b"MemoryError"), LIM)
    assert status is RunStatus.OK


@pytest.mark.parametrize(("facts", "expected"), [
    # TLE outranks MLE, OLE and RE.
    ({"killed": KillReason.CPU_TIME, "oom_killed": True, "stdout_overflow": True,
      "exit_code": None, "signal": 9}, RunStatus.TLE),
    # MLE outranks OLE and RE.
    ({"oom_killed": True, "stdout_overflow": True, "exit_code": None, "signal": 9},
     RunStatus.MLE),
    # OLE outranks RE.
    ({"stdout_overflow": True, "exit_code": 1}, RunStatus.OLE),
])
def test_priority(facts: dict[str, object], expected: RunStatus) -> None:
    assert classify(obs(**facts), LIM)[0] is expected


def test_worst_status_order() -> None:
    order = [RunStatus.OK, RunStatus.RE, RunStatus.OLE, RunStatus.MLE, RunStatus.TLE,
             RunStatus.CE, RunStatus.SE]
    for i, low in enumerate(order):
        for high in order[i:]:
            assert worst_status(low, high) is high
    assert worst_status() is RunStatus.OK

"""Value types validate what they are given, with messages that name the field."""

from __future__ import annotations

import math

import pytest

from codeeval.errors import InputError
from codeeval.model.run import FileSpec, Job, Limits, RunResult, RunStatus


@pytest.mark.parametrize(("field", "value"), [
    ("time_s", -1), ("time_s", 0), ("time_s", math.inf), ("time_s", math.nan),
    ("wall_time_s", -2.0), ("memory_mb", 0), ("memory_mb", 1.5), ("processes", -3),
    ("stdout_bytes", 0), ("cpus", 0), ("memory_mb", True),
])
def test_bad_limits_are_input_errors(field: str, value: object) -> None:
    with pytest.raises(InputError, match=field):
        Limits(**{field: value})  # type: ignore[arg-type]


def test_default_wall_limit_follows_cpu_limit() -> None:
    assert Limits(time_s=2.0).wall_s == 5.0
    assert Limits(time_s=2.0, wall_time_s=3.0).wall_s == 3.0


@pytest.mark.parametrize("path", ["/etc/passwd", "../x", "a/../../b", "", "."])
def test_job_paths_must_stay_inside(path: str) -> None:
    with pytest.raises(InputError):
        Job(command=("true",), files={path: FileSpec(b"")})
    with pytest.raises(InputError):
        Job(command=("true",), outputs=(path,))


def test_job_needs_a_command() -> None:
    with pytest.raises(InputError):
        Job(command=())


def test_result_json_matches_the_contract() -> None:
    r = RunResult(status=RunStatus.RE, exit_code=None, signal=11, cpu_time_s=0.123456,
                  wall_time_s=0.2, peak_memory_mb=3.14159, stdout=b"\xffa", stderr=b"e")
    j = r.to_json()
    assert set(j) >= {"status", "exit_code", "signal", "cpu_time_s", "wall_time_s",
                      "peak_memory_mb", "stdout", "stderr", "stdout_truncated",
                      "stderr_truncated"}
    assert j["status"] == "RE"
    assert j["signal"] == 11
    assert j["stdout"] == "\\xffa"

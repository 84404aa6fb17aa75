"""Settings come from an environment mapping, with clear errors for bad values."""

from __future__ import annotations

import pytest

from codeeval.config import Settings
from codeeval.errors import InputError


def test_defaults() -> None:
    s = Settings.from_env({})
    assert s.backend == "namespace"
    assert s.cgroups is True


def test_values_are_read() -> None:
    s = Settings.from_env({"CODEEVAL_BACKEND": "local", "CODEEVAL_UID_BASE": "70000",
                           "CODEEVAL_CGROUPS": "off"})
    assert (s.backend, s.uid_base, s.cgroups) == ("local", 70000, False)


def test_heavy_modules_of_the_second_fork_server() -> None:
    assert Settings.from_env({}).forkserver_heavy == ("numpy", "scipy", "requests", "flask")
    s = Settings.from_env({"CODEEVAL_FORKSERVER_HEAVY": " numpy, pandas,numpy,scipy.stats "})
    assert s.forkserver_heavy == ("numpy", "pandas", "scipy.stats")
    for off in ("", "none", "None"):
        assert Settings.from_env({"CODEEVAL_FORKSERVER_HEAVY": off}).forkserver_heavy == ()


@pytest.mark.parametrize("env", [
    {"CODEEVAL_UID_BASE": "abc"}, {"CODEEVAL_UID_BASE": "0"}, {"CODEEVAL_CGROUPS": "maybe"},
    {"CODEEVAL_FORKSERVER_HEAVY": "numpy,os.path;rm"}, {"CODEEVAL_FORKSERVER_HEAVY": "a..b"},
])
def test_bad_values(env: dict[str, str]) -> None:
    with pytest.raises(InputError, match="CODEEVAL_"):
        Settings.from_env(env)

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


@pytest.mark.parametrize("env", [
    {"CODEEVAL_UID_BASE": "abc"}, {"CODEEVAL_UID_BASE": "0"}, {"CODEEVAL_CGROUPS": "maybe"},
])
def test_bad_values(env: dict[str, str]) -> None:
    with pytest.raises(InputError, match="CODEEVAL_"):
        Settings.from_env(env)

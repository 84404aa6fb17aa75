"""Backend selection: the local backend is never reached without an explicit choice."""

from __future__ import annotations

import pytest

from codeeval.config import Settings
from codeeval.errors import UnknownBackendError, UnsafeBackendRefused
from codeeval.sandbox import backend_factory, backend_names, open_backend
from codeeval.sandbox.local import LocalBackend


def test_local_backend_refuses_without_explicit_trust() -> None:
    with pytest.raises(UnsafeBackendRefused, match="explicitly"):
        LocalBackend()
    with pytest.raises(UnsafeBackendRefused):
        backend_factory("local")()


def test_naming_local_is_the_explicit_choice() -> None:
    assert isinstance(open_backend("local"), LocalBackend)
    assert isinstance(open_backend(None, Settings(backend="local")), LocalBackend)


def test_registry() -> None:
    assert {"namespace", "local"} <= set(backend_names())
    with pytest.raises(UnknownBackendError, match="available"):
        open_backend("moon")

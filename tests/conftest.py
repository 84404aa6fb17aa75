"""Shared fixtures: backends to test, and where the shared data lives."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``, or skip when the checkout has no ``../shared`` beside it."""
    data = SHARED / "data"
    if not data.is_dir():
        pytest.skip(f"shared data not found at {data} (clone with ../shared beside it)")
    return data

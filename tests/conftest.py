"""Shared pytest fixtures: paths to the reference data beside the checkout and to the repo."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture
def repo_dir() -> Path:
    """The repository root."""
    return REPO


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` (real reference files); the test is skipped, visibly, where it is absent."""
    data = SHARED / "data"
    if not data.is_dir():
        pytest.skip(f"reference data not found at {data} (../shared beside the checkout)")
    return data

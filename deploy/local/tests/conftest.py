"""Fixtures for the devstack tests: tmp state, free ports, a shared jar cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dsr_devstack import find_repo_root


@pytest.fixture(scope="session")
def jar_cache() -> Path:
    """One Kafka jar cache for every test run (git-ignored), so the Maven
    fetch happens once rather than per test."""
    env = os.environ.get("DSR_DEVSTACK_CACHE")
    if env:
        return Path(env)
    return find_repo_root(Path(__file__).parent) / ".devstack" / "cache"


@pytest.fixture
def cleanup():
    """Register parts to stop at teardown, so a failing test leaves no
    process behind."""
    parts = []
    yield parts.append
    for part in reversed(parts):
        part.stop()

"""Fixtures for the devstack tests: tmp state, free ports, a shared jar cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsr_devstack import cache_root, find_repo_root


@pytest.fixture(scope="session")
def jar_cache() -> Path:
    """One Kafka jar cache for every test run (git-ignored), so the Maven
    fetch happens once rather than per test."""
    return cache_root(find_repo_root(Path(__file__).parent))


@pytest.fixture
def cleanup():
    """Register parts to stop at teardown, so a failing test leaves no
    process behind."""
    parts = []
    yield parts.append
    for part in reversed(parts):
        part.stop()

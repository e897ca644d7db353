"""Fixtures of the rewrite tests."""

import pytest

from snaprewrite.rewrite import parallel


@pytest.fixture
def forking(monkeypatch):
    """forking lets split_map fork for a handful of items, on any machine."""
    monkeypatch.setattr(parallel, "SPLIT_LEAST", 1)
    monkeypatch.setattr(parallel, "SPLIT_CHUNK", 3)
    monkeypatch.setattr(parallel, "cpus", lambda: 2)
    monkeypatch.delenv("SNAPREWRITE_NO_FORK", raising=False)

"""Fixtures shared by the state tests; plain helpers are in tests/state/helpers.py."""

from __future__ import annotations

import pytest

import coursemall.db


@pytest.fixture
def engine(sqlite_engine, monkeypatch):
    """The test database, also where the states' own `coursemall.db.get_engine()` leads."""
    monkeypatch.setattr(coursemall.db, "get_engine", lambda: sqlite_engine)
    return sqlite_engine

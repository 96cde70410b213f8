"""GET /api/health reports the database status: 200 when it answers, 503 'degraded' when not."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from coursemall import db, settings
from coursemall.api import build_api


@pytest.fixture
def app_with_db(monkeypatch):
    """build_api() with COURSEMALL_DB_URL set to the given URL (settings and engine rebuilt)."""

    def make(url: str) -> TestClient:
        monkeypatch.setenv("COURSEMALL_DB_URL", url)
        settings.get_settings.cache_clear()
        db.get_engine.cache_clear()
        return TestClient(build_api())

    yield make
    settings.get_settings.cache_clear()
    db.get_engine.cache_clear()


def test_health_ok_on_sqlite(app_with_db, tmp_path):
    client = app_with_db(f"sqlite:///{tmp_path / 'health.db'}")
    resp = client.get("/api/health")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert body["database"]["dialect"] == "sqlite"


def test_health_degraded_when_database_unreachable(app_with_db, tmp_path):
    missing = tmp_path / "no" / "such" / "dir" / "x.db"  # SQLite cannot create the folder
    client = app_with_db(f"sqlite:///{missing}")
    resp = client.get("/api/health")
    assert resp.status_code == 503
    body = resp.json()
    assert body["status"] == "degraded"
    assert body["database"]["status"] == "error"
    # The error names the failure kind only: no URL, path or password in the answer.
    assert str(missing) not in resp.text


def test_health_degraded_when_postgres_refuses(app_with_db):
    client = app_with_db("postgresql://nobody:secret-pw@127.0.0.1:1/none")
    resp = client.get("/api/health")
    assert resp.status_code == 503
    assert resp.json()["status"] == "degraded"
    assert "secret-pw" not in resp.text


def test_health_is_get_only(app_with_db, tmp_path):
    client = app_with_db(f"sqlite:///{tmp_path / 'health.db'}")
    assert client.post("/api/health").status_code == 405

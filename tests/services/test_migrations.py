"""Committed migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlmodel import SQLModel

import coursemall.models  # noqa: F401
from coursemall.settings import PROJECT_ROOT


def _upgrade(connection) -> None:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


def _assert_no_drift(connection) -> None:
    ctx = MigrationContext.configure(connection, opts={"compare_type": True})
    diffs = compare_metadata(ctx, SQLModel.metadata)
    assert diffs == [], f"models and migrations differ; run alembic revision --autogenerate: {diffs}"


def test_migrations_match_models_on_sqlite(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.connect() as conn:
        _upgrade(conn)
    with engine.connect() as conn:
        _assert_no_drift(conn)
        # upgrading again is a no-op
        _upgrade(conn)


@pytest.mark.pg
def test_migrations_match_models_on_postgresql(pg_url):
    schema = "migration_check"
    admin = create_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine = create_engine(pg_url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        with engine.connect() as conn:
            _upgrade(conn)
        with engine.connect() as conn:
            _assert_no_drift(conn)
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()

"""Committed migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
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


# ---------------------------------------------------------------------------------- abffc0d23883

def _migrate(connection, revision: str, *, down: bool = False) -> None:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    cfg.attributes["connection"] = connection
    (command.downgrade if down else command.upgrade)(cfg, revision)


def _page_views_get_their_day_and_lose_duplicates(engine) -> None:
    """Rows written before the unique key (several web workers each kept their own dedupe set)
    get their China day; repeats of a (visitor, kind, course, day) go, the first kept."""
    with engine.connect() as conn:
        _migrate(conn, "a7c3e9d1f2b4")
    rows = [  # id, kind, course, visitor, created_at (UTC)
        (1, "list", 7, "aX", "2026-03-09 03:00:00"),
        (2, "list", 7, "aX", "2026-03-09 15:59:59"),  # 23:59:59 China: the same day as 1 -> deleted
        (3, "list", 7, "aX", "2026-03-09 16:00:00"),  # 00:00 China on the 10th: kept
        (4, "detail", 7, "aX", "2026-03-09 04:00:00"),  # another kind: kept
        (5, "list", 8, "aX", "2026-03-09 04:00:00"),  # another course: kept
        (6, "list", 7, "aY", "2026-03-09 04:00:00"),  # another visitor: kept
        (7, "list", 7, "aX", "2026-03-09 05:00:00"),  # a third copy of 1 -> deleted
        (8, "list", None, "aX", "2026-03-09 05:00:00"),  # no course: kept as it is
        (9, "list", None, "aX", "2026-03-09 06:00:00"),
    ]
    with engine.begin() as conn:
        for id_, kind, course, visitor, at in rows:
            conn.execute(text("INSERT INTO page_views (id, kind, course_id, user_id, visitor, created_at) "
                              "VALUES (:i, :k, :c, NULL, :v, :a)"),
                         {"i": id_, "k": kind, "c": course, "v": visitor,
                          "a": at if engine.dialect.name == "sqlite" else at + "+00"})
    with engine.connect() as conn:
        _migrate(conn, "abffc0d23883")
    with engine.connect() as conn:
        got = [(i, str(d)) for i, d in conn.execute(text("SELECT id, day FROM page_views ORDER BY id"))]
    assert got == [(1, "2026-03-09"), (3, "2026-03-10"), (4, "2026-03-09"), (5, "2026-03-09"),
                   (6, "2026-03-09"), (8, "2026-03-09"), (9, "2026-03-09")]
    with engine.connect() as conn:
        _assert_no_drift(conn)
        with pytest.raises(IntegrityError):  # the key holds from now on
            conn.execute(text("INSERT INTO page_views (kind, course_id, visitor, created_at, day) "
                              "SELECT kind, course_id, visitor, created_at, day FROM page_views WHERE id = 1"))
        conn.rollback()
    with engine.connect() as conn:  # and the migration goes back
        _migrate(conn, "a7c3e9d1f2b4", down=True)
    with engine.connect() as conn:
        assert "day" not in {c["name"] for c in sa_inspect(conn).get_columns("page_views")}


def test_page_view_migration_on_sqlite(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        _page_views_get_their_day_and_lose_duplicates(engine)
    finally:
        engine.dispose()


@pytest.mark.pg
def test_page_view_migration_on_postgresql(pg_url):
    schema = "migration_page_views"
    admin = create_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine = create_engine(pg_url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        _page_views_get_their_day_and_lose_duplicates(engine)
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()

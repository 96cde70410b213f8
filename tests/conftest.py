"""Shared fixtures.

`db_engine` runs each service test twice: on a fresh SQLite file and on PostgreSQL
(COURSEMALL_TEST_PG_URL, default the machine's `test` database). Under CI=true a missing
PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Tests never touch the developer's data dir.
_TEST_DATA = ROOT / "data" / "pytest"
os.environ.setdefault("COURSEMALL_DATA_DIR", str(_TEST_DATA))
os.environ.setdefault("COURSEMALL_SECRET_KEY", "test-secret-key-" + "x" * 32)
# A production shop is the settings' default; the tests run the demo shop (sandbox cashier, outbox,
# demo seed) unless a test builds production settings itself (load_settings with its own env).
os.environ["COURSEMALL_DEMO"] = "1"

from sqlalchemy import text  # noqa: E402
from sqlmodel import Session, SQLModel  # noqa: E402

import coursemall.models  # noqa: E402,F401
from coursemall.db import make_engine  # noqa: E402

PG_URL = os.environ.get("COURSEMALL_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _pg_unreachable(exc: Exception):
    if IN_CI:
        pytest.fail(f"PostgreSQL must run under CI=true but is unreachable: {exc}")
    pytest.skip(f"PostgreSQL not reachable at {PG_URL}")


@pytest.fixture(scope="session")
def pg_url():
    """A private database for this test run, created from PG_URL and dropped afterwards, so
    concurrent runs (a developer and CI, parallel helpers) never truncate each other's tables."""
    from sqlalchemy.engine import make_url

    base = make_url(PG_URL)
    name = f"cm_test_{os.getpid()}"
    admin = make_engine(PG_URL).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        _pg_unreachable(exc)
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def _pg_engine(pg_url):
    engine = make_engine(pg_url)
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


def _truncate(engine) -> None:
    tables = list(reversed(SQLModel.metadata.sorted_tables))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def db_engine(request, tmp_path):
    """A clean database with every table, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
        SQLModel.metadata.create_all(engine)
        yield engine
        engine.dispose()
    else:
        engine = request.getfixturevalue("_pg_engine")
        _truncate(engine)
        yield engine
        _truncate(engine)


@pytest.fixture
def sqlite_engine(tmp_path):
    """SQLite only, for tests of things that do not depend on the database kind."""
    engine = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(db_engine):
    with Session(db_engine, expire_on_commit=False) as s:
        yield s

"""Threat: an account that was frozen, signed out everywhere or had its password changed keeps
acting through a websocket it opened before.

States resolve the actor from the session cookie of the websocket handshake. Every `_actor_id()`
re-checks the server-side session (AppState), so the next state-changing event after a revocation
is refused with "please sign in" and changes nothing. The check is one indexed query.
"""

from __future__ import annotations

import pytest
from sqlalchemy import event, update
from sqlmodel import Session, func, select

import coursemall.db
import coursemall.pages  # noqa: F401  (registers every state)
from coursemall.models import LessonComment, User
from coursemall.services.dashboard import leak
from coursemall.services.accounts import sessions
from coursemall.services.accounts.passwords import hash_password
from coursemall.state.accounts.sign_in import ProfileState
from coursemall.state.base import AppState
from coursemall.state.community.community import LessonCommentsState
from tests.services.learning_fixture import make_world
from tests.state.community.test_community_state import lesson_state
from tests.state.helpers import call, page_state

PW = "learner-pass-1"
SIGN_IN_FIRST = "请先登录"


@pytest.fixture
def engine(sqlite_engine, monkeypatch):
    monkeypatch.setattr(coursemall.db, "get_engine", lambda: sqlite_engine)
    return sqlite_engine


@pytest.fixture
def w(engine):
    with Session(engine, expire_on_commit=False) as s:
        world = make_world(s)
        s.exec(update(User).where(User.id == world.buyer).values(password_hash=hash_password(PW)))
        world.open_tab = f"cm_lang=zh_CN; cm_session={sessions.create_session(s, user_id=world.buyer)}"
        world.other_device = f"cm_lang=zh_CN; cm_session={sessions.create_session(s, user_id=world.buyer)}"
        world.staff_cookie = f"cm_session={sessions.create_session(s, user_id=world.owner, mfa_verified=True)}"
        s.commit()
    world.cookies = {world.buyer: world.open_tab}
    return world


def _comments(engine) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(LessonComment)).one()


async def _open_tab(w):
    """The learner's lesson page, open before anything happens; posting works."""
    tab = lesson_state(w, w.buyer)
    await call(tab, "post_comment", {"text": "第一条"})
    assert tab.error == "" and _comments(tab_engine(w)) == 1
    return tab


def tab_engine(w):
    return coursemall.db.get_engine()


async def _refused_next_write(w, tab) -> None:
    await call(tab, "post_comment", {"text": "还想再发"})
    assert tab.error == SIGN_IN_FIRST
    assert _comments(tab_engine(w)) == 1


async def test_sign_out_everywhere_stops_the_open_tab(engine, w):
    tab = await _open_tab(w)
    other = page_state(ProfileState, w.other_device, "/me")
    await call(other, "sign_out_everywhere")
    await _refused_next_write(w, tab)


async def test_freeze_stops_the_open_tab(engine, w):
    tab = await _open_tab(w)
    with Session(engine) as s:
        leak.freeze_account(s, actor_id=w.owner, user_id=w.buyer, reason="分享账号")
        s.commit()
    await _refused_next_write(w, tab)


async def test_deactivation_alone_stops_the_open_tab(engine, w):
    """Even without revoking sessions, an inactive account's session no longer resolves."""
    tab = await _open_tab(w)
    with Session(engine) as s:
        s.exec(update(User).where(User.id == w.buyer).values(is_active=False))
        s.commit()
    await _refused_next_write(w, tab)


async def test_password_change_elsewhere_stops_the_open_tab(engine, w):
    tab = await _open_tab(w)
    other = page_state(ProfileState, w.other_device, "/me")
    await call(other, "change_password", {"old_password": PW, "new_password": "brand-new-pass-2"})
    assert other.error == "" and other.success
    await _refused_next_write(w, tab)
    # the device that changed the password keeps working
    w.cookies = {w.buyer: w.other_device}
    still = lesson_state(w, w.buyer)
    await call(still, "post_comment", {"text": "我还在"})
    assert still.error == "" and _comments(engine) == 2


async def test_the_check_is_one_indexed_query(engine, w):
    tab = lesson_state(w, w.buyer)
    tab._actor_id()  # warm up: imports, connection pool
    statements: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, *_args):
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        for _ in range(3):
            assert tab._actor_id() == w.buyer
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(statements) == 3  # one per check: no cache, no extra round trip
    sql, params = statements[0]
    assert "user_sessions.token_hash = " in sql and "JOIN users" in sql
    with Session(engine) as s:  # served by the UNIQUE index on token_hash and the users primary key
        plan = [str(r) for r in s.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()]
    assert any("user_sessions USING INDEX" in p for p in plan), plan
    assert any("users USING INTEGER PRIMARY KEY" in p for p in plan), plan


async def test_header_read_may_reuse_a_recent_check(engine, w):
    """load_viewer (read-only header) may reuse a check for a few seconds; writes never do."""
    tab = page_state(LessonCommentsState, w.open_tab, "/lesson/[lesson_id]", {"lesson_id": str(w.paid)})
    AppState.load_viewer.fn(tab)
    assert tab.signed_in
    with Session(engine) as s:
        sessions.revoke_all_sessions(s, user_id=w.buyer)
        s.commit()
    await call(tab, "post_comment", {"text": "写操作总是重新检查"})
    assert tab.error == SIGN_IN_FIRST and _comments(engine) == 0


async def test_heartbeat_check_runs_off_the_event_loop_and_sees_revocation(engine, w):
    """The player's heartbeat (every 10 s) uses the same check in a worker thread."""
    tab = lesson_state(w, w.buyer)
    assert await tab._actor_id_off_loop() == w.buyer
    with Session(engine) as s:
        sessions.revoke_all_sessions(s, user_id=w.buyer)
        s.commit()
    assert await tab._actor_id_off_loop() is None and tab._user_id is None

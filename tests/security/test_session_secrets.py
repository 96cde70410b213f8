"""Threat: session theft through the frontend. The session token, its hash, the Cookie header and
password hashes never appear in what the browser receives from the state."""

from __future__ import annotations

import json

import pytest
from reflex_base.utils.format import json_dumps
from sqlmodel import Session, select

import coursemall.db
from coursemall.models.accounts import User, UserSession
from coursemall.services.accounts import sessions, users
from coursemall.state.accounts.sign_in import ProfileState
from coursemall.state.base import AppState
from tests.state.helpers import call, make_state


@pytest.fixture
def engine(sqlite_engine, monkeypatch):
    monkeypatch.setattr(coursemall.db, "get_engine", lambda: sqlite_engine)
    return sqlite_engine


async def test_frontend_state_carries_no_session_secret(engine):
    with Session(engine, expire_on_commit=False) as s:
        user = users.register_user(s, account="sec@example.com", password="pass-word-1",
                                      nickname="Sec")
        token = sessions.create_session(s, user_id=user.id)
        s.commit()
        pw_hash = s.get(User, user.id).password_hash
        token_hash = s.exec(select(UserSession.token_hash)).one()
    state = make_state(ProfileState, cookie=f"cm_session={token}; other=1")
    await call(state, "load_profile")
    assert state.signed_in and state.device_sessions
    root = state
    while root.parent_state is not None:
        root = root.parent_state
    # What Reflex sends: the full frontend state dict and the delta of dirty vars.
    payloads = [json_dumps(root.dict()), json_dumps(await root._get_resolved_delta())
                if hasattr(root, "_get_resolved_delta") else json_dumps(root.get_delta())]
    for payload in payloads:
        for secret in (token, token_hash, pw_hash, "cm_session"):
            assert secret not in payload
        assert "argon2" not in payload
    # the identity stays in backend vars only
    assert root.get_substate(AppState.get_full_name().split(".")[1:])._user_id == user.id


def test_session_cookie_is_not_a_client_storage_var():
    """rx.Cookie vars are readable by JavaScript; the session cookie must not be one of them."""
    from reflex.istate.storage import Cookie

    for name, field in AppState.get_fields().items():
        default = field.default
        if isinstance(default, Cookie):
            assert getattr(default, "name", name) != sessions.SESSION_COOKIE

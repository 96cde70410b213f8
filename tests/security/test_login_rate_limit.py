"""Threat: password guessing. Sign-in is limited per account and per IP, for passwords and codes,
and the user sees 'try again in N minutes'."""

from __future__ import annotations

import pytest
from sqlmodel import Session

import coursemall.db
from coursemall.services import accounts
from coursemall.services.rate_limit import IP_FACTOR
from coursemall.settings import get_settings
from coursemall.state.auth import CodeSignInState, SignInState
from tests.state.test_auth_state import call, make_state

PW = "pass-word-1"


@pytest.fixture
def engine(sqlite_engine, monkeypatch):
    monkeypatch.setattr(coursemall.db, "get_engine", lambda: sqlite_engine)
    with Session(sqlite_engine) as s:
        accounts.register_user(s, account="rl@example.com", password=PW, nickname="RL")
        s.commit()
    return sqlite_engine


async def test_account_blocked_after_max_fails_even_with_right_password(engine):
    max_fails = get_settings().login_max_fails
    for i in range(max_fails):
        state = make_state(SignInState, ip=f"10.0.0.{i}")  # different IPs: the account limit
        await call(state, "sign_in", {"account": "rl@example.com", "password": "guess-" + str(i)})
        assert state.error == "账号或密码错误"
    state = make_state(SignInState, ip="10.0.1.1")
    result = await call(state, "sign_in", {"account": "rl@example.com", "password": PW})
    assert result is None
    assert state.error.startswith("尝试次数过多，请 ") and state.error.endswith(" 分钟后再试")


async def test_code_guesses_count_towards_the_same_limit(engine):
    max_fails = get_settings().login_max_fails
    state = make_state(CodeSignInState)
    await call(state, "set_account", "rl@example.com")
    await call(state, "send_code")
    for _ in range(max_fails):
        await call(state, "sign_in_with_code", {"code": "000000"})
    await call(state, "sign_in_with_code", {"code": "000000"})
    assert "尝试次数过多" in state.error or "验证码错误次数过多" in state.error
    pw_state = make_state(SignInState)
    await call(pw_state, "sign_in", {"account": "rl@example.com", "password": PW})
    assert "尝试次数过多" in pw_state.error


async def test_ip_blocked_when_spraying_accounts(engine):
    limit = get_settings().login_max_fails * IP_FACTOR
    for i in range(limit):
        state = make_state(SignInState, ip="192.0.2.7")
        await call(state, "sign_in", {"account": f"u{i}@example.com", "password": "password1"})
    state = make_state(SignInState, ip="192.0.2.7")
    await call(state, "sign_in", {"account": "rl@example.com", "password": PW})
    assert "尝试次数过多" in state.error
    state = make_state(SignInState, ip="192.0.2.8")
    result = await call(state, "sign_in", {"account": "rl@example.com", "password": PW})
    assert state.error == "" and "/api/auth/complete" in str(result)

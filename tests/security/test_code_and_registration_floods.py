"""Threat: floods of sign-ups (argon2 + a row each), one-time codes (a mail or SMS each, to any
address) and password resets, from one address or aimed at one target; and comment/note spam.

All go through the one database-backed limiter (services/rate_limit.py), called by the services,
so every web worker gives the same answer. The user sees how long to wait, in their language,
and nothing else happens (no row, no message sent).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import Session, func, select

import coursemall.db
from coursemall.models.accounts import OneTimeCode, OutboxMessage, User
from coursemall.services.accounts import users
from coursemall.state.accounts.sign_in import CodeSignInState, RegisterState, ResetPasswordState
from tests.state.helpers import call, make_state

PW = "pass-word-1"
WAIT = re.compile(r"^.+，请 \d+ (秒|分钟|小时)后再试$")


@pytest.fixture
def engine(sqlite_engine, monkeypatch):
    monkeypatch.setattr(coursemall.db, "get_engine", lambda: sqlite_engine)
    return sqlite_engine


def count(engine, model) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(model)).one()


async def test_registrations_are_limited_per_ip(engine):
    for i in range(20):
        state = make_state(RegisterState, ip="198.51.100.20")
        await call(state, "register", {"account": f"bot{i}@example.com", "nickname": f"Bot{i}", "password": PW})
        assert state.error == "", state.error
    state = make_state(RegisterState, ip="198.51.100.20")
    await call(state, "register", {"account": "bot99@example.com", "nickname": "Bot", "password": PW})
    assert state.error.startswith("注册过于频繁，请 ") and WAIT.match(state.error)
    assert count(engine, User) == 20
    other = make_state(RegisterState, ip="198.51.100.21")  # a neighbour is not affected
    await call(other, "register", {"account": "human@example.com", "nickname": "Human", "password": PW})
    assert other.error == "" and count(engine, User) == 21


async def test_probing_one_address_by_registering_is_limited(engine):
    """'e-mail taken' answers tell whether an account exists: a target gets 5 tries an hour."""
    with Session(engine) as s:
        users.register_user(s, account="victim@example.com", password=PW, nickname="V")
        s.commit()
    errors = []
    for i in range(6):
        state = make_state(RegisterState, ip=f"10.20.0.{i}")
        await call(state, "register", {"account": "victim@example.com", "nickname": "X", "password": PW})
        errors.append(state.error)
    assert errors[:4] == ["该邮箱已注册，请直接登录"] * 4  # the first of five was the real sign-up
    assert WAIT.match(errors[5]) and "注册过于频繁" in errors[5]


def _past_the_resend_cooldown(engine) -> None:
    """Age the codes by a minute: the 60-second resend cooldown is not what these tests check."""
    with Session(engine) as s:
        for row in s.exec(select(OneTimeCode)).all():
            row.created_at = row.created_at - timedelta(seconds=61)
            s.add(row)
        s.commit()


async def test_codes_to_one_address_are_limited(engine):
    with Session(engine) as s:
        users.register_user(s, account="target@example.com", password=PW, nickname="T")
        s.commit()
    sent = []
    for i in range(6):  # different IPs
        _past_the_resend_cooldown(engine)
        state = make_state(CodeSignInState, ip=f"10.30.0.{i}")
        await call(state, "set_account", "target@example.com")
        await call(state, "send_code")
        sent.append(state.error or "ok")
    assert sent[:5] == ["ok"] * 5
    assert sent[5].startswith("验证码请求过于频繁，请 ") and WAIT.match(sent[5])
    assert count(engine, OutboxMessage) == 5  # the sixth mail was never sent


async def test_codes_from_one_ip_are_limited_across_addresses(engine):
    results = []
    for i in range(21):
        state = make_state(CodeSignInState, ip="203.0.113.99")
        await call(state, "set_account", f"someone{i}@example.com")
        await call(state, "send_code")
        results.append(state.error)
    assert results[:20] == [""] * 20 and "验证码请求过于频繁" in results[20]
    assert count(engine, OneTimeCode) == 20


async def test_password_resets_are_limited(engine):
    with Session(engine) as s:
        users.register_user(s, account="reset@example.com", password=PW, nickname="R")
        s.commit()
    errors = []
    for i in range(11):
        state = make_state(ResetPasswordState, ip=f"10.40.0.{i}")
        await call(state, "set_account", "reset@example.com")
        await call(state, "reset_password", {"code": "123456", "password": "new-pass-word-9"})
        errors.append(state.error)
    assert all(e and "重置密码" not in e for e in errors[:10])  # wrong/expired code messages
    assert "重置密码的尝试过多" in errors[10] and WAIT.match(errors[10])


async def test_english_viewers_get_the_wait_in_english(engine):
    for i in range(20):
        state = make_state(CodeSignInState, ip="203.0.113.98")
        await call(state, "set_account", f"en{i}@example.com")
        await call(state, "send_code")
    state = make_state(CodeSignInState, cookie="cm_lang=en", ip="203.0.113.98")
    state.lang = "en"
    await call(state, "set_account", "en99@example.com")
    await call(state, "send_code")
    assert re.match(r"^Too many code requests, try again in \d+ (seconds|minutes|hours)$", state.error)

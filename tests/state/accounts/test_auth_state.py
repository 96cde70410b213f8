"""Account states called directly, as a browser could: wrong types, huge strings, no session.

A root state is built the way Reflex builds it under pytest, with router data carrying the
websocket handshake's Cookie header; handlers are invoked through their functions.
"""

from __future__ import annotations

import io
import re

import pytest
import reflex as rx
from PIL import Image
from sqlmodel import Session, func, select

import coursemall.pages  # noqa: F401  (registers every state)
from coursemall.models.accounts import LoginAttempt, OneTimeCode, User, UserSession
from coursemall.services.accounts import sessions, users
from coursemall.state import base as base_state
from coursemall.state.accounts.sign_in import (CodeSignInState, OutboxState, ProfileState, RegisterState,
                                   ResetPasswordState, SignInState)
from coursemall.state.base import AppState
from tests.state.helpers import call, cookie_for, make_state

BAD_VALUES = [None, 42, ["a"], {"nested": {"x": 1}}, "x" * 100_000]
PW = "pass-word-1"


def counts(engine) -> dict[str, int]:
    with Session(engine) as s:
        return {m.__name__: s.exec(select(func.count()).select_from(m)).one()
                for m in (User, UserSession, LoginAttempt, OneTimeCode)}


def make_user(engine, account="st@example.com") -> int:
    with Session(engine, expire_on_commit=False) as s:
        view = users.register_user(s, account=account, password=PW, nickname="状态")
        s.commit()
        return view.id


def is_navigation_to(result, prefix: str) -> bool:
    return prefix in str(result)


# ---- bad input: a clear message, nothing changed ------------------------------------------

@pytest.mark.parametrize("bad", BAD_VALUES + [{"account": ["x"], "password": {"a": 1}}])
async def test_sign_in_bad_payload(engine, bad):
    make_user(engine)
    before = counts(engine)
    state = make_state(SignInState)
    result = await call(state, "sign_in", bad)
    assert result is None and state.error in ("请输入有效的邮箱或 11 位手机号", "请输入密码")
    assert counts(engine) == before


@pytest.mark.parametrize("field", ["account", "nickname", "password"])
@pytest.mark.parametrize("bad", BAD_VALUES)
async def test_register_bad_field(engine, field, bad):
    form = {"account": "new@example.com", "nickname": "新人", "password": PW, field: bad}
    state = make_state(RegisterState)
    assert await call(state, "register", form) is None
    assert state.error and not state.success
    assert counts(engine)["User"] == 0


async def test_register_duplicate_shows_message(engine):
    make_user(engine)
    state = make_state(RegisterState)
    await call(state, "register", {"account": "ST@example.com", "nickname": "x", "password": PW})
    assert state.error == "该邮箱已注册，请直接登录"
    assert counts(engine)["User"] == 1


async def test_register_signs_in_through_a_ticket(engine):
    state = make_state(RegisterState)
    result = await call(state, "register",
                        {"account": "13700137000", "nickname": " 小明 ", "password": PW})
    assert state.error == ""
    url = re.search(r'/api/auth/complete\?ticket=[\w\-]+&next=[^"]+', str(result)).group(0)
    assert "next=%2Fcourse%2F1" in url or "next=%2Fme" in url
    assert counts(engine)["User"] == 1 and counts(engine)["UserSession"] == 0


async def test_wrong_password_message_in_english(engine):
    make_user(engine)
    state = make_state(SignInState)
    state.lang = "en"
    await call(state, "sign_in", {"account": "st@example.com", "password": "wrong-one"})
    assert state.error == "Wrong account or password"


@pytest.mark.parametrize("bad", BAD_VALUES)
async def test_code_states_bad_input(engine, bad):
    make_user(engine)
    for cls, submit in ((CodeSignInState, "sign_in_with_code"),
                        (ResetPasswordState, "reset_password")):
        state = make_state(cls)
        await call(state, "set_account", bad)
        assert state.account == "" and state.error
        await call(state, "send_code")  # empty account
        assert state.error
        await call(state, submit, bad)
        assert state.error
        await call(state, submit, {"account": "st@example.com", "code": bad, "password": bad})
        assert state.error
    assert counts(engine)["OneTimeCode"] == 0


async def test_code_sign_in_flow(engine):
    make_user(engine)
    state = make_state(CodeSignInState)
    await call(state, "set_account", "st@example.com")
    await call(state, "send_code")
    assert state.success and not state.error
    outbox = make_state(OutboxState)
    await call(outbox, "load_outbox")
    assert outbox.enabled and len(outbox.messages) == 1
    code = re.search(r"\d{6}", outbox.messages[0]["body"]).group(0)
    await call(state, "sign_in_with_code", {"code": "000000" if code != "000000" else "111111"})
    assert "还可尝试" in state.error
    result = await call(state, "sign_in_with_code", {"code": code})
    assert is_navigation_to(result, "/api/auth/complete?ticket=")


# ---- viewer resolution from the HttpOnly cookie ---------------------------------------------

async def test_load_viewer_from_cookie_and_revocation(engine, monkeypatch):
    uid = make_user(engine)
    cookie = cookie_for(engine, uid, mfa=False)
    state = make_state(AppState, cookie=cookie)
    await call(state, "load_viewer")
    assert state.signed_in and state.nickname == "状态" and state.role == "learner"
    assert state._actor_id() == uid
    # revoke elsewhere: the cache holds for CHECK_SECONDS, a fresh check sees it at once
    with Session(engine) as s:
        sessions.revoke_all_sessions(s, user_id=uid)
        s.commit()
    assert state._actor_id(fresh=True) is None
    monkeypatch.setattr(base_state, "CHECK_SECONDS", 0.0)
    await call(state, "load_viewer")
    assert not state.signed_in and state.nickname == ""


@pytest.mark.parametrize("cookie", ["", "cm_session=", "cm_session=garbage",
                                    "cm_session=" + "A" * 43, "junk;;;=;cm_session", "x" * 20000])
async def test_no_or_bad_cookie_is_anonymous(engine, cookie):
    make_user(engine)
    state = make_state(AppState, cookie=cookie)
    await call(state, "load_viewer")
    assert not state.signed_in and state._actor_id() is None


# ---- profile: needs a session; payload never names the user ------------------------------

async def test_profile_handlers_without_session_change_nothing(engine):
    uid = make_user(engine)
    state = make_state(ProfileState)
    result = await call(state, "load_profile")
    assert "/login" in str(result)
    await call(state, "save_nickname", {"nickname": "hacker"})
    await call(state, "change_password", {"old_password": PW, "new_password": "hacked-pass"})
    await call(state, "revoke_session", "1")
    await call(state, "upload_avatar", [rx.UploadFile(file=io.BytesIO(b"x"))])
    assert state.error == "请先登录"
    with Session(engine) as s:
        user = s.get(User, uid)
        assert user.nickname == "状态" and user.avatar_path == ""


@pytest.mark.parametrize("bad", BAD_VALUES)
async def test_profile_bad_payloads(engine, bad):
    uid = make_user(engine)
    state = make_state(ProfileState, cookie=cookie_for(engine, uid, mfa=False))
    await call(state, "load_profile")
    assert state.email == "st@example.com" and len(state.device_sessions) == 1
    with Session(engine) as s:
        hash_before = s.get(User, uid).password_hash
    for handler, arg in (("save_nickname", bad), ("save_nickname", {"nickname": bad}),
                         ("set_nickname_input", bad), ("change_password", bad),
                         ("change_password", {"old_password": PW, "new_password": bad}),
                         ("revoke_session", bad), ("upload_avatar", bad)):
        state.error = ""
        await call(state, handler, arg)
        assert state.error, (handler, arg)
    with Session(engine) as s:
        user = s.get(User, uid)
        assert user.nickname == "状态" and user.password_hash == hash_before
        assert user.avatar_path == ""


async def test_profile_happy_paths(engine, tmp_path, monkeypatch):
    from coursemall.settings import get_settings
    import dataclasses

    settings = dataclasses.replace(get_settings(), public_dir=tmp_path)
    monkeypatch.setattr("coursemall.services.accounts.users.get_settings", lambda: settings)
    uid = make_user(engine)
    other = make_user(engine, "other@example.com")
    other_cookie = cookie_for(engine, other, mfa=False)
    state = make_state(ProfileState, cookie=cookie_for(engine, uid, mfa=False))
    await call(state, "load_profile")
    await call(state, "save_nickname", {"nickname": "  改名了 "})
    assert state.success and state.nickname == "改名了"

    buf = io.BytesIO()
    Image.new("RGB", (500, 300), (10, 200, 10)).save(buf, format="PNG")
    buf.seek(0)
    await call(state, "upload_avatar", [rx.UploadFile(file=buf)])
    assert state.success and state.avatar_url.startswith("/api/public/avatars/")

    text_file = io.BytesIO(b"not an image at all")
    await call(state, "upload_avatar", [rx.UploadFile(file=text_file)])
    assert "无法识别的图片" in state.error

    # another user's session id cannot be revoked from here
    with Session(engine) as s:
        other_sid = s.exec(select(UserSession.id).where(UserSession.user_id == other)).one()
    await call(state, "revoke_session", str(other_sid))
    assert state.error
    other_state = make_state(AppState, cookie=other_cookie)
    assert other_state._actor_id(fresh=True) == other

    result = await call(state, "sign_out_everywhere")
    assert "/api/auth/signout" in str(result) and state._user_id is None
    assert state._actor_id(fresh=True) is None

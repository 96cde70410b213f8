"""/api/auth/complete and /api/auth/signout with Starlette's TestClient."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

import coursemall.db
from coursemall.api import auth as auth_api
from coursemall.models.accounts import UserSession
from coursemall.services.accounts import sessions, users


@pytest.fixture
def env(sqlite_engine, monkeypatch):
    monkeypatch.setattr(coursemall.db, "get_engine", lambda: sqlite_engine)
    with Session(sqlite_engine, expire_on_commit=False) as s:
        user = users.register_user(s, account="api@example.com", password="pass-word-1",
                                      nickname="Api")
        s.commit()
    client = TestClient(Starlette(routes=auth_api.ROUTES), base_url="http://localhost:3000",
                        follow_redirects=False)
    client.cookies.set(sessions.BROWSER_COOKIE, BROWSER)  # the browser that signed in
    return client, sqlite_engine, user


BROWSER = "b" * 43


def _ticket(engine, user_id) -> str:
    with Session(engine) as s:
        ticket = sessions.create_login_ticket(s, user_id=user_id, browser_hash=sessions.token_hash(BROWSER))
        s.commit()
        return ticket


def _set_cookie_headers(response) -> list[str]:
    return [v for k, v in response.headers.multi_items() if k.lower() == "set-cookie"]


def test_complete_sets_httponly_lax_cookie_and_redirects(env):
    client, engine, user = env
    r = client.get("/api/auth/complete", params={"ticket": _ticket(engine, user.id),
                                                 "next": "/course/3?x=1"},
                   headers={"user-agent": "Mozilla/5.0 (iPhone) Safari/605"})
    assert r.status_code == 303 and r.headers["location"] == "/course/3?x=1"
    cookie, device = _set_cookie_headers(r)
    assert cookie.startswith("cm_session=")
    assert device.startswith(f"cm_device={user.id}.") and "httponly" in device.lower()
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=lax" in lowered and "path=/" in lowered
    assert "secure" not in lowered  # http public URL in tests
    assert r.headers["cache-control"] == "no-store"
    token = cookie.split(";")[0].split("=", 1)[1]
    with Session(engine) as s:
        row = s.exec(select(UserSession)).one()
        assert row.token_hash == sessions.token_hash(token) and row.user_id == user.id
        assert row.user_agent.startswith("Mozilla/5.0 (iPhone)")


def test_used_ticket_redirects_to_login_without_cookie(env):
    client, engine, user = env
    ticket = _ticket(engine, user.id)
    assert client.get("/api/auth/complete", params={"ticket": ticket}).status_code == 303
    r = client.get("/api/auth/complete", params={"ticket": ticket})
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert _set_cookie_headers(r) == []


@pytest.mark.parametrize("ticket", ["", "nope", "A" * 43, "x" * 5000])
def test_bad_ticket_redirects_to_login_without_cookie(env, ticket):
    client, _engine, _user = env
    r = client.get("/api/auth/complete", params={"ticket": ticket})
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert _set_cookie_headers(r) == []


@pytest.mark.parametrize("next_value", ["//evil.com", "https://evil.com/", "/\\evil.com",
                                        "javascript:alert(1)", "evil.com", "/%0d%0aX:1",
                                        "/ok\r\nSet-Cookie: x=1"])
def test_open_redirect_refused(env, next_value):
    client, engine, user = env
    r = client.get("/api/auth/complete", params={"ticket": _ticket(engine, user.id),
                                                 "next": next_value})
    location = r.headers["location"]
    assert location.startswith("/") and not location.startswith("//")
    assert "evil.com" not in location.split("?")[0] or location.startswith("/%0d")
    assert "\n" not in location and "\r" not in location


def test_safe_next():
    assert auth_api.safe_next("/me") == "/me"
    assert auth_api.safe_next("//evil.com") == "/"
    assert auth_api.safe_next("/\\evil.com") == "/"
    assert auth_api.safe_next({"a": 1}) == "/"
    assert auth_api.safe_next("https://evil.com") == "/"


def test_signout_clears_cookie(env):
    client, _engine, _user = env
    r = client.get("/api/auth/signout")
    assert r.status_code == 303 and r.headers["location"] == "/"
    (cookie,) = _set_cookie_headers(r)
    assert cookie.startswith('cm_session=""') or cookie.startswith("cm_session=;")
    assert "max-age=0" in cookie.lower() and "httponly" in cookie.lower()

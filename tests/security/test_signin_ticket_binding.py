"""Threat: sign-in CSRF and leaked tickets. A sign-in ticket minted in one browser (an attacker's)
must not complete in another (the victim's, which would then act as the attacker), nor anywhere a
leaked link is opened.

Every browser holds a random secret in the HttpOnly `cm_browser` cookie (given with its first page);
the sign-in handler reads it from the websocket handshake and stores its hash on the ticket;
/api/auth/complete redeems the ticket only with the same secret.
"""

from __future__ import annotations

import pytest
from sqlmodel import Session, func, select
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

import coursemall.db
from coursemall.api import auth as auth_api
from coursemall.api.browser_cookie import BrowserCookieMiddleware
from coursemall.domain.errors import DomainError
from coursemall.models.accounts import LoginAttempt, LoginTicket, UserSession
from coursemall.models.limits import RateCounter
from coursemall.services.accounts import sessions, users
from coursemall.state.accounts.sign_in import RegisterState, SignInState
from tests.state.helpers import BROWSER, call, make_state

PW = "pass-word-1"
ATTACKER = "attacker-" + "a" * 40
VICTIM = "victim-" + "v" * 40


@pytest.fixture
def engine(sqlite_engine, monkeypatch):
    monkeypatch.setattr(coursemall.db, "get_engine", lambda: sqlite_engine)
    with Session(sqlite_engine) as s:
        users.register_user(s, account="mallory@example.com", password=PW, nickname="M")
        s.commit()
    return sqlite_engine


def _client(browser: str | None) -> TestClient:
    client = TestClient(Starlette(routes=auth_api.ROUTES), follow_redirects=False)
    if browser:
        client.cookies.set(sessions.BROWSER_COOKIE, browser)
    return client


def _ticket_from(result) -> str:
    text = str(result)
    start = text.index("ticket=") + len("ticket=")
    return text[start:start + 43]


def _sessions(engine) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(UserSession)).one()


async def _attackers_ticket(engine) -> str:
    state = make_state(SignInState, browser=ATTACKER)
    result = await call(state, "sign_in", {"account": "mallory@example.com", "password": PW})
    assert state.error == "" and "/api/auth/complete?ticket=" in str(result)
    return _ticket_from(result)


async def test_ticket_from_another_browser_is_refused_with_a_message(engine):
    ticket = await _attackers_ticket(engine)
    r = _client(VICTIM).get("/api/auth/complete", params={"ticket": ticket, "next": "/me"})
    assert r.status_code == 303 and r.headers["location"] == "/login?error=other_browser"
    assert "cm_session" not in r.headers.get("set-cookie", "") and _sessions(engine) == 0
    page = make_state(SignInState)
    page.router = type(page.router).from_router_data({
        "headers": {"cookie": f"cm_browser={VICTIM}"}, "pathname": "/login",
        "asPath": "/login?error=other_browser", "query": {"error": "other_browser"}})
    await call(page, "clear_message")
    assert page.error == "此登录是在另一个浏览器中发起的，已拒绝。请在当前浏览器中重新登录"
    # the browser that signed in can still complete it
    r = _client(ATTACKER).get("/api/auth/complete", params={"ticket": ticket})
    assert r.status_code == 303 and r.headers["location"] == "/me" and _sessions(engine) == 1


async def test_ticket_without_browser_secret_is_refused(engine):
    ticket = await _attackers_ticket(engine)
    r = _client(None).get("/api/auth/complete", params={"ticket": ticket})
    assert r.headers["location"] == "/login?error=other_browser" and _sessions(engine) == 0


async def test_only_hashes_are_stored(engine):
    ticket = await _attackers_ticket(engine)
    with Session(engine) as s:
        row = s.exec(select(LoginTicket)).one()
    assert row.browser_hash == sessions.token_hash(ATTACKER) and ATTACKER not in row.browser_hash
    assert row.ticket_hash == sessions.token_hash(ticket)


def test_service_refuses_a_ticket_without_a_browser(engine):
    with Session(engine) as s:
        with pytest.raises(DomainError, match="auth.browser_unknown"):
            sessions.create_login_ticket(s, user_id=1, browser_hash="")


async def test_form_without_browser_secret_fetches_one_first(engine):
    """A page served without the cookie (dev server, cached page): nothing is checked or counted;
    the browser is sent through /api/auth/browser and back to the form, which asks to submit again."""
    def counts():
        with Session(engine) as s:
            return [s.exec(select(func.count()).select_from(m)).one() for m in (LoginAttempt, RateCounter, LoginTicket)]

    before = counts()
    state = make_state(SignInState, browser=None)
    result = await call(state, "sign_in", {"account": "mallory@example.com", "password": PW})
    assert "/api/auth/browser?next=" in str(result) and "error%3Dbrowser" in str(result)
    assert counts() == before
    reg = make_state(RegisterState, browser=None)
    result = await call(reg, "register", {"account": "new@example.com", "nickname": "N", "password": PW})
    assert "/api/auth/browser?next=" in str(result)

    r = _client(None).get("/api/auth/browser", params={"next": "/login?error=browser"})
    assert r.status_code == 303 and r.headers["location"] == "/login?error=browser"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("cm_browser=") and "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    r = _client(BROWSER).get("/api/auth/browser", params={"next": "//evil.example"})
    assert r.headers["location"] == "/login" and "set-cookie" not in r.headers  # kept; no open redirect


def test_pages_hand_out_the_browser_secret():
    async def page(_request):
        return HTMLResponse("<html></html>")

    async def api(_request):
        return JSONResponse({})

    app = BrowserCookieMiddleware(Starlette(routes=[Route("/course/1", page), Route("/api/health", api),
                                                    Route("/app.js", api)]))
    client = TestClient(app)
    first = client.get("/course/1")
    cookie = first.headers["set-cookie"]
    assert cookie.startswith("cm_browser=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    secret = cookie.split(";")[0].split("=", 1)[1]
    assert sessions.looks_like_token(secret)
    assert first.headers["cache-control"] == "private, no-cache"  # never shared by a cache
    again = client.get("/course/1")  # the client now sends it back
    assert "set-cookie" not in again.headers and again.headers["cache-control"] == "no-cache"
    fresh = TestClient(app)
    assert "set-cookie" not in fresh.get("/api/health").headers
    assert "set-cookie" not in fresh.get("/app.js").headers
    other = TestClient(app).get("/course/1").headers["set-cookie"]
    assert other.split(";")[0] != cookie.split(";")[0]  # every browser its own secret

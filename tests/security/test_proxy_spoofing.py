"""Threat: a visitor picks the IP address that rate limits, sign-in records and payments see by
sending X-Forwarded-For, or (behind a proxy) every visitor shares the proxy's address.

One helper (`coursemall.client_ip`) decides, for API routes and states alike, from
COURSEMALL_TRUSTED_PROXY_HOPS: 0 = the socket peer; N = the N-th address from the right.
Reflex's own `router.session.client_ip` is fed the same setting through rxconfig.
"""

from __future__ import annotations

import dataclasses

import pytest
import reflex as rx
from reflex.istate.data import RouterData
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

import coursemall.db
from coursemall import client_ip as client_ip_mod
from coursemall.api import auth as auth_api
from coursemall.client_ip import client_ip
from coursemall.models.accounts import UserSession
from coursemall.services.accounts import sessions, users
from coursemall.settings import get_settings
from coursemall.state.accounts.sign_in import SignInState


@pytest.fixture
def hops(monkeypatch):
    def set_hops(n: int) -> None:
        patched = dataclasses.replace(get_settings(), trusted_proxy_hops=n)
        monkeypatch.setattr(client_ip_mod, "get_settings", lambda: patched)
    set_hops(0)
    return set_hops


@pytest.mark.parametrize("peer,xff,n,expected", [
    ("198.51.100.7", "1.2.3.4", 0, "198.51.100.7"),  # no proxy: the header is the visitor's own words
    ("198.51.100.7", None, 0, "198.51.100.7"),
    ("10.0.0.2", "1.2.3.4, 203.0.113.9", 1, "203.0.113.9"),  # our proxy appended the real client
    ("10.0.0.2", "203.0.113.9", 1, "203.0.113.9"),
    ("10.0.0.3", "1.2.3.4, 203.0.113.9, 10.0.0.2", 2, "203.0.113.9"),  # CDN → nginx → app
    ("10.0.0.3", "203.0.113.9", 2, "10.0.0.3"),  # shorter than the chain: not through the proxies
    ("10.0.0.2", "not-an-ip", 1, "10.0.0.2"),  # junk is never used
    ("10.0.0.2", "203.0.113.9:5555", 1, "203.0.113.9"),
    ("10.0.0.2", "[2001:db8::1]:443", 1, "2001:db8::1"),
])
def test_the_rule(peer, xff, n, expected):
    assert client_ip(peer, xff, n) == expected


def test_setting_is_validated_and_wired_into_reflex():
    from coursemall.settings import SettingsError, load_settings

    assert load_settings({"COURSEMALL_DATA_DIR": "/tmp/cm-proxy-test"}).trusted_proxy_hops == 0
    assert load_settings({"COURSEMALL_DATA_DIR": "/tmp/cm-proxy-test",
                          "COURSEMALL_TRUSTED_PROXY_HOPS": "2"}).trusted_proxy_hops == 2
    for bad in ("-1", "11", "one"):
        with pytest.raises(SettingsError):
            load_settings({"COURSEMALL_DATA_DIR": "/tmp/cm-proxy-test", "COURSEMALL_TRUSTED_PROXY_HOPS": bad})
    import rxconfig

    assert rxconfig.config.trusted_proxy_hops == get_settings().trusted_proxy_hops


@pytest.mark.parametrize("n", [0, 1, 2])
def test_reflex_and_our_helper_agree(monkeypatch, n):
    """Reflex computes router.session.client_ip itself; with the same hops it must give our answer."""
    from reflex_base import config as reflex_config

    monkeypatch.setattr(reflex_config.get_config(), "trusted_proxy_hops", n, raising=False)
    scope = {"client": ("10.0.0.3", 1234),
             "headers": [(b"x-forwarded-for", b"6.6.6.6, 203.0.113.9, 10.0.0.2")]}
    from reflex.app import EventNamespace

    data = EventNamespace._build_static_router_data(None, "sid", {"asgi.scope": scope})
    assert data["ip"] == client_ip("10.0.0.3", "6.6.6.6, 203.0.113.9, 10.0.0.2", n)


def _state_with(peer: str, xff: str | None):
    root = rx.State(_reflex_internal_init=True)
    headers = {"cookie": "", "user-agent": "UA", "asgi-scope-client": peer}
    if xff is not None:
        headers["x-forwarded-for"] = xff
    root.router = RouterData.from_router_data({"headers": headers, "ip": peer, "pathname": "/login"})
    state = root
    for name in SignInState.get_full_name().split(".")[1:]:
        state = state.substates[name]
    return state


def test_state_ip_ignores_spoofed_header_without_proxy(hops):
    hops(0)
    assert _state_with("198.51.100.7", "1.1.1.1")._client_ip() == "198.51.100.7"
    hops(1)
    assert _state_with("10.0.0.2", "1.1.1.1, 203.0.113.9")._client_ip() == "203.0.113.9"


@pytest.fixture
def engine(sqlite_engine, monkeypatch):
    monkeypatch.setattr(coursemall.db, "get_engine", lambda: sqlite_engine)
    return sqlite_engine


def _session_ip_after_sign_in(engine, xff: str) -> str:
    with Session(engine, expire_on_commit=False) as s:
        user = users.ensure_user(s, email="px@example.com", password="pass-word-1", nickname="PX")
        browser = "b" * 43
        ticket = sessions.create_login_ticket(s, user_id=user.id, browser_hash=sessions.token_hash(browser))
        s.commit()
    client = TestClient(Starlette(routes=auth_api.ROUTES), client=("10.0.0.2", 5000))
    client.cookies.set(sessions.BROWSER_COOKIE, browser)
    resp = client.get("/api/auth/complete", params={"ticket": ticket}, headers={"X-Forwarded-For": xff},
                      follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/me"
    with Session(engine) as s:
        return s.exec(select(UserSession.ip).order_by(UserSession.id.desc())).first()


def test_api_route_records_the_socket_peer_without_proxy(engine, hops):
    hops(0)
    assert _session_ip_after_sign_in(engine, "1.1.1.1") == "10.0.0.2"


def test_api_route_records_the_proxys_client_with_one_hop(engine, hops):
    hops(1)
    assert _session_ip_after_sign_in(engine, "1.1.1.1, 203.0.113.9") == "203.0.113.9"


async def test_rotating_a_spoofed_header_does_not_escape_the_limiter(engine, hops):
    """hops=0: a bot sending a new X-Forwarded-For each time is still one address to the limiter."""
    from tests.state.helpers import call

    hops(0)
    errors = []
    for i in range(21):
        st = _code_state("198.51.100.7", f"10.0.{i}.1")
        await call(st, "set_account", f"spoof{i}@example.com")
        await call(st, "send_code")
        errors.append(st.error)
    assert errors[:20] == [""] * 20 and "验证码请求过于频繁" in errors[20]


async def test_behind_a_proxy_each_client_has_its_own_budget(engine, hops):
    from tests.state.helpers import call

    hops(1)
    for i in range(25):  # one proxy peer, 25 real clients
        st = _code_state("10.0.0.2", f"6.6.6.6, 203.0.113.{i}")
        await call(st, "set_account", f"proxied{i}@example.com")
        await call(st, "send_code")
        assert st.error == ""


def _code_state(peer: str, xff: str):
    from coursemall.state.accounts.sign_in import CodeSignInState

    root = rx.State(_reflex_internal_init=True)
    root.router = RouterData.from_router_data({
        "headers": {"cookie": "", "user-agent": "UA", "asgi-scope-client": peer, "x-forwarded-for": xff},
        "ip": peer, "pathname": "/login/code"})
    state = root
    for name in CodeSignInState.get_full_name().split(".")[1:]:
        state = state.substates[name]
    return state

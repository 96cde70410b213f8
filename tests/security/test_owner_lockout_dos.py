"""Threat: password guessing, and an attacker turning the guessing limit into a lockout of the owner.

There is no account lockout any more (services/rate_limit.py): a browser that signed in to the
account before (HttpOnly `cm_device` cookie, signed, bound to the account) keeps its own budget,
so a flood of wrong passwords from anywhere never stops the owner signing in from it. Unknown
devices are limited per IP on the account, per IP overall and (slowed, not locked) per account,
with windows that grow from 15 minutes to a day.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

import coursemall.db
from coursemall.api import auth as auth_api
from coursemall.domain.errors import DomainError
from coursemall.models.accounts import OutboxMessage
from coursemall.services.accounts import sessions, users
from coursemall.services import rate_limit
from coursemall.settings import get_settings
from coursemall.state.accounts.sign_in import CodeSignInState, SignInState
from tests.state.helpers import BROWSER, call, make_state

OWNER = "owner@example.com"
PW = "owner-pass-word-1"


@pytest.fixture
def engine(sqlite_engine, monkeypatch):
    monkeypatch.setattr(coursemall.db, "get_engine", lambda: sqlite_engine)
    with Session(sqlite_engine, expire_on_commit=False) as s:
        owner = users.create_user(s, password=PW, nickname="店主", email=OWNER, role="owner")
        users.create_user(s, password=PW, nickname="别人", email="other@example.com")
        s.commit()
    sqlite_engine.owner_id = owner.id
    return sqlite_engine


def _known_browser_cookie(engine) -> str:
    """Sign the owner in once through /api/auth/complete, as their browser did last week."""
    with Session(engine) as s:
        ticket = sessions.create_login_ticket(s, user_id=engine.owner_id, browser_hash=sessions.token_hash(BROWSER))
        s.commit()
    client = TestClient(Starlette(routes=auth_api.ROUTES), follow_redirects=False)
    client.cookies.set(sessions.BROWSER_COOKIE, BROWSER)
    r = client.get("/api/auth/complete", params={"ticket": ticket})
    assert r.status_code == 303
    device = r.cookies.get(rate_limit.DEVICE_COOKIE)
    assert device and device.startswith(f"{engine.owner_id}.")
    return device


def _latest_code(engine, target: str) -> str:
    with Session(engine) as s:
        body = s.exec(select(OutboxMessage.body).where(OutboxMessage.target == target)
                      .order_by(OutboxMessage.id.desc())).first()
    return re.search(r"\b(\d{6})\b", body).group(1)


def _flood(engine, attempts: int, ips: int) -> list[str]:
    """Wrong passwords for the owner's account from `ips` addresses, round robin."""
    codes = []
    with Session(engine) as s:
        for i in range(attempts):
            try:
                users.sign_in_with_password(s, account=OWNER, password=f"guess-{i}", ip=f"198.51.100.{i % ips}")
            except DomainError as exc:
                codes.append(exc.code)
    return codes


async def test_flood_from_many_ips_does_not_stop_the_owners_known_browser(engine):
    device = _known_browser_cookie(engine)
    codes = _flood(engine, attempts=120, ips=40)
    assert codes.count("auth.bad_credentials") == 2 * get_settings().login_max_fails  # then only waits
    assert set(codes) == {"auth.bad_credentials", "limit.signin_minutes"}

    stranger = make_state(SignInState, ip="203.0.113.50")  # an unknown device, right password
    await call(stranger, "sign_in", {"account": OWNER, "password": PW})
    assert stranger.error.startswith("尝试次数过多，请 ") and stranger.error.endswith(" 分钟后再试")

    owner = make_state(SignInState, cookie=f"cm_device={device}", ip="203.0.113.51")
    result = await call(owner, "sign_in", {"account": OWNER, "password": PW})
    assert owner.error == "" and "/api/auth/complete" in str(result)


async def test_owner_can_still_use_a_one_time_code_from_a_new_device(engine):
    _flood(engine, attempts=60, ips=30)
    state = make_state(CodeSignInState, ip="203.0.113.60")
    await call(state, "set_account", OWNER)
    await call(state, "send_code")
    assert state.error == ""
    result = await call(state, "sign_in_with_code", {"code": _latest_code(engine, OWNER)})
    assert state.error == "" and "/api/auth/complete" in str(result)


def test_a_forged_or_foreign_device_cookie_is_an_unknown_device(engine):
    device = _known_browser_cookie(engine)
    uid, nonce, sig = device.split(".")
    with Session(engine) as s:
        other_id = users._user_by_account(s, users.normalize_account("other@example.com")).id
    forged = [f"{uid}.{nonce}.{'0' * 40}", f"{other_id}.{nonce}.{sig}", "garbage", {"x": 1}, "1" * 500]
    for cookie in forged:
        assert rate_limit.device_nonce(cookie, engine.owner_id) is None
    assert rate_limit.device_nonce(device, engine.owner_id) == nonce
    assert rate_limit.device_cookie_for(engine.owner_id, device) == device  # kept on the next sign-in
    assert rate_limit.device_cookie_for(other_id, device) != device  # another account: a new one


def test_a_stolen_device_cookie_has_a_small_budget_of_its_own(engine):
    device = _known_browser_cookie(engine)
    codes = []
    with Session(engine) as s:
        for i in range(12):
            try:
                users.sign_in_with_password(s, account=OWNER, password=f"guess-{i}", ip=f"10.3.0.{i}", device=device)
            except DomainError as exc:
                codes.append(exc.code)
    assert codes.count("auth.bad_credentials") == 10 and codes[-1] == "limit.signin_minutes"


def test_unknown_devices_are_limited_per_ip_on_an_account(engine):
    fails = get_settings().login_max_fails
    with Session(engine) as s:
        for i in range(fails):
            with pytest.raises(DomainError, match="auth.bad_credentials"):
                users.sign_in_with_password(s, account=OWNER, password=f"g{i}", ip="192.0.2.1")
        with pytest.raises(DomainError, match="limit.signin_minutes"):  # even the right password waits
            users.sign_in_with_password(s, account=OWNER, password=PW, ip="192.0.2.1")
        assert users.sign_in_with_password(s, account=OWNER, password=PW, ip="192.0.2.2").id == engine.owner_id


def test_unknown_devices_are_limited_per_ip_across_accounts(engine):
    limit = get_settings().login_max_fails * rate_limit.IP_FACTOR
    with Session(engine) as s:
        for i in range(limit):
            with pytest.raises(DomainError, match="auth.bad_credentials"):
                users.sign_in_with_password(s, account=f"u{i}@example.com", password="pw-guess", ip="192.0.2.9")
        with pytest.raises(DomainError, match="limit.signin_minutes"):
            users.sign_in_with_password(s, account=OWNER, password=PW, ip="192.0.2.9")


def test_unknown_devices_are_slowed_per_account_across_ips(engine):
    budget = 2 * get_settings().login_max_fails
    with Session(engine) as s:
        for i in range(budget):
            with pytest.raises(DomainError, match="auth.bad_credentials"):
                users.sign_in_with_password(s, account=OWNER, password=f"g{i}", ip=f"10.7.{i}.1")
        with pytest.raises(DomainError, match="limit.signin_minutes"):
            users.sign_in_with_password(s, account=OWNER, password=PW, ip="10.7.99.1")
        # another account is not affected
        assert users.sign_in_with_password(s, account="other@example.com", password=PW, ip="10.7.99.1")


def test_right_passwords_do_not_use_up_the_budget(engine):
    with Session(engine) as s:
        for _ in range(3 * get_settings().login_max_fails):
            assert users.sign_in_with_password(s, account=OWNER, password=PW, ip="192.0.2.30")


def test_the_wait_grows_with_the_failures(engine):
    """signin.ip_account: 5 per 15 min, 10 per hour, 20 per day: the waits grow 15 min → 1 h → 1 day."""
    t0 = datetime(2026, 5, 1, 0, 0, tzinfo=timezone.utc)
    waits = []
    with Session(engine) as s:
        for quarter in range(8):
            now = t0 + timedelta(minutes=15 * quarter)
            while True:
                try:
                    rate_limit.begin_sign_in(s, account=OWNER, user_id=engine.owner_id, ip="192.0.2.77",
                                             device="", now=now)
                except DomainError as exc:
                    waits.append(exc.params["seconds"])
                    break
    assert waits[0] == 15 * 60  # the first window
    assert waits[1] == 45 * 60  # the hourly window (10) is full after two quarters
    assert max(waits) > 20 * 3600  # then the daily one (20)

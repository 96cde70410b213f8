"""The setup page's handlers called directly, as a browser could, on a production shop:
wrong types and huge strings change nothing; the whole setup signs the owner in once with a
TOTP-verified session; before it the dashboard states refuse with the closed-shop message; the
outbox shows nothing outside the demo."""

from __future__ import annotations

import re

import pyotp
import pytest
from sqlmodel import Session, func, select

import coursemall.db
import coursemall.pages  # noqa: F401  (registers every state)
from coursemall.i18n import t
from coursemall.models import MfaRecoveryCode, OutboxMessage, SetupToken, ShopSetup, User, UserSession
from coursemall.services.accounts import sessions
from coursemall.services.shop import setup
from coursemall.services.accounts.sender import OutboxSender
from coursemall.settings import get_settings
from coursemall.state.dashboard.analytics import DashboardHomeState
from coursemall.state.accounts.sign_in import OutboxState
from coursemall.state.accounts.security import SecurityState
from coursemall.state.shop.setup import SetupState
from tests.state.helpers import IPHONE_SAFARI, call, cookie_for, tab_state, with_browser

PW = "owner-pass-word-9"
BAD_VALUES = [None, 42, ["a"], {"nested": {"x": 1}}, "x" * 100_000]
ACCOUNT = {"email": "boss@shop.example", "nickname": "店长", "password": PW, "password_again": PW}


@pytest.fixture
def engine(sqlite_engine, monkeypatch):
    monkeypatch.setattr(coursemall.db, "get_engine", lambda: sqlite_engine)
    monkeypatch.setenv("COURSEMALL_DEMO", "0")
    get_settings.cache_clear()
    yield sqlite_engine
    monkeypatch.undo()
    get_settings.cache_clear()


def mint(engine) -> str:
    with Session(engine) as s:
        link = setup.mint_setup_token(s)
        s.commit()
    return link.url.rsplit("/", 1)[-1]


BROWSER = "browser-" + "s" * 40  # the `cm_browser` secret every page load hands out


def make_state(cls, *, token: object = "", cookie: str = "", path: str = ""):
    path = path or f"/setup/{token}"
    return tab_state(cls, cookie=with_browser(cookie, BROWSER), ua=IPHONE_SAFARI,
                     route="/setup/[token]" if cls is SetupState else path, path=path,
                     params={"token": token} if cls is SetupState else {})


def counts(engine) -> dict[str, int]:
    with Session(engine) as s:
        return {m.__name__: s.exec(select(func.count()).select_from(m)).one()
                for m in (User, UserSession, MfaRecoveryCode, ShopSetup)}


def used_tokens(engine) -> int:
    with Session(engine) as s:
        return len(s.exec(select(SetupToken).where(SetupToken.used_at.is_not(None))).all())


async def test_the_whole_setup_opens_the_shop_and_signs_the_owner_in_once(engine):
    token = mint(engine)
    state = make_state(SetupState, token=token)
    await call(state, "load_setup")
    assert state.step == "account" and state.refusal == ""

    await call(state, "submit_account", {**ACCOUNT, "password_again": "another-one-1"})
    assert state.step == "account" and state.error == t("setup.password_mismatch")
    await call(state, "submit_account", ACCOUNT)
    assert state.step == "totp" and state.enrol_qr.startswith("data:image/png;base64,")
    assert PW not in state._pending and "boss@shop.example" not in state._pending  # encrypted
    assert counts(engine)["User"] == 0  # nothing stored before the authenticator is proven

    totp = pyotp.TOTP(state.enrol_key)
    wrong = f"{(int(totp.now()) + 1) % 1_000_000:06d}"
    await call(state, "finish_setup", {"code": wrong})
    assert state.step == "totp" and state.error == t("mfa.code_wrong")
    assert counts(engine)["User"] == 0 and used_tokens(engine) == 0

    await call(state, "finish_setup", {"code": totp.now()})
    assert state.step == "done" and len(state.new_codes) == 10 and state.error == ""
    assert counts(engine)["ShopSetup"] == 1 and used_tokens(engine) == 1

    result = await call(state, "open_dashboard")
    ticket = re.search(r"ticket=([A-Za-z0-9_-]+)", str(result)).group(1)
    assert "next=%2Fadmin" in str(result)
    again = await call(state, "open_dashboard")  # once only
    assert "ticket=" not in str(again) and state.error == t("setup.ticket_gone")
    with Session(engine) as s:
        cookie, user_id = sessions.redeem_login_ticket(s, ticket=ticket, browser_secret=BROWSER)
        s.commit()
        resolved = sessions.resolve_session(s, token_hash_hex=sessions.token_hash(cookie))
        assert resolved.mfa_verified and s.get(User, user_id).role == "owner"

    # the same link in another tab, after the setup
    other = make_state(SetupState, token=token)
    await call(other, "load_setup")
    assert other.step == "refused" and other.refusal == t("setup.already_done")


@pytest.mark.parametrize("token", ["", "nope", "x" * 43, "x" * 5000, None, ["a"]])
async def test_a_bad_link_is_refused_with_a_message(engine, token):
    mint(engine)
    state = make_state(SetupState, token=token)
    await call(state, "load_setup")
    assert state.step == "refused" and state.refusal == t("setup.token_invalid")
    await call(state, "submit_account", ACCOUNT)  # the form cannot be submitted past a refusal
    assert state.step == "refused" and counts(engine)["User"] == 0


async def test_wrong_payloads_change_nothing(engine):
    token = mint(engine)
    state = make_state(SetupState, token=token)
    await call(state, "load_setup")
    before = counts(engine)
    for bad in BAD_VALUES:
        await call(state, "submit_account", bad)
        assert state.step == "account" and state.error
        for name in ACCOUNT:
            await call(state, "submit_account", {**ACCOUNT, name: bad})
            assert state.step == "account" and state.error, (name, str(bad)[:20])
        await call(state, "finish_setup", bad)  # out of order: nothing to finish
        assert state.step == "account" and state.error
    await call(state, "submit_account", ACCOUNT)
    for bad in [*BAD_VALUES, {"code": "12"}, {"code": None}]:
        await call(state, "finish_setup", bad)
        assert state.step == "totp" and state.error
    result = await call(state, "open_dashboard")
    assert "ticket=" not in str(result)
    assert counts(engine) == before and used_tokens(engine) == 0


async def test_the_dashboard_states_are_closed_before_setup(engine):
    with Session(engine, expire_on_commit=False) as s:
        from tests.payments.factories import make_user

        owner = make_user(s, role="owner")  # seeded before setup links: no authenticator
    for cookie in ("", cookie_for(engine, owner.id, mfa=False), cookie_for(engine, owner.id, mfa=True)):
        home = make_state(DashboardHomeState, cookie=cookie, path="/admin")
        await call(home, "load_dashboard_home")
        assert not home.allowed and home.shop_closed and home.error == t("setup.dashboard_closed")
        assert home.golive_rows == [] and home.today_revenue == ""
        security = make_state(SecurityState, cookie=cookie, path="/admin/security")
        await call(security, "start_enrol")  # nobody links an authenticator here before setup
        assert security.shop_closed and security.enrol_key == ""
    with Session(engine) as s:
        assert s.get(User, owner.id).totp_secret == ""


async def test_the_owner_sees_the_go_live_card_on_the_dashboard(engine):
    token = mint(engine)
    state = make_state(SetupState, token=token)
    await call(state, "load_setup")
    await call(state, "submit_account", ACCOUNT)
    await call(state, "finish_setup", {"code": pyotp.TOTP(state.enrol_key).now()})
    with Session(engine) as s:
        owner_id = s.exec(select(User.id).where(User.role == "owner")).one()
    home = make_state(DashboardHomeState, cookie=cookie_for(engine, owner_id), path="/admin")
    await call(home, "load_dashboard_home")
    assert home.allowed and not home.shop_closed
    found = {row["code"]: row for row in home.golive_rows}
    assert found["smtp_missing"]["severity"] == "blocking"
    assert found["smtp_missing"]["problem"] == t("golive.smtp_missing")
    assert "setup_pending" not in found and home.golive_blocking == len(found)


async def test_the_outbox_shows_nothing_outside_the_demo(engine, capsys):
    with Session(engine) as s:
        s.add(OutboxMessage(channel="email", target="old@x.example", body="your code 123456"))  # a demo leftover
        OutboxSender().send(s, channel="email", target="amy@example.com", subject="code", body="your code 654321")
        s.commit()
        assert s.exec(select(func.count()).select_from(OutboxMessage)).one() == 1  # only the leftover
    assert "654321" in capsys.readouterr().out  # the console still gets it (the go-live check blocks)
    outbox = make_state(OutboxState, path="/outbox")
    await call(outbox, "load_outbox")
    assert outbox.enabled is False and outbox.messages == []

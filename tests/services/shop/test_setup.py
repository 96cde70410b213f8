"""A production shop opens only through its owner's one-time setup link (SQLite and PostgreSQL).

The link is random, stored as a hash, works once, expires and is replaced by a newer one; a
replayed, expired, replaced or foreign link changes nothing; two browsers completing the same
link make exactly one owner. Until the setup is done checkout and the dashboard are closed.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta

import pyotp
import pytest
from sqlmodel import Session, func, select

from coursemall.domain.errors import DomainError
from coursemall.models import (
    AuditLog,
    CartItem,
    ManualPayment,
    MfaRecoveryCode,
    Order,
    SetupToken,
    ShopSetup,
    User,
    UserSession,
    utcnow,
)
from coursemall.services.commerce import checkout, manual_pay
from coursemall.services import crypto
from coursemall.services.accounts import sessions
from coursemall.services.shop import setup
from coursemall.services.accounts.passwords import verify_password
from coursemall.services.permissions import require_dashboard
from coursemall.settings import get_settings
from tests.payments.factories import make_course, make_user

PASSWORD = "a-long-owner-password"


@pytest.fixture
def production(monkeypatch):
    """get_settings() is a production shop (COURSEMALL_DEMO=0) for this test."""
    monkeypatch.setenv("COURSEMALL_DEMO", "0")
    get_settings.cache_clear()
    yield get_settings()
    monkeypatch.undo()
    get_settings.cache_clear()


def _token(link: setup.SetupLink) -> str:
    return link.url.rsplit("/", 1)[-1]


def _mint(session: Session, **kwargs) -> str:
    link = setup.mint_setup_token(session, **kwargs)
    session.commit()
    return _token(link)


def _prepare(session: Session, token: str, email: str = "boss@shop.example", **kwargs) -> setup.PreparedOwner:
    owner = setup.prepare_owner(session, token=token, email=email, nickname=kwargs.get("nickname", "店长"),
                                password=PASSWORD, password_again=PASSWORD)
    session.rollback()  # read only: end the read transaction like the page's unit of work does
    return owner


def _complete(session: Session, token: str, owner: setup.PreparedOwner, *, secret: str | None = None,
              code: str | None = None, now=None) -> setup.SetupResult:
    secret = secret or pyotp.random_base32()
    when = now or utcnow()
    code = code or pyotp.TOTP(secret).at(when)
    result = setup.complete_setup(session, token=token, owner=owner, secret=secret, code=code, now=now)
    session.commit()
    return result


def _count(session: Session, model) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(model)).one()


def _snapshot(session: Session) -> dict[str, int]:
    return {m.__name__: _count(session, m) for m in (User, SetupToken, ShopSetup, MfaRecoveryCode, AuditLog,
                                                      UserSession, Order)}


def _used(session: Session) -> list[SetupToken]:
    session.expire_all()
    return list(session.exec(select(SetupToken).where(SetupToken.used_at.is_not(None))).all())


# ---- the rule ----------------------------------------------------------------------------------


def test_a_new_production_shop_is_closed_and_the_demo_is_open(session, production):
    assert not setup.shop_is_open(session)
    assert setup.shop_is_open(session, dataclass_replace(production, demo=True))


def dataclass_replace(settings, **changes):
    import dataclasses

    return dataclasses.replace(settings, **changes)


# ---- links -------------------------------------------------------------------------------------


def test_a_setup_link_is_random_stored_as_a_hash_and_expires_in_a_day(session, production):
    link = setup.mint_setup_token(session)
    session.commit()
    token = _token(link)
    assert link.url == f"{production.public_base_url}/setup/{token}"
    assert len(token) >= 43 and sessions.looks_like_token(token)
    row = session.exec(select(SetupToken)).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in row.token_hash
    assert timedelta(hours=23) < row.expires_at - row.created_at <= timedelta(hours=24)
    setup.check_setup_token(session, token=token)  # usable


def test_a_new_link_replaces_the_older_one(session, production):
    old = _mint(session)
    new = _mint(session)
    with pytest.raises(DomainError, match="setup.token_replaced"):
        setup.check_setup_token(session, token=old)
    setup.check_setup_token(session, token=new)
    with pytest.raises(DomainError, match="setup.token_replaced"):
        _complete(session, old, _prepare(session, new))
    assert _count(session, User) == 0 and _used(session) == []


@pytest.mark.parametrize("token", ["", "short", "x" * 43, "ü" * 43, None, 12345, {"a": 1}])
def test_a_foreign_or_malformed_link_is_refused(session, production, token):
    _mint(session)
    with pytest.raises(DomainError, match="setup.token_invalid"):
        setup.check_setup_token(session, token=token)
    with pytest.raises(DomainError, match="setup.token_invalid"):
        setup.prepare_owner(session, token=token, email="a@b.example", nickname="n", password=PASSWORD,
                            password_again=PASSWORD)


def test_an_expired_link_is_refused_and_changes_nothing(session, production):
    token = _mint(session)
    owner = _prepare(session, token)
    before = _snapshot(session)
    later = utcnow() + timedelta(hours=24, minutes=1)
    with pytest.raises(DomainError, match="setup.token_expired"):
        setup.check_setup_token(session, token=token, now=later)
    with pytest.raises(DomainError, match="setup.token_expired"):
        _complete(session, token, owner, now=later)
    assert _snapshot(session) == before and not setup.shop_is_open(session)


# ---- completing --------------------------------------------------------------------------------


def test_setup_creates_the_owner_with_totp_and_opens_the_shop(session, production):
    token = _mint(session)
    owner = _prepare(session, token, email="Boss@Shop.Example", nickname=" 店长 ")
    secret = pyotp.random_base32()
    result = _complete(session, token, owner, secret=secret)

    user = session.get(User, result.owner_id)
    assert (user.email, user.nickname, user.role) == ("boss@shop.example", "店长", "owner")
    assert verify_password(user.password_hash, PASSWORD)
    assert crypto.decrypt(user.totp_secret) == secret
    assert len(result.recovery_codes) == 10 and _count(session, MfaRecoveryCode) == 10
    assert session.exec(select(ShopSetup)).one().owner_id == user.id
    assert [t.used_at is not None for t in _used(session)] == [True]
    assert session.exec(select(AuditLog.action)).all() == ["setup.complete"]
    assert setup.shop_is_open(session)
    # the TOTP step just used cannot be replayed at sign-in
    assert user.totp_last_step == pyotp.TOTP(secret).timecode(utcnow())


def test_a_replayed_link_after_setup_is_refused_and_changes_nothing(session, production):
    token = _mint(session)
    owner = _prepare(session, token)
    _complete(session, token, owner)
    before = _snapshot(session)
    for check in (lambda: setup.check_setup_token(session, token=token),
                  lambda: _prepare(session, token, email="thief@evil.example"),
                  lambda: _complete(session, token, setup.PreparedOwner("thief@evil.example", "x", owner.password_hash)),
                  lambda: setup.mint_setup_token(session)):
        with pytest.raises(DomainError, match="setup.already_done"):
            check()
        session.rollback()
    assert _snapshot(session) == before
    assert session.exec(select(User.email)).all() == ["boss@shop.example"]


def test_a_wrong_authenticator_code_changes_nothing(session, production):
    token = _mint(session)
    owner = _prepare(session, token)
    secret = pyotp.random_base32()
    wrong = f"{(int(pyotp.TOTP(secret).now()) + 1) % 1_000_000:06d}"
    before = _snapshot(session)
    with pytest.raises(DomainError, match="mfa.code_wrong"):
        _complete(session, token, owner, secret=secret, code=wrong)
    with pytest.raises(DomainError, match="mfa.enrol_expired"):
        _complete(session, token, owner, secret="not base32!", code="123456")
    assert _snapshot(session) == before and _used(session) == []
    _complete(session, token, owner, secret=secret)  # the link still works afterwards
    assert setup.shop_is_open(session)


@pytest.mark.parametrize(("fields", "code"), [
    ({"password_again": "something-else-1"}, "setup.password_mismatch"),
    ({"password": "short", "password_again": "short"}, "auth.password_length"),
    ({"email": "13800138000"}, "setup.email_required"),
    ({"email": "not an address"}, "setup.email_required"),
    ({"email": ["a@b.example"]}, "setup.email_required"),
    ({"nickname": ""}, "auth.nickname_invalid"),
    ({"nickname": {"x": 1}}, "auth.nickname_invalid"),
    ({"password": None}, "auth.password_length"),
])
def test_bad_owner_details_are_refused_with_a_message(session, production, fields, code):
    token = _mint(session)
    values = {"email": "boss@shop.example", "nickname": "店长", "password": PASSWORD, "password_again": PASSWORD,
              **fields}
    with pytest.raises(DomainError, match=code):
        setup.prepare_owner(session, token=token, **values)


def test_an_email_already_registered_is_refused(session, production):
    make_user(session, email="taken@shop.example")
    token = _mint(session)
    with pytest.raises(DomainError, match="auth.email_taken"):
        _prepare(session, token, email="taken@shop.example")
    owner = _prepare(session, token)
    # a learner registers the address between the two steps
    make_user(session, email=owner.email)
    before = _snapshot(session)
    with pytest.raises(DomainError, match="auth.email_taken"):
        _complete(session, token, owner)
    assert _snapshot(session) == before and _used(session) == []


def test_an_owner_seeded_without_authenticator_is_taken_over(session, production):
    """A shop seeded before setup links existed (owner with the published demo password)."""
    legacy = make_user(session, role="owner", email="owner@coursemall.local")
    old_token = sessions.create_session(session, user_id=legacy.id)
    session.commit()
    assert not setup.shop_is_open(session)
    token = _mint(session)
    result = _complete(session, token, _prepare(session, token, email="real@shop.example"))
    assert result.owner_id == legacy.id
    session.expire_all()
    user = session.get(User, legacy.id)
    assert user.email == "real@shop.example" and verify_password(user.password_hash, PASSWORD)
    assert sessions.resolve_session(session, token_hash_hex=sessions.token_hash(old_token)) is None
    assert _count(session, User) == 1 and setup.shop_is_open(session)


def test_the_sign_in_ticket_opens_a_totp_verified_session(session, production):
    token = _mint(session)
    result = _complete(session, token, _prepare(session, token))
    browser = "b" * 43
    browser_hash = sessions.browser_hash_of(browser)
    ticket = setup.owner_sign_in_ticket(session, owner_id=result.owner_id, browser_hash=browser_hash)
    session.commit()
    cookie, user_id = sessions.redeem_login_ticket(session, ticket=ticket, browser_secret=browser)
    session.commit()
    resolved = sessions.resolve_session(session, token_hash_hex=sessions.token_hash(cookie))
    assert user_id == result.owner_id and resolved.mfa_verified
    # an ordinary sign-in ticket still is not verified
    plain = sessions.create_login_ticket(session, user_id=result.owner_id, browser_hash=browser_hash)
    cookie2, _ = sessions.redeem_login_ticket(session, ticket=plain, browser_secret=browser)
    assert not sessions.resolve_session(session, token_hash_hex=sessions.token_hash(cookie2)).mfa_verified
    learner = make_user(session)
    with pytest.raises(DomainError):
        setup.owner_sign_in_ticket(session, owner_id=learner.id, browser_hash=browser_hash)


# ---- concurrency -------------------------------------------------------------------------------


def _race(engine, jobs: list) -> list[str]:
    """Run each job(session) in its own thread at once; outcomes 'ok' or the refusal code. Any
    other exception or a hang fails the test."""
    barrier = threading.Barrier(len(jobs))
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def run(job):
        try:
            with Session(engine, expire_on_commit=False) as s:
                barrier.wait(timeout=30)
                try:
                    job(s)
                    s.commit()
                    outcomes.append("ok")
                except DomainError as exc:
                    s.rollback()
                    outcomes.append(exc.code)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    assert errors == [], errors
    return outcomes


def test_two_browsers_completing_the_same_link_make_exactly_one_owner(db_engine, session, production):
    token = _mint(session)
    owners = [_prepare(session, token, email=f"boss{i}@shop.example") for i in range(2)]
    secret = pyotp.random_base32()

    def job(owner):
        return lambda s: setup.complete_setup(s, token=token, owner=owner, secret=secret,
                                              code=pyotp.TOTP(secret).now())

    outcomes = _race(db_engine, [job(o) for o in owners])
    assert outcomes.count("ok") == 1, outcomes
    assert [o for o in outcomes if o != "ok"][0] in ("setup.already_done", "setup.token_used")
    session.expire_all()
    assert len(session.exec(select(User).where(User.role == "owner")).all()) == 1
    assert _count(session, ShopSetup) == 1 and _count(session, MfaRecoveryCode) == 10


def test_two_live_links_completed_at_once_still_make_one_owner(db_engine, session, production):
    """The single shop_setup row (primary key 1) holds even if two links were live together."""
    first = _mint(session)
    second = "S" + first[1:] if first[0] != "S" else "T" + first[1:]
    session.add(SetupToken(token_hash=hashlib.sha256(second.encode()).hexdigest(),
                           expires_at=utcnow() + timedelta(hours=1)))
    session.commit()
    secret = pyotp.random_base32()
    jobs = [(first, _prepare(session, first, email="a@shop.example")),
            (second, _prepare(session, second, email="b@shop.example"))]
    outcomes = _race(db_engine, [
        (lambda tok, owner: lambda s: setup.complete_setup(s, token=tok, owner=owner, secret=secret,
                                                           code=pyotp.TOTP(secret).now()))(tok, owner)
        for tok, owner in jobs])
    assert sorted(outcomes) == ["ok", "setup.already_done"]
    session.expire_all()
    assert len(session.exec(select(User).where(User.role == "owner")).all()) == 1
    assert _count(session, ShopSetup) == 1


# ---- the closed shop ---------------------------------------------------------------------------


def _open_shop(session: Session) -> int:
    token = _mint(session)
    return _complete(session, token, _prepare(session, token)).owner_id


def test_checkout_is_refused_with_a_message_and_nothing_written_until_setup(session, production):
    learner = make_user(session)
    course = make_course(session, price_fen=990)
    free = make_course(session, price_fen=0)
    session.add(CartItem(user_id=learner.id, item_type="course", item_id=course.id))
    session.commit()
    before = _snapshot(session)
    for attempt in (lambda: checkout.buy_now(session, actor_id=learner.id, item_type="course", item_id=course.id),
                    lambda: checkout.buy_now(session, actor_id=learner.id, item_type="course", item_id=free.id),
                    lambda: checkout.checkout_cart(session, actor_id=learner.id)):
        with pytest.raises(DomainError, match="setup.shop_not_open"):
            attempt()
        session.rollback()
    assert _snapshot(session) == before and _count(session, CartItem) == 1

    _open_shop(session)
    order = checkout.buy_now(session, actor_id=learner.id, item_type="course", item_id=course.id)
    assert order.status == "pending"


def test_paying_an_order_is_refused_while_the_shop_is_closed(session, production):
    """An order left from before (e.g. the shop was closed again by an owner reset) cannot be paid."""
    learner = make_user(session)
    course = make_course(session, price_fen=990)
    owner_id = _open_shop(session)
    order = checkout.buy_now(session, actor_id=learner.id, item_type="course", item_id=course.id)
    session.get(User, owner_id).totp_secret = ""  # the owner's authenticator is gone: closed again
    session.commit()
    assert not setup.shop_is_open(session)
    with pytest.raises(DomainError, match="setup.shop_not_open"):
        checkout.start_payment(session, actor_id=learner.id, order_no=order.out_trade_no, channel="manual")
    with pytest.raises(DomainError, match="setup.shop_not_open"):
        manual_pay.submit_manual_proof(session, actor_id=learner.id, order_no=order.out_trade_no,
                                       image=b"png", reference="ref-1")
    session.rollback()
    assert session.get(Order, order_no_id(session, order.out_trade_no)).channel == ""
    assert _count(session, ManualPayment) == 0


def order_no_id(session: Session, order_no: str) -> int:
    return session.exec(select(Order.id).where(Order.out_trade_no == order_no)).one()


def test_the_dashboard_services_are_closed_until_setup(session, production):
    staff = make_user(session, role="staff")
    with pytest.raises(DomainError, match="setup.dashboard_closed"):
        require_dashboard(session, staff.id)
    owner_id = _open_shop(session)
    assert require_dashboard(session, owner_id, owner_only=True).is_owner
    assert require_dashboard(session, staff.id).is_staff


def test_the_dashboard_api_routes_are_closed_until_setup(session, production):
    from coursemall.api._dashboard_auth import dashboard_actor_for_token

    staff = make_user(session, role="staff")
    cookie = sessions.create_session(session, user_id=staff.id, mfa_verified=True)
    session.commit()
    assert dashboard_actor_for_token(session, cookie, kind="staff_required") is None
    _open_shop(session)
    assert dashboard_actor_for_token(session, cookie, kind="staff_required").is_staff


def test_staff_powers_in_the_commerce_services_are_closed_until_setup(session, production):
    from coursemall.services.commerce import refunds

    staff = make_user(session, role="staff")
    with pytest.raises(DomainError, match="setup.dashboard_closed"):
        manual_pay.list_manual_queue(session, actor_id=staff.id)
    with pytest.raises(DomainError, match="setup.dashboard_closed"):
        refunds.list_refund_queue(session, actor_id=staff.id)
    _open_shop(session)
    assert manual_pay.list_manual_queue(session, actor_id=staff.id) == []

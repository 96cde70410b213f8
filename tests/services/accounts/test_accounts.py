"""Accounts service on SQLite and PostgreSQL: registration, sign-in, codes, reset, rate limit."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import Session, func, select

from coursemall.domain.errors import DomainError
from coursemall.models.accounts import LoginAttempt, OutboxMessage, User, UserSession
from coursemall.models.base import utcnow
from coursemall.services.accounts import sessions, users as accounts
from coursemall.services import rate_limit
from coursemall.services.accounts.sender import OutboxSender, list_outbox

PW = "correct-horse-1"


def _register(session, account="amy@example.com", nickname="Amy", password=PW):
    view = accounts.register_user(session, account=account, password=password, nickname=nickname)
    session.commit()
    return view


def _latest_code(session, target: str) -> str:
    msg = session.exec(select(OutboxMessage).where(OutboxMessage.target == target)
                       .order_by(OutboxMessage.id.desc())).first()
    assert msg is not None, "no code in the outbox"
    return re.search(r"\b(\d{6})\b", msg.body).group(1)


def _count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_register_by_email_and_phone(session):
    a = _register(session, "  Amy@Example.COM ", " 艾米 ")
    b = _register(session, "138 0013 8000", "Bob")
    assert (a.email, a.nickname, a.role) == ("amy@example.com", "艾米", "learner")
    assert (b.phone, b.email) == ("13800138000", "")
    users = session.exec(select(User)).all()
    codes = [u.watermark_code for u in users]
    assert all(re.fullmatch(r"[A-Z2-7]{8}", c) for c in codes) and len(set(codes)) == 2
    assert all(u.password_hash.startswith("$argon2id$") for u in users)


@pytest.mark.parametrize("account,code", [("amy@example.com", "auth.email_taken"),
                                          ("AMY@example.com", "auth.email_taken")])
def test_duplicate_email_refused(session, account, code):
    _register(session)
    with pytest.raises(DomainError) as err:
        accounts.register_user(session, account=account, password=PW, nickname="x")
    assert err.value.code == code
    session.rollback()
    assert _count(session, User) == 1


def test_duplicate_phone_refused(session):
    _register(session, "13800138000")
    with pytest.raises(DomainError) as err:
        accounts.register_user(session, account="+86 138-0013-8000", password=PW, nickname="x")
    assert err.value.code == "auth.phone_taken"


@pytest.mark.parametrize("account,password,nickname,code", [
    ("not-an-account", PW, "n", "auth.account_invalid"),
    ("2380013800", PW, "n", "auth.account_invalid"),
    ("a@b", PW, "n", "auth.account_invalid"),
    ({"$ne": 1}, PW, "n", "auth.account_invalid"),
    ("a@example.com", "short", "n", "auth.password_length"),
    ("a@example.com", "x" * 73, "n", "auth.password_length"),
    ("a@example.com", ["x"], "n", "auth.password_length"),
    ("a@example.com", PW, "   ", "auth.nickname_invalid"),
    ("a@example.com", PW, "n" * 21, "auth.nickname_invalid"),
    ("a@example.com", PW, None, "auth.nickname_invalid"),
])
def test_register_bad_input_changes_nothing(session, account, password, nickname, code):
    with pytest.raises(DomainError) as err:
        accounts.register_user(session, account=account, password=password, nickname=nickname)
    assert err.value.code == code
    assert _count(session, User) == 0


def test_password_sign_in(session):
    user = _register(session)
    assert accounts.sign_in_with_password(session, account="AMY@example.com", password=PW,
                                          ip="1.1.1.1").id == user.id
    with pytest.raises(DomainError) as err:
        accounts.sign_in_with_password(session, account="amy@example.com", password="wrong-pw",
                                       ip="1.1.1.1")
    assert err.value.code == "auth.bad_credentials"
    with pytest.raises(DomainError) as err:  # unknown account: the same message
        accounts.sign_in_with_password(session, account="nobody@example.com", password=PW)
    assert err.value.code == "auth.bad_credentials"
    session.rollback()
    fails = session.exec(select(LoginAttempt).where(LoginAttempt.success.is_(False))).all()
    assert len(fails) == 2, "failed attempts must survive the caller's rollback"


def test_guessing_is_limited_per_ip_on_an_account(session):
    """Untrusted devices: LOGIN_MAX_FAILS guesses per IP per account, then a wait; the owner on
    another network still gets in (no account lockout)."""
    _register(session)
    for _ in range(5):
        with pytest.raises(DomainError) as err:
            accounts.sign_in_with_password(session, account="amy@example.com", password="bad-pw",
                                           ip="10.0.0.1")
        assert err.value.code == "auth.bad_credentials"
    with pytest.raises(DomainError) as err:  # even the right password waits on this IP now
        accounts.sign_in_with_password(session, account="amy@example.com", password=PW,
                                       ip="10.0.0.1")
    assert err.value.code == "limit.signin_minutes" and 1 <= err.value.params["n"] <= 15
    assert accounts.sign_in_with_password(session, account="amy@example.com", password=PW,
                                          ip="10.0.0.2")
    # the window passes: the old failures no longer count
    later = utcnow() + timedelta(minutes=16)
    assert rate_limit.take(session, ("signin.ip_account", "10.0.0.1|amy@example.com"), now=later)


def test_rate_limit_per_ip(session):
    from coursemall.services.rate_limit import IP_FACTOR

    _register(session)
    for i in range(5 * IP_FACTOR):
        with pytest.raises(DomainError) as err:
            accounts.sign_in_with_password(session, account=f"user{i}@example.com",
                                           password="bad-pw", ip="10.9.9.9")
        assert err.value.code == "auth.bad_credentials"
    with pytest.raises(DomainError) as err:
        accounts.sign_in_with_password(session, account="amy@example.com", password=PW,
                                       ip="10.9.9.9")
    assert err.value.code == "limit.signin_minutes"
    # another address is not affected
    assert accounts.sign_in_with_password(session, account="amy@example.com", password=PW,
                                          ip="10.9.9.10")


def test_code_sign_in(session):
    user = _register(session)
    accounts.request_code(session, account="amy@example.com", purpose="login",
                          sender=OutboxSender())
    session.commit()
    code = _latest_code(session, "amy@example.com")
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(DomainError) as err:
        accounts.sign_in_with_code(session, account="amy@example.com", code=wrong)
    assert err.value.code == "auth.code_wrong" and err.value.params == {"left": 4}
    assert accounts.sign_in_with_code(session, account="amy@example.com", code=code).id == user.id
    session.commit()
    with pytest.raises(DomainError) as err:  # single use
        accounts.sign_in_with_code(session, account="amy@example.com", code=code)
    assert err.value.code == "auth.code_expired"


def test_code_request_does_not_reveal_accounts(session):
    _register(session)
    known = accounts.request_code(session, account="amy@example.com", purpose="login")
    unknown = accounts.request_code(session, account="ghost@example.com", purpose="login")
    session.commit()
    assert type(known) is type(unknown) and known.cooldown_seconds == unknown.cooldown_seconds
    assert [m.target for m in list_outbox(session)] == ["amy@example.com"]
    with pytest.raises(DomainError) as err:  # the cooldown applies to both alike
        accounts.request_code(session, account="ghost@example.com", purpose="login")
    assert err.value.code == "auth.code_cooldown"
    with pytest.raises(DomainError):
        accounts.sign_in_with_code(session, account="ghost@example.com", code="123456")
    session.rollback()
    assert _count(session, User) == 1  # code sign-in registers nobody


def test_code_expires_after_ten_minutes(session):
    _register(session)
    past = utcnow() - timedelta(minutes=11)
    accounts.request_code(session, account="amy@example.com", purpose="login", now=past)
    session.commit()
    code = _latest_code(session, "amy@example.com")
    with pytest.raises(DomainError) as err:
        accounts.sign_in_with_code(session, account="amy@example.com", code=code)
    assert err.value.code == "auth.code_expired"


def test_code_five_tries_then_dead(session):
    _register(session)
    accounts.request_code(session, account="amy@example.com", purpose="login")
    session.commit()
    code = _latest_code(session, "amy@example.com")
    wrong = "000000" if code != "000000" else "111111"
    codes = []
    for _ in range(5):
        with pytest.raises(DomainError) as err:
            accounts.sign_in_with_code(session, account="amy@example.com", code=wrong,
                                       ip="10.1.1.1")
        codes.append(err.value.code)
    assert codes[-1] == "auth.code_too_many"
    session.exec(LoginAttempt.__table__.delete())  # isolate the code limit from the rate limit
    session.commit()
    with pytest.raises(DomainError) as err:  # even the right code is refused now
        accounts.sign_in_with_code(session, account="amy@example.com", code=code)
    assert err.value.code == "auth.code_too_many"


def test_resend_cooldown_and_only_newest_code_works(session):
    _register(session)
    accounts.request_code(session, account="amy@example.com", purpose="login",
                          now=utcnow() - timedelta(seconds=61))
    session.commit()
    first = _latest_code(session, "amy@example.com")
    accounts.request_code(session, account="amy@example.com", purpose="login")
    session.commit()
    second = _latest_code(session, "amy@example.com")
    if first != second:
        with pytest.raises(DomainError):
            accounts.sign_in_with_code(session, account="amy@example.com", code=first)
    assert accounts.sign_in_with_code(session, account="amy@example.com", code=second)


def test_reset_password_by_code_signs_out_everywhere(session):
    user = _register(session, "13900139000")
    token = sessions.create_session(session, user_id=user.id)
    session.commit()
    accounts.request_code(session, account="13900139000", purpose="reset")
    session.commit()
    code = _latest_code(session, "13900139000")
    with pytest.raises(DomainError) as err:
        accounts.reset_password_with_code(session, account="13900139000", code=code,
                                          new_password="short")
    assert err.value.code == "auth.password_length"
    accounts.reset_password_with_code(session, account="13900139000", code=code,
                                      new_password="brand-new-pass")
    session.commit()
    assert accounts.sign_in_with_password(session, account="13900139000",
                                          password="brand-new-pass")
    with pytest.raises(DomainError):
        accounts.sign_in_with_password(session, account="13900139000", password=PW)
    assert sessions.resolve_session(session, token_hash_hex=sessions.token_hash(token)) is None


def test_login_code_cannot_reset_password(session):
    _register(session)
    accounts.request_code(session, account="amy@example.com", purpose="login")
    session.commit()
    code = _latest_code(session, "amy@example.com")
    with pytest.raises(DomainError):
        accounts.reset_password_with_code(session, account="amy@example.com", code=code,
                                          new_password="brand-new-pass")


def test_change_password_keeps_this_device_only(session):
    user = _register(session)
    here = sessions.create_session(session, user_id=user.id)
    there = sessions.create_session(session, user_id=user.id)
    session.commit()
    with pytest.raises(DomainError) as err:
        accounts.change_password(session, user_id=user.id, old_password="wrong-old",
                                 new_password="another-pass")
    assert err.value.code == "auth.old_password_wrong"
    accounts.change_password(session, user_id=user.id, old_password=PW,
                             new_password="another-pass",
                             keep_session_hash=sessions.token_hash(here))
    session.commit()
    assert sessions.resolve_session(session, token_hash_hex=sessions.token_hash(here))
    assert sessions.resolve_session(session, token_hash_hex=sessions.token_hash(there)) is None
    assert accounts.sign_in_with_password(session, account="amy@example.com",
                                          password="another-pass")


def test_update_nickname(session):
    user = _register(session)
    assert accounts.update_nickname(session, user_id=user.id, nickname="  新名字 ").nickname == "新名字"
    for bad in ("", "x" * 21, 42, None, "a\u202eb"):
        with pytest.raises(DomainError):
            accounts.update_nickname(session, user_id=user.id, nickname=bad)


def test_ensure_user_is_idempotent(session):
    a = accounts.ensure_user(session, email="Owner@X.com", password=PW, nickname="店主",
                             role="owner")
    b = accounts.ensure_user(session, email="owner@x.com", password="other-pass", nickname="x")
    session.commit()
    assert a.id == b.id and a.role == "owner" and _count(session, User) == 1

"""TOTP two-factor (services/accounts/mfa.py) and staff management / audit viewer (services/dashboard/staff.py),
on SQLite and PostgreSQL.

What a user relies on: the QR enrols the authenticator they scanned; the seed is never stored in
clear; a code works once, only near its time; wrong codes are counted and then blocked; recovery
codes work once each and are stored only hashed; the owner can reset staff 2FA and manage staff;
every change is in the audit log; bad input changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import io
from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlparse

import pyotp
import pytest
from PIL import Image
from sqlalchemy import func
from sqlmodel import select

from coursemall.demo.security import DEMO_OWNER_TOTP_SECRET, ensure_demo_owner_totp
from coursemall.domain.errors import DomainError
from coursemall.models import AuditLog, Instructor, LoginAttempt, MfaRecoveryCode, User, UserSession, utcnow
from coursemall.services import crypto
from coursemall.services.accounts import mfa, sessions
from coursemall.services.dashboard import staff
from coursemall.settings import get_settings
from tests.payments.factories import make_user

NOW = utcnow().replace(microsecond=0)


def code_at(secret: str, when=NOW, offset_steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(when, counter_offset=offset_steps)


def session_of(session, user_id: int) -> tuple[str, int]:
    token = sessions.create_session(session, user_id=user_id)
    resolved = sessions.resolve_session(session, token_hash_hex=sessions.token_hash(token))
    return token, resolved.session_id


def verified(session, token: str) -> bool:
    resolved = sessions.resolve_session(session, token_hash_hex=sessions.token_hash(token))
    return bool(resolved and resolved.mfa_verified)


def audit_actions(session, user_id: int | None = None) -> list[str]:
    q = select(AuditLog.action).order_by(AuditLog.id)
    if user_id is not None:
        q = q.where(AuditLog.target == f"user:{user_id}")
    return list(session.exec(q).all())


def user_row(session, user_id: int) -> User:
    return session.exec(select(User).where(User.id == user_id).execution_options(populate_existing=True)).one()


def enrol(session, user_id: int, when=NOW) -> tuple[str, list[str], str]:
    """Enrol through the real flow; returns (seed, recovery codes, session token)."""
    token, sid = session_of(session, user_id)
    e = mfa.start_enrolment(session, actor_id=user_id, session_verified=False)
    codes = mfa.confirm_enrolment(session, actor_id=user_id, secret=e.secret, code=code_at(e.secret, when),
                                  session_id=sid, session_verified=False, now=when)
    session.commit()
    return e.secret, codes, token


@pytest.fixture
def people(session):
    owner = make_user(session, role="owner")
    staff_user = make_user(session, role="staff")
    learner = make_user(session)
    teacher = make_user(session, role="instructor")
    session.add(Instructor(user_id=teacher.id, name="讲师甲", status="approved"))
    session.commit()
    return {"owner": owner.id, "staff": staff_user.id, "learner": learner.id, "teacher": teacher.id}


# ---------------------------------------------------------------------------------- enrolment

def test_enrolment_qr_names_the_shop_and_the_account(session, people):
    e = mfa.start_enrolment(session, actor_id=people["staff"], session_verified=False)
    uri = urlparse(e.uri)
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert parse_qs(uri.query)["secret"] == [e.secret]
    assert parse_qs(uri.query)["issuer"] == [get_settings().shop_name]
    user = user_row(session, people["staff"])
    assert unquote(uri.path).endswith(user.email)
    assert e.qr_data_url.startswith("data:image/png;base64,")
    img = Image.open(io.BytesIO(base64.b64decode(e.qr_data_url.split(",", 1)[1])))
    assert img.format == "PNG" and img.size[0] >= 150
    # nothing is stored until the code is confirmed
    assert user.totp_secret == "" and mfa.mfa_status(session, actor_id=people["staff"]).enrolled is False


def test_confirm_stores_the_seed_encrypted_and_verifies_this_device(session, people):
    secret, codes, token = enrol(session, people["staff"])
    user = user_row(session, people["staff"])
    assert secret not in user.totp_secret and user.totp_secret.startswith(crypto.PREFIX)
    assert crypto.decrypt(user.totp_secret) == secret
    assert verified(session, token)
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = session.exec(select(MfaRecoveryCode.code_hash).where(MfaRecoveryCode.user_id == user.id)).all()
    assert len(stored) == 10 and all(c.replace("-", "") not in " ".join(stored) for c in codes)
    assert hashlib.sha256(f"{user.id}:{codes[0].replace('-', '')}".encode()).hexdigest() in stored
    status = mfa.mfa_status(session, actor_id=people["staff"])
    assert (status.enrolled, status.required, status.recovery_left) == (True, True, 10)
    assert audit_actions(session, user.id) == ["mfa.enrol"]


@pytest.mark.parametrize("bad", ["000000", "12345", "abcdef", "", None, 123456, {"code": "1"}, "1" * 5000])
def test_a_wrong_code_does_not_enrol(session, people, bad):
    token, sid = session_of(session, people["staff"])
    e = mfa.start_enrolment(session, actor_id=people["staff"], session_verified=False)
    if bad == "000000" and code_at(e.secret) == bad:
        bad = "999999"
    with pytest.raises(DomainError) as exc:
        mfa.confirm_enrolment(session, actor_id=people["staff"], secret=e.secret, code=bad, session_id=sid,
                              session_verified=False, now=NOW)
    assert exc.value.code == "mfa.code_wrong"
    session.rollback()
    assert user_row(session, people["staff"]).totp_secret == ""
    assert not verified(session, token) and audit_actions(session) == []


@pytest.mark.parametrize("secret", ["", "not base32!", "A" * 200, None, 42])
def test_a_forged_pending_seed_is_refused(session, people, secret):
    _token, sid = session_of(session, people["staff"])
    with pytest.raises(DomainError) as exc:
        mfa.confirm_enrolment(session, actor_id=people["staff"], secret=secret, code="123456", session_id=sid,
                              session_verified=False, now=NOW)
    assert exc.value.code == "mfa.enrol_expired"
    assert user_row(session, people["staff"]).totp_secret == ""


def test_replacing_the_authenticator_needs_a_verified_device(session, people):
    secret, _codes, _token = enrol(session, people["staff"])
    with pytest.raises(DomainError) as exc:  # a stolen password alone cannot swap the second factor
        mfa.start_enrolment(session, actor_id=people["staff"], session_verified=False)
    assert exc.value.code == "mfa.verify_first"
    e = mfa.start_enrolment(session, actor_id=people["staff"], session_verified=True)
    _t, sid = session_of(session, people["staff"])
    later = NOW + timedelta(minutes=2)
    mfa.confirm_enrolment(session, actor_id=people["staff"], secret=e.secret, code=code_at(e.secret, later),
                          session_id=sid, session_verified=True, now=later)
    assert crypto.decrypt(user_row(session, people["staff"]).totp_secret) == e.secret != secret


def test_learners_cannot_enrol(session, people):
    for fn in (lambda: mfa.start_enrolment(session, actor_id=people["learner"], session_verified=False),
               lambda: mfa.mfa_status(session, actor_id=people["learner"]),
               lambda: mfa.verify(session, actor_id=people["learner"], code="123456", session_id=1)):
        with pytest.raises(DomainError) as exc:
            fn()
        assert exc.value.code == "error.forbidden"


def test_instructors_may_enrol_optionally(session, people):
    status = mfa.mfa_status(session, actor_id=people["teacher"])
    assert (status.enrolled, status.required) == (False, False)
    enrol(session, people["teacher"])
    assert mfa.mfa_status(session, actor_id=people["teacher"]).enrolled


# ---------------------------------------------------------------------------------- verification

def test_a_code_works_once_and_only_near_its_time(session, people):
    secret, _codes, _t = enrol(session, people["staff"], when=NOW - timedelta(minutes=10))
    token, sid = session_of(session, people["staff"])
    assert not verified(session, token)
    assert mfa.verify(session, actor_id=people["staff"], code=code_at(secret), session_id=sid, now=NOW) == "totp"
    session.commit()
    assert verified(session, token)
    # the same code again (replay) is refused, on this or another device
    _token2, sid2 = session_of(session, people["staff"])
    with pytest.raises(DomainError) as exc:
        mfa.verify(session, actor_id=people["staff"], code=code_at(secret), session_id=sid2, now=NOW)
    assert exc.value.code == "mfa.code_used"
    # the previous step is older than the last accepted one: refused too
    with pytest.raises(DomainError):
        mfa.verify(session, actor_id=people["staff"], code=code_at(secret, offset_steps=-1), session_id=sid2,
                   now=NOW)
    # the next step (a fast phone clock) is fine once
    assert mfa.verify(session, actor_id=people["staff"], code=f" {code_at(secret, offset_steps=1)} ",
                      session_id=sid2, now=NOW) == "totp"
    # codes from 2 minutes ago or ahead are refused
    _t3, sid3 = session_of(session, people["staff"])
    for minutes in (-2, 2):
        with pytest.raises(DomainError) as exc:
            mfa.verify(session, actor_id=people["staff"], code=code_at(secret, NOW + timedelta(minutes=minutes)),
                       session_id=sid3, now=NOW + timedelta(seconds=1))
        assert exc.value.code in ("mfa.code_wrong", "mfa.code_used")


def test_verify_marks_only_the_callers_own_session(session, people):
    secret, _codes, _t = enrol(session, people["staff"], when=NOW - timedelta(minutes=10))
    owner_token, owner_sid = session_of(session, people["owner"])
    mfa.verify(session, actor_id=people["staff"], code=code_at(secret), session_id=owner_sid, now=NOW)
    session.commit()
    assert not verified(session, owner_token)  # another user's session id is ignored


def test_wrong_codes_are_counted_and_then_blocked(session, people):
    secret, _codes, _t = enrol(session, people["staff"], when=NOW - timedelta(minutes=10))
    token, sid = session_of(session, people["staff"])
    wrong = "000000" if code_at(secret) != "000000" else "111111"
    for _ in range(get_settings().login_max_fails):
        with pytest.raises(DomainError) as exc:
            mfa.verify(session, actor_id=people["staff"], code=wrong, session_id=sid, ip="10.0.0.9", now=NOW)
        assert exc.value.code == "mfa.code_wrong"
        session.rollback()  # as session_scope does: the failure was committed before the error
    fails = session.exec(select(func.count()).select_from(LoginAttempt)
                         .where(LoginAttempt.identifier == f"mfa:{people['staff']}",
                                LoginAttempt.success.is_(False))).one()
    assert fails == get_settings().login_max_fails
    with pytest.raises(DomainError) as exc:  # now even the right code waits
        mfa.verify(session, actor_id=people["staff"], code=code_at(secret), session_id=sid, ip="10.0.0.9", now=NOW)
    assert exc.value.code.startswith("limit.signin_")  # the wait left in the window: minutes or seconds
    session.rollback()
    assert not verified(session, token)


def test_not_enrolled_cannot_verify(session, people):
    _token, sid = session_of(session, people["owner"])
    with pytest.raises(DomainError) as exc:
        mfa.verify(session, actor_id=people["owner"], code="123456", session_id=sid)
    assert exc.value.code == "mfa.not_enrolled"


def test_a_seed_under_another_secret_key_is_reported(session, people):
    enrol(session, people["staff"], when=NOW - timedelta(minutes=10))
    user = user_row(session, people["staff"])
    user.totp_secret = crypto.PREFIX + "garbage"
    session.add(user)
    session.commit()
    _token, sid = session_of(session, people["staff"])
    with pytest.raises(DomainError) as exc:
        mfa.verify(session, actor_id=people["staff"], code="123456", session_id=sid, now=NOW)
    assert exc.value.code == "mfa.seed_unreadable"


# ---------------------------------------------------------------------------------- recovery codes

def test_recovery_codes_work_once_each(session, people):
    _secret, codes, _t = enrol(session, people["owner"], when=NOW - timedelta(minutes=10))
    token, sid = session_of(session, people["owner"])
    assert mfa.verify(session, actor_id=people["owner"], code=codes[0].lower(), session_id=sid, now=NOW) == "recovery"
    session.commit()
    assert verified(session, token)
    assert mfa.mfa_status(session, actor_id=people["owner"]).recovery_left == 9
    _t2, sid2 = session_of(session, people["owner"])
    with pytest.raises(DomainError) as exc:
        mfa.verify(session, actor_id=people["owner"], code=codes[0], session_id=sid2, now=NOW)
    assert exc.value.code == "mfa.code_wrong"
    session.rollback()
    assert "mfa.recovery_used" in audit_actions(session, people["owner"])


def test_one_users_recovery_code_does_not_open_another_account(session, people):
    _s1, staff_codes, _t = enrol(session, people["staff"], when=NOW - timedelta(minutes=10))
    enrol(session, people["owner"], when=NOW - timedelta(minutes=10))
    _t2, sid = session_of(session, people["owner"])
    with pytest.raises(DomainError):
        mfa.verify(session, actor_id=people["owner"], code=staff_codes[0], session_id=sid, now=NOW)


def test_regenerating_replaces_every_code(session, people):
    _secret, old, _t = enrol(session, people["staff"])
    with pytest.raises(DomainError) as exc:
        mfa.regenerate_recovery_codes(session, actor_id=people["staff"], session_verified=False)
    assert exc.value.code == "mfa.verify_first"
    new = mfa.regenerate_recovery_codes(session, actor_id=people["staff"], session_verified=True)
    session.commit()
    assert len(new) == 10 and not set(new) & set(old)
    _t2, sid = session_of(session, people["staff"])
    with pytest.raises(DomainError):
        mfa.verify(session, actor_id=people["staff"], code=old[1], session_id=sid, now=NOW)
    session.rollback()
    assert mfa.verify(session, actor_id=people["staff"], code=new[1], session_id=sid, now=NOW) == "recovery"
    assert "mfa.recovery_regenerate" in audit_actions(session, people["staff"])


# ---------------------------------------------------------------------------------- owner reset

def test_owner_resets_a_staff_members_2fa(session, people):
    _secret, _codes, token = enrol(session, people["staff"])
    assert verified(session, token)
    mfa.reset_user_mfa(session, actor_id=people["owner"], user_id=people["staff"])
    session.commit()
    user = user_row(session, people["staff"])
    assert (user.totp_secret, user.totp_last_step) == ("", 0)
    assert session.exec(select(func.count()).select_from(MfaRecoveryCode)
                        .where(MfaRecoveryCode.user_id == user.id)).one() == 0
    assert not verified(session, token)  # every device must pass the step again
    last = session.exec(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert (last.action, last.actor_id, last.target) == ("mfa.reset", people["owner"], f"user:{user.id}")


@pytest.mark.parametrize("who", ["staff", "teacher", "learner"])
def test_only_the_owner_resets(session, people, who):
    secret, _codes, _t = enrol(session, people["owner"])
    with pytest.raises(DomainError) as exc:
        mfa.reset_user_mfa(session, actor_id=people[who], user_id=people["owner"])
    assert exc.value.code == "error.forbidden"
    assert crypto.decrypt(user_row(session, people["owner"]).totp_secret) == secret


@pytest.mark.parametrize("target", [None, "1", 10**9, True, -1])
def test_reset_of_unknown_users(session, people, target):
    with pytest.raises(DomainError) as exc:
        mfa.reset_user_mfa(session, actor_id=people["owner"], user_id=target)
    assert exc.value.code == "error.not_found"


def test_owner_cannot_reset_own_2fa(session, people):
    enrol(session, people["owner"])
    with pytest.raises(DomainError) as exc:
        mfa.reset_user_mfa(session, actor_id=people["owner"], user_id=people["owner"])
    assert exc.value.code == "mfa.reset_self"


# ---------------------------------------------------------------------------------- demo seed

def test_demo_owner_enrolment_is_idempotent(session, people):
    owner = user_row(session, people["owner"])
    assert ensure_demo_owner_totp(session, owner) is True
    session.commit()
    stored = user_row(session, people["owner"]).totp_secret
    assert crypto.decrypt(stored) == DEMO_OWNER_TOTP_SECRET
    assert ensure_demo_owner_totp(session, owner) is False
    session.commit()
    assert user_row(session, people["owner"]).totp_secret == stored
    token, sid = session_of(session, people["owner"])
    assert mfa.verify(session, actor_id=people["owner"], code=pyotp.TOTP(DEMO_OWNER_TOTP_SECRET).now(),
                      session_id=sid) == "totp"
    session.commit()
    assert verified(session, token)


# ---------------------------------------------------------------------------------- staff management

def test_owner_promotes_by_email_or_phone_and_demotes(session, people):
    learner = user_row(session, people["learner"])
    row = staff.promote_to_staff(session, actor_id=people["owner"], account=f"  {learner.email.upper()} ")
    session.commit()
    assert row.role == "staff" and user_row(session, learner.id).role == "staff"
    listed = staff.list_staff(session, actor_id=people["owner"])
    assert {r.user_id for r in listed} == {people["owner"], people["staff"], learner.id}
    phone_user = make_user(session)
    phone_user.phone = "13900139000"
    session.add(phone_user)
    session.commit()
    staff.promote_to_staff(session, actor_id=people["owner"], account="139-0013-9000")
    session.commit()
    assert user_row(session, phone_user.id).role == "staff"

    token = sessions.create_session(session, user_id=learner.id, mfa_verified=True)
    session.commit()
    staff.demote_staff(session, actor_id=people["owner"], user_id=learner.id)
    session.commit()
    assert user_row(session, learner.id).role == "learner"
    assert sessions.resolve_session(session, token_hash_hex=sessions.token_hash(token)) is None
    assert audit_actions(session, learner.id) == ["staff.promote", "staff.demote"]


def test_a_demoted_instructor_keeps_the_instructor_role(session, people):
    teacher = user_row(session, people["teacher"])
    staff.promote_to_staff(session, actor_id=people["owner"], account=teacher.email)
    staff.demote_staff(session, actor_id=people["owner"], user_id=teacher.id)
    assert user_row(session, teacher.id).role == "instructor"


@pytest.mark.parametrize("account,code", [
    ("nobody@example.com", "staff.account_not_found"),
    ("not an account", "auth.account_invalid"),
    (None, "auth.account_invalid"),
    ({"a": 1}, "auth.account_invalid"),
    ("x" * 10_000, "auth.account_invalid"),
])
def test_promote_refuses_unknown_or_bad_accounts(session, people, account, code):
    before = [(u.id, u.role) for u in session.exec(select(User).order_by(User.id)).all()]
    with pytest.raises(DomainError) as exc:
        staff.promote_to_staff(session, actor_id=people["owner"], account=account)
    assert exc.value.code == code
    session.rollback()
    assert [(u.id, u.role) for u in session.exec(select(User).order_by(User.id)).all()] == before
    assert audit_actions(session) == []


def test_promote_refuses_owner_staff_and_frozen(session, people):
    for uid in (people["owner"], people["staff"]):
        with pytest.raises(DomainError) as exc:
            staff.promote_to_staff(session, actor_id=people["owner"], account=user_row(session, uid).email)
        assert exc.value.code == "staff.already_staff"
    frozen = make_user(session)
    frozen.is_active = False
    session.add(frozen)
    session.commit()
    with pytest.raises(DomainError) as exc:
        staff.promote_to_staff(session, actor_id=people["owner"], account=frozen.email)
    assert exc.value.code == "staff.account_not_found"


@pytest.mark.parametrize("target", ["owner", "learner", "teacher"])
def test_demote_only_staff(session, people, target):
    with pytest.raises(DomainError) as exc:
        staff.demote_staff(session, actor_id=people["owner"], user_id=people[target])
    assert exc.value.code == "error.not_found"
    assert user_row(session, people[target]).role == {"owner": "owner", "learner": "learner",
                                                      "teacher": "instructor"}[target]


@pytest.mark.parametrize("who", ["staff", "teacher", "learner"])
def test_staff_management_is_owner_only(session, people, who):
    learner_email = user_row(session, people["learner"]).email
    calls = [lambda: staff.list_staff(session, actor_id=people[who]),
             lambda: staff.promote_to_staff(session, actor_id=people[who], account=learner_email),
             lambda: staff.demote_staff(session, actor_id=people[who], user_id=people["staff"]),
             lambda: staff.list_audit(session, actor_id=people[who]),
             lambda: staff.audit_actors(session, actor_id=people[who])]
    for fn in calls:
        with pytest.raises(DomainError) as exc:
            fn()
        assert exc.value.code == "error.forbidden"
    assert user_row(session, people["staff"]).role == "staff"
    assert user_row(session, people["learner"]).role == "learner"


# ---------------------------------------------------------------------------------- audit viewer

def test_audit_log_newest_first_filtered_and_paged(session, people):
    from coursemall.services import audit

    for i in range(staff.AUDIT_PAGE_SIZE + 5):
        session.add(AuditLog(actor_id=people["staff"], action="refund.approve", target=f"refund:{i}",
                             detail={"n": i}, created_at=NOW + timedelta(seconds=i)))
    audit.record(session, actor_id=people["owner"], action="staff.promote", target="user:9", detail={"from": "learner"})
    audit.record(session, actor_id=None, action="mfa.enrol", target="user:1")
    session.commit()

    page1 = staff.list_audit(session, actor_id=people["owner"])
    assert len(page1.rows) == staff.AUDIT_PAGE_SIZE and page1.has_more
    times = [r.created_at for r in page1.rows]
    assert times == sorted(times, reverse=True)
    page2 = staff.list_audit(session, actor_id=people["owner"], page=2)
    assert not page2.has_more and len(page2.rows) == 7
    assert {r.id for r in page1.rows}.isdisjoint(r.id for r in page2.rows)

    only = staff.list_audit(session, actor_id=people["owner"], action_prefix="staff.")
    assert [(r.action, r.target, r.detail) for r in only.rows] == [("staff.promote", "user:9", '{"from": "learner"}')]
    owner_nick = user_row(session, people["owner"]).nickname
    assert only.rows[0].actor == owner_nick
    system = staff.list_audit(session, actor_id=people["owner"], action_prefix="mfa")
    assert [r.actor for r in system.rows] == [""]
    by_staff = staff.list_audit(session, actor_id=people["owner"], actor_filter=people["staff"])
    assert by_staff.has_more and all(r.action == "refund.approve" for r in by_staff.rows)
    # '_' and '%' are literal in the prefix, not wildcards
    assert staff.list_audit(session, actor_id=people["owner"], action_prefix="refund_").rows == []
    actors = staff.audit_actors(session, actor_id=people["owner"])
    assert {a.user_id for a in actors} == {people["owner"], people["staff"]}


@pytest.mark.parametrize("kwargs", [{"action_prefix": "DROP TABLE;"}, {"action_prefix": None},
                                    {"action_prefix": "x" * 200}, {"actor_filter": "1"},
                                    {"actor_filter": True}, {"page": 0}, {"page": "2"}, {"page": 10**9}])
def test_audit_filters_refuse_bad_values(session, people, kwargs):
    with pytest.raises(DomainError) as exc:
        staff.list_audit(session, actor_id=people["owner"], **kwargs)
    assert exc.value.code == "audit.bad_filter"


def test_no_plain_seed_anywhere_in_the_database(session, people):
    secret, codes, _t = enrol(session, people["staff"])
    rows = [repr(r) for model in (User, UserSession, MfaRecoveryCode, AuditLog, LoginAttempt)
            for r in session.exec(select(model)).all()]
    blob = "\n".join(rows)
    assert secret not in blob
    assert not any(c.replace("-", "") in blob for c in codes)

"""Leak tracing on SQLite and PostgreSQL.

From a watermark code typed the way it looks in a screenshot to the account, its orders, devices,
IPs and study; freeze (cannot sign in any more, every device signed out), revoke every course,
unfreeze — each audited, none telling the account anything. Learners and instructors are refused,
owner/staff accounts are protected, bad input changes nothing.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, func, select

from coursemall.domain.errors import DomainError
from coursemall.models import (
    AuditLog,
    Chapter,
    Entitlement,
    Instructor,
    Lesson,
    LessonProgress,
    LoginAttempt,
    Message,
    Order,
    OutboxMessage,
    User,
    UserSession,
)
from coursemall.models.base import utcnow
from coursemall.services.accounts import sessions, users as accounts
from coursemall.services.commerce import cart, checkout, payments
from coursemall.services.dashboard import leak
from tests.payments.factories import make_course, make_user

PW = "leak-test-2026"
CODE = "K7QZ2MFO"


@pytest.fixture(autouse=True)
def _cheap_hashes(monkeypatch):
    """Cheap argon2 parameters (the hash carries them, so verification is unchanged)."""
    from argon2 import PasswordHasher

    monkeypatch.setattr("coursemall.services.accounts.users.hash_password",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash)


@pytest.fixture
def shop(session: Session) -> dict:
    owner = make_user(session, role="owner")
    staff = make_user(session, role="staff")
    staff2 = make_user(session, role="staff")
    teacher = make_user(session)
    session.add(Instructor(user_id=teacher.id, name="讲师", status="approved"))
    other = make_user(session)
    view = accounts.register_user(session, account="leaker@example.com", password=PW, nickname="泄露者")
    leaker = session.get(User, view.id)
    leaker.watermark_code = CODE
    session.add(leaker)
    session.commit()
    courses = [make_course(session, price_fen=p, title=t) for p, t in ((1990, "数据分析"), (2990, "机器学习"))]
    for c in courses:
        cart.add_to_cart(session, actor_id=leaker.id, item_type="course", item_id=c.id)
    order = checkout.checkout_cart(session, actor_id=leaker.id)
    payments.sandbox_decide(session, actor_id=leaker.id, order_no=order.out_trade_no, outcome="pay")
    chapter = Chapter(course_id=courses[0].id, title="第一章")
    session.add(chapter)
    session.flush()
    lesson = Lesson(course_id=courses[0].id, chapter_id=chapter.id, title="第一课", kind="video", duration_seconds=600)
    session.add(lesson)
    session.flush()
    session.add(LessonProgress(user_id=leaker.id, lesson_id=lesson.id, course_id=courses[0].id, percent=55))
    now = utcnow()
    sessions.create_session(session, user_id=leaker.id, user_agent="Mozilla/5.0 (iPhone) Mobile", ip="10.0.0.1")
    sessions.create_session(session, user_id=leaker.id, user_agent="Mozilla/5.0 (Windows NT 10.0)", ip="10.0.0.2")
    old = sessions.create_session(session, user_id=leaker.id, user_agent="old phone", ip="10.0.0.1",
                                  now=now - timedelta(days=60))
    sessions.revoke_session_by_hash(session, token_hash_hex=sessions.token_hash(old))
    for ip, ok in (("10.0.0.1", True), ("10.0.0.1", False), ("10.0.0.3", False), ("10.0.0.3", False)):
        session.add(LoginAttempt(identifier="leaker@example.com", ip=ip, success=ok))
    session.add(LoginAttempt(identifier="someone-else@example.com", ip="10.9.9.9", success=True))
    session.commit()
    return {"owner": owner.id, "staff": staff.id, "staff2": staff2.id, "teacher": teacher.id, "other": other.id,
            "leaker": leaker.id, "order_no": order.out_trade_no, "courses": [c.id for c in courses]}


def snapshot(s: Session) -> dict:
    s.expire_all()
    return {
        "users": sorted((u.id, u.is_active, u.frozen_reason) for u in s.exec(select(User)).all()),
        "sessions": sorted((x.id, x.revoked_at is None) for x in s.exec(select(UserSession)).all()),
        "grants": sorted((e.id, e.revoked_at is None, e.revoke_reason) for e in s.exec(select(Entitlement)).all()),
        "orders": sorted((o.out_trade_no, o.status) for o in s.exec(select(Order)).all()),
        "audit": s.exec(select(func.count()).select_from(AuditLog)).one(),
        "messages": s.exec(select(func.count()).select_from(Message)).one(),
        "outbox": s.exec(select(func.count()).select_from(OutboxMessage)).one(),
    }


def audit_actions(s: Session) -> list[tuple[str, str]]:
    return [(a.action, a.target) for a in s.exec(select(AuditLog).order_by(AuditLog.id)).all()]


# ---------------------------------------------------------------------------------- lookup

@pytest.mark.parametrize("typed", [CODE, "k7qz2mfo", " K7QZ 2MFO ", "k7qz-2mf0", "K7QZ\u30002MF0", "k.7.q.z.2.m.f.o"])
def test_code_is_found_however_it_was_typed(session, shop, typed):
    report = leak.trace_code(session, actor_id=shop["staff"], code=typed)
    assert report.account.user_id == shop["leaker"] and report.account.watermark_code == CODE


def test_report_shows_account_orders_devices_ips_and_study(session, shop):
    report = leak.trace_code(session, actor_id=shop["owner"], code=CODE)
    a = report.account
    assert (a.nickname, a.email, a.is_active, a.role) == ("泄露者", "leaker@example.com", True, "learner")
    assert [o.order_no for o in report.orders] == [shop["order_no"]]
    assert report.orders[0].status == "paid" and report.orders[0].total_fen == 1990 + 2990
    assert report.orders[0].titles == "数据分析、机器学习"
    states = sorted((d.user_agent, d.state) for d in report.devices)
    assert states == [("Mozilla/5.0 (Windows NT 10.0)", "active"), ("Mozilla/5.0 (iPhone) Mobile", "active"),
                      ("old phone", "revoked")]
    ips = {i.ip: (i.sessions, i.sign_ins, i.failed) for i in report.ips}
    assert ips == {"10.0.0.1": (2, 1, 1), "10.0.0.2": (1, 0, 0), "10.0.0.3": (0, 0, 2)}  # not 10.9.9.9
    assert [(s.course, s.lesson, s.percent) for s in report.study] == [("数据分析", "第一课", 55)]
    assert report.active_courses == 2 and report.live_devices == 2
    assert report.recent_ips == 2  # 10.0.0.1 and .2 seen lately; .3 only failed


def test_every_lookup_is_audited(session, shop):
    leak.trace_code(session, actor_id=shop["staff"], code="k7qz 2mfo")
    session.commit()
    entry = session.exec(select(AuditLog).where(AuditLog.action == "leak.lookup")).one()
    assert entry.actor_id == shop["staff"] and entry.target == f"user:{shop['leaker']}"
    assert entry.detail == {"code": "k7qz2mfo"}


@pytest.mark.parametrize("code,error", [
    ("ZZZZ9999", "leak.not_found"), ("abc", "leak.code_invalid"), ("K7QZ2MFO!", "leak.code_invalid"),
    ("", "leak.code_invalid"), ("x" * 100_000, "leak.code_invalid"), (None, "leak.code_invalid"),
    (["K7QZ2MFO"], "leak.code_invalid"), ({"code": CODE}, "leak.code_invalid"), (12345678, "leak.code_invalid"),
    ("K7QZ2MFOK7QZ2", "leak.code_invalid"), ("' OR 1=1 --", "leak.code_invalid"),
])
def test_unknown_or_malformed_code_is_a_clear_error_and_changes_nothing(session, shop, code, error):
    before = snapshot(session)
    with pytest.raises(DomainError) as exc:
        leak.trace_code(session, actor_id=shop["staff"], code=code)
    assert exc.value.code == error
    session.rollback()
    assert snapshot(session) == before


# ---------------------------------------------------------------------------------- actions

def test_freeze_signs_out_everywhere_and_blocks_sign_in_without_telling_anyone(session, shop):
    token = sessions.create_session(session, user_id=shop["leaker"], ip="10.0.0.5")
    session.commit()
    assert sessions.resolve_session(session, token_hash_hex=sessions.token_hash(token)) is not None
    messages_before = snapshot(session)

    revoked = leak.freeze_account(session, actor_id=shop["staff"], user_id=shop["leaker"], reason="盗版视频出现水印")
    session.commit()

    assert revoked == 3  # the two open sessions from the fixture and this one
    user = session.get(User, shop["leaker"])
    session.refresh(user)
    assert not user.is_active and user.frozen_reason == "盗版视频出现水印"
    assert sessions.resolve_session(session, token_hash_hex=sessions.token_hash(token)) is None
    with pytest.raises(DomainError) as exc:  # the same answer as a wrong password: no hint
        accounts.sign_in_with_password(session, account="leaker@example.com", password=PW)
    assert exc.value.code == "auth.bad_credentials"
    assert ("leak.freeze", f"user:{shop['leaker']}") in audit_actions(session)
    after = snapshot(session)
    assert (after["messages"], after["outbox"]) == (messages_before["messages"], messages_before["outbox"])
    # the report shows it
    report = leak.leak_report(session, actor_id=shop["staff"], user_id=shop["leaker"])
    assert not report.account.is_active and report.live_devices == 0

    # a second click changes nothing
    before = snapshot(session)
    with pytest.raises(DomainError) as exc:
        leak.freeze_account(session, actor_id=shop["owner"], user_id=shop["leaker"], reason="again")
    assert exc.value.code == "leak.already_frozen"
    session.rollback()
    assert snapshot(session) == before


def test_unfreeze_lets_the_account_sign_in_again(session, shop):
    leak.freeze_account(session, actor_id=shop["staff"], user_id=shop["leaker"], reason="误判前")
    session.commit()
    leak.unfreeze_account(session, actor_id=shop["owner"], user_id=shop["leaker"], reason="误判，已核实")
    session.commit()
    view = accounts.sign_in_with_password(session, account="leaker@example.com", password=PW)
    assert view.id == shop["leaker"]
    user = session.get(User, shop["leaker"])
    session.refresh(user)
    assert user.is_active and user.frozen_reason == ""
    entry = session.exec(select(AuditLog).where(AuditLog.action == "leak.unfreeze")).one()
    assert entry.detail == {"reason": "误判，已核实", "was": "误判前"}
    with pytest.raises(DomainError) as exc:
        leak.unfreeze_account(session, actor_id=shop["owner"], user_id=shop["leaker"], reason="again")
    assert exc.value.code == "leak.not_frozen"


def test_revoke_all_access_revokes_every_course_but_keeps_orders(session, shop):
    before = snapshot(session)
    count = leak.revoke_all_access(session, actor_id=shop["staff"], user_id=shop["leaker"], reason="分享账号")
    session.commit()
    assert count == 2
    grants = session.exec(select(Entitlement).where(Entitlement.user_id == shop["leaker"])).all()
    assert all(g.revoked_at is not None and g.revoke_reason == "分享账号" for g in grants)
    after = snapshot(session)
    assert after["orders"] == before["orders"] and after["messages"] == before["messages"]
    entry = session.exec(select(AuditLog).where(AuditLog.action == "leak.revoke_access")).one()
    assert entry.detail["entitlements"] == 2 and sorted(entry.detail["course_ids"]) == sorted(shop["courses"])
    assert leak.leak_report(session, actor_id=shop["staff"], user_id=shop["leaker"]).active_courses == 0
    with pytest.raises(DomainError) as exc:
        leak.revoke_all_access(session, actor_id=shop["staff"], user_id=shop["leaker"], reason="again")
    assert exc.value.code == "leak.nothing_to_revoke"


# ---------------------------------------------------------------------------------- permissions

ACTIONS = [leak.freeze_account, leak.unfreeze_account, leak.revoke_all_access]


@pytest.mark.parametrize("who", ["leaker", "other", "teacher"])
def test_learners_and_instructors_are_refused_everything(session, shop, who):
    before = snapshot(session)
    with pytest.raises(DomainError) as exc:
        leak.trace_code(session, actor_id=shop[who], code=CODE)
    assert exc.value.code == "error.forbidden"
    with pytest.raises(DomainError) as exc:
        leak.leak_report(session, actor_id=shop[who], user_id=shop["leaker"])
    assert exc.value.code == "error.forbidden"
    for action in ACTIONS:
        with pytest.raises(DomainError) as exc:
            action(session, actor_id=shop[who], user_id=shop["leaker"], reason="试试")
        assert exc.value.code == "error.forbidden"
    session.rollback()
    assert snapshot(session) == before


@pytest.mark.parametrize("actor,target,error", [
    ("staff", "owner", "leak.protected"), ("staff", "staff2", "leak.protected"), ("owner", "owner", "leak.not_self"),
    ("staff", "staff", "leak.not_self"), ("staff", None, "error.not_found"),
])
def test_owner_staff_and_self_are_protected(session, shop, actor, target, error):
    before = snapshot(session)
    target_id = shop[target] if target else 999_999
    for action in ACTIONS:
        with pytest.raises(DomainError) as exc:
            action(session, actor_id=shop[actor], user_id=target_id, reason="理由")
        assert exc.value.code == error
    session.rollback()
    assert snapshot(session) == before


def test_owner_may_freeze_staff(session, shop):
    leak.freeze_account(session, actor_id=shop["owner"], user_id=shop["staff2"], reason="离职账号外泄")
    session.commit()
    assert not session.get(User, shop["staff2"]).is_active


@pytest.mark.parametrize("reason", ["", "   ", "x" * 201, None, 5, ["r"], {"r": 1}, "a\x00b"])
def test_bad_reason_changes_nothing(session, shop, reason):
    before = snapshot(session)
    for action in ACTIONS:
        with pytest.raises(DomainError) as exc:
            action(session, actor_id=shop["staff"], user_id=shop["leaker"], reason=reason)
        assert exc.value.code in ("leak.reason_invalid", "leak.not_frozen")
    session.rollback()
    assert snapshot(session) == before


@pytest.mark.parametrize("user_id", [None, "1", True, 1.5, [1], {"id": 1}, -1, 0])
def test_bad_user_id_changes_nothing(session, shop, user_id):
    before = snapshot(session)
    for action in ACTIONS:
        with pytest.raises(DomainError) as exc:
            action(session, actor_id=shop["staff"], user_id=user_id, reason="理由")
        assert exc.value.code == "error.not_found"
    session.rollback()
    assert snapshot(session) == before

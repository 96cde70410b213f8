"""Leak tracing: from the watermark code seen in a pirated copy to the account,
its orders, devices, IPs and recent study, and the one-click responses.

Rules:
- owner and staff only (`require_dashboard(staff_only=True)`); every lookup and every action is
  written to the audit log in the same transaction;
- the code is matched tolerantly: spaces, dashes and dots are ignored, case does not matter, and
  the digits 0/1/8 read as O/I/B (base32 codes never contain them, a screenshot often looks so);
- freeze = `is_active` False + the reason + every session revoked. A frozen account cannot sign
  in (password, one-time code, password reset, WeChat ticket) and its open sessions stop resolving
  (services/accounts/users.py and services/accounts/sessions.py check `is_active`); media URLs already handed
  out stop working at once, since /api/media re-resolves the session bound to each token;
- nobody is told: no message, e-mail or notification goes to the account (do not tip off);
- the owner account, the acting user and (for staff) other staff accounts are protected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, update
from sqlmodel import Session, func, select

from coursemall.domain.errors import DomainError
from coursemall.domain.orders import STAFF_ROLES
from coursemall.models import Course, Entitlement, Lesson, LessonProgress, LoginAttempt, Order, OrderLine, User, UserSession
from coursemall.models.base import utcnow
from coursemall.services import audit
from coursemall.services.permissions import DashboardActor, require_dashboard
from coursemall.services.accounts.sessions import revoke_all_sessions

CODE_INPUT_MAX = 64
REASON_MAX = 200
LIST_LIMIT = 50
STUDY_LIMIT = 30
SIGNAL_DAYS = 30
ACTIONS = ("freeze", "revoke", "unfreeze")
_SEPARATORS = re.compile(r"[\s\-_.·:：,，]+")
_CODE = re.compile(r"^[A-Za-z0-9]{4,12}$")
_CONFUSABLE = str.maketrans("018", "OIB")


# ---------------------------------------------------------------------------------- views

@dataclass(frozen=True)
class LeakAccount:
    user_id: int
    nickname: str
    email: str
    phone: str
    role: str
    watermark_code: str
    joined_at: datetime
    is_active: bool
    frozen_reason: str


@dataclass(frozen=True)
class LeakOrder:
    order_no: str
    status: str
    total_fen: int
    created_at: datetime
    paid_at: datetime | None
    titles: str


@dataclass(frozen=True)
class LeakDevice:
    user_agent: str
    ip: str
    created_at: datetime
    last_seen_at: datetime
    state: str  # active | revoked | expired


@dataclass(frozen=True)
class LeakIp:
    ip: str
    sessions: int
    sign_ins: int
    failed: int
    last_seen_at: datetime


@dataclass(frozen=True)
class LeakStudy:
    course: str
    lesson: str
    percent: int
    last_at: datetime


@dataclass(frozen=True)
class LeakReport:
    account: LeakAccount
    orders: list[LeakOrder]
    devices: list[LeakDevice]
    ips: list[LeakIp]
    study: list[LeakStudy]
    active_courses: int
    recent_ips: int  # distinct IPs in the last SIGNAL_DAYS days: a sharing signal
    live_devices: int


# ---------------------------------------------------------------------------------- lookup

def normalize_code(raw: object) -> str | None:
    """The code without separators, or None when it cannot be a watermark code."""
    if not isinstance(raw, str) or len(raw) > CODE_INPUT_MAX:
        return None
    code = _SEPARATORS.sub("", raw)
    return code if _CODE.match(code) else None


def _find_user(session: Session, code: str) -> User | None:
    variants = {code, code.upper(), code.lower(), code.upper().translate(_CONFUSABLE)}
    users = list(session.exec(select(User).where(User.watermark_code.in_(sorted(variants)))
                              .execution_options(populate_existing=True)).all())
    exact = [u for u in users if u.watermark_code == code]
    return (exact or sorted(users, key=lambda u: u.id) or [None])[0]


def trace_code(session: Session, *, actor_id: object, code: object) -> LeakReport:
    actor = require_dashboard(session, actor_id, staff_only=True)
    normalized = normalize_code(code)
    if normalized is None:
        raise DomainError("leak.code_invalid")
    user = _find_user(session, normalized)
    if user is None:
        raise DomainError("leak.not_found", typed=normalized)
    audit.record(session, actor_id=actor.user_id, action="leak.lookup", target=f"user:{user.id}",
                 detail={"code": normalized})
    return _report(session, user)


def leak_report(session: Session, *, actor_id: object, user_id: object) -> LeakReport:
    """The report of an account found before (the dashboard reloads it after an action)."""
    require_dashboard(session, actor_id, staff_only=True)
    return _report(session, _user(session, user_id))


def _user(session: Session, user_id: object) -> User:
    ok = isinstance(user_id, int) and not isinstance(user_id, bool)
    user = session.get(User, user_id, populate_existing=True) if ok else None
    if user is None:
        raise DomainError("error.not_found")
    return user


def _report(session: Session, user: User) -> LeakReport:
    now = utcnow()
    devices = _devices(session, user.id, now)
    return LeakReport(
        account=LeakAccount(user_id=user.id, nickname=user.nickname, email=user.email or "", phone=user.phone or "",
                            role=user.role, watermark_code=user.watermark_code, joined_at=user.created_at,
                            is_active=user.is_active, frozen_reason=user.frozen_reason),
        orders=_orders(session, user.id),
        devices=devices,
        ips=_ips(session, user),
        study=_study(session, user.id),
        active_courses=_active_courses(session, user.id, now),
        recent_ips=_recent_ip_count(session, user, now - timedelta(days=SIGNAL_DAYS)),
        live_devices=sum(1 for d in devices if d.state == "active"),
    )


def _orders(session: Session, user_id: int) -> list[LeakOrder]:
    orders = list(session.exec(select(Order).where(Order.user_id == user_id)
                               .order_by(Order.created_at.desc(), Order.id.desc()).limit(LIST_LIMIT)
                               .execution_options(populate_existing=True)).all())
    titles: dict[int, list[str]] = {o.id: [] for o in orders}
    if orders:
        for order_id, title in session.exec(select(OrderLine.order_id, OrderLine.title)
                                            .where(OrderLine.order_id.in_(list(titles))).order_by(OrderLine.id)):
            titles[order_id].append(title)
    return [LeakOrder(order_no=o.out_trade_no, status=o.status, total_fen=o.total_fen, created_at=o.created_at,
                      paid_at=o.paid_at, titles="、".join(titles[o.id])) for o in orders]


def _devices(session: Session, user_id: int, now: datetime) -> list[LeakDevice]:
    rows = session.exec(select(UserSession).where(UserSession.user_id == user_id)
                        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc()).limit(LIST_LIMIT)).all()
    return [LeakDevice(user_agent=r.user_agent, ip=r.ip, created_at=r.created_at, last_seen_at=r.last_seen_at,
                       state="revoked" if r.revoked_at else ("expired" if r.expires_at <= now else "active"))
            for r in rows]


def _identifiers(user: User) -> list[str]:
    return [i for i in (user.email, user.phone) if i]


def _ips(session: Session, user: User) -> list[LeakIp]:
    """IPs from the account's sessions and from sign-in attempts on its e-mail/phone."""
    merged: dict[str, dict] = {}
    for ip, count, last in session.exec(
            select(UserSession.ip, func.count(), func.max(UserSession.last_seen_at))
            .where(UserSession.user_id == user.id, UserSession.ip != "").group_by(UserSession.ip)):
        merged[ip] = {"sessions": int(count), "sign_ins": 0, "failed": 0, "last": last}
    idents = _identifiers(user)
    if idents:
        ok = func.sum(case((LoginAttempt.success, 1), else_=0))
        for ip, count, good, last in session.exec(
                select(LoginAttempt.ip, func.count(), ok, func.max(LoginAttempt.created_at))
                .where(LoginAttempt.identifier.in_(idents), LoginAttempt.ip != "").group_by(LoginAttempt.ip)):
            row = merged.setdefault(ip, {"sessions": 0, "sign_ins": 0, "failed": 0, "last": last})
            row["sign_ins"] = int(good or 0)
            row["failed"] = int(count) - int(good or 0)
            row["last"] = max(row["last"], last)
    items = [LeakIp(ip=ip, sessions=r["sessions"], sign_ins=r["sign_ins"], failed=r["failed"], last_seen_at=r["last"])
             for ip, r in merged.items()]
    return sorted(items, key=lambda i: i.last_seen_at, reverse=True)[:LIST_LIMIT]


def _recent_ip_count(session: Session, user: User, since: datetime) -> int:
    ips = set(session.exec(select(UserSession.ip).where(UserSession.user_id == user.id, UserSession.ip != "",
                                                        UserSession.last_seen_at >= since)).all())
    idents = _identifiers(user)
    if idents:
        ips |= set(session.exec(select(LoginAttempt.ip).where(
            LoginAttempt.identifier.in_(idents), LoginAttempt.success, LoginAttempt.ip != "",
            LoginAttempt.created_at >= since)).all())
    return len(ips)


def _study(session: Session, user_id: int) -> list[LeakStudy]:
    rows = session.exec(
        select(Course.title, Lesson.title, LessonProgress.percent, LessonProgress.last_heartbeat_at)
        .join(Lesson, Lesson.id == LessonProgress.lesson_id).join(Course, Course.id == LessonProgress.course_id)
        .where(LessonProgress.user_id == user_id)
        .order_by(LessonProgress.last_heartbeat_at.desc(), LessonProgress.id.desc()).limit(STUDY_LIMIT)).all()
    return [LeakStudy(course=c, lesson=lesson, percent=int(p or 0), last_at=at) for c, lesson, p, at in rows]


def _active_courses(session: Session, user_id: int, now: datetime) -> int:
    return int(session.exec(select(func.count(func.distinct(Entitlement.course_id))).where(
        Entitlement.user_id == user_id, Entitlement.revoked_at.is_(None),
        (Entitlement.expires_at.is_(None)) | (Entitlement.expires_at > now))).one())


# ---------------------------------------------------------------------------------- actions

def _check_reason(reason: object) -> str:
    if not isinstance(reason, str):
        raise DomainError("leak.reason_invalid", max=REASON_MAX)
    text = reason.strip()
    if not 1 <= len(text) <= REASON_MAX or "\x00" in text:
        raise DomainError("leak.reason_invalid", max=REASON_MAX)
    return text


def _target(session: Session, actor: DashboardActor, user_id: object) -> User:
    """The account to act on; the owner, oneself and (for staff) fellow staff are protected."""
    user = _user(session, user_id)
    if user.id == actor.user_id:
        raise DomainError("leak.not_self")
    if user.role == "owner" or (user.role in STAFF_ROLES and not actor.is_owner):
        raise DomainError("leak.protected")
    return user


def freeze_account(session: Session, *, actor_id: object, user_id: object, reason: object) -> int:
    """Freeze the account and sign it out everywhere; returns the number of sessions revoked."""
    actor = require_dashboard(session, actor_id, staff_only=True)
    user = _target(session, actor, user_id)
    text = _check_reason(reason)
    now = utcnow()
    changed = session.exec(update(User).where(User.id == user.id, User.is_active.is_(True))
                           .values(is_active=False, frozen_reason=text, updated_at=now)).rowcount
    if changed != 1:  # compare-and-set: a second click (or another staff member) was first
        raise DomainError("leak.already_frozen")
    revoked = revoke_all_sessions(session, user_id=user.id, now=now)
    audit.record(session, actor_id=actor.user_id, action="leak.freeze", target=f"user:{user.id}",
                 detail={"reason": text, "sessions_revoked": revoked})
    return revoked


def unfreeze_account(session: Session, *, actor_id: object, user_id: object, reason: object) -> None:
    actor = require_dashboard(session, actor_id, staff_only=True)
    user = _target(session, actor, user_id)
    text = _check_reason(reason)
    was = user.frozen_reason
    changed = session.exec(update(User).where(User.id == user.id, User.is_active.is_(False))
                           .values(is_active=True, frozen_reason="", updated_at=utcnow())).rowcount
    if changed != 1:
        raise DomainError("leak.not_frozen")
    audit.record(session, actor_id=actor.user_id, action="leak.unfreeze", target=f"user:{user.id}",
                 detail={"reason": text, "was": was})


def revoke_all_access(session: Session, *, actor_id: object, user_id: object, reason: object) -> int:
    """Revoke every course the account can open (purchases, gifts, bundles...); returns how many."""
    actor = require_dashboard(session, actor_id, staff_only=True)
    user = _target(session, actor, user_id)
    text = _check_reason(reason)
    course_ids = sorted(set(session.exec(select(Entitlement.course_id).where(
        Entitlement.user_id == user.id, Entitlement.revoked_at.is_(None))).all()))
    changed = session.exec(update(Entitlement).where(Entitlement.user_id == user.id, Entitlement.revoked_at.is_(None))
                           .values(revoked_at=utcnow(), revoke_reason=text)).rowcount
    if not changed:
        raise DomainError("leak.nothing_to_revoke")
    audit.record(session, actor_id=actor.user_id, action="leak.revoke_access", target=f"user:{user.id}",
                 detail={"reason": text, "entitlements": changed, "course_ids": course_ids[:50]})
    return changed

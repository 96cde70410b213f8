"""Staff management and the audit-log viewer (owner only).

- the owner lists owner/staff accounts, promotes an existing account (found by e-mail or phone)
  to staff, demotes staff (their sessions are revoked at once, so an open dashboard stops working)
  and resets a staff member's 2FA (services/mfa.reset_user_mfa);
- the audit log is read newest first, filtered by action prefix and actor, one page at a time.
Every change is written to the audit log in the same transaction.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, select

from coursemall.domain.catalog import Role
from coursemall.domain.errors import DomainError
from coursemall.domain.orders import STAFF_ROLES
from coursemall.models import AuditLog, User, utcnow
from coursemall.services.accounts import sessions, users as accounts
from coursemall.services import audit
from coursemall.services.permissions import approved_instructor_id, require_dashboard

AUDIT_PAGE_SIZE = 30
AUDIT_MAX_PAGE = 10_000
DETAIL_SHOWN = 300
_ACTION_PREFIX_RE = re.compile(r"^[a-z0-9_.]{0,60}$")


@dataclass(frozen=True)
class StaffRow:
    user_id: int
    nickname: str
    account: str  # e-mail or phone (the owner sees it in full)
    role: str  # owner | staff
    enrolled: bool  # has TOTP
    created_at: datetime


@dataclass(frozen=True)
class AuditRow:
    id: int
    created_at: datetime
    actor: str  # nickname; "" for the system (seed, jobs)
    action: str
    target: str
    detail: str  # compact JSON, shortened


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    page: int
    has_more: bool


@dataclass(frozen=True)
class ActorOption:
    user_id: int
    nickname: str


def _row(user: User) -> StaffRow:
    return StaffRow(user_id=user.id, nickname=user.nickname, account=user.email or user.phone or "",
                    role=user.role, enrolled=bool(user.totp_secret), created_at=user.created_at)


def list_staff(session: Session, *, actor_id: object) -> list[StaffRow]:
    require_dashboard(session, actor_id, owner_only=True)
    users = session.exec(select(User).where(User.role.in_(STAFF_ROLES)).order_by(User.id)).all()
    return [_row(u) for u in users]


def promote_to_staff(session: Session, *, actor_id: object, account: object, ip: str = "") -> StaffRow:
    """Make an existing, active account staff. Unknown accounts get the same 'not found' as
    inactive ones (the owner is told to let the person register first)."""
    owner = require_dashboard(session, actor_id, owner_only=True)
    acct = accounts.normalize_account(account)
    column = User.email if acct.kind == "email" else User.phone
    user = session.exec(select(User).where(column == acct.value)).first()
    if user is None or not user.is_active:
        raise DomainError("staff.account_not_found")
    if user.role in STAFF_ROLES:
        raise DomainError("staff.already_staff")
    old_role = user.role
    user.role = Role.STAFF.value
    user.updated_at = utcnow()
    session.add(user)
    audit.record(session, actor_id=owner.user_id, action="staff.promote", target=f"user:{user.id}",
                 detail={"from": old_role}, ip=ip)
    session.flush()
    return _row(user)


def demote_staff(session: Session, *, actor_id: object, user_id: object, ip: str = "") -> None:
    """Staff back to an ordinary account (instructor when they keep an approved profile);
    every session of theirs is revoked, so open pages lose access at their next call."""
    owner = require_dashboard(session, actor_id, owner_only=True)
    user = session.get(User, user_id) if isinstance(user_id, int) and not isinstance(user_id, bool) else None
    if user is None or user.role != Role.STAFF.value:
        raise DomainError("error.not_found")
    new_role = Role.INSTRUCTOR.value if approved_instructor_id(session, user.id) else Role.LEARNER.value
    result = session.exec(update(User).where(User.id == user.id, User.role == Role.STAFF.value)
                          .values(role=new_role, updated_at=utcnow()).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise DomainError("error.not_found")
    revoked = sessions.revoke_all_sessions(session, user_id=user.id)
    audit.record(session, actor_id=owner.user_id, action="staff.demote", target=f"user:{user.id}",
                 detail={"to": new_role, "sessions_revoked": revoked}, ip=ip)


# ---- audit log viewer ----------------------------------------------------------------------------

def parse_action_prefix(value: object) -> str | None:
    """'' (all) or a prefix like 'staff.' / 'mfa' (lower-case letters, digits, '_' and '.')."""
    if not isinstance(value, str) or len(value) > 100:
        return None
    text = value.strip().lower()
    return text if _ACTION_PREFIX_RE.match(text) else None


def _detail_text(detail: object) -> str:
    if not detail:
        return ""
    text = json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= DETAIL_SHOWN else text[:DETAIL_SHOWN - 1] + "…"


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def list_audit(session: Session, *, actor_id: object, action_prefix: object = "", actor_filter: object = None,
               page: object = 1) -> AuditPage:
    """One page of the audit log, newest first. `actor_filter` is a user id (None = everyone)."""
    require_dashboard(session, actor_id, owner_only=True)
    prefix = parse_action_prefix(action_prefix)
    if prefix is None:
        raise DomainError("audit.bad_filter")
    if actor_filter is not None and (not isinstance(actor_filter, int) or isinstance(actor_filter, bool)):
        raise DomainError("audit.bad_filter")
    if not isinstance(page, int) or isinstance(page, bool) or not 1 <= page <= AUDIT_MAX_PAGE:
        raise DomainError("audit.bad_filter")
    query = select(AuditLog, User.nickname).join(User, User.id == AuditLog.actor_id, isouter=True)
    if prefix:
        query = query.where(AuditLog.action.like(_like_prefix(prefix), escape="\\"))
    if actor_filter is not None:
        query = query.where(AuditLog.actor_id == actor_filter)
    query = query.order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
    rows = session.exec(query.offset((page - 1) * AUDIT_PAGE_SIZE).limit(AUDIT_PAGE_SIZE + 1)).all()
    shown = [AuditRow(id=log.id, created_at=log.created_at, actor=nickname or "", action=log.action,
                      target=log.target, detail=_detail_text(log.detail))
             for log, nickname in rows[:AUDIT_PAGE_SIZE]]
    return AuditPage(rows=shown, page=page, has_more=len(rows) > AUDIT_PAGE_SIZE)


def audit_actors(session: Session, *, actor_id: object) -> list[ActorOption]:
    """Everyone who appears in the log, for the actor filter."""
    require_dashboard(session, actor_id, owner_only=True)
    ids = select(AuditLog.actor_id).where(AuditLog.actor_id.is_not(None)).distinct()
    users = session.exec(select(User.id, User.nickname).where(User.id.in_(ids)).order_by(User.nickname)).all()
    return [ActorOption(user_id=uid, nickname=nick) for uid, nick in users]

"""Audit log of owner, staff and instructor actions. Append-only; written in the same
transaction as the change it describes, so a rolled-back change leaves no entry."""

from __future__ import annotations

from sqlmodel import Session

from coursemall.models import AuditLog

MAX_DETAIL_CHARS = 2000


def record(session: Session, *, actor_id: int | None, action: str, target: str = "",
           detail: dict | None = None, ip: str = "") -> None:
    """Add one entry. `detail` holds small facts (ids, old/new values), never secrets."""
    detail = dict(detail or {})
    if len(repr(detail)) > MAX_DETAIL_CHARS:
        detail = {"truncated": repr(detail)[:MAX_DETAIL_CHARS]}
    session.add(AuditLog(actor_id=actor_id, action=action[:60], target=str(target)[:120], detail=detail,
                         ip=(ip or "")[:64]))
    session.flush()

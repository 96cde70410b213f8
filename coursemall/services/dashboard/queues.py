"""Read models for the owner area: refunds with the learner (the order list with filters and
totals is services/dashboard/operations.py; the dashboard's counts are services/analytics.overview).

Read-only and owner/staff only (`require_staff`). The decisions themselves live in
`services.refunds` and `services.manual_pay`; these only add what the queues show beside them
(the learner's nickname, the chosen channel), so the pages need one call each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case
from sqlmodel import Session, select

from coursemall.domain.money import format_fen
from coursemall.domain.orders import RefundStatus
from coursemall.models import Order, OrderLine, Refund, User
from coursemall.services.actors import require_staff
from coursemall.services.learning.consumption import consumption

MAX_ROWS = 100


@dataclass(frozen=True)
class AdminRefundRow:
    id: int
    order_no: str
    learner: str
    amount: str
    reason: str
    policy_outcome: str
    status: str
    created_at: datetime
    # what the learner consumed of the refunded courses (services/learning/consumption.py)
    served_seconds: int = 0
    media_seconds: int = 0
    served_pct: int = 0
    progress_pct: int = 0
    channel: str = ""
    attempts: int = 0
    last_reason: str = ""
    next_attempt_at: datetime | None = None
    extra_payment: bool = False  # returns a duplicate / off-channel payment, not order lines


def list_refund_rows(session: Session, *, actor_id: object, limit: int = 50) -> list[AdminRefundRow]:
    """Refunds waiting for review, oldest first, with the learner's nickname and what they
    consumed of the refunded courses (served media and heartbeat progress)."""
    require_staff(session, actor_id)
    lim = limit if isinstance(limit, int) and not isinstance(limit, bool) and 1 <= limit <= MAX_ROWS else 50
    rows = session.exec(
        select(Refund, Order.out_trade_no, User.nickname)
        .join(Order, Order.id == Refund.order_id).join(User, User.id == Refund.user_id)
        .where(Refund.status == RefundStatus.REQUESTED).order_by(Refund.id).limit(lim)).all()
    courses = _refund_courses(session, [r.id for r, _, _ in rows])
    out = []
    for r, no, nick in rows:
        used = consumption(session, r.user_id, sorted(courses.get(r.id, ())))
        out.append(AdminRefundRow(id=r.id or 0, order_no=no, learner=nick, amount=format_fen(r.amount_fen),
                                  reason=r.reason, policy_outcome=r.policy_outcome, status=r.status,
                                  created_at=r.created_at, served_seconds=used.served_seconds,
                                  media_seconds=used.media_seconds, served_pct=used.served_pct,
                                  progress_pct=used.progress_pct))
    return out


def _refund_courses(session: Session, refund_ids: list[int]) -> dict[int, set[int]]:
    """{refund id: course ids of its lines} in one query."""
    if not refund_ids:
        return {}
    found: dict[int, set[int]] = {}
    for refund_id, course_ids in session.exec(select(OrderLine.refund_id, OrderLine.course_ids)
                                              .where(OrderLine.refund_id.in_(refund_ids))).all():  # type: ignore[union-attr]
        found.setdefault(int(refund_id), set()).update(int(c) for c in course_ids or ())
    return found


def list_refunds_in_flight(session: Session, *, actor_id: object, limit: int = 50) -> list[AdminRefundRow]:
    """Refunds decided but not finished: first those waiting for the owner (attention: manual
    transfer, retries exhausted, refused), then those the job is still sending or asking about,
    with attempts, last reason and next attempt."""
    require_staff(session, actor_id)
    lim = limit if isinstance(limit, int) and not isinstance(limit, bool) and 1 <= limit <= MAX_ROWS else 50
    order = case((Refund.status == RefundStatus.ATTENTION, 0), else_=1)
    rows = session.exec(
        select(Refund, Order.out_trade_no, User.nickname)
        .join(Order, Order.id == Refund.order_id).join(User, User.id == Refund.user_id)
        .where(Refund.status.in_([RefundStatus.ATTENTION, RefundStatus.PROCESSING,  # type: ignore[attr-defined]
                                  RefundStatus.APPROVED]))
        .order_by(order, Refund.id).limit(lim)).all()
    return [AdminRefundRow(id=r.id or 0, order_no=no, learner=nick, amount=format_fen(r.amount_fen),
                           reason=r.reason, policy_outcome=r.policy_outcome, status=r.status,
                           created_at=r.created_at, channel=r.channel, attempts=r.attempts,
                           last_reason=r.last_reason, next_attempt_at=r.next_attempt_at,
                           extra_payment=r.payment_id is not None) for r, no, nick in rows]

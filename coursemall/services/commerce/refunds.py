"""Refunds: learner request → policy (auto-approve or review) → owner decision → execution through
the original channel → completion (revoke that line's access) exactly once.

- One open refund per order: a request moves the order paid/partially_refunded → refunding by
  compare-and-set, so two concurrent requests produce one refund; the loser gets
  `refund.in_progress`. Lines not refunded yet can be refunded later (partial refunds by line).
- Execution: refund `approved` → `processing` (CAS; the winner alone calls the gateway, outside
  any transaction, with the stable `out_refund_no`) → `succeeded` / `failed`. WeChat answers
  later (refund notification or the refund job's query); Alipay and sandbox answer at once.
- Retries: a refund still `processing` (the channel said so, or the call failed or timed out)
  keeps its attempt count, next-attempt time and last reason; the refund job (`process_refunds`)
  asks again when due, with exponential back-off, each retry claimed by compare-and-set on the
  attempt count (several workers: one call). After `REFUND_MAX_ATTEMPTS` calls, or when the
  channel cannot pay money back (manual transfer, `by_hand`), or when a refund of an extra
  payment is refused, it moves to `attention`: the owner's refund queue shows it with the reason
  and offers "refunded by hand" (`mark_refunded_by_hand`) and "try again" (`retry_refund_now`).
- Extra payments (a second payment, or one through a channel the order was not started on;
  `services.payments`) are returned by a refund with `payment_id` set: it never touches the
  order's lines, access or status; its completion tells the learner.
- Completion, in ONE transaction: refund `processing → succeeded` (CAS: a repeated notification
  changes nothing), lines marked refunded, the order's entitlements for courses no longer covered
  by any unrefunded line revoked (`revoked_at`, reason), order `refunding → refunded /
  partially_refunded` through the transition table, message to the learner.
- Policy: `RefundPolicy` row (owner-edited) + `domain.orders.decide_refund_policy`; what the
  learner consumed comes from `progress_lookup` (injectable; default
  `consumption.consumed_pct`: max(heartbeat course progress, share of the media served as
  encrypted segments)); a learner with COURSEMALL_AUTO_REFUND_LIMIT automatic refunds within 90
  days goes to the review queue (`review_limit`).
One module (about 600 lines) because these steps share one state machine and its compare-and-set
guards: read apart, the exactly-once completion would be easy to break.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from sqlalchemy import func, or_, update
from sqlmodel import Session, select

from coursemall.domain.catalog import EntitlementSource
from coursemall.domain.errors import DomainError
from coursemall.domain.money import format_fen
from coursemall.domain.orders import (
    AUTO_REFUND_WINDOW,
    REFUND_MAX_ATTEMPTS,
    Channel,
    EventKind,
    LineRefund,
    OrderStatus,
    PaymentRole,
    PolicyOutcome,
    RefundPolicyRule,
    RefundStatus,
    decide_refund_policy,
    parse_order_no,
    parse_text,
    refund_request_allowed,
    refund_retry_delay,
    status_after_refund,
)
from coursemall.domain.validation import parse_id, parse_ids
from coursemall.models import Entitlement, Order, OrderLine, Payment, PaymentEvent, Refund, RefundPolicy, utcnow
from coursemall.payments import registry
from coursemall.payments.base import ChannelError, Notification, RefundRef, RefundResult
from coursemall.services import audit
from coursemall.services.actors import require_actor, require_staff
from coursemall.services.commerce.orders import cas_order_status, new_out_refund_no, own_order
from coursemall.services.learning.consumption import consumed_pct
from coursemall.services.community.messages import create_message
from coursemall.settings import get_settings
from coursemall.urls import order_url

log = logging.getLogger("coursemall.refunds")

ProgressLookup = Callable[[Session, int, list[int]], int]


progress_lookup: ProgressLookup = consumed_pct  # max(progress, served media) among the refunded courses


@dataclass(frozen=True)
class RefundView:
    id: int
    order_no: str
    out_refund_no: str
    amount_fen: int
    amount: str
    status: str
    policy_outcome: str
    reason: str
    decision_reason: str
    line_ids: tuple[int, ...]
    created_at: datetime


@dataclass(frozen=True)
class PolicyView:
    auto_approve: bool
    within_days: int
    max_progress_pct: int
    request_window_days: int


def _view(refund: Refund, order_no: str) -> RefundView:
    return RefundView(id=refund.id or 0, order_no=order_no, out_refund_no=refund.out_refund_no,
                      amount_fen=refund.amount_fen, amount=format_fen(refund.amount_fen), status=refund.status,
                      policy_outcome=refund.policy_outcome, reason=refund.reason,
                      decision_reason=refund.decision_reason, line_ids=tuple(refund.line_ids),
                      created_at=refund.created_at)


# ---------------------------------------------------------------------------------- policy

def _policy_row(session: Session) -> RefundPolicy:
    row = session.get(RefundPolicy, 1)
    return row or RefundPolicy(id=1)


def get_refund_policy(session: Session) -> PolicyView:
    row = _policy_row(session)
    return PolicyView(row.auto_approve, row.within_days, row.max_progress_pct, row.request_window_days)


def update_refund_policy(session: Session, *, actor_id: object, auto_approve: object, within_days: object,
                         max_progress_pct: object, request_window_days: object) -> PolicyView:
    user = require_staff(session, actor_id, owner_only=True)

    def bounded(value: object, hi: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= hi:
            raise DomainError("error.bad_request")
        return value

    if not isinstance(auto_approve, bool):
        raise DomainError("error.bad_request")
    row = session.get(RefundPolicy, 1) or RefundPolicy(id=1)
    row.auto_approve = auto_approve
    row.within_days = bounded(within_days, 365)
    row.max_progress_pct = bounded(max_progress_pct, 100)
    row.request_window_days = bounded(request_window_days, 3650)
    row.updated_by = user.id
    row.updated_at = utcnow()
    session.add(row)
    session.commit()
    return get_refund_policy(session)


def recent_auto_refunds(session: Session, user_id: int, *, now: datetime) -> int:
    """Refunds of this learner approved automatically within the last 90 days."""
    return int(session.exec(select(func.count()).select_from(Refund).where(
        Refund.user_id == user_id, Refund.policy_outcome == PolicyOutcome.AUTO_APPROVE,
        Refund.created_at >= now - AUTO_REFUND_WINDOW)).one())


# ---------------------------------------------------------------------------------- request

def request_refund(session: Session, *, actor_id: object, order_no: object, line_ids: object = None,
                   reason: object, now: datetime | None = None,
                   progress: ProgressLookup | None = None) -> RefundView:
    """The learner asks for a refund of some lines (None = every line not refunded yet)."""
    user = require_actor(session, actor_id)
    order_no = parse_order_no(order_no)
    reason = parse_text(reason, min_len=1, max_len=200, code="refund.reason_length")
    wanted = None if line_ids is None else set(parse_ids(line_ids))
    now = now or utcnow()
    order = own_order(session, user.id, order_no)
    if order.status == OrderStatus.REFUNDING:
        raise DomainError("refund.in_progress")
    if (order.status not in (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED) or order.paid_at is None
            or order.total_fen == 0):
        raise DomainError("refund.not_refundable")
    payment = session.exec(select(Payment).where(Payment.order_id == order.id,
                                                 Payment.role == PaymentRole.APPLIED)).first()
    if payment is None:
        raise DomainError("refund.not_refundable")
    rule_row = _policy_row(session)
    rule = RefundPolicyRule(rule_row.auto_approve, rule_row.within_days, rule_row.max_progress_pct,
                            rule_row.request_window_days)
    if not refund_request_allowed(rule, paid_at=order.paid_at, now=now):
        raise DomainError("refund.window_passed")
    lines = session.exec(select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.id)).all()
    if any(ln.refund_status == LineRefund.PENDING for ln in lines):
        raise DomainError("refund.in_progress")  # a concurrent request just won
    open_lines = [ln for ln in lines if ln.refund_status == LineRefund.NONE]
    if wanted is None:
        chosen = open_lines
    else:
        by_id = {ln.id: ln for ln in open_lines}
        if not wanted <= set(by_id):
            raise DomainError("refund.bad_lines")
        chosen = [by_id[i] for i in sorted(wanted)]
    if not chosen:
        raise DomainError("refund.bad_lines")
    amount = sum(ln.unit_price_fen for ln in chosen)
    if amount + order.refunded_fen > payment.amount_fen:
        raise DomainError("refund.bad_lines")
    course_ids = sorted({int(c) for ln in chosen for c in ln.course_ids})
    pct = (progress or progress_lookup)(session, user.id, course_ids)
    outcome = decide_refund_policy(rule, paid_at=order.paid_at, now=now, progress_pct=int(pct),
                                   recent_auto_refunds=recent_auto_refunds(session, user.id, now=now),
                                   auto_refund_limit=get_settings().auto_refund_limit)
    # One open refund per order: whoever wins this compare-and-set creates the refund.
    if not cas_order_status(session, order.id, order.status, OrderStatus.REFUNDING):
        session.rollback()
        raise DomainError("refund.in_progress")
    status = RefundStatus.APPROVED if outcome == PolicyOutcome.AUTO_APPROVE else RefundStatus.REQUESTED
    refund = Refund(order_id=order.id, user_id=user.id, line_ids=[ln.id for ln in chosen],
                    line_id=chosen[0].id if len(chosen) == 1 else None, out_refund_no=new_out_refund_no(now),
                    channel=payment.channel, amount_fen=amount, reason=reason, status=status,
                    policy_outcome=outcome, decided_at=now if status == RefundStatus.APPROVED else None,
                    created_at=now)
    session.add(refund)
    session.flush()
    for ln in chosen:
        ln.refund_status = LineRefund.PENDING
        ln.refund_id = refund.id
        session.add(ln)
    if status == RefundStatus.REQUESTED:
        create_message(session, user_id=user.id, kind="refund_result", key="msg.refund_review",
                       link=order_url(order_no), order_no=order_no, amount=format_fen(amount))
    session.commit()
    if status == RefundStatus.APPROVED:
        execute_refund(session, refund_id=refund.id)
    session.refresh(refund)
    return _view(refund, order_no)


# ---------------------------------------------------------------------------------- decision

def decide_refund(session: Session, *, actor_id: object, refund_id: object, approve: object,
                  reason: object = "") -> RefundView:
    """Owner/staff approve (then execute) or reject (reason required) a refund under review."""
    user = require_staff(session, actor_id)
    refund_id = parse_id(refund_id)
    if not isinstance(approve, bool):
        raise DomainError("error.bad_request")
    reason = parse_text(reason, min_len=0 if approve else 1, max_len=200, code="refund.reason_length")
    refund = session.get(Refund, refund_id)
    if refund is None:
        raise DomainError("refund.not_found")
    order = session.get(Order, refund.order_id)
    assert order is not None
    now = utcnow()
    new = RefundStatus.APPROVED if approve else RefundStatus.REJECTED
    won = session.execute(
        update(Refund).where(Refund.id == refund_id, Refund.status == RefundStatus.REQUESTED)
        .values(status=new, decided_by=user.id, decided_at=now, decision_reason=reason)
        .execution_options(synchronize_session=False)).rowcount == 1
    if not won:
        session.rollback()
        raise DomainError("refund.already_decided")
    if not approve:
        _release_lines(session, refund, order)
        create_message(session, user_id=refund.user_id, kind="refund_result", key="msg.refund_rejected",
                       link=order_url(order.out_trade_no), order_no=order.out_trade_no, reason=reason)
    session.commit()
    if approve:
        execute_refund(session, refund_id=refund_id)
    session.refresh(refund)
    return _view(refund, order.out_trade_no)


def _release_lines(session: Session, refund: Refund, order: Order) -> None:
    """A refund that will not happen: its lines become refundable again and the order leaves
    `refunding` for paid / partially_refunded (whichever the already refunded lines say)."""
    lines = session.exec(select(OrderLine).where(OrderLine.order_id == order.id)).all()
    for ln in lines:
        if ln.refund_id == refund.id and ln.refund_status == LineRefund.PENDING:
            ln.refund_status = LineRefund.NONE
            ln.refund_id = None
            session.add(ln)
    refunded = sum(1 for ln in lines if ln.refund_status == LineRefund.REFUNDED)
    target = status_after_refund(lines_total=len(lines), lines_refunded=refunded)
    if not cas_order_status(session, order.id, OrderStatus.REFUNDING, target):
        raise DomainError("order.bad_transition")


# ---------------------------------------------------------------------------------- execution

def _refund_ref(session: Session, refund: Refund) -> RefundRef:
    """What the channel needs: the order's applied payment, or the extra payment this refund
    returns (its own transaction and amount)."""
    order = session.get(Order, refund.order_id)
    assert order is not None
    if refund.payment_id is not None:
        payment = session.get(Payment, refund.payment_id)
        total = payment.amount_fen if payment else refund.amount_fen
    else:
        payment = session.exec(select(Payment).where(Payment.order_id == refund.order_id,
                                                     Payment.role == PaymentRole.APPLIED)).first()
        total = order.total_fen
    return RefundRef(out_trade_no=order.out_trade_no, provider_txn_id=payment.provider_txn_id if payment else "",
                     out_refund_no=refund.out_refund_no, order_total_fen=total,
                     amount_fen=refund.amount_fen, reason=refund.reason)


def execute_refund(session: Session, *, refund_id: int, now: datetime | None = None) -> str:
    """Send an approved refund to its channel (the CAS winner alone). Returns the refund status."""
    now = now or utcnow()
    won = session.execute(
        update(Refund).where(Refund.id == refund_id, Refund.status == RefundStatus.APPROVED)
        .values(status=RefundStatus.PROCESSING, attempts=Refund.attempts + 1,
                next_attempt_at=now + refund_retry_delay(1))  # a lease: nobody retries before
        .execution_options(synchronize_session=False)).rowcount == 1
    session.commit()
    refund = session.get(Refund, refund_id, populate_existing=True)
    if refund is None:
        raise DomainError("refund.not_found")
    if not won:
        return refund.status
    return _call_channel_refund(session, refund, retry=False, now=now)


def _call_channel_refund(session: Session, refund: Refund, *, retry: bool, now: datetime) -> str:
    """One call to the channel (outside any transaction), then its answer applied."""
    ref = _refund_ref(session, refund)
    session.commit()
    if refund.channel == "free" or refund.amount_fen == 0:
        result = RefundResult(status="succeeded", provider_refund_id="free")
    else:
        try:
            channel = registry.get_channel_for_existing(refund.channel)
            if retry:
                result = channel.query_refund(ref)
                never_arrived = result.status == "failed" and result.message == "REFUNDNOTEXIST"
                if never_arrived or (result.status == "processing" and refund.channel != "wechat"):
                    result = channel.refund(ref)  # same out_refund_no: the gateway pays at most once
            else:
                result = channel.refund(ref)
        except (ChannelError, DomainError) as exc:
            reason = str(getattr(exc, "code", "") or exc) or type(exc).__name__
            log.warning("refund %s: channel %s unavailable (%s); will retry", refund.out_refund_no,
                        refund.channel, reason)
            return _still_processing(session, refund.id, reason=f"channel_error:{reason}", now=now)
    if result.status == "processing":
        return _still_processing(session, refund.id, reason="channel_processing", now=now)
    if result.status == "by_hand":
        return _needs_attention(session, refund.id, reason=result.message or "by_hand")
    return apply_refund_result(session, refund_id=refund.id, result=result,
                               kind=EventKind.QUERY if retry else "refund")


def _still_processing(session: Session, refund_id: int, *, reason: str, now: datetime) -> str:
    """The channel has not finished (or could not be reached): note why and when to ask again;
    after REFUND_MAX_ATTEMPTS calls the refund waits for the owner instead."""
    refund = session.get(Refund, refund_id, populate_existing=True)
    assert refund is not None
    if refund.status != RefundStatus.PROCESSING:
        return refund.status  # a notification completed it meanwhile
    if refund.attempts >= REFUND_MAX_ATTEMPTS:
        return _needs_attention(session, refund_id, reason=f"retries_exhausted:{reason}")
    session.execute(update(Refund).where(Refund.id == refund_id, Refund.status == RefundStatus.PROCESSING)
                    .values(last_reason=reason[:200], next_attempt_at=now + refund_retry_delay(refund.attempts))
                    .execution_options(synchronize_session=False))
    session.commit()
    return RefundStatus.PROCESSING


def _needs_attention(session: Session, refund_id: int, *, reason: str) -> str:
    """processing → attention (CAS): the owner sees it in the refund queue with the reason."""
    won = session.execute(update(Refund).where(Refund.id == refund_id, Refund.status == RefundStatus.PROCESSING)
                          .values(status=RefundStatus.ATTENTION, last_reason=reason[:200], next_attempt_at=None)
                          .execution_options(synchronize_session=False)).rowcount == 1
    if won:
        refund = session.get(Refund, refund_id, populate_existing=True)
        order_no = session.exec(select(Order.out_trade_no).where(Order.id == refund.order_id)).one()
        log.warning("refund %s of order %s needs the owner: %s", refund.out_refund_no, order_no, reason)
        session.add(PaymentEvent(order_id=refund.order_id, out_trade_no=order_no, channel=refund.channel,
                                 kind="refund", amount_fen=refund.amount_fen,
                                 raw=f"refund {refund.out_refund_no}: needs attention ({reason})"[:8000],
                                 verified=True, outcome="attention"))
    session.commit()
    return session.exec(select(Refund.status).where(Refund.id == refund_id)).one()


def retry_refund(session: Session, *, refund_id: int, now: datetime | None = None) -> str:
    """Job: a refund still `processing` and due (answer lost, gateway down, WeChat async): claim it
    by compare-and-set on its attempt count — so with several workers exactly one asks — and ask
    the channel again."""
    now = now or utcnow()
    refund = session.get(Refund, refund_id, populate_existing=True)
    if refund is None or refund.status != RefundStatus.PROCESSING:
        return refund.status if refund else ""
    due = or_(Refund.next_attempt_at.is_(None), Refund.next_attempt_at <= now)  # type: ignore[union-attr]
    won = session.execute(
        update(Refund).where(Refund.id == refund_id, Refund.status == RefundStatus.PROCESSING,
                             Refund.attempts == refund.attempts, due)
        .values(attempts=refund.attempts + 1, next_attempt_at=now + refund_retry_delay(refund.attempts + 1))
        .execution_options(synchronize_session=False)).rowcount == 1
    session.commit()
    if not won:
        return RefundStatus.PROCESSING  # another worker has it, or it is not due yet
    refund = session.get(Refund, refund_id, populate_existing=True)
    assert refund is not None
    return _call_channel_refund(session, refund, retry=True, now=now)


def process_refunds(session: Session, now: datetime | None = None, *, batch: int = 100) -> int:
    """The refund job's pass: send approved refunds, ask again about due processing ones.
    Safe with several workers (each refund is claimed by compare-and-set). Returns the number of
    refunds this call worked on."""
    now = now or utcnow()
    approved = session.exec(select(Refund.id).where(Refund.status == RefundStatus.APPROVED)
                            .order_by(Refund.id).limit(batch)).all()
    due = session.exec(select(Refund.id).where(
        Refund.status == RefundStatus.PROCESSING,
        or_(Refund.next_attempt_at.is_(None), Refund.next_attempt_at <= now))  # type: ignore[union-attr]
        .order_by(Refund.id).limit(batch)).all()
    session.commit()
    for refund_id in approved:
        execute_refund(session, refund_id=refund_id, now=now)
    for refund_id in due:
        retry_refund(session, refund_id=refund_id, now=now)
    return len(approved) + len(due)


def apply_refund_result(session: Session, *, refund_id: int, result: RefundResult, kind: str,
                        raw: str = "") -> str:
    """Apply a channel's answer about a refund exactly once. Commits; returns the refund status.

    A late success also completes a refund already waiting for the owner (attention)."""
    refund = session.get(Refund, refund_id, populate_existing=True)
    assert refund is not None
    order = session.get(Order, refund.order_id, populate_existing=True)
    assert order is not None
    now = utcnow()
    outcome = "ignored"
    open_states = (RefundStatus.PROCESSING, RefundStatus.ATTENTION)
    if result.status == "succeeded":
        won = session.execute(
            update(Refund).where(Refund.id == refund_id, Refund.status.in_(open_states))  # type: ignore[attr-defined]
            .values(status=RefundStatus.SUCCEEDED, completed_at=now, provider_refund_id=result.provider_refund_id[:64],
                    next_attempt_at=None)
            .execution_options(synchronize_session=False)).rowcount == 1
        if won:
            _complete(session, refund, order, now=now)
            outcome = "applied"
        else:
            outcome = "duplicate"
    elif result.status == "failed" and refund.payment_id is not None:
        # Money someone paid by mistake must go back: a refused refund waits for the owner.
        session.commit()
        return _needs_attention(session, refund_id, reason=f"channel_refused:{result.message}")
    elif result.status == "failed":
        won = session.execute(
            update(Refund).where(Refund.id == refund_id, Refund.status == RefundStatus.PROCESSING)
            .values(status=RefundStatus.FAILED, completed_at=now, failure=result.message[:200], next_attempt_at=None)
            .execution_options(synchronize_session=False)).rowcount == 1
        if won:
            _release_lines(session, refund, order)
            create_message(session, user_id=refund.user_id, kind="refund_result", key="msg.refund_failed",
                           link=order_url(order.out_trade_no), order_no=order.out_trade_no)
            outcome = "failed"
        else:
            outcome = "duplicate"
    session.add(PaymentEvent(order_id=order.id, out_trade_no=order.out_trade_no, channel=refund.channel,
                             kind=kind[:16], provider_txn_id=result.provider_refund_id[:64],
                             amount_fen=refund.amount_fen, raw=(raw or f"refund {refund.out_refund_no}: {result.status}")[:8000],
                             verified=True, outcome=outcome))
    session.commit()
    return session.exec(select(Refund.status).where(Refund.id == refund_id)).one()


def _complete(session: Session, refund: Refund, order: Order, *, now: datetime) -> None:
    if refund.payment_id is not None:  # an extra payment went back: the order itself is untouched
        create_message(session, user_id=refund.user_id, kind="refund_result", key="msg.extra_payment_refunded",
                       link=order_url(order.out_trade_no), order_no=order.out_trade_no,
                       amount=format_fen(refund.amount_fen))
        return
    lines = session.exec(select(OrderLine).where(OrderLine.order_id == order.id)).all()
    mine = [ln for ln in lines if ln.refund_id == refund.id]
    for ln in mine:
        ln.refund_status = LineRefund.REFUNDED
        ln.refunded_fen = ln.unit_price_fen
        session.add(ln)
    still_covered = {int(c) for ln in lines if ln.refund_status != LineRefund.REFUNDED for c in ln.course_ids}
    to_revoke = sorted({int(c) for ln in mine for c in ln.course_ids} - still_covered)
    if to_revoke:
        session.execute(
            update(Entitlement).where(
                Entitlement.user_id == order.user_id,
                Entitlement.course_id.in_(to_revoke),  # type: ignore[attr-defined]
                Entitlement.source == EntitlementSource.ORDER,
                Entitlement.source_ref == order.out_trade_no,
                Entitlement.revoked_at.is_(None),  # type: ignore[union-attr]
            ).values(revoked_at=now, revoke_reason=f"refund {refund.out_refund_no}")
            .execution_options(synchronize_session=False))
    refunded = sum(1 for ln in lines if ln.refund_status == LineRefund.REFUNDED)
    target = status_after_refund(lines_total=len(lines), lines_refunded=refunded)
    if not cas_order_status(session, order.id, OrderStatus.REFUNDING, target,
                            refunded_fen=Order.refunded_fen + refund.amount_fen):
        raise DomainError("order.bad_transition")
    create_message(session, user_id=refund.user_id, kind="refund_result", key="msg.refund_succeeded",
                   link=order_url(order.out_trade_no), order_no=order.out_trade_no,
                   amount=format_fen(refund.amount_fen))


def apply_refund_notification(session: Session, note: Notification) -> bool:
    """A verified refund notification (WeChat). False when the refund is unknown."""
    refund = session.exec(select(Refund).where(Refund.out_refund_no == note.out_refund_no,
                                               Refund.channel == note.channel)).first()
    if refund is None:
        session.add(PaymentEvent(out_trade_no=note.out_trade_no, channel=note.channel,
                                 kind=EventKind.REFUND_NOTIFY, raw=note.raw[:8000], verified=False,
                                 outcome="rejected:unknown_refund"))
        session.commit()
        return False
    if note.refund_status not in ("succeeded", "failed"):
        session.add(PaymentEvent(order_id=refund.order_id, out_trade_no=note.out_trade_no, channel=note.channel,
                                 kind=EventKind.REFUND_NOTIFY, raw=note.raw[:8000], verified=True, outcome="ignored"))
        session.commit()
        return True
    apply_refund_result(session, refund_id=refund.id,
                        result=RefundResult(status=note.refund_status, provider_refund_id=note.provider_txn_id),
                        kind=EventKind.REFUND_NOTIFY, raw=note.raw)
    return True


# ---------------------------------------------------------------------------------- owner actions

def mark_refunded_by_hand(session: Session, *, actor_id: object, refund_id: object) -> RefundView:
    """Owner/staff: the money of a refund waiting for them (a manual transfer, or one the channel
    would not complete) was returned outside the app. Completes it exactly once (CAS
    attention → succeeded): access revoked / extra payment marked returned, learner told."""
    user = require_staff(session, actor_id)
    refund_id = parse_id(refund_id)
    refund = session.get(Refund, refund_id, populate_existing=True)
    if refund is None:
        raise DomainError("refund.not_found")
    order = session.get(Order, refund.order_id, populate_existing=True)
    assert order is not None
    now = utcnow()
    won = session.execute(
        update(Refund).where(Refund.id == refund_id, Refund.status == RefundStatus.ATTENTION)
        .values(status=RefundStatus.SUCCEEDED, completed_at=now, provider_refund_id="by_hand",
                last_reason=f"refunded by hand (user {user.id})", next_attempt_at=None)
        .execution_options(synchronize_session=False)).rowcount == 1
    if not won:
        session.rollback()
        raise DomainError("refund.not_waiting")
    _complete(session, refund, order, now=now)
    session.add(PaymentEvent(order_id=order.id, out_trade_no=order.out_trade_no, channel=refund.channel,
                             kind=EventKind.MANUAL, provider_txn_id="by_hand", amount_fen=refund.amount_fen,
                             raw=f"refund {refund.out_refund_no}: refunded by hand by user {user.id}",
                             verified=True, outcome="refunded_by_hand"))
    audit.record(session, actor_id=user.id, action="refund.by_hand", target=f"order:{order.out_trade_no}",
                 detail={"refund": refund.out_refund_no, "amount_fen": refund.amount_fen})
    session.commit()
    session.refresh(refund)
    return _view(refund, order.out_trade_no)


def retry_refund_now(session: Session, *, actor_id: object, refund_id: object) -> RefundView:
    """Owner/staff: send a refund waiting for them to its channel again (e.g. after fixing the
    merchant certificate); the back-off starts over. Not for manual transfers (refund by hand)."""
    user = require_staff(session, actor_id)
    refund_id = parse_id(refund_id)
    refund = session.get(Refund, refund_id, populate_existing=True)
    if refund is None:
        raise DomainError("refund.not_found")
    if refund.channel == Channel.MANUAL:
        raise DomainError("refund.by_hand_only")
    order_no = session.exec(select(Order.out_trade_no).where(Order.id == refund.order_id)).one()
    now = utcnow()
    won = session.execute(
        update(Refund).where(Refund.id == refund_id, Refund.status == RefundStatus.ATTENTION)
        .values(status=RefundStatus.PROCESSING, attempts=1, next_attempt_at=now + refund_retry_delay(1),
                last_reason=f"retried by user {user.id}")
        .execution_options(synchronize_session=False)).rowcount == 1
    if not won:
        session.rollback()
        raise DomainError("refund.not_waiting")
    audit.record(session, actor_id=user.id, action="refund.retry", target=f"order:{order_no}",
                 detail={"refund": refund.out_refund_no})
    session.commit()
    refund = session.get(Refund, refund_id, populate_existing=True)
    assert refund is not None
    _call_channel_refund(session, refund, retry=True, now=now)
    session.refresh(refund)
    return _view(refund, order_no)


# ---------------------------------------------------------------------------------- lists

def list_my_refunds(session: Session, *, actor_id: object, order_no: object) -> list[RefundView]:
    user = require_actor(session, actor_id)
    order = own_order(session, user.id, parse_order_no(order_no))
    # Refunds of extra payments are shown with those payments (OrderView.extra_payments).
    rows = session.exec(select(Refund).where(Refund.order_id == order.id, Refund.payment_id.is_(None))  # type: ignore[union-attr]
                        .order_by(Refund.id)).all()
    return [_view(r, order.out_trade_no) for r in rows]


def list_refund_queue(session: Session, *, actor_id: object, status: object = "requested",
                      limit: int = 50, offset: int = 0) -> list[RefundView]:
    require_staff(session, actor_id)
    if status not in {s.value for s in RefundStatus}:
        raise DomainError("error.bad_request")
    rows = session.exec(select(Refund, Order.out_trade_no).join(Order, Order.id == Refund.order_id)
                        .where(Refund.status == status).order_by(Refund.id)
                        .offset(max(0, int(offset))).limit(min(max(1, int(limit)), 200))).all()
    return [_view(r, no) for r, no in rows]

"""The notify pipeline: verify → record → apply exactly once.

`handle_notification` is what `POST /api/pay/notify/<channel>` runs (in a worker thread):
1. the channel adapter verifies the signature / app id / merchant (`NotificationRejected` → a
   `PaymentEvent(verified=False, outcome='rejected:<why>')` is recorded, nothing else changes,
   and the provider's failure answer is returned). A switched-off sandbox does not answer at all
   (the registry refuses to build it; the route says 404).
2. `apply_paid` checks the amount against the order and fulfils it in ONE transaction:
   CAS pending→paid (or closed→paid, the late-payment rule in `domain.orders`) *on the channel
   the order is bound to* (`Order.channel`, set when the learner starts paying), the `Payment`
   row (role 'applied': one per order; UNIQUE channel+provider txn), the entitlements (source
   'order', source_ref = out_trade_no; bundle lines grant each course), the course counters, the
   'payment succeeded' message and the event row. A repeat — sequential or concurrent — loses the
   compare-and-set (or, at worst, the UNIQUE constraint) and is recorded as `duplicate`.
3. A verified payment that cannot complete its order is never only logged: a second, different
   payment for a paid order (`duplicate_payment`) or a payment through a channel the order is not
   bound to (`rejected:wrong_channel`: unverified event, failure answer, nothing granted) is
   stored as a `Payment` (role duplicate / off_channel) with an automatic refund (`Refund.payment_id`)
   that the refund job sends through that channel, or — for a manual transfer — that waits for the
   owner's "refunded by hand"; the learner gets a message. UNIQUE(channel, provider txn) and
   UNIQUE(refund.payment_id) make this exactly once under repeats and concurrency. A second
   "payment" through a test-mode channel for an order bound elsewhere moved no money: refused.

These functions own their transactions (they commit), because the event row must survive when
the fulfilment is refused and because gateway calls must never run inside a transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Mapping

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, select

from coursemall.domain.catalog import EntitlementSource
from coursemall.domain.errors import DomainError
from coursemall.domain.money import format_fen
from coursemall.domain.orders import (
    TEST_CHANNELS,
    Channel,
    EventKind,
    LineRefund,
    OrderStatus,
    PaymentRole,
    PolicyOutcome,
    RefundStatus,
    channels_that_may_complete,
    parse_enum,
    parse_order_no,
)
from coursemall.models import Course, Entitlement, Order, OrderLine, Payment, PaymentEvent, Refund, utcnow
from coursemall.payments import registry
from coursemall.payments.base import Ack, Notification, NotificationRejected
from coursemall.services.commerce.orders import (
    cas_order_status,
    new_out_refund_no,
    owned_course_ids,
)
from coursemall.services.community.messages import create_message
from coursemall.urls import order_url

log = logging.getLogger("coursemall.pay")
RAW_LIMIT = 8000
REJECTED_RAW_LIMIT = 2000  # unauthenticated bodies: keep enough to investigate, no more


class _RaceLost(Exception):
    """The order changed between our compare-and-set and our re-read: run the transaction again."""


@dataclass(frozen=True)
class ApplyResult:
    outcome: str  # applied | applied_late | late_refund_queued | owned_refund_queued | duplicate |
    #               duplicate_payment | ignored | closed | rejected:<why> (wrong_channel: kept, refunded)
    # Events: `verified` is True only when the notification passed every check (signature, app id,
    # merchant, known order, amount); any rejection is recorded with verified=False.
    accepted: bool  # answer the provider with success (it must stop retrying)
    order_status: str | None = None


def _text(value: str | None, limit: int) -> str:
    """Untrusted text as stored: PostgreSQL refuses NUL characters in text columns."""
    return (value or "").replace("\x00", "\ufffd")[:limit]


def _event(session: Session, *, order_id: int | None, out_trade_no: str, channel: str, kind: str,
           txn: str = "", amount: int | None = None, raw: str = "", verified: bool,
           outcome: str) -> None:
    session.add(PaymentEvent(order_id=order_id, out_trade_no=_text(out_trade_no, 64), channel=channel[:12],
                             kind=kind, provider_txn_id=_text(txn, 64), amount_fen=amount,
                             raw=_text(raw, RAW_LIMIT), verified=verified, outcome=_text(outcome, 48)))


def _order_by_no(session: Session, out_trade_no: str) -> Order | None:
    if not out_trade_no or len(out_trade_no) > 32 or "\x00" in out_trade_no:
        return None  # no such order number (and PostgreSQL refuses NUL in a query parameter)
    return session.exec(select(Order).where(Order.out_trade_no == out_trade_no)
                        .execution_options(populate_existing=True)).first()


# ---------------------------------------------------------------------------------- notify entry

def handle_notification(session: Session, *, channel: str, body: bytes,
                        headers: Mapping[str, str]) -> Ack:
    """Verify and apply one provider notification; returns the provider's answer."""
    refund_notice = channel == "wechat-refund"
    if refund_notice:
        channel = "wechat"
    adapter = registry.get_channel_for_existing(channel)
    try:
        if refund_notice:
            note = adapter.verify_refund_notification(body, headers)  # type: ignore[attr-defined]
        else:
            note = adapter.verify_notification(body, headers)
    except NotificationRejected as rej:
        order = _order_by_no(session, rej.out_trade_no)
        log.warning("pay notify rejected: channel=%s reason=%s order=%s", channel, rej.reason,
                    rej.out_trade_no or "-")
        _event(session, order_id=order.id if order else None, out_trade_no=rej.out_trade_no,
               channel=channel, kind=EventKind.REFUND_NOTIFY if refund_notice else EventKind.NOTIFY,
               raw=body[:REJECTED_RAW_LIMIT].decode("utf-8", errors="replace"), verified=False,
               outcome=f"rejected:{rej.reason}")
        session.commit()
        return adapter.ack_failure(rej.reason)
    if refund_notice or note.status == "refund":
        if note.out_refund_no:
            from coursemall.services.commerce.refunds import apply_refund_notification

            ok = apply_refund_notification(session, note)
            return adapter.ack_success() if ok else adapter.ack_failure("unknown_refund")
        order = _order_by_no(session, note.out_trade_no)
        _event(session, order_id=order.id if order else None, out_trade_no=note.out_trade_no,
               channel=channel, kind=EventKind.REFUND_NOTIFY, txn=note.provider_txn_id, raw=note.raw,
               verified=True, outcome="ignored")
        session.commit()
        return adapter.ack_success()
    result = apply_notification(session, note, kind=EventKind.NOTIFY)
    return adapter.ack_success() if result.accepted else adapter.ack_failure(result.outcome)


def apply_notification(session: Session, note: Notification, *, kind: str) -> ApplyResult:
    if note.status == "paid":
        return apply_paid(session, channel=note.channel, out_trade_no=note.out_trade_no,
                          provider_txn_id=note.provider_txn_id, amount_fen=note.amount_fen,
                          raw=note.raw, kind=kind)
    order = _order_by_no(session, note.out_trade_no)
    if order is None:
        _event(session, order_id=None, out_trade_no=note.out_trade_no, channel=note.channel, kind=kind,
               txn=note.provider_txn_id, amount=note.amount_fen, raw=note.raw, verified=False,
               outcome="rejected:unknown_order")
        session.commit()
        return ApplyResult("rejected:unknown_order", accepted=False)
    outcome = "ignored"
    # Only the bound channel may close the order: closing the old trade after a channel switch
    # makes that gateway report "closed" for an order now being paid elsewhere.
    if note.status == "closed" and _close_order(session, order, reason="channel", channel=note.channel):
        outcome = "closed"
    _event(session, order_id=order.id, out_trade_no=order.out_trade_no, channel=note.channel, kind=kind,
           txn=note.provider_txn_id, amount=note.amount_fen, raw=note.raw, verified=True, outcome=outcome)
    session.commit()
    return ApplyResult(outcome, accepted=True)


def _close_order(session: Session, order: Order, *, reason: str, channel: str | None = None) -> bool:
    """CAS pending→closed plus the learner's message (caller commits). True when this call closed
    it. With `channel`: only while the order is bound to that channel."""
    now = utcnow()
    bound = (Order.channel == channel,) if channel is not None else ()
    if not cas_order_status(session, order.id, OrderStatus.PENDING, OrderStatus.CLOSED, where=bound,
                            closed_at=now, close_reason=reason):
        return False
    if reason != "cancelled":
        create_message(session, user_id=order.user_id, kind="order_closed", key="msg.order_closed",
                       link=order_url(order.out_trade_no), order_no=order.out_trade_no)
    return True


# ---------------------------------------------------------------------------------- exactly once

def apply_paid(session: Session, *, channel: str, out_trade_no: str, provider_txn_id: str,
               amount_fen: int | None, raw: str = "", kind: str = EventKind.NOTIFY) -> ApplyResult:
    """Fulfil a verified payment exactly once (see module docstring). Commits."""
    order = _order_by_no(session, out_trade_no)
    reject = None
    if order is None:
        reject = "unknown_order"
    elif not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen != order.total_fen:
        reject = "wrong_amount"
    elif not provider_txn_id:
        reject = "bad_payload"
    if reject:
        log.warning("pay %s refused: channel=%s reason=%s order=%s", kind, channel, reject, out_trade_no)
        _event(session, order_id=order.id if order else None, out_trade_no=out_trade_no, channel=channel,
               kind=kind, txn=provider_txn_id, amount=amount_fen if isinstance(amount_fen, int) else None,
               raw=raw, verified=False, outcome=f"rejected:{reject}")
        session.commit()
        return ApplyResult(f"rejected:{reject}", accepted=False, order_status=order.status if order else None)
    assert order is not None
    for attempt in range(3):
        try:
            outcome = _apply_paid_tx(session, order, channel=channel, provider_txn_id=provider_txn_id,
                                     amount_fen=amount_fen)
            _event(session, order_id=order.id, out_trade_no=out_trade_no, channel=channel, kind=kind,
                   txn=provider_txn_id, amount=amount_fen, raw=raw, verified=not outcome.startswith("rejected:"),
                   outcome=outcome)
            session.commit()
            break
        except (IntegrityError, OperationalError, _RaceLost):
            # IntegrityError: a concurrent twin of this very transaction stored it between our
            # checks and our insert (UNIQUE(channel, provider txn) keeps it single); the retry
            # sees the twin and answers as for any repeat. OperationalError: SQLite busy / PG
            # serialization. _RaceLost: the order moved under us.
            session.rollback()
            if attempt == 2:
                raise
    status = session.exec(select(Order.status).where(Order.id == order.id)).one()
    return ApplyResult(outcome, accepted=not outcome.startswith("rejected:"), order_status=status)


def _apply_paid_tx(session: Session, order: Order, *, channel: str, provider_txn_id: str,
                   amount_fen: int) -> str:
    """The fulfilment transaction body (no commit). Returns the outcome.

    The first statement is the compare-and-set UPDATE, so on SQLite the transaction starts by
    taking the write lock (no stale read snapshot) and on PostgreSQL concurrent twins queue on
    the row lock and then see the new status. The UPDATE also checks the channel binding, so a
    learner switching channel at the same moment cannot slip a payment past it.
    """
    now = utcnow()
    bound_here = Order.channel.in_(channels_that_may_complete(channel))  # type: ignore[attr-defined]
    won_from = None
    for old in (OrderStatus.PENDING, OrderStatus.CLOSED):
        if cas_order_status(session, order.id, old, OrderStatus.PAID, where=(bound_here,), paid_at=now,
                            channel=channel):
            won_from = old
            break
    if won_from is None:
        return _extra_payment(session, order, channel=channel, provider_txn_id=provider_txn_id,
                              amount_fen=amount_fen, now=now)
    session.add(Payment(order_id=order.id, channel=channel, provider_txn_id=provider_txn_id,
                        amount_fen=amount_fen, role=PaymentRole.APPLIED, paid_at=now))
    session.flush()
    lines = session.exec(select(OrderLine).where(OrderLine.order_id == order.id)).all()
    course_ids = sorted({int(c) for line in lines for c in line.course_ids})
    already = owned_course_ids(session, order.user_id, course_ids, now=now)
    if course_ids and already >= set(course_ids):  # e.g. a second pending order paid after the first
        late = won_from == OrderStatus.CLOSED
        _queue_owned_refund(session, order, lines, now=now, channel=channel, late=late)
        return "late_refund_queued" if late else "owned_refund_queued"
    _grant(session, order, course_ids, already, now=now)
    create_message(session, user_id=order.user_id, kind="payment_succeeded", key="msg.payment_succeeded",
                   link=order_url(order.out_trade_no), order_no=order.out_trade_no,
                   amount=format_fen(order.total_fen))
    return "applied_late" if won_from == OrderStatus.CLOSED else "applied"


def _extra_payment(session: Session, order: Order, *, channel: str, provider_txn_id: str, amount_fen: int,
                   now: datetime) -> str:
    """A verified payment that lost the compare-and-set: a repeat, a second payment for a paid
    order, or a payment through a channel the order is not bound to (no commit)."""
    seen = session.exec(select(Payment.role).where(Payment.channel == channel,
                                                   Payment.provider_txn_id == provider_txn_id)).first()
    if seen is not None:  # this very transaction was recorded before: answer as the first time
        return "rejected:wrong_channel" if seen == PaymentRole.OFF_CHANNEL else "duplicate"
    status, bound = session.exec(select(Order.status, Order.channel).where(Order.id == order.id)).one()
    on_bound_channel = bound in channels_that_may_complete(channel)
    if on_bound_channel and status in (OrderStatus.PENDING, OrderStatus.CLOSED):
        raise _RaceLost()  # it was payable after all (changed under us): run the transaction again
    if on_bound_channel:
        role, outcome = PaymentRole.DUPLICATE, "duplicate_payment"
    else:
        role, outcome = PaymentRole.OFF_CHANNEL, "rejected:wrong_channel"
        if channel in TEST_CHANNELS or channel == Channel.FREE:
            return outcome  # no real money moved: nothing to keep or return
    payment = Payment(order_id=order.id, channel=channel, provider_txn_id=provider_txn_id, amount_fen=amount_fen,
                      role=role, paid_at=now)
    session.add(payment)
    session.flush()  # IntegrityError: a concurrent twin stored it first; apply_paid retries and sees it
    log.warning("order %s: %s payment kept and queued for refund (channel=%s txn=%s)", order.out_trade_no,
                role, channel, provider_txn_id)
    session.add(Refund(order_id=order.id, user_id=order.user_id, line_ids=[], line_id=None,
                       out_refund_no=new_out_refund_no(now), channel=channel, amount_fen=amount_fen,
                       reason=("second payment for an already paid order" if role == PaymentRole.DUPLICATE
                               else "payment through a channel the order was not started on"),
                       status=RefundStatus.APPROVED, policy_outcome=PolicyOutcome.AUTO_EXTRA_PAYMENT,
                       decided_at=now, created_at=now, payment_id=payment.id))
    create_message(session, user_id=order.user_id, kind="refund_result", key=f"msg.extra_payment_{role}",
                   link=order_url(order.out_trade_no), order_no=order.out_trade_no, amount=format_fen(amount_fen))
    return outcome


def _grant(session: Session, order: Order, course_ids: list[int], already: set[int], *,
           now: datetime) -> None:
    for course_id in course_ids:
        session.add(Entitlement(user_id=order.user_id, course_id=course_id, source=EntitlementSource.ORDER,
                                source_ref=order.out_trade_no, granted_at=now))
    session.flush()
    if course_ids:
        session.execute(update(Course).where(Course.id.in_(course_ids))  # type: ignore[union-attr]
                        .values(sales_count=Course.sales_count + 1)
                        .execution_options(synchronize_session=False))
        new_learners = [c for c in course_ids if c not in already]
        if new_learners:
            session.execute(update(Course).where(Course.id.in_(new_learners))  # type: ignore[union-attr]
                            .values(learners_count=Course.learners_count + 1)
                            .execution_options(synchronize_session=False))


def _queue_owned_refund(session: Session, order: Order, lines: list[OrderLine], *, now: datetime,
                        channel: str, late: bool) -> None:
    """A payment for an order whose courses the learner already owns (a late payment for a closed
    order, or a second pending order paid after the first): keep the payment, grant nothing, queue
    an automatic full refund (executed by the refund job)."""
    if not cas_order_status(session, order.id, OrderStatus.PAID, OrderStatus.REFUNDING):
        raise DomainError("order.bad_transition")
    refund = Refund(order_id=order.id, user_id=order.user_id, line_ids=[ln.id for ln in lines],
                    line_id=lines[0].id if len(lines) == 1 else None, out_refund_no=new_out_refund_no(now),
                    channel=channel, amount_fen=order.total_fen,
                    reason=("late payment for a closed order; courses already owned" if late
                            else "courses already owned through another order"),
                    status=RefundStatus.APPROVED, policy_outcome=PolicyOutcome.AUTO_LATE_DUPLICATE,
                    decided_at=now)
    session.add(refund)
    session.flush()
    for line in lines:
        line.refund_status = LineRefund.PENDING
        line.refund_id = refund.id
        session.add(line)
    create_message(session, user_id=order.user_id, kind="refund_result",
                   key="msg.late_refund" if late else "msg.owned_refund",
                   link=order_url(order.out_trade_no), order_no=order.out_trade_no)


def fulfil_free_order(session: Session, order: Order) -> ApplyResult:
    """Total 0: completes at once without a channel (same exactly-once path)."""
    return apply_paid(session, channel=Channel.FREE, out_trade_no=order.out_trade_no,
                      provider_txn_id=f"free-{order.out_trade_no}", amount_fen=0, kind=EventKind.FREE)


# ---------------------------------------------------------------------------------- sandbox

def sandbox_decide(session: Session, *, actor_id: object, order_no: object, outcome: object) -> ApplyResult:
    """The sandbox cashier's pay / fail / close button: build a notification signed like the
    sandbox gateway would and run it through the same pipeline as a real notification.

    Test mode only (the sandbox channel must be enabled); only the learner who owns the order
    may decide it (another user's order is 'order.not_found'). The order must be bound to the
    sandbox; an order not bound to any channel yet is bound to it here (as `start_payment`
    would), one bound to a real channel is refused ('pay.wrong_channel') and nothing changes.
    """
    from coursemall.services.actors import require_actor
    from coursemall.services.commerce.orders import own_order

    user = require_actor(session, actor_id)
    order_no = parse_order_no(order_no)
    outcome = parse_enum(_SandboxOutcome, outcome)
    channel = registry.get_channel("sandbox")
    order = own_order(session, user.id, order_no)
    if order.channel == "":
        session.execute(update(Order).where(Order.id == order.id, Order.channel == "")
                        .values(channel=Channel.SANDBOX.value, updated_at=utcnow())
                        .execution_options(synchronize_session=False))
        session.commit()
        order = own_order(session, user.id, order_no)
    if order.channel != Channel.SANDBOX:
        raise DomainError("pay.wrong_channel")
    body, headers = channel.build_notification(  # type: ignore[attr-defined]
        out_trade_no=order_no, outcome=str(outcome), amount_fen=order.total_fen, txn_id=f"SB{order_no}")
    note = channel.verify_notification(body, headers)
    return apply_notification(session, note, kind=EventKind.NOTIFY)


from enum import StrEnum  # noqa: E402


class _SandboxOutcome(StrEnum):
    PAY = "pay"
    FAIL = "fail"
    CLOSE = "close"

"""Order sweeps: close expired unpaid orders, reconcile pending orders and refunds with the
gateways (refunds retried with back-off, see services.refunds), deliver queued e-mails.

Each sweep selects candidates, then changes each one by compare-and-set (one short transaction per
item), so two workers running the same sweep at once close each order once and send one message.
Gateway calls happen between transactions, never inside one.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import exists, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from coursemall.domain.orders import ManualStatus, OrderStatus
from coursemall.models import ManualPayment, Message, Order, User, utcnow
from coursemall.services.commerce.checkout import GATEWAY_CHANNELS, close_at_channel, query_and_apply
from coursemall.services.commerce.payments import _close_order
from coursemall.services.commerce.refunds import process_refunds

log = logging.getLogger("coursemall.jobs")


def close_expired_orders(session: Session, now: datetime | None = None, *, batch: int = 200) -> int:
    """Close pending orders past `expires_at` (COURSEMALL_ORDER_TTL_MINUTES after creation).

    Orders waiting for a manual-transfer confirmation stay open. Orders on a gateway channel are
    queried first: a payment that did arrive is applied instead of closing. Returns how many
    orders THIS call closed."""
    now = now or utcnow()
    waiting_manual = exists().where(ManualPayment.order_id == Order.id, ManualPayment.status == ManualStatus.PENDING)
    candidates = session.exec(
        select(Order).where(Order.status == OrderStatus.PENDING, Order.expires_at <= now, ~waiting_manual)
        .order_by(Order.id).limit(batch)).all()
    session.commit()
    closed = 0
    for order in candidates:
        if order.channel in GATEWAY_CHANNELS:
            if query_and_apply(session, order) == "paid":
                continue
        if _close_order(session, order, reason="expired"):
            closed += 1
        session.commit()
        if order.channel in GATEWAY_CHANNELS:
            close_at_channel(order)
    return closed


def reconcile_pending(session: Session, now: datetime | None = None, *, min_age_seconds: int = 60,
                      batch: int = 100) -> dict[str, int]:
    """Late notifications: query gateway orders pending for more than `min_age_seconds`; then the
    refund pass (`refunds.process_refunds`): approved refunds sent, processing ones asked about
    again when due (back-off), exhausted ones handed to the owner. Idempotent."""
    now = now or utcnow()
    stats = {"queried": 0, "paid": 0, "refunds": 0}
    pending = session.exec(
        select(Order).where(Order.status == OrderStatus.PENDING,
                            Order.channel.in_([c.value for c in GATEWAY_CHANNELS]),  # type: ignore[attr-defined]
                            Order.created_at <= now - timedelta(seconds=min_age_seconds))
        .order_by(Order.id).limit(batch)).all()
    session.commit()
    for order in pending:
        stats["queried"] += 1
        if query_and_apply(session, order) == "paid":
            stats["paid"] += 1
    stats["refunds"] = process_refunds(session, now, batch=batch)
    return stats


def deliver_queued_emails(session: Session, *, batch: int = 50) -> int:
    """Send messages queued for e-mail (COURSEMALL_SMTP_URL set). CAS queued→sending first, so
    two workers never send the same e-mail."""
    from coursemall.services.accounts.sender import SmtpSender
    from coursemall.settings import get_settings

    url = get_settings().smtp_url
    if not url:
        return 0
    ids = session.exec(select(Message.id).where(Message.email_state == "queued").order_by(Message.id).limit(batch)).all()
    session.commit()
    sender = SmtpSender(url)
    sent = 0
    for message_id in ids:
        won = session.execute(update(Message).where(Message.id == message_id, Message.email_state == "queued")
                              .values(email_state="sending").execution_options(synchronize_session=False)).rowcount
        session.commit()
        if won != 1:
            continue
        message = session.get(Message, message_id)
        user = session.get(User, message.user_id) if message else None
        state = "failed"
        if message and user and user.email:
            try:
                sender.send(session, channel="email", target=user.email, subject=message.title, body=message.body)
                state = "sent"
                sent += 1
            except Exception as exc:  # noqa: BLE001 - one bad address must not stop the sweep
                log.warning("e-mail for message %s failed: %s", message_id, type(exc).__name__)
        session.execute(update(Message).where(Message.id == message_id).values(email_state=state)
                        .execution_options(synchronize_session=False))
        session.commit()
    return sent


def run_sweep(engine: Engine | None = None) -> dict[str, int]:
    """One pass of every order job (each in its own session)."""
    from coursemall.db import get_engine

    engine = engine or get_engine()
    out: dict[str, int] = {}
    with Session(engine, expire_on_commit=False) as session:
        out["closed"] = close_expired_orders(session)
    with Session(engine, expire_on_commit=False) as session:
        out.update(reconcile_pending(session))
    with Session(engine, expire_on_commit=False) as session:
        out["emails"] = deliver_queued_emails(session)
    return out


async def order_jobs_loop(interval_seconds: float = 60.0) -> None:
    """Lifespan task: run the sweep every `interval_seconds` in a worker thread, forever."""
    while True:
        try:
            await asyncio.to_thread(run_sweep)
        except Exception:  # noqa: BLE001 - keep the loop alive; the next pass retries
            log.exception("order sweep failed")
        await asyncio.sleep(interval_seconds)


__all__ = ["close_expired_orders", "reconcile_pending", "deliver_queued_emails", "run_sweep",
           "order_jobs_loop"]

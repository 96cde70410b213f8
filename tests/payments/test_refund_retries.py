"""Refunds stuck in "processing" (the channel said so, or the call failed or timed out) are asked
about again with back-off by the refund job, one worker per attempt, and end — never silently —
in the owner's queue ("attention") with the reason and a manual action. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import Session, select

from coursemall.domain.errors import DomainError
from coursemall.domain.orders import REFUND_MAX_ATTEMPTS, refund_retry_delay
from coursemall.models import Order, PaymentEvent, Refund, utcnow
from coursemall.payments import registry
from coursemall.payments.base import ChannelError, RefundResult
from coursemall.services.commerce import checkout, payments, refunds
from coursemall.services.dashboard.queues import list_refunds_in_flight
from tests.payments.factories import active_grants, make_course, make_user, messages_of, order_row


class ScriptedChannel:
    """Stands in for a gateway: refunds time out until `healthy`, queries say "processing"."""

    name = "alipay"
    test_mode = False

    def __init__(self) -> None:
        self.healthy = False
        self.calls: Counter = Counter()
        self.lock = threading.Lock()

    def _count(self, what: str, ref) -> None:
        with self.lock:
            self.calls[(what, ref.out_refund_no)] += 1

    def refund(self, ref) -> RefundResult:
        self._count("refund", ref)
        if not self.healthy:
            raise ChannelError("alipay_timeout")
        return RefundResult(status="succeeded", provider_refund_id="R" + ref.out_refund_no)

    def query_refund(self, ref) -> RefundResult:
        self._count("query", ref)
        return RefundResult(status="processing")


@pytest.fixture
def gateway():
    channel = ScriptedChannel()
    with registry.override(alipay=channel):
        yield channel


def _paid_by_alipay(session, price=3000):
    user = make_user(session)
    order = checkout.buy_now(session, actor_id=user.id, item_type="course",
                             item_id=make_course(session, price_fen=price).id)
    session.execute(update(Order).where(Order.out_trade_no == order.out_trade_no).values(channel="alipay"))
    session.commit()
    assert payments.apply_paid(session, channel="alipay", out_trade_no=order.out_trade_no,
                               provider_txn_id="T" + order.out_trade_no, amount_fen=price).outcome == "applied"
    return user, order


def _refund(session, refund_id) -> Refund:
    return session.get(Refund, refund_id, populate_existing=True)


def test_backs_off_then_waits_for_the_owner_who_retries(session, gateway):
    owner = make_user(session, role="owner")
    user, order = _paid_by_alipay(session)
    view = refunds.request_refund(session, actor_id=user.id, order_no=order.out_trade_no, reason="不想学了")
    refund = _refund(session, view.id)
    assert (refund.status, refund.attempts, refund.last_reason) == ("processing", 1, "channel_error:alipay_timeout")
    assert len(active_grants(session, user.id)) == 1  # no access taken before the money moved
    first_due = refund.next_attempt_at
    assert first_due - utcnow() <= refund_retry_delay(1)
    assert refunds.process_refunds(session, first_due - timedelta(seconds=1)) == 0  # not due yet
    assert sum(gateway.calls.values()) == 1
    gaps = []
    now = first_due
    for attempt in range(2, REFUND_MAX_ATTEMPTS + 1):
        refunds.process_refunds(session, now)
        refund = _refund(session, view.id)
        assert refund.attempts == attempt
        if refund.status != "processing":
            break
        gaps.append(refund.next_attempt_at - now)
        now = refund.next_attempt_at
    assert gaps[:4] == [timedelta(minutes=m) for m in (2, 4, 8, 16)]
    assert max(gaps) == timedelta(hours=6)
    # out of attempts: visible to the owner, with the reason; the learner keeps access meanwhile
    assert (refund.status, refund.attempts) == ("attention", REFUND_MAX_ATTEMPTS)
    assert refund.last_reason == "retries_exhausted:channel_error:alipay_timeout" and refund.next_attempt_at is None
    assert order_row(session, order.out_trade_no).status == "refunding" and len(active_grants(session, user.id)) == 1
    event = session.exec(select(PaymentEvent).where(PaymentEvent.outcome == "attention")).one()
    assert refund.out_refund_no in event.raw
    refunds.process_refunds(session, now + timedelta(days=30))  # the job no longer touches it
    assert _refund(session, view.id).attempts == REFUND_MAX_ATTEMPTS
    (row,) = list_refunds_in_flight(session, actor_id=owner.id)
    assert (row.id, row.status, row.attempts, row.extra_payment) == (view.id, "attention", REFUND_MAX_ATTEMPTS, False)
    # the owner fixed the gateway and tries again: one call, done
    gateway.healthy = True
    with pytest.raises(DomainError, match="error.forbidden"):
        refunds.retry_refund_now(session, actor_id=user.id, refund_id=view.id)
    done = refunds.retry_refund_now(session, actor_id=owner.id, refund_id=view.id)
    assert done.status == "succeeded"
    assert order_row(session, order.out_trade_no).status == "refunded" and active_grants(session, user.id) == []
    with pytest.raises(DomainError, match="refund.not_waiting"):
        refunds.retry_refund_now(session, actor_id=owner.id, refund_id=view.id)
    assert [m.title for m in messages_of(session, user.id, "refund_result")] == ["退款成功"]


def test_refunded_by_hand_completes_an_order_refund_once(session, gateway):
    staff = make_user(session, role="staff")
    user, order = _paid_by_alipay(session)
    view = refunds.request_refund(session, actor_id=user.id, order_no=order.out_trade_no, reason="退")
    session.execute(update(Refund).where(Refund.id == view.id).values(attempts=REFUND_MAX_ATTEMPTS))
    session.commit()
    refunds.process_refunds(session, utcnow() + timedelta(hours=1))
    assert _refund(session, view.id).status == "attention"
    refunds.mark_refunded_by_hand(session, actor_id=staff.id, refund_id=view.id)
    refund = _refund(session, view.id)
    assert (refund.status, refund.provider_refund_id) == ("succeeded", "by_hand")
    row = order_row(session, order.out_trade_no)
    assert (row.status, row.refunded_fen) == ("refunded", 3000) and active_grants(session, user.id) == []
    with pytest.raises(DomainError, match="refund.not_waiting"):
        refunds.mark_refunded_by_hand(session, actor_id=staff.id, refund_id=view.id)
    # a late success from the gateway changes nothing any more
    assert refunds.apply_refund_result(session, refund_id=view.id, result=RefundResult(status="succeeded"),
                                       kind="refund_notify") == "succeeded"
    assert order_row(session, order.out_trade_no).refunded_fen == 3000


def test_a_late_success_completes_a_refund_waiting_for_the_owner(session, gateway):
    user, order = _paid_by_alipay(session)
    view = refunds.request_refund(session, actor_id=user.id, order_no=order.out_trade_no, reason="退")
    session.execute(update(Refund).where(Refund.id == view.id).values(attempts=REFUND_MAX_ATTEMPTS))
    session.commit()
    refunds.process_refunds(session, utcnow() + timedelta(hours=1))
    assert _refund(session, view.id).status == "attention"
    refunds.apply_refund_result(session, refund_id=view.id, result=RefundResult(status="succeeded",
                                                                                provider_refund_id="R1"),
                                kind="refund_notify")
    assert _refund(session, view.id).status == "succeeded"
    assert order_row(session, order.out_trade_no).status == "refunded"


def test_several_workers_ask_once_per_due_refund(db_engine, session, gateway):
    views = []
    for _ in range(5):
        user, order = _paid_by_alipay(session, price=1000)
        views.append(refunds.request_refund(session, actor_id=user.id, order_no=order.out_trade_no, reason="退"))
    gateway.calls.clear()
    now = utcnow() + timedelta(minutes=5)  # every one is due
    barrier = threading.Barrier(3, timeout=30)
    errors: list[BaseException] = []

    def worker():
        try:
            with Session(db_engine, expire_on_commit=False) as s:
                barrier.wait()
                refunds.process_refunds(s, now)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not [t for t in threads if t.is_alive()], "a refund worker hung"
    assert errors == []
    session.expire_all()
    for view in views:
        refund = _refund(session, view.id)
        assert (refund.status, refund.attempts) == ("processing", 2), view.out_refund_no
        assert gateway.calls[("query", view.out_refund_no)] == 1
        assert gateway.calls[("refund", view.out_refund_no)] == 1
        assert refund.next_attempt_at == now + refund_retry_delay(2)

"""Order sweeps: expiry closes each order once even with two workers; manual proofs wait."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from coursemall.jobs.orders import close_expired_orders, reconcile_pending, run_sweep
from coursemall.models import ManualPayment, Order, utcnow
from coursemall.services.commerce import checkout
from tests.concurrency import run_n
from tests.payments.factories import make_course, make_user, messages_of, order_row


def _orders(session, n):
    user = make_user(session)
    out = [checkout.buy_now(session, actor_id=user.id, item_type="course", item_id=make_course(session).id)
           for _ in range(n)]
    return user, out


def test_expiry_after_ttl_only(session):
    user, (order,) = _orders(session, 1)
    row = order_row(session, order.out_trade_no)
    assert row.expires_at - row.created_at == timedelta(minutes=15)
    assert close_expired_orders(session, row.expires_at - timedelta(seconds=1)) == 0
    assert close_expired_orders(session, row.expires_at + timedelta(seconds=1)) == 1
    assert close_expired_orders(session, row.expires_at + timedelta(seconds=2)) == 0  # idempotent
    row = order_row(session, order.out_trade_no)
    assert (row.status, row.close_reason) == ("closed", "expired")
    assert len(messages_of(session, user.id, "order_closed")) == 1


def test_two_workers_close_each_order_once(db_engine, session):
    user, orders = _orders(session, 6)
    later = utcnow() + timedelta(hours=1)

    def worker(_):
        with Session(db_engine, expire_on_commit=False) as s:
            return close_expired_orders(s, later)

    assert sum(run_n(2, worker)) == 6
    session.expire_all()
    assert {o.status for o in session.exec(select(Order)).all()} == {"closed"}
    assert len(messages_of(session, user.id, "order_closed")) == 6


def test_orders_waiting_for_manual_confirmation_stay_open(session):
    user, (order,) = _orders(session, 1)
    row = order_row(session, order.out_trade_no)
    session.add(ManualPayment(order_id=row.id, user_id=user.id, proof_image="proofs/x.png", reference="r"))
    session.commit()
    assert close_expired_orders(session, utcnow() + timedelta(hours=1)) == 0
    assert order_row(session, order.out_trade_no).status == "pending"


def test_reconcile_ignores_sandbox_orders_and_run_sweep_works(db_engine, session):
    _user, (order,) = _orders(session, 1)
    assert reconcile_pending(session, min_age_seconds=0) == {"queried": 0, "paid": 0, "refunds": 0}
    result = run_sweep(db_engine)
    assert result["closed"] == 0 and order_row(session, order.out_trade_no).status == "pending"

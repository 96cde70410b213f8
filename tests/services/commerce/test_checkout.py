"""Checkout, orders, exactly-once fulfilment (sandbox channel), cancel, late payments.
Every test runs on SQLite and PostgreSQL (db_engine)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from coursemall.domain.errors import DomainError
from coursemall.models import Course, Order, OrderLine, Payment, PaymentEvent, Refund, utcnow
from coursemall.payments import registry
from coursemall.services.commerce import cart, checkout, payments
from tests.concurrency import run_n
from tests.payments.factories import (
    active_grants,
    make_bundle,
    make_course,
    make_user,
    messages_of,
    order_row,
    payments_of,
)


def test_buy_now_snapshots_prices_and_pays_once(session):
    user = make_user(session)
    course = make_course(session, price_fen=12800)
    order = checkout.buy_now(session, actor_id=user.id, item_type="course", item_id=course.id)
    assert order.status == "pending" and order.total_fen == 12800
    assert len(order.out_trade_no) == 26 and order.out_trade_no.isalnum()
    # the price changes after the order: the line keeps its snapshot
    course.price_fen = 1
    session.add(course)
    session.commit()
    assert checkout.get_my_order(session, actor_id=user.id, order_no=order.out_trade_no).lines[0].unit_price_fen == 12800

    first = payments.sandbox_decide(session, actor_id=user.id, order_no=order.out_trade_no, outcome="pay")
    again = payments.sandbox_decide(session, actor_id=user.id, order_no=order.out_trade_no, outcome="pay")
    assert first.outcome == "applied" and again.outcome == "duplicate"
    assert order_row(session, order.out_trade_no).status == "paid"
    assert len(payments_of(session, order.out_trade_no)) == 1
    assert [g.course_id for g in active_grants(session, user.id)] == [course.id]
    assert len(messages_of(session, user.id, "payment_succeeded")) == 1
    session.expire_all()
    c = session.get(Course, course.id)
    assert (c.sales_count, c.learners_count) == (1, 1)
    events = session.exec(select(PaymentEvent)).all()
    assert [e.outcome for e in events] == ["applied", "duplicate"]


def test_cart_checkout_with_bundle_grants_each_course(session):
    user = make_user(session)
    a, b, c = (make_course(session, price_fen=p) for p in (1000, 2000, 3000))
    bundle = make_bundle(session, [b, c], price_fen=4000)
    cart.add_to_cart(session, actor_id=user.id, item_type="course", item_id=a.id)
    view = cart.add_to_cart(session, actor_id=user.id, item_type="bundle", item_id=bundle.id)
    cart.add_to_cart(session, actor_id=user.id, item_type="course", item_id=a.id)  # idempotent
    assert view.total_fen == 5000 and view.count == 2
    order = checkout.checkout_cart(session, actor_id=user.id, client_kind="mobile")
    assert order.total_fen == 5000 and len(order.lines) == 2
    assert cart.get_cart(session, actor_id=user.id).count == 0
    payments.sandbox_decide(session, actor_id=user.id, order_no=order.out_trade_no, outcome="pay")
    assert sorted(g.course_id for g in active_grants(session, user.id)) == sorted([a.id, b.id, c.id])


def test_owned_course_cannot_be_added_or_bought(session):
    user = make_user(session)
    a, b = make_course(session), make_course(session)
    order = checkout.buy_now(session, actor_id=user.id, item_type="course", item_id=a.id)
    payments.sandbox_decide(session, actor_id=user.id, order_no=order.out_trade_no, outcome="pay")
    for fn in (cart.add_to_cart, checkout.buy_now):
        with pytest.raises(DomainError) as err:
            fn(session, actor_id=user.id, item_type="course", item_id=a.id)
        assert err.value.code == "cart.already_owned"
    # a bundle is refused only when every course in it is owned; otherwise it keeps its price
    full = make_bundle(session, [a], price_fen=500)
    with pytest.raises(DomainError, match="cart.already_owned"):
        checkout.buy_now(session, actor_id=user.id, item_type="bundle", item_id=full.id)
    part = make_bundle(session, [a, b], price_fen=700)
    assert checkout.buy_now(session, actor_id=user.id, item_type="bundle", item_id=part.id).total_fen == 700


def test_unpublished_and_overlapping_items_are_refused(session):
    user = make_user(session)
    draft = make_course(session, status="draft")
    with pytest.raises(DomainError, match="cart.unavailable"):
        cart.add_to_cart(session, actor_id=user.id, item_type="course", item_id=draft.id)
    a = make_course(session)
    bundle = make_bundle(session, [a])
    cart.add_to_cart(session, actor_id=user.id, item_type="course", item_id=a.id)
    cart.add_to_cart(session, actor_id=user.id, item_type="bundle", item_id=bundle.id)
    with pytest.raises(DomainError, match="checkout.overlap"):
        checkout.checkout_cart(session, actor_id=user.id)
    assert session.exec(select(Order)).all() == []


def test_free_order_completes_at_once(session):
    user = make_user(session)
    free = make_course(session, price_fen=0)
    order = checkout.buy_now(session, actor_id=user.id, item_type="course", item_id=free.id)
    assert order.status == "paid" and order.channel == "free"
    assert [p.channel for p in payments_of(session, order.out_trade_no)] == ["free"]
    assert len(active_grants(session, user.id)) == 1


def test_cancel_then_pay_is_refused_by_state_and_late_payment_reopens(session):
    user = make_user(session)
    course = make_course(session)
    order = checkout.buy_now(session, actor_id=user.id, item_type="course", item_id=course.id)
    checkout.cancel_order(session, actor_id=user.id, order_no=order.out_trade_no)
    with pytest.raises(DomainError, match="order.not_payable"):
        checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="sandbox")
    with pytest.raises(DomainError, match="order.not_cancellable"):
        checkout.cancel_order(session, actor_id=user.id, order_no=order.out_trade_no)
    # the learner had already paid at the gateway: the late payment re-opens and fulfils
    result = payments.sandbox_decide(session, actor_id=user.id, order_no=order.out_trade_no, outcome="pay")
    assert result.outcome == "applied_late"
    assert order_row(session, order.out_trade_no).status == "paid"
    assert len(active_grants(session, user.id)) == 1


def test_late_payment_when_everything_is_owned_queues_an_automatic_refund(session):
    user = make_user(session)
    course = make_course(session, price_fen=500)
    stale = checkout.buy_now(session, actor_id=user.id, item_type="course", item_id=course.id)
    checkout.cancel_order(session, actor_id=user.id, order_no=stale.out_trade_no)
    fresh = checkout.buy_now(session, actor_id=user.id, item_type="course", item_id=course.id)
    payments.sandbox_decide(session, actor_id=user.id, order_no=fresh.out_trade_no, outcome="pay")
    result = payments.sandbox_decide(session, actor_id=user.id, order_no=stale.out_trade_no, outcome="pay")
    assert result.outcome == "late_refund_queued"
    assert order_row(session, stale.out_trade_no).status == "refunding"
    refund = session.exec(select(Refund)).one()
    assert (refund.status, refund.policy_outcome, refund.amount_fen) == ("approved", "auto_late_duplicate", 500)
    assert len(active_grants(session, user.id)) == 1  # nothing granted twice
    from coursemall.jobs.orders import reconcile_pending

    reconcile_pending(session)
    assert order_row(session, stale.out_trade_no).status == "refunded"
    assert order_row(session, fresh.out_trade_no).status == "paid"
    assert len(active_grants(session, user.id)) == 1  # the fresh order's access stays


def test_sandbox_fail_and_close(session):
    user = make_user(session)
    order = checkout.buy_now(session, actor_id=user.id, item_type="course", item_id=make_course(session).id)
    assert payments.sandbox_decide(session, actor_id=user.id, order_no=order.out_trade_no, outcome="fail").outcome == "ignored"
    assert order_row(session, order.out_trade_no).status == "pending"
    assert payments.sandbox_decide(session, actor_id=user.id, order_no=order.out_trade_no, outcome="close").outcome == "closed"
    assert order_row(session, order.out_trade_no).status == "closed"
    assert active_grants(session, user.id) == []


def test_wrong_amount_changes_nothing(session):
    user = make_user(session)
    order = checkout.buy_now(session, actor_id=user.id, item_type="course", item_id=make_course(session).id)
    result = payments.apply_paid(session, channel="sandbox", out_trade_no=order.out_trade_no,
                                 provider_txn_id="T1", amount_fen=1, raw="{}")
    assert result.outcome == "rejected:wrong_amount" and not result.accepted
    assert order_row(session, order.out_trade_no).status == "pending"
    assert payments_of(session, order.out_trade_no) == [] and active_grants(session, user.id) == []
    event = session.exec(select(PaymentEvent)).one()
    assert (event.verified, event.outcome, event.amount_fen) == (False, "rejected:wrong_amount", 1)


def test_free_orders_are_not_refundable(session):
    from coursemall.services.commerce import refunds

    user = make_user(session)
    order = checkout.buy_now(session, actor_id=user.id, item_type="course", item_id=make_course(session, price_fen=0).id)
    assert not order.can_refund
    with pytest.raises(DomainError, match="refund.not_refundable"):
        refunds.request_refund(session, actor_id=user.id, order_no=order.out_trade_no, reason="free")


def _hammer(engine, order_no: str, amount: int, n: int = 20) -> list[str]:

    def worker(_):
        with Session(engine, expire_on_commit=False) as s:
            return payments.apply_paid(s, channel="sandbox", out_trade_no=order_no,
                                       provider_txn_id="SB-SAME", amount_fen=amount, raw="{}").outcome

    return run_n(n, worker)


def test_twenty_concurrent_notifications_fulfil_once(db_engine, session):
    user = make_user(session)
    a, b = make_course(session, price_fen=100), make_course(session, price_fen=200)
    bundle = make_bundle(session, [a, b], price_fen=250)
    order = checkout.buy_now(session, actor_id=user.id, item_type="bundle", item_id=bundle.id)
    checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="sandbox")
    outcomes = _hammer(db_engine, order.out_trade_no, 250)
    assert sorted(outcomes) == ["applied"] + ["duplicate"] * 19
    session.expire_all()
    assert len(session.exec(select(Payment)).all()) == 1
    assert sorted(g.course_id for g in active_grants(session, user.id)) == sorted([a.id, b.id])
    assert len(messages_of(session, user.id, "payment_succeeded")) == 1
    assert session.get(Course, a.id).sales_count == 1
    assert len(session.exec(select(PaymentEvent)).all()) == 20


def test_order_list_and_detail(session):
    user = make_user(session)
    o1 = checkout.buy_now(session, actor_id=user.id, item_type="course", item_id=make_course(session).id)
    o2 = checkout.buy_now(session, actor_id=user.id, item_type="course", item_id=make_course(session).id)
    listed = checkout.list_my_orders(session, actor_id=user.id)
    assert [o.out_trade_no for o in listed] == [o2.out_trade_no, o1.out_trade_no]
    assert listed[0].can_pay and listed[0].can_cancel and not listed[0].can_refund
    owner = make_user(session, role="owner")
    assert len(checkout.list_orders(session, actor_id=owner.id)) == 2
    with pytest.raises(DomainError, match="error.forbidden"):
        checkout.list_orders(session, actor_id=user.id)


def test_expired_order_cannot_start_payment(session):
    user = make_user(session)
    order = checkout.buy_now(session, actor_id=user.id, item_type="course", item_id=make_course(session).id)
    row = order_row(session, order.out_trade_no)
    row.expires_at = utcnow() - timedelta(seconds=1)
    session.add(row)
    session.commit()
    with pytest.raises(DomainError, match="order.expired"):
        checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="sandbox")


def test_start_payment_sandbox_returns_test_mode_cashier(session):
    user = make_user(session)
    order = checkout.buy_now(session, actor_id=user.id, item_type="course", item_id=make_course(session).id)
    action = checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="sandbox")
    assert action.kind == "cashier" and action.test_mode and order.out_trade_no in action.url
    with pytest.raises(DomainError, match="pay.channel_unavailable"):
        checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="alipay")
    assert session.exec(select(OrderLine)).first() is not None
    registry.reset()


def test_crash_in_the_middle_of_fulfilment_leaves_nothing_half_done(session, monkeypatch):
    """Invariant after a crash: the fulfilment is one transaction. If it dies after the CAS and
    the payment insert, nothing stays (the provider retries), and the retry fulfils once."""
    user = make_user(session)
    order = checkout.buy_now(session, actor_id=user.id, item_type="course", item_id=make_course(session).id)
    checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="sandbox")

    def boom(*args, **kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(payments, "create_message", boom)
    with pytest.raises(RuntimeError):
        payments.apply_paid(session, channel="sandbox", out_trade_no=order.out_trade_no, provider_txn_id="T-1",
                            amount_fen=order.total_fen, raw="{}")
    session.rollback()
    assert order_row(session, order.out_trade_no).status == "pending"
    assert payments_of(session, order.out_trade_no) == [] and active_grants(session, user.id) == []
    monkeypatch.undo()
    result = payments.apply_paid(session, channel="sandbox", out_trade_no=order.out_trade_no, provider_txn_id="T-1",
                                 amount_fen=order.total_fen, raw="{}")
    assert result.outcome == "applied" and len(payments_of(session, order.out_trade_no)) == 1
    assert len(active_grants(session, user.id)) == 1

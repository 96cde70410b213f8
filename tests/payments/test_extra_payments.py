"""A second, different payment for an already paid order is stored as a payment and returned
automatically through its channel (or, for a transfer, queued for the owner's "refunded by
hand"); exactly once under repeats and concurrency; the learner is told. Real SDK code against
the loopback fake gateways; every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
import xmltodict
from sqlmodel import Session, select

from coursemall.domain.errors import DomainError
from coursemall.jobs.orders import reconcile_pending
from coursemall.models import Course, Order, PaymentEvent, Refund
from coursemall.services.commerce import checkout, payments, refunds
from coursemall.services.dashboard.queues import list_refunds_in_flight
from tests.payments.factories import active_grants, make_course, make_user, messages_of, order_row, payments_of
from tests.payments.fixtures import alipay, wechat  # noqa: F401

RETURNED = "多付的款项已退回"


def _paid_order(session, channel: str, price: int = 5000):
    user = make_user(session)
    course = make_course(session, price_fen=price)
    order = checkout.buy_now(session, actor_id=user.id, item_type="course", item_id=course.id)
    checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel=channel)
    return user, course, order


def _titles(session, user_id):
    return [m.title for m in messages_of(session, user_id, "refund_result")]


def test_second_alipay_payment_is_returned_through_alipay(session, alipay):
    user, course, order = _paid_order(session, "alipay")
    first = alipay.fake.buyer_pays(order.out_trade_no, "50.00")
    assert payments.handle_notification(session, channel="alipay", body=alipay.fake.notification_body(first),
                                        headers={}).body == "success"
    second = {**first, "trade_no": first["trade_no"] + "2", "notify_id": "n2"}  # another transaction
    body = alipay.fake.notification_body(second)
    for _ in range(3):  # repeats of the second payment
        assert payments.handle_notification(session, channel="alipay", body=body, headers={}).body == "success"
    outcomes = [e.outcome for e in session.exec(select(PaymentEvent).order_by(PaymentEvent.id))]
    assert outcomes == ["applied", "duplicate_payment", "duplicate", "duplicate"]
    pays = sorted((p.provider_txn_id, p.role) for p in payments_of(session, order.out_trade_no))
    assert pays == sorted([(first["trade_no"], "applied"), (second["trade_no"], "duplicate")])
    refund = session.exec(select(Refund)).one()
    assert (refund.status, refund.amount_fen, refund.policy_outcome) == ("approved", 5000, "auto_extra_payment")
    assert _titles(session, user.id) == ["重复付款将退回"]
    assert session.get(Course, course.id, populate_existing=True).sales_count == 1  # one sale, not two
    reconcile_pending(session, min_age_seconds=0)
    reconcile_pending(session, min_age_seconds=0)  # idempotent
    calls = [c[1] for c in alipay.fake.calls if c[0] == "alipay.trade.refund"]
    assert [(c["out_request_no"], c["refund_amount"]) for c in calls] == [(refund.out_refund_no, "50.00")]
    session.refresh(refund)
    assert refund.status == "succeeded"
    row = order_row(session, order.out_trade_no)
    assert (row.status, row.refunded_fen) == ("paid", 0)  # the order and its access are untouched
    assert len(active_grants(session, user.id)) == 1
    assert _titles(session, user.id) == ["重复付款将退回", RETURNED]
    view = checkout.get_my_order(session, actor_id=user.id, order_no=order.out_trade_no)
    assert [(p.role, p.amount, p.refund_status) for p in view.extra_payments] == [("duplicate", "¥50.00", "succeeded")]
    assert view.can_refund  # the learner may still ask for a refund of the order itself
    assert refunds.list_my_refunds(session, actor_id=user.id, order_no=order.out_trade_no) == []


def test_second_wechat_payment_is_returned_through_wechat(session, wechat):
    user, _course, order = _paid_order(session, "wechat", price=990)
    fields = wechat.fake.buyer_pays(order.out_trade_no)
    ack = payments.handle_notification(session, channel="wechat", body=wechat.fake.notification_body(fields), headers={})
    assert xmltodict.parse(ack.body)["xml"]["return_code"] == "SUCCESS"
    second = {**fields, "transaction_id": fields["transaction_id"][:-1] + "X"}
    ack = payments.handle_notification(session, channel="wechat", body=wechat.fake.notification_body(second), headers={})
    assert xmltodict.parse(ack.body)["xml"]["return_code"] == "SUCCESS"  # kept: WeChat may stop retrying
    refund = session.exec(select(Refund)).one()
    reconcile_pending(session, min_age_seconds=0)
    (call,) = [c[1] for c in wechat.fake.calls if c[0] == "secapi/pay/refund"]
    assert (call["out_refund_no"], call["refund_fee"], call["total_fee"]) == (refund.out_refund_no, "990", "990")
    session.refresh(refund)
    assert (refund.status, refund.attempts, refund.last_reason) == ("processing", 1, "channel_processing")
    notice = wechat.fake.settle_refund(refund.out_refund_no)
    for _ in range(2):
        payments.handle_notification(session, channel="wechat-refund", body=notice, headers={})
    session.refresh(refund)
    assert refund.status == "succeeded" and order_row(session, order.out_trade_no).status == "paid"
    assert _titles(session, user.id) == ["重复付款将退回", RETURNED]


def test_second_transfer_waits_for_the_owner_and_is_refunded_by_hand_once(session):
    owner = make_user(session, role="owner")
    learner = make_user(session)
    user = make_user(session)
    order = checkout.buy_now(session, actor_id=user.id, item_type="course",
                             item_id=make_course(session, price_fen=800).id)
    session.execute(Order.__table__.update().where(Order.out_trade_no == order.out_trade_no)
                    .values(channel="manual"))  # the learner chose the transfer (as submit_manual_proof does)
    session.commit()
    # the owner confirms two transfers for the one order (e.g. the learner paid twice)
    for txn, expected in (("manual-1", "applied"), ("manual-2", "duplicate_payment")):
        assert payments.apply_paid(session, channel="manual", out_trade_no=order.out_trade_no, provider_txn_id=txn,
                                   amount_fen=800, kind="manual").outcome == expected
    refund = session.exec(select(Refund)).one()
    assert refund.status == "approved" and refund.channel == "manual"
    reconcile_pending(session, min_age_seconds=0)
    session.refresh(refund)
    assert (refund.status, refund.last_reason) == ("attention", "manual_channel")  # the app cannot pay back
    (flight,) = list_refunds_in_flight(session, actor_id=owner.id)
    assert (flight.id, flight.status, flight.extra_payment) == (refund.id, "attention", True)
    reconcile_pending(session, min_age_seconds=0)  # the job leaves it to the owner
    session.refresh(refund)
    assert refund.status == "attention"
    with pytest.raises(DomainError, match="error.forbidden"):
        refunds.mark_refunded_by_hand(session, actor_id=learner.id, refund_id=refund.id)
    with pytest.raises(DomainError, match="refund.by_hand_only"):
        refunds.retry_refund_now(session, actor_id=owner.id, refund_id=refund.id)
    done = refunds.mark_refunded_by_hand(session, actor_id=owner.id, refund_id=refund.id)
    assert done.status == "succeeded"
    with pytest.raises(DomainError, match="refund.not_waiting"):
        refunds.mark_refunded_by_hand(session, actor_id=owner.id, refund_id=refund.id)
    assert order_row(session, order.out_trade_no).status == "paid" and len(active_grants(session, user.id)) == 1
    assert _titles(session, user.id) == ["重复付款将退回", RETURNED]
    assert list_refunds_in_flight(session, actor_id=owner.id) == []


def test_extra_payments_are_kept_and_returned_exactly_once_under_concurrency(db_engine, session):
    """20 workers deliver two different payments for one order, each ten times at once; then
    three refund workers run at once. One payment applies, the other is stored once and refunded
    once; nothing is granted twice."""
    user, course, order = _paid_order(session, "sandbox", price=700)
    barrier = threading.Barrier(20, timeout=30)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def deliver(txn: str):
        try:
            with Session(db_engine, expire_on_commit=False) as s:
                barrier.wait()
                outcomes.append(payments.apply_paid(s, channel="sandbox", out_trade_no=order.out_trade_no,
                                                    provider_txn_id=txn, amount_fen=700).outcome)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(f"SB-{i % 2}",)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not [t for t in threads if t.is_alive()], "a worker hung"
    assert errors == []
    assert sorted(outcomes) == ["applied"] + ["duplicate"] * 18 + ["duplicate_payment"], sorted(outcomes)
    session.expire_all()
    assert sorted(p.role for p in payments_of(session, order.out_trade_no)) == ["applied", "duplicate"]
    assert len(session.exec(select(Refund)).all()) == 1 and len(active_grants(session, user.id)) == 1

    barrier = threading.Barrier(3, timeout=30)

    def sweep():
        try:
            with Session(db_engine, expire_on_commit=False) as s:
                barrier.wait()
                refunds.process_refunds(s)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=sweep) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not [t for t in threads if t.is_alive()], "a refund worker hung"
    assert errors == []
    session.expire_all()
    refund = session.exec(select(Refund)).one()
    assert (refund.status, refund.attempts) == ("succeeded", 1)
    assert _titles(session, user.id) == ["重复付款将退回", RETURNED]
    assert session.get(Course, course.id, populate_existing=True).sales_count == 1
    assert order_row(session, order.out_trade_no).status == "paid"


def test_two_open_orders_for_one_course_both_paid_grant_once_and_refund_the_second(session, alipay):
    user = make_user(session)
    course = make_course(session, price_fen=1200)
    first = checkout.buy_now(session, actor_id=user.id, item_type="course", item_id=course.id)
    second = checkout.buy_now(session, actor_id=user.id, item_type="course", item_id=course.id)
    for order in (first, second):
        checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="alipay")
    outcomes = []
    for order in (first, second):
        fields = alipay.fake.buyer_pays(order.out_trade_no, "12.00")
        outcomes.append(payments.apply_paid(session, channel="alipay", out_trade_no=order.out_trade_no,
                                            provider_txn_id=fields["trade_no"], amount_fen=1200).outcome)
    assert outcomes == ["applied", "owned_refund_queued"]
    assert len(active_grants(session, user.id)) == 1
    assert session.get(Course, course.id, populate_existing=True).sales_count == 1
    reconcile_pending(session, min_age_seconds=0)
    assert order_row(session, first.out_trade_no).status == "paid"
    assert order_row(session, second.out_trade_no).status == "refunded"
    assert len(active_grants(session, user.id)) == 1  # the first order's access stays
    assert [c[1]["out_trade_no"] for c in alipay.fake.calls if c[0] == "alipay.trade.refund"] == [second.out_trade_no]
    assert _titles(session, user.id) == ["重复购买将自动退款", "退款成功"]

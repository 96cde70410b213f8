"""Threat: a signed-in learner acts on another learner's order, or sends prices, quantities,
huge/negative ids or wrong types. Every attempt gets a DomainError and changes nothing."""

from __future__ import annotations

import pytest
from sqlmodel import select

from coursemall.domain.errors import DomainError
from coursemall.models import CartItem, Order, Refund
from coursemall.services.commerce import cart, checkout, manual_pay, payments, refunds
from coursemall.services.community import messages
from tests.payments.factories import active_grants, make_course, make_user, order_row


@pytest.fixture
def victim_order(session):
    victim = make_user(session)
    order = checkout.buy_now(session, actor_id=victim.id, item_type="course", item_id=make_course(session).id)
    return victim, order


def test_someone_elses_pending_order(session, victim_order):
    victim, order = victim_order
    mallory = make_user(session)
    attempts = [
        lambda: checkout.start_payment(session, actor_id=mallory.id, order_no=order.out_trade_no, channel="sandbox"),
        lambda: checkout.cancel_order(session, actor_id=mallory.id, order_no=order.out_trade_no),
        lambda: checkout.get_my_order(session, actor_id=mallory.id, order_no=order.out_trade_no),
        lambda: checkout.refresh_order_status(session, actor_id=mallory.id, order_no=order.out_trade_no),
        lambda: manual_pay.submit_manual_proof(session, actor_id=mallory.id, order_no=order.out_trade_no,
                                               image=b"x", reference="r"),
    ]
    for attempt in attempts:
        with pytest.raises(DomainError) as err:
            attempt()
        assert err.value.code == "order.not_found"  # same answer as a missing order: no existence leak
    assert order_row(session, order.out_trade_no).status == "pending"
    assert order_row(session, order.out_trade_no).channel == ""
    assert checkout.list_my_orders(session, actor_id=mallory.id) == []


def test_someone_elses_paid_order_cannot_be_refunded(session, victim_order):
    victim, order = victim_order
    payments.sandbox_decide(session, actor_id=victim.id, order_no=order.out_trade_no, outcome="pay")
    mallory = make_user(session)
    with pytest.raises(DomainError, match="order.not_found"):
        refunds.request_refund(session, actor_id=mallory.id, order_no=order.out_trade_no, reason="give me")
    with pytest.raises(DomainError, match="order.not_found"):
        refunds.list_my_refunds(session, actor_id=mallory.id, order_no=order.out_trade_no)
    assert session.exec(select(Refund)).all() == []
    assert order_row(session, order.out_trade_no).status == "paid" and len(active_grants(session, victim.id)) == 1


def test_learner_cannot_decide_refunds_or_list_all_orders(session, victim_order):
    victim, order = victim_order
    payments.sandbox_decide(session, actor_id=victim.id, order_no=order.out_trade_no, outcome="pay")
    owner = make_user(session, role="owner")
    refunds.update_refund_policy(session, actor_id=owner.id, auto_approve=False, within_days=7, max_progress_pct=20,
                                 request_window_days=30)
    r = refunds.request_refund(session, actor_id=victim.id, order_no=order.out_trade_no, reason="review me")
    for actor in (victim.id, make_user(session, role="instructor").id):
        with pytest.raises(DomainError, match="error.forbidden"):
            refunds.decide_refund(session, actor_id=actor, refund_id=r.id, approve=True)
        with pytest.raises(DomainError, match="error.forbidden"):
            checkout.list_orders(session, actor_id=actor)
    assert session.get(Refund, r.id).status == "requested"


BAD_IDS = [0, -1, 2**31, 2**63, "1 OR 1=1", "", None, 1.5, True, [1], {"id": 1}, "９"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_bad_ids_and_types(session, bad):
    user = make_user(session)
    course = make_course(session)
    calls = [
        lambda: cart.add_to_cart(session, actor_id=user.id, item_type="course", item_id=bad),
        lambda: cart.remove_from_cart(session, actor_id=user.id, item_type="course", item_id=bad),
        lambda: checkout.buy_now(session, actor_id=user.id, item_type="course", item_id=bad),
        lambda: checkout.buy_now(session, actor_id=bad, item_type="course", item_id=course.id),
        lambda: refunds.decide_refund(session, actor_id=user.id, refund_id=bad, approve=True),
        lambda: messages.mark_read(session, actor_id=user.id, message_ids=[bad]),
    ]
    for call in calls:
        with pytest.raises(DomainError) as err:
            call()
        assert err.value.code in ("error.bad_request", "error.sign_in_required", "error.forbidden")
    assert session.exec(select(Order)).all() == [] and session.exec(select(CartItem)).all() == []


@pytest.mark.parametrize(("field", "value"), [
    ("item_type", "membership"), ("item_type", None), ("item_type", ["course"]),
    ("client_kind", "tv"), ("client_kind", 3),
])
def test_bad_enums(session, field, value):
    user = make_user(session)
    course = make_course(session)
    kwargs = {"actor_id": user.id, "item_type": "course", "item_id": course.id, "client_kind": "desktop", field: value}
    with pytest.raises(DomainError, match="error.bad_request"):
        checkout.buy_now(session, **kwargs)
    assert session.exec(select(Order)).all() == []


def test_prices_and_quantities_cannot_be_sent(session):
    user = make_user(session)
    course = make_course(session, price_fen=9900)
    with pytest.raises(TypeError):
        checkout.buy_now(session, actor_id=user.id, item_type="course", item_id=course.id, price_fen=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        cart.add_to_cart(session, actor_id=user.id, item_type="course", item_id=course.id, quantity=100)  # type: ignore[call-arg]
    order = checkout.buy_now(session, actor_id=user.id, item_type="course", item_id=str(course.id))
    assert order.total_fen == 9900


def test_start_payment_rejects_odd_channel_and_junk(session, victim_order):
    victim, order = victim_order
    for channel in ("free", "paypal", None, 1):
        with pytest.raises(DomainError):
            checkout.start_payment(session, actor_id=victim.id, order_no=order.out_trade_no, channel=channel)
    with pytest.raises(DomainError, match="error.bad_request"):
        checkout.start_payment(session, actor_id=victim.id, order_no=order.out_trade_no, channel="sandbox",
                               openid={"$ne": 1})
    assert order_row(session, order.out_trade_no).status == "pending"

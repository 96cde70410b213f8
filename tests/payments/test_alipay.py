"""Alipay through the real python-alipay-sdk against locally generated RSA keys and a loopback fake
gateway (query, close, refund). Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qsl, urlparse

import pytest
from sqlmodel import select

from coursemall.domain.errors import DomainError
from coursemall.models import PaymentEvent, Refund
from coursemall.services.commerce import checkout, payments, refunds
from coursemall.jobs.orders import close_expired_orders, reconcile_pending
from tests.payments.factories import active_grants, make_course, make_user, order_row, payments_of, rsa_pair
from tests.payments.fakes import rsa_verify
from tests.payments.fixtures import APP_ID, alipay, keys  # noqa: F401


def _order(session, price=12800, client="desktop", start=True):
    """A pending order; with `start` the learner has chosen Alipay (the order is bound to it)."""
    user = make_user(session)
    order = checkout.buy_now(session, actor_id=user.id, item_type="course",
                             item_id=make_course(session, price_fen=price).id, client_kind=client)
    if start:
        checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="alipay")
    return user, order


def _notify(session, body: bytes):
    return payments.handle_notification(session, channel="alipay", body=body,
                                        headers={"content-type": "application/x-www-form-urlencoded"})


@pytest.mark.parametrize(("client", "method"), [("desktop", "alipay.trade.page.pay"), ("mobile", "alipay.trade.wap.pay")])
def test_pay_url_is_signed_rsa2_with_server_amount(session, alipay, client, method):
    user, order = _order(session, client=client, start=False)
    action = checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="alipay")
    assert action.kind == "redirect" and action.url.startswith(alipay.fake.url + "?")
    params = dict(parse_qsl(urlparse(action.url).query))
    sign = params.pop("sign")
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    assert rsa_verify(keys("app")[1], message, sign)
    assert params["method"] == method and params["sign_type"] == "RSA2" and params["app_id"] == APP_ID
    biz = json.loads(params["biz_content"])
    assert (biz["out_trade_no"], biz["total_amount"]) == (order.out_trade_no, "128.00")
    assert params["notify_url"] == "http://localhost:3000/api/pay/notify/alipay"


def test_signed_notification_fulfils_once(session, alipay):
    user, order = _order(session)
    fields = alipay.fake.buyer_pays(order.out_trade_no, "128.00")
    body = alipay.fake.notification_body(fields)
    first, second = _notify(session, body), _notify(session, body)
    assert (first.status_code, first.body) == (200, "success")
    assert (second.status_code, second.body) == (200, "success")
    assert order_row(session, order.out_trade_no).status == "paid"
    pays = payments_of(session, order.out_trade_no)
    assert [(p.channel, p.provider_txn_id, p.amount_fen) for p in pays] == [("alipay", fields["trade_no"], 12800)]
    assert len(active_grants(session, user.id)) == 1
    outcomes = [e.outcome for e in session.exec(select(PaymentEvent).where(PaymentEvent.kind == "notify")
                                                .order_by(PaymentEvent.id)).all()]
    assert outcomes == ["applied", "duplicate"]


@pytest.mark.parametrize("forgery", ["other_key", "tampered_amount", "wrong_app_id", "wrong_seller", "wrong_amount",
                                     "unknown_order", "no_sign", "garbage", "nul_bytes"])
def test_forged_or_wrong_notifications_change_nothing(session, alipay, forgery):
    user, order = _order(session)
    fields = alipay.fake.buyer_pays(order.out_trade_no, "128.00")
    if forgery == "other_key":
        body = alipay.fake.notification_body(fields, private_pem=rsa_pair()[0])
    elif forgery == "tampered_amount":
        body = alipay.fake.notification_body(fields).replace(b"total_amount=128.00", b"total_amount=0.01")
    elif forgery == "wrong_app_id":
        body = alipay.fake.notification_body({**fields, "app_id": "2021999999999999"})
    elif forgery == "wrong_seller":
        body = alipay.fake.notification_body({**fields, "seller_id": "2088999999999999"})
    elif forgery == "wrong_amount":
        body = alipay.fake.notification_body({**fields, "total_amount": "0.01"})
    elif forgery == "unknown_order":
        body = alipay.fake.notification_body({**fields, "out_trade_no": "CM20261124FFFFFFFFFFFFFFFF"})
    elif forgery == "no_sign":
        body = b"&".join(f"{k}={v}".encode() for k, v in fields.items())
    elif forgery == "nul_bytes":  # PostgreSQL refuses NUL in text: still a clean refusal, not a 500
        body = alipay.fake.notification_body(fields).replace(b"out_trade_no=", b"out_trade_no=%00") + b"&x=%00"
    else:
        body = b"\xff\xfe<not a form>"
    ack = _notify(session, body)
    assert (ack.status_code, ack.body) == (400, "failure")
    assert order_row(session, order.out_trade_no).status == "pending"
    assert payments_of(session, order.out_trade_no) == [] and active_grants(session, user.id) == []
    event = session.exec(select(PaymentEvent)).one()
    assert event.outcome.startswith("rejected:") and event.verified is False


def test_wait_buyer_pay_and_refund_notices_are_acknowledged_and_ignored(session, alipay):
    _user, order = _order(session)
    fields = {**alipay.fake.buyer_pays(order.out_trade_no, "128.00"), "trade_status": "WAIT_BUYER_PAY"}
    ack = _notify(session, alipay.fake.notification_body(fields))
    assert ack.body == "success" and order_row(session, order.out_trade_no).status == "pending"


def test_query_on_return_applies_a_late_notification(session, alipay):
    user, order = _order(session)
    checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="alipay")
    view = checkout.refresh_order_status(session, actor_id=user.id, order_no=order.out_trade_no)
    assert view.status == "pending"  # trade not created at the gateway yet: ACQ.TRADE_NOT_EXIST
    alipay.fake.buyer_pays(order.out_trade_no, "128.00")  # paid, notification lost
    view = checkout.refresh_order_status(session, actor_id=user.id, order_no=order.out_trade_no)
    assert view.status == "paid" and len(active_grants(session, user.id)) == 1
    event = session.exec(select(PaymentEvent).where(PaymentEvent.outcome == "applied")).one()
    assert event.kind == "query"
    assert alipay.fake.bad_signatures == 0


def test_wrong_amount_from_query_is_refused(session, alipay):
    user, order = _order(session)
    checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="alipay")
    alipay.fake.buyer_pays(order.out_trade_no, "1.00")
    assert checkout.refresh_order_status(session, actor_id=user.id, order_no=order.out_trade_no).status == "pending"


def test_cancel_closes_trade_at_gateway(session, alipay):
    user, order = _order(session)
    checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="alipay")
    alipay.fake.open_trade(order.out_trade_no, "128.00")
    checkout.cancel_order(session, actor_id=user.id, order_no=order.out_trade_no)
    assert alipay.fake.trades[order.out_trade_no]["status"] == "TRADE_CLOSED"
    assert ("alipay.trade.close", {"out_trade_no": order.out_trade_no}) in alipay.fake.calls


def test_expiry_job_applies_payment_found_by_query_instead_of_closing(session, alipay):
    from datetime import timedelta

    from coursemall.models import utcnow

    user, order = _order(session)
    checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="alipay")
    alipay.fake.buyer_pays(order.out_trade_no, "128.00")
    assert close_expired_orders(session, utcnow() + timedelta(hours=1)) == 0
    assert order_row(session, order.out_trade_no).status == "paid"


def test_refund_uses_stable_out_request_no_and_pays_once(session, alipay):
    user, order = _order(session, price=5000)
    checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="alipay")
    _notify(session, alipay.fake.notification_body(alipay.fake.buyer_pays(order.out_trade_no, "50.00")))
    view = refunds.request_refund(session, actor_id=user.id, order_no=order.out_trade_no, reason="不合适")
    assert view.status == "succeeded"
    assert list(alipay.fake.refunds) == [view.out_refund_no]
    assert alipay.fake.refunds[view.out_refund_no]["amount"] == "50.00"
    assert order_row(session, order.out_trade_no).status == "refunded"
    assert active_grants(session, user.id) == []


def test_refund_survives_gateway_outage(session, alipay):
    user, order = _order(session, price=5000)
    checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="alipay")
    _notify(session, alipay.fake.notification_body(alipay.fake.buyer_pays(order.out_trade_no, "50.00")))
    good_gateway = alipay.channel._client._gateway
    alipay.channel._client._gateway = "http://127.0.0.1:9/gateway.do"  # nothing listens: connection refused
    view = refunds.request_refund(session, actor_id=user.id, order_no=order.out_trade_no, reason="网络断了")
    assert view.status == "processing" and len(active_grants(session, user.id)) == 1
    alipay.channel._client._gateway = good_gateway
    refund = session.exec(select(Refund)).one()
    assert (refund.attempts, refund.last_reason) == (1, "channel_error:alipay_unreachable")
    reconcile_pending(session)  # not due yet: the back-off holds
    assert not [c for c in alipay.fake.calls if c[0] == "alipay.trade.refund"]
    later = refund.next_attempt_at + timedelta(seconds=1)
    reconcile_pending(session, later)
    reconcile_pending(session, later)  # idempotent
    assert order_row(session, order.out_trade_no).status == "refunded"
    assert len(alipay.fake.refunds) == 1
    refund_calls = [c for c in alipay.fake.calls if c[0] == "alipay.trade.refund"]
    assert len(refund_calls) == 1 and refund_calls[0][1]["out_request_no"] == view.out_refund_no


def test_gateway_answer_signed_by_someone_else_is_not_trusted(session, alipay):
    user, order = _order(session)
    checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="alipay")
    alipay.fake.buyer_pays(order.out_trade_no, "128.00")
    alipay.fake.alipay_private_pem = rsa_pair()[0]  # a man in the middle answering "paid"
    assert checkout.refresh_order_status(session, actor_id=user.id, order_no=order.out_trade_no).status == "pending"


def test_channel_must_be_enabled(session):
    user, order = _order(session, start=False)
    with pytest.raises(DomainError, match="pay.channel_unavailable"):
        checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="alipay")


def test_alipay_is_refused_inside_the_wechat_browser(session, alipay):
    user, order = _order(session, client="wechat", start=False)
    with pytest.raises(DomainError, match="pay.open_in_browser"):
        checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="alipay")
    assert order_row(session, order.out_trade_no).channel == ""


@pytest.mark.parametrize("client", ["desktop", "mobile"])
def test_pay_url_carries_the_shops_expiry_in_china_time(session, alipay, client):
    from datetime import timezone

    user, order = _order(session, client=client, start=False)
    action = checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="alipay")
    params = dict(parse_qsl(urlparse(action.url).query))
    sign = params.pop("sign")
    assert rsa_verify(keys("app")[1], "&".join(f"{k}={v}" for k, v in sorted(params.items())), sign)
    row = order_row(session, order.out_trade_no)
    china = row.expires_at.astimezone(timezone(timedelta(hours=8)))
    assert json.loads(params["biz_content"])["time_expire"] == china.strftime("%Y-%m-%d %H:%M:%S")
    assert row.expires_at - row.created_at == timedelta(minutes=15)

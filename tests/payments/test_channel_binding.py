"""Each payment completes its order only through the channel the order was started on; the
sandbox answers only while it is switched on. Real SDK code against the loopback fake gateways;
every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import xmltodict
from sqlmodel import select
from starlette.testclient import TestClient

import coursemall.api.pay as pay_api
import coursemall.db
from coursemall.api import build_api
from coursemall.db import session_scope
from coursemall.domain.errors import DomainError
from coursemall.jobs.orders import reconcile_pending
from coursemall.models import ManualPayment, Payment, PaymentEvent, Refund
from coursemall.payments import registry
from coursemall.payments.sandbox import SandboxChannel
from coursemall.services.commerce import checkout, manual_pay, payments
from coursemall.settings import get_settings
from tests.payments.factories import active_grants, make_course, make_user, messages_of, order_row, payments_of
from tests.payments.fixtures import alipay, wechat  # noqa: F401
from tests.payments.test_manual_pay import png


def _order(session, price=12800):
    user = make_user(session)
    return user, checkout.buy_now(session, actor_id=user.id, item_type="course",
                                  item_id=make_course(session, price_fen=price).id)


def _start(session, user, order, channel):
    return checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel=channel)


def _events(session, order_no):
    return session.exec(select(PaymentEvent).where(PaymentEvent.out_trade_no == order_no)
                        .order_by(PaymentEvent.id)).all()


def test_an_order_started_on_alipay_is_not_completed_through_the_sandbox(session, alipay):
    user, order = _order(session)
    _start(session, user, order, "alipay")
    with pytest.raises(DomainError, match="pay.wrong_channel"):  # the cashier button
        payments.sandbox_decide(session, actor_id=user.id, order_no=order.out_trade_no, outcome="pay")
    # a notification signed with the shop's own sandbox key (what the cashier would have sent)
    body, headers = registry.get_channel("sandbox").build_notification(
        out_trade_no=order.out_trade_no, outcome="pay", amount_fen=order.total_fen, txn_id="SB-X")
    ack = payments.handle_notification(session, channel="sandbox", body=body, headers=headers)
    assert (ack.status_code, ack.body) == (400, "rejected")
    assert order_row(session, order.out_trade_no).status == "pending"
    assert payments_of(session, order.out_trade_no) == [] and active_grants(session, user.id) == []
    assert session.exec(select(Refund)).all() == []  # no money moved in the sandbox: nothing to return
    (event,) = _events(session, order.out_trade_no)
    assert (event.verified, event.outcome, event.channel) == (False, "rejected:wrong_channel", "sandbox")
    # the sandbox cannot close it either
    with pytest.raises(DomainError, match="pay.wrong_channel"):
        payments.sandbox_decide(session, actor_id=user.id, order_no=order.out_trade_no, outcome="close")
    assert order_row(session, order.out_trade_no).status == "pending"


def test_a_payment_through_the_old_channel_after_a_switch_is_refused_kept_and_returned(session, wechat, alipay):
    user, order = _order(session, price=990)
    _start(session, user, order, "wechat")
    wechat_trade = dict(wechat.fake.orders[order.out_trade_no])
    _start(session, user, order, "alipay")  # the learner switches before paying
    assert order_row(session, order.out_trade_no).channel == "alipay"
    assert wechat.fake.orders[order.out_trade_no]["state"] == "CLOSED"  # old trade closed at WeChat
    # ... but the learner had scanned the WeChat QR and paid in the same second
    wechat.fake.orders[order.out_trade_no] = {**wechat_trade, "state": "NOTPAY"}
    body = wechat.fake.notification_body(wechat.fake.buyer_pays(order.out_trade_no))
    for _ in range(2):  # WeChat retries after a failure answer
        ack = payments.handle_notification(session, channel="wechat", body=body, headers={})
        assert ack.status_code == 400 and xmltodict.parse(ack.body)["xml"]["return_code"] == "FAIL"
    assert order_row(session, order.out_trade_no).status == "pending" and active_grants(session, user.id) == []
    (stray,) = payments_of(session, order.out_trade_no)
    assert (stray.channel, stray.role, stray.amount_fen) == ("wechat", "off_channel", 990)
    refund = session.exec(select(Refund)).one()
    assert (refund.payment_id, refund.status, refund.channel, refund.line_ids) == (stray.id, "approved", "wechat", [])
    outcomes = [(e.verified, e.outcome) for e in _events(session, order.out_trade_no) if e.kind == "notify"]
    assert outcomes == [(False, "rejected:wrong_channel")] * 2
    assert [m.title for m in messages_of(session, user.id, "refund_result")] == ["款项将退回"]
    view = checkout.get_my_order(session, actor_id=user.id, order_no=order.out_trade_no)
    assert [(p.channel, p.role, p.refund_status) for p in view.extra_payments] == [("wechat", "off_channel", "approved")]
    # the refund job returns it through WeChat; WeChat's refund notice completes it
    reconcile_pending(session, min_age_seconds=0)
    (call,) = [c[1] for c in wechat.fake.calls if c[0] == "secapi/pay/refund"]
    assert (call["out_refund_no"], call["refund_fee"], call["total_fee"]) == (refund.out_refund_no, "990", "990")
    payments.handle_notification(session, channel="wechat-refund", body=wechat.fake.settle_refund(refund.out_refund_no),
                                 headers={})
    session.refresh(refund)
    assert refund.status == "succeeded"
    assert order_row(session, order.out_trade_no).status == "pending"  # still payable with Alipay
    # the learner pays with Alipay after all: that payment completes the order
    fields = alipay.fake.buyer_pays(order.out_trade_no, "9.90")
    assert payments.handle_notification(session, channel="alipay", body=alipay.fake.notification_body(fields),
                                        headers={}).body == "success"
    assert order_row(session, order.out_trade_no).status == "paid" and len(active_grants(session, user.id)) == 1
    roles = sorted((p.channel, p.role) for p in payments_of(session, order.out_trade_no))
    assert roles == [("alipay", "applied"), ("wechat", "off_channel")]
    titles = [m.title for m in messages_of(session, user.id, "refund_result")]
    assert titles == ["款项将退回", "多付的款项已退回"]


def test_switching_away_from_a_gateway_that_was_paid_applies_that_payment(session, wechat, alipay):
    user, order = _order(session, price=990)
    _start(session, user, order, "wechat")
    wechat.fake.buyer_pays(order.out_trade_no)  # paid; the notification is late
    with pytest.raises(DomainError, match="order.not_payable"):
        _start(session, user, order, "alipay")
    row = order_row(session, order.out_trade_no)
    assert (row.status, row.channel) == ("paid", "wechat")
    assert [(p.channel, p.role) for p in payments_of(session, order.out_trade_no)] == [("wechat", "applied")]
    assert not [c for c in alipay.fake.calls]  # no Alipay trade was ever started


def test_a_closed_notice_from_the_old_channel_does_not_close_the_order(session, alipay, wechat):
    user, order = _order(session, price=990)
    _start(session, user, order, "alipay")
    _start(session, user, order, "wechat")
    fields = {**alipay.fake.buyer_pays(order.out_trade_no, "9.90"), "trade_status": "TRADE_CLOSED"}
    ack = payments.handle_notification(session, channel="alipay", body=alipay.fake.notification_body(fields),
                                       headers={})
    assert ack.body == "success"  # acknowledged (genuine), but it says nothing about this order any more
    assert order_row(session, order.out_trade_no).status == "pending"
    assert _events(session, order.out_trade_no)[-1].outcome == "ignored"


def test_a_transfer_proof_keeps_the_order_on_the_manual_channel(session, alipay):
    owner = make_user(session, role="owner")
    manual_pay.update_manual_settings(session, actor_id=owner.id, enabled=True, instructions="", qr_image=png())
    user, order = _order(session, price=990)
    _start(session, user, order, "alipay")
    alipay.fake.open_trade(order.out_trade_no, "9.90")
    manual_pay.submit_manual_proof(session, actor_id=user.id, order_no=order.out_trade_no, image=png(),
                                   reference="尾号 1")
    assert order_row(session, order.out_trade_no).channel == "manual"
    assert alipay.fake.trades[order.out_trade_no]["status"] == "TRADE_CLOSED"  # the old trade is closed
    with pytest.raises(DomainError, match="pay.proof_waiting"):
        _start(session, user, order, "alipay")
    assert order_row(session, order.out_trade_no).channel == "manual"
    mp = session.exec(select(ManualPayment)).one()
    assert manual_pay.confirm_manual_payment(session, actor_id=owner.id, manual_payment_id=mp.id) == "applied"
    assert order_row(session, order.out_trade_no).status == "paid"


# ------------------------------------------------------------------------------- sandbox switched off

@pytest.fixture
def sandbox_off(db_engine, monkeypatch):
    monkeypatch.setattr(coursemall.db, "get_engine", lambda: db_engine)
    monkeypatch.setattr(pay_api, "session_scope", lambda: session_scope(db_engine))
    monkeypatch.setenv("COURSEMALL_SANDBOX_PAY", "0")
    get_settings.cache_clear()
    registry.reset()
    yield
    get_settings.cache_clear()
    registry.reset()


def test_the_sandbox_does_not_answer_when_it_is_off(session, sandbox_off):
    user, order = _order(session)
    assert "sandbox" not in registry.enabled_channels()
    # a notification signed exactly like the sandbox signs (same shop secret)
    body, headers = SandboxChannel(get_settings().secret_key).build_notification(
        out_trade_no=order.out_trade_no, outcome="pay", amount_fen=order.total_fen, txn_id="SB-OFF")
    with TestClient(build_api(), base_url="http://127.0.0.1") as client:
        r = client.post("/api/pay/notify/sandbox", content=body, headers=headers)
    assert r.status_code == 404
    with pytest.raises(DomainError, match="pay.channel_unavailable"):
        payments.handle_notification(session, channel="sandbox", body=body, headers=headers)
    with pytest.raises(DomainError, match="pay.channel_unavailable"):
        payments.sandbox_decide(session, actor_id=user.id, order_no=order.out_trade_no, outcome="pay")
    with pytest.raises(DomainError, match="pay.channel_unavailable"):
        registry.get_channel_for_existing("sandbox")
    with pytest.raises(DomainError, match="pay.channel_unavailable"):
        _start(session, user, order, "sandbox")
    session.expire_all()
    row = order_row(session, order.out_trade_no)
    assert (row.status, row.channel) == ("pending", "")
    assert session.exec(select(PaymentEvent)).all() == [] and session.exec(select(Payment)).all() == []

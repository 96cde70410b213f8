"""Threat: someone who is not the gateway tries to get access without paying, through the notify
routes (forged signatures, replayed or altered fields, another merchant's notifications,
someone else's sandbox secret, an amount of one fen). Each is refused, recorded unverified, and
changes nothing: no payment, no entitlement, order still pending."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

import coursemall.api.pay as pay_api
from coursemall.api import build_api
from coursemall.db import session_scope
from coursemall.models import Message, Payment, PaymentEvent
from coursemall.payments.sandbox import SandboxChannel
from coursemall.services.commerce import checkout
from tests.payments.factories import active_grants, make_course, make_user, order_row, rsa_pair
from tests.payments.fixtures import alipay, wechat  # noqa: F401


@pytest.fixture
def client(db_engine, monkeypatch):
    monkeypatch.setattr(pay_api, "session_scope", lambda: session_scope(db_engine))
    with TestClient(build_api()) as c:
        yield c


def _assert_untouched(session, user, order_no):
    session.expire_all()
    assert order_row(session, order_no).status == "pending"
    assert session.exec(select(Payment)).all() == []
    assert active_grants(session, user.id) == []
    assert session.exec(select(Message)).all() == []
    events = session.exec(select(PaymentEvent)).all()
    assert events and all(e.outcome.startswith("rejected:") and e.verified is False for e in events)


def test_sandbox_forgeries(client, session):
    user = make_user(session)
    order = checkout.buy_now(session, actor_id=user.id, item_type="course", item_id=make_course(session).id)
    attacker = SandboxChannel("attacker-guesses-the-secret-" + "z" * 32)
    body, headers = attacker.build_notification(out_trade_no=order.out_trade_no, outcome="pay",
                                                amount_fen=order.total_fen)
    assert client.post("/api/pay/notify/sandbox", content=body, headers=headers).status_code == 400
    unsigned = json.dumps({"out_trade_no": order.out_trade_no, "outcome": "pay", "amount_fen": order.total_fen,
                           "txn_id": "x"}).encode()
    assert client.post("/api/pay/notify/sandbox", content=unsigned).status_code == 400
    _assert_untouched(session, user, order.out_trade_no)


def test_alipay_forgeries(client, session, alipay):
    user = make_user(session)
    order = checkout.buy_now(session, actor_id=user.id, item_type="course", item_id=make_course(session, price_fen=9900).id)
    fields = alipay.fake.buyer_pays(order.out_trade_no, "99.00")
    forged = [
        alipay.fake.notification_body(fields, private_pem=rsa_pair()[0]),  # attacker's own RSA key
        alipay.fake.notification_body({**fields, "app_id": "2021000000009999"}),  # another app's notification
        alipay.fake.notification_body({**fields, "total_amount": "0.01"}),  # paid one fen
        alipay.fake.notification_body(fields) + b"&total_amount=0.01",  # duplicated field
        alipay.fake.notification_body(fields).replace(b"sign_type=RSA2", b"sign_type=RSA"),
    ]
    for body in forged:
        r = client.post("/api/pay/notify/alipay", content=body,
                        headers={"content-type": "application/x-www-form-urlencoded"})
        assert (r.status_code, r.text) == (400, "failure")
    _assert_untouched(session, user, order.out_trade_no)


def test_wechat_forgeries(client, session, wechat):
    user = make_user(session)
    order = checkout.buy_now(session, actor_id=user.id, item_type="course", item_id=make_course(session, price_fen=500).id)
    checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="wechat")
    fields = wechat.fake.buyer_pays(order.out_trade_no)
    forged = [
        wechat.fake.notification_body(fields, api_key="0" * 32),
        wechat.fake.notification_body({**fields, "mch_id": "1234567890"}),
        wechat.fake.notification_body({**fields, "total_fee": "1"}),
        wechat.fake.notification_body(fields).replace(b"<sign>", b"<sign>0"),
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]><xml><a>&a;</a></xml>',
    ]
    for body in forged:
        r = client.post("/api/pay/notify/wechat", content=body, headers={"content-type": "text/xml"})
        assert r.status_code == 400
    _assert_untouched(session, user, order.out_trade_no)


def test_logs_never_contain_keys(client, session, alipay, caplog):
    user = make_user(session)
    order = checkout.buy_now(session, actor_id=user.id, item_type="course", item_id=make_course(session).id)
    fields = alipay.fake.buyer_pays(order.out_trade_no, "0.01")
    with caplog.at_level("DEBUG"):
        client.post("/api/pay/notify/alipay", content=alipay.fake.notification_body(fields))
    text = caplog.text
    assert "rejected" in text or "refused" in text
    assert "PRIVATE KEY" not in text and alipay.alipay_private.splitlines()[1] not in text

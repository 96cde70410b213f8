"""POST /api/pay/notify/* and GET /api/pay/return/* over HTTP (Starlette test client)."""

from __future__ import annotations

import xmltodict
import pytest
from sqlmodel import select
from starlette.testclient import TestClient

import coursemall.api.pay as pay_api
from coursemall.api import build_api
from coursemall.db import session_scope
from coursemall.models import PaymentEvent
from coursemall.payments import registry
from coursemall.services.commerce import checkout
from tests.concurrency import gather_concurrently
from tests.payments.factories import active_grants, make_course, make_user, order_row, payments_of
from tests.payments.fixtures import alipay, wechat  # noqa: F401


@pytest.fixture
def client(db_engine, monkeypatch):
    monkeypatch.setattr(pay_api, "session_scope", lambda: session_scope(db_engine))
    with TestClient(build_api(), base_url="http://127.0.0.1") as c:
        yield c


def _order(session, price=2000, channel: str | None = "sandbox"):
    """A pending order; with `channel` the learner started paying there (the order is bound to it)."""
    user = make_user(session)
    order = checkout.buy_now(session, actor_id=user.id, item_type="course",
                             item_id=make_course(session, price_fen=price).id)
    if channel:
        checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel=channel)
    return user, order


def test_sandbox_notify_route(client, session):
    user, order = _order(session)
    body, headers = registry.get_channel("sandbox").build_notification(
        out_trade_no=order.out_trade_no, outcome="pay", amount_fen=2000, txn_id="SB-1")
    r = client.post("/api/pay/notify/sandbox", content=body, headers=headers)
    assert (r.status_code, r.text) == (200, "ok")
    r = client.post("/api/pay/notify/sandbox", content=body, headers={**headers, "x-sandbox-signature": "0" * 64})
    assert r.status_code == 400
    session.expire_all()
    assert order_row(session, order.out_trade_no).status == "paid" and len(active_grants(session, user.id)) == 1


def test_alipay_notify_route_answers_success_and_failure(client, session, alipay):
    user, order = _order(session, channel="alipay")
    fields = alipay.fake.buyer_pays(order.out_trade_no, "20.00")
    forged = alipay.fake.notification_body({**fields, "total_amount": "0.01"}).replace(b"sign=", b"sign=AA")
    r = client.post("/api/pay/notify/alipay", content=forged,
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert (r.status_code, r.text) == (400, "failure")
    r = client.post("/api/pay/notify/alipay", content=alipay.fake.notification_body(fields),
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert (r.status_code, r.text) == (200, "success")
    assert len(payments_of(session, order.out_trade_no)) == 1


def test_wechat_notify_route_answers_xml(client, session, wechat):
    user, order = _order(session, channel="wechat")
    body = wechat.fake.notification_body(wechat.fake.buyer_pays(order.out_trade_no))
    r = client.post("/api/pay/notify/wechat", content=body, headers={"content-type": "text/xml"})
    assert r.status_code == 200 and xmltodict.parse(r.text)["xml"]["return_code"] == "SUCCESS"
    r = client.post("/api/pay/notify/wechat", content=body.replace(b"<transaction_id><![CDATA[4200", b"<transaction_id><![CDATA[4201"))
    assert r.status_code == 400 and xmltodict.parse(r.text)["xml"]["return_code"] == "FAIL"
    assert len(payments_of(session, order.out_trade_no)) == 1


def test_unknown_channel_big_body_and_unconfigured_channel(client, session):
    assert client.post("/api/pay/notify/paypal", content=b"x").status_code == 404
    assert client.post("/api/pay/notify/sandbox", content=b"x" * (70 * 1024)).status_code == 413
    assert client.post("/api/pay/notify/alipay", content=b"a=b").status_code == 404  # not configured
    assert client.get("/api/pay/notify/sandbox").status_code == 405
    assert session.exec(select(PaymentEvent)).all() == []


def test_return_route_only_redirects(client, session):
    user, order = _order(session, channel=None)
    r = client.get(f"/api/pay/return/alipay?out_trade_no={order.out_trade_no}&trade_status=TRADE_SUCCESS",
                   follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"http://localhost:3000/order/{order.out_trade_no}"
    r = client.get("/api/pay/return/alipay?out_trade_no=../../x", follow_redirects=False)
    assert r.headers["location"] == "http://localhost:3000/"
    r = client.get("/api/pay/return/wechat?out_trade_no=x", follow_redirects=False,
                   headers={"host": "evil.example"})
    assert r.headers["location"].startswith("http://localhost:3000/")  # never from request headers
    session.expire_all()
    assert order_row(session, order.out_trade_no).status == "pending" and active_grants(session, user.id) == []


async def test_twenty_concurrent_http_notifications_fulfil_once(db_engine, session, monkeypatch):
    import httpx

    monkeypatch.setattr(pay_api, "session_scope", lambda: session_scope(db_engine))
    user, order = _order(session)
    body, headers = registry.get_channel("sandbox").build_notification(
        out_trade_no=order.out_trade_no, outcome="pay", amount_fen=2000, txn_id="SB-20")
    transport = httpx.ASGITransport(app=build_api())
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        responses = await gather_concurrently(*(c.post("/api/pay/notify/sandbox", content=body, headers=headers)
                                                for _ in range(20)))
    assert [r.status_code for r in responses] == [200] * 20
    session.expire_all()
    assert len(payments_of(session, order.out_trade_no)) == 1 and len(active_grants(session, user.id)) == 1
    outcomes = sorted(e.outcome for e in session.exec(select(PaymentEvent)).all())
    assert outcomes == ["applied"] + ["duplicate"] * 19

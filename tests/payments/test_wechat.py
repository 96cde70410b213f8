"""WeChat Pay v2 through the real wechatpy code against a loopback fake gateway (unified order,
query, close, refund, refund query) and signed/encrypted notifications."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest
import xmltodict
from sqlmodel import select

from coursemall.domain.errors import DomainError
from coursemall.jobs.orders import reconcile_pending
from coursemall.models import PaymentEvent, Refund
from coursemall.services.commerce import checkout, payments, refunds
from tests.payments.factories import active_grants, make_course, make_user, messages_of, order_row, payments_of
from tests.payments.fakes import wx_sign
from tests.payments.fixtures import WX_APP_ID, WX_KEY, wechat  # noqa: F401


def _order(session, price=990, client="desktop"):
    user = make_user(session)
    order = checkout.buy_now(session, actor_id=user.id, item_type="course",
                             item_id=make_course(session, price_fen=price).id, client_kind=client)
    return user, order


def _notify(session, body: bytes, channel="wechat"):
    return payments.handle_notification(session, channel=channel, body=body, headers={"content-type": "text/xml"})


def _after_backoff(session):
    """A moment when the processing refund is due to be asked about again."""
    from datetime import timedelta

    refund = session.exec(select(Refund).execution_options(populate_existing=True)).one()
    return refund.next_attempt_at + timedelta(seconds=1)


def _ack_code(ack) -> str:
    return xmltodict.parse(ack.body)["xml"]["return_code"]


def test_native_qr_h5_and_jsapi(session, wechat):
    user, order = _order(session)
    qr = checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="wechat")
    assert qr.kind == "qr" and qr.url.startswith("weixin://")
    assert base64.b64decode(qr.qr_png.split(",", 1)[1]).startswith(b"\x89PNG")
    h5 = checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="wechat",
                                client_kind="mobile")
    assert h5.kind == "redirect" and h5.url.endswith(
        "redirect_url=" + quote(f"http://localhost:3000/api/pay/return/wechat?out_trade_no={order.out_trade_no}", safe=""))
    with pytest.raises(DomainError, match="pay.openid_required"):
        checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="wechat",
                               client_kind="wechat")
    js = checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="wechat",
                                client_kind="wechat", openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")
    assert js.kind == "jsapi" and js.params["appId"] == WX_APP_ID and js.params["package"].startswith("prepay_id=")
    unsigned = {k: v for k, v in js.params.items() if k != "paySign"}
    assert js.params["paySign"] == wx_sign(unsigned, WX_KEY)
    trade_types = [c[1]["trade_type"] for c in wechat.fake.calls if c[0] == "pay/unifiedorder"]
    assert trade_types == ["NATIVE", "MWEB", "JSAPI"]
    assert all(c[1]["total_fee"] == "990" for c in wechat.fake.calls)
    assert wechat.fake.bad_signatures == 0


def test_notification_fulfils_once_and_acks_xml(session, wechat):
    user, order = _order(session)
    checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="wechat")
    body = wechat.fake.notification_body(wechat.fake.buyer_pays(order.out_trade_no))
    acks = [_notify(session, body) for _ in range(3)]
    assert [(a.status_code, _ack_code(a)) for a in acks] == [(200, "SUCCESS")] * 3
    assert order_row(session, order.out_trade_no).status == "paid"
    assert len(payments_of(session, order.out_trade_no)) == 1 and len(active_grants(session, user.id)) == 1


@pytest.mark.parametrize("forgery", ["wrong_key", "tampered", "wrong_appid", "wrong_mch", "wrong_fee", "not_xml",
                                     "unknown_order"])
def test_forged_notifications_are_refused(session, wechat, forgery):
    user, order = _order(session)
    checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="wechat")
    fields = wechat.fake.buyer_pays(order.out_trade_no)
    if forgery == "wrong_key":
        body = wechat.fake.notification_body(fields, api_key="x" * 32)
    elif forgery == "tampered":
        body = wechat.fake.notification_body(fields).replace(b"<total_fee><![CDATA[990]]>", b"<total_fee><![CDATA[1]]>")
    elif forgery == "wrong_appid":
        body = wechat.fake.notification_body({**fields, "appid": "wx0000000000000000"})
    elif forgery == "wrong_mch":
        body = wechat.fake.notification_body({**fields, "mch_id": "1111111111"})
    elif forgery == "wrong_fee":
        body = wechat.fake.notification_body({**fields, "total_fee": "1", "cash_fee": "1"})
    elif forgery == "unknown_order":
        body = wechat.fake.notification_body({**fields, "out_trade_no": "CM20261124AAAAAAAAAAAAAAAA"})
    else:
        body = b"<xml><a>unterminated"
    ack = _notify(session, body)
    assert ack.status_code == 400 and _ack_code(ack) == "FAIL"
    assert order_row(session, order.out_trade_no).status == "pending"
    assert payments_of(session, order.out_trade_no) == [] and active_grants(session, user.id) == []
    assert session.exec(select(PaymentEvent)).one().outcome.startswith("rejected:")


def test_reconcile_job_finds_lost_notification(session, wechat):
    user, order = _order(session)
    checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="wechat")
    wechat.fake.buyer_pays(order.out_trade_no)
    assert reconcile_pending(session, min_age_seconds=0)["paid"] == 1
    assert reconcile_pending(session, min_age_seconds=0)["paid"] == 0  # nothing pending any more
    assert order_row(session, order.out_trade_no).status == "paid"
    assert len(messages_of(session, user.id, "payment_succeeded")) == 1


def test_cancel_closes_at_gateway(session, wechat):
    user, order = _order(session)
    checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="wechat")
    checkout.cancel_order(session, actor_id=user.id, order_no=order.out_trade_no)
    assert wechat.fake.orders[order.out_trade_no]["state"] == "CLOSED"


def test_async_refund_completes_once_from_notification(session, wechat):
    user, order = _order(session, price=3000)
    checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="wechat")
    _notify(session, wechat.fake.notification_body(wechat.fake.buyer_pays(order.out_trade_no)))
    view = refunds.request_refund(session, actor_id=user.id, order_no=order.out_trade_no, reason="退款")
    assert view.status == "processing" and order_row(session, order.out_trade_no).status == "refunding"
    assert len(active_grants(session, user.id)) == 1  # not revoked before the money moved
    call = next(c[1] for c in wechat.fake.calls if c[0] == "secapi/pay/refund")
    assert (call["out_refund_no"], call["refund_fee"], call["total_fee"]) == (view.out_refund_no, "3000", "3000")
    notice = wechat.fake.settle_refund(view.out_refund_no)
    for _ in range(2):
        assert _ack_code(_notify(session, notice, channel="wechat-refund")) == "SUCCESS"
    assert order_row(session, order.out_trade_no).status == "refunded"
    assert active_grants(session, user.id) == []
    assert len(messages_of(session, user.id, "refund_result")) == 1
    outcomes = [e.outcome for e in session.exec(select(PaymentEvent).where(PaymentEvent.kind == "refund_notify"))]
    assert outcomes == ["applied", "duplicate"]


def test_forged_refund_notification_is_refused(session, wechat):
    user, order = _order(session, price=3000)
    checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="wechat")
    _notify(session, wechat.fake.notification_body(wechat.fake.buyer_pays(order.out_trade_no)))
    view = refunds.request_refund(session, actor_id=user.id, order_no=order.out_trade_no, reason="退款")
    real_key = wechat.fake.api_key
    wechat.fake.api_key = "y" * 32  # encrypted with a key the shop does not have
    forged = wechat.fake.settle_refund(view.out_refund_no)
    wechat.fake.api_key = real_key
    ack = _notify(session, forged, channel="wechat-refund")
    assert _ack_code(ack) == "FAIL"
    assert session.exec(select(Refund)).one().status == "processing"
    assert len(active_grants(session, user.id)) == 1


def test_refund_query_job_completes_refund(session, wechat):
    user, order = _order(session, price=3000)
    checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="wechat")
    _notify(session, wechat.fake.notification_body(wechat.fake.buyer_pays(order.out_trade_no)))
    view = refunds.request_refund(session, actor_id=user.id, order_no=order.out_trade_no, reason="退款")
    wechat.fake.settle_refund(view.out_refund_no)  # notification lost
    reconcile_pending(session, min_age_seconds=0)  # asked again only after the back-off
    assert order_row(session, order.out_trade_no).status == "refunding"
    reconcile_pending(session, _after_backoff(session), min_age_seconds=0)
    assert order_row(session, order.out_trade_no).status == "refunded"
    assert len([c for c in wechat.fake.calls if c[0] == "secapi/pay/refund"]) == 1


def test_switching_channel_closes_the_previous_trade(session, wechat):
    user, order = _order(session)
    checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="wechat")
    checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="sandbox")
    assert wechat.fake.orders[order.out_trade_no]["state"] == "CLOSED"
    assert order_row(session, order.out_trade_no).channel == "sandbox"


def test_refund_lost_before_reaching_gateway_is_sent_again_by_the_job(session, wechat):
    user, order = _order(session, price=3000)
    checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="wechat")
    _notify(session, wechat.fake.notification_body(wechat.fake.buyer_pays(order.out_trade_no)))
    good = wechat.channel._client.API_BASE_URL
    wechat.channel._client.API_BASE_URL = "http://127.0.0.1:9/"  # gateway unreachable
    view = refunds.request_refund(session, actor_id=user.id, order_no=order.out_trade_no, reason="断网")
    assert view.status == "processing" and wechat.fake.refunds == {}
    wechat.channel._client.API_BASE_URL = good
    # REFUNDNOTEXIST → refund sent again, same number
    reconcile_pending(session, _after_backoff(session), min_age_seconds=0)
    assert list(wechat.fake.refunds) == [view.out_refund_no]
    assert session.exec(select(Refund)).one().status == "processing"
    wechat.fake.settle_refund(view.out_refund_no)
    reconcile_pending(session, _after_backoff(session), min_age_seconds=0)
    assert order_row(session, order.out_trade_no).status == "refunded"


def test_unified_order_carries_the_shops_expiry_in_china_time(session, wechat):
    from datetime import timedelta, timezone

    from coursemall.settings import get_settings

    user, order = _order(session)
    checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="wechat")
    row = order_row(session, order.out_trade_no)
    assert row.expires_at - row.created_at == timedelta(minutes=get_settings().order_ttl_minutes)
    (call,) = [c[1] for c in wechat.fake.calls if c[0] == "pay/unifiedorder"]  # signed: checked by the fake
    china = row.expires_at.astimezone(timezone(timedelta(hours=8)))
    assert call["time_expire"] == china.strftime("%Y%m%d%H%M%S")
    assert wechat.fake.bad_signatures == 0

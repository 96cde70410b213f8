"""Sandbox channel: HMAC-signed notifications through the same pipeline; settings for channels."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from coursemall.domain.errors import DomainError
from coursemall.models import PaymentEvent
from coursemall.payments import registry
from coursemall.payments.sandbox import SandboxChannel
from coursemall.services.commerce import checkout, payments
from coursemall.settings import SettingsError, load_settings
from tests.payments.factories import active_grants, make_course, make_user, order_row


def _order(session):
    """A pending order the learner started paying in the sandbox (bound to it)."""
    user = make_user(session)
    order = checkout.buy_now(session, actor_id=user.id, item_type="course", item_id=make_course(session).id)
    checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="sandbox")
    return user, order


def test_signed_sandbox_notification_pays(session):
    user, order = _order(session)
    channel = registry.get_channel("sandbox")
    body, headers = channel.build_notification(out_trade_no=order.out_trade_no, outcome="pay",
                                               amount_fen=order.total_fen, txn_id="SB1")
    ack = payments.handle_notification(session, channel="sandbox", body=body, headers=headers)
    assert (ack.status_code, ack.body) == (200, "ok")
    assert order_row(session, order.out_trade_no).status == "paid" and len(active_grants(session, user.id)) == 1


@pytest.mark.parametrize("forgery", ["other_secret", "tampered", "no_header", "not_json"])
def test_forged_sandbox_notification_is_400(session, forgery):
    user, order = _order(session)
    real = registry.get_channel("sandbox")
    body, headers = real.build_notification(out_trade_no=order.out_trade_no, outcome="pay",
                                            amount_fen=order.total_fen, txn_id="SB1")
    if forgery == "other_secret":
        body, headers = SandboxChannel("another-shop-secret-" + "y" * 32).build_notification(
            out_trade_no=order.out_trade_no, outcome="pay", amount_fen=order.total_fen, txn_id="SB1")
    elif forgery == "tampered":
        data = json.loads(body)
        data["amount_fen"] = 1
        body = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    elif forgery == "no_header":
        headers = {}
    else:
        body = b"not json"
        headers = {"x-sandbox-signature": real.sign(body)}
    ack = payments.handle_notification(session, channel="sandbox", body=body, headers=headers)
    assert ack.status_code == 400
    assert order_row(session, order.out_trade_no).status == "pending" and active_grants(session, user.id) == []
    event = session.exec(select(PaymentEvent)).one()
    assert event.verified is False and event.outcome.startswith("rejected:")


def test_sandbox_decide_validates_input_and_owner(session):
    user, order = _order(session)
    for bad in ("x", None, 5, "CM" + "A" * 40):
        with pytest.raises(DomainError, match="error.bad_request"):
            payments.sandbox_decide(session, actor_id=user.id, order_no=bad, outcome="pay")
    with pytest.raises(DomainError, match="error.bad_request"):
        payments.sandbox_decide(session, actor_id=user.id, order_no=order.out_trade_no, outcome="steal")
    with pytest.raises(DomainError, match="order.not_found"):
        payments.sandbox_decide(session, actor_id=user.id, order_no="CM20261124ABCDEFABCDEFABCD", outcome="pay")
    mallory = make_user(session)
    with pytest.raises(DomainError, match="order.not_found"):  # cannot close or pay another learner's order
        payments.sandbox_decide(session, actor_id=mallory.id, order_no=order.out_trade_no, outcome="close")
    assert order_row(session, order.out_trade_no).status == "pending"


def test_payment_settings_fail_fast(tmp_path):
    base = {"COURSEMALL_DATA_DIR": str(tmp_path)}
    assert load_settings(base).pay_channels == ()  # a production shop: none until configured
    demo = {**base, "COURSEMALL_DEMO": "1"}
    assert load_settings(demo).pay_channels == ("sandbox", "manual")
    assert load_settings({**demo, "COURSEMALL_SANDBOX_PAY": "0"}).pay_channels == ("manual",)
    with pytest.raises(SettingsError, match="unknown channels"):
        load_settings({**base, "COURSEMALL_PAY_CHANNELS": "sandbox,paypal"})
    with pytest.raises(SettingsError, match="COURSEMALL_ALIPAY_APP_ID"):
        load_settings({**base, "COURSEMALL_PAY_CHANNELS": "alipay"})
    with pytest.raises(SettingsError, match="COURSEMALL_WECHAT_APP_ID"):
        load_settings({**base, "COURSEMALL_PAY_CHANNELS": "wechat"})
    with pytest.raises(SettingsError, match="missing file"):
        load_settings({**base, "COURSEMALL_PAY_CHANNELS": "alipay", "COURSEMALL_ALIPAY_APP_ID": "1",
                       "COURSEMALL_ALIPAY_PRIVATE_KEY_PATH": "/nope", "COURSEMALL_ALIPAY_PUBLIC_KEY_PATH": "/nope"})
    with pytest.raises(SettingsError, match="ORDER_TTL"):
        load_settings({**base, "COURSEMALL_ORDER_TTL_MINUTES": "0"})


def test_configs_never_print_secrets():
    from coursemall.payments.alipay import AlipayConfig
    from coursemall.payments.wechat import WeChatConfig

    a = AlipayConfig(app_id="1", app_private_key_pem="PRIVATE-KEY-PEM", alipay_public_key_pem="PUB", gateway="g",
                     notify_url="n", return_url="r")
    w = WeChatConfig(app_id="wx", mch_id="1", api_key="SECRET-API-KEY", api_base="b", notify_url="n",
                     refund_notify_url="r", return_url="r")
    assert "PRIVATE-KEY-PEM" not in repr(a) and "SECRET-API-KEY" not in repr(w)

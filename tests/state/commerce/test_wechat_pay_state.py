"""OrderState.pay with WeChat Pay in each browser, called directly as the browser would:
inside WeChat without an openid → a full navigation to the OAuth start route; with one → a
constant WeixinJSBridge script carrying the signed params as JSON; back from OAuth
(`?wxpay=1`) → the JSAPI payment continues once; a phone browser → H5 with the payer's real IP;
desktop → Native QR. The openid never reaches the browser and is never taken from the payload.
"""

from __future__ import annotations

import json
import re

import pytest
import reflex as rx
from sqlmodel import Session
from wechatpy.pay.utils import calculate_signature

import coursemall.pages  # noqa: F401  (registers every state)
from coursemall.models import User
from coursemall.payments import registry
from coursemall.services.commerce import checkout as checkout_service
from coursemall.settings import get_settings
from coursemall.state.commerce.shop import OrderState
from tests.payments.fixtures import WX_APP_ID, WX_KEY, wechat  # noqa: F401
from tests.state.commerce.helpers import EXPECTED, new_order, status_of
from tests.state.helpers import call, tab_state

BASE = "https://shop.example.com"
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
WECHAT_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
             "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN")
PHONE_UA = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36"
DESKTOP_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
_JSAPI = re.compile(r"^\(function\(params,back\)\{.*WeixinJSBridge\.invoke\('getBrandWCPayRequest',params,"
                    r".*\}\)\((\{.*\}),(\"[^\"]*\")\)$", re.S)


@pytest.fixture
def wx_settings(monkeypatch):
    for name, value in (("COURSEMALL_WECHAT_APP_ID", WX_APP_ID), ("COURSEMALL_WECHAT_APP_SECRET", "s" * 32),
                        ("COURSEMALL_PUBLIC_BASE_URL", BASE)):
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    registry.reset()
    yield
    get_settings.cache_clear()
    registry.reset()


def order_state(shop, order_no: str, *, ua: str, ip: str = "203.0.113.9", query: str = "", who: str = "alice"):
    params = {"order_no": order_no, **({"wxpay": "1"} if "wxpay=1" in query else {})}
    return tab_state(OrderState, cookie=shop["cookie"][shop[who]], ua=ua, ip=ip, route="/order/[order_no]",
                     path=f"/order/{order_no}{query}", params=params)


def script_of(result) -> str:
    assert isinstance(result, rx.event.EventSpec), result
    args = {k._js_expr: v for k, v in result.args}
    return args["javascript_code"]._var_value


def bind_openid(engine, user_id: int, openid: str = OPENID) -> None:
    with Session(engine) as s:
        user = s.get(User, user_id)
        user.wechat_openid = openid
        s.add(user)
        s.commit()


def unified_orders(wechat):  # noqa: F811
    return [c[1] for c in wechat.fake.calls if c[0] == "pay/unifiedorder"]


def assert_no_openid_in_vars(st) -> None:
    assert OPENID not in json.dumps(st.dict(), default=str)


def test_order_state_handlers_are_unchanged():
    assert set(OrderState.event_handlers) - {"setvar"} == EXPECTED[OrderState]


async def test_wechat_browser_without_openid_goes_to_oauth(engine, shop, wechat, wx_settings):  # noqa: F811
    order_no = new_order(engine, shop)
    st = order_state(shop, order_no, ua=WECHAT_UA)
    await call(st, "load_order")
    assert st.default_channel == "wechat"  # inside WeChat its own pay is preselected
    # a payload openid is ignored: the openid only ever comes from the server-side binding
    result = await call(st, "pay", {"channel": "wechat", "openid": "attacker-openid"})
    assert script_of(result) == f'window.location.assign("{BASE}/api/wechat/oauth/start?order={order_no}")'
    assert st.error == "" and st.pay_kind == "redirect"
    assert unified_orders(wechat) == [] and status_of(engine, order_no) == "pending"


async def test_wechat_browser_with_openid_calls_weixinjsbridge(engine, shop, wechat, wx_settings):  # noqa: F811
    order_no = new_order(engine, shop)
    bind_openid(engine, shop["alice"])
    st = order_state(shop, order_no, ua=WECHAT_UA)
    await call(st, "load_order")
    script = script_of(await call(st, "pay", {"channel": "wechat"}))
    match = _JSAPI.match(script)
    assert match, script
    params, back = json.loads(match.group(1)), json.loads(match.group(2))
    assert back == f"/order/{order_no}"
    assert set(params) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert params["appId"] == WX_APP_ID and params["package"].startswith("prepay_id=")
    assert params["paySign"] == calculate_signature({k: v for k, v in params.items() if k != "paySign"}, WX_KEY)
    sent = unified_orders(wechat)[-1]
    assert (sent["trade_type"], sent["openid"], sent["spbill_create_ip"]) == ("JSAPI", OPENID, "203.0.113.9")
    assert st.error == "" and st.pay_kind == "redirect"
    assert_no_openid_in_vars(st)


async def test_return_from_oauth_continues_once(engine, shop, wechat, wx_settings):  # noqa: F811
    order_no = new_order(engine, shop)
    bind_openid(engine, shop["alice"])
    st = order_state(shop, order_no, ua=WECHAT_UA, query="?wxpay=1")
    result = await call(st, "load_order")
    assert _JSAPI.match(script_of(result))
    assert len(unified_orders(wechat)) == 1
    assert await call(st, "load_order") is None  # reloading the same URL does not pay again
    assert len(unified_orders(wechat)) == 1
    assert_no_openid_in_vars(st)


async def test_return_from_oauth_without_openid_does_not_loop(engine, shop, wechat, wx_settings):  # noqa: F811
    order_no = new_order(engine, shop)
    st = order_state(shop, order_no, ua=WECHAT_UA, query="?wxpay=1")
    assert await call(st, "load_order") is None
    assert st.error == "请先授权微信登录后再支付" and unified_orders(wechat) == []


async def test_wxpay_flag_outside_wechat_is_ignored(engine, shop, wechat, wx_settings):  # noqa: F811
    order_no = new_order(engine, shop)
    bind_openid(engine, shop["alice"])
    st = order_state(shop, order_no, ua=PHONE_UA, query="?wxpay=1")
    assert await call(st, "load_order") is None and unified_orders(wechat) == []


async def test_wechat_browser_without_app_secret_is_a_clear_error(engine, shop, wechat, monkeypatch):  # noqa: F811
    monkeypatch.setenv("COURSEMALL_WECHAT_APP_SECRET", "")
    get_settings.cache_clear()
    try:
        order_no = new_order(engine, shop)
        st = order_state(shop, order_no, ua=WECHAT_UA)
        assert await call(st, "pay", {"channel": "wechat"}) is None
        assert st.error == "微信内支付暂未开通，请在手机浏览器中打开本页支付" and unified_orders(wechat) == []
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize("raw,passed", [("203.0.113.9", "203.0.113.9"), ("2001:db8::1", "2001:db8::1"),
                                        ("::ffff:198.51.100.4", "198.51.100.4"), ("not-an-ip", ""),
                                        ("", ""), ("1" * 100, "")])
async def test_h5_passes_the_real_client_ip(engine, shop, wechat, wx_settings, monkeypatch, raw, passed):  # noqa: F811
    seen: list[dict] = []
    real = checkout_service.start_payment

    def spy(session, **kwargs):
        seen.append(kwargs)
        return real(session, **kwargs)

    monkeypatch.setattr(checkout_service, "start_payment", spy)
    order_no = new_order(engine, shop)
    st = order_state(shop, order_no, ua=PHONE_UA, ip=raw)
    result = await call(st, "pay", {"channel": "wechat"})
    assert "wx.tenpay.com" in str(result) and st.error == ""
    assert seen[-1]["client_ip"] == passed and seen[-1]["client_kind"] == "mobile"
    assert seen[-1]["openid"] == ""
    sent = unified_orders(wechat)[-1]
    assert sent["trade_type"] == "MWEB" and sent["spbill_create_ip"] == (passed or "127.0.0.1")


async def test_desktop_gets_native_qr(engine, shop, wechat, wx_settings):  # noqa: F811
    order_no = new_order(engine, shop)
    bind_openid(engine, shop["alice"])  # an openid changes nothing outside WeChat
    st = order_state(shop, order_no, ua=DESKTOP_UA)
    assert await call(st, "pay", {"channel": "wechat"}) is None
    assert st.pay_kind == "qr" and st.pay_qr.startswith("data:image/png;base64,")
    assert unified_orders(wechat)[-1]["trade_type"] == "NATIVE"

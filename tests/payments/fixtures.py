"""Fixtures wiring the real channel adapters to the loopback fake gateways.

Import them into a test module (`from tests.payments.fixtures import alipay, wechat  # noqa: F401`).
"""

from __future__ import annotations

import pytest

from coursemall.payments import registry
from coursemall.payments.alipay import AlipayChannel, AlipayConfig
from coursemall.payments.wechat import WeChatChannel, WeChatConfig
from tests.payments.factories import rsa_pair
from tests.payments.fakes import FakeAlipay, FakeWeChat, self_signed_cert

APP_ID = "2021000000000000"
SELLER_ID = "2088000000000001"
WX_APP_ID = "wx1234567890abcdef"
WX_MCH_ID = "1900000109"
WX_KEY = "k" * 16 + "0123456789abcdef"

_KEYS: dict[str, tuple[str, str]] = {}


def keys(name: str) -> tuple[str, str]:
    """RSA pairs are slow to make; one per role per test run."""
    if name not in _KEYS:
        _KEYS[name] = rsa_pair()
    return _KEYS[name]


class AlipayKit:
    def __init__(self, fake: FakeAlipay, channel: AlipayChannel, alipay_private: str):
        self.fake, self.channel, self.alipay_private = fake, channel, alipay_private


@pytest.fixture
def alipay():
    app_private, app_public = keys("app")
    ali_private, ali_public = keys("alipay")
    fake = FakeAlipay(app_id=APP_ID, app_public_pem=app_public, alipay_private_pem=ali_private, seller_id=SELLER_ID)
    channel = AlipayChannel(AlipayConfig(app_id=APP_ID, app_private_key_pem=app_private, alipay_public_key_pem=ali_public,
                                         gateway=fake.url, notify_url="http://localhost:3000/api/pay/notify/alipay",
                                         return_url="http://localhost:3000/api/pay/return/alipay",
                                         seller_id=SELLER_ID, timeout=5))
    with registry.override(alipay=channel):
        yield AlipayKit(fake, channel, ali_private)
    fake.stop()


class WeChatKit:
    def __init__(self, fake: FakeWeChat, channel: WeChatChannel):
        self.fake, self.channel = fake, channel


@pytest.fixture
def wechat(tmp_path):
    fake = FakeWeChat(app_id=WX_APP_ID, mch_id=WX_MCH_ID, api_key=WX_KEY)
    cert, key = self_signed_cert(tmp_path)
    channel = WeChatChannel(WeChatConfig(app_id=WX_APP_ID, mch_id=WX_MCH_ID, api_key=WX_KEY, api_base=fake.url,
                                         notify_url="http://localhost:3000/api/pay/notify/wechat",
                                         refund_notify_url="http://localhost:3000/api/pay/notify/wechat-refund",
                                         return_url="http://localhost:3000/api/pay/return/wechat",
                                         site_url="http://localhost:3000", cert_path=cert, key_path=key, timeout=5))
    with registry.override(wechat=channel):
        yield WeChatKit(fake, channel)
    fake.stop()

"""Which channels exist, built from settings once; tests swap in their own with `override`.

Channel names: sandbox, alipay, wechat, manual (COURSEMALL_PAY_CHANNELS). Free orders need none.
Notify/return URLs come from COURSEMALL_PUBLIC_BASE_URL, never from request headers.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from coursemall.domain.errors import DomainError
from coursemall.payments.base import PaymentChannel
from coursemall.settings import Settings, get_settings

NOTIFY_PATH = "/api/pay/notify/{channel}"
RETURN_PATH = "/api/pay/return/{channel}"

_lock = threading.Lock()
_built: dict[str, PaymentChannel] = {}
_overrides: dict[str, PaymentChannel] = {}


def notify_url(settings: Settings, channel: str) -> str:
    return settings.public_base_url + NOTIFY_PATH.format(channel=channel)


def return_url(settings: Settings, channel: str) -> str:
    return settings.public_base_url + RETURN_PATH.format(channel=channel)


def build_channel(name: str, settings: Settings) -> PaymentChannel:
    if name == "sandbox":
        from coursemall.payments.sandbox import SandboxChannel

        return SandboxChannel(settings.secret_key, settings.public_base_url)
    if name == "alipay":
        from coursemall.payments.alipay import AlipayChannel, AlipayConfig

        return AlipayChannel(AlipayConfig(
            app_id=settings.alipay_app_id,
            app_private_key_pem=Path(settings.alipay_private_key_path).read_text(),
            alipay_public_key_pem=Path(settings.alipay_public_key_path).read_text(),
            gateway=settings.alipay_gateway, seller_id=settings.alipay_seller_id,
            notify_url=notify_url(settings, "alipay"), return_url=return_url(settings, "alipay"),
            timeout=settings.pay_timeout_seconds))
    if name == "wechat":
        from coursemall.payments.wechat import WeChatChannel, WeChatConfig

        return WeChatChannel(WeChatConfig(
            app_id=settings.wechat_app_id, mch_id=settings.wechat_mch_id, api_key=settings.wechat_api_key,
            api_base=settings.wechat_api_base, notify_url=notify_url(settings, "wechat"),
            refund_notify_url=notify_url(settings, "wechat-refund"), return_url=return_url(settings, "wechat"),
            site_url=settings.public_base_url, site_name=settings.shop_name,
            cert_path=settings.wechat_cert_path, key_path=settings.wechat_key_path,
            timeout=settings.pay_timeout_seconds))
    if name == "manual":
        from coursemall.payments.manual import ManualChannel

        return ManualChannel()
    raise DomainError("pay.channel_unavailable")


def enabled_channels(settings: Settings | None = None) -> tuple[str, ...]:
    settings = settings or get_settings()
    names = list(settings.pay_channels)
    for extra in _overrides:
        if extra not in names:
            names.append(extra)
    return tuple(names)


def get_channel(name: str, settings: Settings | None = None) -> PaymentChannel:
    """The channel called `name`; DomainError('pay.channel_unavailable') when not enabled."""
    if name in _overrides:
        return _overrides[name]
    settings = settings or get_settings()
    if name not in settings.pay_channels:
        raise DomainError("pay.channel_unavailable")
    with _lock:
        if name not in _built:
            try:
                _built[name] = build_channel(name, settings)
            except (OSError, ValueError, TypeError) as exc:  # missing/bad key files: clear, no secrets
                raise DomainError("pay.channel_unavailable", detail=type(exc).__name__) from None
        return _built[name]


def get_channel_for_existing(name: str, settings: Settings | None = None) -> PaymentChannel:
    """For notifications, queries and refunds of existing orders: also a channel switched off
    after the order was created (its money still has to be reconciled)."""
    if name in _overrides:
        return _overrides[name]
    settings = settings or get_settings()
    with _lock:
        if name not in _built:
            try:
                _built[name] = build_channel(name, settings)
            except (OSError, ValueError, TypeError) as exc:  # missing/bad key files: clear, no secrets
                raise DomainError("pay.channel_unavailable", detail=type(exc).__name__) from None
        return _built[name]


@contextmanager
def override(**channels: PaymentChannel) -> Iterator[None]:
    """Tests/benchmarks: use these channel objects instead of the ones built from settings."""
    previous = dict(_overrides)
    _overrides.update(channels)
    try:
        yield
    finally:
        _overrides.clear()
        _overrides.update(previous)


def reset() -> None:
    with _lock:
        _built.clear()

"""Which channels exist and how they are configured; tests swap in their own with `override`.

Channel names: sandbox, alipay, wechat, manual. Free orders need none. The owner's dashboard
settings (shop_settings "payment_channels": switches, ids, encrypted keys) take precedence over
the environment (COURSEMALL_PAY_CHANNELS, COURSEMALL_ALIPAY_*, COURSEMALL_WECHAT_*), field by
field; the environment stays the fallback. COURSEMALL_SANDBOX_PAY=0 keeps the sandbox off whatever
the database says. Built channels are cached per configuration fingerprint, so a saved key applies
on the next call in every worker.
Notify/return URLs come from COURSEMALL_PUBLIC_BASE_URL, never from request headers.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlmodel import Session

from coursemall.db import session_scope
from coursemall.domain.errors import DomainError
from coursemall.payments.base import PaymentChannel
from coursemall.services.shop import shop_settings
from coursemall.services.shop.shop_settings import StoredPaymentConfig
from coursemall.settings import Settings, get_settings

log = logging.getLogger("coursemall.pay.registry")

NOTIFY_PATH = "/api/pay/notify/{channel}"
RETURN_PATH = "/api/pay/return/{channel}"

_lock = threading.Lock()
_built: dict[str, tuple[str, PaymentChannel]] = {}  # name -> (config fingerprint, channel)
_overrides: dict[str, PaymentChannel] = {}


def notify_url(settings: Settings, channel: str) -> str:
    return settings.public_base_url + NOTIFY_PATH.format(channel=channel)


def return_url(settings: Settings, channel: str) -> str:
    return settings.public_base_url + RETURN_PATH.format(channel=channel)


@dataclass(frozen=True)
class ChannelConfig:
    """Everything needed to build the channels: the owner's dashboard settings over the
    environment's (field by field; the environment stays the fallback). Holds decrypted secrets:
    never log it or put it in a view."""

    enabled: tuple[str, ...]
    alipay_app_id: str = ""
    alipay_seller_id: str = ""
    alipay_private_key_pem: str = ""  # '' = read COURSEMALL_ALIPAY_PRIVATE_KEY_PATH
    alipay_public_key_pem: str = ""
    wechat_app_id: str = ""
    wechat_mch_id: str = ""
    wechat_api_key: str = ""
    wechat_app_secret: str = ""  # for OAuth (openid) in the WeChat browser, not for the pay channel
    wechat_cert_pem: str = ""  # '' = COURSEMALL_WECHAT_CERT_PATH / _KEY_PATH
    wechat_key_pem: str = ""

    def __repr__(self) -> str:
        return f"ChannelConfig(enabled={self.enabled!r})"


def _stored_config(session: Session | None) -> StoredPaymentConfig | None:
    """The dashboard's payment settings; None when the database has none to offer (no table yet,
    e.g. before the first migration): the environment alone then decides."""
    try:
        if session is not None:
            return shop_settings.stored_payment_config(session)
        with session_scope() as s:
            return shop_settings.stored_payment_config(s)
    except (OperationalError, ProgrammingError) as exc:
        log.warning("payment settings unreadable, using the environment's (%s)", type(exc).__name__)
        return None
    except ValueError:  # a secret encrypted under another COURSEMALL_SECRET_KEY
        log.error("stored payment secrets do not match COURSEMALL_SECRET_KEY; using the environment's")
        return None


def channel_config(settings: Settings | None = None, session: Session | None = None) -> ChannelConfig:
    settings = settings or get_settings()
    stored = _stored_config(session)
    if stored is None:
        return ChannelConfig(enabled=tuple(settings.pay_channels))
    enabled = stored.enabled if stored.enabled is not None else tuple(settings.pay_channels)
    if not settings.sandbox_pay:  # production switch: the sandbox can never be turned on from the DB
        enabled = tuple(c for c in enabled if c != "sandbox")
    ali, wx = stored.alipay, stored.wechat
    return ChannelConfig(
        enabled=tuple(enabled), alipay_app_id=ali.get("app_id", ""), alipay_seller_id=ali.get("seller_id", ""),
        alipay_private_key_pem=ali.get("private_key", ""), alipay_public_key_pem=ali.get("public_key", ""),
        wechat_app_id=wx.get("app_id", ""), wechat_mch_id=wx.get("mch_id", ""), wechat_api_key=wx.get("api_key", ""),
        wechat_app_secret=wx.get("app_secret", ""), wechat_cert_pem=wx.get("cert_pem", ""),
        wechat_key_pem=wx.get("key_pem", ""))


def wechat_oauth_credentials(settings: Settings | None = None, session: Session | None = None) -> tuple[str, str]:
    """(appid, AppSecret) for WeChat OAuth: the dashboard's values over the environment's."""
    settings = settings or get_settings()
    config = channel_config(settings, session)
    return (config.wechat_app_id or settings.wechat_app_id,
            config.wechat_app_secret or settings.wechat_app_secret)


def _private_pem_file(settings: Settings, kind: str, pem: str) -> str:
    """requests needs file paths for the TLS client certificate: the decrypted PEM goes to a
    0600 file under DATA_DIR/keys named by its hash (a changed key gets a new file)."""
    folder = settings.data_dir / "keys"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"wechat-{kind}-{hashlib.sha256(pem.encode()).hexdigest()[:16]}.pem"
    if not path.exists():
        fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(pem)
        os.replace(path.with_suffix(".tmp"), path)
    return str(path)


def build_channel(name: str, settings: Settings, config: ChannelConfig | None = None) -> PaymentChannel:
    config = config or ChannelConfig(enabled=tuple(settings.pay_channels))
    if name == "sandbox":
        from coursemall.payments.sandbox import SandboxChannel

        return SandboxChannel(settings.secret_key, settings.public_base_url)
    if name == "alipay":
        from coursemall.payments.alipay import AlipayChannel, AlipayConfig

        return AlipayChannel(AlipayConfig(
            app_id=config.alipay_app_id or settings.alipay_app_id,
            app_private_key_pem=config.alipay_private_key_pem or Path(settings.alipay_private_key_path).read_text(),
            alipay_public_key_pem=config.alipay_public_key_pem or Path(settings.alipay_public_key_path).read_text(),
            gateway=settings.alipay_gateway, seller_id=config.alipay_seller_id or settings.alipay_seller_id,
            notify_url=notify_url(settings, "alipay"), return_url=return_url(settings, "alipay"),
            timeout=settings.pay_timeout_seconds))
    if name == "wechat":
        from coursemall.payments.wechat import WeChatChannel, WeChatConfig

        cert_path, key_path = settings.wechat_cert_path, settings.wechat_key_path
        if config.wechat_cert_pem and config.wechat_key_pem:
            cert_path = _private_pem_file(settings, "cert", config.wechat_cert_pem)
            key_path = _private_pem_file(settings, "key", config.wechat_key_pem)
        return WeChatChannel(WeChatConfig(
            app_id=config.wechat_app_id or settings.wechat_app_id,
            mch_id=config.wechat_mch_id or settings.wechat_mch_id,
            api_key=config.wechat_api_key or settings.wechat_api_key,
            api_base=settings.wechat_api_base, notify_url=notify_url(settings, "wechat"),
            refund_notify_url=notify_url(settings, "wechat-refund"), return_url=return_url(settings, "wechat"),
            site_url=settings.public_base_url, site_name=settings.shop_name,
            cert_path=cert_path, key_path=key_path, timeout=settings.pay_timeout_seconds))
    if name == "manual":
        from coursemall.payments.manual import ManualChannel

        return ManualChannel()
    raise DomainError("pay.channel_unavailable")


def enabled_channels(settings: Settings | None = None, session: Session | None = None) -> tuple[str, ...]:
    names = list(channel_config(settings, session).enabled)
    for extra in _overrides:
        if extra not in names:
            names.append(extra)
    return tuple(names)


def _fingerprint(name: str, config: ChannelConfig) -> str:
    """Changes when anything the channel is built from changes (so a saved key applies at once,
    in every worker, without a restart)."""
    fields = {k: v for k, v in config.__dict__.items()
              if k.startswith(name) and k != "wechat_app_secret"}
    return hashlib.sha256(repr(sorted(fields.items())).encode()).hexdigest()


def _built_channel(name: str, settings: Settings, config: ChannelConfig) -> PaymentChannel:
    key = _fingerprint(name, config)
    with _lock:
        cached = _built.get(name)
        if cached is None or cached[0] != key:
            try:
                _built[name] = (key, build_channel(name, settings, config))
            except (OSError, ValueError, TypeError) as exc:  # missing/bad keys: clear, no secrets
                raise DomainError("pay.channel_unavailable", detail=type(exc).__name__) from None
        return _built[name][1]


def get_channel(name: str, settings: Settings | None = None, session: Session | None = None) -> PaymentChannel:
    """The channel called `name`; DomainError('pay.channel_unavailable') when not enabled."""
    if name in _overrides:
        return _overrides[name]
    settings = settings or get_settings()
    config = channel_config(settings, session)
    if name not in config.enabled:
        raise DomainError("pay.channel_unavailable")
    return _built_channel(name, settings, config)


def get_channel_for_existing(name: str, settings: Settings | None = None,
                             session: Session | None = None) -> PaymentChannel:
    """For notifications, queries and refunds of existing orders: also a real channel switched
    off after the order was created (its money still has to be reconciled). Never the sandbox
    while it is off: no money moved there, and a switched-off sandbox must not answer at all
    (DomainError('pay.channel_unavailable'), which the notify route turns into a 404)."""
    if name in _overrides:
        return _overrides[name]
    settings = settings or get_settings()
    config = channel_config(settings, session)
    if name == "sandbox" and name not in config.enabled:
        raise DomainError("pay.channel_unavailable")
    return _built_channel(name, settings, config)


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

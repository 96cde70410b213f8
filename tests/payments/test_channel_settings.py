"""The payment registry builds channels from the owner's dashboard settings (decrypted) over the
environment's, field by field; secrets are ciphertext in the database; a saved change applies on
the next call without a restart; COURSEMALL_SANDBOX_PAY=0 wins over the database."""

from __future__ import annotations

import json
import os
import stat

import pytest
from sqlalchemy import text
from sqlmodel import Session

import coursemall.db
from coursemall.domain.errors import DomainError
from coursemall.payments import registry
from coursemall.payments.alipay import AlipayChannel
from coursemall.payments.base import OrderRef
from coursemall.payments.wechat import WeChatChannel
from coursemall.services.shop import shop_settings as svc
from coursemall.settings import get_settings
from tests.payments.factories import make_user
from tests.payments.fakes import rsa_verify, self_signed_cert
from tests.payments.fixtures import keys


@pytest.fixture
def db(db_engine, monkeypatch, tmp_path):
    """The registry reads this database; settings with a private data dir."""
    monkeypatch.setattr(coursemall.db, "get_engine", lambda: db_engine)
    monkeypatch.setenv("COURSEMALL_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    registry.reset()
    with Session(db_engine, expire_on_commit=False) as s:
        owner = make_user(s, role="owner").id
    yield db_engine, owner
    registry.reset()
    get_settings.cache_clear()


def save(engine, owner, **kwargs):
    with Session(engine, expire_on_commit=False) as s:
        kwargs.setdefault("alipay", {})
        kwargs.setdefault("wechat", {})
        return svc.update_payment_channels(s, actor_id=owner, **kwargs)


def raw_setting(engine) -> str:
    with engine.connect() as conn:
        value = conn.execute(text("SELECT value FROM shop_settings WHERE key = 'payment_channels'")).scalar_one()
    return value if isinstance(value, str) else json.dumps(value)


def order_ref() -> OrderRef:
    return OrderRef(out_trade_no="CM20260101000000001", total_fen=990, subject="课程", client_kind="desktop")


def test_no_dashboard_settings_means_the_environment(db):
    assert registry.enabled_channels() == tuple(get_settings().pay_channels)
    with pytest.raises(DomainError, match="pay.channel_unavailable"):
        registry.get_channel("alipay")


def test_registry_uses_decrypted_alipay_keys_from_the_database(db):
    engine, owner = db
    app_private, app_public = keys("app")
    _, alipay_public = keys("alipay")
    save(engine, owner, enabled=["sandbox", "alipay"],
         alipay={"app_id": "2021000000000077", "seller_id": "2088000000000077", "private_key": app_private,
                 "public_key": alipay_public})
    raw = raw_setting(engine)
    assert app_private.splitlines()[1] not in raw and alipay_public.splitlines()[1] not in raw
    assert raw.count("enc1:") == 2

    assert registry.enabled_channels() == ("sandbox", "alipay")
    channel = registry.get_channel("alipay")
    assert isinstance(channel, AlipayChannel)
    cfg = channel.config
    assert (cfg.app_id, cfg.seller_id) == ("2021000000000077", "2088000000000077")
    assert "PRIVATE KEY" in cfg.app_private_key_pem and cfg.alipay_public_key_pem.strip() == alipay_public.strip()
    assert "PRIVATE" not in repr(cfg)
    # the decrypted key really signs: the pay URL verifies with the app's public key
    action = channel.create_payment(order_ref())
    from urllib.parse import parse_qsl, urlsplit

    params = dict(parse_qsl(urlsplit(action.url).query))
    sign = params.pop("sign")
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()))  # request signs include sign_type
    assert params["app_id"] == "2021000000000077" and rsa_verify(app_public, message, sign)
    assert registry.get_channel("alipay") is channel  # cached while the settings stay the same


def test_a_saved_change_rebuilds_the_channel(db):
    engine, owner = db
    app_private, _ = keys("app")
    _, alipay_public = keys("alipay")
    form = {"app_id": "2021000000000001", "private_key": app_private, "public_key": alipay_public}
    save(engine, owner, enabled=["alipay"], alipay=form)
    first = registry.get_channel("alipay")
    save(engine, owner, enabled=["alipay"], alipay={**form, "app_id": "2021000000000002", "private_key": "",
                                                    "public_key": ""})
    second = registry.get_channel("alipay")
    assert second is not first and second.config.app_id == "2021000000000002"
    assert second.config.app_private_key_pem == first.config.app_private_key_pem  # empty field kept the key
    # switched off: no new payments, but existing orders can still be reconciled
    save(engine, owner, enabled=["manual"], alipay={**form, "private_key": "", "public_key": ""})
    with pytest.raises(DomainError, match="pay.channel_unavailable"):
        registry.get_channel("alipay")
    assert registry.get_channel_for_existing("alipay").config.app_id == "2021000000000001"


def test_environment_fills_fields_the_dashboard_leaves_empty(db, monkeypatch, tmp_path):
    engine, owner = db
    app_private, _ = keys("app")
    _, alipay_public = keys("alipay")
    (tmp_path / "app.pem").write_text(app_private)
    (tmp_path / "ali.pem").write_text(alipay_public)
    for name, value in (("COURSEMALL_ALIPAY_APP_ID", "2021000000000099"),
                        ("COURSEMALL_ALIPAY_PRIVATE_KEY_PATH", str(tmp_path / "app.pem")),
                        ("COURSEMALL_ALIPAY_PUBLIC_KEY_PATH", str(tmp_path / "ali.pem"))):
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    save(engine, owner, enabled=["alipay"], alipay={"seller_id": "2088000000000055"})  # complete thanks to env
    cfg = registry.get_channel("alipay").config
    assert (cfg.app_id, cfg.seller_id) == ("2021000000000099", "2088000000000055")
    assert cfg.app_private_key_pem == app_private


def test_registry_uses_decrypted_wechat_keys_and_a_private_cert_file(db, tmp_path):
    engine, owner = db
    cert_path, key_path = self_signed_cert(tmp_path)
    cert, key = open(cert_path).read(), open(key_path).read()
    api_key = "Z" * 28 + "9876"
    save(engine, owner, enabled=["wechat"],
         wechat={"app_id": "wx1234567890abcdef", "mch_id": "1900000109", "api_key": api_key,
                 "app_secret": "s" * 32, "cert_pem": cert, "key_pem": key})
    raw = raw_setting(engine)
    assert api_key not in raw and "s" * 32 not in raw and cert.splitlines()[1] not in raw
    assert key.splitlines()[1] not in raw and raw.count("enc1:") == 4

    channel = registry.get_channel("wechat")
    assert isinstance(channel, WeChatChannel)
    cfg = channel.config
    assert (cfg.app_id, cfg.mch_id, cfg.api_key) == ("wx1234567890abcdef", "1900000109", api_key)
    assert api_key not in repr(cfg)
    for path in (cfg.cert_path, cfg.key_path):
        assert path.startswith(str(get_settings().data_dir / "keys"))
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert open(cfg.cert_path).read().strip() == cert.strip()
    assert "PRIVATE KEY" in open(cfg.key_path).read()
    assert registry.wechat_oauth_credentials() == ("wx1234567890abcdef", "s" * 32)


def test_the_sandbox_stays_off_when_the_server_turns_it_off(db, monkeypatch):
    engine, owner = db
    save(engine, owner, enabled=["sandbox", "manual"])
    assert "sandbox" in registry.enabled_channels()
    monkeypatch.setenv("COURSEMALL_SANDBOX_PAY", "0")
    get_settings.cache_clear()
    assert "sandbox" not in registry.enabled_channels()
    with pytest.raises(DomainError, match="pay.channel_unavailable"):
        registry.get_channel("sandbox")


def test_secrets_under_another_secret_key_fall_back_to_the_environment(db, monkeypatch):
    engine, owner = db
    save(engine, owner, enabled=["manual"], wechat={"api_key": "Q" * 32})
    monkeypatch.setenv("COURSEMALL_SECRET_KEY", "another-secret-key-" + "z" * 32)
    get_settings.cache_clear()
    assert registry.enabled_channels() == tuple(get_settings().pay_channels)

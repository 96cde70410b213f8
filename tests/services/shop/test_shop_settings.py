"""Shop settings services on SQLite and PostgreSQL: brand, home blocks and
featured courses, policy texts, payment channels with encrypted secrets, message templates.

Every bad input gets a DomainError with a catalog key and changes nothing; only the owner may
change anything; every change is audit-logged without secret values.
"""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image
from sqlalchemy import text
from sqlmodel import select

from coursemall.domain.errors import DomainError
from coursemall.i18n import CATALOG
from coursemall.models import AuditLog, Course, Message, ShopSetting
from coursemall.services.catalog import storefront
from coursemall.services.community import messages
from coursemall.services.shop import shop_settings as svc
from coursemall.settings import get_settings
from tests.payments.factories import make_course, make_user, rsa_pair

KEYS: dict[str, tuple[str, str]] = {}


def keys(name: str) -> tuple[str, str]:
    if name not in KEYS:
        KEYS[name] = rsa_pair()
    return KEYS[name]


@pytest.fixture
def env(monkeypatch, tmp_path):
    """Settings with a private public dir; `env.set(NAME=value)` changes the environment."""
    monkeypatch.setenv("COURSEMALL_PUBLIC_DIR", str(tmp_path / "public"))
    get_settings.cache_clear()

    class Env:
        def set(self, **values: str) -> None:
            for name, value in values.items():
                monkeypatch.setenv(name, value)
            get_settings.cache_clear()

    yield Env()
    get_settings.cache_clear()


@pytest.fixture
def people(session, env):
    return {"owner": make_user(session, role="owner").id, "staff": make_user(session, role="staff").id,
            "learner": make_user(session).id}


def snapshot(session) -> dict:
    session.expire_all()
    return {
        "settings": sorted((r.key, json.dumps(r.value, sort_keys=True)) for r in session.exec(select(ShopSetting))),
        "courses": sorted((c.id, c.is_featured, c.featured_rank) for c in session.exec(select(Course))),
        "audit": len(session.exec(select(AuditLog)).all()),
    }


def refused(session, code: str, fn, **kwargs) -> None:
    """fn(**kwargs) raises DomainError(code) and changes nothing."""
    before = snapshot(session)
    with pytest.raises(DomainError) as info:
        fn(session, **kwargs)
    assert info.value.code == code, info.value.code
    session.rollback()
    assert snapshot(session) == before
    assert code in CATALOG or code.startswith("error."), code


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (400, 200), (200, 80, 20, 255)).save(buf, format="PNG")
    return buf.getvalue()


# ---------------------------------------------------------------------------------- the owner only

@pytest.mark.parametrize("who", ["staff", "learner"])
def test_only_the_owner_changes_settings(session, people, who):
    actor = people[who]
    calls = [
        (svc.update_brand, {"shop_name": "新名字", "accent": "blue"}),
        (svc.update_logo, {"image": png_bytes()}),
        (svc.remove_logo, {}),
        (svc.move_home_block, {"block": "newest", "delta": -1}),
        (svc.set_home_block_shown, {"block": "featured", "shown": True}),
        (svc.set_featured, {"ranks": {}}),
        (svc.featured_choices, {}),
        (svc.update_policy, {"kind": "privacy", "text": "x"}),
        (svc.payment_settings_view, {}),
        (svc.update_payment_channels, {"enabled": ["sandbox"], "alipay": {}, "wechat": {}}),
        (messages.template_view, {"key": "msg.payment_succeeded"}),
        (messages.update_template, {"key": "msg.payment_succeeded",
                                    "texts": {"zh_CN": {"title": "t", "body": "b"}, "en": {"title": "", "body": ""}}}),
        (messages.reset_template, {"key": "msg.payment_succeeded"}),
    ]
    for fn, kwargs in calls:
        refused(session, "error.forbidden", fn, actor_id=actor, **kwargs)


# ---------------------------------------------------------------------------------- brand

def test_brand_defaults_update_and_audit(session, people):
    brand = svc.get_brand(session)
    assert (brand.shop_name, brand.logo_url, brand.accent) == (get_settings().shop_name, "", "orange")
    brand = svc.update_brand(session, actor_id=people["owner"], shop_name="  小灯塔课堂 ", accent="teal")
    assert (brand.shop_name, brand.accent, brand.custom_name) == ("小灯塔课堂", "teal", "小灯塔课堂")
    entry = session.exec(select(AuditLog).where(AuditLog.action == "settings.brand")).one()
    assert entry.actor_id == people["owner"] and entry.detail["after"] == {"shop_name": "小灯塔课堂", "accent": "teal"}
    # '' = back to the configured name
    assert svc.update_brand(session, actor_id=people["owner"], shop_name="", accent="teal").shop_name == \
        get_settings().shop_name


@pytest.mark.parametrize("name,accent,code", [
    ("x" * 31, "blue", "shopset.brand.name_invalid"),
    ("a\nb", "blue", "shopset.brand.name_invalid"),
    ("a\x00b", "blue", "shopset.brand.name_invalid"),
    ("x" * 100_000, "blue", "shopset.brand.name_invalid"),
    (None, "blue", "shopset.brand.name_invalid"),
    ("好", "#ff0000", "shopset.brand.accent_invalid"),
    ("好", "red; background:url(x)", "shopset.brand.accent_invalid"),
    ("好", ["blue"], "shopset.brand.accent_invalid"),
])
def test_brand_bad_input(session, people, name, accent, code):
    refused(session, code, svc.update_brand, actor_id=people["owner"], shop_name=name, accent=accent)


def test_logo_is_cleaned_and_stored_publicly(session, people):
    brand = svc.update_logo(session, actor_id=people["owner"], image=png_bytes())
    name = brand.logo_url.removeprefix("/api/public/")
    assert name.startswith("brand/") and name.endswith(".png")
    stored = Image.open(get_settings().public_dir / name)
    assert stored.format == "PNG" and max(stored.size) <= svc.LOGO_MAX_SIDE
    for bad in (b"<svg onload=alert(1)>", b"GIF89a" + b"\0" * 10, "png", None):
        refused(session, "shopset.logo.not_image", svc.update_logo, actor_id=people["owner"], image=bad)
    refused(session, "shopset.logo.too_large", svc.update_logo, actor_id=people["owner"],
            image=b"\x89PNG" + b"0" * svc.LOGO_MAX_BYTES)
    assert svc.remove_logo(session, actor_id=people["owner"]).logo_url == ""


# ---------------------------------------------------------------------------------- home blocks

def test_home_blocks_order_and_visibility_drive_the_home_page(session, people):
    owner = people["owner"]
    assert svc.visible_home_blocks(session) == ("banner", "categories", "newest", "best_sellers", "series")
    course = make_course(session)
    home = storefront.get_home(session)
    assert home.blocks == svc.visible_home_blocks(session) and [c.id for c in home.newest] == [course.id]

    for _ in range(3):  # past newest, the (hidden) featured grid and categories
        svc.move_home_block(session, actor_id=owner, block="best_sellers", delta=-1)
    svc.move_home_block(session, actor_id=owner, block="banner", delta=-1)  # already first: unchanged
    svc.set_home_block_shown(session, actor_id=owner, block="newest", shown=False)
    svc.set_home_block_shown(session, actor_id=owner, block="featured", shown=True)
    assert svc.visible_home_blocks(session) == ("banner", "best_sellers", "categories", "featured", "series")
    home = storefront.get_home(session)
    assert home.blocks[:2] == ("banner", "best_sellers") and home.newest == () and home.best_sellers
    assert session.exec(select(AuditLog).where(AuditLog.action == "settings.home_blocks")).all()


@pytest.mark.parametrize("block,extra,code", [
    ("footer", {"delta": 1}, "shopset.home.unknown_block"),
    (None, {"delta": 1}, "shopset.home.unknown_block"),
    ("newest", {"delta": 2}, "error.bad_request"),
    ("newest", {"delta": True}, "error.bad_request"),
])
def test_home_block_bad_input(session, people, block, extra, code):
    refused(session, code, svc.move_home_block, actor_id=people["owner"], block=block, **extra)


def test_featured_courses_in_the_owners_order(session, people):
    owner = people["owner"]
    a, b, c = (make_course(session, title=f"课{i}") for i in range(3))
    draft = make_course(session, status="draft")
    svc.set_featured(session, actor_id=owner, ranks={c.id: 1, a.id: 2})
    svc.set_home_block_shown(session, actor_id=owner, block="featured", shown=True)
    home = storefront.get_home(session)
    assert [x.id for x in home.banners] == [c.id, a.id] == [x.id for x in home.featured]
    layout = storefront.get_home_layout(session)
    assert "featured" in layout.blocks and [x.id for x in layout.featured] == [c.id, a.id]
    choices = svc.featured_choices(session, actor_id=owner)
    assert [(x.course_id, x.rank) for x in choices[:2]] == [(c.id, 1), (a.id, 2)]
    assert {x.course_id for x in choices} == {a.id, b.id, c.id}  # drafts are not offered

    refused(session, "shopset.featured.not_published", svc.set_featured, actor_id=owner, ranks={draft.id: 1})
    refused(session, "shopset.featured.rank_invalid", svc.set_featured, actor_id=owner, ranks={a.id: 0})
    refused(session, "shopset.featured.rank_invalid", svc.set_featured, actor_id=owner, ranks={a.id: "1"})
    refused(session, "shopset.featured.too_many", svc.set_featured, actor_id=owner, ranks=list(range(3)))
    refused(session, "shopset.featured.not_published", svc.set_featured, actor_id=owner, ranks={999999: 1})
    svc.set_featured(session, actor_id=owner, ranks={b.id: 5})
    session.expire_all()
    assert [x.id for x in storefront.get_home(session).banners] == [b.id]
    assert session.get(Course, c.id).is_featured is False


# ---------------------------------------------------------------------------------- policies

def test_policy_texts_are_sanitised(session, people):
    assert svc.get_policy(session, "refund") == svc.PolicyView("refund", "", False)
    view = svc.update_policy(session, actor_id=people["owner"], kind="refund",
                             text="# 退款\r\n7 天内<script>alert(1)</script>可退\n\n- 一条\n")
    assert view.text == "# 退款\n7 天内alert(1)可退\n\n- 一条" and view.custom
    assert svc.parse_policy(view.text) == (svc.PolicyBlock("h", "退款"), svc.PolicyBlock("p", "7 天内alert(1)可退"),
                                           svc.PolicyBlock("li", "一条"))
    entry = session.exec(select(AuditLog).where(AuditLog.action == "settings.policy")).one()
    assert entry.target == "refund" and "退款" not in json.dumps(entry.detail, ensure_ascii=False)
    refused(session, "shopset.policy.too_long", svc.update_policy, actor_id=people["owner"], kind="terms",
            text="长" * (svc.POLICY_MAX + 1))
    refused(session, "shopset.policy.too_long", svc.update_policy, actor_id=people["owner"], kind="terms",
            text="a\x00b")
    refused(session, "shopset.policy.unknown", svc.update_policy, actor_id=people["owner"], kind="../etc",
            text="x")


# ---------------------------------------------------------------------------------- payment channels

def _alipay_form(**over: str) -> dict:
    private, _ = keys("app")
    _, alipay_public = keys("alipay")
    return {"app_id": "2021000000000001", "seller_id": "2088000000000001", "private_key": private,
            "public_key": alipay_public, **over}


def test_payment_secrets_are_encrypted_at_rest_and_masked(session, people):
    owner = people["owner"]
    private, _ = keys("app")
    view = svc.update_payment_channels(session, actor_id=owner, enabled=["sandbox", "alipay"],
                                       alipay=_alipay_form(), wechat={"api_key": "A" * 28 + "wxyz"})
    assert view.enabled == ("sandbox", "alipay") and not view.from_env
    assert view.plain["alipay.app_id"] == "2021000000000001"
    assert view.masks["wechat.api_key"] == "····wxyz" and view.masks["wechat.app_secret"] == ""
    assert view.masks["alipay.private_key"].startswith("····") and len(view.masks["alipay.private_key"]) == 8
    body = private.splitlines()[1]
    # what the database holds: ciphertext only
    raw = session.execute(text("SELECT value FROM shop_settings WHERE key = 'payment_channels'")).scalar_one()
    raw = raw if isinstance(raw, str) else json.dumps(raw)
    assert body not in raw and "A" * 28 not in raw and "enc1:" in raw
    assert "2021000000000001" in raw  # ids are not secret
    # the registry gets the plain values back
    stored = svc.stored_payment_config(session)
    assert "PRIVATE KEY" in stored.alipay["private_key"] and stored.wechat["api_key"] == "A" * 28 + "wxyz"
    # the audit log names the changed fields, never their values
    entry = session.exec(select(AuditLog).where(AuditLog.action == "settings.payment_channels")).one()
    dumped = json.dumps(entry.detail)
    assert "alipay.private_key" in dumped and body not in dumped and "wxyz" not in dumped


def test_empty_secret_keeps_clear_drops(session, people):
    owner = people["owner"]
    svc.update_payment_channels(session, actor_id=owner, enabled=["alipay"], alipay=_alipay_form(), wechat={})
    first = svc.stored_payment_config(session).alipay
    view = svc.update_payment_channels(session, actor_id=owner, enabled=["alipay"],
                                       alipay=_alipay_form(private_key="", public_key="", seller_id=""), wechat={})
    kept = svc.stored_payment_config(session).alipay
    assert kept["private_key"] == first["private_key"] and kept["public_key"] == first["public_key"]
    assert kept["seller_id"] == "" and view.plain["alipay.seller_id"] == ""
    # clearing a key the channel needs while it is on: refused (nothing in the environment either)
    refused(session, "shopset.pay.alipay_incomplete", svc.update_payment_channels, actor_id=owner,
            enabled=["alipay"], alipay=_alipay_form(private_key=""), wechat={}, clear=["alipay.private_key"])
    svc.update_payment_channels(session, actor_id=owner, enabled=["manual"], alipay=_alipay_form(private_key=""),
                                wechat={}, clear=["alipay.private_key"])
    assert svc.stored_payment_config(session).alipay["private_key"] == ""


def test_alipay_bare_base64_keys_are_accepted():
    """Alipay's key tool prints keys without PEM armour: they are stored as PEM."""
    private, public = keys("app")
    bare = "".join(private.strip().splitlines()[1:-1])
    pem = svc.normalize_private_key(bare, "x")
    assert pem.startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert svc.normalize_public_key("".join(public.strip().splitlines()[1:-1]), "x").startswith("-----BEGIN PUBLIC KEY")


def _short_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.mark.parametrize("alipay,wechat,code", [
    ({"private_key": "-----BEGIN RSA PRIVATE KEY-----\nnot a key\n-----END RSA PRIVATE KEY-----"}, {},
     "shopset.pay.private_key_invalid"),
    ({"private_key": "hello"}, {}, "shopset.pay.private_key_invalid"),
    ({"public_key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"}, {}, "shopset.pay.public_key_invalid"),
    ({"private_key": "short"}, {}, "shopset.pay.private_key_invalid"),
    ({"app_id": "12ab"}, {}, "shopset.pay.alipay_app_id_invalid"),
    ({"seller_id": "1234567890123456"}, {}, "shopset.pay.alipay_seller_invalid"),
    ({}, {"app_id": "wx12"}, "shopset.pay.wechat_app_id_invalid"),
    ({}, {"mch_id": "12a"}, "shopset.pay.wechat_mch_id_invalid"),
    ({}, {"api_key": "short"}, "shopset.pay.wechat_api_key_invalid"),
    ({}, {"app_secret": "x" * 31}, "shopset.pay.wechat_app_secret_invalid"),
    ({}, {"cert_pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"}, "shopset.pay.cert_invalid"),
    ({}, {"api_key": "k" * 100_000}, "shopset.pay.field_too_long"),
    ({}, {"api_key": ["k"]}, "shopset.pay.field_too_long"),
])
def test_bad_payment_fields(session, people, alipay, wechat, code):
    refused(session, code, svc.update_payment_channels, actor_id=people["owner"], enabled=[],
            alipay=alipay, wechat=wechat)


def test_short_rsa_keys_and_mismatched_certificates(session, people, tmp_path):
    from tests.payments.fakes import self_signed_cert

    owner = people["owner"]
    refused(session, "shopset.pay.key_too_short", svc.update_payment_channels, actor_id=owner, enabled=[],
            alipay={"private_key": _short_key()}, wechat={})
    cert_path, key_path = self_signed_cert(tmp_path)
    cert = open(cert_path).read()
    refused(session, "shopset.pay.cert_pair_incomplete", svc.update_payment_channels, actor_id=owner, enabled=[],
            alipay={}, wechat={"cert_pem": cert})
    refused(session, "shopset.pay.cert_key_mismatch", svc.update_payment_channels, actor_id=owner, enabled=[],
            alipay={}, wechat={"cert_pem": cert, "key_pem": keys("app")[0]})
    view = svc.update_payment_channels(session, actor_id=owner, enabled=[], alipay={},
                                       wechat={"cert_pem": cert, "key_pem": open(key_path).read()})
    assert view.masks["wechat.cert_pem"] and view.masks["wechat.key_pem"]


def test_channel_switch_rules(session, people, env):
    owner = people["owner"]
    refused(session, "shopset.pay.wechat_incomplete", svc.update_payment_channels, actor_id=owner,
            enabled=["wechat"], alipay={}, wechat={"app_id": "wx1234567890abcdef"})
    for bad in (["bitcoin"], "alipay", None, [["sandbox"]]):
        refused(session, "error.bad_request", svc.update_payment_channels, actor_id=owner, enabled=bad,
                alipay={}, wechat={})
    env.set(COURSEMALL_SANDBOX_PAY="0")
    refused(session, "shopset.pay.sandbox_off", svc.update_payment_channels, actor_id=owner, enabled=["sandbox"],
            alipay={}, wechat={})
    assert svc.payment_settings_view(session, actor_id=owner).sandbox_allowed is False


# ---------------------------------------------------------------------------------- message templates

def test_templates_cover_every_message_and_render(session, people):
    owner, learner = people["owner"], people["learner"]
    keys_ = messages.template_keys()
    assert {"msg.payment_succeeded", "msg.refund_rejected", "msg.homework_graded", "msg.order_closed"} <= set(keys_)
    assert messages.template_placeholders("msg.payment_succeeded") == ("order_no", "amount", "nickname", "shop")
    view = messages.template_view(session, actor_id=owner, key="msg.payment_succeeded")
    assert view.texts["zh_CN"]["title"] == CATALOG["msg.payment_succeeded.title"][0] and not any(view.custom.values())

    messages.update_template(session, actor_id=owner, key="msg.payment_succeeded", texts={
        "zh_CN": {"title": "{nickname}，付款成功", "body": "{shop} 已收到订单 {order_no} 的 {amount}。"},
        "en": {"title": "", "body": ""}})
    messages.create_message(session, user_id=learner, kind="payment_succeeded", key="msg.payment_succeeded",
                            order_no="CM1", amount="¥9.90")
    msg = session.exec(select(Message).where(Message.user_id == learner)).one()
    nickname = msg.title.removesuffix("，付款成功")
    assert nickname.startswith("用户") and msg.body == f"{get_settings().shop_name} 已收到订单 CM1 的 ¥9.90。"
    entry = session.exec(select(AuditLog).where(AuditLog.action == "settings.template")).one()
    assert entry.target == "msg.payment_succeeded" and entry.detail["custom_after"] == ["zh_CN"]

    messages.reset_template(session, actor_id=owner, key="msg.payment_succeeded")
    messages.create_message(session, user_id=learner, kind="payment_succeeded", key="msg.payment_succeeded",
                            order_no="CM2", amount="¥1.00")
    latest = session.exec(select(Message).where(Message.user_id == learner).order_by(Message.id.desc())).first()
    assert latest.title == CATALOG["msg.payment_succeeded.title"][0] and "CM2" in latest.body


@pytest.mark.parametrize("title,body,code", [
    ("支付成功", "订单 {order_id}", "shopset.tpl.unknown_placeholder"),
    ("支付成功", "{order_no.__class__}", "shopset.tpl.unknown_placeholder"),
    ("支付成功", "{order_no!r}", "shopset.tpl.unknown_placeholder"),
    ("支付成功", "{amount:>10}", "shopset.tpl.unknown_placeholder"),
    ("支付成功", "{0}", "shopset.tpl.unknown_placeholder"),
    ("{reason}", "正文", "shopset.tpl.unknown_placeholder"),
    ("支付成功", "订单 {order_no", "shopset.tpl.bad_braces"),
    ("支付成功", "", "shopset.tpl.empty"),
    ("a\nb", "正文", "shopset.tpl.title_invalid"),
    ("支付成功", "x" * 100_000, "shopset.tpl.too_long"),
])
def test_template_bad_input(session, people, title, body, code):
    refused(session, code, messages.update_template, actor_id=people["owner"], key="msg.payment_succeeded",
            texts={"zh_CN": {"title": title, "body": body}, "en": {"title": "", "body": ""}})


def test_template_unknown_key_and_shape(session, people):
    owner = people["owner"]
    ok = {"zh_CN": {"title": "t", "body": "b"}, "en": {"title": "", "body": ""}}
    refused(session, "shopset.tpl.unknown", messages.update_template, actor_id=owner, key="error.generic", texts=ok)
    refused(session, "error.bad_request", messages.update_template, actor_id=owner, key="msg.order_closed",
            texts={"fr": {"title": "t", "body": "b"}})
    refused(session, "error.bad_request", messages.update_template, actor_id=owner, key="msg.order_closed",
            texts="{}")


def test_a_template_that_no_longer_renders_falls_back_to_the_default(session, people):
    """A stored template whose placeholder the caller no longer passes never loses the message."""
    svc.set_value(session, "message_templates", {"msg.order_closed": {"zh_CN": {"title": "关闭 {gone}",
                                                                                 "body": "{gone}"}}},
                  actor_id=people["owner"])
    messages.create_message(session, user_id=people["learner"], kind="order_closed", key="msg.order_closed",
                            order_no="CM9")
    msg = session.exec(select(Message).where(Message.user_id == people["learner"])).one()
    assert msg.title == CATALOG["msg.order_closed.title"][0] and "CM9" in msg.body

"""Shop settings states called directly, as a browser could (ARCHITECTURE.md rules 1, 2, 4, 5).

- every handler of ShopSettingsState carries @owner_required (below @rx.event);
- anonymous visitors, learners, staff and an owner without the TOTP step change nothing and get no data;
- bad input from the owner (wrong types, 100 KB strings, bad colours, bad PEM, unknown
  placeholders) gets a clear message and changes nothing;
- stored payment secrets never reach a frontend var (only a mask);
- the storefront states (brand, home layout, policy pages) show what the owner saved.
"""

from __future__ import annotations

import inspect
import io
import json

import pytest
import reflex as rx
from PIL import Image
from reflex.istate.data import RouterData
from sqlmodel import Session, select

import coursemall.pages  # noqa: F401  (registers every state)
from coursemall.i18n import t
from coursemall.models import AuditLog, Course, ShopSetting
from coursemall.services.shop import shop_settings as svc
from coursemall.settings import get_settings
from coursemall.state.dashboard import shop_settings as state_module
from coursemall.state.guards import guard_of
from coursemall.state.dashboard.shop_settings import BrandState, HomeLayoutState, PolicyState, ShopSettingsState
from tests.payments.factories import make_course, make_user, rsa_pair
from tests.payments.fakes import self_signed_cert
from tests.state.helpers import call, cookie_for, make_state

FORBIDDEN = t("admin.forbidden")
BAD_VALUES = [None, 0, -1, True, 2**40, 1.5, ["1"], {"id": 1}, "x" * 100_000, "", "1; DROP TABLE", "-3"]
DATA_VARS = ("brand_name", "brand_logo", "home_blocks", "featured_rows", "policy_texts", "pay_enabled",
             "pay_plain", "key_status", "templates", "tpl_key", "tpl_zh_title", "tpl_zh_body")
_KEYS: list[tuple[str, str]] = []


def app_keys() -> tuple[str, str]:
    if not _KEYS:
        _KEYS.append(rsa_pair())
    return _KEYS[0]


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (300, 120), (30, 90, 200)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def shop(engine, monkeypatch, tmp_path):  # noqa: F811
    monkeypatch.setenv("COURSEMALL_PUBLIC_DIR", str(tmp_path / "public"))
    get_settings.cache_clear()
    state_module.forget_brand_cache()
    with Session(engine, expire_on_commit=False) as s:
        people = {"owner": make_user(s, role="owner").id, "staff": make_user(s, role="staff").id,
                  "learner": make_user(s).id}
        courses = [make_course(s, title=f"课程{i}").id for i in range(3)]
    yield {**people, "courses": courses}
    get_settings.cache_clear()
    state_module.forget_brand_cache()


def snapshot(engine) -> dict:  # noqa: F811
    with Session(engine) as s:
        return {
            "settings": sorted((r.key, json.dumps(r.value, sort_keys=True)) for r in s.exec(select(ShopSetting))),
            "courses": sorted((c.id, c.is_featured, c.featured_rank) for c in s.exec(select(Course))),
            "audit": len(s.exec(select(AuditLog)).all()),
        }


def pay_form(**over) -> dict:
    form = {f"enable_{c}": "" for c in svc.PAY_CHANNELS}
    form.update({f"{s}_{f}": "" for s, f in state_module.PAY_FIELDS})
    form.update({"enable_sandbox": "on", "enable_manual": "on"})
    form.update(over)
    return form


def tpl_form(**over) -> dict:
    return {"key": "msg.payment_succeeded", "zh_title": "付款成功", "zh_body": "{nickname}，订单 {order_no} 已支付 {amount}",
            "en_title": "", "en_body": "", **over}


def valid_calls(shop) -> list[tuple[str, tuple]]:
    cid = shop["courses"][0]
    return [
        ("load_shop_settings", ()),
        ("save_brand", ({"shop_name": "新名字", "accent": "blue"},)),
        ("upload_logo", ([rx.UploadFile(file=io.BytesIO(png_bytes()))],)),
        ("remove_logo", ()),
        ("move_block", ("newest", -1)),
        ("toggle_block", ("featured",)),
        ("save_featured", ({f"rank_{cid}": "1"},)),
        ("save_policy_text", ({"kind": "privacy", "text": "# 隐私\n内容"},)),
        ("save_payment_channels", (pay_form(),)),
        ("pick_template", ("msg.refund_rejected",)),
        ("save_template", (tpl_form(),)),
        ("reset_template", ("msg.payment_succeeded",)),
    ]


# ---------------------------------------------------------------------------------- guards

def test_every_settings_handler_is_owner_only():
    handlers = {n: h for n, h in ShopSettingsState.event_handlers.items() if n != "setvar"}
    assert set(handlers) == {name for name, _ in valid_calls({"courses": [1]})}
    for name, handler in handlers.items():
        assert guard_of(handler.fn) == "owner_required", name
        assert inspect.iscoroutinefunction(handler.fn) == inspect.iscoroutinefunction(handler.fn.__wrapped__)
    assert {n for n in BrandState.event_handlers if n != "setvar"} == {"load_brand"}
    assert {n for n in HomeLayoutState.event_handlers if n != "setvar"} == {"load_home_layout"}
    assert {n for n in PolicyState.event_handlers if n != "setvar"} == {"load_policy"}


@pytest.mark.parametrize("who", ["anonymous", "learner", "staff", "owner_without_totp"])
async def test_non_owners_change_nothing_and_see_no_data(engine, shop, who):  # noqa: F811
    cookie = {"anonymous": "cm_lang=zh_CN",
              "learner": cookie_for(engine, shop["learner"]),
              "staff": cookie_for(engine, shop["staff"]),
              "owner_without_totp": cookie_for(engine, shop["owner"], mfa=False)}[who]
    expected = t("admin.mfa_required") if who == "owner_without_totp" else FORBIDDEN
    before = snapshot(engine)
    for handler, args in valid_calls(shop):
        state = make_state(ShopSettingsState, cookie=cookie)
        result = await call(state, handler, *args)
        assert result is None, handler
        assert state.error == expected and not state.allowed and not state.success, (handler, state.error)
        for var in DATA_VARS:
            assert not getattr(state, var), f"{handler}: {var} leaked"
    assert snapshot(engine) == before


# ---------------------------------------------------------------------------------- bad input

BAD_ARG_CALLS = [
    ("save_brand", lambda bad: (bad,)),
    ("save_brand", lambda bad: ({"shop_name": bad, "accent": "blue"},)),
    ("save_brand", lambda bad: ({"shop_name": "名字", "accent": bad},)),
    ("upload_logo", lambda bad: (bad,)),
    ("move_block", lambda bad: (bad, 1)),
    ("move_block", lambda bad: ("newest", bad)),
    ("toggle_block", lambda bad: (bad,)),
    ("save_featured", lambda bad: (bad,)),
    ("save_featured", lambda bad: ({"rank_1": bad},)),
    ("save_policy_text", lambda bad: (bad,)),
    ("save_policy_text", lambda bad: ({"kind": bad, "text": "x"},)),
    ("save_payment_channels", lambda bad: (bad,)),
    ("save_payment_channels", lambda bad: (pay_form(enable_alipay=bad),)),
    ("save_payment_channels", lambda bad: (pay_form(wechat_api_key=bad),)),
    ("save_payment_channels", lambda bad: (pay_form(alipay_private_key=bad),)),
    ("pick_template", lambda bad: (bad,)),
    ("save_template", lambda bad: (bad,)),
    ("save_template", lambda bad: (tpl_form(key=bad),)),
    ("save_template", lambda bad: (tpl_form(zh_body=bad),)),
    ("reset_template", lambda bad: (bad,)),
]


def _actually_valid(handler: str, args: tuple, courses: list[int]) -> bool:
    """Some BAD_VALUES are fine for some fields ('' = default name / empty rank / keep the key)."""
    arg = args[0]
    if handler == "save_brand" and isinstance(arg, dict) and "shop_name" in arg:
        return (isinstance(arg["shop_name"], str) and len(arg["shop_name"]) <= 30
                and arg.get("accent") in svc.ACCENT_COLORS)
    if handler == "save_featured" and isinstance(arg, dict) and "rank_1" in arg:
        return arg["rank_1"] == ""
    if handler == "move_block" and args[0] == "newest":
        return args[1] == -1 and not isinstance(args[1], bool)
    if handler == "save_template" and isinstance(arg, dict) and arg.get("key") == "msg.payment_succeeded":
        body = arg["zh_body"]
        return isinstance(body, str) and 0 < len(body) <= 2000
    if handler == "save_payment_channels" and isinstance(arg, dict):
        return (arg.get("enable_alipay") in ("", False) and arg.get("wechat_api_key") == ""
                and arg.get("alipay_private_key") == "")
    return False


async def test_wrong_types_get_a_clear_message_and_change_nothing(engine, shop):  # noqa: F811
    cookie = cookie_for(engine, shop["owner"])
    generic = t("error.generic")
    before = snapshot(engine)
    for handler, make_args in BAD_ARG_CALLS:
        for bad in BAD_VALUES:
            args = make_args(bad)
            if _actually_valid(handler, args, shop["courses"]):
                continue
            state = make_state(ShopSettingsState, cookie=cookie)
            result = await call(state, handler, *args)
            assert result is None, (handler, repr(bad)[:40])
            assert state.error and state.error not in (FORBIDDEN, generic), (handler, repr(bad)[:40], state.error)
            assert not state.success, (handler, repr(bad)[:40])
    assert snapshot(engine) == before


@pytest.mark.parametrize("handler,args,key,params", [
    ("save_brand", ({"shop_name": "好", "accent": "#ff0000"},), "shopset.brand.accent_invalid", {}),
    ("save_brand", ({"shop_name": "好", "accent": "red;background:url(//evil)"},), "shopset.brand.accent_invalid", {}),
    ("save_brand", ({"shop_name": "名" * 31, "accent": "red"},), "shopset.brand.name_invalid", {"max": 30}),
    ("save_policy_text", ({"kind": "terms", "text": "x" * 100_000},), "shopset.policy.too_long", {"max": 20000}),
    ("save_payment_channels", (pay_form(alipay_private_key="-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----"),),
     "shopset.pay.private_key_invalid", {}),
    ("save_payment_channels", (pay_form(alipay_public_key="not a key"),), "shopset.pay.public_key_invalid", {}),
    ("save_payment_channels", (pay_form(enable_alipay="on"),), "shopset.pay.alipay_incomplete", {}),
    ("save_payment_channels", (pay_form(wechat_api_key="x" * 100_000),), "shopset.pay.field_too_long",
     {"field": "wechat.api_key"}),
    ("save_featured", ({"rank_1": "100"},), "shopset.featured.rank_invalid", {"max": 99}),
    ("save_template", (tpl_form(zh_body="订单 {order_id} 已支付"),), "shopset.tpl.unknown_placeholder",
     {"name": "{order_id}", "allowed": "{order_no} {amount} {nickname} {shop}"}),
    ("save_template", (tpl_form(zh_body="{order_no.__init__.__globals__}"),), "shopset.tpl.unknown_placeholder",
     {"name": "{order_no.__init__.__globals__}", "allowed": "{order_no} {amount} {nickname} {shop}"}),
    ("save_template", (tpl_form(zh_title="{", zh_body="x"),), "shopset.tpl.bad_braces", {}),
])
async def test_specific_messages(engine, shop, handler, args, key, params):  # noqa: F811
    before = snapshot(engine)
    state = make_state(ShopSettingsState, cookie=cookie_for(engine, shop["owner"]))
    await call(state, handler, *args)
    assert state.error == t(key, **params) and not state.success
    assert snapshot(engine) == before


async def test_bad_logo_files(engine, shop):  # noqa: F811
    cookie = cookie_for(engine, shop["owner"])
    before = snapshot(engine)
    for content, key in ((b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "shopset.logo.not_image"),
                         (png_bytes()[:40], "shopset.logo.not_image"),
                         (b"\x89PNG" + b"0" * (svc.LOGO_MAX_BYTES + 10), "shopset.logo.too_large")):
        state = make_state(ShopSettingsState, cookie=cookie)
        await call(state, "upload_logo", [rx.UploadFile(file=io.BytesIO(content))])
        assert state.error == t(key, mb=5) and not state.brand_logo
    assert snapshot(engine) == before


# ---------------------------------------------------------------------------------- the owner's work

def _frontend_dump(state) -> str:
    return json.dumps({name: getattr(state, name) for name in type(state).base_vars}, ensure_ascii=False, default=str)


async def test_payment_secrets_never_reach_the_browser(engine, shop, tmp_path):  # noqa: F811
    private, _ = app_keys()
    _, public = app_keys()
    cert_path, key_path = self_signed_cert(tmp_path)
    api_key = "M" * 28 + "abcd"
    state = make_state(ShopSettingsState, cookie=cookie_for(engine, shop["owner"]))
    await call(state, "load_shop_settings")
    assert state.allowed and state.is_owner and state.pay_from_env
    await call(state, "save_payment_channels", pay_form(
        enable_alipay="on", alipay_app_id="2021000000000001", alipay_private_key=private, alipay_public_key=public,
        wechat_api_key=api_key, wechat_cert_pem=open(cert_path).read(), wechat_key_pem=open(key_path).read()))
    assert state.success == t("shopset.pay.saved"), state.error
    assert state.key_status["wechat.api_key"] == t("shopset.pay.set", mask="····abcd")
    assert state.key_status["wechat.app_secret"] == t("shopset.pay.not_set")
    assert state.pay_enabled == ["sandbox", "alipay", "manual"] and not state.pay_from_env
    assert state.pay_plain["alipay.app_id"] == "2021000000000001"
    fresh = make_state(ShopSettingsState, cookie=cookie_for(engine, shop["owner"]))
    await call(fresh, "load_shop_settings")
    for s in (state, fresh):
        dump = _frontend_dump(s)
        assert api_key not in dump and "M" * 28 not in dump and "PRIVATE KEY" not in dump
        assert private.splitlines()[1] not in dump and open(cert_path).read().splitlines()[1] not in dump
    # an empty secret field keeps the stored key; "clear" drops it
    await call(fresh, "save_payment_channels", pay_form(enable_alipay="on", alipay_app_id="2021000000000001",
                                                        clear_wechat_api_key="on"))
    assert fresh.success and fresh.key_status["wechat.api_key"] == t("shopset.pay.not_set")
    assert fresh.key_status["alipay.private_key"].startswith("已设置 ····")


async def test_brand_reaches_the_header_state(engine, shop):  # noqa: F811
    state = make_state(ShopSettingsState, cookie=cookie_for(engine, shop["owner"]))
    result = await call(state, "save_brand", {"shop_name": " 小灯塔 ", "accent": "teal"})
    assert state.success == t("shopset.saved") and state.brand_name == "小灯塔"
    assert result is BrandState.load_brand  # the open page's header refreshes
    await call(state, "upload_logo", [rx.UploadFile(file=io.BytesIO(png_bytes()))])
    assert state.success == t("shopset.logo.saved") and state.brand_logo.startswith("/api/public/brand/")

    brand = make_state(BrandState, cookie="cm_lang=zh_CN")
    await call(brand, "load_brand")
    assert (brand.shop_name, brand.accent, brand.logo_url) == ("小灯塔", "teal", state.brand_logo)


async def test_home_layout_and_featured(engine, shop):  # noqa: F811
    a, b, c = shop["courses"]
    state = make_state(ShopSettingsState, cookie=cookie_for(engine, shop["owner"]))
    await call(state, "load_shop_settings")
    assert [r["name"] for r in state.home_blocks] == list(svc.HOME_BLOCKS)
    assert [r["shown"] for r in state.home_blocks] == ["1", "1", "", "1", "1", "1"]
    await call(state, "toggle_block", "featured")
    await call(state, "move_block", "featured", -1)
    await call(state, "move_block", "featured", -1)
    await call(state, "toggle_block", "categories")
    assert [r["name"] for r in state.home_blocks][:3] == ["featured", "banner", "categories"]
    await call(state, "save_featured", {f"rank_{c}": "1", f"rank_{a}": " 2 ", f"rank_{b}": ""})
    assert state.success == t("shopset.saved")
    assert [(r["id"], r["rank"]) for r in state.featured_rows][:2] == [(str(c), "1"), (str(a), "2")]

    home = make_state(HomeLayoutState, cookie="cm_lang=zh_CN")
    await call(home, "load_home_layout")
    assert home.blocks == ["featured", "banner", "newest", "best_sellers", "series"]
    assert [card["id"] for card in home.featured] == [str(c), str(a)]


def policy_state(kind: object):
    root = rx.State(_reflex_internal_init=True)
    root.router = RouterData.from_router_data({
        "headers": {"cookie": "cm_lang=zh_CN", "origin": "http://localhost:3000"}, "ip": "127.0.0.1",
        "pathname": "/policy/[kind]", "asPath": f"/policy/{kind}", "query": {"kind": kind},
    })
    state = root
    for name in PolicyState.get_full_name().split(".")[1:]:
        state = state.substates[name]
    return state


async def test_policy_pages(engine, shop):  # noqa: F811
    page = policy_state("refund")
    await call(page, "load_policy")
    assert page.kind == "refund" and not page.not_found and page.blocks[0] == {"kind": "h", "text": "退款规则"}
    owner = make_state(ShopSettingsState, cookie=cookie_for(engine, shop["owner"]))
    await call(owner, "save_policy_text", {"kind": "refund", "text": "## 七天无理由\n<b>购买</b>后 7 天内可退\n- 学习不超过 20%"})
    assert owner.success == t("shopset.policy.saved") and owner.policy_texts["refund"].startswith("## 七天")
    page = policy_state("refund")
    await call(page, "load_policy")
    assert page.blocks == [{"kind": "h", "text": "七天无理由"}, {"kind": "p", "text": "购买后 7 天内可退"},
                           {"kind": "li", "text": "学习不超过 20%"}]
    for bad in ("secrets", "../../etc/passwd", "", "x" * 10_000):
        page = policy_state(bad)
        await call(page, "load_policy")
        assert page.not_found and page.blocks == []


async def test_templates(engine, shop):  # noqa: F811
    state = make_state(ShopSettingsState, cookie=cookie_for(engine, shop["owner"]))
    await call(state, "load_shop_settings")
    assert {r["key"] for r in state.templates} >= {"msg.payment_succeeded", "msg.refund_rejected",
                                                   "msg.homework_graded"}
    await call(state, "pick_template", "msg.refund_rejected")
    assert state.tpl_key == "msg.refund_rejected" and "{reason}" in state.tpl_placeholders
    assert state.tpl_zh_title == t("msg.refund_rejected.title")
    await call(state, "save_template", tpl_form())
    assert state.success == t("shopset.tpl.saved") and state.tpl_custom
    assert state.tpl_zh_body == "{nickname}，订单 {order_no} 已支付 {amount}"
    assert state.tpl_en_title == t("msg.payment_succeeded.title", "en")  # English stays the default
    await call(state, "reset_template", "msg.payment_succeeded")
    assert state.success == t("shopset.tpl.reset_done") and not state.tpl_custom
    assert state.tpl_zh_body == t("msg.payment_succeeded.body")

"""Shop settings: the owner's page and the storefront states that read them.

- `ShopSettingsState` (/admin/settings): brand, home blocks and featured courses, policy texts,
  payment channels, message templates. Every handler carries `@owner_required` (TOTP-verified
  owner, role from the database) and validates its arguments; the services check the role again.
  Payment secrets never reach a frontend var: the form shows only a mask ("已设置 ····abcd").
- `BrandState`: shop name, logo and accent colour for the header and the page theme (loaded when
  the page frame mounts; read-only, public).
- `HomeLayoutState`: the home sections in the owner's order and the featured grid.
- `PolicyState`: /policy/<kind>.
"""

from __future__ import annotations

import asyncio
import time

from collections.abc import Callable
from typing import Any

import reflex as rx
from starlette.datastructures import UploadFile as StarletteUploadFile

from coursemall.db import session_scope
from coursemall.domain.errors import DomainError
from coursemall.i18n import CATALOG, LANGS
from coursemall.services.catalog import storefront as catalog_service
from coursemall.services.community import messages as messages_service
from coursemall.services.shop import shop_settings as svc
from coursemall.settings import get_settings
from coursemall.state.base import AppState
from coursemall.state.catalog.storefront import card_vars
from coursemall.state.dashboard.base import DashboardBaseState, _in_session, form_checked, parse_int_in
from coursemall.state.guards import owner_required

BRAND_CACHE_SECONDS = 5.0
_brand_cache: tuple[float, svc.BrandView] | None = None


def _cached_brand() -> svc.BrandView:
    """The brand is read on every page mount: one small read per process every few seconds."""
    global _brand_cache
    now = time.monotonic()
    if _brand_cache is None or now - _brand_cache[0] > BRAND_CACHE_SECONDS:
        with session_scope() as s:
            _brand_cache = (now, svc.get_brand(s))
    return _brand_cache[1]


def forget_brand_cache() -> None:
    global _brand_cache
    _brand_cache = None


# ---------------------------------------------------------------------------------- storefront


class BrandState(AppState):
    """Header name/logo and the accent colour of the storefront theme."""

    shop_name: str = get_settings().shop_name
    logo_url: str = ""
    accent: str = svc.DEFAULT_ACCENT

    @rx.event
    def load_brand(self):
        try:
            brand = _cached_brand()
        except Exception:  # noqa: BLE001 - the header keeps its defaults; never break a page for it
            return
        self.shop_name, self.logo_url, self.accent = brand.shop_name, brand.logo_url, brand.accent


class HomeLayoutState(AppState):
    """The home sections in the owner's order (default order until loaded) and the featured grid."""

    blocks: list[str] = ["banner", "categories", "newest", "best_sellers", "series"]
    featured: list[dict[str, str]] = []

    @rx.event
    def load_home_layout(self):
        with session_scope() as s:
            layout = catalog_service.get_home_layout(s)
        self.blocks = list(layout.blocks)
        self.featured = [card_vars(c) for c in layout.featured]


class PolicyState(AppState):
    """/policy/<kind>: the owner's text (or the built-in default) as headings, items and paragraphs."""

    kind: str = ""
    blocks: list[dict[str, str]] = []
    not_found: bool = False
    loaded: bool = False

    @rx.event
    def load_policy(self):
        kind = self._route_param("kind")
        self.loaded = True
        try:
            with session_scope() as s:
                view = svc.get_policy(s, kind)
        except DomainError:
            self.kind, self.blocks, self.not_found = "", [], True
            return
        text = view.text or self._t(f"shopset.policy.default.{view.kind}")
        self.kind, self.not_found = view.kind, False
        self.blocks = [{"kind": b.kind, "text": b.text} for b in svc.parse_policy(text)]


# ---------------------------------------------------------------------------------- the owner's page

SECTIONS = ("brand", "logo", "home", "featured", "policy", "pay", "tpl")
PAY_FIELDS = [("alipay", f) for f in svc.ALIPAY_FIELDS] + [("wechat", f) for f in svc.WECHAT_FIELDS]


def _text_field(form_data: dict, name: str, limit: int) -> str | None:
    """A form string no longer than `limit` (None for anything else: a dict, a list, 100 KB)."""
    value = form_data.get(name, "")
    if not isinstance(value, str) or len(value) > limit:
        return None
    return value


class ShopSettingsState(DashboardBaseState):
    """/admin/settings (owner only)."""

    # brand
    brand_name: str = ""  # the owner's name ('' = configured default)
    default_name: str = ""
    brand_accent: str = svc.DEFAULT_ACCENT
    brand_logo: str = ""
    # home
    home_blocks: list[dict[str, str]] = []  # name, shown ('1'/'')
    featured_rows: list[dict[str, str]] = []  # id, title, rank ('' = not featured)
    # policies
    policy_texts: dict[str, str] = {}
    # payment channels (no secret values: masks only)
    pay_enabled: list[str] = []
    pay_from_env: bool = True
    sandbox_allowed: bool = True
    pay_plain: dict[str, str] = {}
    key_status: dict[str, str] = {}
    # templates
    templates: list[dict[str, str]] = []  # key, label
    tpl_key: str = ""
    tpl_zh_title: str = ""
    tpl_zh_body: str = ""
    tpl_en_title: str = ""
    tpl_en_body: str = ""
    tpl_placeholders: str = ""
    tpl_custom: bool = False
    form_key: int = 0  # bumped after loads so uncontrolled inputs remount with the new values

    def _clear_data(self) -> None:
        self.brand_name = self.default_name = self.brand_logo = ""
        self.home_blocks, self.featured_rows, self.policy_texts = [], [], {}
        self.pay_enabled, self.pay_plain, self.key_status = [], {}, {}
        self.templates = []
        self.tpl_key = self.tpl_zh_title = self.tpl_zh_body = self.tpl_en_title = self.tpl_en_body = ""
        self.tpl_placeholders = ""

    # ---- view mapping ----------------------------------------------------------------------
    def _show_brand(self, brand: svc.BrandView) -> None:
        self.brand_name, self.brand_accent, self.brand_logo = brand.custom_name, brand.accent, brand.logo_url
        self.default_name = get_settings().shop_name
        forget_brand_cache()

    def _show_layout(self, blocks: tuple[svc.HomeBlockView, ...]) -> None:
        self.home_blocks = [{"name": b.name, "label": self._t(f"shopset.home.block.{b.name}"),
                             "shown": "1" if b.shown else ""} for b in blocks]

    def _show_featured(self, rows: tuple[svc.FeaturedChoice, ...]) -> None:
        self.featured_rows = [{"id": str(r.course_id), "title": r.title, "rank": str(r.rank) if r.rank else ""}
                              for r in rows]

    def _show_pay(self, view: svc.PaymentSettingsView) -> None:
        self.pay_enabled, self.pay_from_env = list(view.enabled), view.from_env
        self.sandbox_allowed = view.sandbox_allowed
        self.pay_plain = dict(view.plain)
        self.key_status = {k: (self._t("shopset.pay.set", mask=v) if v else self._t("shopset.pay.not_set"))
                           for k, v in view.masks.items()}

    def _show_template(self, view: messages_service.TemplateView) -> None:
        self.tpl_key = view.key
        self.tpl_zh_title, self.tpl_zh_body = view.texts["zh_CN"]["title"], view.texts["zh_CN"]["body"]
        self.tpl_en_title, self.tpl_en_body = view.texts["en"]["title"], view.texts["en"]["body"]
        self.tpl_placeholders = " ".join("{" + p + "}" for p in view.placeholders)
        self.tpl_custom = any(view.custom.values())

    def _template_list(self) -> list[dict[str, str]]:
        lang_index = 1 if self.lang == "en" else 0
        return [{"key": k, "label": CATALOG[f"{k}.title"][lang_index]} for k in messages_service.template_keys()]

    # ---- load ------------------------------------------------------------------------------
    @rx.event
    @owner_required
    def load_shop_settings(self):
        self._clear_messages()
        actor = self._actor_id()
        try:
            with session_scope() as s:
                brand = svc.get_brand(s)
                layout = svc.home_layout(s)
                featured = svc.featured_choices(s, actor_id=actor)
                policies = {k: svc.get_policy(s, k).text for k in svc.POLICY_KINDS}
                pay = svc.payment_settings_view(s, actor_id=actor)
                keys = messages_service.template_keys()
                tpl = messages_service.template_view(s, actor_id=actor, key=self.tpl_key or keys[0])
        except DomainError as exc:
            return self._service_error("page", exc)
        self._admit()
        self._show_brand(brand)
        self._show_layout(layout)
        self._show_featured(featured)
        self.policy_texts = policies
        self._show_pay(pay)
        self.templates = self._template_list()
        self._show_template(tpl)
        self.form_key += 1

    # ---- brand -----------------------------------------------------------------------------
    @rx.event
    @owner_required
    def save_brand(self, form_data: dict):
        if not isinstance(form_data, dict) or "shop_name" not in form_data:
            return self._fail("brand", "error.bad_request")
        name = _text_field(form_data, "shop_name", 200)
        if name is None:
            return self._fail("brand", "shopset.brand.name_invalid", max=svc.SHOP_NAME_MAX)
        accent = form_data.get("accent", "")
        if not isinstance(accent, str) or accent not in svc.ACCENT_COLORS:
            return self._fail("brand", "shopset.brand.accent_invalid")
        try:
            brand = _in_session(svc.update_brand, actor_id=self._actor_id(), shop_name=name, accent=accent)
        except DomainError as exc:
            return self._service_error("brand", exc)
        self._show_brand(brand)
        self._ok("brand", "shopset.saved")
        return BrandState.load_brand

    @rx.event
    @owner_required
    async def upload_logo(self, files: list[rx.UploadFile]):
        if (not isinstance(files, list) or len(files) != 1
                or not isinstance(files[0], StarletteUploadFile)):
            return self._fail("logo", "shopset.logo.no_file")
        stream, actor = files[0].file, self._actor_id()

        def work() -> svc.BrandView:
            data = stream.read(svc.LOGO_MAX_BYTES + 1)
            return _in_session(svc.update_logo, actor_id=actor, image=data)

        try:
            brand = await asyncio.to_thread(work)  # image decoding stays off the event loop
        except DomainError as exc:
            return self._service_error("logo", exc)
        self._show_brand(brand)
        self._ok("logo", "shopset.logo.saved")
        return BrandState.load_brand

    @rx.event
    @owner_required
    def remove_logo(self):
        try:
            brand = _in_session(svc.remove_logo, actor_id=self._actor_id())
        except DomainError as exc:
            return self._service_error("logo", exc)
        self._show_brand(brand)
        self._ok("logo", "shopset.logo.removed")
        return BrandState.load_brand

    # ---- home blocks -----------------------------------------------------------------------
    @rx.event
    @owner_required
    def move_block(self, block: str, delta: int):
        if not isinstance(block, str) or block not in svc.HOME_BLOCKS:
            return self._fail("home", "shopset.home.unknown_block")
        if delta not in (-1, 1) or isinstance(delta, bool):
            return self._fail("home", "error.bad_request")
        try:
            layout = _in_session(svc.move_home_block, actor_id=self._actor_id(), block=block, delta=delta)
        except DomainError as exc:
            return self._service_error("home", exc)
        self._show_layout(layout)
        self._ok("home", "shopset.saved")

    @rx.event
    @owner_required
    def toggle_block(self, block: str):
        if not isinstance(block, str) or block not in svc.HOME_BLOCKS:
            return self._fail("home", "shopset.home.unknown_block")
        shown = not any(b["name"] == block and b["shown"] for b in self.home_blocks)
        try:
            layout = _in_session(svc.set_home_block_shown, actor_id=self._actor_id(), block=block, shown=shown)
        except DomainError as exc:
            return self._service_error("home", exc)
        self._show_layout(layout)
        self._ok("home", "shopset.saved")

    @rx.event
    @owner_required
    def save_featured(self, form_data: dict):
        if not isinstance(form_data, dict) or len(form_data) > 400:
            return self._fail("featured", "error.bad_request")
        ranks: dict[int, int] = {}
        for field, raw in form_data.items():
            if not isinstance(field, str) or not field.startswith("rank_"):
                return self._fail("featured", "error.bad_request")  # the form has rank fields only
            course_id = parse_int_in(field[len("rank_"):], 1, 2**31 - 1)
            if course_id is None:
                return self._fail("featured", "error.bad_request")
            if raw == "" or (isinstance(raw, str) and not raw.strip()):
                continue
            rank = parse_int_in(raw, 1, svc.FEATURED_RANK_MAX)
            if rank is None:
                return self._fail("featured", "shopset.featured.rank_invalid", max=svc.FEATURED_RANK_MAX)
            ranks[course_id] = rank
        try:
            rows = _in_session(svc.set_featured, actor_id=self._actor_id(), ranks=ranks)
        except DomainError as exc:
            return self._service_error("featured", exc)
        self._show_featured(rows)
        self.form_key += 1
        self._ok("featured", "shopset.saved")

    # ---- policies --------------------------------------------------------------------------
    @rx.event
    @owner_required
    def save_policy_text(self, form_data: dict):
        if not isinstance(form_data, dict):
            return self._fail("policy", "error.bad_request")
        kind = form_data.get("kind")
        if not isinstance(kind, str) or kind not in svc.POLICY_KINDS:
            return self._fail("policy", "shopset.policy.unknown")
        text = _text_field(form_data, "text", svc.POLICY_MAX * 2)
        if text is None:
            return self._fail("policy", "shopset.policy.too_long", max=svc.POLICY_MAX)
        try:
            view = _in_session(svc.update_policy, actor_id=self._actor_id(), kind=kind, text=text)
        except DomainError as exc:
            return self._service_error("policy", exc)
        self.policy_texts = {**self.policy_texts, kind: view.text}
        self._ok("policy", "shopset.policy.saved")

    # ---- payment channels --------------------------------------------------------------------
    @rx.event
    @owner_required
    def save_payment_channels(self, form_data: dict):
        if not isinstance(form_data, dict):
            return self._fail("pay", "error.bad_request")
        enabled = []
        for name in svc.PAY_CHANNELS:
            on = form_checked(form_data.get(f"enable_{name}", ""))
            if on is None:
                return self._fail("pay", "error.bad_request")
            if on:
                enabled.append(name)
        sections: dict[str, dict[str, str]] = {"alipay": {}, "wechat": {}}
        clear: list[str] = []
        if any(f"{section}_{field}" not in form_data for section, field in PAY_FIELDS):
            return self._fail("pay", "error.bad_request")  # the form always sends every input (maybe empty)
        for section, field in PAY_FIELDS:
            value = _text_field(form_data, f"{section}_{field}", svc.PEM_MAX)
            if value is None:
                return self._fail("pay", "shopset.pay.field_too_long", field=f"{section}.{field}")
            sections[section][field] = value
            if field in svc.SECRET_FIELDS[section]:
                wipe = form_checked(form_data.get(f"clear_{section}_{field}", ""))
                if wipe is None:
                    return self._fail("pay", "error.bad_request")
                if wipe:
                    clear.append(f"{section}.{field}")
        try:
            view = _in_session(svc.update_payment_channels, actor_id=self._actor_id(), enabled=enabled,
                               alipay=sections["alipay"], wechat=sections["wechat"], clear=clear)
        except DomainError as exc:
            return self._service_error("pay", exc)
        self._show_pay(view)
        self.form_key += 1  # empties the secret inputs
        self._ok("pay", "shopset.pay.saved")

    # ---- templates ---------------------------------------------------------------------------
    def _template_action(self, service: Callable[..., Any], key: object, ok_code: str = "") -> None:
        """Show template `key` after `service` (view or reset); a fresh form either way."""
        if not isinstance(key, str) or key not in messages_service.template_keys():
            return self._fail("tpl", "shopset.tpl.unknown")
        try:
            view = _in_session(service, actor_id=self._actor_id(), key=key)
        except DomainError as exc:
            return self._service_error("tpl", exc)
        self._show_template(view)
        self.form_key += 1
        if ok_code:
            self._ok("tpl", ok_code)
        else:
            self._clear_messages()

    @rx.event
    @owner_required
    def pick_template(self, key: str):
        return self._template_action(messages_service.template_view, key)

    @rx.event
    @owner_required
    def save_template(self, form_data: dict):
        if not isinstance(form_data, dict):
            return self._fail("tpl", "error.bad_request")
        key = form_data.get("key")
        if not isinstance(key, str) or key not in messages_service.template_keys():
            return self._fail("tpl", "shopset.tpl.unknown")
        texts: dict[str, dict[str, str]] = {}
        for lang, prefix in zip(LANGS, ("zh", "en")):
            title = _text_field(form_data, f"{prefix}_title", messages_service.TITLE_MAX * 2)
            body = _text_field(form_data, f"{prefix}_body", messages_service.BODY_MAX * 2)
            if title is None or body is None:
                return self._fail("tpl", "shopset.tpl.too_long", max=messages_service.BODY_MAX)
            texts[lang] = {"title": title, "body": body}
        try:
            view = _in_session(messages_service.update_template, actor_id=self._actor_id(), key=key, texts=texts)
        except DomainError as exc:
            return self._service_error("tpl", exc)
        self._show_template(view)
        self._ok("tpl", "shopset.tpl.saved")

    @rx.event
    @owner_required
    def reset_template(self, key: str):
        return self._template_action(messages_service.reset_template, key, "shopset.tpl.reset_done")

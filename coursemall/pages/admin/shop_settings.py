"""/admin/settings (owner only): brand, home sections and featured courses, policy texts, payment
channels (secrets write-only), message templates. Phone-first cards in tabs.

Like every page this compiles into the public bundle; `allowed` only hides the UI. The handlers
carry @owner_required (state/dashboard/shop_settings.py) and the services check the role again. Secret
inputs start empty: the stored values never reach the browser, only a mask.
"""

from __future__ import annotations

import reflex as rx

from coursemall.components.dashboard import dashboard_messages
from coursemall.components.forms import submit_button
from coursemall.components.i18n import tr
from coursemall.components.page import dashboard, shop_page
from coursemall.pages import routes
from coursemall.services.shop.shop_settings import ACCENT_COLORS, PAY_CHANNELS, POLICY_KINDS, SECRET_FIELDS
from coursemall.state.dashboard.shop_settings import PAY_FIELDS, ShopSettingsState

S = ShopSettingsState
_ACCEPT = {"image/jpeg": [".jpg", ".jpeg"], "image/png": [".png"], "image/webp": [".webp"]}
_PEM_FIELDS = ("private_key", "public_key", "cert_pem", "key_pem")


def _labelled(key: str, html_for: str, control: rx.Component, *extra: rx.Component) -> rx.Component:
    return rx.vstack(rx.el.label(tr(key), html_for=html_for, style={"font_size": "14px", "font_weight": "500"}),
                     control, *extra, spacing="1", width="100%")


def _card(title_key: str, *children: rx.Component, **props) -> rx.Component:
    return rx.card(rx.vstack(rx.heading(tr(title_key), size="4"), *children, spacing="3", width="100%"),
                   width="100%", **props)


def _hint(key: str) -> rx.Component:
    return rx.text(tr(key), size="1", color="gray")


# ---------------------------------------------------------------------------------- brand

def _brand_card() -> rx.Component:
    return _card(
        "shopset.brand.heading",
        rx.form(
            rx.vstack(
                _labelled("shopset.brand.name_label", "brand-name-input",
                          rx.input(id="brand-name-input", name="shop_name", default_value=S.brand_name,
                                   placeholder=S.default_name, max_length=30, width="100%"),
                          rx.text(tr("shopset.brand.name_hint"), S.default_name, size="1", color="gray")),
                _labelled("shopset.brand.accent_label", "brand-accent",
                          rx.select(list(ACCENT_COLORS), name="accent", default_value=S.brand_accent,
                                    id="brand-accent", width="100%")),
                rx.theme(rx.button(tr("shopset.brand.preview"), type="button", size="2", id="brand-preview"),
                         accent_color=S.brand_accent, has_background=False),
                dashboard_messages(S, "brand"),
                submit_button(tr("common.save"), id="brand-save", size="3", width="100%"),
                spacing="3", width="100%",
            ),
            key=S.form_key, on_submit=S.save_brand, reset_on_submit=False, width="100%",
        ),
    )


def _logo_card() -> rx.Component:
    return _card(
        "shopset.logo.heading",
        rx.upload(
            rx.vstack(
                rx.cond(S.brand_logo != "",
                        rx.image(src=S.brand_logo, height="64px", width="auto", object_fit="contain", id="logo-img"),
                        rx.text(tr("shopset.logo.none"), color="gray", size="2")),
                _hint("shopset.logo.hint"),
                align="center", spacing="2",
            ),
            id="logo-upload", max_files=1, multiple=False, accept=_ACCEPT,
            on_drop=S.upload_logo(rx.upload_files(upload_id="logo-upload")),
            border="1px dashed var(--gray-a7)", border_radius="12px", padding="1em", cursor="pointer", width="100%",
        ),
        rx.cond(S.brand_logo != "",
                rx.button(tr("shopset.logo.remove"), on_click=S.remove_logo, variant="soft", color_scheme="gray",
                          size="2", id="logo-remove")),
        dashboard_messages(S, "logo"),
    )


# ---------------------------------------------------------------------------------- home

def _block_row(row: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.switch(checked=row["shown"] == "1", on_change=lambda _on: S.toggle_block(row["name"]),
                  id="block-shown-" + row["name"]),
        rx.text(row["label"], size="3", weight="medium", flex="1", min_width="0"),
        rx.icon_button(rx.icon("arrow-up", size=16), on_click=S.move_block(row["name"], -1), variant="soft",
                       size="2", aria_label="up", id="block-up-" + row["name"]),
        rx.icon_button(rx.icon("arrow-down", size=16), on_click=S.move_block(row["name"], 1), variant="soft",
                       size="2", aria_label="down", id="block-down-" + row["name"]),
        align="center", spacing="2", width="100%", class_name="home-block-row",
    )


def _featured_row(row: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.input(name="rank_" + row["id"], default_value=row["rank"], placeholder="—", width="4.5em",
                 input_mode="numeric", max_length=2, id="featured-rank-" + row["id"],
                 aria_label=tr("shopset.featured.rank")),
        rx.text(row["title"], size="2", flex="1", min_width="0", style={"overflow_wrap": "anywhere"}),
        align="center", spacing="2", width="100%",
    )


def _home_tab() -> rx.Component:
    return rx.vstack(
        _card("shopset.home.heading", _hint("shopset.home.hint"),
              rx.vstack(rx.foreach(S.home_blocks, _block_row), spacing="2", width="100%", id="home-blocks"),
              dashboard_messages(S, "home")),
        _card(
            "shopset.featured.heading", _hint("shopset.featured.hint"),
            rx.cond(S.featured_rows.length() == 0, rx.text(tr("shopset.featured.empty"), color="gray", size="2")),
            rx.form(
                rx.vstack(
                    rx.foreach(S.featured_rows, _featured_row),
                    dashboard_messages(S, "featured"),
                    submit_button(tr("common.save"), id="featured-save", size="3", width="100%"),
                    spacing="2", width="100%",
                ),
                key=S.form_key, on_submit=S.save_featured, reset_on_submit=False, width="100%",
            ),
        ),
        spacing="3", width="100%",
    )


# ---------------------------------------------------------------------------------- policies

def _policy_form(kind: str) -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.hstack(rx.text(tr(f"shopset.policy.kind.{kind}"), weight="bold"), rx.spacer(),
                      rx.link(tr("shopset.policy.view"), href=routes.policy_url(kind), is_external=True, size="2"),
                      width="100%", align="center"),
            rx.el.input(type="hidden", name="kind", value=kind),
            rx.text_area(name="text", default_value=S.policy_texts[kind], rows="8", width="100%",
                         max_length=20000, id=f"policy-text-{kind}"),
            submit_button(tr("common.save"), id=f"policy-save-{kind}", size="2", width="100%"),
            spacing="2", width="100%",
        ),
        key=S.form_key, on_submit=S.save_policy_text, reset_on_submit=False, width="100%",
    )


def _policy_tab() -> rx.Component:
    return _card("shopset.policy.heading", _hint("shopset.policy.hint"), dashboard_messages(S, "policy"),
                 *[_policy_form(kind) for kind in POLICY_KINDS])


# ---------------------------------------------------------------------------------- payment channels

def _channel_switch(name: str) -> rx.Component:
    switch = rx.switch(id=f"pay-enable-{name}", name=f"enable_{name}", default_checked=S.pay_enabled.contains(name),
                       disabled=(~S.sandbox_allowed) if name == "sandbox" else False)
    return rx.hstack(switch, rx.el.label(tr(f"pay.channel.{name}"), html_for=f"pay-enable-{name}"),
                     spacing="2", align="center")


def _pay_field(section: str, field: str) -> rx.Component:
    key, id_ = f"{section}.{field}", f"pay-{section}-{field}"
    label = f"shopset.pay.field.{section}.{field}"
    if field not in SECRET_FIELDS[section]:
        return _labelled(label, id_, rx.input(id=id_, name=f"{section}_{field}", default_value=S.pay_plain[key],
                                              max_length=64, width="100%", auto_complete="off"))
    if field in _PEM_FIELDS:
        control = rx.text_area(id=id_, name=f"{section}_{field}", placeholder=S.key_status[key], rows="3",
                               width="100%", auto_complete=False, spell_check=False,
                               style={"font_family": "monospace", "font_size": "12px"})
    else:
        control = rx.input(id=id_, name=f"{section}_{field}", type="password", placeholder=S.key_status[key],
                           max_length=64, width="100%", auto_complete="new-password")
    return _labelled(
        label, id_, control,
        rx.hstack(rx.text(S.key_status[key], size="1", color="gray", id=f"{id_}-status"), rx.spacer(),
                  rx.checkbox(tr("shopset.pay.clear"), name=f"clear_{section}_{field}", size="1",
                              id=f"{id_}-clear"),
                  width="100%", align="center"),
    )


def _pay_tab() -> rx.Component:
    sections = []
    for section in ("alipay", "wechat"):
        fields = [_pay_field(s, f) for s, f in PAY_FIELDS if s == section]
        sections.append(rx.vstack(rx.heading(tr(f"shopset.pay.{section}"), size="3"), *fields,
                                  spacing="2", width="100%"))
    return _card(
        "shopset.pay.heading", _hint("shopset.pay.hint"),
        rx.cond(S.pay_from_env, rx.callout(tr("shopset.pay.from_env"), icon="info", size="1", id="pay-from-env")),
        rx.form(
            rx.vstack(
                rx.text(tr("shopset.pay.enable"), weight="medium", size="2"),
                rx.flex(*[_channel_switch(c) for c in PAY_CHANNELS], gap="4", wrap="wrap"),
                _hint("shopset.pay.sandbox_note"), _hint("shopset.pay.manual_note"),
                rx.link(tr("admin.nav.settings"), href=routes.ADMIN_PAYMENT_SETTINGS, size="2"),
                rx.separator(size="4"), sections[0], rx.separator(size="4"), sections[1],
                dashboard_messages(S, "pay"),
                submit_button(tr("common.save"), id="pay-save", size="3", width="100%"),
                spacing="3", width="100%",
            ),
            key=S.form_key, on_submit=S.save_payment_channels, reset_on_submit=False, width="100%",
        ),
    )


# ---------------------------------------------------------------------------------- templates

def _tpl_lang(prefix: str, title_var, body_var) -> rx.Component:
    return rx.vstack(
        rx.text(tr(f"shopset.tpl.{prefix}"), weight="bold", size="2"),
        _labelled("shopset.tpl.title", f"tpl-{prefix}-title",
                  rx.input(id=f"tpl-{prefix}-title", name=f"{prefix}_title", default_value=title_var,
                           max_length=120, width="100%")),
        _labelled("shopset.tpl.body", f"tpl-{prefix}-body",
                  rx.text_area(id=f"tpl-{prefix}-body", name=f"{prefix}_body", default_value=body_var, rows="4",
                               max_length=2000, width="100%")),
        spacing="2", width="100%",
    )


def _tpl_tab() -> rx.Component:
    return _card(
        "shopset.tpl.heading", _hint("shopset.tpl.hint"),
        rx.select.root(
            rx.select.trigger(placeholder=tr("shopset.tpl.pick"), width="100%", id="tpl-pick"),
            rx.select.content(rx.foreach(S.templates, lambda row: rx.select.item(row["label"], value=row["key"]))),
            value=S.tpl_key, on_change=S.pick_template,
        ),
        rx.hstack(rx.text(tr("shopset.tpl.placeholders"), size="1", color="gray"),
                  rx.code(S.tpl_placeholders, size="1", id="tpl-placeholders"),
                  rx.cond(S.tpl_custom, rx.badge(tr("shopset.tpl.custom"), color_scheme="green")),
                  wrap="wrap", spacing="2", align="center"),
        rx.form(
            rx.vstack(
                rx.el.input(type="hidden", name="key", value=S.tpl_key),
                _tpl_lang("zh", S.tpl_zh_title, S.tpl_zh_body),
                _tpl_lang("en", S.tpl_en_title, S.tpl_en_body),
                dashboard_messages(S, "tpl"),
                rx.hstack(
                    rx.button(tr("shopset.tpl.reset"), type="button", variant="soft", color_scheme="gray", size="3",
                              on_click=S.reset_template(S.tpl_key), id="tpl-reset"),
                    submit_button(tr("common.save"), id="tpl-save", size="3", flex="1"),
                    width="100%", spacing="2",
                ),
                spacing="3", width="100%",
            ),
            key=S.form_key, on_submit=S.save_template, reset_on_submit=False, width="100%",
        ),
    )


# ---------------------------------------------------------------------------------- page

def _tab(value: str) -> rx.Component:
    return rx.tabs.trigger(tr(f"shopset.tab.{value}"), value=value, id=f"shopset-tab-{value}",
                           style={"flex_shrink": "0"})


@shop_page(routes.ADMIN_SHOP_SETTINGS, "shopset.title",
           on_load=[ShopSettingsState.load_shop_settings],
           layout=dashboard(S))
def admin_shop_settings_page() -> rx.Component:
    return (
        dashboard_messages(S, "page"),
        rx.tabs.root(
            rx.tabs.list(*[_tab(v) for v in ("brand", "home", "policy", "pay", "tpl")],
                         style={"overflow_x": "auto", "flex_wrap": "nowrap"}, width="100%"),
            rx.tabs.content(rx.vstack(_brand_card(), _logo_card(), spacing="3", width="100%"), value="brand",
                            padding_top="1em"),
            rx.tabs.content(_home_tab(), value="home", padding_top="1em"),
            rx.tabs.content(_policy_tab(), value="policy", padding_top="1em"),
            rx.tabs.content(_pay_tab(), value="pay", padding_top="1em"),
            rx.tabs.content(_tpl_tab(), value="tpl", padding_top="1em"),
            default_value="brand", width="100%",
        ),
    )

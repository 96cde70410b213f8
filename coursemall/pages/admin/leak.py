"""/admin/leak: leak tracing for owner and staff (TOTP). Enter the watermark code seen in a leaked
copy → the account, its orders, devices, IPs and recent study → freeze / revoke all access /
unfreeze, each with a confirmation step and a reason. Phone first: cards, no wide tables.

The page compiles into the public bundle; `allowed` only hides the UI. The handlers carry
`@staff_required` and the services check the role again.
"""

from __future__ import annotations

import reflex as rx

from coursemall.components.dashboard import dashboard_messages
from coursemall.components.forms import submit_button
from coursemall.components.i18n import tr
from coursemall.components.page import dashboard, shop_page
from coursemall.domain.orders import OrderStatus
from coursemall.pages import routes
from coursemall.state.dashboard.leak import LeakState as S

_ORDER_STATUSES = tuple(s.value for s in OrderStatus)
_ROLES = ("learner", "instructor", "staff", "owner")


def _kv(label_key: str, value, **props) -> rx.Component:
    return rx.hstack(rx.text(tr(label_key), size="2", color="gray", flex_shrink="0"),
                     rx.text(value, size="2", word_break="break-all", **props),
                     spacing="2", align="baseline", width="100%", min_width="0")


def _section(title_key: str, items, render, id_: str) -> rx.Component:
    return rx.vstack(
        rx.heading(tr(title_key), size="4"),
        rx.cond(items.length() == 0, rx.text(tr("admin.empty"), size="2", color="gray")),
        rx.vstack(rx.foreach(items, render), spacing="2", width="100%"),
        spacing="2", width="100%", id=id_,
    )


def _search_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.el.label(tr("leak.code_label"), html_for="leak-code", font_size="0.9em", color="var(--gray-11)"),
            rx.flex(
                rx.input(name="code", id="leak-code", placeholder=tr("leak.code_placeholder"), max_length=64,
                         size="3", flex="1", min_width="12em", auto_complete="off",
                         style={"font_family": "monospace", "text_transform": "uppercase"}),
                submit_button(tr("leak.trace"), id="leak-trace", size="3"),
                gap="2", width="100%", wrap="wrap",
            ),
            spacing="1", width="100%",
        ),
        on_submit=S.trace, reset_on_submit=False, width="100%",
    )


def _status_badge() -> rx.Component:
    return rx.cond(S.is_frozen,
                   rx.badge(tr("leak.status.frozen"), color_scheme="red", id="leak-status"),
                   rx.badge(tr("leak.status.active"), color_scheme="green", id="leak-status"))


def _account_card() -> rx.Component:
    a = S.account
    return rx.card(
        rx.vstack(
            rx.hstack(rx.heading(a["nickname"], size="4", id="leak-nickname"), rx.spacer(), _status_badge(),
                      width="100%", align="center"),
            _kv("leak.col.contact", a["contact"], id="leak-contact"),
            _kv("leak.col.code", a["code"], font_family="monospace"),
            _kv("leak.col.role", rx.match(a["role"], *[(r, tr(f"role.{r}")) for r in _ROLES], a["role"])),
            _kv("leak.col.joined", a["joined"]),
            _kv("leak.col.courses", a["courses"], id="leak-courses"),
            _kv("leak.col.recent_ips", a["recent_ips"]),
            _kv("leak.col.live_devices", a["live_devices"], id="leak-live-devices"),
            rx.cond(S.is_frozen, _kv("leak.col.frozen_reason", a["frozen_reason"], color="var(--red-11)")),
            spacing="1", width="100%",
        ),
        width="100%", id="leak-account",
    )


def _action_buttons() -> rx.Component:
    return rx.flex(
        rx.cond(S.is_frozen,
                rx.button(tr("leak.unfreeze"), id="leak-unfreeze", size="2", variant="soft", color_scheme="green",
                          on_click=S.ask_action("unfreeze")),
                rx.button(tr("leak.freeze"), id="leak-freeze", size="2", color_scheme="red",
                          on_click=S.ask_action("freeze"))),
        rx.button(tr("leak.revoke"), id="leak-revoke", size="2", variant="soft", color_scheme="red",
                  on_click=S.ask_action("revoke")),
        gap="2", wrap="wrap", width="100%",
    )


def _confirm_panel() -> rx.Component:
    return rx.cond(
        S.pending != "",
        rx.card(
            rx.form(
                rx.vstack(
                    rx.text(rx.match(S.pending, *[(a, tr(f"leak.confirm.{a}")) for a in ("freeze", "revoke", "unfreeze")],
                                     ""), weight="bold", size="2", id="leak-confirm-text"),
                    rx.el.input(type="hidden", name="action", value=S.pending),
                    rx.el.label(tr("leak.reason_label"), html_for="leak-reason", font_size="0.9em",
                                color="var(--gray-11)"),
                    rx.input(name="reason", id="leak-reason", placeholder=tr("leak.reason_placeholder"),
                             max_length=200, size="2", width="100%", key=S.form_key),
                    rx.hstack(
                        rx.button(tr("leak.cancel"), type="button", id="leak-cancel", size="2", variant="soft",
                                  color_scheme="gray", on_click=S.cancel_action),
                        submit_button(tr("leak.confirm"), id="leak-confirm", size="2", color_scheme="red"),
                        justify="end", width="100%", spacing="2",
                    ),
                    spacing="2", width="100%",
                ),
                on_submit=S.confirm_action, reset_on_submit=False, width="100%",
            ),
            width="100%", id="leak-confirm-panel",
        ),
    )


def _order_row(row) -> rx.Component:
    return rx.card(rx.vstack(
        rx.hstack(rx.text(row["order_no"], size="2", weight="bold", font_family="monospace", word_break="break-all"),
                  rx.spacer(),
                  rx.badge(rx.match(row["status"], *[(s, tr(f"order.status.{s}")) for s in _ORDER_STATUSES],
                                    row["status"])),
                  width="100%", align="center"),
        _kv("leak.col.items", row["titles"]),
        _kv("leak.col.total", row["total"], weight="bold"),
        _kv("leak.col.created", row["date"]),
        spacing="1", width="100%"), width="100%", class_name="leak-order-row")


def _device_row(row) -> rx.Component:
    state = rx.match(row["state"], ("active", tr("leak.device.active")), ("revoked", tr("leak.device.revoked")),
                     ("expired", tr("leak.device.expired")), row["state"])
    color = rx.match(row["state"], ("active", "green"), ("revoked", "red"), "gray")
    return rx.card(rx.vstack(
        rx.hstack(rx.text(row["ip"], size="2", font_family="monospace"), rx.spacer(),
                  rx.badge(state, color_scheme=color), width="100%", align="center"),
        rx.text(row["agent"], size="1", color="gray", word_break="break-all"),
        _kv("leak.col.first_seen", row["created"]),
        _kv("leak.col.last_seen", row["last_seen"]),
        spacing="1", width="100%"), width="100%", class_name="leak-device-row")


def _ip_row(row) -> rx.Component:
    return rx.card(rx.vstack(
        rx.text(row["ip"], size="2", weight="bold", font_family="monospace"),
        rx.flex(_kv("leak.col.sessions", row["sessions"]), _kv("leak.col.sign_ins", row["sign_ins"]),
                _kv("leak.col.failed", row["failed"]), gap="3", wrap="wrap"),
        _kv("leak.col.last_seen", row["last_seen"]),
        spacing="1", width="100%"), width="100%", class_name="leak-ip-row")


def _study_row(row) -> rx.Component:
    return rx.card(rx.vstack(
        rx.text(row["course"], " · ", row["lesson"], size="2"),
        rx.hstack(_kv("leak.col.progress", row["percent"]), _kv("leak.col.last_seen", row["last_at"]), spacing="3"),
        spacing="1", width="100%"), width="100%", class_name="leak-study-row")


def admin_leak_body() -> rx.Component:
    return rx.vstack(
        rx.text(tr("leak.intro"), size="2", color="gray"),
        _search_form(),
        dashboard_messages(S, "search"),
        rx.cond(
            S.found,
            rx.vstack(
                _account_card(),
                _action_buttons(),
                _confirm_panel(),
                dashboard_messages(S, "actions"),
                rx.grid(
                    _section("leak.section.orders", S.orders, _order_row, "leak-orders"),
                    _section("leak.section.devices", S.devices, _device_row, "leak-devices"),
                    _section("leak.section.ips", S.ips, _ip_row, "leak-ips"),
                    _section("leak.section.study", S.study, _study_row, "leak-study"),
                    columns=rx.breakpoints(initial="1", md="2"), spacing="4", width="100%",
                ),
                spacing="3", width="100%",
            ),
            dashboard_messages(S, "actions"),
        ),
        spacing="3", width="100%",
    )


@shop_page(routes.ADMIN_LEAK, "leak.title", on_load=[S.load_leak], layout=dashboard(S))
def admin_leak() -> rx.Component:
    return (admin_leak_body())

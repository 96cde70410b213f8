"""Owner area: /admin/orders, /admin/refunds, /admin/manual-payments,
/admin/settings/payments. Phone-first cards; every string from the catalogs.

These pages compile into the public bundle like every page: `allowed` only hides the UI. The
data is protected by the guarded handlers (state/dashboard/orders.py), the services and the proof route.
"""

from __future__ import annotations

import reflex as rx

from coursemall.components.forms import submit_button
from coursemall.components.i18n import tr
from coursemall.components.dashboard import dashboard_messages
from coursemall.components.page import dashboard, shop_page
from coursemall.pages import routes
from coursemall.state.dashboard.orders import (
    ORDER_STATUSES,
    AdminManualState,
    AdminOrdersState,
    AdminPaymentSettingsState,
    AdminRefundsState,
)

_ACCEPT = {"image/jpeg": [".jpg", ".jpeg"], "image/png": [".png"], "image/webp": [".webp"]}
_messages = dashboard_messages


# ---------------------------------------------------------------------------------- pieces

def _kv(label_key: str, value, **props) -> rx.Component:
    return rx.hstack(rx.text(tr(label_key), size="2", color="gray", flex_shrink="0"),
                     rx.text(value, size="2", **props), spacing="2", align="baseline", width="100%",
                     min_width="0")


def _empty(items) -> rx.Component:
    return rx.cond(items.length() == 0, rx.text(tr("admin.empty"), color="gray", size="2", id="admin-empty"))


def order_status_label(status) -> rx.Component:
    return rx.match(status, *[(s, tr(f"order.status.{s}")) for s in ORDER_STATUSES], status)


def channel_label(channel) -> rx.Component:
    return rx.match(channel, *[(c, tr(f"pay.channel.{c}")) for c in ("sandbox", "alipay", "wechat", "manual", "free")],
                    tr("admin.channel.none"))


def _status_badge(status) -> rx.Component:
    color = rx.match(status, ("paid", "green"), ("pending", "orange"), ("refunding", "blue"),
                     ("refunded", "gray"), ("partially_refunded", "blue"), "gray")
    return rx.badge(order_status_label(status), color_scheme=color)


def _reject_form(handler, id_field: str, row_id, prefix: str, placeholder_key: str, button_key: str) -> rx.Component:
    return rx.form(
        rx.flex(
            rx.el.input(type="hidden", name=id_field, value=row_id),
            rx.input(name="reason", id=f"{prefix}-reason-{row_id}", placeholder=tr(placeholder_key),
                     max_length=200, size="2", flex="1", min_width="10em"),
            submit_button(tr(button_key), id=f"{prefix}-{row_id}", size="2", variant="soft",
                      color_scheme="red"),
            gap="2", width="100%", wrap="wrap",
        ),
        on_submit=handler, reset_on_submit=False, width="100%",
    )


# ---------------------------------------------------------------------------------- /admin/orders

CHANNELS = ("sandbox", "alipay", "wechat", "manual", "free")
_SELECT_STYLE = {"padding": "0.45em", "border-radius": "6px", "border": "1px solid var(--gray-a7)",
                 "background": "var(--color-background)", "width": "100%"}


def _order_card(row) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(rx.link(row["order_no"], href=row["href"], weight="bold", size="2", font_family="monospace",
                              word_break="break-all", id=f"order-link-{row['order_no']}"),
                      rx.spacer(), _status_badge(row["status"]), width="100%", align="center"),
            _kv("admin.col.learner", row["learner"]),
            _kv("ops.col.contact", row["contact"], word_break="break-all"),
            _kv("ops.col.courses", row["titles"], word_break="break-word"),
            _kv("admin.col.total", row["total"], weight="bold"),
            _kv("admin.col.channel", channel_label(row["channel"])),
            _kv("admin.col.date", row["date"]),
            spacing="1", width="100%",
        ),
        width="100%", class_name="admin-order-row",
    )


def _labelled_field(label_key: str, field_id: str, control: rx.Component) -> rx.Component:
    return rx.vstack(rx.el.label(tr(label_key), html_for=field_id, font_size="0.85em", color="var(--gray-11)"),
                     control, spacing="1", width="100%")


def _orders_filter() -> rx.Component:
    s = AdminOrdersState
    return rx.form(
        rx.grid(
            _labelled_field("admin.orders.filter", "admin-order-status", rx.el.select(
                rx.el.option(tr("admin.orders.all"), value=""),
                *[rx.el.option(tr(f"order.status.{st}"), value=st) for st in ORDER_STATUSES],
                # a status applies at once (keeping the other filters); the rest with the search button
                id="admin-order-status", name="status", default_value=s.status_filter, style=_SELECT_STYLE,
                on_change=s.filter_orders)),
            _labelled_field("admin.col.channel", "admin-order-channel", rx.el.select(
                rx.el.option(tr("admin.orders.all"), value=""),
                *[rx.el.option(tr(f"pay.channel.{c}"), value=c) for c in CHANNELS],
                id="admin-order-channel", name="channel", default_value=s.channel_filter, style=_SELECT_STYLE)),
            _labelled_field("ops.orders.date_from", "admin-order-from",
                            rx.input(type="date", id="admin-order-from", name="date_from",
                                     default_value=s.date_from, width="100%")),
            _labelled_field("ops.orders.date_to", "admin-order-to",
                            rx.input(type="date", id="admin-order-to", name="date_to", default_value=s.date_to,
                                     width="100%")),
            columns=rx.breakpoints(initial="2", md="4"), spacing="2", width="100%",
        ),
        rx.hstack(
            rx.input(name="q", id="admin-order-q", default_value=s.q, placeholder=tr("ops.orders.search_hint"),
                     max_length=60, flex="1", min_width="10em"),
            submit_button(tr("ops.search"), id="admin-order-search"),
            spacing="2", width="100%", margin_top="0.5em",
        ),
        key=s.form_key, on_submit=s.search_orders, reset_on_submit=False, width="100%",
    )


def _totals(s) -> rx.Component:
    return rx.card(rx.flex(
        rx.text(tr("ops.orders.count"), ": ", rx.text.strong(s.count, id="orders-count"), size="2"),
        rx.text(tr("ops.orders.sum_total"), ": ", rx.text.strong(s.sum_total, id="orders-sum-total"), size="2"),
        rx.text(tr("ops.orders.sum_paid"), ": ", rx.text.strong(s.sum_paid, id="orders-sum-paid"), size="2"),
        rx.text(tr("ops.orders.sum_refunded"), ": ", rx.text.strong(s.sum_refunded, id="orders-sum-refunded"),
                size="2"),
        gap="3", wrap="wrap", width="100%",
    ), width="100%")


def pager(s, handler, prefix: str) -> rx.Component:
    """Previous / page x of y / next, for a state with `page` and `pages`."""
    return rx.hstack(
        rx.button(tr("ops.prev"), id=f"{prefix}-prev", size="2", variant="soft", disabled=s.page <= 1,
                  on_click=handler(s.page - 1)),
        rx.text(s.page, " / ", s.pages, size="2", id=f"{prefix}-page"),
        rx.button(tr("ops.next"), id=f"{prefix}-next", size="2", variant="soft", disabled=s.page >= s.pages,
                  on_click=handler(s.page + 1)),
        spacing="3", align="center", justify="center", width="100%",
    )


@shop_page(routes.ADMIN_ORDERS, "admin.orders.title",
           on_load=[AdminOrdersState.load_orders],
           layout=dashboard(AdminOrdersState))
def admin_orders_page() -> rx.Component:
    s = AdminOrdersState
    return (
        _orders_filter(),
        rx.hstack(rx.link(rx.button(tr("ops.export_csv"), variant="outline", size="2"), href=s.csv_url,
                          is_external=True, id="orders-export"),
                  justify="end", width="100%"),
        _messages(s, "list"),
        _totals(s),
        _empty(s.orders),
        rx.grid(rx.foreach(s.orders, _order_card),
                columns=rx.breakpoints(initial="1", md="2"), spacing="3", width="100%"),
        pager(s, s.goto_orders_page, "orders"),
    )


# ---------------------------------------------------------------------------------- /admin/refunds

def _policy_outcome(outcome) -> rx.Component:
    return rx.badge(rx.match(outcome,
                             ("review", tr("admin.policy.outcome.review")),
                             ("auto_approve", tr("admin.policy.outcome.auto_approve")),
                             ("auto_late_duplicate", tr("admin.policy.outcome.auto_late_duplicate")),
                             ("review_limit", tr("admin.policy.outcome.review_limit")),
                             ("auto_extra_payment", tr("admin.policy.outcome.auto_extra_payment")),
                             ("staff", tr("admin.policy.outcome.staff")),
                             outcome), color_scheme="orange")


def _refund_card(row) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(rx.text(row["order_no"], weight="bold", size="2", font_family="monospace",
                              word_break="break-all"),
                      rx.spacer(), _policy_outcome(row["policy_outcome"]), width="100%", align="center"),
            _kv("admin.col.learner", row["learner"]),
            _kv("admin.col.amount", row["amount"], weight="bold", color="var(--red-11)"),
            _kv("admin.col.reason", row["reason"], word_break="break-word"),
            _kv("admin.col.consumed", row["consumed"], class_name="admin-refund-consumed"),
            _kv("admin.col.date", row["date"]),
            rx.button(tr("admin.refunds.approve"), id=f"refund-approve-{row['id']}", size="2", width="100%",
                      on_click=AdminRefundsState.approve_refund(row["id"]), color_scheme="green"),
            _reject_form(AdminRefundsState.reject_refund, "refund_id", row["id"], "refund-reject",
                         "admin.refunds.reject_placeholder", "admin.refunds.reject"),
            spacing="2", width="100%",
        ),
        width="100%", class_name="admin-refund-row", key=row["id"],
    )


def _in_flight_card(row) -> rx.Component:
    """A refund decided but not finished: the job retries it, or it waits for the owner."""
    waiting = row["status"] == "attention"
    return rx.card(
        rx.vstack(
            rx.hstack(rx.text(row["order_no"], weight="bold", size="2", font_family="monospace",
                              word_break="break-all"),
                      rx.spacer(),
                      rx.badge(row["status_text"], color_scheme=rx.cond(waiting, "red", "orange"),
                               class_name="refund-flight-status"),
                      width="100%", align="center"),
            rx.text(rx.cond(row["kind"] == "extra", tr("admin.refunds.kind.extra"), tr("admin.refunds.kind.order")),
                    size="2", color="gray"),
            _kv("admin.col.learner", row["learner"]),
            _kv("admin.col.amount", row["amount"], weight="bold", color="var(--red-11)"),
            _kv("admin.col.channel", channel_label(row["channel"])),
            _kv("admin.refunds.attempts", row["attempts"], class_name="refund-attempts"),
            rx.cond(row["reason"] != "",
                    _kv("admin.refunds.last_reason", row["reason"], word_break="break-word",
                        class_name="refund-last-reason")),
            rx.cond(row["next"] != "", _kv("admin.refunds.next_attempt", row["next"])),
            _kv("admin.col.date", row["date"]),
            rx.cond(waiting, rx.vstack(
                rx.text(tr("admin.refunds.by_hand_hint"), size="1", color="gray"),
                rx.button(tr("admin.refunds.by_hand"), id=f"refund-by-hand-{row['id']}", size="2", width="100%",
                          on_click=AdminRefundsState.mark_refunded_by_hand(row["id"]), color_scheme="green"),
                rx.cond(row["can_retry"] == "1",
                        rx.button(tr("admin.refunds.retry"), id=f"refund-retry-{row['id']}", size="2",
                                  width="100%", variant="soft",
                                  on_click=AdminRefundsState.retry_refund(row["id"]))),
                spacing="2", width="100%")),
            spacing="2", width="100%",
        ),
        width="100%", class_name="admin-refund-flight-row", key=row["id"],
    )


def _in_flight_section() -> rx.Component:
    s = AdminRefundsState
    return rx.fragment(_messages(s, "flight"), rx.cond(s.in_flight.length() > 0, rx.vstack(
        rx.heading(tr("admin.refunds.in_flight"), size="4"),
        rx.text(tr("admin.refunds.in_flight_hint"), size="2", color="gray"),
        rx.grid(rx.foreach(s.in_flight, _in_flight_card), columns=rx.breakpoints(initial="1", md="2"),
                spacing="3", width="100%"),
        spacing="3", width="100%", id="refunds-in-flight",
    )))


def _labelled(label_key: str, id_: str, control: rx.Component) -> rx.Component:
    return rx.vstack(rx.el.label(tr(label_key), html_for=id_, font_size="0.9em", color="var(--gray-11)"),
                     control, spacing="1", width="100%")


def _policy_form() -> rx.Component:
    s = AdminRefundsState
    return rx.card(rx.vstack(
        rx.heading(tr("admin.policy.title"), size="4"),
        rx.text(tr("admin.policy.hint"), size="2", color="gray"),
        rx.cond(~s.is_owner, rx.badge(tr("admin.owner_only"), color_scheme="gray", id="policy-owner-only")),
        rx.form(
            rx.vstack(
                rx.hstack(
                    rx.switch(id="policy-auto", name="auto_approve", default_checked=s.policy_auto),
                    rx.el.label(tr("admin.policy.auto"), html_for="policy-auto"),
                    spacing="2", align="center",
                ),
                _labelled("admin.policy.days", "policy-days",
                          rx.input(id="policy-days", name="within_days", type="number", min=0, max=365,
                                   default_value=s.policy_days, size="3", width="100%", input_mode="numeric")),
                _labelled("admin.policy.progress", "policy-progress",
                          rx.input(id="policy-progress", name="max_progress_pct", type="number", min=0, max=100,
                                   default_value=s.policy_progress, size="3", width="100%",
                                   input_mode="numeric")),
                _labelled("admin.policy.window", "policy-window",
                          rx.input(id="policy-window", name="request_window_days", type="number", min=0,
                                   max=3650, default_value=s.policy_window, size="3", width="100%",
                                   input_mode="numeric")),
                _messages(s, "policy"),
                submit_button(tr("common.save"), id="policy-save", size="3", width="100%"),
                spacing="3", width="100%",
            ),
            # Remount the uncontrolled inputs whenever the state loads a policy.
            key=s.form_key, on_submit=s.save_policy, reset_on_submit=False, width="100%",
        ),
        spacing="3", width="100%",
    ), width="100%", id="policy-card")


@shop_page(routes.ADMIN_REFUNDS, "admin.refunds.title",
           on_load=[AdminRefundsState.load_refunds],
           layout=dashboard(AdminRefundsState))
def admin_refunds_page() -> rx.Component:
    return (
        _messages(AdminRefundsState, "queue"),
        _empty(AdminRefundsState.refunds),
        rx.grid(rx.foreach(AdminRefundsState.refunds, _refund_card),
                columns=rx.breakpoints(initial="1", md="2"), spacing="3", width="100%"),
        _in_flight_section(),
        _policy_form(),
    )


# ---------------------------------------------------------------------------------- /admin/manual-payments

def _manual_card(row) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.link(rx.image(src=row["proof_url"], alt=tr("admin.col.proof"), width="88px", height="88px",
                                 object_fit="cover", border_radius="8px", id=f"manual-proof-{row['id']}"),
                        href=row["proof_url"], is_external=True, flex_shrink="0"),
                rx.vstack(
                    rx.text(row["order_no"], weight="bold", size="2", font_family="monospace",
                            word_break="break-all"),
                    _kv("admin.col.learner", row["learner"]),
                    _kv("admin.col.total", row["amount"], weight="bold"),
                    _kv("admin.col.reference", row["reference"], word_break="break-word"),
                    _kv("admin.col.date", row["date"]),
                    spacing="1", min_width="0", flex="1",
                ),
                spacing="3", width="100%", align="start",
            ),
            rx.button(tr("admin.manual.confirm"), id=f"manual-confirm-{row['id']}", size="2", width="100%",
                      on_click=AdminManualState.confirm_manual(row["id"]), color_scheme="green"),
            _reject_form(AdminManualState.reject_manual, "manual_payment_id", row["id"], "manual-reject",
                         "admin.manual.reject_placeholder", "admin.manual.reject"),
            spacing="2", width="100%",
        ),
        width="100%", class_name="admin-manual-row", key=row["id"],
    )


@shop_page(routes.ADMIN_MANUAL, "admin.manual.title",
           on_load=[AdminManualState.load_manual],
           layout=dashboard(AdminManualState))
def admin_manual_page() -> rx.Component:
    return (
        _messages(AdminManualState, "queue"),
        _empty(AdminManualState.payments),
        rx.grid(rx.foreach(AdminManualState.payments, _manual_card),
                columns=rx.breakpoints(initial="1", md="2"), spacing="3", width="100%"),
    )


# ---------------------------------------------------------------------------------- /admin/settings/payments

@shop_page(routes.ADMIN_PAYMENT_SETTINGS, "admin.settings.title",
           on_load=[AdminPaymentSettingsState.load_payment_settings],
           layout=dashboard(AdminPaymentSettingsState))
def admin_payment_settings_page() -> rx.Component:
    s = AdminPaymentSettingsState
    return (
        rx.cond(~s.is_owner, rx.callout(tr("admin.owner_only"), icon="info", id="settings-owner-only",
                                        width="100%")),
        rx.card(rx.vstack(
            rx.heading(tr("admin.settings.qr"), size="4"),
            rx.upload(
                rx.vstack(
                    rx.cond(s.qr_url != "",
                            rx.image(src=s.qr_url, width="180px", height="180px", object_fit="contain",
                                     id="manual-qr-img"),
                            rx.text(tr("admin.settings.no_qr"), color="gray", size="2")),
                    rx.text(tr("admin.settings.qr_hint"), size="1", color="gray", text_align="center"),
                    align="center", spacing="2",
                ),
                id="manual-qr-upload", max_files=1, multiple=False, accept=_ACCEPT,
                on_drop=s.upload_qr(rx.upload_files(upload_id="manual-qr-upload")),
                border="1px dashed var(--gray-a7)", border_radius="12px", padding="1em", cursor="pointer",
                width="100%",
            ),
            _messages(s, "qr"),
            spacing="3", width="100%",
        ), width="100%"),
        rx.card(rx.form(
            rx.vstack(
                rx.hstack(
                    rx.switch(id="manual-enabled", name="enabled", default_checked=s.manual_enabled),
                    rx.el.label(tr("admin.settings.enabled"), html_for="manual-enabled"),
                    spacing="2", align="center",
                ),
                _labelled("admin.settings.instructions", "manual-instructions",
                          rx.text_area(id="manual-instructions", name="instructions", default_value=s.instructions,
                                       max_length=500, rows="4", width="100%")),
                _messages(s, "settings"),
                submit_button(tr("common.save"), id="manual-settings-save", size="3", width="100%"),
                spacing="3", width="100%",
            ),
            key=s.form_key, on_submit=s.save_payment_settings, reset_on_submit=False, width="100%",
        ), width="100%"),
    )

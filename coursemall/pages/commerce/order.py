"""/order/[order_no]: the learner's order — status, lines, pay (channel choice), cancel,
manual-transfer proof, start learning, refund request and refund history."""

from __future__ import annotations

import reflex as rx

from coursemall.components.forms import submit_button
from coursemall.components.i18n import tr
from coursemall.components.shop import CARD, form_messages, page_column, section, status_badge
from coursemall.components.page import shop_page
from coursemall.components.theme import ACCENT
from coursemall.pages import routes
from coursemall.state.commerce.shop import OrderState

_ACCEPT = {"image/jpeg": [".jpg", ".jpeg"], "image/png": [".png"], "image/webp": [".webp"]}
PROOF_UPLOAD = "proof-upload"


def _summary() -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.heading(tr("order.title"), size="5"),
            rx.spacer(),
            status_badge(OrderState.status, OrderState.status_text, id="order-status"),
            width="100%", align="center",
        ),
        rx.vstack(
            rx.text(tr("order.number"), ": ", rx.code(OrderState.order_no, id="order-no"), size="2",
                    color="gray"),
            rx.text(tr("order.created"), ": ", OrderState.created, size="2", color="gray"),
            rx.cond(OrderState.paid_at != "",
                    rx.text(tr("order.paid_at"), ": ", OrderState.paid_at, " · ", OrderState.channel_text,
                            size="2", color="gray")),
            rx.cond(OrderState.expires_text != "",
                    rx.hstack(rx.icon("clock", size=14, color=ACCENT),
                              rx.text(OrderState.expires_text, size="2", color=ACCENT, id="order-expires"),
                              spacing="1", align="center")),
            spacing="1", margin_top="0.5em",
        ),
        style=CARD,
    )


def _line(ln: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.cond(ln["href"] != "",
                    rx.link(ln["title"], href=ln["href"], size="2", weight="medium", color="inherit"),
                    rx.text(ln["title"], size="2", weight="medium")),
            rx.hstack(
                rx.text(ln["price"], size="2", color=ACCENT, weight="bold"),
                rx.cond(ln["original"] != "",
                        rx.text(ln["original"], size="1", color="gray", text_decoration="line-through")),
                rx.cond(ln["refund"] != "", rx.badge(ln["refund"], color_scheme="gray", size="1")),
                spacing="2", align="center",
            ),
            spacing="1", flex="1", min_width="0",
        ),
        rx.cond(ln["learn"] == "1",
                rx.link(rx.button(rx.icon("circle-play", size=14), tr("order.start_learning"), size="2",
                                  radius="full", color_scheme="green"),
                        href=ln["href"], underline="none", class_name="order-start-learning")),
        width="100%", align="center", spacing="3", padding_y="0.5em",
        border_bottom="1px solid var(--gray-a3)", class_name="order-line",
    )


def _lines() -> rx.Component:
    return rx.box(
        rx.foreach(OrderState.lines, _line),
        rx.hstack(
            rx.text(tr("order.total"), size="3"),
            rx.spacer(),
            rx.text(OrderState.total, size="6", weight="bold", color=ACCENT, id="order-total"),
            width="100%", align="center", padding_top="0.6em",
        ),
        rx.cond(OrderState.refunded != "",
                rx.hstack(rx.text(tr("order.refunded"), size="2", color="gray"), rx.spacer(),
                          rx.text(OrderState.refunded, size="2", color="gray", id="order-refunded"),
                          width="100%")),
        style=CARD,
    )


def _channel_option(c: rx.Var) -> rx.Component:
    return rx.el.label(
        rx.hstack(
            rx.el.input(type="radio", name="channel", value=c["name"],
                        default_checked=c["name"] == OrderState.default_channel,
                        style={"width": "18px", "height": "18px", "accent_color": ACCENT}),
            rx.text(c["label"], size="3"),
            rx.cond(c["test"] == "1",
                    rx.badge(rx.icon("flask-conical", size=12), tr("order.test_mode"), color_scheme="amber",
                             size="1", id="test-mode-badge")),
            spacing="2", align="center",
        ),
        display="block", padding="0.7em 0.4em", border_bottom="1px solid var(--gray-a3)", cursor="pointer",
        class_name="channel-option",
    )


def _pay_box() -> rx.Component:
    return section(
        "order.choose_channel",
        rx.form(
            rx.vstack(
                rx.box(rx.foreach(OrderState.channels, _channel_option), width="100%"),
                rx.cond(OrderState.channels.length() == 0,
                        rx.text(tr("pay.channel_unavailable"), size="2", color="gray")),
                rx.cond(OrderState.test_mode,
                        rx.text(tr("order.test_mode_note"), size="1", color="gray", id="test-mode-note")),
                rx.hstack(
                    rx.button(tr("order.cancel"), type="button", variant="soft", color_scheme="gray",
                              size="3", radius="full", id="cancel-order", on_click=OrderState.cancel_order),
                    submit_button(rx.icon("wallet", size=16), tr("order.pay"), " ", OrderState.total,
                              size="3", radius="full", id="pay", flex="1",
                              disabled=OrderState.channels.length() == 0),
                    width="100%", spacing="2",
                ),
                spacing="3", width="100%",
            ),
            on_submit=OrderState.pay, reset_on_submit=False, width="100%",
        ),
        rx.cond(OrderState.pay_kind == "redirect",
                rx.hstack(rx.spinner(size="2"), rx.text(tr("order.redirecting"), size="2"),
                          align="center", spacing="2", margin_top="0.6em")),
        rx.cond(OrderState.pay_kind == "qr", _qr_box()),
        rx.cond(OrderState.pay_kind == "manual", _manual_box()),
        rx.button(rx.icon("refresh-cw", size=14), tr("order.refresh"), variant="ghost", size="2",
                  id="order-refresh", on_click=OrderState.load_order, margin_top="0.6em"),
        id="pay-box",
    )


def _qr_box() -> rx.Component:
    return rx.vstack(
        rx.image(src=OrderState.pay_qr, width="220px", height="220px", id="pay-qr", alt="QR"),
        rx.text(tr("order.scan_wechat"), size="2", color="gray"),
        align="center", width="100%", margin_top="0.8em",
    )


def _manual_box() -> rx.Component:
    return rx.vstack(
        rx.heading(tr("order.manual_title"), size="3"),
        rx.text(tr("order.manual_steps"), size="2", color="gray"),
        rx.cond(OrderState.manual_qr != "",
                rx.image(src=OrderState.manual_qr, width="220px", id="manual-qr", alt="QR",
                         border_radius="8px", align_self="center")),
        rx.cond(OrderState.manual_instructions != "",
                rx.text(OrderState.manual_instructions, size="2", style={"white_space": "pre-line"},
                        id="manual-instructions")),
        rx.cond(
            OrderState.proof_waiting,
            rx.callout(tr("order.proof_submitted"), icon="clock", color_scheme="blue", width="100%"),
            rx.vstack(
                rx.upload(
                    rx.vstack(
                        rx.icon("upload", size=22, color="var(--gray-9)"),
                        rx.text(tr("order.proof_pick"), size="2", color="gray", text_align="center"),
                        rx.foreach(rx.selected_files(PROOF_UPLOAD),
                                   lambda f: rx.text(f, size="1", weight="medium")),
                        align="center", spacing="1",
                    ),
                    id=PROOF_UPLOAD, max_files=1, multiple=False, accept=_ACCEPT,
                    border="1px dashed var(--gray-a7)", border_radius="12px", padding="1em",
                    width="100%", cursor="pointer",
                ),
                rx.el.label(tr("order.proof_reference"), html_for="proof-reference", font_size="0.9em"),
                rx.input(id="proof-reference", value=OrderState.proof_reference,
                         on_change=OrderState.edit_proof_reference, max_length=64, size="3", width="100%"),
                rx.button(tr("order.proof_submit"), id="proof-submit", size="3", radius="full", width="100%",
                          on_click=OrderState.submit_proof(rx.upload_files(upload_id=PROOF_UPLOAD))),
                spacing="2", width="100%",
            ),
        ),
        spacing="3", width="100%", margin_top="0.8em", padding_top="0.8em",
        border_top="1px solid var(--gray-a4)", id="manual-box",
    )


def _refund_line(ln: rx.Var) -> rx.Component:
    return rx.cond(
        ln["refundable"] == "1",
        rx.el.label(
            rx.hstack(
                rx.el.input(type="checkbox", name="line-" + ln["id"], default_checked=True,
                            class_name="refund-line",
                            style={"width": "18px", "height": "18px", "accent_color": ACCENT}),
                rx.text(ln["title"], size="2", flex="1"),
                rx.text(ln["price"], size="2", color="gray"),
                spacing="2", align="center", width="100%",
            ),
            display="block", padding_y="0.4em", cursor="pointer",
        ),
    )


def _refund_box() -> rx.Component:
    return section(
        "order.refund_title",
        rx.form(
            rx.vstack(
                rx.text(tr("order.refund_lines"), size="2", color="gray"),
                rx.box(rx.foreach(OrderState.lines, _refund_line), width="100%"),
                rx.link(tr("shopset.refund_rules_link"), href=routes.policy_url("refund"), id="refund-rules-link",
                        size="1"),
                rx.el.label(tr("order.refund_reason"), html_for="refund-reason", font_size="0.9em"),
                rx.text_area(id="refund-reason", name="reason", max_length=200, width="100%", rows="3",
                             placeholder=tr("order.refund_reason_ph")),
                submit_button(tr("order.refund_submit"), id="refund-submit", size="3",
                          radius="full", width="100%", color_scheme="red", variant="soft"),
                spacing="2", width="100%",
            ),
            on_submit=OrderState.request_refund, reset_on_submit=True, width="100%",
        ),
        id="refund-box",
    )


def _refund_row(r: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.hstack(rx.text(r["amount"], weight="bold", size="2"),
                  rx.badge(r["status"], size="1", class_name="refund-status",
                           color_scheme=rx.match(r["status_key"], ("succeeded", "green"), ("rejected", "red"),
                                                 ("failed", "red"), "orange")),
                  rx.spacer(), rx.text(r["date"], size="1", color="gray"), width="100%", align="center"),
        rx.text(r["reason"], size="1", color="gray"),
        rx.cond(r["decision"] != "", rx.text(r["decision"], size="1", color="gray")),
        spacing="1", width="100%", padding_y="0.4em", border_bottom="1px solid var(--gray-a3)",
        class_name="refund-row",
    )


def _extra_payment_row(p: rx.Var) -> rx.Component:
    """A payment that did not pay this order (a second one, or through another channel) and how
    its automatic return is going."""
    return rx.vstack(
        rx.text(p["text"], size="2"),
        rx.hstack(rx.badge(p["status"], size="1", class_name="extra-payment-status",
                           color_scheme=rx.match(p["status_key"], ("succeeded", "green"), "orange")),
                  rx.spacer(), rx.text(p["date"], size="1", color="gray"), width="100%", align="center"),
        spacing="1", width="100%", padding_y="0.4em", border_bottom="1px solid var(--gray-a3)",
        class_name="extra-payment-row",
    )


def order_body() -> rx.Component:
    return page_column(
        rx.hstack(rx.link(rx.hstack(rx.icon("chevron-left", size=16), tr("order.my_orders"), spacing="1",
                                    align="center"), href=routes.ORDERS, size="2", id="back-to-orders"),
                  width="100%"),
        form_messages(OrderState),
        rx.cond(
            OrderState.loaded,
            rx.cond(
                OrderState.not_found,
                rx.center(rx.vstack(rx.icon("receipt", size=40, color="var(--gray-8)"),
                                    rx.text(tr("order.not_found_hint"), color="gray"), align="center"),
                          padding="3em", width="100%"),
                rx.vstack(
                    _summary(),
                    _lines(),
                    rx.cond(OrderState.can_pay, _pay_box()),
                    rx.cond(OrderState.status == "paid",
                            rx.callout(tr("order.paid_note"), icon="circle_check", color_scheme="green",
                                       width="100%", id="order-paid-note")),
                    rx.cond(OrderState.can_refund, _refund_box()),
                    rx.cond(OrderState.refunds.length() > 0,
                            section("order.refunds", rx.foreach(OrderState.refunds, _refund_row),
                                    id="refund-list")),
                    rx.cond(OrderState.extra_payments.length() > 0,
                            section("order.extra_payments", rx.foreach(OrderState.extra_payments,
                                                                       _extra_payment_row),
                                    id="extra-payments")),
                    spacing="4", width="100%",
                ),
            ),
            rx.center(rx.spinner(size="3"), padding="3em", width="100%"),
        ),
    )


@shop_page(routes.ORDER, "page.title.order", on_load=[OrderState.load_order])
def order_page() -> rx.Component:
    return order_body()

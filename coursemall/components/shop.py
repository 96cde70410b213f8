"""Small stateless pieces shared by the learner's shop pages (cart, order, cashier, orders, messages)."""

from __future__ import annotations

import reflex as rx

from coursemall.components.i18n import tr

CARD = {"background": "var(--color-panel-solid)", "border_radius": "14px", "padding": "1em",
        "box_shadow": "0 1px 3px rgba(0,0,0,0.06)", "width": "100%"}


def form_messages(state, section: str | None = None, *, size: str | None = None,
                  success: rx.Component | None = None) -> rx.Component:
    """The `#form-error` / `#form-success` callouts bound to a state's error/success vars (the one
    implementation for every page). `section`: only when `state.section == section` (a page with several
    forms); `success`: what the success callout shows instead of the bare text (e.g. with a link)."""
    props = {"size": size} if size else {}
    block = rx.fragment(
        rx.cond(state.error != "",
                rx.callout(state.error, icon="triangle_alert", color_scheme="red", role="alert",
                           id="form-error", width="100%", **props)),
        rx.cond(state.success != "",
                rx.callout(state.success if success is None else success, icon="circle_check",
                           color_scheme="green", role="status", id="form-success", width="100%", **props)),
    )
    return block if section is None else rx.cond(state.section == section, block)


def status_color(status) -> rx.Var:
    return rx.match(status, ("pending", "orange"), ("paid", "green"), ("refunding", "blue"),
                    ("partially_refunded", "purple"), ("refunded", "gray"), "gray")


def status_badge(status, text, **props) -> rx.Component:
    return rx.badge(text, color_scheme=status_color(status), size="2", variant="soft", **props)


def section(title_key: str, *children: rx.Component, **props) -> rx.Component:
    return rx.box(
        rx.heading(tr(title_key), size="4", margin_bottom="0.6em"),
        *children,
        style=CARD, **props,
    )


def page_column(*children: rx.Component) -> rx.Component:
    return rx.center(rx.vstack(*children, spacing="4", width="100%", max_width="560px"), width="100%")

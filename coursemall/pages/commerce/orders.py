"""/orders[?status=...]: the learner's orders with status, total and date."""

from __future__ import annotations

import reflex as rx

from coursemall.components.i18n import tr
from coursemall.components.shop import CARD, form_messages, page_column, status_badge
from coursemall.components.page import shop_page
from coursemall.components.theme import ACCENT
from coursemall.pages import routes
from coursemall.state.commerce.shop import MyOrdersState

FILTERS = (("", "orders.all"), ("pending", "order.status.pending"), ("paid", "order.status.paid"),
           ("refunded", "order.status.refunded"), ("closed", "order.status.closed"))


def _filter(status: str, key: str) -> rx.Component:
    return rx.link(
        rx.badge(tr(key), size="2", radius="full",
                 variant=rx.cond(MyOrdersState.status_filter == status, "solid", "soft")),
        href=routes.orders_url(status), underline="none", id=f"orders-filter-{status or 'all'}",
    )


def _row(o: rx.Var) -> rx.Component:
    return rx.link(
        rx.vstack(
            rx.hstack(rx.text(o["date"], size="1", color="gray"), rx.spacer(),
                      status_badge(o["status"], o["status_text"], class_name="order-row-status"),
                      width="100%", align="center"),
            rx.text(o["summary"], size="2", weight="medium"),
            rx.hstack(rx.code(o["no"], size="1", color="gray"), rx.spacer(),
                      rx.text(o["total"], weight="bold", color=ACCENT), width="100%", align="center"),
            spacing="1", width="100%",
        ),
        href=o["href"], underline="none", color="inherit", class_name="order-row", style=CARD,
        display="block",
    )


def orders_body() -> rx.Component:
    return page_column(
        rx.heading(tr("orders.title"), size="6"),
        rx.hstack(*[_filter(s, k) for s, k in FILTERS], spacing="2", wrap="wrap"),
        form_messages(MyOrdersState),
        rx.cond(
            MyOrdersState.loaded,
            rx.cond(MyOrdersState.orders.length() > 0,
                    rx.vstack(rx.foreach(MyOrdersState.orders, _row), spacing="3", width="100%",
                              id="orders-list"),
                    rx.center(rx.text(tr("orders.empty"), color="gray", id="orders-empty"), padding="3em",
                              width="100%")),
            rx.center(rx.spinner(size="3"), padding="3em", width="100%"),
        ),
    )


@shop_page(routes.ORDERS, "page.title.orders", on_load=[MyOrdersState.load_orders])
def orders_page() -> rx.Component:
    return orders_body()

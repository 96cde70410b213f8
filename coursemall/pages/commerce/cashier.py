"""/pay/sandbox/[order_no]: the sandbox cashier — clearly test mode; pay / fail / close send a signed
notification through the same pipeline as the real channels, then go back to the order."""

from __future__ import annotations

import reflex as rx

from coursemall.components.i18n import tr
from coursemall.components.shop import CARD, form_messages, page_column
from coursemall.components.page import shop_page
from coursemall.components.theme import ACCENT
from coursemall.pages import routes
from coursemall.state.commerce.shop import SandboxCashierState as S


def cashier_body() -> rx.Component:
    return page_column(
        rx.callout(tr("cashier.banner"), icon="flask-conical", color_scheme="amber", size="2", width="100%",
                   id="sandbox-banner"),
        rx.box(
            rx.vstack(
                rx.hstack(rx.icon("wallet", size=22, color=ACCENT), rx.heading(tr("cashier.title"), size="5"),
                          rx.badge(tr("order.test_mode"), color_scheme="amber"), align="center", spacing="2",
                          wrap="wrap"),
                rx.text(tr("cashier.shop"), ": ", S.shop_name, size="2", color="gray", id="cashier-shop"),
                rx.text(tr("order.number"), ": ", rx.code(S.order_no), size="2", color="gray",
                        id="cashier-order-no"),
                rx.vstack(rx.text(tr("cashier.amount"), size="2", color="gray"),
                          rx.text(S.total, size="8", weight="bold", id="cashier-amount"),
                          align="center", spacing="0", width="100%", padding_y="0.8em"),
                form_messages(S),
                rx.cond(
                    S.payable,
                    rx.vstack(
                        rx.button(rx.icon("circle-check", size=16), tr("cashier.pay"), id="sandbox-pay",
                                  size="4", radius="full", width="100%", color_scheme="green",
                                  on_click=S.decide("pay")),
                        rx.hstack(
                            rx.button(tr("cashier.fail"), id="sandbox-fail", size="3", radius="full",
                                      variant="soft", color_scheme="red", flex="1", on_click=S.decide("fail")),
                            rx.button(tr("cashier.close"), id="sandbox-close", size="3", radius="full",
                                      variant="soft", color_scheme="gray", flex="1", on_click=S.decide("close")),
                            width="100%", spacing="2",
                        ),
                        spacing="3", width="100%",
                    ),
                ),
                rx.cond(S.order_no != "",
                        rx.link(tr("cashier.back"), href="/order/" + S.order_no, size="2", id="cashier-back")),
                spacing="2", width="100%",
            ),
            style=CARD,
        ),
    )


@shop_page(routes.SANDBOX_CASHIER, "page.title.cashier", on_load=[S.load_cashier])
def sandbox_cashier_page() -> rx.Component:
    return cashier_body()

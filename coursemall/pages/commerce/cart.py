"""/cart: items with cover, title and price; remove; server-computed total; check out."""

from __future__ import annotations

import reflex as rx

from coursemall.components.i18n import tr
from coursemall.components.shop import CARD, form_messages, page_column
from coursemall.components.page import shop_page
from coursemall.components.theme import ACCENT
from coursemall.pages import routes
from coursemall.state.commerce.shop import CartState


def _line(ln: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.cond(ln["cover"] != "",
                rx.image(src=ln["cover"], width="96px", height="54px", object_fit="cover",
                         border_radius="8px", flex_shrink="0", loading="lazy"),
                rx.box(width="96px", height="54px", border_radius="8px", background="var(--gray-a3)",
                       flex_shrink="0")),
        rx.vstack(
            rx.cond(ln["href"] != "",
                    rx.link(ln["title"], href=ln["href"], weight="medium", size="2", color="inherit"),
                    rx.text(ln["title"], weight="medium", size="2")),
            rx.hstack(
                rx.cond(ln["type"] == "bundle", rx.badge(tr("cart.bundle"), size="1")),
                rx.cond(ln["available"] == "1",
                        rx.hstack(rx.text(ln["price"], color=ACCENT, weight="bold", size="2"),
                                  rx.cond(ln["original"] != "",
                                          rx.text(ln["original"], size="1", color="gray",
                                                  text_decoration="line-through")),
                                  spacing="2", align="center"),
                        rx.badge(ln["note"], color_scheme="gray", size="1")),
                spacing="2", align="center",
            ),
            spacing="1", flex="1", min_width="0",
        ),
        rx.icon_button(rx.icon("trash-2", size=16), variant="ghost", color_scheme="gray",
                       aria_label="remove", id="cart-remove-" + ln["key"],
                       on_click=CartState.remove_item(ln["type"], ln["id"])),
        width="100%", align="center", spacing="3", padding_y="0.6em",
        border_bottom="1px solid var(--gray-a3)", class_name="cart-line",
    )


def _empty() -> rx.Component:
    return rx.center(
        rx.vstack(rx.icon("shopping-cart", size=40, color="var(--gray-8)"),
                  rx.text(tr("cart.empty"), color="gray", id="cart-empty"),
                  rx.link(rx.button(tr("cart.browse"), variant="soft"), href=routes.HOME),
                  align="center", spacing="3"),
        padding="3em", width="100%",
    )


def cart_body() -> rx.Component:
    return page_column(
        rx.heading(tr("cart.title"), size="6"),
        form_messages(CartState),
        rx.cond(
            CartState.loaded,
            rx.cond(
                CartState.count > 0,
                rx.vstack(
                    rx.box(rx.foreach(CartState.lines, _line), style=CARD, padding_y="0.2em"),
                    rx.hstack(
                        rx.text(tr("cart.total"), size="3"),
                        rx.text(CartState.total, size="6", weight="bold", color=ACCENT,
                                id="cart-total"),
                        rx.spacer(),
                        rx.button(tr("cart.checkout"), size="3", radius="full", id="checkout",
                                  disabled=CartState.purchasable == 0, on_click=CartState.checkout),
                        width="100%", align="center", spacing="2", style=CARD,
                        position="sticky", bottom=["4em", "4em", "0"],
                    ),
                    spacing="3", width="100%",
                ),
                _empty(),
            ),
            rx.center(rx.spinner(size="3"), padding="3em", width="100%"),
        ),
    )


@shop_page(routes.CART, "page.title.cart", on_load=[CartState.load_cart])
def cart_page() -> rx.Component:
    return cart_body()

"""Series (专栏) page: the bundle's price and buttons, then the courses it contains."""

from __future__ import annotations

import reflex as rx

from coursemall.components.course_card import card_grid
from coursemall.components.i18n import tr
from coursemall.components.page import shop_page
from coursemall.components.theme import ACCENT
from coursemall.pages import routes
from coursemall.pages.catalog.course import buy_messages
from coursemall.state.catalog.storefront import BundleState
from coursemall.state.commerce.shop import BuyState


def _header() -> rx.Component:
    b = BundleState.bundle
    return rx.vstack(
        rx.el.img(src=b["cover"], alt=b["title"],
                  style={"width": "100%", "aspect_ratio": "16 / 9", "object_fit": "cover",
                         "border_radius": "12px", "display": "block"}),
        rx.hstack(rx.badge(tr("bundle.badge"), color_scheme="orange", variant="soft"),
                  rx.text(b["count"], tr("bundle.course_count"), size="2", color="gray"),
                  align="center", spacing="2"),
        rx.heading(b["title"], size="6", id="bundle-title"),
        rx.text(b["subtitle"], color="gray", size="3"),
        rx.hstack(rx.text(b["price"], size="6", weight="bold", color=ACCENT),
                  rx.cond(b["original"] != "",
                          rx.text(b["original"], size="2", color="gray", text_decoration="line-through")),
                  align="baseline", spacing="2"),
        buy_messages(),
        rx.hstack(
            rx.button(rx.icon("shopping-cart", size=16), tr("buy.add_to_cart"), size="3", radius="full",
                      variant="soft", id="add-to-cart", flex="1",
                      on_click=BuyState.add_to_cart("bundle", BundleState.bundle_id)),
            rx.button(tr("buy.buy_now"), size="3", radius="full", id="buy-now", flex="1",
                      on_click=BuyState.buy_now("bundle", BundleState.bundle_id)),
            width="100%", spacing="2",
        ),
        width="100%", spacing="2",
    )


def bundle_body() -> rx.Component:
    return rx.cond(
        BundleState.error != "",
        rx.callout(BundleState.error, icon="triangle-alert", color_scheme="red", id="bundle-error",
                   width="100%"),
        rx.cond(
            BundleState.loaded,
            rx.vstack(_header(),
                      rx.heading(tr("bundle.includes"), size="4", margin_top="1em"),
                      card_grid(BundleState.courses),
                      width="100%", spacing="3"),
            rx.center(rx.spinner(size="3"), padding="4em", width="100%"),
        ),
    )


@shop_page(routes.BUNDLE, "page.title.bundle", on_load=[BundleState.load])
def bundle_page() -> rx.Component:
    return rx.center(rx.box(bundle_body(), width="100%", max_width="720px"), width="100%")

"""Price tag: current price in the brand colour, the original price struck through when higher."""

from __future__ import annotations

import reflex as rx

from coursemall.components.i18n import tr
from coursemall.components.theme import ACCENT

PRICE_COLOR = ACCENT  # the owner's accent colour


def price_tag(price: rx.Var | str, original: rx.Var | str, free: rx.Var | bool,
              size: str = "4") -> rx.Component:
    return rx.hstack(
        rx.cond(
            free,
            rx.text(tr("card.free"), weight="bold", size=size, color="#2f9e44", class_name="price"),
            rx.text(price, weight="bold", size=size, color=PRICE_COLOR, class_name="price"),
        ),
        rx.cond(
            original != "",
            rx.text(original, size="1", color="gray", text_decoration="line-through",
                    class_name="price-original"),
        ),
        align="baseline", spacing="2",
    )

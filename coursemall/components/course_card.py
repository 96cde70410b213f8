"""Course cards: grid card for listings, big banner card for the home page.

`item` is one of the dicts built by `coursemall.state.catalog.storefront.card_vars` (all values strings).
"""

from __future__ import annotations

import reflex as rx

from coursemall.components.i18n import tr
from coursemall.components.price import price_tag


def highlighted(segments: rx.Var) -> rx.Component:
    """Render [{"text", "hit"}] runs; hits in <mark>. Text is always text, never HTML."""
    return rx.foreach(
        segments,
        lambda seg: rx.cond(
            seg["hit"] == "1",
            rx.el.mark(seg["text"], class_name="hit",
                       style={"background": "#ffe8cc", "color": "#d9480f", "padding": "0 1px",
                              "border_radius": "3px"}),
            rx.fragment(seg["text"]),
        ),
    )


def cover_image(src: rx.Var, alt: rx.Var, eager: bool = False, radius: str = "12px") -> rx.Component:
    return rx.box(
        rx.cond(
            src != "",
            rx.el.img(src=src, alt=alt, loading="eager" if eager else "lazy", decoding="async",
                      style={"width": "100%", "height": "100%", "object_fit": "cover",
                             "display": "block"}),
            rx.center(rx.icon("image", size=32, color="var(--gray-8)"), height="100%"),
        ),
        width="100%", aspect_ratio="16 / 9", overflow="hidden", background="var(--gray-3)",
        border_radius=radius, class_name="cover",
    )


def _meta_line(item: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.cond(
            item["rating"] != "",
            rx.hstack(rx.icon("star", size=12, color="#f59f00", fill="#f59f00"),
                      rx.text(item["rating"], size="1", weight="medium", color="#e67700"),
                      spacing="1", align="center"),
        ),
        rx.text(item["learners"], tr("card.learners"), size="1", color="gray",
                style={"white_space": "nowrap"}),
        spacing="2", align="center",
    )


_CLAMP2 = {"display": "-webkit-box", "-webkit-line-clamp": "2", "-webkit-box-orient": "vertical",
           "overflow": "hidden", "line_height": "1.35"}
_ONE_LINE = {"white_space": "nowrap", "overflow": "hidden", "text_overflow": "ellipsis"}


def course_card(item: rx.Var, title: rx.Component | None = None,
                subtitle: rx.Component | None = None) -> rx.Component:
    """Phones: cover left, text right (one column list). Wider screens: cover on top, in a grid.
    `title`/`subtitle` may be highlighted renderings of the same text."""
    return rx.link(
        rx.flex(
            rx.box(cover_image(item["cover"], item["title"], radius="10px"),
                   width=rx.breakpoints(initial="42%", sm="100%"), flex_shrink="0",
                   margin_right=rx.breakpoints(initial="12px", sm="0"),
                   margin_bottom=rx.breakpoints(initial="0", sm="8px")),
            rx.flex(
                rx.text(title if title is not None else item["title"], size="3", weight="bold",
                        class_name="course-title", style=_CLAMP2),
                rx.text(subtitle if subtitle is not None else item["subtitle"], size="1",
                        color="gray", class_name="course-subtitle", style=_ONE_LINE, width="100%"),
                rx.hstack(rx.text(item["instructor"], size="1", color="gray", style=_ONE_LINE),
                          rx.text("·", size="1", color="gray"),
                          rx.text(item["lessons"], tr("card.lessons"), size="1", color="gray",
                                  style={"white_space": "nowrap"}),
                          spacing="1", align="center", min_width="0"),
                rx.spacer(),
                rx.flex(
                    price_tag(item["price"], item["original"], item["free"] == "1", size="3"),
                    _meta_line(item),
                    justify="between", align="end", width="100%", wrap="wrap", gap="1",
                ),
                direction="column", gap="1", flex="1", min_width="0",
                padding=rx.breakpoints(initial="0", sm="0 0.25em 0.25em"),
            ),
            direction=rx.breakpoints(initial="row", sm="column"), width="100%", height="100%",
        ),
        href=item["href"], id="course-card-" + item["id"], class_name="course-card",
        underline="none", color="inherit",
        style={"display": "block", "background": "var(--color-panel-solid)",
               "border_radius": "14px", "padding": "0.6em",
               "box_shadow": "0 1px 2px rgba(0,0,0,0.05), 0 2px 10px rgba(0,0,0,0.04)",
               "transition": "transform .15s ease, box-shadow .15s ease",
               "_hover": {"transform": "translateY(-2px)",
                          "box_shadow": "0 6px 22px rgba(0,0,0,0.10)"}},
    )


def card_grid(items: rx.Var, render=None) -> rx.Component:
    """1 column on phones, 2 on tablets, 3 on desktop."""
    return rx.grid(
        rx.foreach(items, render or (lambda item: course_card(item))),
        columns=rx.breakpoints(initial="1", sm="2", md="3"),
        spacing=rx.breakpoints(initial="3", sm="4"), width="100%",
    )


def banner_card(item: rx.Var) -> rx.Component:
    """Big cover (the drawn cover carries the title) with a price badge, for the featured banner."""
    return rx.link(
        rx.box(
            rx.el.img(src=item["cover"], alt=item["title"], loading="eager",
                      style={"width": "100%", "height": "100%", "object_fit": "cover",
                             "display": "block"}),
            rx.box(
                rx.cond(item["free"] == "1",
                        rx.badge(tr("card.free"), color_scheme="green", variant="solid", size="2"),
                        rx.badge(item["price"], color_scheme="orange", variant="solid", size="2")),
                position="absolute", bottom="0.8em", right="0.8em",
            ),
            position="relative", width="100%", aspect_ratio="16 / 9", overflow="hidden",
            border_radius="16px", background="var(--gray-4)",
        ),
        href=item["href"], id="banner-" + item["id"], class_name="banner-card",
        underline="none",
        style={"flex": "0 0 auto", "width": ["86%", "70%", "48%"], "scroll_snap_align": "start",
               "display": "block"},
    )

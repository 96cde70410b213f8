"""Listing pieces shared by search and category pages: sort select, result grid, paging."""

from __future__ import annotations

import reflex as rx

from coursemall.components.course_card import course_card, highlighted
from coursemall.components.i18n import tr

SORTS = ("newest", "best", "price_asc", "price_desc", "rating")


def sort_select(state, select_id: str = "search-sort") -> rx.Component:
    """A native <select>: phones show their own picker, and it works without JavaScript tricks."""
    return rx.hstack(
        rx.icon("arrow-up-down", size=14, color="var(--gray-9)"),
        rx.el.select(
            *[rx.el.option(tr(f"sort.{key}"), value=key) for key in SORTS],
            value=state.sort, on_change=state.change_sort, id=select_id,
            aria_label="sort",
            style={"border": "1px solid var(--gray-a6)", "border_radius": "8px",
                   "padding": "0.35em 0.6em", "background": "var(--color-panel-solid)",
                   "font_size": "14px", "color": "var(--gray-12)"},
        ),
        align="center", spacing="2",
    )


def result_grid(state) -> rx.Component:
    return rx.grid(
        rx.foreach(
            state.items,
            lambda item, i: course_card(item, title=highlighted(state.title_segments[i]),
                                        subtitle=highlighted(state.subtitle_segments[i])),
        ),
        columns=rx.breakpoints(initial="1", sm="2", md="3"),
        spacing="4", width="100%", id="results",
    )


def pager(state) -> rx.Component:
    def nav(key: str, href, el_id: str, icon_first: bool) -> rx.Component:
        label = [rx.icon("chevron-left", size=16), rx.text(tr(key))] if icon_first else \
            [rx.text(tr(key)), rx.icon("chevron-right", size=16)]
        enabled = rx.link(rx.button(*label, variant="soft", size="2"), href=href, id=el_id,
                          underline="none")
        disabled = rx.button(*label, variant="soft", size="2", disabled=True, id=el_id)
        return rx.cond(href != "", enabled, disabled)

    return rx.cond(
        state.pages > 1,
        rx.hstack(
            nav("paging.prev", state.prev_href, "page-prev", True),
            rx.text(state.page_text, size="2", color="gray", id="page-status"),
            nav("paging.next", state.next_href, "page-next", False),
            justify="center", align="center", spacing="4", width="100%", padding_y="1.2em",
        ),
    )

"""/search?q=&sort=&page=: substring search with highlighted hits, sort and paging.

The URL drives the state (on_load reads q, sort, page), so a result page can be shared.
"""

from __future__ import annotations

import reflex as rx

from coursemall.components.forms import submit_button
from coursemall.components.i18n import tr
from coursemall.components.listing import pager, result_grid, sort_select
from coursemall.components.page import shop_page
from coursemall.domain.search import MAX_QUERY_CHARS
from coursemall.pages import routes
from coursemall.state.catalog.storefront import SearchState


def search_form() -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.box(
                rx.el.input(
                    name="q", id="search-input", type="search", default_value=SearchState.query,
                    key=SearchState.input_key, placeholder=tr("search.placeholder"),
                    max_length=MAX_QUERY_CHARS * 2, enter_key_hint="search", auto_complete="off",
                    style={"width": "100%", "border": "none", "outline": "none",
                           "background": "transparent", "font_size": "16px",
                           "color": "var(--gray-12)"},
                ),
                flex="1", padding_x="1em", padding_y="0.55em", background="var(--gray-a3)",
                border_radius="999px", display="flex", align_items="center",
            ),
            submit_button(rx.icon("search", size=16), tr("search.submit"),
                      id="search-submit", radius="full", size="3"),
            width="100%", spacing="2", align="center",
        ),
        on_submit=SearchState.submit, width="100%", id="search-form",
    )


def search_body() -> rx.Component:
    return rx.vstack(
        search_form(),
        rx.cond(SearchState.notice != "",
                rx.callout(SearchState.notice, icon="info", color_scheme="amber", size="1",
                           width="100%", id="search-notice")),
        rx.cond(SearchState.error != "",
                rx.callout(SearchState.error, icon="triangle-alert", color_scheme="red", size="1",
                           width="100%", id="form-error")),
        rx.cond(
            SearchState.loaded,
            rx.vstack(
                rx.hstack(
                    rx.text(SearchState.count_text, size="2", color="gray", id="search-count"),
                    rx.spacer(),
                    sort_select(SearchState),
                    width="100%", align="center", wrap="wrap", spacing="2",
                ),
                rx.cond(
                    SearchState.total > 0,
                    result_grid(SearchState),
                    rx.center(
                        rx.vstack(
                            rx.icon("search-x", size=40, color="var(--gray-8)"),
                            rx.text(tr("search.no_results"), color="gray"),
                            align="center",
                        ),
                        padding="3em", width="100%", id="search-empty",
                    ),
                ),
                pager(SearchState),
                width="100%", spacing="3",
            ),
            rx.center(rx.spinner(size="3"), padding="3em", width="100%"),
        ),
        width="100%", spacing="3",
    )


@shop_page(routes.SEARCH, "page.title.search", on_load=[SearchState.load])
def search() -> rx.Component:
    return search_body()

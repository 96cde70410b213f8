"""/category/[slug]: the published courses of one category, with sort and paging."""

from __future__ import annotations

import reflex as rx

from coursemall.components.i18n import tr
from coursemall.components.listing import pager, result_grid, sort_select
from coursemall.components.page import shop_page
from coursemall.pages import routes
from coursemall.state.catalog.storefront import CategoryState


def category_body() -> rx.Component:
    return rx.vstack(
        rx.cond(
            CategoryState.error != "",
            rx.callout(CategoryState.error, icon="triangle-alert", color_scheme="red", width="100%",
                       id="form-error"),
        ),
        rx.cond(
            CategoryState.name != "",
            rx.vstack(
                rx.hstack(
                    rx.link(tr("nav.home"), href=routes.HOME, size="2", color="gray"),
                    rx.text("/", size="2", color="gray"),
                    rx.text(tr("category.title"), size="2", color="gray"),
                    spacing="2",
                ),
                rx.heading(rx.cond(CategoryState.lang == "en", CategoryState.name_en,
                                   CategoryState.name), size="7", id="category-title"),
                rx.hstack(
                    rx.text(CategoryState.count_text, size="2", color="gray", id="search-count"),
                    rx.spacer(),
                    sort_select(CategoryState, "category-sort"),
                    width="100%", align="center",
                ),
                rx.cond(
                    CategoryState.total > 0,
                    result_grid(CategoryState),
                    rx.center(rx.text(tr("home.empty"), color="gray"), padding="3em", width="100%",
                              id="search-empty"),
                ),
                pager(CategoryState),
                width="100%", spacing="3",
            ),
        ),
        width="100%", spacing="3",
    )


@shop_page(routes.CATEGORY, "page.title.category", on_load=[CategoryState.load])
def category() -> rx.Component:
    return category_body()

"""Home: featured banner, category chips, new courses and best sellers."""

from __future__ import annotations

import reflex as rx

from coursemall.components.course_card import banner_card, card_grid
from coursemall.components.i18n import tr
from coursemall.components.layout import page_frame
from coursemall.pages import routes
from coursemall.state.base import AppState
from coursemall.state.catalog import HomeState, page_load


def section_title(key: str, href: str = "") -> rx.Component:
    return rx.hstack(
        rx.box(width="4px", height="1.1em", background="#e8590c", border_radius="2px"),
        rx.heading(tr(key), size="5", weight="bold"),
        rx.spacer(),
        rx.cond(href != "", rx.link(tr("home.see_all"), href=href, size="2", color="gray")) if href else rx.fragment(),
        align="center", spacing="2", width="100%", margin_top="1.2em", margin_bottom="0.4em",
    )


def search_bar() -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.icon("search", size=16, color="var(--gray-9)"),
            rx.text(tr("home.search_placeholder"), size="2", color="gray"),
            align="center", spacing="2", width="100%", padding_x="1em", padding_y="0.6em",
            background="var(--gray-a3)", border_radius="999px",
        ),
        href=routes.SEARCH, underline="none", width="100%", id="home-search",
    )


_CATEGORY_ICONS = ("code", "camera", "briefcase", "sprout", "baby", "heart-pulse", "palette",
                   "music", "languages", "dumbbell", "chart-line", "brain", "pen-line")


def category_icon(name: rx.Var) -> rx.Component:
    """A fixed set of lucide icons (a dynamic icon would pull the whole icon set into the page)."""
    return rx.match(
        name,
        *[(icon, rx.icon(icon, size=20, color="#e8590c")) for icon in _CATEGORY_ICONS],
        rx.icon("book-open", size=20, color="#e8590c"),
    )


def category_chip(cat: rx.Var) -> rx.Component:
    return rx.link(
        rx.vstack(
            rx.center(category_icon(cat["icon"]), width="44px", height="44px",
                      border_radius="14px", background="var(--orange-a3)"),
            rx.text(rx.cond(AppState.lang == "en", cat["name_en"], cat["name"]), size="1",
                    weight="medium", text_align="center", style={"white_space": "nowrap"}),
            align="center", spacing="1",
        ),
        href=cat["href"], underline="none", color="inherit", class_name="category-chip",
        id="category-" + cat["slug"], style={"flex": "0 0 auto", "min_width": "64px"},
    )


def home_body() -> rx.Component:
    return rx.vstack(
        search_bar(),
        rx.cond(HomeState.error != "", rx.callout(HomeState.error, icon="triangle-alert",
                                                   color_scheme="red", width="100%")),
        rx.cond(
            HomeState.banners.length() > 0,
            rx.box(
                rx.hstack(rx.foreach(HomeState.banners, banner_card), spacing="3",
                          style={"overflow_x": "auto", "scroll_snap_type": "x mandatory",
                                 "padding_bottom": "4px", "scrollbar_width": "none"},
                          width="100%"),
                id="home-banner", width="100%", margin_top="0.6em",
            ),
        ),
        rx.cond(
            HomeState.categories.length() > 0,
            rx.box(
                rx.hstack(rx.foreach(HomeState.categories, category_chip), spacing="4",
                          style={"overflow_x": "auto", "scrollbar_width": "none"},
                          padding_y="0.4em", width="100%"),
                id="home-categories", width="100%", margin_top="0.8em",
            ),
        ),
        section_title("home.newest", routes.search_url("", sort="newest")),
        card_grid(HomeState.newest),
        section_title("home.best_sellers", routes.search_url("", sort="best")),
        card_grid(HomeState.best_sellers),
        rx.cond(
            HomeState.bundles.length() > 0,
            rx.vstack(
                section_title("home.bundles"),
                rx.hstack(rx.foreach(HomeState.bundles, banner_card), spacing="3",
                          style={"overflow_x": "auto", "scrollbar_width": "none"}, width="100%"),
                id="home-bundles", width="100%", spacing="2",
            ),
        ),
        rx.cond(
            HomeState.loaded & (HomeState.newest.length() == 0),
            rx.center(rx.text(tr("home.empty"), color="gray"), padding="3em", width="100%"),
        ),
        width="100%", spacing="2", id="home",
    )


@rx.page(route=routes.HOME, title="知行课堂 · 精品课程", on_load=page_load(HomeState.load))
def home() -> rx.Component:
    return page_frame(home_body())

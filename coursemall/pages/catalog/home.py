"""Home: search, then the sections the owner shows, in the owner's order (shop settings):
banner, categories, featured grid, new courses, best sellers, series."""

from __future__ import annotations

import reflex as rx

from coursemall.components.course_card import banner_card, card_grid
from coursemall.components.i18n import tr
from coursemall.components.page import shop_page
from coursemall.components.theme import ACCENT
from coursemall.pages import routes
from coursemall.state.base import AppState
from coursemall.state.catalog.storefront import HomeState
from coursemall.state.dashboard.shop_settings import HomeLayoutState


def section_title(key: str, href: str = "") -> rx.Component:
    return rx.hstack(
        rx.box(width="4px", height="1.1em", background=ACCENT, border_radius="2px"),
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
        *[(icon, rx.icon(icon, size=20, color=ACCENT)) for icon in _CATEGORY_ICONS],
        rx.icon("book-open", size=20, color=ACCENT),
    )


def category_chip(cat: rx.Var) -> rx.Component:
    return rx.link(
        rx.vstack(
            rx.center(category_icon(cat["icon"]), width="44px", height="44px",
                      border_radius="14px", background="var(--accent-a3)"),
            rx.text(rx.cond(AppState.lang == "en", cat["name_en"], cat["name"]), size="1",
                    weight="medium", text_align="center", style={"white_space": "nowrap"}),
            align="center", spacing="1",
        ),
        href=cat["href"], underline="none", color="inherit", class_name="category-chip",
        id="category-" + cat["slug"], style={"flex": "0 0 auto", "min_width": "64px"},
    )


def _banner() -> rx.Component:
    return rx.cond(
        HomeState.banners.length() > 0,
        rx.box(
            rx.hstack(rx.foreach(HomeState.banners, banner_card), spacing="3",
                      style={"overflow_x": "auto", "scroll_snap_type": "x mandatory",
                             "padding_bottom": "4px", "scrollbar_width": "none"},
                      width="100%"),
            id="home-banner", width="100%", margin_top="0.6em",
        ),
    )


def _categories() -> rx.Component:
    return rx.cond(
        HomeState.categories.length() > 0,
        rx.box(
            rx.hstack(rx.foreach(HomeState.categories, category_chip), spacing="4",
                      style={"overflow_x": "auto", "scrollbar_width": "none"},
                      padding_y="0.4em", width="100%"),
            id="home-categories", width="100%", margin_top="0.8em",
        ),
    )


def _featured() -> rx.Component:
    return rx.cond(
        HomeLayoutState.featured.length() > 0,
        rx.box(section_title("home.featured"), card_grid(HomeLayoutState.featured), id="home-featured",
               width="100%"),
    )


def _newest() -> rx.Component:
    return rx.box(section_title("home.newest", routes.search_url("", sort="newest")),
                  card_grid(HomeState.newest), id="home-newest", width="100%")


def _best_sellers() -> rx.Component:
    return rx.box(section_title("home.best_sellers", routes.search_url("", sort="best")),
                  card_grid(HomeState.best_sellers), id="home-best", width="100%")


def _series() -> rx.Component:
    return rx.cond(
        HomeState.bundles.length() > 0,
        rx.vstack(
            section_title("home.bundles"),
            rx.hstack(rx.foreach(HomeState.bundles, banner_card), spacing="3",
                      style={"overflow_x": "auto", "scrollbar_width": "none"}, width="100%"),
            id="home-bundles", width="100%", spacing="2",
        ),
    )


def _block(name: rx.Var) -> rx.Component:
    """One section by name; the names come from services.shop_settings.HOME_BLOCKS."""
    return rx.match(
        name,
        ("banner", _banner()),
        ("categories", _categories()),
        ("featured", _featured()),
        ("newest", _newest()),
        ("best_sellers", _best_sellers()),
        ("series", _series()),
        rx.fragment(),
    )


def home_body() -> rx.Component:
    return rx.vstack(
        search_bar(),
        rx.cond(HomeState.error != "", rx.callout(HomeState.error, icon="triangle-alert",
                                                   color_scheme="red", width="100%")),
        rx.foreach(HomeLayoutState.blocks, _block),
        rx.cond(
            HomeState.loaded & (HomeState.newest.length() == 0) & (HomeState.best_sellers.length() == 0)
            & (HomeState.banners.length() == 0) & (HomeLayoutState.featured.length() == 0),
            rx.center(rx.text(tr("home.empty"), color="gray"), padding="3em", width="100%"),
        ),
        width="100%", spacing="2", id="home",
    )


@shop_page(routes.HOME, "page.title.home", on_load=[HomeState.load, HomeLayoutState.load_home_layout])
def home() -> rx.Component:
    return home_body()

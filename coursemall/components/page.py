"""The page template: `@shop_page(route, title_key, on_load=..., layout=...)` on every page.

One place decides what every page gets:
- the route;
- the tab title: the catalog text of `title_key` in the viewer's language, then the shop's name
  (the owner's brand, `BrandState.shop_name`), e.g. "购物车 · 知行课堂";
- `on_load`: the viewer (header) first, then the page's own loaders, so pages list only their own;
- the layout: the shop frame (`page_frame`) by default, or `dashboard(state, nav=...)` for the
  owner's pages (nav, permission states and the `title_key` heading). A page function returns
  only its body (one component, or a tuple of components for the dashboard column).

The decorator records pages in `PAGES`, and `coursemall/coursemall.py` adds each one to the app
with `app.add_page` exactly once (`register_pages`). Pages decorated with `@rx.page` instead are
re-added by Reflex on every compile, which printed "Page … is being redefined" for each of them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import reflex as rx

from coursemall.i18n import CATALOG

# The states and the frame are imported where they are used: importing them here would import
# `coursemall.pages` (through `pages.routes`), whose modules import this one.

Layout = Callable[[str, Any], rx.Component]


@dataclass(frozen=True)
class ShopPage:
    route: str
    title_key: str
    component: Callable[[], rx.Component]
    on_load: list[Any] = field(default_factory=list)


PAGES: list[ShopPage] = []


def page_title(title_key: str) -> rx.Var:
    """`<translated title> · <shop name>`, following the viewer's language and the owner's brand."""
    from coursemall.components.i18n import tr
    from coursemall.state.dashboard.shop_settings import BrandState

    return rx.Var.create(f"{tr(title_key)} · {BrandState.shop_name}")


def _children(body: Any) -> tuple:
    return tuple(body) if isinstance(body, (tuple, list)) else (body,)


def shop(title_key: str, body: Any) -> rx.Component:
    """The storefront frame (header, footer, tab bar, the owner's accent colour)."""
    from coursemall.components.layout import page_frame

    return page_frame(*_children(body))


def dashboard(state: type, nav: str | None = None) -> Layout:
    """The dashboard frame for `state` (a DashboardBaseState) with `nav` highlighted (default: the
    page's own route) and the `title_key` text as the heading."""

    def layout(title_key: str, body: Any, *, route: str = "") -> rx.Component:
        from coursemall.components.dashboard import dashboard_page

        return dashboard_page(state, nav or route, title_key, *_children(body))

    layout.wants_route = True  # type: ignore[attr-defined]
    return layout


def shop_page(route: str, title_key: str, *, on_load: Sequence[Any] = (),
              layout: Layout = shop) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    """Record a page: see the module docstring. Returns the body function unchanged."""
    CATALOG[title_key]  # KeyError at import time for an unknown title key, like tr()
    if any(r.route == route for r in PAGES):
        raise ValueError(f"page route {route!r} declared twice")

    def decorator(body: Callable[[], Any]) -> Callable[[], Any]:
        from coursemall.state.base import AppState

        @functools.wraps(body)
        def component() -> rx.Component:
            if getattr(layout, "wants_route", False):
                return layout(title_key, body(), route=route)  # type: ignore[call-arg]
            return layout(title_key, body())

        PAGES.append(ShopPage(route=route, title_key=title_key, component=component,
                              on_load=[AppState.load_viewer, *on_load]))
        return body

    return decorator


def register_pages(app: rx.App, pages: Sequence[ShopPage] | None = None) -> None:
    """Add every recorded page to `app`, once."""
    for p in PAGES if pages is None else pages:
        app.add_page(p.component, route=p.route, title=page_title(p.title_key), on_load=p.on_load)

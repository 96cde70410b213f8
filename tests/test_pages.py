"""The page template (`@shop_page`) and the app's page registry: every page once, a catalog title with
the shop's name, the viewer loaded first, and no "Page … is being redefined" warning however often
Reflex compiles (it re-adds every `@rx.page` on each compile)."""

from __future__ import annotations

import logging

import pytest
import reflex as rx
from reflex_base.registry import RegistrationContext

from coursemall.coursemall import app
from coursemall.components import page as template
from coursemall.components.page import PAGES, ShopPage, dashboard, shop_page
from coursemall.i18n import CATALOG
from coursemall.pages import routes
from coursemall.state.base import AppState


def test_every_route_is_one_page_of_the_app():
    declared = [p.route for p in PAGES]
    assert len(declared) == len(set(declared)) >= 46
    route_constants = {v for k, v in vars(routes).items() if k.isupper() and isinstance(v, str) and v.startswith("/")}
    assert set(declared) <= route_constants
    # the app holds exactly the declared pages, added directly (nothing left for compile to re-add)
    assert len(app._unevaluated_pages) == len(PAGES)
    assert RegistrationContext.ensure_context().decorated_pages == []


def test_titles_come_from_the_catalog_and_loads_start_with_the_viewer():
    for p in PAGES:
        assert p.title_key in CATALOG, p.route
        assert p.on_load[0] == AppState.load_viewer, p.route
        assert AppState.load_viewer not in p.on_load[1:], p.route
    title = str(template.page_title("page.title.cart"))
    assert CATALOG["page.title.cart"][1] in title and "lang" in title and "shop_name" in title


def test_unknown_title_key_and_twice_declared_route_fail_at_import():
    with pytest.raises(KeyError):
        shop_page("/nowhere", "page.title.no_such_key")
    with pytest.raises(ValueError, match="declared twice"):
        shop_page(routes.CART, "page.title.cart")


def test_the_layout_wraps_the_body(monkeypatch):
    recorded: list[ShopPage] = []
    monkeypatch.setattr(template, "PAGES", recorded)

    @shop_page("/t-shop", "page.title.cart")
    def body_a():
        return rx.text("a", id="body-a")

    from coursemall.state.dashboard.orders import AdminOrdersState

    @shop_page("/t-dash", "admin.orders.title", on_load=[AdminOrdersState.load_orders],
               layout=dashboard(AdminOrdersState, nav=routes.ADMIN_ORDERS))
    def body_b():
        return rx.text("b1", id="body-b1"), rx.text("b2", id="body-b2")

    assert body_a() is not None  # the body function is returned unchanged
    shop_js, dash_js = (str(p.component().render()) for p in recorded)
    assert "body-a" in shop_js and "brand-name" in shop_js  # inside the storefront frame
    assert "body-b1" in dash_js and "body-b2" in dash_js and "admin-nav-orders" in dash_js
    assert recorded[1].on_load == [AppState.load_viewer, AdminOrdersState.load_orders]


def test_compiling_twice_redefines_no_page(caplog):
    from reflex.compiler import compiler

    with caplog.at_level(logging.WARNING):
        compiler.compile_app(app, dry_run=True, use_rich=False)
        compiler.compile_app(app, dry_run=True, use_rich=False)
    redefined = [r.getMessage() for r in caplog.records if "redefined" in r.getMessage()]
    assert redefined == []
    assert set(app._unevaluated_pages) - {"404"} == {p.route.strip("/") or "index" for p in PAGES}

    # the capture does see the warning: adding a page a second time (what compile does to @rx.page)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        template.register_pages(app, PAGES[:1])
    assert any("redefined" in r.getMessage() for r in caplog.records)

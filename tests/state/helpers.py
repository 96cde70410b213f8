"""Plain helpers shared by the state tests (fixtures live in tests/state/conftest.py).

A state is built the way Reflex builds it under pytest: a fresh root state (one browser tab)
whose router data carries what the websocket handshake would (Cookie header, user agent, IP,
route); handlers are invoked through their registered functions, as the event processor would.
"""

from __future__ import annotations

import asyncio
import inspect
from contextlib import contextmanager
from urllib.parse import urlencode

import reflex as rx
from reflex.istate.data import RouterData
from sqlmodel import Session

from coursemall.services.accounts import sessions
from tests.services.catalog_fixture import build_catalog

ORIGIN = "http://localhost:3000"
IPHONE_SAFARI = "Mozilla/5.0 (iPhone) Safari/605"
BROWSER = "browser-" + "b" * 40  # every test browser holds its `cm_browser` secret


# ---------------------------------------------------------------------------------- sessions

def cookie_for(engine, user_id: int, mfa: bool = True) -> str:
    """A session cookie; owner/staff sessions have passed TOTP unless mfa=False."""
    with Session(engine) as s:
        token = sessions.create_session(s, user_id=user_id, mfa_verified=mfa)
        s.commit()
    return f"cm_lang=zh_CN; cm_session={token}"


def with_browser(cookie: str, browser: str) -> str:
    """`cookie` plus the `cm_browser` secret every page load hands out."""
    return f"{cookie}; cm_browser={browser}" if cookie else f"cm_browser={browser}"


# ---------------------------------------------------------------------------------- states

def substate(root, cls):
    """The `cls` state inside the tree of `root`."""
    state = root
    for name in cls.get_full_name().split(".")[1:]:
        state = state.substates[name]
    return state


def tab_state(cls, *, cookie: str = "", ua: str = "pytest", ip: str = "127.0.0.1", route: str = "/",
              path: str | None = None, params: dict | None = None):
    """`cls` in a fresh browser tab on `route` (the page pattern), shown at `path` (default: the route)."""
    root = rx.State(_reflex_internal_init=True)
    root.router = RouterData.from_router_data({
        "headers": {"cookie": cookie, "user-agent": ua, "origin": ORIGIN},
        "ip": ip, "pathname": route, "asPath": route if path is None else path, "query": params or {},
    })
    return substate(root, cls)


def make_state(cls, cookie: str = "", ip: str = "127.0.0.1", browser: str | None = BROWSER):
    """`cls` in a phone browser's tab on the sign-in page (/login?next=/course/1)."""
    if browser:
        cookie = with_browser(cookie, browser)
    return tab_state(cls, cookie=cookie, ua=IPHONE_SAFARI, ip=ip, route="/login", path="/login?next=/course/1")


def page_state(cls, cookie: str = "", route: str = "/", params: dict | None = None):
    """`cls` in a tab on `route` with its route `params`."""
    return tab_state(cls, cookie=cookie, route=route, params=params)


def route_state(cls, route: str = "/", path: str = "/", params: dict | None = None, query: dict | None = None):
    """A storefront state with router data only (no cookie: an anonymous visitor)."""
    root = rx.State(_reflex_internal_init=True)
    state = root.get_substate(cls.get_full_name().split(".")[1:])
    qs = urlencode(query or {})
    state.router = RouterData.from_router_data({
        "pathname": route,
        "asPath": path + (f"?{qs}" if qs else ""),
        "query": {**(query or {}), **(params or {})},
        "headers": {"origin": ORIGIN},
    })
    return state


# ---------------------------------------------------------------------------------- handlers

async def call(state, handler: str, *args):
    """Run a handler as the event processor would; async ones are awaited."""
    result = type(state).event_handlers[handler].fn(state, *args)
    if hasattr(result, "__await__"):
        result = await result
    return result


def call_sync(state, handler: str, *args):
    """Run a handler from a plain (not async) test; async ones are driven to completion."""
    result = type(state).event_handlers[handler].fn(state, *args)
    return asyncio.run(result) if inspect.iscoroutine(result) else result


# ---------------------------------------------------------------------------------- worlds

def fixture_catalog(engine, monkeypatch, *modules) -> dict:
    """The fixture catalog on `engine`; each of `modules` gets a `session_scope` on it.
    Returns the catalog's ids plus "engine"."""
    with Session(engine, expire_on_commit=False) as s:
        ids = build_catalog(s).ids

    @contextmanager
    def scope():
        with Session(engine, expire_on_commit=False) as s:
            yield s
            s.commit()

    for module in modules:
        monkeypatch.setattr(module, "session_scope", scope)
    ids["engine"] = engine
    return ids

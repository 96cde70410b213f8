"""The root of the app's states: viewer language and the signed-in viewer.

Identity lives in backend vars (`_user_id`); the session token never reaches a frontend var.
The viewer is resolved from the HttpOnly `cm_session` cookie of the websocket handshake
(`self.router.headers.cookie`, which Reflex 0.10.1 keeps server-side), looked up by its SHA-256
in the server-side session store.

Every `_actor_id()` re-checks that session, so a freeze, "sign out everywhere" or a password
change (which revokes the other sessions) stops an open websocket's very next event: there is no
cached identity for anything that writes. The check is one query on the UNIQUE `token_hash`
index joined to `users` by primary key (and at most one `last_seen_at` update per 5 minutes);
the player's heartbeat (every 10 s per learner) pays exactly that, in a worker thread
(`_actor_id_off_loop`) so the event loop never waits for the database. Only the header's read-only
`load_viewer` may reuse a check younger than CHECK_SECONDS (`_actor_id(fresh=False)`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import reflex as rx

from coursemall.client_ip import headers_client_ip
from coursemall.db import run_unit, session_scope
from coursemall.domain.errors import DomainError
from coursemall.domain.validation import valid_id
from coursemall.i18n import DEFAULT_LANG, normalize_lang, t
from coursemall.services.accounts import sessions, users as accounts
from coursemall.services.community.messages import unread_count

CHECK_SECONDS = 15.0  # reads only (the header's viewer); writes always re-check


class _Failed:
    """What `AppState._run` returns when the unit of work failed (its message is already shown)."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "FAILED"


FAILED: Any = _Failed()


def parse_cookie(header: object, name: str) -> str:
    """The first value of cookie `name` in a Cookie header ('' if absent); tolerant of junk."""
    if not isinstance(header, str) or len(header) > 16384:
        return ""
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key.strip() == name:
            return value.strip().strip('"')
    return ""


def _lookup_session(token_hash_hex: str) -> sessions.ResolvedSession | None:
    with session_scope() as s:
        return sessions.resolve_session(s, token_hash_hex=token_hash_hex)


class AppState(rx.State):
    """Base for every page state. Subclasses read the actor with `self._actor_id()`."""

    lang: str = rx.Cookie(DEFAULT_LANG, name="cm_lang", max_age=365 * 24 * 3600, same_site="lax")
    signed_in: bool = False
    nickname: str = ""
    avatar_url: str = ""
    role: str = ""
    unread_count: int = 0  # the header's message badge

    _user_id: int | None = None
    _session_hash: str = ""  # SHA-256 of the cookie token the cache below belongs to
    _session_id: int | None = None
    _mfa_ok: bool = False  # this session passed the TOTP step (resolved with the session)
    _checked_at: float = 0.0
    _viewer_checked_at: float = -1.0

    def _t(self, key: str, **params: object) -> str:
        return t(key, self.lang, **params)

    # ---- the one way a handler runs a unit of work

    async def _run(self, service: Callable[..., Any], /, *, section: str = "", **kwargs: Any) -> Any:
        """`service(session, **kwargs)` as one unit of work in a worker thread (the event loop never
        waits for the database); returns its result. A DomainError shows its translated message, anything
        else is logged once and shows the generic one; both return FAILED (falsy: `if result is FAILED`).
        `section` says where a dashboard page shows the message."""
        try:
            return await asyncio.to_thread(run_unit, service, **kwargs)
        except DomainError as exc:
            self._show_failure(exc, section)
        except Exception:  # noqa: BLE001 - logged here, once, for every handler
            logging.getLogger(type(self).__module__).exception(
                "%s: %s failed", type(self).__name__, getattr(service, "__name__", service))
            self._show_failure(None, section)
        return FAILED

    def _show_failure(self, exc: DomainError | None, section: str) -> None:
        """How this state shows a failed unit of work: None = something broke (generic message).
        FeedbackMixin and DashboardBaseState say how; a state with neither must override it."""
        raise NotImplementedError(f"{type(self).__name__} shows no failures: mix in FeedbackMixin")

    # ---- request facts (server-side only) -------------------------------------------------
    def _cookie_token_hash(self) -> str:
        token = parse_cookie(self.router.headers.cookie, sessions.SESSION_COOKIE)
        return sessions.token_hash(token) if sessions.looks_like_token(token) else ""

    def _route_param(self, name: str) -> object:
        """A dynamic route segment ([course_id] ...) as received; validate it before use."""
        params = self.rx_router_page.params or {}
        return params.get(name, "")

    def _route_id(self, name: str) -> int | None:
        """A dynamic route segment that must be a database id; None when it is not one."""
        return valid_id(self._route_param(name))

    def _browser_hash(self) -> str:
        """SHA-256 of this browser's `cm_browser` secret from the websocket handshake ('' if none);
        login tickets are bound to it."""
        return sessions.browser_hash_of(parse_cookie(self.router.headers.cookie, sessions.BROWSER_COOKIE))

    def _client_ip(self) -> str:
        """The visitor's address (COURSEMALL_TRUSTED_PROXY_HOPS decides whether X-Forwarded-For
        counts), for rate limits, sign-in records and payment requests."""
        return headers_client_ip(self.router.headers.raw_headers, self.router.session.client_ip)

    def _user_agent(self) -> str:
        return (self.router.headers.user_agent or "")[:255]

    # ---- identity ---------------------------------------------------------------------------
    def _forget_session(self) -> None:
        self._user_id = None
        self._session_hash = ""
        self._session_id = None
        self._mfa_ok = False
        self._checked_at = 0.0

    def _actor_id(self, fresh: bool = True) -> int | None:
        """The signed-in user's id, re-checked against the server-side session store.
        `fresh=False` is for read-only loaders only: it may reuse a check up to CHECK_SECONDS old."""
        h = self._cookie_token_hash()
        if not h:
            self._forget_session()
            return None
        if not fresh and h == self._session_hash and self._user_id is not None \
                and time.monotonic() - self._checked_at < CHECK_SECONDS:
            return self._user_id
        return self._remember_session(h, _lookup_session(h))

    async def _actor_id_off_loop(self) -> int | None:
        """`_actor_id()` with the lookup in a worker thread, for hot handlers (the heartbeat)."""
        h = self._cookie_token_hash()
        if not h:
            self._forget_session()
            return None
        return self._remember_session(h, await asyncio.to_thread(_lookup_session, h))

    def _remember_session(self, h: str, resolved: sessions.ResolvedSession | None) -> int | None:
        if resolved is None:
            self._forget_session()
            return None
        self._user_id = resolved.user_id
        self._session_id = resolved.session_id
        self._mfa_ok = resolved.mfa_verified
        self._session_hash = h
        self._checked_at = time.monotonic()
        return self._user_id

    def _clear_viewer(self) -> None:
        self.signed_in = False
        self.nickname = ""
        self.avatar_url = ""
        self.role = ""
        self.unread_count = 0
        self._viewer_checked_at = -1.0

    def _show_viewer(self, view: accounts.UserView) -> None:
        self.signed_in = True
        self.nickname = view.nickname
        self.avatar_url = view.avatar_url
        self.role = view.role
        self._viewer_checked_at = self._checked_at

    @rx.event
    def load_viewer(self):
        """on_load of every page: fill the header's viewer vars from the session cookie."""
        user_id = self._actor_id(fresh=False)
        if user_id is None:
            if self.signed_in:
                self._clear_viewer()
            return
        self._load_unread(user_id)
        if self.signed_in and self._viewer_checked_at == self._checked_at:
            return  # still within the cached check: nothing new to load
        with session_scope() as s:
            view = accounts.get_user_view(s, user_id=user_id)
        if view is None:
            self._forget_session()
            self._clear_viewer()
        else:
            self._show_viewer(view)

    def _load_unread(self, user_id: int) -> None:
        """Unread messages for the header bell: one indexed COUNT per page load."""
        try:
            with session_scope() as s:
                self.unread_count = unread_count(s, actor_id=user_id)
        except DomainError:  # e.g. the account was just deactivated
            self.unread_count = 0

    @rx.event
    def toggle_lang(self):
        self.lang = "en" if normalize_lang(self.lang) == "zh_CN" else "zh_CN"

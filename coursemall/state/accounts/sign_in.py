"""Account states: sign-in (password and code), registration, password reset, profile, outbox.

Every public method is a remote endpoint: each one checks its arguments (type and length) before
anything else, takes the actor only from the server-side session (never from the payload),
runs password hashing and image work in a thread, and shows a translated message on failure.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

import reflex as rx
from starlette.datastructures import UploadFile as StarletteUploadFile

from coursemall import urls
from coursemall.api.auth import safe_next
from coursemall.db import session_scope
from coursemall.domain.errors import DomainError
from coursemall.domain.time import china_time_text
from coursemall.media import images
from coursemall.services.accounts import sessions, users
from coursemall.services import rate_limit
from coursemall.services.accounts import sender as sender_service
from coursemall.settings import get_settings
from coursemall.state.feedback import FeedbackMixin
from coursemall.state.base import AppState, parse_cookie

T = TypeVar("T")
MAX_FIELD = 1024  # longest string any account form field may carry


def _field(form_data: object, name: str, max_len: int = MAX_FIELD) -> str | None:
    """A form field that is a string of at most max_len characters, else None."""
    if not isinstance(form_data, dict):
        return None
    value = form_data.get(name)
    if not isinstance(value, str) or len(value) > max_len:
        return None
    return value


def _navigate(url: str) -> rx.event.EventSpec:
    """A full page load (not client-side routing), so the websocket reconnects with new cookies."""
    return rx.call_script(f"window.location.assign({json.dumps(url)})")


def _complete_url(ticket: str, next_path: str) -> str:
    return "/api/auth/complete?" + urlencode({"ticket": ticket, "next": next_path})


def _in_session(fn: Callable[..., T], **kwargs: Any) -> T:
    with session_scope() as s:
        return fn(s, **kwargs)


def _ticket_after(fn: Callable[..., users.UserView], *, browser_hash: str, **kwargs: Any) -> str:
    """Run a sign-in service and mint the login ticket (bound to this browser) in the same unit
    of work."""
    with session_scope() as s:
        user = fn(s, **kwargs)
        return sessions.create_login_ticket(s, user_id=user.id, browser_hash=browser_hash)


_QUERY_ERRORS = {"ticket": "auth.ticket_invalid", "other_browser": "auth.ticket_other_browser",
                 "browser": "auth.browser_reloaded"}


class _FormMixin(FeedbackMixin, mixin=True):
    """Form messages plus the post-sign-in destination, copied into each form state."""

    def _next_path(self) -> str:
        return safe_next(self.router.url.query_parameters.get("next"), urls.PROFILE)

    def _fetch_browser_secret(self) -> rx.event.EventSpec:
        """Reload this page through /api/auth/browser, which gives the browser its secret; the
        form then asks the user to submit again (nothing was checked or counted yet)."""
        params = {k: v for k, v in self.router.url.query_parameters.items() if k != "error"}
        params["error"] = "browser"
        back = f"{self.router.url.path or urls.SIGN_IN}?{urlencode(params)}"
        return _navigate("/api/auth/browser?" + urlencode({"next": back}))

    def _show_query_error(self) -> None:
        """The message a redirect back to this form asked for (?error=...)."""
        code = _QUERY_ERRORS.get(self.router.url.query_parameters.get("error", ""))
        if code:
            self.error = self._t(code)


class SignInState(_FormMixin, AppState):
    """/login: account + password."""

    @rx.event
    async def sign_in(self, form_data: dict):
        account = _field(form_data, "account", 300)
        password = _field(form_data, "password")
        if account is None:
            return self._fail("auth.account_invalid")
        if not password:
            return self._fail("auth.password_required")
        browser = self._browser_hash()
        if not browser:
            return self._fetch_browser_secret()
        try:
            ticket = await asyncio.to_thread(
                _ticket_after, users.sign_in_with_password, browser_hash=browser, account=account,
                password=password, ip=self._client_ip(),
                device=parse_cookie(self.router.headers.cookie, rate_limit.DEVICE_COOKIE))
        except DomainError as exc:
            return self._fail(exc.code, **exc.params)
        self.error = ""
        return _navigate(_complete_url(ticket, self._next_path()))

    @rx.event
    def clear_message(self):
        self.error = ""
        self.success = ""
        self._show_query_error()


class RegisterState(_FormMixin, AppState):
    """/register: account + nickname + password; signs the new user in."""

    @rx.event
    async def register(self, form_data: dict):
        account = _field(form_data, "account", 300)
        nickname = _field(form_data, "nickname", 200)
        password = _field(form_data, "password", 200)
        if account is None:
            return self._fail("auth.account_invalid")
        if nickname is None:
            return self._fail("auth.nickname_invalid", max=users.NICKNAME_MAX)
        if password is None:
            return self._fail("auth.password_length", min=users.PASSWORD_MIN,
                              max=users.PASSWORD_MAX)
        browser = self._browser_hash()
        if not browser:
            return self._fetch_browser_secret()
        try:
            ticket = await asyncio.to_thread(_ticket_after, users.register_user, browser_hash=browser,
                                             account=account, password=password,
                                             nickname=nickname, ip=self._client_ip())
        except DomainError as exc:
            return self._fail(exc.code, **exc.params)
        self.error = ""
        return _navigate(_complete_url(ticket, self._next_path()))

    @rx.event
    def clear_message(self):
        self.error = ""
        self.success = ""
        self._show_query_error()


class _CodeFormMixin(_FormMixin, mixin=True):
    """Account typed once, then 'send code' and 'submit' act on it."""

    account: str = ""

    def _code_purpose(self) -> str:
        raise NotImplementedError

    @rx.event
    def set_account(self, value: str):
        if isinstance(value, str) and len(value) <= 300:
            self.account = value
        else:
            self._fail("auth.account_invalid")

    @rx.event
    async def send_code(self):
        try:
            await asyncio.to_thread(_in_session, users.request_code, account=self.account,
                                    purpose=self._code_purpose(), ip=self._client_ip())
        except DomainError as exc:
            return self._fail(exc.code, **exc.params)
        self._ok("auth.code_sent")

    @rx.event
    def clear_message(self):
        self.error = ""
        self.success = ""
        self._show_query_error()


class CodeSignInState(_CodeFormMixin, AppState):
    """/login/code: one-time code sign-in."""

    def _code_purpose(self) -> str:
        return "login"

    @rx.event
    async def sign_in_with_code(self, form_data: dict):
        code = _field(form_data, "code", 20)
        account = _field(form_data, "account", 300)
        if account is not None and account.strip():
            self.account = account
        if code is None or not code.strip().isdigit() or len(code.strip()) != 6:
            return self._fail("auth.code_format")
        browser = self._browser_hash()
        if not browser:
            return self._fetch_browser_secret()
        try:
            ticket = await asyncio.to_thread(_ticket_after, users.sign_in_with_code, browser_hash=browser,
                                             account=self.account, code=code,
                                             ip=self._client_ip())
        except DomainError as exc:
            return self._fail(exc.code, **exc.params)
        self.error = ""
        return _navigate(_complete_url(ticket, self._next_path()))


class ResetPasswordState(_CodeFormMixin, AppState):
    """/reset-password: code + new password."""

    def _code_purpose(self) -> str:
        return "reset"

    @rx.event
    async def reset_password(self, form_data: dict):
        code = _field(form_data, "code", 20)
        password = _field(form_data, "password", 200)
        account = _field(form_data, "account", 300)
        if account is not None and account.strip():
            self.account = account
        if code is None or not code.strip().isdigit() or len(code.strip()) != 6:
            return self._fail("auth.code_format")
        if password is None:
            return self._fail("auth.password_length", min=users.PASSWORD_MIN,
                              max=users.PASSWORD_MAX)
        try:
            await asyncio.to_thread(_in_session, users.reset_password_with_code,
                                    account=self.account, code=code, new_password=password,
                                    ip=self._client_ip())
        except DomainError as exc:
            return self._fail(exc.code, **exc.params)
        self._ok("auth.reset_done")


def _device_label(user_agent: str) -> str:
    ua = user_agent or ""
    os_name = next((name for key, name in (
        ("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"), ("Windows", "Windows"),
        ("Mac OS X", "Mac"), ("Linux", "Linux")) if key in ua), "")
    browser = next((name for key, name in (
        ("MicroMessenger", "WeChat"), ("Edg/", "Edge"), ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"), ("Chromium/", "Chromium"), ("Safari/", "Safari")) if key in ua), "")
    label = " · ".join(p for p in (os_name, browser) if p)
    return label or (ua[:40] if ua else "?")


class ProfileState(_FormMixin, AppState):
    """/me: profile, avatar, password, sessions, sign out."""

    email: str = ""
    phone: str = ""
    nickname_input: str = ""
    section: str = ""  # which form the message belongs to: nickname|avatar|password|sessions
    device_sessions: list[dict[str, str]] = []

    def _msg(self, section: str, code: str, ok: bool = False, **params: object) -> None:
        self.section = section
        if ok:
            self._ok(code, **params)
        else:
            self._fail(code, **params)

    def _require_user(self, section: str) -> int | None:
        user_id = self._actor_id(fresh=True)
        if user_id is None:
            self._clear_viewer()
            self._msg(section, "error.sign_in_required")
        return user_id

    def _load_sessions(self, s, user_id: int) -> None:
        views = sessions.list_sessions(s, user_id=user_id, current_hash=self._session_hash)
        self.device_sessions = [
            {"id": str(v.id), "device": _device_label(v.user_agent), "ip": v.ip or "-",
             "last_seen": china_time_text(v.last_seen_at), "current": "1" if v.current else ""}
            for v in views
        ]

    @rx.event
    def load_profile(self):
        self.error = self.success = self.section = ""
        user_id = self._actor_id(fresh=True)
        if user_id is None:
            self._clear_viewer()
            return rx.redirect(f"{urls.SIGN_IN}?{urlencode({'next': urls.PROFILE})}",
                               replace=True)
        with session_scope() as s:
            view = users.get_user_view(s, user_id=user_id)
            if view is None:
                self._forget_session()
                self._clear_viewer()
                return rx.redirect(urls.SIGN_IN, replace=True)
            self._load_sessions(s, user_id)
        self._show_viewer(view)
        self.email, self.phone, self.nickname_input = view.email, view.phone, view.nickname

    @rx.event
    def set_nickname_input(self, value: str):
        if isinstance(value, str) and len(value) <= 200:
            self.nickname_input = value
        else:
            self._msg("nickname", "auth.nickname_invalid", max=users.NICKNAME_MAX)

    @rx.event
    def save_nickname(self, form_data: dict):
        nickname = _field(form_data, "nickname", 200)
        try:
            users.check_nickname(nickname)
        except DomainError as exc:
            return self._msg("nickname", exc.code, **exc.params)
        user_id = self._require_user("nickname")
        if user_id is None:
            return
        try:
            view = _in_session(users.update_nickname, user_id=user_id, nickname=nickname)
        except DomainError as exc:
            return self._msg("nickname", exc.code, **exc.params)
        self.nickname = view.nickname
        self.nickname_input = view.nickname
        self._msg("nickname", "profile.saved", ok=True)

    @rx.event
    async def upload_avatar(self, files: list[rx.UploadFile]):
        if (not isinstance(files, list) or not files
                or not isinstance(files[0], StarletteUploadFile)):
            return self._msg("avatar", "avatar.no_file")
        user_id = self._require_user("avatar")
        if user_id is None:
            return
        stream = files[0].file
        max_bytes = get_settings().avatar_max_bytes

        def work() -> users.UserView:
            data = images.read_limited(stream, max_bytes)
            return _in_session(users.set_avatar, user_id=user_id, data=data)

        try:
            view = await asyncio.to_thread(work)
        except DomainError as exc:
            return self._msg("avatar", exc.code, **exc.params)
        self.avatar_url = view.avatar_url
        self._msg("avatar", "profile.avatar_saved", ok=True)

    @rx.event
    async def change_password(self, form_data: dict):
        old = _field(form_data, "old_password", 1024)
        new = _field(form_data, "new_password", 200)
        if not old:
            return self._msg("password", "auth.old_password_wrong")
        if new is None:
            return self._msg("password", "auth.password_length", min=users.PASSWORD_MIN,
                             max=users.PASSWORD_MAX)
        user_id = self._require_user("password")
        if user_id is None:
            return
        try:
            await asyncio.to_thread(_in_session, users.change_password, user_id=user_id,
                                    old_password=old, new_password=new,
                                    keep_session_hash=self._session_hash, ip=self._client_ip())
        except DomainError as exc:
            return self._msg("password", exc.code, **exc.params)
        with session_scope() as s:
            self._load_sessions(s, user_id)
        self._msg("password", "profile.password_changed", ok=True)

    @rx.event
    def revoke_session(self, session_id: str):
        if isinstance(session_id, bool) or not (
                (isinstance(session_id, int) and 0 < session_id < 2**62)
                or (isinstance(session_id, str) and session_id.isdigit() and len(session_id) < 19)):
            return self._msg("sessions", "error.bad_request")
        user_id = self._require_user("sessions")
        if user_id is None:
            return
        try:
            with session_scope() as s:
                sessions.revoke_session(s, user_id=user_id, session_id=int(session_id))
        except DomainError as exc:
            return self._msg("sessions", exc.code, **exc.params)
        with session_scope() as s:
            self._load_sessions(s, user_id)
        self._msg("sessions", "profile.session_revoked", ok=True)

    @rx.event
    def sign_out(self):
        h = self._cookie_token_hash()
        if h:
            with session_scope() as s:
                sessions.revoke_session_by_hash(s, token_hash_hex=h)
        # Header vars are left for the next page's load_viewer to clear, so the page never shows
        # "signed out" before the cookie is actually gone.
        self._forget_session()
        self.device_sessions = []
        return _navigate("/api/auth/signout")

    @rx.event
    def sign_out_everywhere(self):
        user_id = self._actor_id(fresh=True)
        if user_id is not None:
            with session_scope() as s:
                sessions.revoke_all_sessions(s, user_id=user_id)
        # Header vars are left for the next page's load_viewer to clear, so the page never shows
        # "signed out" before the cookie is actually gone.
        self._forget_session()
        self.device_sessions = []
        return _navigate("/api/auth/signout")


class OutboxState(AppState):
    """/outbox (demo only): the latest messages the outbox sender stored."""

    enabled: bool = False
    messages: list[dict[str, str]] = []

    @rx.event
    def load_outbox(self):
        self.enabled = get_settings().demo
        if not self.enabled:
            self.messages = []
            return
        with session_scope() as s:
            rows = sender_service.list_outbox(s, limit=30)
        self.messages = [
            {"id": str(r.id), "channel": r.channel, "target": r.target, "subject": r.subject,
             "body": r.body, "time": china_time_text(r.created_at)} for r in rows
        ]

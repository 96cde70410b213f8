"""/setup/<token>: the shop's one-time setup (services/shop/setup.py holds every rule).

Steps: the link is checked (`load_setup`) → the owner's e-mail, nickname and password
(`submit_account`, checked and hashed by the service, nothing stored) → an authenticator app is
linked (QR + a code, `finish_setup`: the service opens the shop in one transaction and returns the
recovery codes, shown once) → `open_dashboard` signs the new owner in with a TOTP-verified session
(once, shortly after) and goes to /admin.

Between the steps the link and the pending account (with the password's hash and the new seed)
live only in backend vars, the pending part encrypted (services/crypto.py).
"""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlencode

import reflex as rx

from coursemall import urls
from coursemall.db import session_scope
from coursemall.domain.errors import DomainError
from coursemall.services.accounts import mfa, sessions, users
from coursemall.services import crypto
from coursemall.services.shop import setup as setup_service
from coursemall.state.base import AppState

MAX_FIELD = 300
MAX_CODE_FIELD = 40
SIGN_IN_WINDOW_SECONDS = 15 * 60  # how long after the setup "open the shop admin" still works
LINK_REFUSALS = {"setup.token_invalid", "setup.token_expired", "setup.token_used", "setup.token_replaced",
                 "setup.already_done"}


def _field(form_data: object, name: str, max_len: int = MAX_FIELD) -> str | None:
    if not isinstance(form_data, dict):
        return None
    value = form_data.get(name, "")
    return value if isinstance(value, str) and len(value) <= max_len else None


def _prepare(token: str, **fields: str) -> setup_service.PreparedOwner:
    with session_scope() as s:
        return setup_service.prepare_owner(s, token=token, **fields)


def _complete(token: str, owner: setup_service.PreparedOwner, secret: str, code: str,
              ip: str) -> setup_service.SetupResult:
    with session_scope() as s:
        return setup_service.complete_setup(s, token=token, owner=owner, secret=secret, code=code, ip=ip)


class SetupState(AppState):
    step: str = "checking"  # checking | refused | account | totp | done
    refusal: str = ""  # why the link cannot be used (translated)
    error: str = ""
    success: str = ""
    enrol_qr: str = ""
    enrol_key: str = ""
    new_codes: list[str] = []

    _token: str = ""
    _pending: str = ""  # encrypted JSON: the prepared owner and the seed being linked
    _owner_id: int = 0  # the owner just created here (for `open_dashboard`, once)
    _done_at: float = 0.0

    def _reset_setup(self) -> None:
        self.step = "checking"
        self.refusal = self.error = self.success = self.enrol_qr = self.enrol_key = ""
        self.new_codes = []
        self._token = self._pending = ""
        self._owner_id = 0
        self._done_at = 0.0

    def _refuse(self, code: str) -> None:
        self._reset_setup()
        self.step = "refused"
        self.refusal = self._t(code)

    def _failed(self, exc: DomainError) -> None:
        if exc.code in LINK_REFUSALS:
            return self._refuse(exc.code)
        self.error = self._t(exc.code, **exc.params)

    @rx.event
    def load_setup(self):
        self._reset_setup()
        token = self._route_param("token")
        if not sessions.looks_like_token(token):
            return self._refuse("setup.token_invalid")
        try:
            with session_scope() as s:
                setup_service.check_setup_token(s, token=token)
        except DomainError as exc:
            return self._refuse(exc.code)
        self._token = token
        self.step = "account"

    @rx.event
    async def submit_account(self, form_data: dict):
        self.error = ""
        if self.step != "account" or not self._token:
            return self._refuse("setup.token_invalid")
        fields = {name: _field(form_data, name) for name in ("email", "nickname", "password", "password_again")}
        if fields["email"] is None:
            self.error = self._t("setup.email_required")
            return
        if fields["nickname"] is None:
            self.error = self._t("auth.nickname_invalid", max=users.NICKNAME_MAX)
            return
        if fields["password"] is None or fields["password_again"] is None:
            self.error = self._t("auth.password_length", min=users.PASSWORD_MIN, max=users.PASSWORD_MAX)
            return
        try:
            owner = await asyncio.to_thread(_prepare, self._token, **fields)
        except DomainError as exc:
            return self._failed(exc)
        seed = mfa.new_seed(owner.email)
        self._pending = crypto.encrypt(json.dumps({"email": owner.email, "nickname": owner.nickname,
                                                   "password_hash": owner.password_hash, "secret": seed.secret}))
        self.enrol_qr, self.enrol_key = seed.qr_data_url, seed.secret
        self.step = "totp"

    @rx.event
    def back_to_account(self):
        if self.step == "totp":
            self._pending = self.enrol_qr = self.enrol_key = self.error = ""
            self.step = "account"

    @rx.event
    async def finish_setup(self, form_data: dict):
        self.error = ""
        code = _field(form_data, "code", MAX_CODE_FIELD)
        if self.step != "totp" or not self._pending or not self._token:
            self.error = self._t("setup.start_again")
            return
        if code is None or not code.strip():
            self.error = self._t("mfa.code_invalid")
            return
        try:
            pending = json.loads(crypto.decrypt(self._pending))
            owner = setup_service.PreparedOwner(email=pending["email"], nickname=pending["nickname"],
                                                password_hash=pending["password_hash"])
            result = await asyncio.to_thread(_complete, self._token, owner, pending["secret"], code.strip(),
                                             self._client_ip())
        except (ValueError, KeyError):
            self._pending = ""
            self.step = "account"
            self.error = self._t("setup.start_again")
            return
        except DomainError as exc:
            return self._failed(exc)
        self._token = self._pending = self.enrol_qr = self.enrol_key = ""
        self._owner_id, self._done_at = result.owner_id, time.monotonic()
        self.new_codes = result.recovery_codes
        self.step = "done"

    @rx.event
    def open_dashboard(self):
        """Sign the new owner in (TOTP-verified) once, within SIGN_IN_WINDOW_SECONDS of the setup."""
        owner_id, self._owner_id = self._owner_id, 0
        if self.step != "done" or not owner_id or time.monotonic() - self._done_at > SIGN_IN_WINDOW_SECONDS:
            self.error = self._t("setup.ticket_gone")
            return rx.redirect(urls.SIGN_IN)
        try:
            with session_scope() as s:
                ticket = setup_service.owner_sign_in_ticket(s, owner_id=owner_id,
                                                            browser_hash=self._browser_hash())
        except DomainError:
            self.error = self._t("setup.ticket_gone")
            return rx.redirect(urls.SIGN_IN)
        self.new_codes = []
        url = "/api/auth/complete?" + urlencode({"ticket": ticket, "next": urls.ADMIN})
        return rx.call_script(f"window.location.assign({json.dumps(url)})")

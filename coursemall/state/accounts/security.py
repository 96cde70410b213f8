"""Dashboard access states: the TOTP page (/admin/security), the inline TOTP step shown
by every dashboard page (components/mfa.mfa_gate), staff management (/admin/staff) and the audit
log (/admin/audit).

The TOTP page and the gate are where a device passes TOTP, so they cannot demand it: their
handlers carry `@dashboard_user_required` (defined here), which admits any signed-in dashboard user
(owner, staff, approved instructor) by the database role of the server-side session, verified or
not. Everything they do is about the caller's own second factor, and the services refuse what
needs a verified device (replacing the authenticator, new recovery codes). Staff management and
the audit log carry `@owner_required` (TOTP included).

The pending seed of an enrolment lives in a backend var, encrypted; recovery codes are shown once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import reflex as rx

from coursemall import urls
from coursemall.api.auth import safe_next
from coursemall.db import session_scope
from coursemall.domain.errors import DomainError
from coursemall.domain.time import china_time_text
from coursemall.domain.validation import valid_id
from coursemall.services import crypto
from coursemall.services.accounts import mfa
from coursemall.services.dashboard import staff as staff_service
from coursemall.services.permissions import DASHBOARD_CLOSED, DashboardActor, dashboard_actor
from coursemall.services.shop.setup import shop_is_open
from coursemall.state.base import AppState
from coursemall.state.dashboard.base import DashboardBaseState, _in_session, form_field
from coursemall.state.guards import FORBIDDEN, make_guard, owner_required

DASHBOARD_USER = "dashboard_user_required"
MAX_CODE_FIELD = 40
MAX_ACCOUNT_FIELD = 300


# ---------------------------------------------------------------------------------- the guard

def _signed_in_dashboard_user(state: Any) -> DashboardActor | None:
    actor_id = state._actor_id(fresh=True)  # fresh: also refreshes state._mfa_ok
    if actor_id is None:
        return None
    with session_scope() as s:
        return dashboard_actor(s, actor_id)


def _dashboard_user_check(state: Any) -> tuple[DashboardActor | None, str]:
    with session_scope() as s:
        if not shop_is_open(s):  # before the setup nobody enrols here (the setup page does it)
            return None, DASHBOARD_CLOSED
    actor = _signed_in_dashboard_user(state)
    return (actor, "") if actor is not None else (None, FORBIDDEN)


# Like guards.dashboard_required, but without the TOTP step (this is where it happens).
dashboard_user_required = make_guard(DASHBOARD_USER, _dashboard_user_check)


def _code_field(form_data: object) -> str | None:
    value = form_field(form_data, "code")
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_CODE_FIELD:
        return None
    return value.strip()


def _verify_message(kind: str) -> str:
    return "mfa.ui.verified_recovery" if kind == "recovery" else "mfa.ui.verified"


# ---------------------------------------------------------------------------------- /admin/security

class SecurityState(DashboardBaseState):
    """/admin/security: status, enrolment (QR + key + confirm), verification of this device,
    recovery codes, and a "continue" link back to the page that asked for the TOTP step."""

    enrolled: bool = False
    required: bool = False  # owner/staff must enrol
    verified: bool = False  # this device passed TOTP
    recovery_left_text: str = ""
    enrolling: bool = False
    enrol_qr: str = ""  # data:image/png URL of the provisioning URI
    enrol_key: str = ""  # the base32 key for manual entry (only while enrolling)
    new_codes: list[str] = []  # recovery codes, shown once
    next_path: str = urls.ADMIN

    _pending_enrol: str = ""  # "<user id>:<seed>" being enrolled, encrypted (services/crypto.py)

    def _clear_data(self) -> None:
        self.enrolled = self.required = self.verified = self.enrolling = False
        self.recovery_left_text = self.enrol_qr = self.enrol_key = ""
        self.new_codes = []
        self._pending_enrol = ""

    def _stop_enrolling(self) -> None:
        self.enrolling = False
        self.enrol_qr = self.enrol_key = ""
        self._pending_enrol = ""

    def _refresh(self) -> None:
        status = _in_session(mfa.mfa_status, actor_id=self._actor_id())
        self.enrolled = status.enrolled
        self.required = status.required
        self.verified = bool(self._mfa_ok)
        self.recovery_left_text = self._t("mfa.ui.recovery_left", count=status.recovery_left)

    def _read_next(self) -> None:
        self.next_path = safe_next(self.router.url.query_parameters.get("next"), urls.ADMIN)

    @rx.event
    @dashboard_user_required
    def load_security(self):
        self._clear_messages()
        self._stop_enrolling()
        self.new_codes = []
        self._read_next()
        try:
            self._refresh()
        except DomainError as exc:
            return self._service_error("page", exc)
        self._admit()

    @rx.event
    @dashboard_user_required
    def start_enrol(self):
        self._clear_messages()
        try:
            enrolment = _in_session(mfa.start_enrolment, actor_id=self._actor_id(),
                                    session_verified=bool(self._mfa_ok))
        except DomainError as exc:
            return self._service_error("enrol", exc)
        self.enrolling = True
        self.enrol_qr = enrolment.qr_data_url
        self.enrol_key = enrolment.secret
        # bound to this user: a later sign-in on the same browser tab cannot confirm it
        self._pending_enrol = crypto.encrypt(f"{self._actor_id()}:{enrolment.secret}")
        self.new_codes = []

    @rx.event
    @dashboard_user_required
    def cancel_enrol(self):
        self._clear_messages()
        self._stop_enrolling()

    @rx.event
    @dashboard_user_required
    async def confirm_enrol(self, form_data: dict):
        self._clear_messages()
        code = _code_field(form_data)
        if code is None:
            return self._fail("enrol", "mfa.code_invalid")
        if not self._pending_enrol:
            return self._fail("enrol", "mfa.enrol_expired")
        try:
            owner_id, _sep, secret = crypto.decrypt(self._pending_enrol).partition(":")
            if owner_id != str(self._actor_id()):
                raise ValueError("pending enrolment of another account")
            codes = await asyncio.to_thread(
                _in_session, mfa.confirm_enrolment, actor_id=self._actor_id(), secret=secret, code=code,
                session_id=self._session_id, session_verified=bool(self._mfa_ok), ip=self._client_ip())
        except ValueError:
            self._stop_enrolling()
            return self._fail("enrol", "mfa.enrol_expired")
        except DomainError as exc:
            return self._service_error("enrol", exc)
        self._stop_enrolling()
        self._actor_id(fresh=True)  # picks up the verified session
        self._refresh()
        self.new_codes = codes
        self._ok("codes", "mfa.ui.enrolled")

    @rx.event
    @dashboard_user_required
    async def verify_device(self, form_data: dict):
        self._clear_messages()
        code = _code_field(form_data)
        if code is None:
            return self._fail("verify", "mfa.code_invalid")
        try:
            kind = await asyncio.to_thread(
                _in_session, mfa.verify, actor_id=self._actor_id(), code=code, session_id=self._session_id,
                ip=self._client_ip())
        except DomainError as exc:
            return self._service_error("verify", exc)
        self._actor_id(fresh=True)
        self._refresh()
        self._ok("verify", _verify_message(kind))

    @rx.event
    @dashboard_user_required
    def regenerate_codes(self):
        self._clear_messages()
        try:
            codes = _in_session(mfa.regenerate_recovery_codes, actor_id=self._actor_id(),
                                session_verified=bool(self._mfa_ok), ip=self._client_ip())
        except DomainError as exc:
            return self._service_error("codes", exc)
        self._refresh()
        self.new_codes = codes
        self._ok("codes", "mfa.ui.codes_regenerated")

    @rx.event
    @dashboard_user_required
    def hide_codes(self):
        self.new_codes = []
        self._clear_messages()


# ---------------------------------------------------------------------------------- the inline gate

class MfaGateState(AppState):
    """The TOTP step inside any dashboard page refused with admin.mfa_required: a code form when
    the user has an authenticator (then the page reloads), else a link to enrol.

    Not a DashboardBaseState on purpose: Reflex 0.10 keeps inherited vars on the ancestor state,
    so every DashboardBaseState subclass shares one `allowed`/`error`/`mfa_needed`; admitting the
    gate there would flip the refused page itself to "allowed". The gate has vars of its own."""

    gate_loaded: bool = False
    gate_enrolled: bool = False
    gate_security_href: str = urls.ADMIN_SECURITY
    gate_error: str = ""
    gate_success: str = ""

    def _deny(self, code: str) -> None:  # called by the guard
        self.gate_loaded = self.gate_enrolled = False
        self.gate_success = ""
        self.gate_error = self._t(code)

    def _say(self, code: str, *, ok: bool = False, **params: object) -> None:
        text = self._t(code, **params)
        self.gate_error, self.gate_success = ("", text) if ok else (text, "")

    def _security_href(self) -> str:
        here = safe_next(self.router.url.path, urls.ADMIN)
        return f"{urls.ADMIN_SECURITY}?{urlencode({'next': here})}"

    @rx.event
    @dashboard_user_required
    def load_gate(self):
        self.gate_error = self.gate_success = ""
        try:
            status = _in_session(mfa.mfa_status, actor_id=self._actor_id())
        except DomainError as exc:
            return self._say(exc.code, **exc.params)
        self.gate_enrolled = status.enrolled
        self.gate_security_href = self._security_href()
        self.gate_loaded = True

    @rx.event
    @dashboard_user_required
    async def submit_gate(self, form_data: dict):
        self.gate_error = self.gate_success = ""
        code = _code_field(form_data)
        if code is None:
            return self._say("mfa.code_invalid")
        try:
            kind = await asyncio.to_thread(
                _in_session, mfa.verify, actor_id=self._actor_id(), code=code, session_id=self._session_id,
                ip=self._client_ip())
        except DomainError as exc:
            return self._say(exc.code, **exc.params)
        self._actor_id(fresh=True)
        self._say(_verify_message(kind), ok=True)
        return rx.call_script("window.location.reload()")


# ---------------------------------------------------------------------------------- /admin/staff

class StaffState(DashboardBaseState):
    """/admin/staff (owner): owner/staff accounts; promote by e-mail/phone, demote, reset 2FA."""

    staff_rows: list[dict[str, str]] = []

    def _clear_data(self) -> None:
        self.staff_rows = []

    def _reload(self) -> None:
        rows = _in_session(staff_service.list_staff, actor_id=self._actor_id())
        self.staff_rows = [{"id": str(r.user_id), "nickname": r.nickname, "account": r.account, "role": r.role,
                            "mfa": "on" if r.enrolled else "off", "since": china_time_text(r.created_at)}
                           for r in rows]

    def _run(self, section: str, fn: Callable[..., Any], **kwargs: Any) -> bool:
        """Call one service in a unit of work and reload the list; False (message shown) on refusal."""
        try:
            _in_session(fn, actor_id=self._actor_id(), ip=self._client_ip(), **kwargs)
            self._reload()
        except DomainError as exc:
            self._service_error(section, exc, owner_only=True)
            return False
        return True

    @rx.event
    @owner_required
    def load_staff(self):
        self._clear_messages()
        try:
            self._reload()
        except DomainError as exc:
            return self._service_error("page", exc, owner_only=True)
        self._admit()

    @rx.event
    @owner_required
    def promote_staff(self, form_data: dict):
        self._clear_messages()
        account = form_field(form_data, "account")
        if not isinstance(account, str) or not account.strip() or len(account) > MAX_ACCOUNT_FIELD:
            return self._fail("promote", "auth.account_invalid")
        try:
            row = _in_session(staff_service.promote_to_staff, actor_id=self._actor_id(), account=account,
                              ip=self._client_ip())
            self._reload()
        except DomainError as exc:
            return self._service_error("promote", exc, owner_only=True)
        self._ok("promote", "staff.ui.promoted", name=row.nickname)

    @rx.event
    @owner_required
    def demote_staff(self, user_id: int):
        self._clear_messages()
        uid = valid_id(user_id)
        if uid is None:
            return self._fail("list", "admin.bad_id")
        if self._run("list", staff_service.demote_staff, user_id=uid):
            self._ok("list", "staff.ui.demoted")

    @rx.event
    @owner_required
    def reset_staff_mfa(self, user_id: int):
        self._clear_messages()
        uid = valid_id(user_id)
        if uid is None:
            return self._fail("list", "admin.bad_id")
        if self._run("list", mfa.reset_user_mfa, user_id=uid):
            self._ok("list", "staff.ui.mfa_reset")


# ---------------------------------------------------------------------------------- /admin/audit

class AuditState(DashboardBaseState):
    """/admin/audit (owner): the audit log, newest first; filter by action prefix and actor; pages."""

    entries: list[dict[str, str]] = []
    actors: list[dict[str, str]] = []
    action_filter: str = ""
    actor_filter: str = ""  # a user id as text, "" = everyone
    audit_page: int = 1
    has_more: bool = False
    page_label: str = ""

    def _clear_data(self) -> None:
        self.entries = []
        self.actors = []
        self.has_more = False
        self.page_label = ""

    def _load(self, action: str, actor: str, page: int) -> None:
        actor_id = self._actor_id()
        try:
            with session_scope() as s:
                result = staff_service.list_audit(s, actor_id=actor_id, action_prefix=action,
                                                  actor_filter=valid_id(actor) if actor else None, page=page)
                actors = staff_service.audit_actors(s, actor_id=actor_id)
        except DomainError as exc:
            return self._service_error("list", exc, owner_only=True)
        self._admit()
        system = self._t("audit.ui.system")
        self.entries = [{"id": str(r.id), "time": china_time_text(r.created_at), "actor": r.actor or system,
                         "action": r.action, "target": r.target, "detail": r.detail} for r in result.rows]
        self.actors = [{"id": str(a.user_id), "nickname": a.nickname} for a in actors]
        self.action_filter, self.actor_filter, self.audit_page = action, actor, result.page
        self.has_more = result.has_more
        self.page_label = self._t("audit.ui.page", page=result.page)

    @rx.event
    @owner_required
    def load_audit(self):
        self._clear_messages()
        self._load("", "", 1)

    @rx.event
    @owner_required
    def filter_audit(self, form_data: dict):
        self._clear_messages()
        action = staff_service.parse_action_prefix(form_field(form_data, "action"))
        raw_actor = form_field(form_data, "actor")
        actor_ok = raw_actor in ("", "all") or valid_id(raw_actor) is not None
        if action is None or not isinstance(raw_actor, str) or not actor_ok:
            return self._fail("list", "audit.bad_filter")
        self._load(action, "" if raw_actor == "all" else raw_actor, 1)

    @rx.event
    @owner_required
    def next_audit_page(self):
        self._clear_messages()
        if self.has_more:
            self._load(self.action_filter, self.actor_filter, self.audit_page + 1)

    @rx.event
    @owner_required
    def prev_audit_page(self):
        self._clear_messages()
        if self.audit_page > 1:
            self._load(self.action_filter, self.actor_filter, self.audit_page - 1)

"""The base of every dashboard state: messages, the permission flags the pages use to
hide UI, the TOTP step flag, and validators for event arguments and form fields.

Every handler of a dashboard state is a remote endpoint callable by anyone, so each one:
1. carries a guard from `coursemall.state.guards` below `@rx.event` (`staff_required`,
   `owner_required` or `dashboard_required`; roles from the database, TOTP for owner/staff);
2. validates its arguments with the parsers here (Reflex passes dicts, lists, None or 100 KB
   strings through);
3. calls services inside `session_scope()` (the services check role and object again), slow work
   off the event loop.
Rows are sent to the browser as small dicts of strings (no ORM rows).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from coursemall.db import session_scope
from coursemall.domain.errors import DomainError
from coursemall.domain.orders import OrderStatus
from coursemall.services.permissions import DASHBOARD_CLOSED
from coursemall.state.base import AppState
from coursemall.state.guards import MFA_REQUIRED

T = TypeVar("T")
REASON_MIN, REASON_MAX = 1, 200
INSTRUCTIONS_MAX = 500
MAX_FORM_FIELD = 4096  # any longer form value is refused before it is looked at
ORDER_STATUSES = tuple(s.value for s in OrderStatus)
MANUAL_OUTCOME_KEYS = {
    "applied": "admin.manual.confirmed",
    "applied_late": "admin.manual.confirmed_late",
    "late_refund_queued": "admin.manual.confirmed_late",
    "owned_refund_queued": "admin.manual.confirmed_late",
    "duplicate_payment": "admin.manual.confirmed_duplicate",
    "rejected:wrong_channel": "admin.manual.confirmed_wrong_channel",
}


def _in_session(fn: Callable[..., T], **kwargs: Any) -> T:
    with session_scope() as s:
        return fn(s, **kwargs)


def parse_int_in(value: object, lo: int, hi: int) -> int | None:
    """A whole number lo..hi from a form field (str) or an int, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not (0 < len(text) <= 6 and text.isascii() and text.isdigit()):
            return None
        value = int(text)
    if isinstance(value, int) and lo <= value <= hi:
        return value
    return None


def parse_reason(value: object) -> str | None:
    if not isinstance(value, str) or len(value) > MAX_FORM_FIELD:
        return None
    text = value.strip()
    if not REASON_MIN <= len(text) <= REASON_MAX or "\x00" in text:
        return None
    return text


def form_field(form_data: object, name: str) -> object:
    """The raw value of a form field ('' when absent); None when the payload is not a form."""
    if not isinstance(form_data, dict):
        return None
    return form_data.get(name, "")


def form_checked(value: object) -> bool | None:
    """A checkbox/switch field: 'on' (or True) when checked, '' / absent / False when not."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in ("on", "true"):
        return True
    if isinstance(value, str) and value in ("", "false", "off"):
        return False
    return None


class DashboardBaseState(AppState):
    """Messages, the permission flags and helpers shared by every dashboard state."""

    error: str = ""
    success: str = ""
    section: str = ""  # which part of the page the message belongs to
    allowed: bool = False  # the last guarded call was made by owner/staff (only hides UI)
    loaded: bool = False
    is_owner: bool = False
    is_staff: bool = False  # owner or staff (else an instructor)
    mfa_needed: bool = False  # the last guarded call was refused for want of the TOTP step
    shop_closed: bool = False  # refused because the shop is not open yet (before its setup)
    # Vars declared here live on this shared ancestor, so every dashboard page of a tab sees the
    # same flags. `admitted`/`denied` name the state whose page the last decision was for, so a
    # page shows its body (or the refusal) only after its own load, never a previous page's.
    admitted: str = ""
    denied: str = ""

    _staff_role: str = ""  # owner | staff | instructor, set by the guards from the database
    _instructor_id: int = 0  # the approved instructor profile of the actor (0 = none)

    def _clear_data(self) -> None:
        """Drop every row this state holds (after a failed permission check)."""

    def _deny(self, code: str) -> None:
        self._clear_data()
        self.allowed = False
        self.is_owner = self.is_staff = False
        self.mfa_needed = code == MFA_REQUIRED
        self.shop_closed = code == DASHBOARD_CLOSED
        self.admitted = ""
        self.denied = type(self).get_full_name()
        self.loaded = True
        self.section = "page"
        self.error = self._t(code)
        self.success = ""

    def _admit(self) -> None:
        self.allowed = True
        self.is_owner = self._staff_role == "owner"
        self.is_staff = self._staff_role in ("owner", "staff")
        self.mfa_needed = self.shop_closed = False
        self.admitted = type(self).get_full_name()
        self.denied = ""
        self.loaded = True

    def _fail(self, section: str, code: str, **params: object) -> None:
        self.section = section
        self.error = self._t(code, **params)
        self.success = ""

    def _ok(self, section: str, code: str, **params: object) -> None:
        self.section = section
        self.success = self._t(code, **params)
        self.error = ""

    def _clear_messages(self) -> None:
        self.error = self.success = self.section = ""

    def _show_failure(self, exc: DomainError | None, section: str) -> None:
        """For AppState._run: refusals through the guard's page message, the rest in `section`."""
        if exc is None:
            self._fail(section or "page", "error.generic")
        else:
            self._service_error(section or "page", exc)

    def _service_error(self, section: str, exc: DomainError, *, owner_only: bool = False) -> None:
        if exc.code == DASHBOARD_CLOSED:
            return self._deny(exc.code)
        if exc.code in ("error.forbidden", "error.sign_in_required"):
            if owner_only and exc.code == "error.forbidden" and self._staff_role == "staff":
                return self._fail(section, "admin.owner_only")
            return self._deny("admin.forbidden")
        self._fail(section, exc.code, **exc.params)

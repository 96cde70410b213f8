"""/admin/leak: watermark code → account report → freeze / revoke all access / unfreeze.

Every handler carries `@staff_required` (owner or staff with TOTP, roles from the database). The
account acted on is the one the last successful lookup found, kept in a backend var
(`_target_user_id`): no handler takes a user id from the browser. Each action needs two steps
(`ask_action`, then `confirm_action` with a reason); the services check the role again, protect
owner/staff accounts, write the audit log and tell the account nothing.
"""

from __future__ import annotations

import reflex as rx

from coursemall.db import session_scope
from coursemall.domain.errors import DomainError
from coursemall.domain.money import format_fen
from coursemall.domain.time import china_time_text
from coursemall.services.dashboard import leak
from coursemall.state.dashboard.base import (
    REASON_MAX,
    REASON_MIN,
    DashboardBaseState,
    form_field,
    parse_reason,
)
from coursemall.state.guards import staff_required

_DONE_KEYS = {"freeze": "leak.done.freeze", "revoke": "leak.done.revoke", "unfreeze": "leak.done.unfreeze"}
_SERVICES = {"freeze": leak.freeze_account, "revoke": leak.revoke_all_access, "unfreeze": leak.unfreeze_account}


def _account_view(report: leak.LeakReport) -> dict[str, str]:
    a = report.account
    return {"nickname": a.nickname, "contact": " / ".join(x for x in (a.email, a.phone) if x) or "—",
            "role": a.role, "code": a.watermark_code, "joined": china_time_text(a.joined_at),
            "status": "active" if a.is_active else "frozen", "frozen_reason": a.frozen_reason,
            "courses": str(report.active_courses), "recent_ips": str(report.recent_ips),
            "live_devices": str(report.live_devices)}


class LeakState(DashboardBaseState):
    """The leak-tracing page: one account report at a time."""

    found: bool = False
    is_frozen: bool = False
    account: dict[str, str] = {}
    orders: list[dict[str, str]] = []
    devices: list[dict[str, str]] = []
    ips: list[dict[str, str]] = []
    study: list[dict[str, str]] = []
    pending: str = ""  # the action waiting for confirmation: "" | freeze | revoke | unfreeze
    form_key: int = 0  # bumped to clear the reason field after an action

    _target_user_id: int = 0  # the account the last lookup found (server-side only)

    def _clear_data(self) -> None:
        self.found = self.is_frozen = False
        self.account = {}
        self.orders = self.devices = self.ips = self.study = []
        self.pending = ""
        self._target_user_id = 0

    def _show(self, report: leak.LeakReport) -> None:
        self._target_user_id = report.account.user_id
        self.found = True
        self.is_frozen = not report.account.is_active
        self.account = _account_view(report)
        self.orders = [{"order_no": o.order_no, "status": o.status, "total": format_fen(o.total_fen),
                        "date": china_time_text(o.created_at), "titles": o.titles} for o in report.orders]
        self.devices = [{"agent": d.user_agent or "—", "ip": d.ip or "—", "created": china_time_text(d.created_at),
                         "last_seen": china_time_text(d.last_seen_at), "state": d.state} for d in report.devices]
        self.ips = [{"ip": i.ip, "sessions": str(i.sessions), "sign_ins": str(i.sign_ins), "failed": str(i.failed),
                     "last_seen": china_time_text(i.last_seen_at)} for i in report.ips]
        self.study = [{"course": s.course, "lesson": s.lesson, "percent": f"{s.percent}%",
                       "last_at": china_time_text(s.last_at)} for s in report.study]

    @rx.event
    @staff_required
    def load_leak(self):
        self._clear_messages()
        self._clear_data()
        self._admit()

    @rx.event
    @staff_required
    def trace(self, form_data: dict):
        self._clear_messages()
        raw = form_field(form_data, "code")
        if not isinstance(raw, str) or leak.normalize_code(raw) is None:
            self._clear_data()
            return self._fail("search", "leak.code_invalid")
        try:
            with session_scope() as s:
                report = leak.trace_code(s, actor_id=self._actor_id(), code=raw)
        except DomainError as exc:
            self._clear_data()
            return self._service_error("search", exc)
        self._admit()
        self._clear_data()
        self._show(report)
        self._ok("search", "leak.found")

    @rx.event
    @staff_required
    def ask_action(self, action: str):
        self._clear_messages()
        if not isinstance(action, str) or action not in leak.ACTIONS:
            return self._fail("actions", "error.bad_request")
        if not self._target_user_id:
            return self._fail("actions", "leak.trace_first")
        self.pending = action
        self.form_key += 1

    @rx.event
    @staff_required
    def cancel_action(self):
        self._clear_messages()
        self.pending = ""

    @rx.event
    @staff_required
    def confirm_action(self, form_data: dict):
        action = self.pending
        if not action or not self._target_user_id:
            return self._fail("actions", "leak.confirm_first")
        if form_field(form_data, "action") != action:  # a stale confirmation panel
            return self._fail("actions", "error.bad_request")
        reason = parse_reason(form_field(form_data, "reason"))
        if reason is None:
            return self._fail("actions", "admin.reason_length", min=REASON_MIN, max=REASON_MAX)
        try:
            with session_scope() as s:
                count = _SERVICES[action](s, actor_id=self._actor_id(), user_id=self._target_user_id, reason=reason)
                report = leak.leak_report(s, actor_id=self._actor_id(), user_id=self._target_user_id)
        except DomainError as exc:
            return self._service_error("actions", exc)
        self._show(report)
        self.pending = ""
        self.form_key += 1
        self._ok("actions", _DONE_KEYS[action], count=count or 0)

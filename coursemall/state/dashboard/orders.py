"""Owner-area states: orders (filters, search, paging, totals), refund queue and
policy, manual-payment queue, payment settings (manual transfer QR). More staff states (order
detail, learners, instructors) live in state/dashboard/operations.py and derive from AdminBaseState.

Every handler of every state here is a remote endpoint callable by anyone, so each one:
1. carries `@staff_required` below `@rx.event` (owner/staff by the database role of the
   server-side session; on failure a translated message and no data);
2. validates its arguments (Reflex 0.10.1 passes dicts, lists, None or 100 KB strings through);
3. calls ONE service inside `session_scope()` (the services check the role again), blocking
   channel calls (refund execution) and image work off the event loop.
Rows are sent to the browser as small dicts of strings (no ORM rows, no user ids).
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import reflex as rx
from starlette.datastructures import UploadFile as StarletteUploadFile

from coursemall import urls
from coursemall.db import session_scope
from coursemall.domain.catalog import format_duration
from coursemall.domain.errors import DomainError
from coursemall.domain.money import format_fen
from coursemall.domain.time import china_time_text
from coursemall.domain.validation import valid_id
from coursemall.i18n import CATALOG
from coursemall.services.dashboard import queues as admin_service
from coursemall.services.commerce import manual_pay, refunds
from coursemall.services.dashboard import operations as ops_service
from coursemall.state.dashboard.base import (  # noqa: F401  (re-exported for pages and tests)
    INSTRUCTIONS_MAX,
    MANUAL_OUTCOME_KEYS,
    MAX_FORM_FIELD,
    ORDER_STATUSES,
    REASON_MAX,
    REASON_MIN,
    DashboardBaseState,
    _in_session,
    form_checked,
    form_field,
    parse_int_in,
    parse_reason,
)
from coursemall.state.guards import staff_required


class AdminBaseState(DashboardBaseState):
    """The owner/staff-only states (every handler `@staff_required`; tests/state/dashboard/test_admin_state.py
    checks every Admin* state, including those in state/dashboard/operations.py)."""


def export_url(kind: str, params: dict[str, str]) -> str:
    """The CSV export link carrying the page's filters (api/exports.py validates them again)."""
    query = urlencode({k: v for k, v in params.items() if v})
    return f"/api/admin/export/{kind}.csv" + (f"?{query}" if query else "")


class AdminOrdersState(AdminBaseState):
    """/admin/orders: filter by status, channel and China-date range, search (order number,
    learner e-mail/phone/nickname, course title), paging, totals of the filtered set, CSV link."""

    orders: list[dict[str, str]] = []
    status_filter: str = ""
    channel_filter: str = ""
    date_from: str = ""
    date_to: str = ""
    q: str = ""
    page: int = 1
    pages: int = 1
    count: int = 0
    sum_total: str = "¥0.00"
    sum_paid: str = "¥0.00"
    sum_refunded: str = "¥0.00"
    csv_url: str = "/api/admin/export/orders.csv"
    form_key: int = 0

    def _clear_data(self) -> None:
        self.orders = []
        self.count = 0

    def _filter_fields(self) -> dict[str, str]:
        return {"status": self.status_filter, "channel": self.channel_filter, "date_from": self.date_from,
                "date_to": self.date_to, "q": self.q}

    def _load(self, fields: dict[str, str], page: int = 1) -> None:
        try:
            filters = ops_service.parse_order_filter(fields)
            result = _in_session(ops_service.search_orders, actor_id=self._actor_id(), filters=filters, page=page)
        except DomainError as exc:
            return self._service_error("list", exc)
        self._admit()
        self.status_filter, self.channel_filter = filters.status, filters.channel
        self.date_from = filters.date_from.isoformat() if filters.date_from else ""
        self.date_to = filters.date_to.isoformat() if filters.date_to else ""
        self.q = filters.q
        self.page, self.pages, self.count = result.page, result.pages, result.count
        self.sum_total, self.sum_paid = format_fen(result.total_fen), format_fen(result.paid_fen)
        self.sum_refunded = format_fen(result.refunded_fen)
        self.csv_url = export_url("orders", self._filter_fields())
        self.orders = [{"order_no": r.order_no, "href": urls.admin_order_url(r.order_no), "learner": r.learner,
                        "contact": r.contact, "titles": r.titles, "total": format_fen(r.total_fen),
                        "status": r.status, "channel": r.channel, "date": china_time_text(r.created_at)}
                       for r in result.rows]
        self.form_key += 1

    @rx.event
    @staff_required
    def load_orders(self):
        self._clear_messages()
        self._load(self._filter_fields())

    @rx.event
    @staff_required
    def filter_orders(self, status: str):
        self._clear_messages()
        if not isinstance(status, str) or (status and status not in ORDER_STATUSES):
            return self._fail("list", "error.bad_request")
        self._load({**self._filter_fields(), "status": status})

    @rx.event
    @staff_required
    def search_orders(self, form_data: dict):
        """The filter form: status, channel, date_from, date_to (YYYY-MM-DD, China time), q."""
        self._clear_messages()
        if not isinstance(form_data, dict) or len(form_data) > 20:
            return self._fail("list", "error.bad_request")
        fields = {name: form_data.get(name, "") for name in ("status", "channel", "date_from", "date_to", "q")}
        if any(not isinstance(v, str) or len(v) > MAX_FORM_FIELD for v in fields.values()):
            return self._fail("list", "error.bad_request")
        self._load(fields)

    @rx.event
    @staff_required
    def goto_orders_page(self, page: int):
        self._clear_messages()
        number = valid_id(page)
        if number is None or number > ops_service.MAX_PAGE:
            return self._fail("list", "error.bad_request")
        self._load(self._filter_fields(), number)


class AdminRefundsState(AdminBaseState):
    """/admin/refunds: the review queue (approve / reject with a reason), the refunds in progress
    (attempts, last reason, next attempt; "refunded by hand" / "try again" for those waiting for
    the owner) and the refund policy."""

    refunds: list[dict[str, str]] = []
    in_flight: list[dict[str, str]] = []
    policy_auto: bool = True
    policy_days: str = "7"
    policy_progress: str = "20"
    policy_window: str = "30"
    form_key: int = 0  # bumped after a load so the uncontrolled policy inputs remount with new values

    def _clear_data(self) -> None:
        self.refunds = []
        self.in_flight = []

    def _reason_text(self, code: str) -> str:
        """'channel_error:wechat_unreachable' → the translated cause, the channel's detail after it."""
        head, _, detail = code.partition(":")
        key = f"admin.refunds.why.{head}"
        if key not in CATALOG:
            return code
        if head == "retries_exhausted" and detail:  # say what kept failing, too
            return f"{self._t(key)} · {self._reason_text(detail)}"
        return f"{self._t(key)} ({detail})" if detail else self._t(key)

    def _in_flight_row(self, r: admin_service.AdminRefundRow) -> dict[str, str]:
        return {"id": str(r.id), "order_no": r.order_no, "learner": r.learner, "amount": r.amount,
                "status": r.status, "status_text": self._t(f"refund.status.{r.status}"),
                "channel": r.channel, "kind": "extra" if r.extra_payment else "order",
                "attempts": str(r.attempts), "reason": self._reason_text(r.last_reason) if r.last_reason else "",
                "next": china_time_text(r.next_attempt_at) if r.next_attempt_at and r.status == "processing" else "",
                "can_retry": "1" if r.status == "attention" and r.channel != "manual" else "",
                "date": china_time_text(r.created_at)}

    def _show_policy(self, view: refunds.PolicyView) -> None:
        self.policy_auto = view.auto_approve
        self.policy_days = str(view.within_days)
        self.policy_progress = str(view.max_progress_pct)
        self.policy_window = str(view.request_window_days)
        self.form_key += 1

    @rx.event
    @staff_required
    def load_refunds(self):
        self._clear_messages()

        try:
            with session_scope() as s:
                rows = admin_service.list_refund_rows(s, actor_id=self._actor_id())
                flight = admin_service.list_refunds_in_flight(s, actor_id=self._actor_id())
                policy = refunds.get_refund_policy(s)
        except DomainError as exc:
            return self._service_error("queue", exc)
        self._admit()
        self.refunds = [{"id": str(r.id), "order_no": r.order_no, "learner": r.learner, "amount": r.amount,
                         "reason": r.reason, "policy_outcome": r.policy_outcome,
                         "consumed": self._t("admin.refunds.consumed", served=format_duration(r.served_seconds),
                                             total=format_duration(r.media_seconds), served_pct=r.served_pct,
                                             progress_pct=r.progress_pct),
                         "date": china_time_text(r.created_at)} for r in rows]
        self.in_flight = [self._in_flight_row(r) for r in flight]
        self._show_policy(policy)

    def _reload_in_flight(self) -> None:
        self.in_flight = [self._in_flight_row(r) for r in
                          _in_session(admin_service.list_refunds_in_flight, actor_id=self._actor_id())]

    @rx.event
    @staff_required
    def mark_refunded_by_hand(self, refund_id: int):
        """The owner returned the money outside the app (manual transfer, or a refund the channel
        would not finish): completes the refund once."""
        rid = valid_id(refund_id)
        if rid is None:
            return self._fail("flight", "admin.bad_id")
        try:
            _in_session(refunds.mark_refunded_by_hand, actor_id=self._actor_id(), refund_id=rid)
        except DomainError as exc:
            self._reload_in_flight()
            return self._service_error("flight", exc)
        self._reload_in_flight()
        self._ok("flight", "admin.refunds.marked_by_hand")

    @rx.event
    @staff_required
    async def retry_refund(self, refund_id: int):
        """Send a refund waiting for the owner to its channel again (a blocking gateway call)."""
        rid = valid_id(refund_id)
        if rid is None:
            return self._fail("flight", "admin.bad_id")
        try:
            view = await asyncio.to_thread(_in_session, refunds.retry_refund_now, actor_id=self._actor_id(),
                                           refund_id=rid)
        except DomainError as exc:
            self._reload_in_flight()
            return self._service_error("flight", exc)
        self._reload_in_flight()
        self._ok("flight", "admin.refunds.retried", status=self._t(f"refund.status.{view.status}"))

    def _drop_row(self, refund_id: int) -> None:
        self.refunds = [r for r in self.refunds if r["id"] != str(refund_id)]

    @rx.event
    @staff_required
    async def approve_refund(self, refund_id: int):
        rid = valid_id(refund_id)
        if rid is None:
            return self._fail("queue", "admin.bad_id")
        try:
            # Approval executes the refund through the channel (a blocking gateway call).
            view = await asyncio.to_thread(_in_session, refunds.decide_refund, actor_id=self._actor_id(),
                                           refund_id=rid, approve=True, reason="")
        except DomainError as exc:
            if exc.code in ("refund.already_decided", "refund.not_found"):
                self._drop_row(rid)
            return self._service_error("queue", exc)
        self._drop_row(rid)
        self._ok("queue", "admin.refunds.approved", status=self._t(f"refund.status.{view.status}"))

    @rx.event
    @staff_required
    async def reject_refund(self, form_data: dict):
        rid = valid_id(form_field(form_data, "refund_id"))
        if rid is None:
            return self._fail("queue", "admin.bad_id")
        reason = parse_reason(form_field(form_data, "reason"))
        if reason is None:
            return self._fail("queue", "admin.reason_length", min=REASON_MIN, max=REASON_MAX)
        try:
            await asyncio.to_thread(_in_session, refunds.decide_refund, actor_id=self._actor_id(),
                                    refund_id=rid, approve=False, reason=reason)
        except DomainError as exc:
            if exc.code in ("refund.already_decided", "refund.not_found"):
                self._drop_row(rid)
            return self._service_error("queue", exc)
        self._drop_row(rid)
        self._ok("queue", "admin.refunds.rejected")

    @rx.event
    @staff_required
    def save_policy(self, form_data: dict):
        if not isinstance(form_data, dict):
            return self._fail("policy", "error.bad_request")
        auto = form_checked(form_field(form_data, "auto_approve"))
        if auto is None:
            return self._fail("policy", "error.bad_request")
        days = parse_int_in(form_field(form_data, "within_days"), 0, 365)
        if days is None:
            return self._fail("policy", "admin.policy.days_invalid")
        progress = parse_int_in(form_field(form_data, "max_progress_pct"), 0, 100)
        if progress is None:
            return self._fail("policy", "admin.policy.progress_invalid")
        window = parse_int_in(form_field(form_data, "request_window_days"), 0, 3650)
        if window is None:
            return self._fail("policy", "admin.policy.window_invalid")
        try:
            view = _in_session(refunds.update_refund_policy, actor_id=self._actor_id(), auto_approve=auto,
                               within_days=days, max_progress_pct=progress, request_window_days=window)
        except DomainError as exc:
            return self._service_error("policy", exc, owner_only=True)
        self._show_policy(view)
        self._ok("policy", "admin.policy.saved")


class AdminManualState(AdminBaseState):
    """/admin/manual-payments: transfers waiting for confirmation (proof served privately)."""

    payments: list[dict[str, str]] = []

    def _clear_data(self) -> None:
        self.payments = []

    def _drop_row(self, mp_id: int) -> None:
        self.payments = [p for p in self.payments if p["id"] != str(mp_id)]

    @rx.event
    @staff_required
    def load_manual(self):
        self._clear_messages()
        try:
            rows = _in_session(manual_pay.list_manual_queue, actor_id=self._actor_id())
        except DomainError as exc:
            return self._service_error("queue", exc)
        self._admit()
        self.payments = [{"id": str(r.id), "order_no": r.order_no, "learner": r.learner, "amount": r.amount,
                          "reference": r.reference, "date": china_time_text(r.created_at),
                          "proof_url": f"/api/admin/manual-proof/{r.id}"} for r in rows]

    @rx.event
    @staff_required
    async def confirm_manual(self, manual_payment_id: int):
        mp_id = valid_id(manual_payment_id)
        if mp_id is None:
            return self._fail("queue", "admin.bad_id")
        try:
            outcome = await asyncio.to_thread(_in_session, manual_pay.confirm_manual_payment,
                                              actor_id=self._actor_id(), manual_payment_id=mp_id)
        except DomainError as exc:
            if exc.code in ("manual.already_decided", "error.not_found"):
                self._drop_row(mp_id)
            return self._service_error("queue", exc)
        self._drop_row(mp_id)
        self._ok("queue", MANUAL_OUTCOME_KEYS.get(outcome, "admin.manual.confirmed"))

    @rx.event
    @staff_required
    async def reject_manual(self, form_data: dict):
        mp_id = valid_id(form_field(form_data, "manual_payment_id"))
        if mp_id is None:
            return self._fail("queue", "admin.bad_id")
        reason = parse_reason(form_field(form_data, "reason"))
        if reason is None:
            return self._fail("queue", "admin.reason_length", min=REASON_MIN, max=REASON_MAX)
        try:
            await asyncio.to_thread(_in_session, manual_pay.reject_manual_payment, actor_id=self._actor_id(),
                                    manual_payment_id=mp_id, reason=reason)
        except DomainError as exc:
            if exc.code in ("manual.already_decided", "error.not_found"):
                self._drop_row(mp_id)
            return self._service_error("queue", exc)
        self._drop_row(mp_id)
        self._ok("queue", "admin.manual.rejected")


class AdminPaymentSettingsState(AdminBaseState):
    """/admin/settings/payments: manual transfer on/off, instructions, the owner's payment QR."""

    manual_enabled: bool = False
    instructions: str = ""
    qr_url: str = ""
    form_key: int = 0

    def _clear_data(self) -> None:
        self.manual_enabled = False
        self.instructions = ""
        self.qr_url = ""

    def _show(self, view: manual_pay.ManualSettingsView) -> None:
        self.manual_enabled = view.enabled
        self.instructions = view.instructions
        self.qr_url = view.qr_url
        self.form_key += 1

    @rx.event
    @staff_required
    def load_payment_settings(self):
        self._clear_messages()
        with session_scope() as s:
            view = manual_pay.get_manual_settings(s)
        self._admit()
        self._show(view)

    @rx.event
    @staff_required
    def save_payment_settings(self, form_data: dict):
        if not isinstance(form_data, dict):
            return self._fail("settings", "error.bad_request")
        enabled = form_checked(form_field(form_data, "enabled"))
        if enabled is None:
            return self._fail("settings", "error.bad_request")
        text = form_data.get("instructions")  # the form always sends it (maybe empty)
        if not isinstance(text, str) or len(text.strip()) > INSTRUCTIONS_MAX or "\x00" in text:
            return self._fail("settings", "admin.settings.instructions_invalid")
        try:
            view = _in_session(manual_pay.update_manual_settings, actor_id=self._actor_id(), enabled=enabled,
                               instructions=text.strip())
        except DomainError as exc:
            return self._service_error("settings", exc, owner_only=True)
        self._show(view)
        self._ok("settings", "admin.settings.saved")

    @rx.event
    @staff_required
    async def upload_qr(self, files: list[rx.UploadFile]):
        if (not isinstance(files, list) or len(files) != 1
                or not isinstance(files[0], StarletteUploadFile)):
            return self._fail("qr", "admin.settings.no_file")
        stream = files[0].file
        actor_id = self._actor_id()

        def work() -> manual_pay.ManualSettingsView:
            data = stream.read(manual_pay.MAX_IMAGE_BYTES + 1)
            if not isinstance(data, bytes | bytearray) or not data:
                raise DomainError("manual.not_image")
            if len(data) > manual_pay.MAX_IMAGE_BYTES:
                raise DomainError("manual.image_too_large")
            with session_scope() as s:
                current = manual_pay.get_manual_settings(s)
                return manual_pay.update_manual_settings(s, actor_id=actor_id, enabled=current.enabled,
                                                         instructions=current.instructions, qr_image=bytes(data))

        try:
            view = await asyncio.to_thread(work)
        except DomainError as exc:
            return self._service_error("qr", exc, owner_only=True)
        self._show(view)
        self._ok("qr", "admin.settings.qr_saved")

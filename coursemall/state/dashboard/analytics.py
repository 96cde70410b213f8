"""Dashboard overview (/admin) and analytics (/admin/analytics) states, and the page-view hook
the storefront states call (`track_page_view`).

Handlers carry `@dashboard_required` (owner/staff with TOTP, or an approved instructor; the
services limit instructors to their own courses) and `save_fees` `@owner_required`. The queries
run in a worker thread (several aggregates over large tables must not stall the event loop).
Chart rows hold yuan as exact Decimals (domain.money.yuan_number; Reflex sends them as JSON numbers)
for the chart library only; money shown as text is formatted from fen.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import reflex as rx

from coursemall.domain.errors import DomainError
from coursemall.domain.money import format_fen, yuan_number
from coursemall.domain.validation import valid_id
from coursemall.services.dashboard import analytics
from coursemall.services.shop import golive
from coursemall.services.dashboard.analytics import DateRange
from coursemall.state.dashboard.base import DashboardBaseState, _in_session, form_field
from coursemall.state.guards import dashboard_required, owner_required

log = logging.getLogger(__name__)

ChartRows = list[dict[str, Any]]
DEFAULT_PRESET = 30
STEPS = ("list", "detail", "checkout", "paid")


def track_page_view(state: Any, session: Any, kind: str, course_ids: list[int]) -> None:
    """Storefront hook: record that this visitor saw these courses, in the load's own unit of work
    (`session`, committed by the load). Never fails the page: a failed write rolls the session back
    (the load only read) and is logged."""
    try:
        token = getattr(state.router.session, "client_token", "")
        user_id = state._actor_id()
    except Exception:  # noqa: BLE001 - analytics must never break a storefront page
        log.warning("page view hook failed", exc_info=True)
        return
    try:
        analytics.track(session, kind, list(course_ids), user_id=user_id, client_token=token)
    except Exception:  # noqa: BLE001
        session.rollback()
        log.warning("page view not recorded", exc_info=True)


async def track_checkout_view(order_no: str, user_id: int | None) -> None:
    """Order page hook: a learner opened the payment page of their pending order. One short unit
    of work in a worker thread (never on the event loop); never fails the page."""
    try:
        await asyncio.to_thread(_in_session, analytics.track_checkout, order_no=order_no, user_id=user_id)
    except Exception:  # noqa: BLE001
        log.warning("checkout view not recorded", exc_info=True)


# ---------------------------------------------------------------------------------- /admin

class DashboardHomeState(DashboardBaseState):
    """/admin: today's revenue, orders and paying learners, the queues, 30 days of revenue."""

    today: str = ""
    today_revenue: str = ""
    today_orders: int = 0
    today_learners: int = 0
    pending_refunds: int = 0
    pending_manual: int = 0
    pending_homework: int = 0
    spark: ChartRows = []
    # the go-live check (owner only): {code, severity, problem, fix} with translated texts
    golive_rows: list[dict[str, str]] = []
    golive_summary: str = ""
    golive_blocking: int = 0

    def _clear_data(self) -> None:
        self.today = self.today_revenue = ""
        self.today_orders = self.today_learners = 0
        self.pending_refunds = self.pending_manual = self.pending_homework = 0
        self.spark = []
        self._clear_golive()

    def _clear_golive(self) -> None:
        self.golive_rows = []
        self.golive_summary = ""
        self.golive_blocking = 0

    async def _load_golive(self) -> None:
        """The owner's go-live card; others get nothing."""
        self._clear_golive()
        if self._staff_role != "owner":
            return
        try:
            findings = await asyncio.to_thread(_in_session, golive.go_live_report, actor_id=self._actor_id())
        except DomainError:
            return
        lang = self.lang
        self.golive_rows = [{"code": f.code, "severity": f.severity, "problem": f.problem(lang), "fix": f.fix(lang)}
                            for f in findings]
        self.golive_blocking = sum(1 for f in findings if f.blocking)
        self.golive_summary = (self._t("golive.summary", blocking=self.golive_blocking,
                                       warnings=len(findings) - self.golive_blocking)
                               if findings else self._t("golive.all_clear"))

    @rx.event
    @dashboard_required
    async def load_dashboard_home(self):
        self._clear_messages()
        try:
            ov = await asyncio.to_thread(_in_session, analytics.overview, actor_id=self._actor_id())
        except DomainError as exc:
            return self._service_error("page", exc)
        self._admit()
        self.today = ov.today
        self.today_revenue = format_fen(ov.revenue_today_fen)
        self.today_orders, self.today_learners = ov.orders_today, ov.learners_today
        self.pending_refunds = ov.pending_refunds or 0
        self.pending_manual = ov.pending_manual or 0
        self.pending_homework = ov.pending_homework
        self.spark = [{"day": d.day[5:], "yuan": yuan_number(d.revenue_fen)} for d in ov.spark]
        await self._load_golive()


# ---------------------------------------------------------------------------------- /admin/analytics

@dataclass(frozen=True)
class _Report:
    daily: list
    net: analytics.NetRevenue
    sellers: list
    funnel: analytics.Funnel
    completion: list
    active: analytics.ActiveLearners
    lessons: list
    fees: dict[str, int]


def _report(actor_id: int | None, rng: DateRange) -> _Report:
    from coursemall.db import session_scope

    with session_scope() as s:
        return _Report(
            daily=analytics.revenue_by_day(s, actor_id=actor_id, rng=rng),
            net=analytics.net_revenue(s, actor_id=actor_id, rng=rng),
            sellers=analytics.best_sellers(s, actor_id=actor_id, rng=rng),
            funnel=analytics.funnel(s, actor_id=actor_id, rng=rng),
            completion=analytics.completion_rates(s, actor_id=actor_id),
            active=analytics.active_learners(s, actor_id=actor_id, rng=rng),
            lessons=analytics.video_lessons(s, actor_id=actor_id),
            fees=analytics.fee_rates(s),
        )


class AnalyticsState(DashboardBaseState):
    """/admin/analytics: every chart over one date range; drop-off for a chosen lesson; the
    owner edits the channel fee rates here."""

    start: str = ""  # YYYY-MM-DD (China)
    end: str = ""
    preset: str = str(DEFAULT_PRESET)  # '7' | '30' | '90' | '' (custom)
    range_text: str = ""
    form_key: int = 0  # re-mounts the uncontrolled date inputs after a change
    totals: dict[str, str] = {}
    daily: ChartRows = []
    funnel_rows: ChartRows = []
    sellers: ChartRows = []
    completion: list[dict[str, str]] = []
    dau: ChartRows = []
    wau: ChartRows = []
    net: dict[str, str] = {}
    net_rows: list[dict[str, str]] = []
    waterfall: ChartRows = []
    lessons: list[dict[str, str]] = []
    lesson_id: str = ""
    dropoff: ChartRows = []
    dropoff_text: str = ""
    fees: dict[str, str] = {}

    _range: tuple[str, str] = ("", "")

    def _clear_data(self) -> None:
        self.totals, self.net, self.fees = {}, {}, {}
        self.daily, self.funnel_rows, self.sellers, self.dau, self.wau = [], [], [], [], []
        self.completion, self.net_rows, self.waterfall, self.lessons, self.dropoff = [], [], [], [], []
        self.range_text = self.dropoff_text = self.lesson_id = ""

    def _current_range(self) -> DateRange:
        start, end = self._range
        if start and end:
            return analytics.parse_range(start, end)
        return analytics.preset_range(DEFAULT_PRESET)

    async def _load(self, rng: DateRange) -> None:
        report = await asyncio.to_thread(_report, self._actor_id(), rng)
        self._admit()
        self._range = (rng.start.isoformat(), rng.end.isoformat())
        self.start, self.end = self._range
        self.form_key += 1
        self.range_text = self._t("analytics.range_text", start=self.start, end=self.end)
        self._show_sales(report)
        self._show_learning(report)
        self._show_net(report.net)
        self.fees = {name: analytics.format_rate(bp) for name, bp in report.fees.items()}
        self.lessons = [{"id": str(c.lesson_id), "label": c.label} for c in report.lessons]
        if self.lesson_id and self.lesson_id not in {c["id"] for c in self.lessons}:
            self.lesson_id, self.dropoff, self.dropoff_text = "", [], ""

    def _show_sales(self, r: _Report) -> None:
        self.daily = [{"day": d.day[5:], "yuan": yuan_number(d.revenue_fen), "orders": d.orders, "learners": d.learners}
                      for d in r.daily]
        revenue = sum(d.revenue_fen for d in r.daily)
        self.totals = {"revenue": format_fen(revenue), "orders": str(sum(d.orders for d in r.daily)),
                       "learners": str(r.funnel.paid_learners)}
        f = r.funnel
        values = (f.list_visitors, f.detail_visitors, f.checkout_visitors, f.paid_learners)
        first = values[0] or 0
        self.funnel_rows = [{"step": self._t(f"analytics.step.{k}"), "visitors": v,
                             "pct": f"{round(100 * v / first, 1)}%" if first else "–"} for k, v in zip(STEPS, values)]
        self.sellers = [{"title": s.title, "units": s.units, "revenue": format_fen(s.revenue_fen),
                         "yuan": yuan_number(s.revenue_fen)} for s in r.sellers]

    def _show_learning(self, r: _Report) -> None:
        self.completion = [{"title": c.title, "learners": str(c.learners), "completed": str(c.completed),
                            "rate": f"{c.rate_pct}%"} for c in r.completion]
        self.dau = [{"day": d[5:], "learners": n} for d, n in r.active.daily]
        self.wau = [{"week": w[5:], "learners": n} for w, n in r.active.weekly]

    def _show_net(self, n: analytics.NetRevenue) -> None:
        self.net = {"paid": format_fen(n.paid_fen), "fees": format_fen(n.fees_fen),
                    "refunds": format_fen(n.refunds_fen), "share": format_fen(n.share_fen),
                    "net": format_fen(n.net_fen)}
        self.net_rows = [{"title": r.title, "paid": format_fen(r.paid_fen), "fees": format_fen(r.fees_fen),
                          "refunds": format_fen(r.refunds_fen), "share": format_fen(r.share_fen),
                          "net": format_fen(r.net_fen)} for r in n.rows]
        # waterfall: an invisible base bar lifts each deduction to where the previous step ended
        after_fees = n.paid_fen - n.fees_fen
        after_refunds = after_fees - n.refunds_fen
        steps = (("paid", 0, n.paid_fen), ("fees", after_fees, n.fees_fen),
                 ("refunds", after_refunds, n.refunds_fen), ("share", n.net_fen, n.share_fen),
                 ("net", 0, n.net_fen))
        self.waterfall = [{"name": self._t(f"analytics.net.{k}"), "base": yuan_number(max(0, base)),
                           "value": yuan_number(max(0, value))} for k, base, value in steps]

    async def _reload(self, rng_fn) -> None:
        try:
            rng = rng_fn()
            await self._load(rng)
        except DomainError as exc:
            self._service_error("range", exc)

    @rx.event
    @dashboard_required
    async def load_analytics(self):
        self._clear_messages()
        await self._reload(self._current_range)

    @rx.event
    @dashboard_required
    async def pick_preset(self, days: str):
        self._clear_messages()
        value = int(days) if isinstance(days, str) and days in ("7", "30", "90") else None
        if value is None:
            return self._fail("range", "analytics.bad_preset")
        before = self.preset
        self.preset = days
        await self._reload(lambda: analytics.preset_range(value))
        if self.error:
            self.preset = before

    @rx.event
    @dashboard_required
    async def apply_range(self, form_data: dict):
        self._clear_messages()
        start, end = form_field(form_data, "start"), form_field(form_data, "end")
        try:
            rng = analytics.parse_range(start, end)
        except DomainError as exc:
            return self._service_error("range", exc)
        self.preset = ""
        await self._reload(lambda: rng)

    @rx.event
    @dashboard_required
    async def pick_lesson(self, lesson_id: str):
        self._clear_messages()
        lid = valid_id(lesson_id)
        if lid is None:
            return self._fail("dropoff", "error.not_found")
        try:
            curve = await asyncio.to_thread(_in_session, analytics.drop_off, actor_id=self._actor_id(), lesson_id=lid)
        except DomainError as exc:
            self.dropoff, self.dropoff_text, self.lesson_id = [], "", ""
            return self._service_error("dropoff", exc)
        self._admit()
        self.lesson_id = str(curve.lesson_id)
        self.dropoff = [{"pct": f"{p}%", "share": share, "learners": n} for p, n, share in curve.points]
        self.dropoff_text = self._t("analytics.buyers", count=curve.buyers)

    @rx.event
    @owner_required
    async def save_fees(self, form_data: dict):
        self._clear_messages()
        if not isinstance(form_data, dict):
            return self._fail("fees", "analytics.fee_bad")
        rates = {name: form_field(form_data, name) for name in analytics.FEE_CHANNELS}
        try:
            saved = await asyncio.to_thread(_in_session, analytics.update_channel_fees, actor_id=self._actor_id(),
                                            rates=rates)
        except DomainError as exc:
            return self._service_error("fees", exc, owner_only=True)
        self.fees = {name: analytics.format_rate(bp) for name, bp in saved.items()}
        try:
            await self._load(self._current_range())
        except DomainError as exc:
            return self._service_error("range", exc)
        self._ok("fees", "analytics.fees_saved")

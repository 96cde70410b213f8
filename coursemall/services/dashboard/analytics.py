"""Dashboard analytics: the /admin overview and /admin/analytics.

Every figure is one SQL aggregate (GROUP BY day / course / kind) run by the database; Python only
shapes the few aggregated rows (filling empty days, applying fee rates). Every function starts
with `require_dashboard` and is scoped: owner/staff see the shop, an instructor only the sales,
learners and page views of their own courses.

Definitions (China time, UTC+8, is the shop's day; ranges are whole China days, inclusive):
- revenue / orders / paying learners by day: orders paid that day (status paid, refunding,
  partially_refunded or refunded; `paid_at` in the day) with a non-zero total. An instructor's
  figures come from the order lines of their courses; a bundle line is split over its courses
  (`OrderLine.course_ids`, the snapshot taken at checkout) in exact integer fen.
- net revenue (cohort of the orders paid in the range) = paid − channel fees (rate per channel in
  basis points of the paid amount, shop setting "channel_fees") − refunds of those orders −
  instructor share (Instructor.revenue_share_bp of paid − fees − refunds, per course).
- funnel: distinct visitors who saw a course in a listing, opened its page, opened a checkout with
  it (PageView rows written by `track`), and distinct learners who paid for it.
- completion rate per course: learners with an active entitlement who completed every lesson
  (now, not limited to the range).
- drop-off curve of a video lesson: for each 5 % of the video, the share of the course's buyers
  whose coverage bitmap (LessonProgress.covered, 5-second buckets) has a bucket in it.
- active learners: distinct learners with study time (StudyDay) per day and per week (Monday
  start); for an instructor, the learners of their courses.
One module (about 680 lines) so that every figure's definition above sits beside the one SQL
statement that computes it, with the scoping shared by all of them.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from coursemall.domain import progress as progress_rules
from coursemall.domain.catalog import LessonKind
from coursemall.domain.errors import DomainError
from coursemall.domain.orders import Channel, OrderStatus
from coursemall.domain.time import CHINA_TZ, china_today
from coursemall.domain.time import china_date
from coursemall.models import Course, Lesson, Order, OrderLine, PageView, utcnow
from coursemall.models.base import UtcDateTime
from coursemall.services import audit
from coursemall.services.shop import shop_settings
from coursemall.services.permissions import DashboardActor, course_scope, require_dashboard

log = logging.getLogger(__name__)

MAX_RANGE_DAYS = 366
PRESET_DAYS = (7, 30, 90)
SPARK_DAYS = 30
TOP_COURSES = 10
MAX_COMPLETION_ROWS = 50
MAX_LESSON_CHOICES = 200
DROP_SEGMENTS = 20  # 5 % each
MAX_FEE_BP = 1000  # 10 %
FEE_CHANNELS = tuple(c.value for c in Channel if c != Channel.FREE)
PAID_STATUSES = (OrderStatus.PAID.value, OrderStatus.REFUNDING.value,
                 OrderStatus.PARTIALLY_REFUNDED.value, OrderStatus.REFUNDED.value)
VIEW_KINDS = ("list", "detail", "checkout")
_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_RATE_RE = re.compile(r"^[0-9]{1,2}(\.[0-9]{1,2})?$")


# ---------------------------------------------------------------------------------- date ranges

@dataclass(frozen=True)
class DateRange:
    """Whole China days start..end (inclusive)."""

    start: date
    end: date

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def utc_bounds(self) -> tuple[datetime, datetime]:
        """[China midnight of start, China midnight after end) in UTC."""
        lo = datetime.combine(self.start, datetime.min.time(), CHINA_TZ)
        hi = datetime.combine(self.end + timedelta(days=1), datetime.min.time(), CHINA_TZ)
        return lo.astimezone(timezone.utc), hi.astimezone(timezone.utc)


def _parse_day(value: object) -> date:
    if not isinstance(value, str) or not _DATE_RE.match(value.strip()):
        raise DomainError("analytics.bad_date")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise DomainError("analytics.bad_date") from None


def parse_range(start: object, end: object) -> DateRange:
    """A range from two 'YYYY-MM-DD' strings; end before start, more than 366 days or garbage
    raise a DomainError with a message key."""
    lo, hi = _parse_day(start), _parse_day(end)
    if hi < lo:
        raise DomainError("analytics.end_before_start")
    if (hi - lo).days + 1 > MAX_RANGE_DAYS:
        raise DomainError("analytics.range_too_long", days=MAX_RANGE_DAYS)
    return DateRange(lo, hi)


def preset_range(days: object, *, today: date | None = None) -> DateRange:
    """The last `days` China days up to today (7, 30 or 90)."""
    if isinstance(days, bool) or days not in PRESET_DAYS:
        raise DomainError("analytics.bad_preset")
    today = today or china_today()
    return DateRange(today - timedelta(days=int(days) - 1), today)


# ---------------------------------------------------------------------------------- SQL pieces

class _Sql:
    """Dialect-specific fragments (SQLite and PostgreSQL), so one query text serves both."""

    def __init__(self, session: Session) -> None:
        self.pg = session.get_bind().dialect.name == "postgresql"

    def day(self, col: str) -> str:
        """The China day of a UTC timestamp column."""
        if self.pg:
            return f"CAST(timezone('UTC', {col}) + INTERVAL '8 hours' AS DATE)"
        return f"date({col}, '+8 hours')"

    def week(self, col: str) -> str:
        """The Monday of a DATE column's week."""
        if self.pg:
            return f"CAST(date_trunc('week', {col}) AS DATE)"
        return f"date({col}, 'weekday 0', '-6 days')"

    def expand(self) -> tuple[str, str, str]:
        """(FROM-clause addition, index expr, course id expr) for the courses of a bundle line."""
        if self.pg:
            return ("CROSS JOIN LATERAL json_array_elements_text(ol.course_ids) WITH ORDINALITY AS je(value, ord)",
                    "(je.ord - 1)", "CAST(je.value AS INTEGER)")
        return "JOIN json_each(ol.course_ids) AS je", "je.key", "CAST(je.value AS INTEGER)"

    def byte_at(self, col: str, i: int) -> str:
        """Byte i of a binary column as an integer (0 past its end)."""
        if self.pg:
            return f"(CASE WHEN length({col}) > {i} THEN get_byte({col}, {i}) ELSE 0 END)"
        h = f"hex({col})"
        return (f"(CASE WHEN length({col}) > {i} THEN "
                f"(instr('0123456789ABCDEF', substr({h}, {2 * i + 1}, 1)) - 1) * 16 + "
                f"instr('0123456789ABCDEF', substr({h}, {2 * i + 2}, 1)) - 1 ELSE 0 END)")


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _params(stmt: str, *, ids: list[int] | None = None, **extra: Any):
    """A text() statement with typed binds: UTC timestamps, the paid statuses, course ids."""
    q = text(stmt)
    binds = []
    if ":s" in stmt:
        binds += [bindparam("s", type_=UtcDateTime()), bindparam("e", type_=UtcDateTime())]
    if ":paid" in stmt:
        binds.append(bindparam("paid", expanding=True))
    if ":ids" in stmt:
        binds.append(bindparam("ids", expanding=True))
    if binds:
        q = q.bindparams(*binds)
    values = dict(extra)
    if ":paid" in stmt:
        values["paid"] = list(PAID_STATUSES)
    if ":ids" in stmt:
        values["ids"] = list(ids or [])
    return q, values


def sales_cte(sql: _Sql, *, scoped: bool, with_channel: bool = False) -> str:
    """`sales(order_id, user_id, paid_at, course_id, amount, refunded[, channel])`: one row per
    course of every order line paid in [:s, :e); bundle lines split exactly over their courses."""
    frm, idx, cid = sql.expand()
    n = "json_array_length(ol.course_ids)"
    # the applied payment only: duplicates/off-channel payments are refunded, never sales
    pay_join = "LEFT JOIN payments p ON p.order_id = o.id AND p.role = 'applied'" if with_channel else ""
    chan = ", COALESCE(p.channel, o.channel) AS channel" if with_channel else ""
    where = "o.status IN :paid AND o.paid_at >= :s AND o.paid_at < :e"

    def split(col: str) -> str:
        big = f"CAST({col} AS BIGINT)"
        return f"({big} * ({idx} + 1)) / {n} - ({big} * {idx}) / {n}"

    return f"""sales AS (
  SELECT o.id AS order_id, o.user_id AS user_id, o.paid_at AS paid_at, ol.item_id AS course_id,
         ol.unit_price_fen AS amount, ol.refunded_fen AS refunded{chan}
  FROM orders o JOIN order_lines ol ON ol.order_id = o.id {pay_join}
  WHERE {where} AND ol.item_type = 'course' AND ol.unit_price_fen > 0{" AND ol.item_id IN :ids" if scoped else ""}
  UNION ALL
  SELECT o.id, o.user_id, o.paid_at, {cid}, {split("ol.unit_price_fen")}, {split("ol.refunded_fen")}{chan}
  FROM orders o JOIN order_lines ol ON ol.order_id = o.id {frm} {pay_join}
  WHERE {where} AND ol.item_type = 'bundle' AND ol.unit_price_fen > 0{f" AND {cid} IN :ids" if scoped else ""}
)"""


# ---------------------------------------------------------------------------------- scope

@dataclass(frozen=True)
class Scope:
    actor: DashboardActor
    course_ids: list[int] | None  # None = the whole shop

    @property
    def scoped(self) -> bool:
        return self.course_ids is not None


def require_scope(session: Session, actor_id: object) -> Scope:
    actor = require_dashboard(session, actor_id)
    return Scope(actor, course_scope(session, actor))


# ---------------------------------------------------------------------------------- revenue by day

@dataclass(frozen=True)
class DayFigures:
    day: str  # YYYY-MM-DD (China)
    revenue_fen: int
    orders: int
    learners: int


def _daily_rows(session: Session, scope: Scope, rng: DateRange) -> dict[date, tuple[int, int, int]]:
    sql = _Sql(session)
    s, e = rng.utc_bounds()
    if scope.scoped:
        stmt = (f"WITH {sales_cte(sql, scoped=True)} SELECT {sql.day('paid_at')} AS d, SUM(amount), "
                "COUNT(DISTINCT order_id), COUNT(DISTINCT user_id) FROM sales WHERE amount > 0 GROUP BY 1")
    else:
        stmt = (f"SELECT {sql.day('o.paid_at')} AS d, SUM(o.total_fen), COUNT(*), COUNT(DISTINCT o.user_id) "
                "FROM orders o WHERE o.status IN :paid AND o.paid_at >= :s AND o.paid_at < :e "
                "AND o.total_fen > 0 GROUP BY 1")
    if scope.scoped and not scope.course_ids:
        return {}
    q, values = _params(stmt, ids=scope.course_ids, s=s, e=e)
    return {_as_date(d): (int(r or 0), int(o or 0), int(u or 0)) for d, r, o, u in session.execute(q, values)}


def revenue_by_day(session: Session, *, actor_id: object, rng: DateRange) -> list[DayFigures]:
    """One entry per China day of the range (zeros on days without sales)."""
    scope = require_scope(session, actor_id)
    rows = _daily_rows(session, scope, rng)
    return [DayFigures(d.isoformat(), *rows.get(d, (0, 0, 0))) for d in rng.days]


# ---------------------------------------------------------------------------------- overview

@dataclass(frozen=True)
class Overview:
    today: str
    revenue_today_fen: int
    orders_today: int
    learners_today: int
    pending_refunds: int | None  # None for instructors (staff queues)
    pending_manual: int | None
    pending_homework: int
    spark: list[DayFigures]


def _count(session: Session, stmt: str, scope: Scope, **values: Any) -> int:
    if ":ids" in stmt and scope.scoped and not scope.course_ids:
        return 0
    q, binds = _params(stmt, ids=scope.course_ids, **values)
    return int(session.execute(q, binds).scalar() or 0)


def overview(session: Session, *, actor_id: object, now: datetime | None = None) -> Overview:
    """Today's figures, the pending queues and the last 30 days of revenue."""
    scope = require_scope(session, actor_id)
    today = china_today(now)
    rng = DateRange(today - timedelta(days=SPARK_DAYS - 1), today)
    rows = _daily_rows(session, scope, rng)
    spark = [DayFigures(d.isoformat(), *rows.get(d, (0, 0, 0))) for d in rng.days]
    refunds = manual = None
    if scope.actor.is_staff:
        refunds = _count(session, "SELECT COUNT(*) FROM refunds WHERE status IN ('requested', 'attention')", scope)
        manual = _count(session, "SELECT COUNT(*) FROM manual_payments WHERE status = 'pending'", scope)
    homework = _count(session, "SELECT COUNT(*) FROM homework_submissions WHERE status = 'submitted'"
                      + (" AND course_id IN :ids" if scope.scoped else ""), scope)
    revenue, orders, learners = rows.get(today, (0, 0, 0))
    return Overview(today.isoformat(), revenue, orders, learners, refunds, manual, homework, spark)


# ---------------------------------------------------------------------------------- net revenue

@dataclass(frozen=True)
class NetRow:
    course_id: int
    title: str
    paid_fen: int
    fees_fen: int
    refunds_fen: int
    share_fen: int
    net_fen: int


@dataclass(frozen=True)
class NetRevenue:
    paid_fen: int
    fees_fen: int
    refunds_fen: int
    share_fen: int
    net_fen: int
    rows: list[NetRow]


def _bp_of(amount: int, bp: int) -> int:
    """amount × bp / 10000, rounded half up (amounts are never negative here)."""
    return (amount * bp + 5000) // 10000


def fee_rates(session: Session) -> dict[str, int]:
    stored = shop_settings.get_value(session, "channel_fees")
    out = {}
    for name in FEE_CHANNELS + (Channel.FREE.value,):
        value = stored.get(name, 0)
        out[name] = value if isinstance(value, int) and 0 <= value <= MAX_FEE_BP else 0
    return out


def _course_titles(session: Session, ids: list[int]) -> dict[int, tuple[str, int]]:
    """course id -> (title, instructor revenue share in bp)."""
    if not ids:
        return {}
    q = text("SELECT c.id, c.title, COALESCE(i.revenue_share_bp, 0) FROM courses c "
             "LEFT JOIN instructors i ON i.id = c.instructor_id WHERE c.id IN :ids").bindparams(
        bindparam("ids", expanding=True))
    return {int(cid): (title, int(bp or 0)) for cid, title, bp in session.execute(q, {"ids": ids})}


def net_revenue(session: Session, *, actor_id: object, rng: DateRange) -> NetRevenue:
    scope = require_scope(session, actor_id)
    if scope.scoped and not scope.course_ids:
        return NetRevenue(0, 0, 0, 0, 0, [])
    sql = _Sql(session)
    s, e = rng.utc_bounds()
    stmt = (f"WITH {sales_cte(sql, scoped=scope.scoped, with_channel=True)} "
            "SELECT course_id, channel, SUM(amount), SUM(refunded) FROM sales GROUP BY course_id, channel")
    q, values = _params(stmt, ids=scope.course_ids, s=s, e=e)
    rates = fee_rates(session)
    per: dict[int, list[int]] = {}
    for cid, channel, paid, refunded in session.execute(q, values):
        acc = per.setdefault(int(cid), [0, 0, 0])
        acc[0] += int(paid or 0)
        acc[1] += _bp_of(int(paid or 0), rates.get(channel or "", 0))
        acc[2] += int(refunded or 0)
    titles = _course_titles(session, sorted(per))
    rows = []
    for cid, (paid, fees, refunds) in per.items():
        title, share_bp = titles.get(cid, ("#%d" % cid, 0))
        share = _bp_of(max(0, paid - fees - refunds), max(0, min(share_bp, 10000)))
        rows.append(NetRow(cid, title, paid, fees, refunds, share, paid - fees - refunds - share))
    rows.sort(key=lambda r: (-r.paid_fen, r.course_id))
    total = [sum(getattr(r, f) for r in rows) for f in ("paid_fen", "fees_fen", "refunds_fen", "share_fen", "net_fen")]
    return NetRevenue(*total, rows=rows)


# ---------------------------------------------------------------------------------- best sellers

@dataclass(frozen=True)
class SellerRow:
    course_id: int
    title: str
    units: int
    revenue_fen: int


def best_sellers(session: Session, *, actor_id: object, rng: DateRange, limit: int = TOP_COURSES) -> list[SellerRow]:
    scope = require_scope(session, actor_id)
    if scope.scoped and not scope.course_ids:
        return []
    sql = _Sql(session)
    s, e = rng.utc_bounds()
    stmt = (f"WITH {sales_cte(sql, scoped=scope.scoped)} SELECT course_id, COUNT(*), SUM(amount) FROM sales "
            f"GROUP BY course_id ORDER BY SUM(amount) DESC, COUNT(*) DESC, course_id LIMIT {int(limit)}")
    q, values = _params(stmt, ids=scope.course_ids, s=s, e=e)
    found = [(int(c), int(n), int(r or 0)) for c, n, r in session.execute(q, values)]
    titles = _course_titles(session, [c for c, _n, _r in found])
    return [SellerRow(c, titles.get(c, ("#%d" % c, 0))[0], n, r) for c, n, r in found]


# ---------------------------------------------------------------------------------- funnel

@dataclass(frozen=True)
class Funnel:
    list_visitors: int
    detail_visitors: int
    checkout_visitors: int
    paid_learners: int


def funnel(session: Session, *, actor_id: object, rng: DateRange) -> Funnel:
    scope = require_scope(session, actor_id)
    if scope.scoped and not scope.course_ids:
        return Funnel(0, 0, 0, 0)
    sql = _Sql(session)
    s, e = rng.utc_bounds()
    views = ("SELECT kind, COUNT(DISTINCT visitor) FROM page_views WHERE created_at >= :s AND created_at < :e"
             + (" AND course_id IN :ids" if scope.scoped else " AND course_id IS NOT NULL") + " GROUP BY kind")
    q, values = _params(views, ids=scope.course_ids, s=s, e=e)
    counts = {kind: int(n) for kind, n in session.execute(q, values)}
    if scope.scoped:
        paid_stmt = f"WITH {sales_cte(sql, scoped=True)} SELECT COUNT(DISTINCT user_id) FROM sales"
    else:
        paid_stmt = ("SELECT COUNT(DISTINCT o.user_id) FROM orders o WHERE o.status IN :paid "
                     "AND o.paid_at >= :s AND o.paid_at < :e AND o.total_fen > 0")
    paid = _count(session, paid_stmt, scope, s=s, e=e)
    return Funnel(counts.get("list", 0), counts.get("detail", 0), counts.get("checkout", 0), paid)


# ---------------------------------------------------------------------------------- completion

@dataclass(frozen=True)
class CompletionRow:
    course_id: int
    title: str
    learners: int
    completed: int

    @property
    def rate_pct(self) -> float:
        return round(100.0 * self.completed / self.learners, 1) if self.learners else 0.0


def completion_rates(session: Session, *, actor_id: object) -> list[CompletionRow]:
    """Per course: learners with an active entitlement, and how many completed every lesson."""
    scope = require_scope(session, actor_id)
    if scope.scoped and not scope.course_ids:
        return []
    only = " AND course_id IN :ids" if scope.scoped else ""
    stmt = f"""
WITH learner_n AS (
  SELECT course_id, COUNT(DISTINCT user_id) AS n FROM entitlements
  WHERE revoked_at IS NULL{only} GROUP BY course_id),
lesson_n AS (SELECT course_id, COUNT(*) AS n FROM lessons WHERE 1 = 1{only} GROUP BY course_id),
per_user AS (
  SELECT lp.course_id, lp.user_id, COUNT(lp.completed_at) AS done FROM lesson_progress lp
  WHERE lp.completed_at IS NOT NULL{only.replace("course_id", "lp.course_id")}
  AND EXISTS (SELECT 1 FROM entitlements en WHERE en.user_id = lp.user_id AND en.course_id = lp.course_id
              AND en.revoked_at IS NULL)
  GROUP BY lp.course_id, lp.user_id),
done AS (
  SELECT pu.course_id, COUNT(*) AS n FROM per_user pu JOIN lesson_n ls ON ls.course_id = pu.course_id
  WHERE pu.done >= ls.n GROUP BY pu.course_id)
SELECT l.course_id, c.title, l.n, COALESCE(d.n, 0) FROM learner_n l
JOIN courses c ON c.id = l.course_id LEFT JOIN done d ON d.course_id = l.course_id
ORDER BY l.n DESC, l.course_id LIMIT {MAX_COMPLETION_ROWS}"""
    q, values = _params(stmt, ids=scope.course_ids)
    return [CompletionRow(int(c), title, int(n), int(d)) for c, title, n, d in session.execute(q, values)]


# ---------------------------------------------------------------------------------- drop-off

@dataclass(frozen=True)
class LessonChoice:
    lesson_id: int
    label: str


def video_lessons(session: Session, *, actor_id: object) -> list[LessonChoice]:
    """The video lessons (with a duration) whose drop-off this actor may see."""
    scope = require_scope(session, actor_id)
    kinds = [LessonKind.VIDEO.value, LessonKind.LIVE_REPLAY.value]
    query = (select(Lesson.id, Lesson.title, Course.title).join(Course, Course.id == Lesson.course_id)
             .where(Lesson.kind.in_(kinds), Lesson.duration_seconds > 0))  # type: ignore[attr-defined]
    if scope.scoped:
        if not scope.course_ids:
            return []
        query = query.where(Lesson.course_id.in_(scope.course_ids))  # type: ignore[attr-defined]
    rows = session.exec(query.order_by(Course.id, Lesson.id).limit(MAX_LESSON_CHOICES)).all()
    return [LessonChoice(int(lid), f"{ctitle} · {ltitle}") for lid, ltitle, ctitle in rows]


@dataclass(frozen=True)
class DropOff:
    lesson_id: int
    title: str
    buyers: int
    points: list[tuple[int, int, float]]  # (percent of the video, learners, share of buyers in %)


def segment_buckets(duration: int, segments: int = DROP_SEGMENTS) -> list[range]:
    """The 5-second buckets of each 5 % of a video (every segment has at least one bucket)."""
    n = progress_rules.bucket_count(duration)
    out = []
    for k in range(segments):
        lo = k * n // segments
        hi = max((k + 1) * n // segments, lo + 1)
        out.append(range(min(lo, n - 1), min(hi, n)))
    return out


def _segment_condition(sql: _Sql, buckets: range) -> str:
    masks: dict[int, int] = {}
    for b in buckets:
        masks[b // 8] = masks.get(b // 8, 0) | (1 << (b % 8))
    return " OR ".join(f"({sql.byte_at('lp.covered', i)} & {m}) <> 0" for i, m in sorted(masks.items()))


def drop_off(session: Session, *, actor_id: object, lesson_id: object) -> DropOff:
    scope = require_scope(session, actor_id)
    lesson = session.get(Lesson, lesson_id) if isinstance(lesson_id, int) and not isinstance(lesson_id, bool) else None
    if (lesson is None or lesson.kind not in (LessonKind.VIDEO, LessonKind.LIVE_REPLAY)
            or (scope.scoped and lesson.course_id not in (scope.course_ids or []))):
        raise DomainError("error.not_found")
    duration = max(0, min(int(lesson.duration_seconds or 0), progress_rules.MAX_LESSON_SECONDS))
    if duration == 0:
        raise DomainError("analytics.no_duration")
    sql = _Sql(session)
    segments = segment_buckets(duration)
    sums = ", ".join(f"SUM(CASE WHEN {_segment_condition(sql, seg)} THEN 1 ELSE 0 END)" for seg in segments)
    stmt = (f"SELECT {sums} FROM lesson_progress lp WHERE lp.lesson_id = :lesson AND EXISTS ("
            "SELECT 1 FROM entitlements en WHERE en.user_id = lp.user_id AND en.course_id = :course "
            "AND en.revoked_at IS NULL)")
    reached = session.execute(text(stmt), {"lesson": lesson.id, "course": lesson.course_id}).one()
    buyers = int(session.execute(text(
        "SELECT COUNT(DISTINCT user_id) FROM entitlements WHERE course_id = :course AND revoked_at IS NULL"),
        {"course": lesson.course_id}).scalar() or 0)
    points = []
    for k, value in enumerate(reached):
        n = int(value or 0)
        points.append(((k + 1) * 100 // DROP_SEGMENTS, n, round(100.0 * n / buyers, 1) if buyers else 0.0))
    return DropOff(lesson.id, lesson.title, buyers, points)


# ---------------------------------------------------------------------------------- active learners

@dataclass(frozen=True)
class ActiveLearners:
    daily: list[tuple[str, int]]  # (day, learners)
    weekly: list[tuple[str, int]]  # (Monday, learners)


def active_learners(session: Session, *, actor_id: object, rng: DateRange) -> ActiveLearners:
    scope = require_scope(session, actor_id)
    if scope.scoped and not scope.course_ids:
        return ActiveLearners([(d.isoformat(), 0) for d in rng.days], [])
    sql = _Sql(session)
    monday = rng.start - timedelta(days=rng.start.weekday())
    mine = (" AND sd.user_id IN (SELECT user_id FROM entitlements WHERE course_id IN :ids "
            "AND revoked_at IS NULL)") if scope.scoped else ""
    base = "FROM study_days sd WHERE sd.day >= :d0 AND sd.day <= :d1 AND sd.seconds > 0" + mine
    q, values = _params(f"SELECT sd.day, COUNT(DISTINCT sd.user_id) {base} GROUP BY sd.day",
                        ids=scope.course_ids, d0=rng.start, d1=rng.end)
    per_day = {_as_date(d): int(n) for d, n in session.execute(q, values)}
    q, values = _params(f"SELECT {sql.week('sd.day')} AS w, COUNT(DISTINCT sd.user_id) {base} GROUP BY 1",
                        ids=scope.course_ids, d0=monday, d1=rng.end)
    per_week = {_as_date(w): int(n) for w, n in session.execute(q, values)}
    weeks = [monday + timedelta(days=7 * i) for i in range((rng.end - monday).days // 7 + 1)]
    return ActiveLearners([(d.isoformat(), per_day.get(d, 0)) for d in rng.days],
                          [(w.isoformat(), per_week.get(w, 0)) for w in weeks])


# ---------------------------------------------------------------------------------- channel fees

def parse_rate_percent(value: object) -> int | None:
    """'0.6' (percent, up to two decimals, 0–10) -> 60 basis points; else None."""
    if not isinstance(value, str) or len(value) > 8:
        return None
    text_value = value.strip()
    if not _RATE_RE.match(text_value):
        return None
    whole, _dot, frac = text_value.partition(".")
    bp = int(whole) * 100 + int((frac + "00")[:2])
    return bp if 0 <= bp <= MAX_FEE_BP else None


def format_rate(bp: int) -> str:
    return f"{bp // 100}.{bp % 100:02d}".rstrip("0").rstrip(".") if bp % 100 else str(bp // 100)


def update_channel_fees(session: Session, *, actor_id: object, rates: object) -> dict[str, int]:
    """The owner sets the fee rate of each paying channel (percent strings). Every rate must be
    valid, else nothing changes (analytics.fee_bad). Audited."""
    actor = require_dashboard(session, actor_id, owner_only=True)
    if not isinstance(rates, dict):
        raise DomainError("analytics.fee_bad")
    parsed = {}
    for name in FEE_CHANNELS:
        bp = parse_rate_percent(rates.get(name))
        if bp is None:
            raise DomainError("analytics.fee_bad", channel=name)
        parsed[name] = bp
    old = fee_rates(session)
    new = {**old, **parsed, Channel.FREE.value: 0}
    shop_settings.set_value(session, "channel_fees", new, actor_id=actor.user_id)
    audit.record(session, actor_id=actor.user_id, action="analytics.channel_fees", target="channel_fees",
                 detail={"old": old, "new": new})
    session.commit()
    return new


# ---------------------------------------------------------------------------------- page views
#
# A view is stored once per visitor, kind, course and China day. The database de-duplicates: the
# unique index uq_page_views_visit and INSERT ... ON CONFLICT DO NOTHING, so any number of web
# workers (processes) agree without sharing memory. The write is one indexed INSERT in the
# caller's unit of work; the caller commits.

VISITOR_CHARS = 32
MAX_VIEW_IDS = 100
VISIT_KEY = ("visitor", "kind", "course_id", "day")  # the columns of the unique index uq_page_views_visit
_DIALECT_INSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def visitor_key(user_id: int | None, client_token: object, secret: str) -> str:
    """'u<id>' for a signed-in user, else a keyed hash of the browser's client token ('' if none)."""
    if isinstance(user_id, int) and not isinstance(user_id, bool) and user_id > 0:
        return f"u{user_id}"
    if not isinstance(client_token, str) or not 0 < len(client_token) <= 200:
        return ""
    digest = hmac.new(secret.encode(), client_token.encode(), hashlib.sha256).hexdigest()
    return "a" + digest[:VISITOR_CHARS - 1]


def _insert_ignoring_duplicates(session: Session):
    """INSERT INTO page_views ... ON CONFLICT (the visit key) DO NOTHING, for this database."""
    insert = _DIALECT_INSERT[session.get_bind().dialect.name]
    return insert(PageView.__table__).on_conflict_do_nothing(index_elements=list(VISIT_KEY))


def record_views(session: Session, *, kind: str, course_ids: list[int], visitor: str,
                 user_id: int | None = None, now: datetime | None = None) -> int:
    """Write one PageView per course unless this visitor already has one of this kind for that
    course on this China day (checked by the database, across every worker). One INSERT; the
    caller commits. Returns the number of rows added."""
    if kind not in VIEW_KINDS or not visitor:
        return 0
    now = now or utcnow()
    day = china_date(now)
    # sorted: two workers inserting the same keys take them in the same order (no deadlock on PG)
    ids = sorted({cid for cid in course_ids
                  if isinstance(cid, int) and not isinstance(cid, bool) and 0 < cid <= 2**31 - 1})
    if not ids:
        return 0
    rows = [{"kind": kind, "course_id": cid, "user_id": user_id, "visitor": visitor, "created_at": now,
             "day": day} for cid in ids]
    # RETURNING lists the rows really added (a multi-row INSERT's rowcount is not reliable on psycopg)
    stmt = _insert_ignoring_duplicates(session).values(rows).returning(PageView.__table__.c.id)
    return len(session.execute(stmt).all())


def track(session: Session, kind: str, course_ids: list[int], *, user_id: int | None,
          client_token: object) -> int:
    """A storefront page showed these courses to this visitor (signed-in user, else the browser's
    client token): record the views in `session` (the caller commits). Bad input records nothing."""
    from coursemall.settings import get_settings

    if kind not in VIEW_KINDS or not isinstance(course_ids, (list, tuple)):
        return 0
    visitor = visitor_key(user_id, client_token, get_settings().secret_key)
    ids = [c for c in course_ids if isinstance(c, int) and not isinstance(c, bool)][:MAX_VIEW_IDS]
    if not visitor or not ids:
        return 0
    return record_views(session, kind=kind, course_ids=ids, visitor=visitor,
                        user_id=user_id if visitor.startswith("u") else None)


def track_checkout(session: Session, order_no: object, *, user_id: int | None) -> int:
    """A signed-in learner opened the payment page of their pending order: its courses (bundles
    expanded) as checkout views, in `session` (the caller commits)."""
    valid_no = isinstance(order_no, str) and 0 < len(order_no) <= 32
    if not (isinstance(user_id, int) and not isinstance(user_id, bool) and user_id > 0 and valid_no):
        return 0
    lines = session.exec(select(OrderLine.course_ids).join(Order, Order.id == OrderLine.order_id).where(
        Order.out_trade_no == order_no, Order.user_id == user_id,
        Order.status == OrderStatus.PENDING.value)).all()
    ids = [int(c) for course_ids in lines for c in (course_ids or []) if isinstance(c, int)]
    return record_views(session, kind="checkout", course_ids=ids, visitor=f"u{user_id}", user_id=user_id)

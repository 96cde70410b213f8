"""Analytics figures from a small shop with known sales, refunds, page views, progress and study days, so every
analytics figure has an exact expected value (see tests/services/dashboard/test_analytics.py).

China days (UTC+8) used: 2026-03-09 (Monday) and 2026-03-10; the range under test is those two.

Orders (amounts in fen):
  O1 L1  C1 10000 alipay  2026-03-09 15:59:59 UTC = 03-09 23:59:59 China
  O2 L2  C1 10000 wechat  2026-03-09 16:00:00 UTC = 03-10 00:00:00 China, refunded in full
  O3 L3  bundle(C2, C3) 10001 alipay 03-10 (split 5000 / 5001)
  O4 L1  C3  8000 sandbox 03-10
  O5 L4  C2  5000 pending (not paid)
  O6 L4  C1 10000 alipay  03-12 (outside the range)
  O7 L4  C2 0 free        03-10 (a free order: no revenue, not counted as an order)
Instructors: A (courses C1, C2) 30 % share; B (C3) no share.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlmodel import Session

from coursemall.models import (
    Chapter,
    Course,
    Entitlement,
    Instructor,
    Lesson,
    LessonProgress,
    Order,
    OrderLine,
    PageView,
    Payment,
    StudyDay,
    User,
)

UTC = timezone.utc
D9, D10 = date(2026, 3, 9), date(2026, 3, 10)


def at(y, m, d, hh=0, mm=0, ss=0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=UTC)


@dataclass
class Shop:
    owner: int
    staff: int
    teacher_a: int
    teacher_b: int
    learners: list[int]
    c1: int
    c2: int
    c3: int
    v1: int  # video lesson of C1, 100 s = 20 buckets
    a1: int  # article lesson of C1
    v3: int  # video lesson of C3
    bundle_line_order: int


def _user(s: Session, role: str = "learner") -> int:
    u = User(nickname=f"{role}-{secrets.token_hex(2)}", role=role, watermark_code=secrets.token_hex(5))
    s.add(u)
    s.flush()
    return u.id


def _course(s: Session, title: str, price: int, instructor_id: int) -> int:
    c = Course(slug=f"an-{secrets.token_hex(4)}", title=title, price_fen=price, status="published",
               instructor_id=instructor_id)
    s.add(c)
    s.flush()
    return c.id


def _lesson(s: Session, course_id: int, kind: str, duration: int) -> int:
    ch = Chapter(course_id=course_id, title="第一章")
    s.add(ch)
    s.flush()
    ls = Lesson(course_id=course_id, chapter_id=ch.id, title=f"{kind}-{duration}", kind=kind,
                duration_seconds=duration)
    s.add(ls)
    s.flush()
    return ls.id


def _order(s: Session, user: int, lines: list[tuple[str, int, int, list[int]]], *, status: str, channel: str,
           paid_at: datetime | None, refunded: bool = False) -> int:
    total = sum(price for _t, _i, price, _c in lines)
    created = (paid_at or at(2026, 3, 10)) - timedelta(minutes=5)
    o = Order(out_trade_no=secrets.token_hex(8), user_id=user, status=status, channel=channel, total_fen=total,
              refunded_fen=total if refunded else 0, created_at=created, expires_at=created + timedelta(hours=1),
              paid_at=paid_at)
    s.add(o)
    s.flush()
    for item_type, item_id, price, course_ids in lines:
        s.add(OrderLine(order_id=o.id, item_type=item_type, item_id=item_id, title="x", unit_price_fen=price,
                        course_ids=course_ids, refund_status="refunded" if refunded else "",
                        refunded_fen=price if refunded else 0))
    if paid_at is not None:
        s.add(Payment(order_id=o.id, channel=channel, provider_txn_id=secrets.token_hex(8), amount_fen=total,
                      paid_at=paid_at))
    s.flush()
    return o.id


def _grant(s: Session, user: int, course: int, *, revoked: bool = False) -> None:
    s.add(Entitlement(user_id=user, course_id=course, source="order", source_ref=secrets.token_hex(4),
                      revoked_at=at(2026, 3, 11) if revoked else None))


def _bits(buckets: range, nbytes: int) -> bytes:
    out = bytearray(nbytes)
    for b in buckets:
        out[b // 8] |= 1 << (b % 8)
    return bytes(out)


def build_shop(s: Session) -> Shop:
    owner, staff = _user(s, "owner"), _user(s, "staff")
    teacher_a, teacher_b = _user(s), _user(s)
    learners = [_user(s) for _ in range(4)]
    l1, l2, l3, l4 = learners
    ia = Instructor(user_id=teacher_a, name="甲老师", status="approved", revenue_share_bp=3000)
    ib = Instructor(user_id=teacher_b, name="乙老师", status="approved", revenue_share_bp=0)
    s.add(ia)
    s.add(ib)
    s.flush()
    c1 = _course(s, "课程一", 10000, ia.id)
    c2 = _course(s, "课程二", 5000, ia.id)
    c3 = _course(s, "课程三", 8000, ib.id)
    v1, a1 = _lesson(s, c1, "video", 100), _lesson(s, c1, "article", 300)
    _lesson(s, c2, "video", 60)
    v3 = _lesson(s, c3, "video", 200)

    _order(s, l1, [("course", c1, 10000, [c1])], status="paid", channel="alipay", paid_at=at(2026, 3, 9, 15, 59, 59))
    _order(s, l2, [("course", c1, 10000, [c1])], status="refunded", channel="wechat",
           paid_at=at(2026, 3, 9, 16, 0, 0), refunded=True)
    bundle_order = _order(s, l3, [("bundle", 77, 10001, [c2, c3])], status="paid", channel="alipay",
                          paid_at=at(2026, 3, 10, 2))
    _order(s, l1, [("course", c3, 8000, [c3])], status="paid", channel="sandbox", paid_at=at(2026, 3, 10, 3))
    _order(s, l4, [("course", c2, 5000, [c2])], status="pending", channel="alipay", paid_at=None)
    _order(s, l4, [("course", c1, 10000, [c1])], status="paid", channel="alipay", paid_at=at(2026, 3, 12, 3))
    _order(s, l4, [("course", c2, 0, [c2])], status="paid", channel="free", paid_at=at(2026, 3, 10, 5))

    _grant(s, l1, c1)
    _grant(s, l2, c1, revoked=True)
    _grant(s, l4, c1)
    _grant(s, l3, c2)
    _grant(s, l3, c3)
    _grant(s, l1, c3)
    _grant(s, l4, c2)

    # progress on V1 (20 buckets = 3 bytes): L1 the first half, L4 all, L2 (refunded) all, L3 (no access) all
    for user, buckets, done in ((l1, range(0, 10), False), (l4, range(0, 20), True), (l2, range(0, 20), True),
                                (l3, range(0, 20), True)):
        s.add(LessonProgress(user_id=user, lesson_id=v1, course_id=c1, covered=_bits(buckets, 3),
                             percent=100 if done else 50, completed_at=at(2026, 3, 10) if done else None))
    s.add(LessonProgress(user_id=l4, lesson_id=a1, course_id=c1, percent=100, completed_at=at(2026, 3, 10)))
    s.add(LessonProgress(user_id=l1, lesson_id=a1, course_id=c1, percent=40))
    s.add(LessonProgress(user_id=l1, lesson_id=v3, course_id=c3, covered=_bits(range(0, 40), 5), percent=100,
                         completed_at=at(2026, 3, 10)))

    # study days: L1 both days, L2 on the 10th, L3 with 0 s (not active), L4 the Sunday before
    for user, day, secs in ((l1, D9, 600), (l1, D10, 60), (l2, D10, 300), (l3, D10, 0), (l4, date(2026, 3, 8), 90)):
        s.add(StudyDay(user_id=user, day=day, seconds=secs))

    # page views: (kind, course, visitor, user, time)
    views = [
        ("list", c1, f"u{l1}", l1, at(2026, 3, 9, 3)), ("list", c3, f"u{l1}", l1, at(2026, 3, 9, 3)),
        ("list", c1, "aX", None, at(2026, 3, 9, 4)), ("list", c1, "aX", None, at(2026, 3, 10, 4)),
        ("list", c2, "aY", None, at(2026, 3, 10, 4)),
        ("detail", c1, f"u{l1}", l1, at(2026, 3, 9, 3)), ("detail", c1, "aX", None, at(2026, 3, 9, 5)),
        ("detail", c3, f"u{l2}", l2, at(2026, 3, 10, 1)),
        ("checkout", c1, f"u{l1}", l1, at(2026, 3, 9, 15)), ("checkout", c1, f"u{l2}", l2, at(2026, 3, 9, 16)),
        ("list", c1, "aZ", None, at(2026, 3, 11, 4)),  # outside the range
        ("detail", c1, "aW", None, at(2026, 3, 8, 15, 59)),  # 03-08 23:59 China: outside
    ]
    for kind, course, visitor, user, when in views:
        s.add(PageView(kind=kind, course_id=course, visitor=visitor, user_id=user, created_at=when))
    s.commit()
    return Shop(owner, staff, teacher_a, teacher_b, learners, c1, c2, c3, v1, a1, v3, bundle_order)


# ====================================================================================== tests

import pytest  # noqa: E402

from coursemall.domain.errors import DomainError  # noqa: E402
from coursemall.models import AuditLog, ShopSetting  # noqa: E402
from coursemall.services.dashboard import analytics
from coursemall.services.dashboard.analytics import DateRange  # noqa: E402
from sqlmodel import func, select  # noqa: E402

RANGE = DateRange(D9, D10)


@pytest.fixture
def shop(session) -> Shop:
    return build_shop(session)


def _daily(session, actor) -> list[tuple[str, int, int, int]]:
    return [(d.day, d.revenue_fen, d.orders, d.learners)
            for d in analytics.revenue_by_day(session, actor_id=actor, rng=RANGE)]


# ---------------------------------------------------------------------------------- revenue by day

def test_revenue_by_day_splits_at_china_midnight(session, shop):
    # O1 at 23:59:59 China is the 9th; O2 one second later is the 10th; the free order is no order
    assert _daily(session, shop.owner) == [("2026-03-09", 10000, 1, 1), ("2026-03-10", 28001, 3, 3)]
    assert _daily(session, shop.staff) == _daily(session, shop.owner)


def test_revenue_by_day_fills_empty_days(session, shop):
    rng = DateRange(date(2026, 3, 11), date(2026, 3, 13))
    figures = analytics.revenue_by_day(session, actor_id=shop.owner, rng=rng)
    assert [(d.day, d.revenue_fen, d.orders) for d in figures] == [
        ("2026-03-11", 0, 0), ("2026-03-12", 10000, 1), ("2026-03-13", 0, 0)]


def test_instructors_see_only_their_courses_with_bundles_split_exactly(session, shop):
    # A: C1 (O1 on the 9th, O2 on the 10th) + C2's 5000 of the 10001 bundle; B: C3's 5001 + O4 8000
    assert _daily(session, shop.teacher_a) == [("2026-03-09", 10000, 1, 1), ("2026-03-10", 15000, 2, 2)]
    assert _daily(session, shop.teacher_b) == [("2026-03-09", 0, 0, 0), ("2026-03-10", 13001, 2, 2)]


def test_learners_are_refused(session, shop):
    for fn, kwargs in ((analytics.revenue_by_day, {"rng": RANGE}), (analytics.net_revenue, {"rng": RANGE}),
                       (analytics.funnel, {"rng": RANGE}), (analytics.best_sellers, {"rng": RANGE}),
                       (analytics.active_learners, {"rng": RANGE}), (analytics.completion_rates, {}),
                       (analytics.overview, {}), (analytics.video_lessons, {}),
                       (analytics.drop_off, {"lesson_id": shop.v1})):
        for who in (shop.learners[0], None, 10**9, [1]):
            with pytest.raises(DomainError) as err:
                fn(session, actor_id=who, **kwargs)
            assert err.value.code == "error.forbidden", fn.__name__


# ---------------------------------------------------------------------------------- net revenue

def test_net_revenue_subtracts_fees_refunds_and_instructor_share(session, shop):
    net = analytics.net_revenue(session, actor_id=shop.owner, rng=RANGE)
    rows = {r.course_id: (r.paid_fen, r.fees_fen, r.refunds_fen, r.share_fen, r.net_fen) for r in net.rows}
    assert rows == {
        shop.c1: (20000, 120, 10000, 2964, 6916),  # 0.6 % of each 10000; 30 % of 9880
        shop.c2: (5000, 30, 0, 1491, 3479),
        shop.c3: (13001, 30, 0, 0, 12971),  # 0.6 % of 5001 rounds to 30; sandbox has no fee
    }
    assert (net.paid_fen, net.fees_fen, net.refunds_fen, net.share_fen, net.net_fen) == (38001, 180, 10000, 4455, 23366)
    # paid equals the revenue chart's total for the same range
    assert net.paid_fen == sum(d[1] for d in _daily(session, shop.owner))


def test_net_revenue_follows_the_fee_setting(session, shop):
    analytics.update_channel_fees(session, actor_id=shop.owner,
                                  rates={"alipay": "1", "wechat": "0.6", "sandbox": "0", "manual": "0"})
    net = analytics.net_revenue(session, actor_id=shop.owner, rng=RANGE)
    fees = {r.course_id: r.fees_fen for r in net.rows}
    assert fees == {shop.c1: 100 + 60, shop.c2: 50, shop.c3: 50}


def test_instructor_net_revenue_is_their_own(session, shop):
    net = analytics.net_revenue(session, actor_id=shop.teacher_b, rng=RANGE)
    assert [(r.course_id, r.paid_fen, r.net_fen) for r in net.rows] == [(shop.c3, 13001, 12971)]
    assert net.paid_fen == 13001


# ---------------------------------------------------------------------------------- channel fees

def _fees_snapshot(session) -> tuple:
    row = session.get(ShopSetting, "channel_fees")
    audits = session.exec(select(func.count()).select_from(AuditLog)).one()
    return (dict(row.value) if row else None, audits)


def test_owner_sets_fee_rates_in_percent_and_is_audited(session, shop):
    new = analytics.update_channel_fees(session, actor_id=shop.owner,
                                        rates={"alipay": "0.38", "wechat": "10", "sandbox": "0", "manual": " 1.5 "})
    assert new == {"alipay": 38, "wechat": 1000, "sandbox": 0, "manual": 150, "free": 0}
    assert analytics.fee_rates(session) == new
    entry = session.exec(select(AuditLog).where(AuditLog.action == "analytics.channel_fees")).one()
    assert entry.actor_id == shop.owner and entry.detail["new"]["alipay"] == 38


@pytest.mark.parametrize("bad", ["10.01", "11", "-1", "abc", "0.123", "", None, 5, ["1"], "1e1", "０.5", "x" * 10_000])
def test_bad_fee_rates_change_nothing(session, shop, bad):
    before = _fees_snapshot(session)
    with pytest.raises(DomainError) as err:
        analytics.update_channel_fees(session, actor_id=shop.owner,
                                      rates={"alipay": "0.6", "wechat": bad, "sandbox": "0", "manual": "0"})
    assert err.value.code == "analytics.fee_bad"
    session.rollback()
    assert _fees_snapshot(session) == before


@pytest.mark.parametrize("who", ["staff", "teacher_a"])
def test_only_the_owner_sets_fee_rates(session, shop, who):
    before = _fees_snapshot(session)
    with pytest.raises(DomainError) as err:
        analytics.update_channel_fees(session, actor_id=getattr(shop, who),
                                      rates={"alipay": "1", "wechat": "1", "sandbox": "0", "manual": "0"})
    assert err.value.code == "error.forbidden"
    assert _fees_snapshot(session) == before


# ---------------------------------------------------------------------------------- funnel

def test_funnel_counts_distinct_visitors_per_step(session, shop):
    f = analytics.funnel(session, actor_id=shop.owner, rng=RANGE)
    assert (f.list_visitors, f.detail_visitors, f.checkout_visitors, f.paid_learners) == (3, 3, 2, 3)
    a = analytics.funnel(session, actor_id=shop.teacher_a, rng=RANGE)
    assert (a.list_visitors, a.detail_visitors, a.checkout_visitors, a.paid_learners) == (3, 2, 2, 3)
    b = analytics.funnel(session, actor_id=shop.teacher_b, rng=RANGE)
    assert (b.list_visitors, b.detail_visitors, b.checkout_visitors, b.paid_learners) == (1, 1, 0, 2)


def test_record_views_writes_once_per_visitor_course_and_day(session, shop):
    from coursemall.models import PageView

    def count():
        return session.exec(select(func.count()).select_from(PageView).where(PageView.visitor == "aNEW")).one()

    when = at(2026, 3, 10, 8)
    assert analytics.record_views(session, kind="list", course_ids=[shop.c1, shop.c2, shop.c1], visitor="aNEW",
                                  now=when) == 2
    assert analytics.record_views(session, kind="list", course_ids=[shop.c1], visitor="aNEW", now=when) == 0
    assert analytics.record_views(session, kind="bogus", course_ids=[shop.c1], visitor="aNEW", now=when) == 0
    assert analytics.record_views(session, kind="detail", course_ids=[shop.c1, -1, "2", True], visitor="aNEW",
                                  now=when) == 1
    session.commit()
    assert count() == 3
    f = analytics.funnel(session, actor_id=shop.owner, rng=RANGE)
    assert (f.list_visitors, f.detail_visitors) == (4, 4)


def test_two_workers_recording_the_same_view_at_once_store_one_row(db_engine, shop):
    """Two web processes (two engines: two pools, no memory shared) record the same views at the
    same moment: the database's unique key lets exactly one row per visitor, kind, course and
    China day through, and each row is counted by exactly one of them."""
    from coursemall.db import make_engine
    from coursemall.models import PageView
    from tests.concurrency import run_concurrently

    url = db_engine.url.render_as_string(hide_password=False)
    workers = [make_engine(url) for _ in range(2)]
    start = at(2026, 3, 10, 8)  # 16:00 China; the second worker 59 minutes later, the same day

    def record(engine, visitor: str, now: datetime, course_ids: list[int]) -> int:
        with Session(engine) as s:
            added = analytics.record_views(s, kind="detail", course_ids=course_ids, visitor=visitor, now=now)
            s.commit()
            return added

    orders = ([shop.c1, shop.c2], [shop.c2, shop.c1])  # the same keys listed in either order
    try:
        for race in range(8):
            visitor = f"aRACE{race}"
            added = run_concurrently([lambda e=e, i=i: record(e, visitor, start + timedelta(minutes=59 * i), orders[i])
                                      for i, e in enumerate(workers)])
            assert sum(added) == 2, (race, added)
    finally:
        for engine in workers:
            engine.dispose()
    with Session(db_engine) as s:
        rows = s.exec(select(PageView.visitor, PageView.course_id, PageView.day)
                      .where(PageView.visitor.startswith("aRACE"))).all()
    assert sorted((v, c, str(d)) for v, c, d in rows) == sorted(
        (f"aRACE{r}", c, "2026-03-10") for r in range(8) for c in (shop.c1, shop.c2))


def test_visitor_key_hashes_anonymous_tokens():
    assert analytics.visitor_key(7, "tok", "k") == "u7"
    anon = analytics.visitor_key(None, "client-token-1", "k")
    assert anon.startswith("a") and len(anon) == 32 and "client" not in anon
    assert anon == analytics.visitor_key(None, "client-token-1", "k") != analytics.visitor_key(None, "other", "k")
    assert analytics.visitor_key(None, "", "k") == analytics.visitor_key(None, {"x": 1}, "k") == ""


# ---------------------------------------------------------------------------------- best sellers

def test_best_sellers(session, shop):
    rows = analytics.best_sellers(session, actor_id=shop.owner, rng=RANGE)
    assert [(r.course_id, r.title, r.units, r.revenue_fen) for r in rows] == [
        (shop.c1, "课程一", 2, 20000), (shop.c3, "课程三", 2, 13001), (shop.c2, "课程二", 1, 5000)]
    rows = analytics.best_sellers(session, actor_id=shop.teacher_a, rng=RANGE)
    assert [r.course_id for r in rows] == [shop.c1, shop.c2]


# ---------------------------------------------------------------------------------- completion and drop-off

def test_completion_rate_per_course(session, shop):
    rows = analytics.completion_rates(session, actor_id=shop.owner)
    assert [(r.course_id, r.learners, r.completed, r.rate_pct) for r in rows] == [
        (shop.c1, 2, 1, 50.0), (shop.c2, 2, 0, 0.0), (shop.c3, 2, 1, 50.0)]
    rows = analytics.completion_rates(session, actor_id=shop.teacher_b)
    assert [(r.course_id, r.completed) for r in rows] == [(shop.c3, 1)]


def test_drop_off_curve_counts_buyers_per_five_percent(session, shop):
    curve = analytics.drop_off(session, actor_id=shop.teacher_a, lesson_id=shop.v1)
    assert curve.buyers == 2  # L1 and L4; L2's refund revoked access; L3 never bought C1
    assert [p[0] for p in curve.points] == list(range(5, 101, 5))
    assert [p[1] for p in curve.points] == [2] * 10 + [1] * 10
    assert [p[2] for p in curve.points] == [100.0] * 10 + [50.0] * 10


def test_drop_off_of_a_long_lesson_reads_several_bytes(session, shop):
    # V3: 200 s = 40 buckets (5 bytes), 2 buckets per 5 %; L1 covered all of it
    curve = analytics.drop_off(session, actor_id=shop.owner, lesson_id=shop.v3)
    assert curve.buyers == 2 and [p[1] for p in curve.points] == [1] * 20


def test_drop_off_is_scoped_and_validated(session, shop):
    for lesson in (shop.v1, shop.a1, 10**6, "1", None, True, -1):
        with pytest.raises(DomainError) as err:
            analytics.drop_off(session, actor_id=shop.teacher_b, lesson_id=lesson)
        assert err.value.code == "error.not_found"
    labels = [c.lesson_id for c in analytics.video_lessons(session, actor_id=shop.teacher_b)]
    assert labels == [shop.v3]


def test_segment_buckets_cover_short_and_long_videos():
    assert [list(r) for r in analytics.segment_buckets(100)] == [[i] for i in range(20)]
    short = analytics.segment_buckets(12)  # 3 buckets: every 5 % still has one
    assert all(len(r) == 1 for r in short) and short[0] == range(0, 1) and short[-1] == range(2, 3)
    long = analytics.segment_buckets(3600)
    assert sum(len(r) for r in long) == 720


# ---------------------------------------------------------------------------------- active learners

def test_daily_and_weekly_active_learners(session, shop):
    act = analytics.active_learners(session, actor_id=shop.owner, rng=RANGE)
    assert act.daily == [("2026-03-09", 1), ("2026-03-10", 2)]  # L3 studied 0 s
    assert act.weekly == [("2026-03-09", 2)]
    wide = analytics.active_learners(session, actor_id=shop.owner, rng=DateRange(date(2026, 3, 8), D10))
    assert wide.weekly == [("2026-03-02", 1), ("2026-03-09", 2)]  # the Sunday belongs to the week before
    b = analytics.active_learners(session, actor_id=shop.teacher_b, rng=RANGE)
    assert b.daily == [("2026-03-09", 1), ("2026-03-10", 1)] and b.weekly == [("2026-03-09", 1)]


# ---------------------------------------------------------------------------------- date ranges

def test_parse_range():
    assert analytics.parse_range("2026-03-09", " 2026-03-10 ") == RANGE
    assert analytics.parse_range("2025-03-10", "2026-03-10").days[0] == date(2025, 3, 10)  # 366 days


@pytest.mark.parametrize("start,end,code", [
    ("2026-03-10", "2026-03-09", "analytics.end_before_start"),
    ("2025-03-09", "2026-03-10", "analytics.range_too_long"),
    ("2026-02-30", "2026-03-10", "analytics.bad_date"),
    ("garbage", "2026-03-10", "analytics.bad_date"),
    ("2026-03-09", None, "analytics.bad_date"),
    (["2026-03-09"], "2026-03-10", "analytics.bad_date"),
    ("2026-3-9", "2026-03-10", "analytics.bad_date"),
    ("2026-03-09" * 1000, "2026-03-10", "analytics.bad_date"),
])
def test_bad_ranges(start, end, code):
    with pytest.raises(DomainError) as err:
        analytics.parse_range(start, end)
    assert err.value.code == code


def test_presets_end_today():
    assert analytics.preset_range(7, today=D10) == DateRange(date(2026, 3, 4), D10)
    for bad in (0, 8, True, "7", None):
        with pytest.raises(DomainError):
            analytics.preset_range(bad, today=D10)


# ---------------------------------------------------------------------------------- overview

def test_overview_today_and_queues(session, shop):
    now = at(2026, 3, 10, 12)  # 20:00 China on the 10th
    ov = analytics.overview(session, actor_id=shop.owner, now=now)
    assert (ov.today, ov.revenue_today_fen, ov.orders_today, ov.learners_today) == ("2026-03-10", 28001, 3, 3)
    assert (ov.pending_refunds, ov.pending_manual, ov.pending_homework) == (0, 0, 0)
    assert len(ov.spark) == 30 and ov.spark[-1].day == "2026-03-10" and ov.spark[-2].revenue_fen == 10000
    mine = analytics.overview(session, actor_id=shop.teacher_b, now=now)
    assert (mine.revenue_today_fen, mine.orders_today, mine.pending_refunds) == (13001, 2, None)

"""Overview and analytics states called directly, as a browser could (ARCHITECTURE.md rules 1, 2, 4).

- every handler carries its guard below `@rx.event` (`save_fees` owner only);
- learners and anonymous visitors calling each handler get the permission message, no data and
  change nothing;
- instructors see only their own courses' figures and cannot change the fee rates;
- bad date ranges, presets, lesson ids and fee rates give a clear message and change nothing;
- today's revenue on /admin grows by the price of a course bought in the sandbox;
- the storefront hooks write page views (list, detail, checkout) without failing the page.
"""

from __future__ import annotations

import inspect
from datetime import date
from decimal import Decimal

import pytest
from sqlmodel import Session, func, select

import coursemall.pages  # noqa: F401  (registers every state)
from coursemall.i18n import t
from coursemall.models import AuditLog, Course, PageView, ShopSetting
from coursemall.services.dashboard import analytics
from coursemall.services.commerce import checkout, payments
from coursemall.state.dashboard.analytics import AnalyticsState, DashboardHomeState, track_page_view
from coursemall.state.guards import guard_of
from tests.services.dashboard.test_analytics import build_shop
from tests.state.helpers import call, cookie_for, make_state

FORBIDDEN = t("admin.forbidden")
RANGE_FORM = {"start": "2026-03-09", "end": "2026-03-10"}
GOOD_FEES = {"alipay": "1", "wechat": "0.6", "sandbox": "0", "manual": "0"}


@pytest.fixture
def shop(engine):
    with Session(engine, expire_on_commit=False) as s:
        return build_shop(s)


def snapshot(engine) -> dict:
    with Session(engine) as s:
        row = s.get(ShopSetting, "channel_fees")
        return {"fees": dict(row.value) if row else None,
                "audit": s.exec(select(func.count()).select_from(AuditLog)).one(),
                "views": s.exec(select(func.count()).select_from(PageView)).one()}


HANDLERS = {
    DashboardHomeState: {"load_dashboard_home": "dashboard_required"},
    AnalyticsState: {"load_analytics": "dashboard_required", "pick_preset": "dashboard_required",
                     "apply_range": "dashboard_required", "pick_lesson": "dashboard_required",
                     "save_fees": "owner_required"},
}


def valid_calls(shop) -> list[tuple[type, str, tuple]]:
    return [
        (DashboardHomeState, "load_dashboard_home", ()),
        (AnalyticsState, "load_analytics", ()),
        (AnalyticsState, "pick_preset", ("7",)),
        (AnalyticsState, "apply_range", (RANGE_FORM,)),
        (AnalyticsState, "pick_lesson", (str(shop.v1),)),
        (AnalyticsState, "save_fees", (GOOD_FEES,)),
    ]


DATA_VARS = {
    DashboardHomeState: ("today_revenue", "spark", "pending_homework"),
    AnalyticsState: ("totals", "daily", "funnel_rows", "sellers", "completion", "dau", "net", "net_rows",
                     "waterfall", "lessons", "dropoff", "fees"),
}


# ---------------------------------------------------------------------------------- guards

def test_every_handler_has_its_guard_below_rx_event():
    for cls, expected in HANDLERS.items():
        own = {n for n in cls.event_handlers if n != "setvar"}
        assert own == set(expected), cls.__name__
        for name, kind in expected.items():
            fn = cls.event_handlers[name].fn
            assert guard_of(fn) == kind, f"{cls.__name__}.{name}"
            assert inspect.isfunction(fn) and hasattr(fn, "__wrapped__")


@pytest.mark.parametrize("who", ["anonymous", "learner", "owner_without_totp"])
async def test_non_dashboard_users_change_nothing_and_see_no_data(engine, shop, who):
    cookie = {"anonymous": "cm_lang=zh_CN",
              "learner": cookie_for(engine, shop.learners[0]),
              "owner_without_totp": cookie_for(engine, shop.owner, mfa=False)}[who]
    before = snapshot(engine)
    for cls, handler, args in valid_calls(shop):
        state = make_state(cls, cookie=cookie)
        assert await call(state, handler, *args) is None
        expected = t("admin.mfa_required") if who == "owner_without_totp" else FORBIDDEN
        assert state.error == expected, f"{cls.__name__}.{handler}: {state.error!r}"
        assert not state.allowed and not state.success
        for var in DATA_VARS[cls]:
            assert not getattr(state, var), f"{cls.__name__}.{var} leaked to {who}"
    assert snapshot(engine) == before


# ---------------------------------------------------------------------------------- figures

async def test_owner_sees_the_whole_shop(engine, shop):
    state = make_state(AnalyticsState, cookie=cookie_for(engine, shop.owner))
    await call(state, "apply_range", RANGE_FORM)
    assert state.allowed and state.is_owner and not state.error
    assert (state.start, state.end, state.preset) == ("2026-03-09", "2026-03-10", "")
    assert state.totals == {"revenue": "¥380.01", "orders": "4", "learners": "3"}
    assert [(d["day"], d["yuan"], d["orders"]) for d in state.daily] == [
        ("03-09", Decimal("100.00"), 1), ("03-10", Decimal("280.01"), 3)]
    assert [r["visitors"] for r in state.funnel_rows] == [3, 3, 2, 3]
    assert state.net == {"paid": "¥380.01", "fees": "¥1.80", "refunds": "¥100.00", "share": "¥44.55",
                         "net": "¥233.66"}
    assert [(str(w["base"]), str(w["value"])) for w in state.waterfall] == [  # exact Decimals, no float
        ("0.00", "380.01"), ("378.21", "1.80"), ("278.21", "100.00"), ("233.66", "44.55"), ("0.00", "233.66")]
    assert [s["title"] for s in state.sellers] == ["课程一", "课程三", "课程二"]
    assert [c["rate"] for c in state.completion] == ["50.0%", "0.0%", "50.0%"]
    assert [d["learners"] for d in state.dau] == [1, 2]
    assert state.fees["alipay"] == "0.6"
    await call(state, "pick_lesson", str(shop.v1))
    assert [p["share"] for p in state.dropoff] == [100.0] * 10 + [50.0] * 10
    assert state.dropoff_text == t("analytics.buyers", count=2)


async def test_instructor_sees_only_own_courses_and_cannot_set_fees(engine, shop):
    state = make_state(AnalyticsState, cookie=cookie_for(engine, shop.teacher_b, mfa=False))
    await call(state, "apply_range", RANGE_FORM)
    assert state.allowed and not state.is_staff and not state.is_owner
    assert state.totals == {"revenue": "¥130.01", "orders": "2", "learners": "2"}
    assert [r["title"] for r in state.net_rows] == ["课程三"]
    assert [s["title"] for s in state.sellers] == ["课程三"]
    assert [ls["id"] for ls in state.lessons] == [str(shop.v3)]
    before = snapshot(engine)
    await call(state, "pick_lesson", str(shop.v1))  # another instructor's lesson
    assert state.error == t("error.not_found") and state.dropoff == []
    await call(state, "save_fees", GOOD_FEES)
    assert state.error == FORBIDDEN and not state.allowed and state.totals == {}
    assert snapshot(engine) == before


async def test_presets_and_load_default_to_thirty_days(engine, shop):
    state = make_state(AnalyticsState, cookie=cookie_for(engine, shop.staff))
    await call(state, "load_analytics")
    today = analytics.china_today()
    assert state.end == today.isoformat() and len(state.daily) == 30 and state.preset == "30"
    await call(state, "pick_preset", "7")
    assert len(state.daily) == 7 and state.preset == "7" and not state.error


# ---------------------------------------------------------------------------------- bad input

BAD_RANGES = [
    ({"start": "2026-03-10", "end": "2026-03-09"}, "analytics.end_before_start"),
    ({"start": "2025-01-01", "end": "2026-03-09"}, "analytics.range_too_long"),
    ({"start": "yesterday", "end": "2026-03-09"}, "analytics.bad_date"),
    ({"start": "2026-02-30", "end": "2026-03-09"}, "analytics.bad_date"),
    ({"start": {"x": 1}, "end": "2026-03-09"}, "analytics.bad_date"),
    ({"start": "x" * 100_000, "end": "2026-03-09"}, "analytics.bad_date"),
    ("2026-03-09", "analytics.bad_date"),
    (None, "analytics.bad_date"),
]


@pytest.mark.parametrize("form,code", BAD_RANGES)
async def test_bad_ranges_show_a_message_and_keep_the_figures(engine, shop, form, code):
    state = make_state(AnalyticsState, cookie=cookie_for(engine, shop.owner))
    await call(state, "apply_range", RANGE_FORM)
    shown = (state.start, state.end, dict(state.totals), list(state.daily))
    before = snapshot(engine)
    await call(state, "apply_range", form)
    assert state.error == t(code, days=366) and state.section == "range" and state.allowed
    assert (state.start, state.end, dict(state.totals), list(state.daily)) == shown
    assert snapshot(engine) == before


@pytest.mark.parametrize("bad", ["8", "", None, 7, ["7"], "x" * 10_000])
async def test_bad_presets_and_lessons(engine, shop, bad):
    state = make_state(AnalyticsState, cookie=cookie_for(engine, shop.owner))
    await call(state, "apply_range", RANGE_FORM)
    await call(state, "pick_preset", bad)
    assert state.error == t("analytics.bad_preset") and state.preset == "" and state.start == "2026-03-09"
    await call(state, "pick_lesson", bad)
    assert state.error == t("error.not_found") and state.dropoff == []


@pytest.mark.parametrize("rates", [
    {**GOOD_FEES, "wechat": "12"}, {**GOOD_FEES, "alipay": "-1"}, {**GOOD_FEES, "manual": "abc"},
    {"alipay": "1"}, "1", None, {**GOOD_FEES, "sandbox": ["0"]},
])
async def test_bad_fee_rates_change_nothing(engine, shop, rates):
    state = make_state(AnalyticsState, cookie=cookie_for(engine, shop.owner))
    await call(state, "apply_range", RANGE_FORM)
    before = snapshot(engine)
    await call(state, "save_fees", rates)
    assert state.error == t("analytics.fee_bad") and state.section == "fees" and state.allowed
    assert state.fees["alipay"] == "0.6"
    assert snapshot(engine) == before


async def test_owner_saves_fee_rates_and_net_revenue_follows(engine, shop):
    state = make_state(AnalyticsState, cookie=cookie_for(engine, shop.owner))
    await call(state, "apply_range", RANGE_FORM)
    await call(state, "save_fees", GOOD_FEES)
    assert state.success == t("analytics.fees_saved") and not state.error
    assert state.fees == {"sandbox": "0", "alipay": "1", "wechat": "0.6", "manual": "0", "free": "0"}
    assert state.net["fees"] == "¥2.60"  # 1 % of 20001 alipay (rounded per course) + 0.6 % of 10000 wechat
    assert snapshot(engine)["audit"] == 1


async def test_staff_cannot_save_fees(engine, shop):
    state = make_state(AnalyticsState, cookie=cookie_for(engine, shop.staff))
    before = snapshot(engine)
    await call(state, "save_fees", GOOD_FEES)
    assert state.error == FORBIDDEN
    assert snapshot(engine) == before


# ---------------------------------------------------------------------------------- overview

async def test_todays_revenue_grows_by_the_price_of_a_purchase(engine, shop):
    home = make_state(DashboardHomeState, cookie=cookie_for(engine, shop.owner))
    await call(home, "load_dashboard_home")
    assert home.allowed and home.today_revenue == "¥0.00" and len(home.spark) == 30
    with Session(engine, expire_on_commit=False) as s:
        course = s.get(Course, shop.c1)
        order = checkout.buy_now(s, actor_id=shop.learners[1], item_type="course", item_id=course.id)
        payments.sandbox_decide(s, actor_id=shop.learners[1], order_no=order.out_trade_no, outcome="pay")
    await call(home, "load_dashboard_home")
    assert home.today_revenue == "¥100.00" and home.today_orders == 1 and home.today_learners == 1
    assert home.spark[-1]["yuan"] == Decimal("100.00")
    assert home.pending_refunds == 0 and home.pending_manual == 0
    # the instructor of another course sees none of it
    other = make_state(DashboardHomeState, cookie=cookie_for(engine, shop.teacher_b))
    await call(other, "load_dashboard_home")
    assert other.allowed and other.today_revenue == "¥0.00" and not other.is_staff


# ---------------------------------------------------------------------------------- page-view hooks

class _FakeSession:
    client_token = "tab-token-1"


class _FakeRouter:
    session = _FakeSession()


class _FakeState:
    router = _FakeRouter()

    def __init__(self, user_id):
        self.user_id = user_id

    def _actor_id(self):
        return self.user_id


def _views(engine) -> list[tuple]:
    with Session(engine) as s:
        return sorted((v.kind, v.course_id, v.user_id, v.visitor[:1]) for v in s.exec(select(PageView)).all())


def test_hooks_record_views_and_never_raise(engine, shop):
    with Session(engine) as s:
        s.exec(PageView.__table__.delete())
        s.commit()
    with coursemall.db.session_scope() as s:  # the load's unit of work; written when it commits
        track_page_view(_FakeState(None), s, "list", [shop.c1, shop.c2])
        track_page_view(_FakeState(shop.learners[0]), s, "detail", [shop.c1])
        track_page_view(_FakeState(None), s, "detail", "not a list")  # ignored, no exception
        track_page_view(object(), s, "detail", [shop.c1])  # not a state: logged, no exception
        track_page_view(_FakeState(None), s, "list", [shop.c1])  # seen today already: no second row
    assert _views(engine) == [("detail", shop.c1, shop.learners[0], "u"),
                              ("list", shop.c1, None, "a"), ("list", shop.c2, None, "a")]


async def test_listing_loads_write_list_views_in_their_own_unit_of_work(engine, shop):
    """Home and search write their list views before the load returns (nothing to wait for), once
    per visitor, course and day however often the page is loaded."""
    from coursemall.state.catalog.storefront import HomeState, SearchState

    with Session(engine) as s:
        s.exec(PageView.__table__.delete())
        s.commit()
    learner = shop.learners[0]
    cookie = cookie_for(engine, learner)
    for _ in range(2):
        for cls in (HomeState, SearchState):
            page = make_state(cls, cookie=cookie)
            await call(page, "load")
            assert not page.error
    shown = {int(c["id"]) for c in page.items}
    views = _views(engine)
    assert shown and len(views) == len(set(views))
    assert {c for kind, c, user, _v in views if kind == "list" and user == learner} >= shown


async def test_a_failed_page_view_write_never_fails_the_page(engine, shop):
    from coursemall.state.catalog.storefront import HomeState

    PageView.__table__.drop(engine)  # every INSERT of a view fails
    page = make_state(HomeState, cookie=cookie_for(engine, shop.learners[0]))
    await call(page, "load")
    assert not page.error and page.loaded and page.newest


async def test_storefront_and_order_pages_write_funnel_views(engine, shop, monkeypatch):
    from coursemall.state.catalog.storefront import CourseState
    from coursemall.state.commerce.shop import OrderState

    with Session(engine) as s:
        s.exec(PageView.__table__.delete())
        s.commit()
    buyer = shop.learners[1]
    cookie = cookie_for(engine, buyer)
    course_page = make_state(CourseState, cookie=cookie)
    monkeypatch.setattr(CourseState, "_route_id", lambda self, name: shop.c2)
    await call(course_page, "load")
    assert course_page.course_id == shop.c2 and not course_page.error
    with Session(engine) as s:
        order = checkout.buy_now(s, actor_id=buyer, item_type="course", item_id=shop.c2)
    order_page = make_state(OrderState, cookie=cookie)
    monkeypatch.setattr(OrderState, "_route_order_no", lambda self: order.out_trade_no)
    await call(order_page, "load_order")
    assert order_page.can_pay
    assert _views(engine) == [("checkout", shop.c2, buyer, "u"), ("detail", shop.c2, buyer, "u")]
    f = None
    with Session(engine) as s:
        today = analytics.china_today()
        f = analytics.funnel(s, actor_id=shop.owner, rng=analytics.DateRange(today, today))
    assert (f.detail_visitors, f.checkout_visitors) == (1, 1)
    assert date.fromisoformat(today.isoformat()) == today

"""Operations states called directly, as a hostile browser could (SQLite): guards on every
handler, the exact handler sets, refusals that change nothing, bad arguments with clear
messages, and the owner's/staff's/instructor's work end to end (refund, grant/revoke, revenue
share, applications, moderation scope, /teach)."""

from __future__ import annotations

import inspect

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

import coursemall.pages  # noqa: F401  (registers every state)
from coursemall.i18n import t
from coursemall.models import (
    AuditLog,
    Entitlement,
    Instructor,
    InstructorApplication,
    LessonComment,
    Message,
    Order,
    Refund,
    ShopSetting,
)
from coursemall.services.commerce import cart, checkout, payments
from coursemall.services.community import comments as community
from coursemall.state.dashboard import operations as ops_state
from coursemall.state.dashboard.orders import AdminBaseState, AdminOrdersState
from coursemall.state.guards import guard_of
from coursemall.state.dashboard.operations import (
    AdminInstructorsState,
    AdminLearnerState,
    AdminLearnersState,
    AdminOrderDetailState,
    InstructorProfileState,
    ModerationState,
    TeachApplyState,
)
from tests.services.learning_fixture import make_world
from tests.state.helpers import call, cookie_for, page_state

FORBIDDEN = t("admin.forbidden")

EXPECTED = {
    AdminOrderDetailState: {"load_order_detail", "refund_order"},
    AdminLearnersState: {"load_learners", "search_learners", "goto_learners_page"},
    AdminLearnerState: {"load_learner", "grant_access", "revoke_access"},
    AdminInstructorsState: {"load_instructors", "approve_application", "reject_application", "save_share",
                            "save_instructor_profile"},
    InstructorProfileState: {"load_my_profile", "save_my_profile"},
    ModerationState: {"load_moderation", "filter_moderation", "hide_comment", "unhide_comment", "delete_comment",
                      "hide_review", "unhide_review", "save_blocked_words"},
    TeachApplyState: {"load_teach", "submit_application"},
}
STAFF_ONLY_HANDLERS = {(ModerationState, "save_blocked_words")}


@pytest.mark.parametrize("cls", list(EXPECTED), ids=lambda c: c.__name__)
def test_exact_handlers_and_guards(cls):
    handlers = {n: h for n, h in cls.event_handlers.items() if n != "setvar"}
    assert set(handlers) == EXPECTED[cls]
    for name, handler in handlers.items():
        if cls is TeachApplyState:
            assert guard_of(handler.fn) is None  # a learner's own form (reviewed as public)
            continue
        want = ("staff_required" if issubclass(cls, AdminBaseState) or (cls, name) in STAFF_ONLY_HANDLERS
                else "dashboard_required")
        assert guard_of(handler.fn) == want, f"{cls.__name__}.{name}"
        assert inspect.isfunction(handler.fn) and hasattr(handler.fn, "__wrapped__")


def test_every_admin_state_in_ops_derives_from_the_admin_base():
    admin_like = [obj for obj in vars(ops_state).values()
                  if inspect.isclass(obj) and obj.__module__ == ops_state.__name__ and obj.__name__.startswith("Admin")]
    assert admin_like and all(issubclass(c, AdminBaseState) for c in admin_like)


# ---------------------------------------------------------------------------------- fixtures

@pytest.fixture
def w(engine):
    """The learning world plus a paid sandbox order of the phone course by the stranger, a
    comment on a paid lesson, and cookies (owner/staff sessions passed TOTP)."""
    with Session(engine, expire_on_commit=False) as s:
        world = make_world(s)
        cart.add_to_cart(s, actor_id=world.stranger, item_type="course", item_id=world.course)
        order = checkout.checkout_cart(s, actor_id=world.stranger)
        payments.sandbox_decide(s, actor_id=world.stranger, order_no=order.out_trade_no, outcome="pay")
        comment = community.add_comment(s, actor_id=world.buyer2, lesson_id=world.paid, text="付费课评论")
    world.order_no = order.out_trade_no
    world.comment = comment.id
    world.cookies = {uid: cookie_for(engine, uid) for uid in (world.owner, world.staff, world.teacher,
                                                              world.other_teacher, world.buyer, world.buyer2,
                                                              world.stranger)}
    return world


def snapshot(engine) -> dict:
    with Session(engine) as s:
        def n(model, *where):
            return s.exec(select(func.count()).select_from(model).where(*where)).one()

        return {
            "grants": n(Entitlement, Entitlement.revoked_at.is_(None)),
            "refunds": n(Refund), "messages": n(Message), "audit": n(AuditLog),
            "orders": sorted((o.out_trade_no, o.status) for o in s.exec(select(Order)).all()),
            "comments": sorted((c.id, c.status) for c in s.exec(select(LessonComment)).all()),
            "shares": sorted((i.id, i.revenue_share_bp, i.name) for i in s.exec(select(Instructor)).all()),
            "apps": sorted((a.id, a.status) for a in s.exec(select(InstructorApplication)).all()),
            "settings": n(ShopSetting),
        }


def order_state(w, who, order_no=None):
    return page_state(AdminOrderDetailState, w.cookies.get(who, "cm_lang=zh_CN"), "/admin/orders/[order_no]",
                      {"order_no": order_no or w.order_no})


def learner_state(w, who, user_id):
    return page_state(AdminLearnerState, w.cookies.get(who, "cm_lang=zh_CN"), "/admin/learners/[learner_id]",
                      {"learner_id": str(user_id)})


def plain(cls, w, who):
    return page_state(cls, w.cookies.get(who, "cm_lang=zh_CN"))


# ---------------------------------------------------------------------------------- refusals

async def test_learners_and_other_instructors_are_refused(engine, w):
    before = snapshot(engine)
    calls = [
        (AdminOrderDetailState, "load_order_detail", ()), (AdminOrderDetailState, "refund_order",
                                                           ({"line_1": "on", "reason": "x"},)),
        (AdminLearnersState, "load_learners", ()), (AdminLearnersState, "search_learners", ({"q": "a"},)),
        (AdminLearnerState, "load_learner", ()),
        (AdminLearnerState, "grant_access", ({"course_id": str(w.course), "reason": "送"},)),
        (AdminInstructorsState, "load_instructors", ()),
        (AdminInstructorsState, "save_share", ({"instructor_id": "1", "percent": "90"},)),
        (ModerationState, "save_blocked_words", ({"words": "x"},)),
    ]
    for who in (w.buyer, 0, w.other_teacher):
        for cls, handler, args in calls:
            state = (order_state(w, who) if cls is AdminOrderDetailState
                     else learner_state(w, who, w.buyer) if cls is AdminLearnerState else plain(cls, w, who))
            await call(state, handler, *args)
            assert state.error == FORBIDDEN and not state.allowed, (cls.__name__, handler, who)
            for var in ("order", "lines", "learners", "profile", "grants", "applications", "instructors",
                        "blocked_words"):
                assert not getattr(state, var, None), (cls.__name__, var)
    for who in (w.buyer, 0):
        state = plain(ModerationState, w, who)
        await call(state, "hide_comment", w.comment)
        assert state.error == FORBIDDEN and state.comments == []
    assert snapshot(engine) == before


async def test_owner_without_totp_gets_the_totp_step(engine, w):
    state = page_state(AdminLearnersState, cookie_for(engine, w.owner, mfa=False))
    await call(state, "load_learners")
    assert state.mfa_needed and state.learners == [] and state.error == t("admin.mfa_required")


# ---------------------------------------------------------------------------------- orders

async def test_orders_filters_through_the_state(engine, w):
    state = plain(AdminOrdersState, w, w.staff)
    await call(state, "search_orders", {"status": "paid", "channel": "sandbox", "date_from": "", "date_to": "",
                                        "q": "同学"})
    assert state.count == 0 and state.orders == []
    await call(state, "search_orders", {"status": "paid", "q": w.order_no[-6:]})
    assert [o["order_no"] for o in state.orders] == [w.order_no] and state.sum_paid == state.orders[0]["total"]
    assert state.csv_url.startswith("/api/admin/export/orders.csv?") and "status=paid" in state.csv_url
    for bad, key in (({"date_from": "2026-02-30"}, "ops.bad_date"),
                     ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "ops.bad_range"),
                     ({"q": "x" * 61}, "ops.query_too_long")):
        await call(state, "search_orders", bad)
        assert state.error == t(key, max=60) and [o["order_no"] for o in state.orders] == [w.order_no]


async def test_order_detail_and_refund(engine, w):
    state = order_state(w, w.staff)
    await call(state, "load_order_detail")
    assert state.allowed and state.order["order_no"] == w.order_no and state.can_refund
    assert state.order["learner_href"] == f"/admin/learners/{w.stranger}"
    (line,) = state.lines
    before = snapshot(engine)
    for form, key in (({"reason": "质量问题"}, "ops.refund.pick_lines"),
                      ({f"line_{line['id']}": "on", "reason": ""}, "ops.reason_length"),
                      ({"line_abc": "on", "reason": "x"}, "error.bad_request"),
                      ("line_1", "error.bad_request"),
                      ({f"line_{line['id']}": "on", "reason": ["x"]}, "error.bad_request"),
                      ({"line_999999": "on", "reason": "x"}, "refund.bad_lines")):
        await call(state, "refund_order", form)
        assert state.error == t(key, max=200) and not state.success, form
    assert snapshot(engine) == before
    await call(state, "refund_order", {f"line_{line['id']}": "on", "reason": "质量问题"})
    assert state.success == t("ops.refund.done") and state.order["status"] == "refunded" and not state.can_refund
    assert [r["status"] for r in state.refund_rows] == ["succeeded"]
    missing = order_state(w, w.staff, "CM0000NOSUCHORDER")
    await call(missing, "load_order_detail")
    assert missing.error == t("order.not_found") and missing.order == {}
    bad = order_state(w, w.staff, "../../etc")
    await call(bad, "load_order_detail")
    assert bad.error == t("order.not_found")


# ---------------------------------------------------------------------------------- learners

async def test_learner_search_grant_and_revoke(engine, w):
    search = plain(AdminLearnersState, w, w.staff)
    await call(search, "search_learners", {"q": "同学二"})
    assert [r["id"] for r in search.learners] == [str(w.buyer2)]
    assert search.csv_url.endswith("learners.csv?q=%E5%90%8C%E5%AD%A6%E4%BA%8C")
    for bad in (None, "x", {"q": ["a"]}, {"q": "y" * 5000}):
        await call(search, "search_learners", bad)
        assert search.error and search.error != FORBIDDEN
    await call(search, "goto_learners_page", "abc")
    assert search.error == t("error.bad_request")

    state = learner_state(w, w.staff, w.stranger)
    await call(state, "load_learner")
    assert state.profile["id"] == str(w.stranger) and [g["source"] for g in state.grants] == ["order"]
    assert state.learner_orders[0]["order_no"] == w.order_no
    other_course = next(c for c in state.course_options if c["id"] == str(w.other_course))
    before = snapshot(engine)
    for form, key in (({"course_id": "", "reason": "送"}, "ops.grant.pick_course"),
                      ({"course_id": "-1", "reason": "送"}, "ops.grant.pick_course"),
                      ({"course_id": other_course["id"], "reason": "  "}, "ops.reason_length"),
                      ({"course_id": str(w.course), "reason": "送"}, "ops.already_has_access"),
                      ({"course_id": "999999", "reason": "送"}, "ops.course_not_found"),
                      (None, "ops.grant.pick_course")):
        await call(state, "grant_access", form)
        assert state.error == t(key, max=200) and not state.success, form
    assert snapshot(engine) == before

    await call(state, "grant_access", {"course_id": other_course["id"], "reason": "老学员福利"})
    assert state.success == t("ops.grant.done")
    granted = next(g for g in state.grants if g["source"] == "grant")
    assert granted["active"] == "1"
    with Session(engine) as s:
        assert "老学员福利" in s.exec(select(Message.body).where(Message.user_id == w.stranger)
                                   .order_by(Message.id.desc())).first()

    # revoke: only rows shown for this learner; then the real one
    await call(state, "revoke_access", {"entitlement_id": "999999", "reason": "x"})
    assert state.error == t("ops.entitlement_not_found")
    await call(state, "revoke_access", {"entitlement_id": granted["id"], "reason": ""})
    assert state.error == t("ops.reason_length", max=200)
    await call(state, "revoke_access", {"entitlement_id": granted["id"], "reason": "发放错误"})
    assert state.success == t("ops.revoke.done")
    assert next(g for g in state.grants if g["id"] == granted["id"])["active"] == ""
    await call(state, "revoke_access", {"entitlement_id": granted["id"], "reason": "发放错误"})
    assert state.error == t("ops.already_revoked")

    unknown = learner_state(w, w.staff, "abc")
    await call(unknown, "load_learner")
    assert unknown.error == t("ops.learner_not_found") and unknown.profile == {}


# ---------------------------------------------------------------------------------- instructors

async def test_revenue_share_bounds_through_the_state(engine, w):
    owner = plain(AdminInstructorsState, w, w.owner)
    await call(owner, "load_instructors")
    assert owner.allowed and owner.instructors
    target = owner.instructors[0]["id"]
    before = snapshot(engine)
    for value in ("-5", "100.5", "101", "abc", "", "1e2", None, ["50"]):
        await call(owner, "save_share", {"instructor_id": target, "percent": value})
        assert owner.error == t("instructor.share_invalid") and not owner.success, value
    await call(owner, "save_share", {"instructor_id": "0", "percent": "10"})
    assert owner.error == t("admin.bad_id")
    staff = plain(AdminInstructorsState, w, w.staff)
    await call(staff, "load_instructors")
    await call(staff, "save_share", {"instructor_id": target, "percent": "50"})
    assert staff.error == t("admin.owner_only")
    await call(staff, "save_instructor_profile", {"instructor_id": target, "name": "改名", "title": "", "bio": ""})
    assert staff.error == t("admin.owner_only")
    assert snapshot(engine) == before
    await call(owner, "save_share", {"instructor_id": target, "percent": "45.5"})
    assert owner.success == t("instructor.share_saved")
    assert next(i for i in owner.instructors if i["id"] == target)["share"] == "45.5%"


async def test_application_flow_through_states(engine, w):
    anon = plain(TeachApplyState, w, 0)
    await call(anon, "submit_application", {"name": "游客", "title": "", "bio": ""})
    assert anon.error == t("error.sign_in_required")
    learner = plain(TeachApplyState, w, w.buyer)
    await call(learner, "load_teach")
    assert learner.teach_loaded and learner.app_status == "" and not learner.is_instructor
    for bad in (None, {"name": ["x"], "title": "", "bio": ""}, {"name": "", "title": "", "bio": ""},
                {"name": "名" * 41, "title": "", "bio": ""}):
        await call(learner, "submit_application", bad)
        assert learner.error and not learner.success
    await call(learner, "submit_application", {"name": "张老师", "title": "咖啡师", "bio": "十年手冲"})
    assert learner.success == t("teach.submitted") and learner.app_status == "pending"
    await call(learner, "submit_application", {"name": "张老师", "title": "", "bio": ""})
    assert learner.error == t("teach.pending_exists")

    owner = plain(AdminInstructorsState, w, w.owner)
    await call(owner, "load_instructors")
    (app,) = owner.applications
    await call(owner, "reject_application", {"application_id": app["id"], "reason": ""})
    assert owner.error == t("teach.reason_length", max=200)
    await call(owner, "approve_application", app["id"])
    assert owner.success == t("teach.approved") and owner.applications == []
    await call(owner, "approve_application", app["id"])
    assert owner.error == t("teach.already_decided")

    # the new instructor sees the dashboard and edits their own profile
    me = plain(InstructorProfileState, w, w.buyer)
    await call(me, "load_my_profile")
    assert me.allowed and me.has_profile and me.my_profile["name"] == "张老师" and not me.is_staff
    await call(me, "save_my_profile", {"name": "张三老师", "title": "咖啡师", "bio": "新简介"})
    assert me.success == t("instructor.profile_saved") and me.my_profile["name"] == "张三老师"
    await call(me, "save_my_profile", {"name": "", "title": "", "bio": ""})
    assert me.error == t("text.empty")
    await call(learner, "load_teach")
    assert learner.is_instructor


# ---------------------------------------------------------------------------------- moderation

async def test_moderation_scope_through_the_state(engine, w, monkeypatch):
    monkeypatch.setattr(community, "_shop_words_cache", ())  # this process's cache: restored afterwards
    other = plain(ModerationState, w, w.other_teacher)
    await call(other, "load_moderation")
    assert other.allowed and not other.is_staff and other.comments == [] and other.blocked_words == ""
    before = snapshot(engine)
    for handler in ("hide_comment", "delete_comment"):
        await call(other, handler, str(w.comment))  # a valid id of another instructor's course
        assert other.error == t("comment.not_found")
    await call(other, "save_blocked_words", {"words": "刷好评"})
    assert other.error == FORBIDDEN
    for bad in (None, "abc", -1, 2**40, [1], {"id": 1}):
        state = plain(ModerationState, w, w.teacher)
        await call(state, "hide_comment", bad)
        assert state.error == t("admin.bad_id")
    await call(state, "filter_moderation", "deleted")
    assert state.error == t("error.bad_request")
    assert snapshot(engine) == before

    teacher = plain(ModerationState, w, w.teacher)
    await call(teacher, "load_moderation")
    assert [c["id"] for c in teacher.comments] == [str(w.comment)]  # a paid lesson, teacher not entitled
    await call(teacher, "hide_comment", str(w.comment))
    assert teacher.success == t("moderation.comment_hide") and teacher.comments[0]["status"] == "hidden"
    await call(teacher, "filter_moderation", "visible")
    assert teacher.comments == []

    staff = plain(ModerationState, w, w.staff)
    await call(staff, "load_moderation")
    assert staff.is_staff
    await call(staff, "save_blocked_words", {"words": "刷好评\n加群"})
    assert staff.success == t("moderation.words_saved") and staff.blocked_words == "刷好评\n加群"
    await call(staff, "save_blocked_words", {"words": "长" * 31})
    assert staff.error == t("moderation.words_invalid", max=200, length=30)
    assert staff.blocked_words == "刷好评\n加群"

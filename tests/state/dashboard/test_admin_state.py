"""Owner-area states called directly, as a browser could (ARCHITECTURE.md rules 1, 2 and 4).

- every handler of every admin state carries `@staff_required` (below `@rx.event`, so the
  function Reflex registers is the guarded one);
- a learner and an anonymous visitor calling each handler with valid ids change nothing, see the
  permission message and receive no data;
- wrong types and out-of-range values from the owner get a clear message and change nothing;
- the owner's queue decisions, policy and payment settings work end to end through the services.
"""

from __future__ import annotations

import inspect
import io

import pytest
import reflex as rx
from PIL import Image
from sqlmodel import Session, func, select

import coursemall.pages  # noqa: F401  (registers every state)
from coursemall.domain.validation import valid_id
from coursemall.i18n import t
from coursemall.models import Entitlement, ManualPayment, Order, Refund, RefundPolicy, ShopPaymentSetting
from coursemall.services.commerce import cart, checkout, manual_pay, payments, refunds
from coursemall.services.accounts import sessions
from coursemall.state.dashboard import orders as admin_state
from coursemall.state.dashboard.orders import (
    AdminBaseState,
    AdminManualState,
    AdminOrdersState,
    AdminPaymentSettingsState,
    AdminRefundsState,
)
from coursemall.state.dashboard.analytics import DashboardHomeState
from coursemall.state.base import AppState
from coursemall.state.guards import guard_of
from tests.payments.factories import active_grants, make_course, make_user, messages_of
from tests.state.helpers import call, cookie_for, make_state

FORBIDDEN = t("admin.forbidden")
BAD_VALUES = [None, 0, -1, True, 2**40, 1.5, ["1"], {"id": 1}, "x" * 100_000, "", "1; DROP TABLE", "-3"]


def png_bytes(color=(20, 120, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (60, 60), color).save(buf, format="PNG")
    return buf.getvalue()


# ---------------------------------------------------------------------------------- fixtures

@pytest.fixture
def shop(engine):
    """Owner, staff, a learner; one refund under review and one transfer waiting for confirmation."""
    with Session(engine, expire_on_commit=False) as s:
        owner = make_user(s, role="owner")
        staff = make_user(s, role="staff")
        learner = make_user(s)
        buyer = make_user(s)
        refunds.update_refund_policy(s, actor_id=owner.id, auto_approve=False, within_days=7,
                                     max_progress_pct=20, request_window_days=30)
        manual_pay.update_manual_settings(s, actor_id=owner.id, enabled=True, instructions="备注订单号",
                                          qr_image=png_bytes())
        # a paid order with a refund under review
        courses = [make_course(s, price_fen=p) for p in (1000, 2000)]
        for c in courses:
            cart.add_to_cart(s, actor_id=learner.id, item_type="course", item_id=c.id)
        order = checkout.checkout_cart(s, actor_id=learner.id)
        payments.sandbox_decide(s, actor_id=learner.id, order_no=order.out_trade_no, outcome="pay")
        refund = refunds.request_refund(s, actor_id=learner.id, order_no=order.out_trade_no, reason="不想学了")
        assert refund.status == "requested"
        # a manual-transfer order with its proof
        course = make_course(s, price_fen=6600)
        mo = checkout.buy_now(s, actor_id=buyer.id, item_type="course", item_id=course.id)
        mp = manual_pay.submit_manual_proof(s, actor_id=buyer.id, order_no=mo.out_trade_no, image=png_bytes((9, 9, 9)),
                                            reference="尾号 1234")
        # a transfer paid twice: the second one waits for the owner to return it by hand
        twice = make_user(s)
        to = checkout.buy_now(s, actor_id=twice.id, item_type="course", item_id=make_course(s, price_fen=800).id)
        checkout.start_payment(s, actor_id=twice.id, order_no=to.out_trade_no, channel="manual")
        for txn in ("manual-a", "manual-b"):
            payments.apply_paid(s, channel="manual", out_trade_no=to.out_trade_no, provider_txn_id=txn,
                                amount_fen=800, kind="manual")
        refunds.process_refunds(s)
        attention = s.exec(select(Refund).where(Refund.status == "attention")).one()
    return {
        "owner": owner.id, "staff": staff.id, "learner": learner.id, "buyer": buyer.id,
        "refund_id": refund.id, "order_no": order.out_trade_no, "mp_id": mp.id, "manual_order": mo.out_trade_no,
        "manual_course": course.id, "attention_id": attention.id, "twice_order": to.out_trade_no,
        "twice": twice.id,
    }


def snapshot(engine) -> dict:
    """Everything an admin handler could change."""
    with Session(engine) as s:
        policy = s.get(RefundPolicy, 1)
        setting = s.get(ShopPaymentSetting, 1)
        return {
            "refunds": sorted((r.id, r.status, r.decision_reason, r.attempts) for r in s.exec(select(Refund)).all()),
            "manual": sorted((m.id, m.status, m.reject_reason) for m in s.exec(select(ManualPayment)).all()),
            "orders": sorted((o.out_trade_no, o.status) for o in s.exec(select(Order)).all()),
            "grants": s.exec(select(func.count()).select_from(Entitlement)
                             .where(Entitlement.revoked_at.is_(None))).one(),
            "policy": (policy.auto_approve, policy.within_days, policy.max_progress_pct, policy.request_window_days)
            if policy else None,
            "setting": (setting.manual_enabled, setting.manual_instructions, setting.manual_qr_image)
            if setting else None,
        }


def valid_calls(shop) -> list[tuple[type, str, tuple]]:
    """Each admin handler with arguments that would succeed for the owner."""
    return [
        (AdminOrdersState, "load_orders", ()),
        (AdminOrdersState, "filter_orders", ("paid",)),
        (AdminOrdersState, "search_orders", ({"status": "paid", "channel": "sandbox", "date_from": "2020-01-01",
                                               "date_to": "", "q": "课程"},)),
        (AdminOrdersState, "goto_orders_page", (1,)),
        (AdminRefundsState, "load_refunds", ()),
        (AdminRefundsState, "approve_refund", (str(shop["refund_id"]),)),
        (AdminRefundsState, "reject_refund", ({"refund_id": str(shop["refund_id"]), "reason": "已学完"},)),
        (AdminRefundsState, "save_policy", ({"auto_approve": "on", "within_days": "3", "max_progress_pct": "10",
                                             "request_window_days": "15"},)),
        (AdminRefundsState, "mark_refunded_by_hand", (str(shop.get("attention_id", 1)),)),
        (AdminRefundsState, "retry_refund", (str(shop.get("attention_id", 1)),)),
        (AdminManualState, "load_manual", ()),
        (AdminManualState, "confirm_manual", (shop["mp_id"],)),
        (AdminManualState, "reject_manual", ({"manual_payment_id": str(shop["mp_id"]), "reason": "金额不符"},)),
        (AdminPaymentSettingsState, "load_payment_settings", ()),
        (AdminPaymentSettingsState, "save_payment_settings", ({"enabled": "", "instructions": "新说明"},)),
        (AdminPaymentSettingsState, "upload_qr", ([rx.UploadFile(file=io.BytesIO(png_bytes((1, 2, 3))))],)),
    ]


DATA_VARS = {
    AdminOrdersState: ("orders", "count"),
    AdminRefundsState: ("refunds", "in_flight"),
    AdminManualState: ("payments",),
    AdminPaymentSettingsState: ("instructions", "qr_url"),
}


# ---------------------------------------------------------------------------------- the guard

def _admin_states() -> list[type]:
    """The states of state/dashboard/orders.py (state/dashboard/operations.py's Admin* states are checked in test_ops_state)."""
    found = []

    def walk(cls):
        for sub in cls.__subclasses__():
            if sub.__module__ == admin_state.__name__ and sub not in found:
                found.append(sub)
            walk(sub)

    walk(AppState)
    return found


def test_every_admin_handler_has_the_guard():
    states = _admin_states()
    assert {AdminOrdersState, AdminRefundsState, AdminManualState,
            AdminPaymentSettingsState} == set(states) - {AdminBaseState}
    checked = 0
    for cls in states:
        assert issubclass(cls, AdminBaseState), f"{cls.__name__} must derive from AdminBaseState"
        for name, handler in cls.event_handlers.items():
            if name == "setvar":  # Reflex's builtin; no set_<var> exists (tests/security)
                continue
            assert guard_of(handler.fn) == "staff_required", f"{cls.__name__}.{name} lacks @staff_required"
            # the guard is the registered function itself (i.e. placed below @rx.event)
            assert inspect.isfunction(handler.fn) and hasattr(handler.fn, "__wrapped__")
            assert inspect.iscoroutinefunction(handler.fn) == inspect.iscoroutinefunction(handler.fn.__wrapped__)
            checked += 1
    assert checked == len(valid_calls({"refund_id": 1, "mp_id": 1}))  # every handler is exercised below


def test_guard_reads_the_database_role_not_the_frontend_var(engine, shop):
    state = make_state(AdminOrdersState, cookie=cookie_for(engine, shop["learner"]))
    state.role = "owner"  # what a tampered frontend might claim
    state.signed_in = True
    before = snapshot(engine)
    AdminOrdersState.load_orders.fn(state)
    assert state.error == FORBIDDEN and not state.allowed and state.orders == [] and state.count == 0
    assert snapshot(engine) == before


# ---------------------------------------------------------------------------------- non-staff

@pytest.mark.parametrize("who", ["anonymous", "learner", "revoked"])
async def test_non_staff_change_nothing_and_see_no_data(engine, shop, who):
    if who == "anonymous":
        cookie = "cm_lang=zh_CN"
    else:
        cookie = cookie_for(engine, shop["learner"])
        if who == "revoked":
            with Session(engine) as s:
                sessions.revoke_all_sessions(s, user_id=shop["learner"])
                s.commit()
    before = snapshot(engine)
    for cls, handler, args in valid_calls(shop):
        state = make_state(cls, cookie=cookie)
        result = await call(state, handler, *args)
        assert result is None, f"{cls.__name__}.{handler}"
        assert state.error == FORBIDDEN, f"{cls.__name__}.{handler}: {state.error!r}"
        assert not state.allowed and not state.success
        for var in DATA_VARS[cls]:
            assert not getattr(state, var), f"{cls.__name__}.{var} leaked to a non-staff visitor"
    assert snapshot(engine) == before


async def test_a_demoted_owner_loses_access_at_once(engine, shop):
    """The guard checks fresh: a role change applies to the very next call of an open page."""
    from coursemall.models import User

    state = make_state(AdminRefundsState, cookie=cookie_for(engine, shop["owner"]))
    await call(state, "load_refunds")
    assert state.allowed and len(state.refunds) == 1
    with Session(engine) as s:
        user = s.get(User, shop["owner"])
        user.role = "learner"
        s.add(user)
        s.commit()
    before = snapshot(engine)
    await call(state, "approve_refund", str(shop["refund_id"]))
    assert state.error == FORBIDDEN and state.refunds == [] and not state.allowed
    assert snapshot(engine) == before


# ---------------------------------------------------------------------------------- bad input

BAD_ARG_CALLS = [
    (AdminOrdersState, "filter_orders", lambda bad: (bad,)),
    (AdminOrdersState, "search_orders", lambda bad: (bad,)),
    (AdminOrdersState, "search_orders", lambda bad: ({"status": bad},)),
    (AdminOrdersState, "search_orders", lambda bad: ({"date_from": bad},)),
    (AdminOrdersState, "search_orders", lambda bad: ({"q": bad},)),
    (AdminOrdersState, "goto_orders_page", lambda bad: (bad,)),
    (AdminRefundsState, "approve_refund", lambda bad: (bad,)),
    (AdminRefundsState, "reject_refund", lambda bad: (bad,)),
    (AdminRefundsState, "reject_refund", lambda bad: ({"refund_id": bad, "reason": "原因"},)),
    (AdminRefundsState, "mark_refunded_by_hand", lambda bad: (bad,)),
    (AdminRefundsState, "retry_refund", lambda bad: (bad,)),
    (AdminRefundsState, "save_policy", lambda bad: (bad,)),
    (AdminRefundsState, "save_policy", lambda bad: ({"auto_approve": "on", "within_days": bad,
                                                     "max_progress_pct": "10", "request_window_days": "30"},)),
    (AdminRefundsState, "save_policy", lambda bad: ({"auto_approve": bad, "within_days": "3",
                                                     "max_progress_pct": "10", "request_window_days": "30"},)),
    (AdminManualState, "confirm_manual", lambda bad: (bad,)),
    (AdminManualState, "reject_manual", lambda bad: (bad,)),
    (AdminManualState, "reject_manual", lambda bad: ({"manual_payment_id": bad, "reason": "原因"},)),
    (AdminPaymentSettingsState, "save_payment_settings", lambda bad: (bad,)),
    (AdminPaymentSettingsState, "save_payment_settings", lambda bad: ({"enabled": "on", "instructions": bad},)),
    (AdminPaymentSettingsState, "upload_qr", lambda bad: (bad,)),
]


def _actually_valid(handler: str, args: tuple) -> bool:
    """Some entries of BAD_VALUES are fine for some fields ('' = all statuses, 0 days, a bool switch)."""
    (arg,) = args
    if handler == "filter_orders":
        return arg == ""
    if handler == "search_orders" and isinstance(arg, dict):
        fields = {k: arg.get(k, "") for k in ("status", "channel", "date_from", "date_to", "q")}
        return all(v == "" or (k == "q" and isinstance(v, str) and len(" ".join(v.split())) <= 60)
                   for k, v in fields.items())
    if handler == "goto_orders_page":
        return valid_id(arg) is not None and valid_id(arg) <= 10_000
    if handler == "save_policy" and isinstance(arg, dict):
        days, auto = arg.get("within_days"), arg.get("auto_approve")
        return (days == 0 and not isinstance(days, bool)) or isinstance(auto, bool) or auto == ""
    if handler == "save_payment_settings" and isinstance(arg, dict):
        text = arg.get("instructions")
        return isinstance(text, str) and len(text.strip()) <= 500
    return False


async def test_wrong_types_get_a_clear_message_and_change_nothing(engine, shop):
    cookie = cookie_for(engine, shop["owner"])
    before = snapshot(engine)
    generic = t("error.generic")
    for cls, handler, make_args in BAD_ARG_CALLS:
        for bad in BAD_VALUES:
            args = make_args(bad)
            if _actually_valid(handler, args):
                continue
            state = make_state(cls, cookie=cookie)
            result = await call(state, handler, *args)
            assert result is None
            assert state.error and state.error not in (FORBIDDEN, generic), (handler, repr(bad)[:40], state.error)
            assert not state.success, (handler, repr(bad)[:40])
    assert snapshot(engine) == before


@pytest.mark.parametrize("reason", ["", "   ", "长" * 201, None, ["x"], {"a": 1}])
async def test_reject_needs_a_reason(engine, shop, reason):
    cookie = cookie_for(engine, shop["owner"])
    before = snapshot(engine)
    state = make_state(AdminRefundsState, cookie=cookie)
    await call(state, "reject_refund", {"refund_id": str(shop["refund_id"]), "reason": reason})
    assert state.error in (t("admin.reason_length", min=1, max=200),)
    state = make_state(AdminManualState, cookie=cookie)
    await call(state, "reject_manual", {"manual_payment_id": str(shop["mp_id"]), "reason": reason})
    assert state.error == t("admin.reason_length", min=1, max=200)
    assert snapshot(engine) == before


@pytest.mark.parametrize("field,value,key", [
    ("within_days", "366", "admin.policy.days_invalid"),
    ("within_days", "-1", "admin.policy.days_invalid"),
    ("max_progress_pct", "101", "admin.policy.progress_invalid"),
    ("max_progress_pct", "1e2", "admin.policy.progress_invalid"),
    ("request_window_days", "3651", "admin.policy.window_invalid"),
])
async def test_policy_ranges(engine, shop, field, value, key):
    form = {"auto_approve": "on", "within_days": "7", "max_progress_pct": "20", "request_window_days": "30",
            field: value}
    before = snapshot(engine)
    state = make_state(AdminRefundsState, cookie=cookie_for(engine, shop["owner"]))
    await call(state, "save_policy", form)
    assert state.error == t(key)
    assert snapshot(engine) == before


async def test_unknown_ids_say_so(engine, shop):
    cookie = cookie_for(engine, shop["owner"])
    state = make_state(AdminRefundsState, cookie=cookie)
    await call(state, "approve_refund", "999999")
    assert state.error == t("refund.not_found")
    state = make_state(AdminManualState, cookie=cookie)
    await call(state, "confirm_manual", 999999)
    assert state.error == t("error.not_found")


# ---------------------------------------------------------------------------------- the owner's work

async def test_dashboard_and_orders(engine, shop):
    cookie = cookie_for(engine, shop["staff"])
    home = make_state(DashboardHomeState, cookie=cookie)  # the /admin page
    await call(home, "load_dashboard_home")
    # the queues it links to: two refunds wait for the owner (one to review, one to settle by hand)
    # and one transfer to confirm
    assert home.allowed and (home.pending_refunds, home.pending_manual) == (2, 1)

    orders = make_state(AdminOrdersState, cookie=cookie)
    await call(orders, "load_orders")
    assert {o["order_no"] for o in orders.orders} == {shop["order_no"], shop["manual_order"], shop["twice_order"]}
    row = next(o for o in orders.orders if o["order_no"] == shop["order_no"])
    assert row["status"] == "refunding" and row["channel"] == "sandbox" and row["total"] == "¥30.00"
    assert row["learner"] and set(row) == {"order_no", "href", "learner", "contact", "titles", "total", "status",
                                           "channel", "date"}
    assert row["href"] == f"/admin/orders/{shop['order_no']}"
    await call(orders, "filter_orders", "pending")
    assert [o["order_no"] for o in orders.orders] == [shop["manual_order"]]
    assert orders.status_filter == "pending"
    await call(orders, "filter_orders", "")
    assert len(orders.orders) == 3


async def test_refund_queue_approve(engine, shop):
    state = make_state(AdminRefundsState, cookie=cookie_for(engine, shop["owner"]))
    await call(state, "load_refunds")
    assert state.allowed and state.is_owner
    (row,) = state.refunds
    assert row["id"] == str(shop["refund_id"]) and row["amount"] == "¥30.00" and row["reason"] == "不想学了"
    assert row["policy_outcome"] == "review"
    assert row["consumed"] == "已播放 00:00 / 00:00（0%）· 学习进度 0%"  # served media beside progress
    assert (state.policy_auto, state.policy_days, state.policy_progress) == (False, "7", "20")
    await call(state, "approve_refund", row["id"])
    assert state.success.startswith("已同意") and state.refunds == [] and state.section == "queue"
    with Session(engine) as s:
        assert s.get(Refund, shop["refund_id"]).status == "succeeded"
        assert active_grants(s, shop["learner"]) == []
    await call(state, "approve_refund", row["id"])  # a second click
    assert state.error == t("refund.already_decided")


async def test_refund_waiting_for_the_owner_is_shown_and_refunded_by_hand(engine, shop):
    """A second transfer for a paid order: the queue shows it with its reason and attempts; one
    click records it refunded by hand (once), and the learner is told."""
    state = make_state(AdminRefundsState, cookie=cookie_for(engine, shop["staff"]))
    await call(state, "load_refunds")
    (row,) = state.in_flight
    assert row["id"] == str(shop["attention_id"]) and row["status"] == "attention"
    assert (row["kind"], row["channel"], row["amount"], row["attempts"]) == ("extra", "manual", "¥8.00", "1")
    assert row["reason"] == t("admin.refunds.why.manual_channel") and row["can_retry"] == ""
    assert row["status_text"] == t("refund.status.attention")
    await call(state, "retry_refund", row["id"])  # a transfer cannot be sent again by the app
    assert state.error == t("refund.by_hand_only")
    await call(state, "mark_refunded_by_hand", row["id"])
    assert state.success == t("admin.refunds.marked_by_hand") and state.in_flight == []
    await call(state, "mark_refunded_by_hand", row["id"])  # a second click
    assert state.error == t("refund.not_waiting")
    with Session(engine) as s:
        refund = s.get(Refund, shop["attention_id"])
        assert (refund.status, refund.provider_refund_id) == ("succeeded", "by_hand")
        assert s.exec(select(Order.status).where(Order.out_trade_no == shop["twice_order"])).one() == "paid"
        assert len(active_grants(s, shop["twice"])) == 1  # the paid order keeps its access
        titles = [m.title for m in messages_of(s, shop["twice"], "refund_result")]
        assert titles == [t("msg.extra_payment_duplicate.title"), t("msg.extra_payment_refunded.title")]


async def test_refund_queue_reject_as_staff(engine, shop):
    state = make_state(AdminRefundsState, cookie=cookie_for(engine, shop["staff"]))
    await call(state, "load_refunds")
    assert state.allowed and not state.is_owner
    await call(state, "reject_refund", {"refund_id": str(shop["refund_id"]), "reason": "  已学完大部分  "})
    assert state.success == t("admin.refunds.rejected")
    with Session(engine) as s:
        refund = s.get(Refund, shop["refund_id"])
        assert (refund.status, refund.decision_reason) == ("rejected", "已学完大部分")
        assert len(active_grants(s, shop["learner"])) == 2


async def test_policy_save_owner_only(engine, shop):
    form = {"auto_approve": "on", "within_days": "3", "max_progress_pct": "10", "request_window_days": "15"}
    staff = make_state(AdminRefundsState, cookie=cookie_for(engine, shop["staff"]))
    before = snapshot(engine)
    await call(staff, "save_policy", form)
    assert staff.error == t("admin.owner_only")
    assert snapshot(engine) == before

    owner = make_state(AdminRefundsState, cookie=cookie_for(engine, shop["owner"]))
    await call(owner, "save_policy", form)
    assert owner.success == t("admin.policy.saved")
    with Session(engine) as s:
        assert refunds.get_refund_policy(s) == refunds.PolicyView(True, 3, 10, 15)
    await call(owner, "save_policy", {"within_days": "0", "max_progress_pct": "0", "request_window_days": "0"})
    with Session(engine) as s:  # an unchecked switch is absent from the form: off
        assert refunds.get_refund_policy(s) == refunds.PolicyView(False, 0, 0, 0)


async def test_manual_queue_confirm_grants_access(engine, shop):
    state = make_state(AdminManualState, cookie=cookie_for(engine, shop["owner"]))
    await call(state, "load_manual")
    (row,) = state.payments
    assert row["proof_url"] == f"/api/admin/manual-proof/{shop['mp_id']}"
    assert row["reference"] == "尾号 1234" and row["amount"] == "¥66.00"
    assert "/api/public" not in str(state.payments)
    await call(state, "confirm_manual", row["id"])
    assert state.success == t("admin.manual.confirmed") and state.payments == []
    with Session(engine) as s:
        assert [g.course_id for g in active_grants(s, shop["buyer"])] == [shop["manual_course"]]


async def test_manual_queue_reject(engine, shop):
    state = make_state(AdminManualState, cookie=cookie_for(engine, shop["staff"]))
    await call(state, "load_manual")
    await call(state, "reject_manual", {"manual_payment_id": str(shop["mp_id"]), "reason": "金额不符"})
    assert state.success == t("admin.manual.rejected")
    with Session(engine) as s:
        mp = s.get(ManualPayment, shop["mp_id"])
        assert (mp.status, mp.reject_reason) == ("rejected", "金额不符")
        assert active_grants(s, shop["buyer"]) == []


async def test_payment_settings(engine, shop):
    state = make_state(AdminPaymentSettingsState, cookie=cookie_for(engine, shop["owner"]))
    await call(state, "load_payment_settings")
    assert state.manual_enabled and state.instructions == "备注订单号" and state.qr_url.startswith("/api/public/payqr/")
    old_qr = state.qr_url
    await call(state, "upload_qr", [rx.UploadFile(file=io.BytesIO(png_bytes((5, 200, 5))))])
    assert state.success == t("admin.settings.qr_saved") and state.qr_url != old_qr
    assert state.manual_enabled and state.instructions == "备注订单号"  # unchanged by the upload
    await call(state, "upload_qr", [rx.UploadFile(file=io.BytesIO(b"<svg onload=alert(1)>"))])
    assert state.error == t("manual.not_image")
    await call(state, "save_payment_settings", {"instructions": "  转账请备注订单号  "})
    assert state.success == t("admin.settings.saved") and not state.manual_enabled
    with Session(engine) as s:
        assert manual_pay.get_manual_settings(s).instructions == "转账请备注订单号"
    await call(state, "save_payment_settings", {"enabled": "on", "instructions": "x" * 501})
    assert state.error == t("admin.settings.instructions_invalid")
    staff = make_state(AdminPaymentSettingsState, cookie=cookie_for(engine, shop["staff"]))
    before = snapshot(engine)
    await call(staff, "save_payment_settings", {"enabled": "on", "instructions": "staff"})
    assert staff.error == t("admin.owner_only")
    await call(staff, "upload_qr", [rx.UploadFile(file=io.BytesIO(png_bytes()))])
    assert staff.error == t("admin.owner_only")
    assert snapshot(engine) == before

"""Learner-side shop states called directly, as a hostile browser could: wrong types, huge strings,
negative/huge ids, other users' order numbers, no session. Each gets a clear message and the
database does not change. Services run on SQLite; the sandbox channel is the demo default.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlmodel import Session, func, select
from starlette.datastructures import UploadFile

import coursemall.pages  # noqa: F401  (registers every state)
from coursemall.models import CartItem, Entitlement, ManualPayment, Message, Order, Payment, Refund
from coursemall.services.commerce import payments
from coursemall.state.catalog.storefront import CourseState
from coursemall.state.commerce.shop import (
    BuyState,
    CartState,
    MessageCenterState,
    MyOrdersState,
    OrderState,
    SandboxCashierState,
)
from tests.payments.factories import order_row
from tests.state.commerce.helpers import EXPECTED, new_order, status_of
from tests.state.helpers import call, tab_state

BAD_IDS = [None, 0, -1, 2**31, 2**63, True, 1.5, "1e3", "-3", "x" * 100_000, ["1"], {"id": 1}]
BAD_VALUES = [None, 42, True, ["pay"], {"nested": {"x": 1}}, "x" * 100_000]
PHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1"


@pytest.mark.parametrize("cls", list(EXPECTED), ids=lambda c: c.__name__)
def test_exact_event_handlers(cls):
    assert set(cls.event_handlers) - {"setvar"} == EXPECTED[cls]


def make_state(cls, cookie: str = "", path: str = "/", route: str = "/", params: dict | None = None):
    return tab_state(cls, cookie=cookie, ua=PHONE_UA, route=route, path=path, params=params)


def order_state(shop, who: str, order_no: object, cls=OrderState):
    route = "/order/[order_no]" if cls is OrderState else "/pay/sandbox/[order_no]"
    return make_state(cls, shop["cookie"][shop[who]], path=f"/order/{order_no}", route=route,
                      params={"order_no": order_no})


def counts(engine) -> dict[str, int]:
    with Session(engine) as s:
        return {m.__name__: s.exec(select(func.count()).select_from(m)).one()
                for m in (CartItem, Order, Payment, Refund, Entitlement, ManualPayment)}


# ---------------------------------------------------------------------------- course buy bar

@pytest.mark.parametrize("bad", BAD_IDS)
async def test_add_to_cart_bad_ids(engine, shop, bad):
    before = counts(engine)
    st = make_state(BuyState, shop["cookie"][shop["alice"]])
    assert await call(st, "add_to_cart", "course", bad) is None
    assert st.error == "请求参数无效" and not st.success
    assert counts(engine) == before


@pytest.mark.parametrize("bad", BAD_VALUES + ["membership", "COURSE", ""])
async def test_buy_now_bad_item_types(engine, shop, bad):
    before = counts(engine)
    st = make_state(BuyState, shop["cookie"][shop["alice"]])
    assert await call(st, "buy_now", bad, shop["c1"]) is None
    assert st.error == "请求参数无效"
    assert counts(engine) == before


async def test_unknown_course_is_a_clear_message(engine, shop):
    st = make_state(BuyState, shop["cookie"][shop["alice"]])
    await call(st, "add_to_cart", "course", 999_999)
    assert st.error == "该商品已下架或不存在"
    assert counts(engine)["CartItem"] == 0


async def test_signed_out_is_sent_to_sign_in_with_next(engine, shop):
    st = make_state(BuyState)
    result = await call(st, "add_to_cart", "course", shop["c1"])
    assert "/login?next=%2Fcourse%2F" in str(result)
    result = await call(st, "buy_now", "course", str(shop["c1"]))
    assert "/login?next=%2Fcourse%2F" in str(result)
    assert counts(engine)["CartItem"] == 0 and counts(engine)["Order"] == 0


async def test_add_then_buy_now_and_free_claim(engine, shop):
    st = make_state(BuyState, shop["cookie"][shop["alice"]])
    await call(st, "add_to_cart", "course", str(shop["c1"]))
    assert st.success == "已加入购物车" and counts(engine)["CartItem"] == 1
    result = await call(st, "buy_now", "course", shop["c2"])
    assert "/order/CM" in str(result)
    result = await call(st, "buy_now", "course", shop["free"])
    assert result is CourseState.load and st.success  # the course page reloads: owned now
    assert counts(engine)["Entitlement"] == 1
    await call(st, "buy_now", "course", shop["free"])
    assert st.error == "你已拥有该课程，无需重复购买"


# ---------------------------------------------------------------------------- cart

@pytest.mark.parametrize("bad", BAD_IDS)
async def test_cart_remove_bad_ids(engine, shop, bad):
    new_cart = make_state(BuyState, shop["cookie"][shop["alice"]])
    await call(new_cart, "add_to_cart", "course", shop["c1"])
    before = counts(engine)
    st = make_state(CartState, shop["cookie"][shop["alice"]])
    await call(st, "remove_item", "course", bad)
    assert st.error == "请求参数无效"
    assert counts(engine) == before


async def test_cart_load_remove_and_checkout(engine, shop):
    buy = make_state(BuyState, shop["cookie"][shop["alice"]])
    await call(buy, "add_to_cart", "course", shop["c1"])
    await call(buy, "add_to_cart", "course", shop["c2"])
    st = make_state(CartState, shop["cookie"][shop["alice"]])
    await call(st, "load_cart")
    assert st.count == 2 and st.total == "¥148.00"
    assert all(isinstance(v, str) for line in st.lines for v in line.values())
    # Bob removing Alice's item removes nothing of Alice's.
    bob = make_state(CartState, shop["cookie"][shop["bob"]])
    await call(bob, "remove_item", "course", str(shop["c1"]))
    assert counts(engine)["CartItem"] == 2
    await call(st, "remove_item", "course", str(shop["c2"]))
    assert st.count == 1 and st.total == "¥99.00"
    result = await call(st, "checkout")
    assert "/order/CM" in str(result)
    assert counts(engine)["CartItem"] == 0 and counts(engine)["Order"] == 1
    await call(st, "checkout")
    assert st.error == "没有可结算的商品" and counts(engine)["Order"] == 1


async def test_cart_signed_out(engine, shop):
    st = make_state(CartState)
    assert "/login" in str(await call(st, "load_cart"))
    await call(st, "remove_item", "course", shop["c1"])
    assert st.error == "请先登录"


# ---------------------------------------------------------------------------- order page

@pytest.mark.parametrize("bad", ["", "../../etc", "x" * 10_000, "CM2025<script>", "a b c d e f g h"])
async def test_order_load_bad_route_param(engine, shop, bad):
    st = order_state(shop, "alice", bad)
    await call(st, "load_order")
    assert st.not_found and st.error == "订单不存在" and st.lines == []


async def test_order_of_another_user_is_not_found(engine, shop):
    order_no = new_order(engine, shop, "alice")
    before = counts(engine)
    st = order_state(shop, "bob", order_no)
    await call(st, "load_order")
    assert st.not_found and st.error == "订单不存在" and st.total == ""
    await call(st, "pay", {"channel": "sandbox"})
    assert st.error == "订单不存在"
    await call(st, "cancel_order")
    assert st.error == "订单不存在"
    await call(st, "request_refund", {"reason": "x", "line-1": "on"})
    assert st.error  # bob never loaded refundable lines
    cashier = order_state(shop, "bob", order_no, SandboxCashierState)
    await call(cashier, "load_cashier")
    assert cashier.error == "订单不存在" and not cashier.payable
    await call(cashier, "decide", "pay")
    assert cashier.error == "订单不存在"
    assert status_of(engine, order_no) == "pending" and counts(engine) == before


async def test_order_load_shows_pending_order(engine, shop):
    order_no = new_order(engine, shop, "alice", ("c1", "c2"))
    st = order_state(shop, "alice", order_no)
    await call(st, "load_order")
    assert st.status == "pending" and st.status_text == "待支付" and st.total == "¥148.00"
    assert st.can_pay and st.can_cancel and not st.can_refund and st.expires_text
    assert [c["name"] for c in st.channels] == ["sandbox"]  # manual needs the owner's QR first
    assert st.test_mode and st.default_channel == "sandbox"
    assert all(isinstance(v, str) for line in st.lines for v in line.values())


@pytest.mark.parametrize("bad", BAD_VALUES + [{"channel": "free"}, {"channel": ["sandbox"]},
                                               {"channel": "x" * 100_000}, {"channel": "alipay"},
                                               {"channel": None}, {}])
async def test_pay_bad_payload(engine, shop, bad):
    order_no = new_order(engine, shop)
    before = counts(engine)
    st = order_state(shop, "alice", order_no)
    assert await call(st, "pay", bad) is None
    assert st.error in ("该支付方式暂不可用", "请求参数无效")
    with Session(engine) as s:
        row = order_row(s, order_no)
        assert row.status == "pending" and row.channel == ""
    assert counts(engine) == before


async def test_pay_sandbox_redirects_to_the_cashier_then_pay(engine, shop):
    order_no = new_order(engine, shop)
    st = order_state(shop, "alice", order_no)
    await call(st, "load_order")
    result = await call(st, "pay", {"channel": "sandbox", "price": 1, "amount_fen": 1})
    assert f"/pay/sandbox/{order_no}" in str(result) and st.error == ""
    cashier = order_state(shop, "alice", order_no, SandboxCashierState)
    await call(cashier, "load_cashier")
    assert cashier.payable and cashier.total == "¥99.00" and cashier.shop_name
    for bad in BAD_VALUES + ["PAY", "refund"]:
        await call(cashier, "decide", bad)
        assert cashier.error == "请求参数无效"
    assert status_of(engine, order_no) == "pending"
    result = await call(cashier, "decide", "pay")
    assert f"/order/{order_no}" in str(result)
    assert status_of(engine, order_no) == "paid"
    await call(st, "load_order")
    assert st.status_text == "已支付" and st.can_refund and not st.can_pay
    assert [ln["learn"] for ln in st.lines] == ["1"]
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Message)).one() == 1


async def test_cancel_order(engine, shop):
    order_no = new_order(engine, shop)
    st = order_state(shop, "alice", order_no)
    await call(st, "cancel_order")
    assert st.success == "订单已取消" and st.status == "closed"
    await call(st, "cancel_order")
    assert st.error == "该订单不能取消"


async def _paid_order(engine, shop, courses=("c1", "c2")) -> tuple[str, OrderState]:
    order_no = new_order(engine, shop, "alice", courses)
    cashier = order_state(shop, "alice", order_no, SandboxCashierState)
    await call(cashier, "decide", "pay")
    st = order_state(shop, "alice", order_no)
    await call(st, "load_order")
    assert st.status == "paid"
    return order_no, st


@pytest.mark.parametrize("bad", BAD_VALUES + [
    {"reason": "ok"},  # no line chosen
    {"reason": ["x"], "line-1": "on"},
    {"reason": "", "LINES": "all"},
    {"reason": "x" * 100_000, "line-1": "on"},
    {"reason": "ok", "line-999999": "on"},  # not a line of this order
    {"reason": "ok", "line--1": "on", "line-0": "on"},
])
async def test_refund_bad_payload(engine, shop, bad):
    order_no, st = await _paid_order(engine, shop)
    before = counts(engine)
    assert await call(st, "request_refund", bad) is None
    assert st.error and not st.success
    assert status_of(engine, order_no) == "paid" and counts(engine) == before


async def test_refund_empty_reason_and_lines_of_another_order(engine, shop):
    order_no, st = await _paid_order(engine, shop)
    line = st.lines[0]["id"]
    await call(st, "request_refund", {"reason": "   ", f"line-{line}": "on"})
    assert st.error == "请填写 1–200 字的原因"
    # Bob's order line ids are not in Alice's page list.
    bob_no = new_order(engine, shop, "bob", ("c1",))
    with Session(engine) as s:
        from coursemall.models import OrderLine

        bob_line = s.exec(select(OrderLine.id).join(Order, Order.id == OrderLine.order_id)
                          .where(Order.out_trade_no == bob_no)).one()
    await call(st, "request_refund", {"reason": "ok", f"line-{bob_line}": "on"})
    assert st.error == "请选择可退款的商品"
    assert counts(engine)["Refund"] == 0 and status_of(engine, order_no) == "paid"


async def test_refund_one_line_then_the_rest(engine, shop):
    order_no, st = await _paid_order(engine, shop)
    first = st.lines[0]["id"]
    await call(st, "request_refund", {"reason": "买错了", f"line-{first}": "on", "refund-reason": "买错了"})
    assert st.success.startswith("退款申请已提交") and st.status == "partially_refunded"
    assert st.lines[0]["refund"] == "已退款" and st.lines[0]["learn"] == ""
    assert len(st.refunds) == 1 and st.refunds[0]["status"] == "退款成功"
    second = st.lines[1]["id"]
    await call(st, "request_refund", {"reason": "不想学了", f"line-{first}": "on", f"line-{second}": "on"})
    assert st.error == "请选择可退款的商品"  # the first line is refunded already
    await call(st, "request_refund", {"reason": "不想学了", f"line-{second}": "on"})
    assert st.status == "refunded" and st.status_text == "已退款" and not st.can_refund
    with Session(engine) as s:
        active = s.exec(select(Entitlement).where(Entitlement.revoked_at.is_(None))).all()
    assert active == []


@pytest.mark.parametrize("bad", [None, [], ["not a file"], [{"filename": "x.png"}], "file", {"a": 1}])
async def test_submit_proof_bad_files(engine, shop, bad):
    order_no = new_order(engine, shop)
    st = order_state(shop, "alice", order_no)
    await call(st, "edit_proof_reference", "123456")
    assert await call(st, "submit_proof", bad) is None
    assert st.error == "请先选择付款截图"
    assert counts(engine)["ManualPayment"] == 0


async def test_submit_proof_checks_reference_and_channel(engine, shop):
    order_no = new_order(engine, shop)
    st = order_state(shop, "alice", order_no)
    buf = io.BytesIO()
    Image.new("RGB", (20, 20), "white").save(buf, format="PNG")
    upload = UploadFile(io.BytesIO(buf.getvalue()), filename="proof.png")
    for bad in BAD_VALUES:
        await call(st, "edit_proof_reference", bad)
    assert st.proof_reference == ""
    await call(st, "submit_proof", [upload])
    assert st.error == "请填写 1–64 字的付款备注"
    await call(st, "edit_proof_reference", "尾号 1234")
    await call(st, "submit_proof", [upload])
    assert st.error == "该支付方式暂不可用"  # the owner has not set up manual transfer
    assert counts(engine)["ManualPayment"] == 0


# ---------------------------------------------------------------------------- orders, messages

async def test_my_orders_lists_only_mine_and_filters(engine, shop):
    mine = new_order(engine, shop, "alice")
    new_order(engine, shop, "bob")
    st = make_state(MyOrdersState, shop["cookie"][shop["alice"]], path="/orders?status=pending",
                    route="/orders", params={"status": "pending"})
    await call(st, "load_orders")
    assert [o["no"] for o in st.orders] == [mine] and st.status_filter == "pending"
    st = make_state(MyOrdersState, shop["cookie"][shop["alice"]], path="/orders?status=x",
                    route="/orders", params={"status": "'; DROP TABLE orders; --"})
    await call(st, "load_orders")
    assert [o["no"] for o in st.orders] == [mine] and st.status_filter == ""
    assert "/login" in str(await call(make_state(MyOrdersState), "load_orders"))


async def test_messages_read_all_only_touches_mine(engine, shop):
    await _paid_order(engine, shop, ("c1",))
    bob_no = new_order(engine, shop, "bob", ("c2",))
    bob_cashier = order_state(shop, "bob", bob_no, SandboxCashierState)
    await call(bob_cashier, "decide", "pay")
    st = make_state(MessageCenterState, shop["cookie"][shop["alice"]])
    await call(st, "load_messages")
    assert len(st.items) == 1 and st.items[0]["unread"] == "1" and st.items[0]["title"] == "支付成功"
    await call(st, "read_all")
    assert st.items[0]["unread"] == "" and st.success == "已全部标为已读" and st.unread_count == 0
    with Session(engine) as s:
        unread = s.exec(select(Message).where(Message.read_at.is_(None))).all()
    assert [m.user_id for m in unread] == [shop["bob"]]
    guest = make_state(MessageCenterState)
    await call(guest, "read_all")
    assert guest.error == "请先登录"


async def test_header_unread_count_loads_with_the_viewer(engine, shop):
    await _paid_order(engine, shop, ("c1",))
    from coursemall.state.base import AppState

    st = make_state(AppState, shop["cookie"][shop["alice"]])
    await call(st, "load_viewer")
    assert st.signed_in and st.unread_count == 1
    guest = make_state(AppState)
    await call(guest, "load_viewer")
    assert guest.unread_count == 0


async def test_the_cashier_refuses_an_order_started_on_another_channel(engine, shop):
    from sqlalchemy import update

    order_no = new_order(engine, shop)
    with Session(engine) as s:  # the learner started paying with Alipay
        s.execute(update(Order).where(Order.out_trade_no == order_no).values(channel="alipay"))
        s.commit()
    cashier = order_state(shop, "alice", order_no, SandboxCashierState)
    await call(cashier, "load_cashier")
    assert not cashier.payable and cashier.error == "该订单已选择其他支付方式，不能在此支付"
    await call(cashier, "decide", "pay")
    assert cashier.error == "该订单已选择其他支付方式，不能在此支付"
    assert status_of(engine, order_no) == "pending"


async def test_the_order_page_shows_a_second_payment_and_its_return(engine, shop):
    from coursemall.services.commerce import refunds

    order_no, st = await _paid_order(engine, shop, courses=("c2",))
    with Session(engine) as s:  # the sandbox gateway reports a second, different payment
        assert payments.apply_paid(s, channel="sandbox", out_trade_no=order_no, provider_txn_id="SB-second",
                                   amount_fen=4900).outcome == "duplicate_payment"
    await call(st, "load_order")
    (row,) = st.extra_payments
    assert row["text"] == "订单已支付后又收到一笔 ¥49.00（沙箱支付（测试模式）），这笔重复付款会原路退回给你。"
    assert (row["status_key"], row["status"]) == ("approved", "等待退回")
    assert st.refunds == [] and st.can_refund  # the order itself is untouched
    with Session(engine) as s:
        refunds.process_refunds(s)
    await call(st, "load_order")
    assert [(r["status_key"], r["status"]) for r in st.extra_payments] == [("succeeded", "已退回")]

"""Plain helpers of the commerce state tests (their `shop` fixture is in conftest.py here)."""

from __future__ import annotations

from sqlmodel import Session

from coursemall.services.commerce import cart, checkout
from coursemall.state.commerce import shop as states
from tests.payments.factories import order_row

# The remote endpoints of the learner-side shop states, exactly.
EXPECTED = {
    states.BuyState: {"add_to_cart", "buy_now", "clear_message"},
    states.CartState: {"load_cart", "remove_item", "checkout"},
    states.OrderState: {"load_order", "pay", "cancel_order", "edit_proof_reference", "submit_proof",
                 "request_refund"},
    states.SandboxCashierState: {"load_cashier", "decide"},
    states.MyOrdersState: {"load_orders"},
    states.MessageCenterState: {"load_messages", "read_all"},
}


def new_order(engine, shop, who="alice", courses=("c1",)) -> str:
    with Session(engine, expire_on_commit=False) as s:
        for c in courses:
            cart.add_to_cart(s, actor_id=shop[who], item_type="course", item_id=shop[c])
        view = checkout.checkout_cart(s, actor_id=shop[who], client_kind="mobile")
        s.commit()
    return view.out_trade_no


def status_of(engine, order_no: str) -> str:
    with Session(engine) as s:
        return order_row(s, order_no).status

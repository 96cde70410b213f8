"""Checkout and the learner's orders.

- Nothing is sold while the shop is not open (services/shop/setup.py: a production shop before its
  owner's one-time setup): `checkout_cart`, `buy_now` and `start_payment` refuse first.
- `checkout_cart` / `buy_now` create an Order (random `out_trade_no`) whose lines snapshot title
  and prices from the database; the client passes ids only. Items whose courses overlap (a
  course and a bundle containing it) are refused, so nobody pays twice for one course. A total of
  0 completes at once as a free order (same exactly-once fulfilment, channel `free`).
- `start_payment` picks an enabled channel, binds the order to it and asks it for the next step
  (PayAction). Only the bound channel can complete the order (`services.payments`). Switching
  channel before paying moves the binding by compare-and-set, after asking the old gateway
  whether it was paid meanwhile (then the payment is applied and the switch refused), and closes
  the old gateway trade. It makes gateway calls (WeChat unified order): call it off the event loop.
- `cancel_order` closes an unpaid order (CAS pending→closed); expiry is `jobs.orders`.
- `refresh_order_status` is what the return page calls: when the order is still pending on a
  real channel it queries the gateway and applies a confirmed payment through `apply_paid`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, update
from sqlmodel import Session, select

from coursemall.domain.errors import DomainError
from coursemall.domain.money import format_fen
from coursemall.domain.orders import (
    Channel,
    ClientKind,
    EventKind,
    ItemType,
    LineRefund,
    ManualStatus,
    OrderStatus,
    PaymentRole,
    PricedItem,
    parse_enum,
    parse_order_no,
    price_lines,
)
from coursemall.domain.validation import parse_id
from coursemall.models import (
    CartItem,
    ManualPayment,
    Order,
    OrderLine,
    Payment,
    Refund,
    ShopPaymentSetting,
    utcnow,
)
from coursemall.payments import registry
from coursemall.payments.base import ChannelError
from coursemall.services.actors import require_actor, require_staff
from coursemall.services.commerce.orders import new_out_trade_no, order_ref, own_order
from coursemall.services.commerce.cart import cart_items, check_not_owned, resolve_item
from coursemall.services.commerce.payments import _close_order, apply_paid, fulfil_free_order
from coursemall.services.shop.setup import require_shop_open
from coursemall.settings import get_settings

log = logging.getLogger("coursemall.checkout")
MAX_PENDING_ORDERS = 10
GATEWAY_CHANNELS = (Channel.ALIPAY, Channel.WECHAT)


@dataclass(frozen=True)
class OrderLineView:
    id: int
    item_type: str
    item_id: int
    title: str
    unit_price_fen: int
    price: str
    original_price_fen: int
    refund_status: str


@dataclass(frozen=True)
class ExtraPaymentView:
    """A payment that did not pay the order (a second payment, or one through a channel the
    order was not started on) and how its return is going."""

    channel: str
    amount: str
    role: str  # domain.orders.PaymentRole
    paid_at: datetime
    refund_status: str  # domain.orders.RefundStatus of the refund returning it ('' = none yet)
    refunded_at: datetime | None


@dataclass(frozen=True)
class OrderView:
    out_trade_no: str
    status: str
    channel: str
    total_fen: int
    total: str
    refunded_fen: int
    created_at: datetime
    expires_at: datetime
    paid_at: datetime | None
    closed_at: datetime | None
    lines: tuple[OrderLineView, ...]
    can_pay: bool
    can_cancel: bool
    can_refund: bool
    extra_payments: tuple[ExtraPaymentView, ...] = ()


@dataclass(frozen=True)
class PayActionView:
    kind: str
    channel: str
    url: str
    qr_png: str
    params: dict
    test_mode: bool
    order_status: str


def order_view(session: Session, order: Order, *, now: datetime | None = None) -> OrderView:
    now = now or utcnow()
    lines = session.exec(select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.id)).all()
    pending = order.status == OrderStatus.PENDING
    return OrderView(
        out_trade_no=order.out_trade_no, status=order.status, channel=order.channel, total_fen=order.total_fen,
        total=format_fen(order.total_fen), refunded_fen=order.refunded_fen, created_at=order.created_at,
        expires_at=order.expires_at, paid_at=order.paid_at, closed_at=order.closed_at,
        lines=tuple(OrderLineView(ln.id or 0, ln.item_type, ln.item_id, ln.title, ln.unit_price_fen,
                                  format_fen(ln.unit_price_fen), ln.original_price_fen, ln.refund_status)
                    for ln in lines),
        can_pay=pending and order.expires_at > now,
        can_cancel=pending,
        can_refund=order.status in (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED) and order.total_fen > 0
        and any(ln.refund_status == LineRefund.NONE for ln in lines),
        extra_payments=extra_payments(session, order.id),
    )


def extra_payments(session: Session, order_id: int) -> tuple[ExtraPaymentView, ...]:
    rows = session.exec(select(Payment, Refund).join(Refund, Refund.payment_id == Payment.id, isouter=True)
                        .where(Payment.order_id == order_id, Payment.role != PaymentRole.APPLIED)
                        .order_by(Payment.id)).all()
    return tuple(ExtraPaymentView(channel=p.channel, amount=format_fen(p.amount_fen), role=p.role, paid_at=p.paid_at,
                                  refund_status=r.status if r else "", refunded_at=r.completed_at if r else None)
                 for p, r in rows)


# ---------------------------------------------------------------------------------- create

def _create_order(session: Session, user_id: int, items: list[PricedItem], client_kind: str) -> Order:
    if not items:
        raise DomainError("checkout.empty")
    all_courses = [c for item in items for c in item.course_ids]
    if len(all_courses) != len(set(all_courses)):
        raise DomainError("checkout.overlap")
    pending = session.exec(select(func.count()).select_from(Order).where(
        Order.user_id == user_id, Order.status == OrderStatus.PENDING, Order.expires_at > utcnow())).one()
    if pending >= MAX_PENDING_ORDERS:
        raise DomainError("checkout.too_many_pending")
    quote = price_lines(items)
    now = utcnow()
    order = Order(out_trade_no=new_out_trade_no(now), user_id=user_id, status=OrderStatus.PENDING,
                  client_kind=client_kind, total_fen=quote.total_fen, original_total_fen=quote.original_total_fen,
                  created_at=now, expires_at=now + timedelta(minutes=get_settings().order_ttl_minutes))
    session.add(order)
    session.flush()
    for item in items:
        session.add(OrderLine(order_id=order.id, item_type=item.item_type, item_id=item.item_id,
                              title=item.title[:80], unit_price_fen=item.unit_price_fen,
                              original_price_fen=item.original_price_fen, course_ids=list(item.course_ids)))
    return order


def checkout_cart(session: Session, *, actor_id: object, client_kind: object = "desktop") -> OrderView:
    """Turn every purchasable cart item into one order; those items leave the cart."""
    user = require_actor(session, actor_id)
    require_shop_open(session)
    kind = str(parse_enum(ClientKind, client_kind))
    rows = cart_items(session, user.id)
    items = [item for _row, item, _cover, _note in rows if item is not None]
    order = _create_order(session, user.id, items, kind)
    bought = [(item.item_type, item.item_id) for item in items]
    for item_type, item_id in bought:
        session.execute(delete(CartItem).where(CartItem.user_id == user.id, CartItem.item_type == item_type,
                                               CartItem.item_id == item_id))
    session.commit()
    return _finish_create(session, order)


def buy_now(session: Session, *, actor_id: object, item_type: object, item_id: object,
            client_kind: object = "desktop") -> OrderView:
    user = require_actor(session, actor_id)
    require_shop_open(session)
    kind = str(parse_enum(ClientKind, client_kind))
    t = str(parse_enum(ItemType, item_type))
    item, _cover = resolve_item(session, t, parse_id(item_id))
    check_not_owned(session, user.id, item)
    order = _create_order(session, user.id, [item], kind)
    session.commit()
    return _finish_create(session, order)


def _finish_create(session: Session, order: Order) -> OrderView:
    if order.total_fen == 0:
        fulfil_free_order(session, order)
    return order_view(session, session.get(Order, order.id, populate_existing=True))


# ---------------------------------------------------------------------------------- pay

def start_payment(session: Session, *, actor_id: object, order_no: object, channel: object,
                  client_kind: object = None, openid: object = "", client_ip: object = "") -> PayActionView:
    """Choose a channel for the actor's pending order and get what the browser does next."""
    user = require_actor(session, actor_id)
    require_shop_open(session)
    order = own_order(session, user.id, parse_order_no(order_no))
    name = str(parse_enum(Channel, channel))
    if name == Channel.FREE:
        raise DomainError("pay.channel_unavailable")
    kind = order.client_kind if client_kind is None else str(parse_enum(ClientKind, client_kind))
    if not isinstance(openid, str) or len(openid) > 64 or not isinstance(client_ip, str) or len(client_ip) > 45:
        raise DomainError("error.bad_request")
    if order.status != OrderStatus.PENDING:
        raise DomainError("order.not_payable")
    if order.expires_at <= utcnow():
        raise DomainError("order.expired")
    if name == Channel.WECHAT and kind == ClientKind.WECHAT and not openid:
        raise DomainError("pay.openid_required")
    if name == Channel.ALIPAY and kind == ClientKind.WECHAT:
        raise DomainError("pay.open_in_browser")  # WeChat's browser blocks Alipay pages
    adapter = registry.get_channel(name)
    if name == Channel.MANUAL:
        setting = session.get(ShopPaymentSetting, 1)
        if setting is None or not setting.manual_enabled or not setting.manual_qr_image:
            raise DomainError("pay.channel_unavailable")
        from coursemall.services.commerce.manual_pay import manual_pay_action

        action = manual_pay_action(setting, order.out_trade_no)
    else:
        action = None
    previous = order.channel
    if previous != name:
        _check_switch_allowed(session, order)
    moved = session.execute(update(Order).where(Order.id == order.id, Order.status == OrderStatus.PENDING,
                                                Order.channel == previous)
                            .values(channel=name, client_kind=kind, updated_at=utcnow())
                            .execution_options(synchronize_session=False)).rowcount
    session.commit()
    if moved != 1:
        raise DomainError("order.bad_transition")  # paid, closed or switched meanwhile: refresh
    if previous in GATEWAY_CHANNELS and previous != name:
        close_at_channel(order, channel=previous)  # switching channels: the old trade must not be payable
    if action is None:
        ref = order_ref(session.get(Order, order.id, populate_existing=True), subject=_subject(session, order),
                        client_ip=client_ip or "127.0.0.1", openid=openid)
        try:
            action = adapter.create_payment(ref)
        except ChannelError as exc:
            log.warning("start payment %s via %s failed: %s", order.out_trade_no, name, exc)
            raise DomainError("pay.channel_error") from None
    return PayActionView(kind=action.kind, channel=action.channel, url=action.url, qr_png=action.qr_png,
                         params=dict(action.params), test_mode=action.test_mode, order_status=OrderStatus.PENDING)


def _check_switch_allowed(session: Session, order: Order) -> None:
    """Before the binding moves away from a channel: a transfer proof waiting for the owner keeps
    the order on the manual channel; a gateway the learner may already have paid is asked first
    (a payment found there is applied, and the order is no longer payable)."""
    waiting = session.exec(select(ManualPayment.id).where(ManualPayment.order_id == order.id,
                                                          ManualPayment.status == ManualStatus.PENDING)).first()
    if waiting is not None:
        raise DomainError("pay.proof_waiting")
    if order.channel in GATEWAY_CHANNELS and query_and_apply(session, order) == "paid":
        raise DomainError("order.not_payable")


def _subject(session: Session, order: Order) -> str:
    titles = session.exec(select(OrderLine.title).where(OrderLine.order_id == order.id).order_by(OrderLine.id)).all()
    subject = titles[0] if titles else order.out_trade_no
    return subject if len(titles) <= 1 else f"{subject} +{len(titles) - 1}"


def cancel_order(session: Session, *, actor_id: object, order_no: object) -> OrderView:
    """The learner cancels their unpaid order. A payment that still arrives later follows the
    late-payment rule in `domain.orders`."""
    user = require_actor(session, actor_id)
    order = own_order(session, user.id, parse_order_no(order_no))
    if order.status != OrderStatus.PENDING:
        raise DomainError("order.not_cancellable")
    if not _close_order(session, order, reason="cancelled"):
        session.rollback()
        raise DomainError("order.not_cancellable")
    session.commit()
    if order.channel in GATEWAY_CHANNELS:
        close_at_channel(order)
    return order_view(session, session.get(Order, order.id, populate_existing=True))


def close_at_channel(order: Order, *, channel: str | None = None) -> None:
    """Best effort: close the trade at the gateway (default: the order's channel) so the learner
    can no longer pay it. A payment that still arrives there is kept and refunded (off-channel)."""
    name = channel or order.channel
    try:
        registry.get_channel_for_existing(name).close(order_ref(order))
    except (ChannelError, DomainError) as exc:
        log.info("closing %s at %s failed: %s", order.out_trade_no, name, exc)


# ---------------------------------------------------------------------------------- read

def list_my_orders(session: Session, *, actor_id: object, status: object = None, limit: object = 20,
                   offset: object = 0) -> list[OrderView]:
    user = require_actor(session, actor_id)
    query = select(Order).where(Order.user_id == user.id)
    if status is not None:
        query = query.where(Order.status == str(parse_enum(OrderStatus, status)))
    lim = limit if isinstance(limit, int) and not isinstance(limit, bool) and 1 <= limit <= 50 else 20
    off = offset if isinstance(offset, int) and not isinstance(offset, bool) and 0 <= offset <= 100_000 else 0
    rows = session.exec(query.order_by(Order.id.desc()).offset(off).limit(lim)).all()  # type: ignore[union-attr]
    now = utcnow()
    return [order_view(session, o, now=now) for o in rows]


def get_my_order(session: Session, *, actor_id: object, order_no: object) -> OrderView:
    user = require_actor(session, actor_id)
    return order_view(session, own_order(session, user.id, parse_order_no(order_no)))


def refresh_order_status(session: Session, *, actor_id: object, order_no: object) -> OrderView:
    """On the learner's return from the cashier: if still pending on a gateway channel, ask the
    gateway; a confirmed payment goes through `apply_paid` (kind 'query'). Never grants otherwise."""
    user = require_actor(session, actor_id)
    order = own_order(session, user.id, parse_order_no(order_no))
    if order.status == OrderStatus.PENDING and order.channel in GATEWAY_CHANNELS:
        query_and_apply(session, order)
    return order_view(session, session.get(Order, order.id, populate_existing=True))


def query_and_apply(session: Session, order: Order) -> str:
    """Query the order's channel (no transaction open during the call) and apply a payment."""
    session.commit()
    try:
        result = registry.get_channel_for_existing(order.channel).query(order_ref(order))
    except (ChannelError, DomainError) as exc:
        log.info("query %s at %s failed: %s", order.out_trade_no, order.channel, exc)
        return "unknown"
    if result.status == "paid":
        applied = apply_paid(session, channel=order.channel, out_trade_no=order.out_trade_no,
                             provider_txn_id=result.provider_txn_id, amount_fen=result.amount_fen, raw=result.raw,
                             kind=EventKind.QUERY)
        return "paid" if applied.accepted else "refused"  # e.g. the gateway reports another amount
    return result.status


def list_orders(session: Session, *, actor_id: object, status: object = None, limit: object = 50,
                offset: object = 0) -> list[OrderView]:
    """Owner/staff: every order, newest first."""
    require_staff(session, actor_id)
    query = select(Order)
    if status is not None:
        query = query.where(Order.status == str(parse_enum(OrderStatus, status)))
    lim = limit if isinstance(limit, int) and not isinstance(limit, bool) and 1 <= limit <= 200 else 50
    off = offset if isinstance(offset, int) and not isinstance(offset, bool) and 0 <= offset else 0
    rows = session.exec(query.order_by(Order.id.desc()).offset(off).limit(lim)).all()  # type: ignore[union-attr]
    return [order_view(session, o) for o in rows]


def get_order(session: Session, *, actor_id: object, order_no: object) -> OrderView:
    """Owner/staff: any order's detail."""
    require_staff(session, actor_id)
    order = session.exec(select(Order).where(Order.out_trade_no == parse_order_no(order_no))).first()
    if order is None:
        raise DomainError("order.not_found")
    return order_view(session, order)


__all__ = [
    "checkout_cart", "buy_now", "start_payment", "cancel_order", "list_my_orders", "get_my_order",
    "refresh_order_status", "list_orders", "get_order", "OrderView", "PayActionView",
]

"""Helpers shared by the commerce services (cart, checkout, payments, refunds, manual pay).

- actors are resolved and authorised in services/actors.py;
- the order status changes only through `cas_order_status`, which checks the domain transition
  table and applies it as a compare-and-set UPDATE with a row-count check.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, select

from coursemall.domain.errors import DomainError
from coursemall.domain.orders import OrderStatus, check_transition
from coursemall.models import Entitlement, Order, utcnow
from coursemall.payments.base import OrderRef


def cas_order_status(session: Session, order_id: int, old: str, new: str, *, where: tuple = (),
                     **values: object) -> bool:
    """Move order `order_id` from `old` to `new` iff it is still `old` (and every extra `where`
    condition holds, e.g. the channel binding). True when this call won."""
    check_transition(old, new)
    result = session.execute(
        update(Order)
        .where(Order.id == order_id, Order.status == str(old), *where)
        .values(status=str(new), updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def own_order(session: Session, actor_id: int, order_no: str) -> Order:
    """The actor's order by number; another user's order is 'not found' (no existence leak)."""
    # populate_existing: status changes are compare-and-set UPDATEs that bypass the identity map,
    # so an Order already loaded in this session may hold an old status.
    order = session.exec(select(Order).where(Order.out_trade_no == order_no)
                         .execution_options(populate_existing=True)).first()
    if order is None or order.user_id != actor_id:
        raise DomainError("order.not_found")
    return order


def new_out_trade_no(now: datetime | None = None) -> str:
    now = now or utcnow()
    return f"CM{now:%Y%m%d}{secrets.token_hex(8).upper()}"  # 26 chars, 64 random bits


def new_out_refund_no(now: datetime | None = None) -> str:
    now = now or utcnow()
    return f"RF{now:%Y%m%d}{secrets.token_hex(8).upper()}"


def order_ref(order: Order, *, subject: str = "", client_ip: str = "127.0.0.1", openid: str = "",
              provider_txn_id: str = "") -> OrderRef:
    return OrderRef(out_trade_no=order.out_trade_no, total_fen=order.total_fen,
                    subject=subject or f"CourseMall {order.out_trade_no}", client_kind=order.client_kind,
                    client_ip=client_ip, openid=openid, provider_txn_id=provider_txn_id,
                    expires_at=order.expires_at)


def owned_course_ids(session: Session, user_id: int, course_ids: list[int] | set[int],
                     *, now: datetime | None = None) -> set[int]:
    """Which of `course_ids` the user may study now (active entitlement of any source)."""
    if not course_ids:
        return set()
    now = now or utcnow()
    rows = session.exec(
        select(Entitlement.course_id, Entitlement.expires_at).where(
            Entitlement.user_id == user_id,
            Entitlement.course_id.in_(list(course_ids)),  # type: ignore[attr-defined]
            Entitlement.revoked_at.is_(None),  # type: ignore[union-attr]
        )
    ).all()
    return {cid for cid, expires in rows if expires is None or expires > now}


TERMINAL_FOR_LEARNER = (OrderStatus.CLOSED, OrderStatus.REFUNDED)

"""Operations for owner and staff: orders (filter, search, totals, detail,
refund by staff), learners (search, profile, grant or revoke access) and the rows of the CSV
exports.

Every function starts with `permissions.require_dashboard(..., staff_only=True)`; every change
writes the audit log in the same transaction and, where the learner would expect one, a message.
Filters arrive as untrusted strings (forms, query strings): `parse_order_filter` validates them
once for the pages and the CSV route alike. Dates are China dates (UTC+8), stored times are UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import case, func, or_, update
from sqlmodel import Session, col, select

from coursemall import urls
from coursemall.domain.catalog import CourseStatus, EntitlementSource
from coursemall.domain.errors import DomainError
from coursemall.domain.money import format_fen
from coursemall.domain.orders import LineRefund, OrderStatus, PaymentRole, RefundStatus, parse_order_no
from coursemall.domain.time import china_midnight_utc
from coursemall.domain.validation import parse_id
from coursemall.models import (
    Course,
    Entitlement,
    Order,
    OrderLine,
    Payment,
    PaymentEvent,
    Refund,
    User,
    UserSession,
    utcnow,
)
from coursemall.services import audit
from coursemall.services.commerce import refunds
from coursemall.services.commerce.orders import cas_order_status, new_out_refund_no
from coursemall.services.community.messages import create_message
from coursemall.services.permissions import DashboardActor, require_dashboard
from coursemall.services.learning.progress import course_progress_map

PAGE_SIZE = 20
MAX_PAGE = 10_000
QUERY_MAX = 60
CHANNELS = ("sandbox", "alipay", "wechat", "manual", "free")
ORDER_STATUSES = tuple(s.value for s in OrderStatus)
GRANT_SOURCE = str(EntitlementSource.GRANT)  # entitlement source of an access given by owner/staff
REASON_MAX = 200
EXPORT_BATCH = 500
EXPORT_MAX_ROWS = 200_000


def _staff(session: Session, actor_id: object) -> DashboardActor:
    return require_dashboard(session, actor_id, staff_only=True)


def _like(text: str) -> str:
    """A LIKE pattern matching `text` anywhere (%, _ and the escape char taken literally)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _reason(value: object) -> str:
    if not isinstance(value, str) or len(value) > REASON_MAX * 4:
        raise DomainError("ops.reason_length", max=REASON_MAX)
    text = value.strip()
    if not 1 <= len(text) <= REASON_MAX or "\x00" in text:
        raise DomainError("ops.reason_length", max=REASON_MAX)
    return text


def _page(value: object) -> int:
    if isinstance(value, bool):
        raise DomainError("error.bad_request")
    if isinstance(value, str) and 0 < len(value) <= 5 and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or not 1 <= value <= MAX_PAGE:
        raise DomainError("error.bad_request")
    return value


def _contact(user: User) -> str:
    return user.email or user.phone or ""


# ---------------------------------------------------------------------------------- filters

@dataclass(frozen=True)
class OrderFilter:
    status: str = ""
    channel: str = ""
    date_from: date | None = None  # China date, inclusive
    date_to: date | None = None  # China date, inclusive
    q: str = ""


def _parse_date(value: object) -> date | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) != 10:
        raise DomainError("ops.bad_date")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DomainError("ops.bad_date") from None


def parse_query(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > QUERY_MAX * 4:
        raise DomainError("ops.query_too_long", max=QUERY_MAX)
    text = " ".join(value.split())
    if len(text) > QUERY_MAX or "\x00" in text:
        raise DomainError("ops.query_too_long", max=QUERY_MAX)
    return text


def parse_order_filter(raw: object) -> OrderFilter:
    """Validate untrusted filter fields (a form dict or query params); DomainError on bad input."""
    if not isinstance(raw, dict):
        raise DomainError("error.bad_request")
    status, channel = raw.get("status") or "", raw.get("channel") or ""
    if not isinstance(status, str) or (status and status not in ORDER_STATUSES):
        raise DomainError("error.bad_request")
    if not isinstance(channel, str) or (channel and channel not in CHANNELS):
        raise DomainError("error.bad_request")
    start, end = _parse_date(raw.get("date_from")), _parse_date(raw.get("date_to"))
    if start and end and start > end:
        raise DomainError("ops.bad_range")
    return OrderFilter(status, channel, start, end, parse_query(raw.get("q")))


def _order_query(f: OrderFilter, *columns):
    query = select(*columns).select_from(Order).join(User, User.id == Order.user_id)
    if f.status:
        query = query.where(Order.status == f.status)
    if f.channel:
        query = query.where(Order.channel == f.channel)
    if f.date_from:
        query = query.where(Order.created_at >= china_midnight_utc(f.date_from))
    if f.date_to:
        query = query.where(Order.created_at < china_midnight_utc(f.date_to + timedelta(days=1)))
    if f.q:
        pattern = _like(f.q.lower())
        titles = select(OrderLine.order_id).where(func.lower(OrderLine.title).like(pattern, escape="\\"))
        query = query.where(or_(
            func.lower(Order.out_trade_no).like(pattern, escape="\\"),
            func.lower(User.email).like(pattern, escape="\\"),
            col(User.phone).like(pattern, escape="\\"),
            func.lower(User.nickname).like(pattern, escape="\\"),
            col(Order.id).in_(titles),
        ))
    return query


# ---------------------------------------------------------------------------------- orders

@dataclass(frozen=True)
class OrderRow:
    order_no: str
    learner_id: int
    learner: str
    contact: str
    titles: str
    total_fen: int
    refunded_fen: int
    status: str
    channel: str
    created_at: datetime
    paid_at: datetime | None


@dataclass(frozen=True)
class OrderPage:
    rows: tuple[OrderRow, ...]
    count: int
    total_fen: int  # sum of order totals in the filtered set
    paid_fen: int  # of those, orders that were paid (paid, refunding, (partially) refunded)
    refunded_fen: int
    page: int
    pages: int


PAID_LIKE = (OrderStatus.PAID, OrderStatus.REFUNDING, OrderStatus.REFUNDED, OrderStatus.PARTIALLY_REFUNDED)


def _titles(session: Session, order_ids: list[int]) -> dict[int, str]:
    out: dict[int, list[str]] = {}
    if order_ids:
        for oid, title in session.exec(select(OrderLine.order_id, OrderLine.title)
                                       .where(col(OrderLine.order_id).in_(order_ids)).order_by(OrderLine.id)):
            out.setdefault(oid, []).append(title)
    return {k: "、".join(v) for k, v in out.items()}


def _order_rows(session: Session, pairs) -> list[OrderRow]:
    pairs = list(pairs)
    titles = _titles(session, [o.id for o, _ in pairs])
    return [OrderRow(o.out_trade_no, u.id, u.nickname, _contact(u), titles.get(o.id, ""), o.total_fen,
                     o.refunded_fen, o.status, o.channel, o.created_at, o.paid_at) for o, u in pairs]


def search_orders(session: Session, *, actor_id: object, filters: OrderFilter, page: object = 1,
                  page_size: int = PAGE_SIZE) -> OrderPage:
    """One page of the filtered orders (newest first) and the totals of the whole filtered set."""
    _staff(session, actor_id)
    number = _page(page)
    paid_case = func.coalesce(func.sum(case((col(Order.status).in_([str(s) for s in PAID_LIKE]), Order.total_fen),
                                            else_=0)), 0)
    count, total, paid, refunded = session.exec(_order_query(
        filters, func.count(), func.coalesce(func.sum(Order.total_fen), 0), paid_case,
        func.coalesce(func.sum(Order.refunded_fen), 0))).one()
    pages = max(1, -(-int(count) // page_size))
    pairs = session.exec(_order_query(filters, Order, User).order_by(col(Order.id).desc())
                         .offset((min(number, pages) - 1) * page_size).limit(page_size)).all()
    return OrderPage(tuple(_order_rows(session, pairs)), int(count), int(total), int(paid), int(refunded),
                     min(number, pages), pages)


def iter_order_rows(session: Session, *, actor_id: object, filters: OrderFilter) -> Iterator[OrderRow]:
    """Every filtered order, newest first, read in batches (for the CSV export)."""
    _staff(session, actor_id)
    last_id, sent = None, 0
    while sent < EXPORT_MAX_ROWS:
        query = _order_query(filters, Order, User)
        if last_id is not None:
            query = query.where(Order.id < last_id)
        pairs = session.exec(query.order_by(col(Order.id).desc()).limit(EXPORT_BATCH)).all()
        if not pairs:
            return
        yield from _order_rows(session, pairs)
        last_id, sent = pairs[-1][0].id, sent + len(pairs)


@dataclass(frozen=True)
class LineView:
    id: int
    title: str
    price: str
    refund_status: str
    refundable: bool


@dataclass(frozen=True)
class PaymentView:
    channel: str
    provider_txn_id: str
    amount: str
    paid_at: datetime
    role: str = PaymentRole.APPLIED.value  # applied | duplicate | off_channel (refunded)


@dataclass(frozen=True)
class RefundRowView:
    out_refund_no: str
    amount: str
    status: str
    reason: str
    decision_reason: str
    created_at: datetime
    attempts: int = 0
    last_reason: str = ""  # why it is not finished yet (processing / attention)


@dataclass(frozen=True)
class EventView:
    kind: str
    channel: str
    amount: str
    verified: bool
    outcome: str
    created_at: datetime


@dataclass(frozen=True)
class OrderDetail:
    order_no: str
    status: str
    channel: str
    total: str
    refunded: str
    learner_id: int
    learner: str
    contact: str
    created_at: datetime
    paid_at: datetime | None
    closed_at: datetime | None
    close_reason: str
    can_refund: bool
    lines: tuple[LineView, ...] = ()
    payments: tuple[PaymentView, ...] = ()
    refunds: tuple[RefundRowView, ...] = ()
    events: tuple[EventView, ...] = ()
    history: tuple[tuple[str, datetime], ...] = field(default_factory=tuple)  # (what, when)


def _can_refund(order: Order, has_payment: bool) -> bool:
    return (order.status in (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED) and has_payment
            and order.total_fen > 0)


def _history(order: Order, refund_rows: list[Refund]) -> tuple[tuple[str, datetime], ...]:
    items: list[tuple[str, datetime]] = [("created", order.created_at)]
    if order.paid_at:
        items.append(("paid", order.paid_at))
    if order.closed_at:
        items.append(("closed", order.closed_at))
    for r in refund_rows:
        items.append(("refund_requested", r.created_at))
        if r.completed_at and r.status == RefundStatus.SUCCEEDED:
            items.append(("refunded", r.completed_at))
    return tuple(sorted(items, key=lambda i: i[1]))


def order_detail(session: Session, *, actor_id: object, order_no: object) -> OrderDetail:
    _staff(session, actor_id)
    # populate_existing: status changes are compare-and-set UPDATEs that bypass the identity map
    order = session.exec(select(Order).where(Order.out_trade_no == parse_order_no(order_no))
                         .execution_options(populate_existing=True)).first()
    if order is None:
        raise DomainError("order.not_found")
    user = session.get(User, order.user_id)
    lines = session.exec(select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.id)).all()
    pays = session.exec(select(Payment).where(Payment.order_id == order.id).order_by(Payment.id)).all()
    refund_rows = list(session.exec(select(Refund).where(Refund.order_id == order.id).order_by(Refund.id)).all())
    events = session.exec(select(PaymentEvent).where(or_(PaymentEvent.order_id == order.id,
                                                         PaymentEvent.out_trade_no == order.out_trade_no))
                          .order_by(col(PaymentEvent.id).desc()).limit(50)).all()
    can_refund = _can_refund(order, any(p.role == PaymentRole.APPLIED for p in pays))
    return OrderDetail(
        order_no=order.out_trade_no, status=order.status, channel=order.channel, total=format_fen(order.total_fen),
        refunded=format_fen(order.refunded_fen), learner_id=order.user_id, learner=user.nickname if user else "",
        contact=_contact(user) if user else "", created_at=order.created_at, paid_at=order.paid_at,
        closed_at=order.closed_at, close_reason=order.close_reason, can_refund=can_refund,
        lines=tuple(LineView(ln.id, ln.title, format_fen(ln.unit_price_fen), ln.refund_status,
                             can_refund and ln.refund_status == LineRefund.NONE and ln.unit_price_fen > 0)
                    for ln in lines),
        payments=tuple(PaymentView(p.channel, p.provider_txn_id, format_fen(p.amount_fen), p.paid_at, p.role)
                       for p in pays),
        refunds=tuple(RefundRowView(r.out_refund_no, format_fen(r.amount_fen), r.status, r.reason,
                                    r.decision_reason, r.created_at, r.attempts,
                                    r.last_reason if r.status in (RefundStatus.PROCESSING, RefundStatus.ATTENTION)
                                    else "") for r in refund_rows),
        events=tuple(EventView(e.kind, e.channel, format_fen(e.amount_fen) if e.amount_fen is not None else "",
                               e.verified, e.outcome, e.created_at) for e in events),
        history=_history(order, refund_rows),
    )


def staff_refund(session: Session, *, actor_id: object, order_no: object, line_ids: object,
                 reason: object) -> int:
    """Owner/staff refund some lines (None = all refundable lines) of a paid order, with a reason.

    The refund is created already approved (decided by this actor), then executed through the
    channel by `refunds.execute_refund` — a blocking gateway call: run this off the event loop.
    Completion (access revoked, order status, message to the learner) is the refunds service's.
    Returns the refund id."""
    actor = _staff(session, actor_id)
    number = parse_order_no(order_no)
    text = _reason(reason)
    wanted = None if line_ids is None else _line_ids(line_ids)
    order = session.exec(select(Order).where(Order.out_trade_no == number)).first()
    if order is None:
        raise DomainError("order.not_found")
    if order.status == OrderStatus.REFUNDING:
        raise DomainError("refund.in_progress")
    payment = session.exec(select(Payment).where(Payment.order_id == order.id,
                                                 Payment.role == PaymentRole.APPLIED)).first()
    if not _can_refund(order, payment is not None):
        raise DomainError("refund.not_refundable")
    lines = session.exec(select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.id)).all()
    open_lines = {ln.id: ln for ln in lines if ln.refund_status == LineRefund.NONE and ln.unit_price_fen > 0}
    chosen = list(open_lines.values()) if wanted is None else [open_lines[i] for i in wanted if i in open_lines]
    if not chosen or (wanted is not None and len(chosen) != len(wanted)):
        raise DomainError("refund.bad_lines")
    amount = sum(ln.unit_price_fen for ln in chosen)
    if amount + order.refunded_fen > payment.amount_fen:
        raise DomainError("refund.bad_lines")
    if not cas_order_status(session, order.id, order.status, OrderStatus.REFUNDING):
        session.rollback()
        raise DomainError("refund.in_progress")
    now = utcnow()
    refund = Refund(order_id=order.id, user_id=order.user_id, line_ids=[ln.id for ln in chosen],
                    line_id=chosen[0].id if len(chosen) == 1 else None, out_refund_no=new_out_refund_no(now),
                    channel=payment.channel, amount_fen=amount, reason=text, status=RefundStatus.APPROVED,
                    policy_outcome="staff", decided_by=actor.user_id, decided_at=now, decision_reason=text,
                    created_at=now)
    session.add(refund)
    session.flush()
    for ln in chosen:
        ln.refund_status, ln.refund_id = LineRefund.PENDING, refund.id
        session.add(ln)
    audit.record(session, actor_id=actor.user_id, action="order.refund", target=f"order:{number}",
                 detail={"refund": refund.out_refund_no, "lines": [ln.id for ln in chosen], "amount_fen": amount,
                         "reason": text})
    session.commit()
    refunds.execute_refund(session, refund_id=refund.id)
    return int(refund.id)


def _line_ids(value: object) -> list[int]:
    if not isinstance(value, (list, tuple)) or not 0 < len(value) <= 100:
        raise DomainError("refund.bad_lines")
    try:
        return sorted({parse_id(v) for v in value})
    except DomainError:
        raise DomainError("refund.bad_lines") from None


# ---------------------------------------------------------------------------------- learners

@dataclass(frozen=True)
class LearnerRow:
    id: int
    nickname: str
    email: str
    phone: str
    role: str
    active: bool
    orders: int
    paid_fen: int
    created_at: datetime


@dataclass(frozen=True)
class LearnerPage:
    rows: tuple[LearnerRow, ...]
    count: int
    page: int
    pages: int


def _learner_query(q: str, *columns):
    query = select(*columns).select_from(User)
    if q:
        pattern = _like(q.lower())
        query = query.where(or_(func.lower(User.email).like(pattern, escape="\\"),
                                col(User.phone).like(pattern, escape="\\"),
                                func.lower(User.nickname).like(pattern, escape="\\"),
                                func.upper(User.watermark_code) == q.replace(" ", "").upper()))
    return query


def _learner_rows(session: Session, users) -> list[LearnerRow]:
    ids = [u.id for u in users]
    stats = {uid: (n, paid) for uid, n, paid in session.exec(
        select(Order.user_id, func.count(), func.coalesce(func.sum(Order.total_fen - Order.refunded_fen), 0))
        .where(col(Order.user_id).in_(ids), col(Order.status).in_([str(s) for s in PAID_LIKE]))
        .group_by(Order.user_id)).all()} if ids else {}
    return [LearnerRow(u.id, u.nickname, u.email or "", u.phone or "", u.role, u.is_active,
                       int(stats.get(u.id, (0, 0))[0]), int(stats.get(u.id, (0, 0))[1]), u.created_at)
            for u in users]


def search_learners(session: Session, *, actor_id: object, q: object = "", page: object = 1,
                    page_size: int = PAGE_SIZE) -> LearnerPage:
    """Accounts matching e-mail, phone, nickname (substring) or watermark code (exact), newest first."""
    _staff(session, actor_id)
    text, number = parse_query(q), _page(page)
    count = int(session.exec(_learner_query(text, func.count())).one())
    pages = max(1, -(-count // page_size))
    users = session.exec(_learner_query(text, User).order_by(col(User.id).desc())
                         .offset((min(number, pages) - 1) * page_size).limit(page_size)).all()
    return LearnerPage(tuple(_learner_rows(session, users)), count, min(number, pages), pages)


def iter_learner_rows(session: Session, *, actor_id: object, q: object = "") -> Iterator[LearnerRow]:
    _staff(session, actor_id)
    text = parse_query(q)
    last_id, sent = None, 0
    while sent < EXPORT_MAX_ROWS:
        query = _learner_query(text, User)
        if last_id is not None:
            query = query.where(User.id < last_id)
        users = session.exec(query.order_by(col(User.id).desc()).limit(EXPORT_BATCH)).all()
        if not users:
            return
        yield from _learner_rows(session, users)
        last_id, sent = users[-1].id, sent + len(users)


@dataclass(frozen=True)
class EntitlementView:
    id: int
    course_id: int
    course: str
    source: str
    source_ref: str
    granted_at: datetime
    revoked_at: datetime | None
    revoke_reason: str
    active: bool
    progress_pct: int


@dataclass(frozen=True)
class LearnerOrderView:
    order_no: str
    total: str
    status: str
    created_at: datetime


@dataclass(frozen=True)
class LearnerProfile:
    id: int
    nickname: str
    email: str
    phone: str
    role: str
    active: bool
    frozen_reason: str
    created_at: datetime
    devices: int  # live sessions (signed-in devices)
    last_seen_at: datetime | None
    orders: tuple[LearnerOrderView, ...]
    entitlements: tuple[EntitlementView, ...]


def _require_user(session: Session, user_id: object) -> User:
    user = session.get(User, parse_id(user_id))
    if user is None:
        raise DomainError("ops.learner_not_found")
    return user


def learner_profile(session: Session, *, actor_id: object, user_id: object) -> LearnerProfile:
    _staff(session, actor_id)
    user = _require_user(session, user_id)
    now = utcnow()
    devices, last_seen = session.exec(select(func.count(), func.max(UserSession.last_seen_at)).where(
        UserSession.user_id == user.id, col(UserSession.revoked_at).is_(None), UserSession.expires_at > now)).one()
    orders = session.exec(select(Order).where(Order.user_id == user.id).order_by(col(Order.id).desc())
                          .limit(50)).all()
    grants = session.exec(select(Entitlement, Course.title).join(Course, Course.id == Entitlement.course_id)
                          .where(Entitlement.user_id == user.id).order_by(col(Entitlement.id).desc())
                          .limit(200)).all()
    progress = course_progress_map(session, user.id, {e.course_id for e, _ in grants})

    def active(e: Entitlement) -> bool:
        return e.revoked_at is None and (e.expires_at is None or e.expires_at > now)

    return LearnerProfile(
        id=user.id, nickname=user.nickname, email=user.email or "", phone=user.phone or "", role=user.role,
        active=user.is_active, frozen_reason=user.frozen_reason, created_at=user.created_at,
        devices=int(devices), last_seen_at=last_seen,
        orders=tuple(LearnerOrderView(o.out_trade_no, format_fen(o.total_fen), o.status, o.created_at)
                     for o in orders),
        entitlements=tuple(EntitlementView(e.id, e.course_id, title, e.source, e.source_ref, e.granted_at,
                                           e.revoked_at, e.revoke_reason, active(e), progress.get(e.course_id, 0))
                           for e, title in grants),
    )


def grant_access(session: Session, *, actor_id: object, user_id: object, course_id: object,
                 reason: object) -> int:
    """Give a learner access to a course (source "grant"), with a reason; the learner gets a
    message. Refused when they already have active access. Returns the entitlement id."""
    actor = _staff(session, actor_id)
    user = _require_user(session, user_id)
    text = _reason(reason)
    course = session.get(Course, parse_id(course_id))
    if course is None or course.status == CourseStatus.ARCHIVED:
        raise DomainError("ops.course_not_found")
    if not user.is_active:
        raise DomainError("ops.learner_frozen")
    from coursemall.services.learning.media_access import has_active_entitlement  # local: avoids an import cycle

    if has_active_entitlement(session, user_id=user.id, course_id=course.id):
        raise DomainError("ops.already_has_access")
    now = utcnow()
    grant = Entitlement(user_id=user.id, course_id=course.id, source=GRANT_SOURCE,
                        source_ref=f"by:{actor.user_id}:{now:%Y%m%d%H%M%S%f}", granted_at=now)
    session.add(grant)
    session.flush()
    audit.record(session, actor_id=actor.user_id, action="learner.grant", target=f"user:{user.id}",
                 detail={"course_id": course.id, "entitlement_id": grant.id, "reason": text})
    create_message(session, user_id=user.id, kind="access_granted", key="ops.msg.grant",
                   link=urls.course_url(course.id), course=course.title, reason=text)
    session.commit()
    return int(grant.id)


def revoke_access(session: Session, *, actor_id: object, entitlement_id: object, reason: object) -> None:
    """Revoke one entitlement (a grant or a purchase) with a reason: compare-and-set on
    `revoked_at`, so a second click changes nothing. Orders and payments are not touched (a
    refund is a separate action). The learner gets a message."""
    actor = _staff(session, actor_id)
    text = _reason(reason)
    grant = session.get(Entitlement, parse_id(entitlement_id), populate_existing=True)
    if grant is None:
        raise DomainError("ops.entitlement_not_found")
    now = utcnow()
    won = session.execute(update(Entitlement).where(Entitlement.id == grant.id, col(Entitlement.revoked_at).is_(None))
                          .values(revoked_at=now, revoke_reason=text[:200])
                          .execution_options(synchronize_session=False)).rowcount == 1
    if not won:
        session.rollback()
        raise DomainError("ops.already_revoked")
    course_title = session.exec(select(Course.title).where(Course.id == grant.course_id)).first() or ""
    audit.record(session, actor_id=actor.user_id, action="learner.revoke", target=f"user:{grant.user_id}",
                 detail={"course_id": grant.course_id, "entitlement_id": grant.id, "source": grant.source,
                         "reason": text})
    create_message(session, user_id=grant.user_id, kind="access_revoked", key="ops.msg.revoke",
                   link=urls.LEARNING, course=course_title, reason=text)
    session.commit()


@dataclass(frozen=True)
class CourseOption:
    id: int
    title: str


def grantable_courses(session: Session, *, actor_id: object) -> list[CourseOption]:
    _staff(session, actor_id)
    rows = session.exec(select(Course.id, Course.title).where(Course.status != CourseStatus.ARCHIVED)
                        .order_by(Course.id).limit(500)).all()
    return [CourseOption(int(i), t) for i, t in rows]


"""The signed-in learner's cart: courses and bundles, quantity always 1, prices from the database.

Rules: only published items; a course the learner already owns (active entitlement) cannot be
added; a bundle is refused only when the learner already owns every course in it — otherwise it
keeps its bundle price (a bundle is a fixed offer; see `domain.orders.price_lines`).
The client passes ids only; totals are computed here on every read.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from coursemall.domain.catalog import CourseStatus
from coursemall.domain.errors import DomainError
from coursemall.domain.money import format_fen
from coursemall.domain.orders import ItemType, PricedItem, parse_enum, price_lines
from coursemall.domain.validation import parse_id
from coursemall.models import Bundle, BundleCourse, CartItem, Course
from coursemall.services.actors import require_actor
from coursemall.services.commerce.orders import owned_course_ids

MAX_CART_ITEMS = 50


@dataclass(frozen=True)
class CartLineView:
    item_type: str
    item_id: int
    title: str
    cover_path: str
    price_fen: int
    original_price_fen: int
    price: str
    available: bool  # still published and not owned: will be checked out
    note: str  # message key when not available ('' when available)


@dataclass(frozen=True)
class CartView:
    lines: tuple[CartLineView, ...]
    total_fen: int
    total: str
    count: int


def resolve_item(session: Session, item_type: str, item_id: int) -> tuple[PricedItem, str]:
    """A purchasable item from the database (published only) and its cover; else cart.unavailable."""
    if item_type == ItemType.COURSE:
        course = session.get(Course, item_id)
        if course is None or course.status != CourseStatus.PUBLISHED:
            raise DomainError("cart.unavailable")
        return PricedItem(ItemType.COURSE, item_id, course.title, course.price_fen, course.original_price_fen,
                          (item_id,)), course.cover_path
    bundle = session.get(Bundle, item_id)
    if bundle is None or bundle.status != CourseStatus.PUBLISHED:
        raise DomainError("cart.unavailable")
    course_ids = tuple(session.exec(
        select(BundleCourse.course_id).join(Course, Course.id == BundleCourse.course_id)
        .where(BundleCourse.bundle_id == item_id, Course.status == CourseStatus.PUBLISHED)
        .order_by(BundleCourse.position, BundleCourse.id)).all())
    if not course_ids:
        raise DomainError("cart.unavailable")
    return PricedItem(ItemType.BUNDLE, item_id, bundle.title, bundle.price_fen, bundle.original_price_fen,
                      course_ids), bundle.cover_path


def check_not_owned(session: Session, user_id: int, item: PricedItem) -> None:
    owned = owned_course_ids(session, user_id, list(item.course_ids))
    if owned >= set(item.course_ids):
        raise DomainError("cart.already_owned")


def _parse(item_type: object, item_id: object) -> tuple[str, int]:
    return str(parse_enum(ItemType, item_type)), parse_id(item_id)


def add_to_cart(session: Session, *, actor_id: object, item_type: object, item_id: object) -> CartView:
    user = require_actor(session, actor_id)
    kind, item_id = _parse(item_type, item_id)
    item, _cover = resolve_item(session, kind, item_id)
    check_not_owned(session, user.id, item)
    exists = session.exec(select(CartItem.id).where(CartItem.user_id == user.id, CartItem.item_type == kind,
                                                    CartItem.item_id == item_id)).first()
    if exists is None:
        count = len(session.exec(select(CartItem.id).where(CartItem.user_id == user.id)).all())
        if count >= MAX_CART_ITEMS:
            raise DomainError("cart.full", max=MAX_CART_ITEMS)
        session.add(CartItem(user_id=user.id, item_type=kind, item_id=item_id))
        try:
            session.commit()
        except IntegrityError:  # the same item added twice at once: one row either way
            session.rollback()
    return get_cart(session, actor_id=user.id)


def remove_from_cart(session: Session, *, actor_id: object, item_type: object, item_id: object) -> CartView:
    user = require_actor(session, actor_id)
    kind, item_id = _parse(item_type, item_id)
    session.execute(delete(CartItem).where(CartItem.user_id == user.id, CartItem.item_type == kind,
                                           CartItem.item_id == item_id))
    session.commit()
    return get_cart(session, actor_id=user.id)


def cart_items(session: Session, user_id: int) -> list[tuple[CartItem, PricedItem | None, str, str]]:
    """(row, priced item or None, cover, note) for every cart row; note is '' when purchasable."""
    rows = session.exec(select(CartItem).where(CartItem.user_id == user_id).order_by(CartItem.id)).all()
    out = []
    for row in rows:
        try:
            item, cover = resolve_item(session, row.item_type, row.item_id)
            check_not_owned(session, user_id, item)
            out.append((row, item, cover, ""))
        except DomainError as exc:
            out.append((row, None, "", exc.code))
    return out


def get_cart(session: Session, *, actor_id: object) -> CartView:
    user = require_actor(session, actor_id)
    lines = []
    purchasable = []
    for row, item, cover, note in cart_items(session, user.id):
        if item is None:
            title = ""
            if row.item_type == ItemType.COURSE:
                course = session.get(Course, row.item_id)
                title = course.title if course else ""
            else:
                bundle = session.get(Bundle, row.item_id)
                title = bundle.title if bundle else ""
            lines.append(CartLineView(row.item_type, row.item_id, title, "", 0, 0, "", False, note))
            continue
        purchasable.append(item)
        lines.append(CartLineView(item.item_type, item.item_id, item.title, cover, item.unit_price_fen,
                                  item.original_price_fen, format_fen(item.unit_price_fen), True, ""))
    quote = price_lines(purchasable)
    return CartView(lines=tuple(lines), total_fen=quote.total_fen, total=format_fen(quote.total_fen),
                    count=len(lines))

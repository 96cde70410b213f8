"""Who is acting: every service resolves and authorises its actor here (learner = any active
user; staff = owner or staff, and only once the shop is set up)."""

from __future__ import annotations

from sqlmodel import Session

from coursemall.domain.errors import DomainError
from coursemall.domain.orders import STAFF_ROLES
from coursemall.domain.validation import parse_id
from coursemall.models import User


def require_actor(session: Session, actor_id: object) -> User:
    if actor_id is None:
        raise DomainError("error.sign_in_required")
    user = session.get(User, parse_id(actor_id))
    if user is None or not user.is_active:
        raise DomainError("error.sign_in_required")
    return user


def require_staff(session: Session, actor_id: object, *, owner_only: bool = False) -> User:
    """Owner/staff powers; none while the shop is not open (services/shop/setup.py)."""
    from coursemall.services.shop.setup import shop_is_open  # setup -> ... -> _commerce: import on use

    if not shop_is_open(session):
        raise DomainError("setup.dashboard_closed")
    user = require_actor(session, actor_id)
    allowed = ("owner",) if owner_only else STAFF_ROLES
    if user.role not in allowed:
        raise DomainError("error.forbidden")
    return user

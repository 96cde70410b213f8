"""Dashboard identity for Starlette routes (uploads, exports, private previews).

The same rules as the state guards (coursemall/state/guards.py): the HttpOnly `cm_session`
cookie resolved in the server-side session store, the role from the database, and a TOTP-verified
session for owner/staff, and a shop that is open (services/shop/setup.py). Call inside `session_scope()` (e.g. in a worker thread).
"""

from __future__ import annotations

from sqlmodel import Session
from starlette.requests import Request

from coursemall.services.accounts import sessions
from coursemall.services.permissions import DashboardActor, dashboard_actor
from coursemall.services.shop.setup import shop_is_open


def session_token(request: Request) -> str:
    return request.cookies.get(sessions.SESSION_COOKIE, "")


def dashboard_actor_for_token(session: Session, token: str, *, kind: str = "dashboard_required") -> DashboardActor | None:
    """The actor when the cookie token belongs to a dashboard user admitted by guard `kind`
    ("dashboard_required", "staff_required" or "owner_required"), else None."""
    if not sessions.looks_like_token(token):
        return None
    resolved = sessions.resolve_session(session, token_hash_hex=sessions.token_hash(token))
    if resolved is None:
        return None
    actor = dashboard_actor(session, resolved.user_id)
    if actor is None:
        return None
    if kind == "staff_required" and not actor.is_staff:
        return None
    if kind == "owner_required" and not actor.is_owner:
        return None
    if actor.is_staff and not resolved.mfa_verified:
        return None
    if not shop_is_open(session):
        return None
    return actor

"""Server-side sign-in sessions and the single-use login tickets that create them.

The browser holds a random token in an HttpOnly cookie; only its SHA-256 is stored. Tickets are
the hand-off from a sign-in event handler (websocket, cannot set cookies) to the
/api/auth/complete route (HTTP, sets the cookie); they live 60 seconds and work once.

A ticket is bound to the browser that asked for it: every browser holds a random secret in the
HttpOnly `cm_browser` cookie (set with the first page it loads, `api/browser_cookie.py`); the
sign-in handler reads it from the websocket handshake and stores its SHA-256 on the ticket, and
/api/auth/complete only redeems the ticket when the request presents the same secret. A ticket
minted in an attacker's browser and pushed into a victim's (sign-in CSRF: the victim would act
as the attacker) is refused, and so is a ticket that leaked through a log or a Referer.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, select

from coursemall.domain.errors import DomainError
from coursemall.models.accounts import LoginTicket, User, UserSession
from coursemall.models.base import utcnow
from coursemall.settings import get_settings

SESSION_COOKIE = "cm_session"
BROWSER_COOKIE = "cm_browser"
TICKET_TTL_SECONDS = 60
LAST_SEEN_EVERY = timedelta(minutes=5)
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def looks_like_token(value: object) -> bool:
    """Tokens and tickets are token_urlsafe(32): 43 URL-safe characters."""
    return isinstance(value, str) and 20 <= len(value) <= 100 and set(value) <= _TOKEN_CHARS


@dataclass(frozen=True)
class ResolvedSession:
    session_id: int
    user_id: int
    mfa_verified: bool = False  # this device passed the TOTP step (dashboard for owner/staff)


@dataclass(frozen=True)
class SessionView:
    id: int
    user_agent: str
    ip: str
    created_at: datetime
    last_seen_at: datetime
    current: bool


# ---- tickets ---------------------------------------------------------------------------------

def browser_hash_of(browser_secret: object) -> str:
    """The SHA-256 of a well-formed `cm_browser` secret, '' for anything else."""
    return token_hash(browser_secret) if looks_like_token(browser_secret) else ""


def create_login_ticket(session: Session, *, user_id: int, browser_hash: str,
                        now: datetime | None = None, mfa_verified: bool = False) -> str:
    """Mint a ticket only the browser whose secret hashes to `browser_hash` can redeem.
    `mfa_verified` only right after this user passed a TOTP check (the shop's setup): the
    session the ticket opens then counts as verified."""
    if not isinstance(browser_hash, str) or len(browser_hash) != 64:
        raise DomainError("auth.browser_unknown")
    now = now or utcnow()
    ticket = secrets.token_urlsafe(32)
    session.add(LoginTicket(user_id=user_id, ticket_hash=token_hash(ticket), browser_hash=browser_hash,
                            created_at=now, expires_at=now + timedelta(seconds=TICKET_TTL_SECONDS),
                            mfa_verified=mfa_verified))
    session.flush()
    return ticket


def redeem_login_ticket(session: Session, *, ticket: str, browser_secret: object = "",
                        user_agent: str = "", ip: str = "",
                        now: datetime | None = None) -> tuple[str, int]:
    """Spend a ticket (works once, compare-and-set) in the browser that minted it and open a
    session: (raw token, user id). Another browser gets 'auth.ticket_other_browser' and the ticket
    stays unspent (its owner may still complete it within the minute)."""
    if not looks_like_token(ticket):
        raise DomainError("auth.ticket_invalid")
    now = now or utcnow()
    h = token_hash(ticket)
    browser = browser_hash_of(browser_secret)
    result = session.exec(
        update(LoginTicket)
        .where(LoginTicket.ticket_hash == h, LoginTicket.browser_hash == browser, LoginTicket.browser_hash != "",
               LoginTicket.used_at.is_(None), LoginTicket.expires_at > now)
        .values(used_at=now)
    )
    if result.rowcount != 1:
        live = session.exec(select(LoginTicket.id).where(
            LoginTicket.ticket_hash == h, LoginTicket.used_at.is_(None), LoginTicket.expires_at > now)).first()
        raise DomainError("auth.ticket_other_browser" if live is not None else "auth.ticket_invalid")
    user_id, verified = session.exec(select(LoginTicket.user_id, LoginTicket.mfa_verified)
                                     .where(LoginTicket.ticket_hash == h)).one()
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise DomainError("auth.ticket_invalid")
    token = create_session(session, user_id=user_id, user_agent=user_agent, ip=ip, now=now,
                           mfa_verified=bool(verified))
    return token, user_id


# ---- sessions --------------------------------------------------------------------------------

def create_session(session: Session, *, user_id: int, user_agent: str = "", ip: str = "",
                   now: datetime | None = None, mfa_verified: bool = False) -> str:
    """Open a session and return its raw token. `mfa_verified` is for tests and for sessions
    opened right after a TOTP check; sign-in by password alone never sets it."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(UserSession(
        user_id=user_id, token_hash=token_hash(token), user_agent=(user_agent or "")[:255],
        ip=(ip or "")[:64], created_at=now, last_seen_at=now,
        expires_at=now + timedelta(days=get_settings().session_days),
        mfa_verified_at=now if mfa_verified else None))
    session.flush()
    return token


def resolve_session(session: Session, *, token_hash_hex: str,
                    now: datetime | None = None) -> ResolvedSession | None:
    """The live session for this token hash (not revoked, not expired, active user), or None."""
    if not isinstance(token_hash_hex, str) or len(token_hash_hex) != 64:
        return None
    now = now or utcnow()
    row = session.exec(
        select(UserSession, User.is_active)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == token_hash_hex, UserSession.revoked_at.is_(None),
               UserSession.expires_at > now)
    ).first()
    if row is None or not row[1]:
        return None
    us = row[0]
    if now - us.last_seen_at > LAST_SEEN_EVERY:
        session.exec(update(UserSession).where(UserSession.id == us.id).values(last_seen_at=now))
    return ResolvedSession(session_id=us.id, user_id=us.user_id, mfa_verified=us.mfa_verified_at is not None)


def mark_mfa_verified(session: Session, *, session_id: int, user_id: int, now: datetime | None = None) -> None:
    """Record that this device (a live session of `user_id`) passed the TOTP step."""
    session.exec(update(UserSession).where(UserSession.id == session_id, UserSession.user_id == user_id,
                                           UserSession.revoked_at.is_(None))
                 .values(mfa_verified_at=now or utcnow()))


def revoke_session_by_hash(session: Session, *, token_hash_hex: str,
                           now: datetime | None = None) -> None:
    session.exec(update(UserSession)
                 .where(UserSession.token_hash == token_hash_hex, UserSession.revoked_at.is_(None))
                 .values(revoked_at=now or utcnow()))


def revoke_session(session: Session, *, user_id: int, session_id: int,
                   now: datetime | None = None) -> None:
    """Revoke one of the user's own sessions; another user's session id is 'not found'."""
    result = session.exec(update(UserSession)
                          .where(UserSession.id == session_id, UserSession.user_id == user_id,
                                 UserSession.revoked_at.is_(None))
                          .values(revoked_at=now or utcnow()))
    if result.rowcount != 1:
        raise DomainError("error.not_found")


def revoke_all_sessions(session: Session, *, user_id: int, except_hash: str | None = None,
                        now: datetime | None = None) -> int:
    stmt = update(UserSession).where(UserSession.user_id == user_id,
                                     UserSession.revoked_at.is_(None))
    if except_hash:
        stmt = stmt.where(UserSession.token_hash != except_hash)
    return session.exec(stmt.values(revoked_at=now or utcnow())).rowcount


def list_sessions(session: Session, *, user_id: int, current_hash: str = "",
                  now: datetime | None = None) -> list[SessionView]:
    now = now or utcnow()
    rows = session.exec(
        select(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None),
                                  UserSession.expires_at > now)
        .order_by(UserSession.last_seen_at.desc()).limit(50)
    ).all()
    return [SessionView(id=r.id, user_agent=r.user_agent, ip=r.ip, created_at=r.created_at,
                        last_seen_at=r.last_seen_at, current=r.token_hash == current_hash)
            for r in rows]

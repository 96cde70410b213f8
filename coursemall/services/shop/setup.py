"""A production shop opens only after its owner's one-time setup.

The rule: a shop is *open* when it is the demo, or when an active owner account with TOTP exists.
Until then checkout (services/commerce/checkout.py, manual transfer proofs) and the dashboard (the state
guards, the dashboard API routes, `permissions.require_dashboard`) refuse with a clear message;
the storefront can still be browsed.

Opening a new shop:
1. the first start prints a setup link `<PUBLIC_BASE_URL>/setup/<token>` on the console
   (`python -m coursemall banner`, run by `make run` / `make serve`); `python -m coursemall
   setup-link` prints a new one and revokes the older ones. The token is random, stored only as
   its SHA-256, expires after TOKEN_TTL and works once;
2. on that page the owner chooses e-mail, nickname and password (`prepare_owner`: checked and
   hashed, nothing stored), then proves an authenticator app (`complete_setup`): in one
   transaction the token is spent by compare-and-set, the owner account is created (or, in a shop
   seeded before setup links existed, its owner without TOTP is taken over), the TOTP seed and
   recovery codes are stored, and the single `shop_setup` row is inserted (primary key 1), so two
   browsers completing at once make exactly one owner.
A replayed, expired, replaced or foreign token is refused with its own message and changes nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from coursemall import urls
from coursemall.domain.catalog import Role
from coursemall.domain.errors import DomainError
from coursemall.models import MfaRecoveryCode, SetupToken, ShopSetup, User, UserSession, utcnow
from coursemall.services import audit
from coursemall.services.accounts import mfa, sessions
from coursemall.services.accounts.passwords import hash_password
from coursemall.settings import Settings, get_settings

TOKEN_TTL = timedelta(hours=24)


@dataclass(frozen=True)
class SetupLink:
    url: str
    expires_at: datetime


@dataclass(frozen=True)
class PreparedOwner:
    """The owner's account as checked by `prepare_owner` (kept by the setup page until the TOTP
    step; the password only as its argon2 hash)."""

    email: str
    nickname: str
    password_hash: str


@dataclass(frozen=True)
class SetupResult:
    owner_id: int
    recovery_codes: list[str]


# ---- the rule ------------------------------------------------------------------------------------

def shop_is_open(session: Session, settings: Settings | None = None) -> bool:
    """The demo always; otherwise once an active owner with TOTP exists."""
    settings = settings or get_settings()
    if settings.demo:
        return True
    owner = session.exec(select(User.id).where(User.role == Role.OWNER, User.is_active.is_(True),
                                               User.totp_secret != "").limit(1)).first()
    return owner is not None


def require_shop_open(session: Session, settings: Settings | None = None) -> None:
    """For checkout: DomainError('setup.shop_not_open') while the shop is not open."""
    if not shop_is_open(session, settings):
        raise DomainError("setup.shop_not_open")


def setup_url(settings: Settings, token: str) -> str:
    return f"{settings.public_base_url}{urls.setup_url(token)}"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


# ---- links ---------------------------------------------------------------------------------------

def live_link_expiry(session: Session, *, now: datetime | None = None) -> datetime | None:
    """When the newest usable setup link expires (None when there is none)."""
    now = now or utcnow()
    return session.exec(select(SetupToken.expires_at)
                        .where(SetupToken.used_at.is_(None), SetupToken.revoked_at.is_(None),
                               SetupToken.expires_at > now)
                        .order_by(SetupToken.expires_at.desc()).limit(1)).first()


def mint_setup_token(session: Session, *, settings: Settings | None = None, now: datetime | None = None,
                     ttl: timedelta = TOKEN_TTL) -> SetupLink:
    """A new setup link; every older unused link stops working. Refused once the shop is open
    (the demo is open from the start)."""
    settings = settings or get_settings()
    now = now or utcnow()
    # the write comes first, so on SQLite the transaction holds the write lock before it reads
    session.exec(update(SetupToken).where(SetupToken.used_at.is_(None), SetupToken.revoked_at.is_(None))
                 .values(revoked_at=now).execution_options(synchronize_session=False))
    if shop_is_open(session, settings):
        _refuse(session, "setup.already_done")
    token = secrets.token_urlsafe(32)
    session.add(SetupToken(token_hash=_hash(token), created_at=now, expires_at=now + ttl))
    session.flush()
    return SetupLink(url=setup_url(settings, token), expires_at=now + ttl)


def _refuse(session: Session, code: str, **params: object) -> None:
    """Undo this unit of work (e.g. a token just spent) and refuse with `code`."""
    session.rollback()
    raise DomainError(code, **params)


def _token_refusal(session: Session, token: object, now: datetime) -> str | None:
    """Why this token cannot open the shop now (a message code), or None when it can."""
    if shop_is_open(session):
        return "setup.already_done"
    if not sessions.looks_like_token(token):
        return "setup.token_invalid"
    row = session.exec(select(SetupToken).where(SetupToken.token_hash == _hash(token))).first()
    if row is None:
        return "setup.token_invalid"
    if row.used_at is not None:
        return "setup.token_used"
    if row.revoked_at is not None:
        return "setup.token_replaced"
    if row.expires_at <= now:
        return "setup.token_expired"
    return None


def check_setup_token(session: Session, *, token: object, now: datetime | None = None) -> None:
    """DomainError with the reason when the link cannot be used (read only)."""
    refusal = _token_refusal(session, token, now or utcnow())
    if refusal:
        raise DomainError(refusal)


# ---- completing the setup ------------------------------------------------------------------------

def _accounts():
    """services.accounts, imported on use: it imports coursemall.api, whose routes reach the
    checkout services that import this module (a cycle)."""
    from coursemall.services.accounts import users

    return users


def _check_email(session: Session, raw: object, *, owner_id: int | None) -> str:
    try:
        account = _accounts().normalize_account(raw)
    except DomainError:
        raise DomainError("setup.email_required") from None
    if account.kind != "email":
        raise DomainError("setup.email_required")
    taken_by = session.exec(select(User.id).where(User.email == account.value)).first()
    if taken_by is not None and taken_by != owner_id:
        raise DomainError("auth.email_taken")
    return account.value


def _owner_without_totp(session: Session) -> User | None:
    """The owner of a shop seeded before setup links existed (no authenticator yet)."""
    return session.exec(select(User).where(User.role == Role.OWNER, User.totp_secret == "")
                        .order_by(User.id).limit(1)).first()


def prepare_owner(session: Session, *, token: object, email: object, nickname: object, password: object,
                  password_again: object, now: datetime | None = None) -> PreparedOwner:
    """Check the link and the owner's details and hash the password (slow: call it in a thread).
    Nothing is stored."""
    check_setup_token(session, token=token, now=now)
    legacy = _owner_without_totp(session)
    address = _check_email(session, email, owner_id=legacy.id if legacy else None)
    nick = _accounts().check_nickname(nickname)
    pw = _accounts().check_new_password(password)
    if not isinstance(password_again, str) or not secrets.compare_digest(pw.encode(), password_again.encode()):
        raise DomainError("setup.password_mismatch")
    return PreparedOwner(email=address, nickname=nick, password_hash=hash_password(pw))


def _spend_token(session: Session, token: str, now: datetime) -> bool:
    result = session.exec(update(SetupToken)
                          .where(SetupToken.token_hash == _hash(token), SetupToken.used_at.is_(None),
                                 SetupToken.revoked_at.is_(None), SetupToken.expires_at > now)
                          .values(used_at=now).execution_options(synchronize_session=False))
    return result.rowcount == 1


def _save_owner(session: Session, owner: PreparedOwner, now: datetime) -> int:
    """Create the owner, or take over the owner account that has no authenticator (its sessions
    and recovery codes end)."""
    legacy = _owner_without_totp(session)
    if legacy is None:
        user = User(email=owner.email, password_hash=owner.password_hash, nickname=owner.nickname,
                    role=Role.OWNER, watermark_code=_accounts().new_watermark(session), created_at=now,
                    updated_at=now)
        session.add(user)
        session.flush()
        return user.id
    session.exec(update(User).where(User.id == legacy.id)
                 .values(email=owner.email, password_hash=owner.password_hash, nickname=owner.nickname,
                         is_active=True, frozen_reason="", updated_at=now)
                 .execution_options(synchronize_session=False))
    session.exec(update(UserSession).where(UserSession.user_id == legacy.id, UserSession.revoked_at.is_(None))
                 .values(revoked_at=now).execution_options(synchronize_session=False))
    session.exec(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == legacy.id))
    return legacy.id


def complete_setup(session: Session, *, token: object, owner: object, secret: object, code: object,
                   ip: str = "", now: datetime | None = None) -> SetupResult:
    """Open the shop: spend the link, save the owner with the proven authenticator, record the
    setup, in one transaction. Any refusal rolls it back: nothing is written. Call it on a fresh
    unit of work: the token is spent by the first statement (compare-and-set), so on SQLite the
    write lock is taken before anything is read and a concurrent loser gets a clean refusal."""
    now = now or utcnow()
    if not isinstance(owner, PreparedOwner) or not owner.password_hash.startswith("$argon2"):
        raise DomainError("setup.start_again")
    step = mfa.proven_step(secret, code, now)
    if not sessions.looks_like_token(token):
        raise DomainError("setup.token_invalid")
    if not _spend_token(session, token, now):  # unknown, used, replaced, expired, or another browser won
        refusal = _token_refusal(session, token, now) or "setup.token_used"
        _refuse(session, refusal)
    if shop_is_open(session):
        _refuse(session, "setup.already_done")
    legacy = _owner_without_totp(session)
    try:
        _check_email(session, owner.email, owner_id=legacy.id if legacy else None)
        _accounts().check_nickname(owner.nickname)
    except DomainError as exc:
        _refuse(session, exc.code, **exc.params)
    try:
        owner_id = _save_owner(session, owner, now)
        session.add(ShopSetup(id=1, owner_id=owner_id, completed_at=now))
        session.flush()
    except IntegrityError:  # a concurrent setup (another link) won, or the e-mail was just taken
        session.rollback()
        _refuse(session, "setup.already_done" if shop_is_open(session) else "auth.email_taken")
    codes = mfa.store_enrolment(session, user_id=owner_id, secret=secret, step=step, now=now)
    audit.record(session, actor_id=owner_id, action="setup.complete", target=f"user:{owner_id}",
                 detail={"took_over": legacy is not None}, ip=ip)
    return SetupResult(owner_id=owner_id, recovery_codes=codes)


def owner_sign_in_ticket(session: Session, *, owner_id: int, browser_hash: str) -> str:
    """The login ticket that signs the new owner in with a TOTP-verified session, minted right
    after `complete_setup` (the state allows it once, shortly after)."""
    user = session.get(User, owner_id)
    if user is None or user.role != Role.OWNER or not user.totp_secret:
        raise DomainError("setup.start_again")
    return sessions.create_login_ticket(session, user_id=owner_id, browser_hash=browser_hash,
                                        mfa_verified=True)

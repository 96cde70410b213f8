"""Accounts: registration, password and one-time-code sign-in, password change/reset, profile.

Every function takes the database Session explicitly, validates its inputs again (the state
layer validates first), raises DomainError(code) with an i18n key, and returns small DTOs.
Password hashing is slow on purpose: callers on the event loop run these in a thread.

Failure bookkeeping (failed sign-in attempts, wrong-code counters) is committed *before* the
error is raised, so the caller's rollback cannot erase it.
"""

from __future__ import annotations

import dataclasses

import base64
import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from coursemall.domain.catalog import Role
from coursemall.domain.errors import DomainError
from coursemall.i18n import t
from coursemall.media import images
from coursemall.models.accounts import OneTimeCode, User
from coursemall.models.base import utcnow
from coursemall.services.permissions import approved_instructor_id
from coursemall.services import rate_limit
from coursemall.services.accounts import sessions
from coursemall.services.accounts.passwords import hash_password, verify_password
from coursemall.services.accounts.sender import CodeSender, get_sender
from coursemall.settings import get_settings
from coursemall.urls import public_url

PASSWORD_MIN, PASSWORD_MAX = 8, 72
NICKNAME_MAX = 20
ACCOUNT_MAX = 254
CODE_TTL = timedelta(minutes=10)
CODE_MAX_TRIES = 5
CODE_RESEND_SECONDS = 60
PURPOSES = ("login", "reset")

_EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)+$")
_PHONE_RE = re.compile(r"^1\d{10}$")
_CODE_RE = re.compile(r"^\d{6}$")


# ---- DTOs ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Account:
    kind: str  # email | phone
    value: str  # normalised


@dataclass(frozen=True)
class UserView:
    id: int
    nickname: str
    role: str
    avatar_url: str
    email: str
    phone: str


def _view(user: User) -> UserView:
    return UserView(id=user.id, nickname=user.nickname, role=user.role,
                    avatar_url=public_url(user.avatar_path), email=user.email or "",
                    phone=user.phone or "")


# ---- input rules -----------------------------------------------------------------------------

def normalize_account(raw: object) -> Account:
    """An e-mail (lower-cased) or a mainland mobile number (11 digits starting with 1)."""
    if not isinstance(raw, str) or len(raw) > ACCOUNT_MAX + 10:
        raise DomainError("auth.account_invalid")
    value = raw.strip()
    if "@" in value:
        value = value.lower()
        if len(value) > ACCOUNT_MAX or not _EMAIL_RE.match(value):
            raise DomainError("auth.account_invalid")
        return Account("email", value)
    digits = re.sub(r"[\s\-]", "", value)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not _PHONE_RE.match(digits):
        raise DomainError("auth.account_invalid")
    return Account("phone", digits)


def check_new_password(password: object) -> str:
    if not isinstance(password, str) or not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise DomainError("auth.password_length", min=PASSWORD_MIN, max=PASSWORD_MAX)
    return password


def check_nickname(nickname: object) -> str:
    if not isinstance(nickname, str) or len(nickname) > 200:
        raise DomainError("auth.nickname_invalid", max=NICKNAME_MAX)
    value = nickname.strip()
    if not 1 <= len(value) <= NICKNAME_MAX or any(
            unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp") for ch in value):
        raise DomainError("auth.nickname_invalid", max=NICKNAME_MAX)
    return value


def _sign_in_password(password: object) -> str:
    """Any password offered at sign-in: a string of sane length (never hashed otherwise)."""
    if not isinstance(password, str) or not 1 <= len(password) <= 1024:
        raise DomainError("auth.bad_credentials")
    return password


def _user_by_account(session: Session, account: Account) -> User | None:
    column = User.email if account.kind == "email" else User.phone
    return session.exec(select(User).where(column == account.value)).first()


def new_watermark(session: Session) -> str:
    for _ in range(20):
        code = base64.b32encode(secrets.token_bytes(5)).decode("ascii")  # 8 chars, A-Z2-7
        if session.exec(select(User.id).where(User.watermark_code == code)).first() is None:
            return code
    raise RuntimeError("could not allocate a unique watermark code")


# ---- registration ----------------------------------------------------------------------------

def create_user(session: Session, *, password: str, nickname: str, email: str | None = None,
                phone: str | None = None, role: str = Role.LEARNER) -> UserView:
    """Insert a user with validated fields (also used by demo seeding). Duplicates are refused."""
    if email and session.exec(select(User.id).where(User.email == email)).first() is not None:
        raise DomainError("auth.email_taken")
    if phone and session.exec(select(User.id).where(User.phone == phone)).first() is not None:
        raise DomainError("auth.phone_taken")
    user = User(email=email or None, phone=phone or None, password_hash=hash_password(password),
                nickname=nickname, role=str(Role(role)), watermark_code=new_watermark(session))
    try:
        session.add(user)
        session.flush()
    except IntegrityError:  # lost a race with a concurrent registration of the same account
        session.rollback()
        raise DomainError("auth.email_taken" if email else "auth.phone_taken") from None
    return _view(user)


def register_user(session: Session, *, account: object, password: object,
                  nickname: object, ip: str = "") -> UserView:
    """Sign up (limited per IP and per account address, counted before the password is hashed)."""
    acct = normalize_account(account)
    pw = check_new_password(password)
    nick = check_nickname(nickname)
    rate_limit.take(session, ("register.ip", ip), ("register.account", acct.value))
    return create_user(session, password=pw, nickname=nick,
                       email=acct.value if acct.kind == "email" else None,
                       phone=acct.value if acct.kind == "phone" else None)


def ensure_user(session: Session, *, email: str, password: str, nickname: str,
                role: str = Role.LEARNER) -> UserView:
    """Create the account if it does not exist yet (idempotent; the password is kept if it does)."""
    email = email.strip().lower()
    user = session.exec(select(User).where(User.email == email)).first()
    if user is not None:
        return _view(user)
    return create_user(session, password=password, nickname=nickname, email=email, role=role)


# ---- password sign-in ------------------------------------------------------------------------

def _fail(session: Session, *, identifier: str, ip: str, code: str, **params: object):
    rate_limit.record_login_attempt(session, identifier=identifier, ip=ip, success=False)
    session.commit()
    raise DomainError(code, **params)


def sign_in_with_password(session: Session, *, account: object, password: object,
                          ip: str = "", device: object = "") -> UserView:
    """`device` is the browser's `cm_device` cookie: a browser that signed in to this account
    before keeps its own attempt budget, whatever others try (services/rate_limit.py)."""
    acct = normalize_account(account)
    pw = _sign_in_password(password)
    user = _user_by_account(session, acct)
    taken = rate_limit.begin_sign_in(session, account=acct.value, user_id=user.id if user else None,
                                     ip=ip, device=device)
    ok = verify_password(user.password_hash if user else "", pw)  # dummy verify if no user
    if not ok or user is None or not user.is_active:
        _fail(session, identifier=acct.value, ip=ip, code="auth.bad_credentials")
    rate_limit.refund(session, taken)
    rate_limit.record_login_attempt(session, identifier=acct.value, ip=ip, success=True)
    return _view(user)


# ---- one-time codes --------------------------------------------------------------------------

def _code_hash(target: str, purpose: str, code: str) -> str:
    key = get_settings().secret_key.encode("utf-8")
    return hmac.new(key, f"{purpose}:{target}:{code}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class CodeRequest:
    target: str
    cooldown_seconds: int


def request_code(session: Session, *, account: object, purpose: str, ip: str = "",
                 sender: CodeSender | None = None, now: datetime | None = None) -> CodeRequest:
    """Issue a 6-digit code. The answer is the same whether or not the account exists: a code row
    is always stored (so the resend cooldown behaves alike) but only sent to real accounts.
    Besides the resend cooldown, codes are limited per IP and per target address."""
    if purpose not in PURPOSES:
        raise DomainError("error.bad_request")
    acct = normalize_account(account)
    now = now or utcnow()
    last = session.exec(
        select(OneTimeCode.created_at)
        .where(OneTimeCode.target == acct.value, OneTimeCode.purpose == purpose)
        .order_by(OneTimeCode.created_at.desc()).limit(1)
    ).first()
    if last is not None and (wait := CODE_RESEND_SECONDS - int((now - last).total_seconds())) > 0:
        raise DomainError("auth.code_cooldown", seconds=wait)
    rate_limit.take(session, ("code.ip", ip), ("code.target", f"{purpose}:{acct.value}"), now=now)
    session.exec(update(OneTimeCode)
                 .where(OneTimeCode.target == acct.value, OneTimeCode.purpose == purpose,
                        OneTimeCode.used_at.is_(None))
                 .values(used_at=now))  # only the newest code works
    code = f"{secrets.randbelow(1_000_000):06d}"
    session.add(OneTimeCode(target=acct.value, purpose=purpose,
                            code_hash=_code_hash(acct.value, purpose, code), created_at=now,
                            expires_at=now + CODE_TTL))
    session.flush()
    user = _user_by_account(session, acct)
    if user is not None and user.is_active:
        # the recipient may not have chosen a language yet: the code in both (i18n/messages/accounts.py)
        texts = {"shop": get_settings().shop_name, "code": code, "minutes": int(CODE_TTL.total_seconds() // 60)}
        (sender or get_sender()).send(
            session, channel="email" if acct.kind == "email" else "sms", target=acct.value,
            subject=t(f"mail.code_subject.{purpose}", "zh_CN", **texts),
            body=" / ".join(t(f"mail.code_body.{purpose}", lang, **texts) for lang in ("zh_CN", "en")))
    return CodeRequest(target=acct.value, cooldown_seconds=CODE_RESEND_SECONDS)


def _consume_code(session: Session, *, target: str, purpose: str, code: object, ip: str,
                  now: datetime) -> None:
    """Spend the newest live code for target/purpose or raise (counting the wrong try)."""
    row = session.exec(
        select(OneTimeCode)
        .where(OneTimeCode.target == target, OneTimeCode.purpose == purpose,
               OneTimeCode.used_at.is_(None))
        .order_by(OneTimeCode.created_at.desc()).limit(1)
    ).first()
    if row is None or row.expires_at <= now:
        _fail(session, identifier=target, ip=ip, code="auth.code_expired")
    if row.attempts >= CODE_MAX_TRIES:
        _fail(session, identifier=target, ip=ip, code="auth.code_too_many")
    good = isinstance(code, str) and bool(_CODE_RE.match(code.strip())) and hmac.compare_digest(
        row.code_hash, _code_hash(target, purpose, code.strip()))
    if not good:
        left = CODE_MAX_TRIES - row.attempts - 1  # read before the update refreshes `row`
        session.exec(update(OneTimeCode).where(OneTimeCode.id == row.id)
                     .values(attempts=OneTimeCode.attempts + 1))
        if left <= 0:
            _fail(session, identifier=target, ip=ip, code="auth.code_too_many")
        _fail(session, identifier=target, ip=ip, code="auth.code_wrong", left=left)
    spent = session.exec(update(OneTimeCode)
                         .where(OneTimeCode.id == row.id, OneTimeCode.used_at.is_(None),
                                OneTimeCode.attempts < CODE_MAX_TRIES)
                         .values(used_at=now)).rowcount
    if spent != 1:  # spent concurrently
        _fail(session, identifier=target, ip=ip, code="auth.code_expired")


def sign_in_with_code(session: Session, *, account: object, code: object, ip: str = "",
                      now: datetime | None = None) -> UserView:
    acct = normalize_account(account)
    now = now or utcnow()
    rate_limit.take(session, ("signin.code_ip", ip), now=now)
    _consume_code(session, target=acct.value, purpose="login", code=code, ip=ip, now=now)
    user = _user_by_account(session, acct)
    if user is None or not user.is_active:  # a code for an unknown account registers nothing
        _fail(session, identifier=acct.value, ip=ip, code="auth.code_expired")
    rate_limit.record_login_attempt(session, identifier=acct.value, ip=ip, success=True, now=now)
    return _view(user)


def reset_password_with_code(session: Session, *, account: object, code: object,
                             new_password: object, ip: str = "",
                             now: datetime | None = None) -> UserView:
    """Set a new password after proving control of the account; every session is signed out."""
    acct = normalize_account(account)
    pw = check_new_password(new_password)
    now = now or utcnow()
    rate_limit.take(session, ("reset.ip", ip), ("reset.account", acct.value), now=now)
    _consume_code(session, target=acct.value, purpose="reset", code=code, ip=ip, now=now)
    user = _user_by_account(session, acct)
    if user is None or not user.is_active:
        _fail(session, identifier=acct.value, ip=ip, code="auth.code_expired")
    user.password_hash = hash_password(pw)
    user.updated_at = now
    session.add(user)
    sessions.revoke_all_sessions(session, user_id=user.id, now=now)
    rate_limit.record_login_attempt(session, identifier=acct.value, ip=ip, success=True, now=now)
    session.flush()
    return _view(user)


# ---- profile ---------------------------------------------------------------------------------

def _user(session: Session, user_id: object) -> User:
    if not isinstance(user_id, int) or isinstance(user_id, bool):
        raise DomainError("error.sign_in_required")
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise DomainError("error.sign_in_required")
    return user


def get_user_view(session: Session, *, user_id: int) -> UserView | None:
    """The viewer; a learner with an approved instructor profile shows as role "instructor"
    (a UI hint for links only: the dashboard guards read the database themselves)."""
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        return None
    view = _view(user)
    if view.role == "learner" and approved_instructor_id(session, user.id) is not None:
        view = dataclasses.replace(view, role="instructor")
    return view


def change_password(session: Session, *, user_id: int, old_password: object, new_password: object,
                    keep_session_hash: str = "", ip: str = "") -> None:
    """Check the old password, set the new one and sign out every other device."""
    user = _user(session, user_id)
    new = check_new_password(new_password)
    if not isinstance(old_password, str) or not 1 <= len(old_password) <= 1024:
        raise DomainError("auth.old_password_wrong")
    identifier = user.email or user.phone or f"user:{user.id}"
    taken = rate_limit.take(session, ("password.change", str(user.id)))
    if not verify_password(user.password_hash, old_password):
        _fail(session, identifier=identifier, ip=ip, code="auth.old_password_wrong")
    rate_limit.refund(session, taken)
    user.password_hash = hash_password(new)
    user.updated_at = utcnow()
    session.add(user)
    sessions.revoke_all_sessions(session, user_id=user.id, except_hash=keep_session_hash or None)
    session.flush()


def update_nickname(session: Session, *, user_id: int, nickname: object) -> UserView:
    user = _user(session, user_id)
    user.nickname = check_nickname(nickname)
    user.updated_at = utcnow()
    session.add(user)
    session.flush()
    return _view(user)


def set_avatar(session: Session, *, user_id: int, data: object,
               public_dir: Path | None = None) -> UserView:
    """Validate and store a new avatar (CPU-heavy: run in a thread); the old file is removed."""
    user = _user(session, user_id)
    if not isinstance(data, bytes):
        raise DomainError("avatar.not_image")
    settings = get_settings()
    if len(data) > settings.avatar_max_bytes:
        raise DomainError("avatar.too_large", mb=max(1, settings.avatar_max_bytes // 1048576))
    clean = images.process_avatar(data)
    root = public_dir or settings.public_dir
    name = images.new_avatar_name()
    images.save_public_image(root, name, clean)
    old = user.avatar_path
    try:
        user.avatar_path = name
        user.updated_at = utcnow()
        session.add(user)
        session.flush()
    except Exception:
        images.delete_public_image(root, name)
        raise
    if old and old != name:
        images.delete_public_image(root, old)
    return _view(user)


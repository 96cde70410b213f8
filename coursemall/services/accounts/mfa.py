"""TOTP two-factor sign-in for the dashboard: enrolment with a QR code, verification of
this device's session, single-use recovery codes, and the owner's reset of a staff member's 2FA.

Rules:
- the seed is stored encrypted (services/crypto.py); it leaves the server only while enrolling;
- a code is checked against the previous, current and next 30-second step (clock drift) and each
  time step is accepted once per user (`User.totp_last_step`, compare-and-set), so a code seen
  over a shoulder or replayed from a log cannot be used again;
- failed attempts are counted per user and per IP with the sign-in rate limiter
  (LoginAttempt rows under the identifier "mfa:<user id>"), committed before the error is raised;
- 10 recovery codes, shown once; only SHA-256("<user id>:<code>") is stored; each works once;
- owner and staff must enrol before using the dashboard; instructors may;
- every change is written to the audit log in the same transaction.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
import qrcode
from sqlalchemy import delete, func, update
from sqlmodel import Session, select

from coursemall.domain.errors import DomainError
from coursemall.models import MfaRecoveryCode, User, UserSession, utcnow
from coursemall.services import audit, crypto, rate_limit
from coursemall.services.accounts import sessions
from coursemall.services.permissions import DashboardActor, require_dashboard
from coursemall.settings import get_settings

RECOVERY_COUNT = 10
RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read from paper
RECOVERY_LEN = 10  # shown as XXXXX-XXXXX (50 bits)
VALID_WINDOW = 1  # steps either side of now
_CODE_RE = re.compile(r"^\d{6}$")
_SECRET_RE = re.compile(r"^[A-Z2-7]{16,64}$")


@dataclass(frozen=True)
class MfaStatus:
    enrolled: bool
    required: bool  # owner/staff must use TOTP for the dashboard
    recovery_left: int


@dataclass(frozen=True)
class Enrolment:
    secret: str  # base32, shown as text for manual entry
    uri: str  # otpauth:// provisioning URI
    qr_data_url: str  # data:image/png;base64,...


# ---- helpers -----------------------------------------------------------------------------------

def _actor_user(session: Session, actor_id: object) -> tuple[DashboardActor, User]:
    actor = require_dashboard(session, actor_id)
    user = session.get(User, actor.user_id)
    assert user is not None
    return actor, user


def is_enrolled(user: User) -> bool:
    return bool(user.totp_secret)


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret)


def _account_label(user: User) -> str:
    return user.email or user.phone or f"user-{user.id}"


def _qr_data_url(text: str) -> str:
    buf = io.BytesIO()
    qrcode.make(text, box_size=6, border=2).save(buf)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def parse_totp_code(code: object) -> str | None:
    """'123456' / '123 456' -> '123456'; anything else None."""
    if not isinstance(code, str) or len(code) > 20:
        return None
    digits = code.replace(" ", "").replace("-", "")
    return digits if _CODE_RE.match(digits) else None


def parse_recovery_code(code: object) -> str | None:
    """'abcde-fghjk' / 'ABCDEFGHJK' -> 'ABCDEFGHJK'; anything else None."""
    if not isinstance(code, str) or len(code) > 40:
        return None
    text = code.replace(" ", "").replace("-", "").upper()
    if len(text) != RECOVERY_LEN or any(ch not in RECOVERY_ALPHABET for ch in text):
        return None
    return text


def _recovery_hash(user_id: int, code: str) -> str:
    return hashlib.sha256(f"{user_id}:{code}".encode("ascii")).hexdigest()


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step (within ±VALID_WINDOW of now) whose code equals `code`, else None."""
    totp = _totp(secret)
    current = totp.timecode(now)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _rate_identifier(user_id: int) -> str:
    return f"mfa:{user_id}"


def _failed(session: Session, user_id: int, ip: str, code: str, now: datetime) -> DomainError:
    """Count the failure (committed, so the caller's rollback keeps it) and build the error."""
    rate_limit.record_login_attempt(session, identifier=_rate_identifier(user_id), ip=ip, success=False, now=now)
    session.commit()
    return DomainError(code)


def _check_rate(session: Session, user_id: int, now: datetime) -> rate_limit.Taken:
    """Count this code attempt before checking it (given back when the code was right)."""
    return rate_limit.take(session, ("mfa.user", str(user_id)), now=now)


def _spend_step(session: Session, user_id: int, step: int) -> bool:
    """Accept time step `step` for this user once (compare-and-set on totp_last_step)."""
    result = session.exec(update(User).where(User.id == user_id, User.totp_last_step < step)
                          .values(totp_last_step=step).execution_options(synchronize_session=False))
    return result.rowcount == 1


def _new_recovery_codes(session: Session, user_id: int) -> list[str]:
    """Replace the user's recovery codes with 10 fresh ones; returns them formatted XXXXX-XXXXX."""
    session.exec(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user_id))
    codes = ["".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LEN))
             for _ in range(RECOVERY_COUNT)]
    for code in codes:
        session.add(MfaRecoveryCode(user_id=user_id, code_hash=_recovery_hash(user_id, code)))
    session.flush()
    return [f"{c[:5]}-{c[5:]}" for c in codes]


def _recovery_left(session: Session, user_id: int) -> int:
    return session.exec(select(func.count()).select_from(MfaRecoveryCode)
                        .where(MfaRecoveryCode.user_id == user_id, MfaRecoveryCode.used_at.is_(None))).one()


def _mark_verified(session: Session, session_id: object, user_id: int, now: datetime) -> None:
    if isinstance(session_id, int) and not isinstance(session_id, bool):
        sessions.mark_mfa_verified(session, session_id=session_id, user_id=user_id, now=now)


# ---- use cases ---------------------------------------------------------------------------------

def mfa_status(session: Session, *, actor_id: object) -> MfaStatus:
    actor, user = _actor_user(session, actor_id)
    return MfaStatus(enrolled=is_enrolled(user), required=actor.is_staff,
                     recovery_left=_recovery_left(session, user.id) if is_enrolled(user) else 0)


def start_enrolment(session: Session, *, actor_id: object, session_verified: bool) -> Enrolment:
    """A fresh seed with its QR code (nothing is stored until `confirm_enrolment`). Replacing an
    existing authenticator needs a session that already passed TOTP (else a stolen password would
    be enough to take over the second factor)."""
    _actor, user = _actor_user(session, actor_id)
    if is_enrolled(user) and not session_verified:
        raise DomainError("mfa.verify_first")
    secret = pyotp.random_base32()
    uri = _totp(secret).provisioning_uri(name=_account_label(user), issuer_name=get_settings().shop_name)
    return Enrolment(secret=secret, uri=uri, qr_data_url=_qr_data_url(uri))


def confirm_enrolment(session: Session, *, actor_id: object, secret: object, code: object,
                      session_id: object, session_verified: bool, ip: str = "",
                      now: datetime | None = None) -> list[str]:
    """Store the seed (encrypted) once the user proved their app shows its codes; this device is
    then verified. Returns the 10 new recovery codes (shown once)."""
    now = now or utcnow()
    _actor, user = _actor_user(session, actor_id)
    if is_enrolled(user) and not session_verified:
        raise DomainError("mfa.verify_first")
    if not isinstance(secret, str) or not _SECRET_RE.match(secret):
        raise DomainError("mfa.enrol_expired")
    taken = _check_rate(session, user.id, now)
    digits = parse_totp_code(code)
    step = _matching_step(secret, digits, now) if digits else None
    if step is None:
        raise _failed(session, user.id, ip, "mfa.code_wrong", now)
    replaced = is_enrolled(user)
    codes = store_enrolment(session, user_id=user.id, secret=secret, step=step, now=now)
    rate_limit.refund(session, taken)
    rate_limit.record_login_attempt(session, identifier=_rate_identifier(user.id), ip=ip, success=True, now=now)
    _mark_verified(session, session_id, user.id, now)
    audit.record(session, actor_id=user.id, action="mfa.enrol", target=f"user:{user.id}",
                 detail={"replaced": replaced}, ip=ip)
    return codes


def new_seed(account_label: str) -> Enrolment:
    """A fresh seed with its QR code for an account that does not exist yet (the shop's setup)."""
    secret = pyotp.random_base32()
    uri = _totp(secret).provisioning_uri(name=account_label, issuer_name=get_settings().shop_name)
    return Enrolment(secret=secret, uri=uri, qr_data_url=_qr_data_url(uri))


def proven_step(secret: object, code: object, now: datetime) -> int:
    """The time step of `code` for a seed being enrolled; DomainError when the seed is not one we
    handed out or the code does not match (nothing is stored either way)."""
    if not isinstance(secret, str) or not _SECRET_RE.match(secret):
        raise DomainError("mfa.enrol_expired")
    digits = parse_totp_code(code)
    step = _matching_step(secret, digits, now) if digits else None
    if step is None:
        raise DomainError("mfa.code_wrong")
    return step


def store_enrolment(session: Session, *, user_id: int, secret: str, step: int, now: datetime) -> list[str]:
    """Store the proven seed (encrypted, its step spent) and 10 new recovery codes (returned)."""
    session.exec(update(User).where(User.id == user_id)
                 .values(totp_secret=crypto.encrypt(secret), totp_last_step=step, updated_at=now)
                 .execution_options(synchronize_session=False))
    return _new_recovery_codes(session, user_id)


def verify(session: Session, *, actor_id: object, code: object, session_id: object, ip: str = "",
           now: datetime | None = None) -> str:
    """Check a 6-digit code or a recovery code and mark this device verified.
    Returns "totp" or "recovery"."""
    now = now or utcnow()
    _actor, user = _actor_user(session, actor_id)
    if not is_enrolled(user):
        raise DomainError("mfa.not_enrolled")
    taken = _check_rate(session, user.id, now)
    digits = parse_totp_code(code)
    if digits is not None:
        kind = _verify_totp(session, user, digits, ip, now)
    else:
        kind = _verify_recovery(session, user, code, ip, now)
    rate_limit.refund(session, taken)
    rate_limit.record_login_attempt(session, identifier=_rate_identifier(user.id), ip=ip, success=True, now=now)
    _mark_verified(session, session_id, user.id, now)
    return kind


def _verify_totp(session: Session, user: User, digits: str, ip: str, now: datetime) -> str:
    try:
        secret = crypto.decrypt(user.totp_secret)
    except ValueError:  # stored under another secret key: only a reset helps
        raise DomainError("mfa.seed_unreadable") from None
    step = _matching_step(secret, digits, now)
    if step is None:
        raise _failed(session, user.id, ip, "mfa.code_wrong", now)
    if not _spend_step(session, user.id, step):
        raise _failed(session, user.id, ip, "mfa.code_used", now)
    return "totp"


def _verify_recovery(session: Session, user: User, code: object, ip: str, now: datetime) -> str:
    text = parse_recovery_code(code)
    if text is None:
        raise _failed(session, user.id, ip, "mfa.code_wrong", now)
    result = session.exec(update(MfaRecoveryCode)
                          .where(MfaRecoveryCode.user_id == user.id,
                                 MfaRecoveryCode.code_hash == _recovery_hash(user.id, text),
                                 MfaRecoveryCode.used_at.is_(None))
                          .values(used_at=now).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise _failed(session, user.id, ip, "mfa.code_wrong", now)
    audit.record(session, actor_id=user.id, action="mfa.recovery_used", target=f"user:{user.id}",
                 detail={"left": _recovery_left(session, user.id)}, ip=ip)
    return "recovery"


def regenerate_recovery_codes(session: Session, *, actor_id: object, session_verified: bool,
                              ip: str = "") -> list[str]:
    """New codes replace the old ones; only from a device that passed TOTP."""
    _actor, user = _actor_user(session, actor_id)
    if not is_enrolled(user):
        raise DomainError("mfa.not_enrolled")
    if not session_verified:
        raise DomainError("mfa.verify_first")
    codes = _new_recovery_codes(session, user.id)
    audit.record(session, actor_id=user.id, action="mfa.recovery_regenerate", target=f"user:{user.id}", ip=ip)
    return codes


def reset_user_mfa(session: Session, *, actor_id: object, user_id: object, ip: str = "") -> None:
    """The owner clears a staff member's (or instructor's) authenticator, e.g. after a lost phone:
    seed, recovery codes and every device's verification go; they enrol again at next use."""
    owner = require_dashboard(session, actor_id, owner_only=True)
    target = session.get(User, user_id) if isinstance(user_id, int) and not isinstance(user_id, bool) else None
    if target is None:
        raise DomainError("error.not_found")
    if target.id == owner.user_id:
        raise DomainError("mfa.reset_self")
    if not is_enrolled(target):
        raise DomainError("mfa.not_enrolled")
    session.exec(update(User).where(User.id == target.id)
                 .values(totp_secret="", totp_last_step=0, updated_at=utcnow())
                 .execution_options(synchronize_session=False))
    session.exec(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == target.id))
    session.exec(update(UserSession).where(UserSession.user_id == target.id)
                 .values(mfa_verified_at=None).execution_options(synchronize_session=False))
    audit.record(session, actor_id=owner.user_id, action="mfa.reset", target=f"user:{target.id}", ip=ip)


def enrol_with_secret(session: Session, *, user_id: int, secret: str) -> bool:
    """Enrol `user_id` with a known seed unless already enrolled (demo seed only). True if enrolled now."""
    user = session.get(User, user_id)
    if user is None or is_enrolled(user):
        return False
    if not _SECRET_RE.match(secret):
        raise ValueError("TOTP seed must be base32")
    user.totp_secret = crypto.encrypt(secret)
    user.totp_last_step = 0
    session.add(user)
    _new_recovery_codes(session, user.id)  # unknown to anyone: the demo owner regenerates them
    audit.record(session, actor_id=None, action="mfa.enrol", target=f"user:{user.id}", detail={"demo": True})
    return True

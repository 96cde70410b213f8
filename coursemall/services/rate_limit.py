"""Sign-in rate limit per account and per IP, counted from LoginAttempt rows.

An account is blocked after `login_max_fails` failed attempts inside `login_window_seconds`
(a successful sign-in resets the account's count). An IP is blocked after
`login_max_fails * IP_FACTOR` failures in the same window: one address may serve many people
(offices, campuses, carrier NAT), and the factor still stops spraying guesses across accounts.
The check runs before any password is hashed, so blocked attempts cost nothing.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from coursemall.domain.errors import DomainError
from coursemall.models.accounts import LoginAttempt
from coursemall.models.base import utcnow
from coursemall.settings import get_settings

IP_FACTOR = 4


def _limits() -> tuple[int, int]:
    s = get_settings()
    return s.login_max_fails, s.login_window_seconds


def _retry_minutes(oldest: datetime, window: int, now: datetime) -> int:
    seconds = (oldest + timedelta(seconds=window) - now).total_seconds()
    return max(1, math.ceil(seconds / 60))


def check_login_allowed(session: Session, *, identifier: str, ip: str,
                        now: datetime | None = None) -> None:
    """Raise DomainError('auth.too_many_attempts', minutes=N) when the account or IP is blocked."""
    max_fails, window = _limits()
    now = now or utcnow()
    since = now - timedelta(seconds=window)

    last_ok = session.exec(
        select(func.max(LoginAttempt.created_at)).where(
            LoginAttempt.identifier == identifier, LoginAttempt.success.is_(True),
            LoginAttempt.created_at >= since)
    ).one()
    account_since = max(since, last_ok) if last_ok is not None else since
    fails = session.exec(
        select(LoginAttempt.created_at).where(
            LoginAttempt.identifier == identifier, LoginAttempt.success.is_(False),
            LoginAttempt.created_at >= account_since)
        .order_by(LoginAttempt.created_at.desc()).limit(max_fails)
    ).all()
    if len(fails) >= max_fails:
        raise DomainError("auth.too_many_attempts", minutes=_retry_minutes(fails[-1], window, now))

    if ip:
        ip_limit = max_fails * IP_FACTOR
        ip_fails = session.exec(
            select(LoginAttempt.created_at).where(
                LoginAttempt.ip == ip, LoginAttempt.success.is_(False),
                LoginAttempt.created_at >= since)
            .order_by(LoginAttempt.created_at.desc()).limit(ip_limit)
        ).all()
        if len(ip_fails) >= ip_limit:
            raise DomainError("auth.too_many_attempts",
                              minutes=_retry_minutes(ip_fails[-1], window, now))


def record_login_attempt(session: Session, *, identifier: str, ip: str, success: bool,
                         now: datetime | None = None) -> None:
    session.add(LoginAttempt(identifier=identifier[:254], ip=(ip or "")[:64], success=success,
                             created_at=now or utcnow()))
    session.flush()

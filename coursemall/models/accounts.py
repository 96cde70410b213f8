"""Accounts: users, server-side sessions, sign-in attempts, one-time codes, outgoing messages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from coursemall.models.base import UtcDateTime, utcnow


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str | None = Field(default=None, max_length=254, unique=True, index=True)
    phone: str | None = Field(default=None, max_length=20, unique=True, index=True)
    password_hash: str = Field(default="", max_length=255)
    nickname: str = Field(max_length=40)
    avatar_path: str = Field(default="", max_length=255)  # public image name, generated server-side
    role: str = Field(default="learner", max_length=16, index=True)  # domain.roles.Role
    locale: str = Field(default="zh_CN", max_length=8)
    watermark_code: str = Field(max_length=12, unique=True)  # short per-user code for leak tracing
    # TOTP seed, encrypted at rest (services/crypto.py: "enc1:" + Fernet token, ~150 chars)
    totp_secret: str = Field(default="", max_length=255)
    # the last TOTP time step accepted: a code (time step) is never accepted twice
    totp_last_step: int = Field(default=0)
    # WeChat OAuth (snsapi_base) openid for JSAPI pay in the WeChat browser; one shop account per openid
    wechat_openid: str | None = Field(default=None, max_length=64, unique=True, index=True)
    is_active: bool = Field(default=True)
    # leak tracing: a frozen account cannot sign in; the reason is shown to staff only
    frozen_reason: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class UserSession(SQLModel, table=True):
    """A signed-in device. The browser holds the raw token; only its SHA-256 is stored."""

    __tablename__ = "user_sessions"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_agent: str = Field(default="", max_length=255)
    ip: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # set when this device passed the TOTP step (owner/staff need it for the dashboard)
    mfa_verified_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class LoginAttempt(SQLModel, table=True):
    """Every sign-in attempt, for rate limiting per account and per IP and for leak tracing."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_identifier_at", "identifier", "created_at"),
        Index("ix_login_attempts_ip_at", "ip", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    identifier: str = Field(max_length=254)  # normalised e-mail or phone
    ip: str = Field(default="", max_length=64)
    success: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class OneTimeCode(SQLModel, table=True):
    """A 6-digit code for sign-in, registration or password reset; only its hash is stored."""

    __tablename__ = "one_time_codes"
    __table_args__ = (Index("ix_otc_target_purpose", "target", "purpose", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    target: str = Field(max_length=254)  # e-mail or phone
    purpose: str = Field(max_length=16)  # login | reset | bind
    code_hash: str = Field(max_length=64)
    attempts: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class OutboxMessage(SQLModel, table=True):
    """Messages sent by the pluggable sender. The demo shows them on /outbox."""

    __tablename__ = "outbox_messages"

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=8)  # email | sms
    target: str = Field(max_length=254, index=True)
    subject: str = Field(default="", max_length=200)
    body: str = Field(default="", max_length=4000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, index=True)



class LoginTicket(SQLModel, table=True):
    """A single-use, short-lived hand-off from a sign-in event handler to /api/auth/complete.

    The handler verifies credentials over the websocket, where no cookie can be set; the browser
    then navigates to /api/auth/complete?ticket=..., which redeems the ticket (compare-and-set on
    `used_at`, only with the same browser secret) and sets the HttpOnly session cookie. Only the
    SHA-256 of the ticket and of the browser secret are stored.
    """

    __tablename__ = "login_tickets"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    ticket_hash: str = Field(max_length=64, unique=True)
    # SHA-256 of the `cm_browser` secret of the browser that signed in: only it can redeem
    browser_hash: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # the session it opens counts as TOTP-verified (only minted right after a TOTP check, e.g. at
    # the end of the shop's one-time setup); sign-in by password alone never sets it
    mfa_verified: bool = Field(default=False)

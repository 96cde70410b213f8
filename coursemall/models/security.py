"""Dashboard security: TOTP recovery codes, the audit log of owner/staff actions, and the one-time
setup of a production shop (setup links and the record of the completed setup)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from coursemall.models.base import UtcDateTime, utcnow

__all__ = ["MfaRecoveryCode", "AuditLog", "SetupToken", "ShopSetup"]


class MfaRecoveryCode(SQLModel, table=True):
    """One single-use recovery code; only its SHA-256 is stored."""

    __tablename__ = "mfa_recovery_codes"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    code_hash: str = Field(max_length=64, unique=True)
    used_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class AuditLog(SQLModel, table=True):
    """What an owner, staff member or instructor did in the dashboard (append-only)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    actor_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    action: str = Field(max_length=60)  # e.g. course.publish, refund.approve, user.freeze
    target: str = Field(default="", max_length=120)  # e.g. course:12, order:CM2026...
    detail: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False, default=dict))
    ip: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class SetupToken(SQLModel, table=True):
    """A one-time setup link printed on the console of a new production shop. Only the SHA-256 of
    the token is stored; it works once (compare-and-set on `used_at`), expires, and is revoked when
    a newer link is printed."""

    __tablename__ = "setup_tokens"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class ShopSetup(SQLModel, table=True):
    """The completed setup: one row at most (primary key fixed to 1), so two setups racing with
    different links still make exactly one owner."""

    __tablename__ = "shop_setup"

    id: int = Field(default=1, primary_key=True)
    owner_id: int = Field(foreign_key="users.id")
    completed_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)

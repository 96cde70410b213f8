"""Dashboard security (issue 5): TOTP recovery codes and the audit log of owner/staff actions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from coursemall.models.base import UtcDateTime, utcnow

__all__ = ["MfaRecoveryCode", "AuditLog"]


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

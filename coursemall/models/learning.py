"""Who may study what (entitlements, kept apart from orders) and what learners say (reviews)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from coursemall.models.base import UtcDateTime, utcnow


class Entitlement(SQLModel, table=True):
    """A right to study a course. `source` says why (domain.catalog.EntitlementSource); `source_ref`
    points at the cause (order number, redeem code, membership id, granting admin ...).
    Revoking sets `revoked_at`; rows are never deleted so the history stays."""

    __tablename__ = "entitlements"
    __table_args__ = (
        UniqueConstraint("user_id", "course_id", "source", "source_ref", name="uq_entitlement_grant"),
        Index("ix_entitlements_user_course", "user_id", "course_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    course_id: int = Field(foreign_key="courses.id", index=True)
    source: str = Field(max_length=16)  # order | gift | membership | redeem | manual | bundle
    source_ref: str = Field(default="", max_length=64)
    granted_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    revoke_reason: str = Field(default="", max_length=200)


class Review(SQLModel, table=True):
    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("course_id", "user_id", name="uq_review_once"),
        Index("ix_reviews_course_created", "course_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    course_id: int = Field(foreign_key="courses.id")
    user_id: int = Field(foreign_key="users.id")
    rating: int = Field(ge=1, le=5)
    content: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # plain text
    owner_reply: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    status: str = Field(default="visible", max_length=16)  # visible | hidden
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)

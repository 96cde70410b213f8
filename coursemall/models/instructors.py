"""Instructor applications: a learner applies to teach; the owner decides."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from coursemall.models.base import UtcDateTime, utcnow

__all__ = ["InstructorApplication"]


class InstructorApplication(SQLModel, table=True):
    __tablename__ = "instructor_applications"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    name: str = Field(max_length=40)
    title: str = Field(default="", max_length=80)
    bio: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    status: str = Field(default="pending", max_length=16)  # pending | approved | rejected
    decision_reason: str = Field(default="", max_length=200)
    decided_by: int | None = Field(default=None, foreign_key="users.id")
    decided_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)

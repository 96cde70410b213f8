"""Analytics: page views for the funnel (course view → detail → checkout → paid)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from coursemall.models.base import UtcDateTime, utcnow

__all__ = ["PageView"]


class PageView(SQLModel, table=True):
    __tablename__ = "page_views"
    # the funnel counts distinct visitors per kind over a time range: the whole shop reads
    # (created_at, kind, visitor) from the index alone; an instructor's courses use course_at
    __table_args__ = (Index("ix_page_views_at_kind_visitor", "created_at", "kind", "visitor"),
                      Index("ix_page_views_course_at", "course_id", "created_at"))

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # list | detail | checkout
    course_id: int | None = Field(default=None)
    user_id: int | None = Field(default=None)
    visitor: str = Field(default="", max_length=64)  # hashed session/cookie id for anonymous visitors
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)

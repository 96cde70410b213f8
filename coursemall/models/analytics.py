"""Analytics: page views for the funnel (course view → detail → checkout → paid)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from coursemall.domain.time import china_date
from coursemall.models.base import UtcDateTime, utcnow

__all__ = ["PageView"]


def _day_of_row(context) -> date:
    """Column default of `day`: the shop's (China) day of the row's `created_at`."""
    return china_date(context.get_current_parameters()["created_at"])


class PageView(SQLModel, table=True):
    __tablename__ = "page_views"
    # the funnel counts distinct visitors per kind over a time range: the whole shop reads
    # (created_at, kind, visitor) from the index alone; an instructor's courses use course_at.
    # A visitor's view of a course is stored once per kind and China day: the unique key is what
    # de-duplicates (INSERT ... ON CONFLICT DO NOTHING), so every web worker shares it.
    __table_args__ = (Index("ix_page_views_at_kind_visitor", "created_at", "kind", "visitor"),
                      Index("ix_page_views_course_at", "course_id", "created_at"),
                      Index("uq_page_views_visit", "visitor", "kind", "course_id", "day", unique=True))

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # list | detail | checkout
    course_id: int | None = Field(default=None)
    user_id: int | None = Field(default=None)
    visitor: str = Field(default="", max_length=64)  # hashed session/cookie id for anonymous visitors
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    # China day of created_at (the dedupe bucket); filled from created_at when not given
    day: date | None = Field(default=None, nullable=False, sa_column_kwargs={"default": _day_of_row})

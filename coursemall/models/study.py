"""Studying: per-lesson progress, daily study time, comments and likes, timestamped notes and
questions, check-ins, homework and certificates. User text is stored as plain text (never HTML).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column, Date, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from coursemall.models.base import UtcDateTime, utcnow


class LessonProgress(SQLModel, table=True):
    """One row per (learner, lesson). `covered` is the bitmap of 5-second buckets played
    (domain.progress); `version` makes the read-merge-write of a heartbeat a compare-and-set."""

    __tablename__ = "lesson_progress"
    __table_args__ = (
        UniqueConstraint("user_id", "lesson_id", name="uq_lesson_progress"),
        Index("ix_lesson_progress_user_course", "user_id", "course_id"),
        Index("ix_lesson_progress_user_seen", "user_id", "last_heartbeat_at"),
        Index("ix_lesson_progress_lesson", "lesson_id"),  # dashboard: per-lesson drop-off
        Index("ix_lesson_progress_course_user", "course_id", "user_id"),  # dashboard: completion
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    lesson_id: int = Field(foreign_key="lessons.id")
    course_id: int = Field(foreign_key="courses.id")
    position_seconds: int = Field(default=0)  # resume point (articles: read percent)
    covered: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False, default=b""))
    watched_seconds: int = Field(default=0)
    percent: int = Field(default=0)  # 0..100 (watched share, or read share for articles)
    completed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    version: int = Field(default=0)
    last_heartbeat_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class StudyDay(SQLModel, table=True):
    """Seconds studied by a learner on a shop-local day (Asia/Shanghai)."""

    __tablename__ = "study_days"
    __table_args__ = (UniqueConstraint("user_id", "day", name="uq_study_day"),
                      Index("ix_study_days_day_user", "day", "user_id"))  # dashboard: daily active

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    day: date = Field(sa_column=Column(Date, nullable=False))
    seconds: int = Field(default=0)


class LessonComment(SQLModel, table=True):
    """A lesson comment; `parent_id` set = a reply (one level only)."""

    __tablename__ = "lesson_comments"
    __table_args__ = (
        Index("ix_lesson_comments_lesson_parent", "lesson_id", "parent_id", "id"),
        Index("ix_lesson_comments_parent", "parent_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    lesson_id: int = Field(foreign_key="lessons.id")
    course_id: int = Field(foreign_key="courses.id", index=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    parent_id: int | None = Field(default=None, foreign_key="lesson_comments.id")
    body: str = Field(sa_column=Column(Text, nullable=False))  # plain text
    status: str = Field(default="visible", max_length=16)  # visible | hidden | deleted
    like_count: int = Field(default=0)
    reply_count: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class CommentLike(SQLModel, table=True):
    __tablename__ = "comment_likes"
    __table_args__ = (UniqueConstraint("comment_id", "user_id", name="uq_comment_like"),)

    id: int | None = Field(default=None, primary_key=True)
    comment_id: int = Field(foreign_key="lesson_comments.id")
    user_id: int = Field(foreign_key="users.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class LessonNote(SQLModel, table=True):
    """A note or question pinned to a second of a lesson. Answered public questions are shown to
    every learner of the lesson as timeline markers."""

    __tablename__ = "lesson_notes"
    __table_args__ = (
        Index("ix_lesson_notes_lesson_user", "lesson_id", "user_id"),
        Index("ix_lesson_notes_lesson_kind", "lesson_id", "kind", "answered_at"),
        Index("ix_lesson_notes_course_kind", "course_id", "kind", "answered_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    lesson_id: int = Field(foreign_key="lessons.id")
    course_id: int = Field(foreign_key="courses.id")
    user_id: int = Field(foreign_key="users.id")
    at_seconds: int = Field(default=0)
    kind: str = Field(default="note", max_length=10)  # note | question
    body: str = Field(sa_column=Column(Text, nullable=False))
    is_public: bool = Field(default=False)
    answer: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    answered_by: int | None = Field(default=None, foreign_key="users.id")
    answered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class CheckIn(SQLModel, table=True):
    """Daily check-in (打卡) of a learner in a course; one per shop-local day."""

    __tablename__ = "checkins"
    __table_args__ = (
        UniqueConstraint("user_id", "course_id", "day", name="uq_checkin_day"),
        Index("ix_checkins_course_id", "course_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    course_id: int = Field(foreign_key="courses.id")
    day: date = Field(sa_column=Column(Date, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    photo_path: str = Field(default="", max_length=80)  # public image name (checkins/...)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class HomeworkSubmission(SQLModel, table=True):
    """A learner's homework for a lesson: replaced on resubmission until it is graded."""

    __tablename__ = "homework_submissions"
    __table_args__ = (
        UniqueConstraint("user_id", "lesson_id", name="uq_homework_once"),
        Index("ix_homework_course_status", "course_id", "status", "updated_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    lesson_id: int = Field(foreign_key="lessons.id")
    course_id: int = Field(foreign_key="courses.id")
    user_id: int = Field(foreign_key="users.id")
    body: str = Field(sa_column=Column(Text, nullable=False))
    image_paths: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False, default=list))
    status: str = Field(default="submitted", max_length=12)  # submitted | graded
    score: int | None = Field(default=None)
    feedback: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    graded_by: int | None = Field(default=None, foreign_key="users.id")
    graded_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class Certificate(SQLModel, table=True):
    """Certificate of completion; name and title are snapshots taken when it was issued."""

    __tablename__ = "certificates"
    __table_args__ = (UniqueConstraint("user_id", "course_id", name="uq_certificate_once"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    course_id: int = Field(foreign_key="courses.id", index=True)
    code: str = Field(max_length=24, unique=True)
    learner_name: str = Field(max_length=40)
    course_title: str = Field(max_length=80)
    issued_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)

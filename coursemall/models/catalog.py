"""Catalog: categories, tags, instructors, courses, chapters, lessons, private media, bundles."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from coursemall.models.base import UtcDateTime, utcnow


class Category(SQLModel, table=True):
    __tablename__ = "categories"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=40)  # zh_CN
    name_en: str = Field(default="", max_length=60)
    icon: str = Field(default="book-open", max_length=40)  # lucide icon name
    position: int = Field(default=0)


class Tag(SQLModel, table=True):
    __tablename__ = "tags"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=30, unique=True)


class CourseTag(SQLModel, table=True):
    __tablename__ = "course_tags"

    course_id: int = Field(foreign_key="courses.id", primary_key=True)
    tag_id: int = Field(foreign_key="tags.id", primary_key=True, index=True)


class Instructor(SQLModel, table=True):
    """A teacher profile. `user_id` links to the account that manages it (owner or instructor)."""

    __tablename__ = "instructors"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    name: str = Field(max_length=40)
    title: str = Field(default="", max_length=80)  # one-line headline
    bio: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    avatar_path: str = Field(default="", max_length=255)
    status: str = Field(default="approved", max_length=16)  # pending | approved | rejected
    revenue_share_bp: int = Field(default=0)  # the instructor's share, in basis points of net revenue
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class Course(SQLModel, table=True):
    __tablename__ = "courses"
    __table_args__ = (
        Index("ix_courses_status_published", "status", "published_at"),
        Index("ix_courses_status_sales", "status", "sales_count"),
        Index("ix_courses_category_status", "category_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=80, unique=True)
    title: str = Field(max_length=80)
    subtitle: str = Field(default="", max_length=160)
    intro_html: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # sanitised
    audience: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    cover_path: str = Field(default="", max_length=255)  # public image name
    category_id: int | None = Field(default=None, foreign_key="categories.id")
    instructor_id: int | None = Field(default=None, foreign_key="instructors.id", index=True)
    price_fen: int = Field(default=0, ge=0)
    original_price_fen: int = Field(default=0, ge=0)
    status: str = Field(default="draft", max_length=16)  # domain.catalog.CourseStatus
    published_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    is_featured: bool = Field(default=False)
    featured_rank: int = Field(default=0)
    member_only: bool = Field(default=False)  # unlocked by membership (a marketing feature still to come)
    no_seek_first_watch: bool = Field(default=False)  # player policy
    learners_count: int = Field(default=0)
    sales_count: int = Field(default=0)
    rating_sum: int = Field(default=0)
    rating_count: int = Field(default=0)
    lesson_count: int = Field(default=0)
    total_duration_seconds: int = Field(default=0)
    # Lower-cased title + subtitle + instructor + tags; searched by substring so Chinese needs no tokenizer.
    search_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class Chapter(SQLModel, table=True):
    __tablename__ = "chapters"
    __table_args__ = (Index("ix_chapters_course_position", "course_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    course_id: int = Field(foreign_key="courses.id")
    title: str = Field(max_length=80)
    position: int = Field(default=0)


class MediaAsset(SQLModel, table=True):
    """A private media file under the media root. Served only through /api/media with a token."""

    __tablename__ = "media_assets"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=8)  # video | audio
    storage_key: str = Field(max_length=255, unique=True)  # path relative to the media root
    mime: str = Field(max_length=60)
    size_bytes: int = Field(default=0)
    duration_seconds: int = Field(default=0)
    status: str = Field(default="ready", max_length=16)  # uploading | processing | ready | failed
    renditions: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False, default=dict))
    error: str = Field(default="", max_length=500)
    uploaded_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class Lesson(SQLModel, table=True):
    __tablename__ = "lessons"
    __table_args__ = (Index("ix_lessons_chapter_position", "chapter_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    course_id: int = Field(foreign_key="courses.id", index=True)
    chapter_id: int = Field(foreign_key="chapters.id")
    title: str = Field(max_length=80)
    kind: str = Field(max_length=12)  # video | audio | article | live_replay
    position: int = Field(default=0)
    duration_seconds: int = Field(default=0)  # reading minutes * 60 for articles
    is_free_trial: bool = Field(default=False)  # whole lesson free
    free_seconds: int = Field(default=0)  # >0: non-buyers may play the first N seconds
    media_asset_id: int | None = Field(default=None, foreign_key="media_assets.id")
    audio_asset_id: int | None = Field(default=None, foreign_key="media_assets.id")  # listen mode
    article_html: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # sanitised
    release_at: datetime | None = Field(default=None, sa_type=UtcDateTime)  # drip by date
    release_after_days: int = Field(default=0)  # drip by days after purchase
    # The clip non-buyers get for `free_seconds` (made by the media pipeline). It is ready only
    # while it was cut from the current media asset at the current free_seconds.
    preview_key: str = Field(default="", max_length=255)
    preview_asset_id: int | None = Field(default=None)
    preview_seconds: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class Bundle(SQLModel, table=True):
    """A priced series (专栏) of courses."""

    __tablename__ = "bundles"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=80, unique=True)
    title: str = Field(max_length=80)
    subtitle: str = Field(default="", max_length=160)
    cover_path: str = Field(default="", max_length=255)
    price_fen: int = Field(default=0, ge=0)
    original_price_fen: int = Field(default=0, ge=0)
    status: str = Field(default="draft", max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class BundleCourse(SQLModel, table=True):
    __tablename__ = "bundle_courses"
    __table_args__ = (UniqueConstraint("bundle_id", "course_id"),)

    id: int | None = Field(default=None, primary_key=True)
    bundle_id: int = Field(foreign_key="bundles.id", index=True)
    course_id: int = Field(foreign_key="courses.id", index=True)
    position: int = Field(default=0)

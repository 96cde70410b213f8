"""Catalog vocabulary: course status, lesson kinds, entitlement sources, roles."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    LEARNER = "learner"
    INSTRUCTOR = "instructor"
    STAFF = "staff"
    OWNER = "owner"


class CourseStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    UNPUBLISHED = "unpublished"
    ARCHIVED = "archived"


# Taking a course down (unpublish) or archiving it hides it from the storefront, but the people who
# bought it keep studying it: progress, check-ins, reviews and certificates go on. Drafts are only
# seen by the course's managers.
OPEN_TO_BUYERS = (CourseStatus.PUBLISHED.value, CourseStatus.UNPUBLISHED.value, CourseStatus.ARCHIVED.value)


def open_to_buyers(status: str) -> bool:
    return status in OPEN_TO_BUYERS


class LessonKind(StrEnum):
    VIDEO = "video"
    AUDIO = "audio"
    ARTICLE = "article"
    LIVE_REPLAY = "live_replay"


class EntitlementSource(StrEnum):
    ORDER = "order"
    GIFT = "gift"
    MEMBERSHIP = "membership"
    REDEEM = "redeem"
    MANUAL = "manual"
    BUNDLE = "bundle"
    GRANT = "grant"  # given by owner/staff from the learner profile


def format_duration(seconds: int) -> str:
    """Outline durations: 75 -> '01:15', 3725 -> '1:02:05'."""
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def build_search_text(title: str, subtitle: str, instructor: str, tags: list[str]) -> str:
    """The text a course is found by: lower-cased, one field per line.

    Search is substring matching on this column, so Chinese needs no word segmentation:
    "摄影" is found inside "手机摄影入门" without a tokenizer.
    """
    parts = [title, subtitle, instructor, *tags]
    return "\n".join(p.strip().lower() for p in parts if p and p.strip())

"""Who may play which lesson, and signed media URLs minted after that check.

Access to a lesson of a published course:
- FULL: the viewer has an active entitlement (not revoked, not expired) or the lesson is a free trial;
- PARTIAL: otherwise, when the lesson has `free_seconds` > 0 (first N seconds);
- LOCKED: anything else (no media URL is minted).
The same check runs when the URL is minted and again on every media request, so revoking an
entitlement stops playback as soon as the next range request arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import or_
from sqlmodel import Session, select

from coursemall.domain.catalog import CourseStatus
from coursemall.domain.errors import DomainError
from coursemall.media.tokens import media_url, mint_token
from coursemall.models import Course, Entitlement, Lesson, MediaAsset, utcnow

MAX_ID = 2**31 - 1


class Access(StrEnum):
    FULL = "full"
    PARTIAL = "partial"
    LOCKED = "locked"


def valid_id(value: object) -> int | None:
    """A positive database id from untrusted input (int or digit string), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value <= MAX_ID else None
    if isinstance(value, str) and 0 < len(value) <= 10 and value.isascii() and value.isdigit():
        number = int(value)
        return number if 0 < number <= MAX_ID else None
    return None


def has_active_entitlement(session: Session, *, user_id: int | None, course_id: int) -> bool:
    if not user_id:
        return False
    now = utcnow()
    row = session.exec(
        select(Entitlement.id).where(
            Entitlement.user_id == user_id,
            Entitlement.course_id == course_id,
            Entitlement.revoked_at.is_(None),  # type: ignore[union-attr]
            or_(Entitlement.expires_at.is_(None), Entitlement.expires_at > now),  # type: ignore[union-attr,operator]
        ).limit(1)
    ).first()
    return row is not None


def decide_access(*, entitled: bool, is_free_trial: bool, free_seconds: int) -> Access:
    if entitled or is_free_trial:
        return Access.FULL
    if free_seconds > 0:
        return Access.PARTIAL
    return Access.LOCKED


@dataclass(frozen=True)
class LessonAccess:
    lesson_id: int
    course_id: int
    access: Access
    entitled: bool
    free_seconds: int


def check_lesson_access(session: Session, *, actor_id: int | None, lesson_id: object) -> LessonAccess:
    """Access of `actor_id` (None = anonymous) to a lesson; DomainError if it is not public."""
    lid = valid_id(lesson_id)
    if lid is None:
        raise DomainError("error.bad_request")
    row = session.exec(
        select(Lesson.id, Lesson.course_id, Lesson.is_free_trial, Lesson.free_seconds, Course.status)
        .join(Course, Course.id == Lesson.course_id)
        .where(Lesson.id == lid)
    ).first()
    if row is None or row[4] != CourseStatus.PUBLISHED:
        raise DomainError("error.not_found")
    _, course_id, is_free_trial, free_seconds, _ = row
    entitled = has_active_entitlement(session, user_id=actor_id, course_id=course_id)
    access = decide_access(entitled=entitled, is_free_trial=bool(is_free_trial),
                           free_seconds=int(free_seconds or 0))
    return LessonAccess(lid, course_id, access, entitled, int(free_seconds or 0))


@dataclass(frozen=True)
class MintedMedia:
    url: str
    kind: str  # video | audio
    mime: str
    access: Access
    free_seconds: int  # > 0 only when access is PARTIAL


def mint_lesson_media_url(session: Session, *, actor_id: int | None, lesson_id: object) -> MintedMedia:
    """A short-lived signed URL for the lesson's media, after the access check."""
    decision = check_lesson_access(session, actor_id=actor_id, lesson_id=lesson_id)
    if decision.access is Access.LOCKED:
        raise DomainError("lesson.locked")
    asset = session.exec(
        select(MediaAsset)
        .join(Lesson, Lesson.media_asset_id == MediaAsset.id)
        .where(Lesson.id == decision.lesson_id)
    ).first()
    if asset is None or asset.status != "ready":
        raise DomainError("lesson.no_media")
    token = mint_token(user_id=actor_id, lesson_id=decision.lesson_id, asset_id=asset.id)
    return MintedMedia(
        url=media_url(token),
        kind=asset.kind,
        mime=asset.mime,
        access=decision.access,
        free_seconds=decision.free_seconds if decision.access is Access.PARTIAL else 0,
    )


@dataclass(frozen=True)
class ServableMedia:
    storage_key: str
    mime: str


def resolve_media_for_claim(session: Session, *, user_id: int, lesson_id: int,
                            asset_id: int) -> ServableMedia | None:
    """Re-check a verified token's claim against the database now. None = refuse (403)."""
    try:
        decision = check_lesson_access(session, actor_id=user_id or None, lesson_id=lesson_id)
    except DomainError:
        return None
    if decision.access is Access.LOCKED:
        return None
    asset = session.exec(
        select(MediaAsset)
        .join(Lesson, or_(Lesson.media_asset_id == MediaAsset.id, Lesson.audio_asset_id == MediaAsset.id))
        .where(Lesson.id == lesson_id, MediaAsset.id == asset_id)
    ).first()
    if asset is None or asset.status != "ready":
        return None
    key = asset.storage_key
    if decision.access is Access.PARTIAL:
        # A trimmed preview made by the media pipeline keeps the rest of a paid lesson off the wire.
        preview = (asset.renditions or {}).get("preview") if isinstance(asset.renditions, dict) else None
        if isinstance(preview, str) and preview:
            key = preview
    return ServableMedia(storage_key=key, mime=asset.mime)

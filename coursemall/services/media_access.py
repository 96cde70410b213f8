"""Who may play which lesson, and signed media URLs minted after that check.

Access to a lesson:
- FULL: the viewer has an active entitlement (not revoked, not expired) and the lesson is
  released for them, or the lesson is a free trial;
- PARTIAL: otherwise, when the lesson has `free_seconds` > 0 (first N seconds);
- LOCKED: anything else (no media URL is minted).

Drip release: a lesson with `release_at` in the future is locked for everyone until then; a lesson
with `release_after_days` opens for a buyer that many days after their (earliest active) grant; until
then the buyer is treated as a non-buyer for that lesson (free previews still play). `unlocks_at`
says when it opens.

Course managers (owner/staff on a TOTP-verified session, or the course's approved instructor) get
FULL access with `preview=True` to every lesson of their course, published or not, released or
not ("preview as a learner"); previews record no progress (services/progress.require_study).

The same check runs when the URL is minted and again on every media request, so revoking an
entitlement stops playback as soon as the next range request arrives.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, or_
from sqlmodel import Session, select

from coursemall.domain.catalog import CourseStatus, open_to_buyers
from coursemall.domain.errors import DomainError
from coursemall.media.tokens import ANONYMOUS_BINDING, MediaClaim, media_url, mint_token, session_binding
from coursemall.models import Course, Entitlement, Lesson, MediaAsset, utcnow

MAX_ID = 2**31 - 1
QUALITY_RENDITIONS = ("hd", "sd")  # best first; the player offers a switch when both exist
_AUDIO_MIME = {".m4a": "audio/mp4", ".mp4": "audio/mp4", ".aac": "audio/aac", ".mp3": "audio/mpeg",
               ".ogg": "audio/ogg", ".webm": "audio/webm", ".wav": "audio/wav"}


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


def _active_grant_time(session: Session, *, user_id: int | None, course_id: int,
                       now: datetime) -> datetime | None:
    """When the viewer's earliest active entitlement to the course was granted; None = not entitled."""
    if not user_id:
        return None
    return session.exec(
        select(func.min(Entitlement.granted_at)).where(
            Entitlement.user_id == user_id,
            Entitlement.course_id == course_id,
            Entitlement.revoked_at.is_(None),  # type: ignore[union-attr]
            or_(Entitlement.expires_at.is_(None), Entitlement.expires_at > now),  # type: ignore[union-attr,operator]
        )
    ).one()


def has_active_entitlement(session: Session, *, user_id: int | None, course_id: int) -> bool:
    return _active_grant_time(session, user_id=user_id, course_id=course_id, now=utcnow()) is not None


def decide_access(*, entitled: bool, is_free_trial: bool, free_seconds: int) -> Access:
    if entitled or is_free_trial:
        return Access.FULL
    if free_seconds > 0:
        return Access.PARTIAL
    return Access.LOCKED


def is_course_manager(session: Session, *, actor_id: int | None, course_instructor_id: int | None,
                      mfa_verified: bool) -> bool:
    """Owner/staff on a TOTP-verified session, or the course's own approved instructor."""
    if not actor_id:
        return False
    from coursemall.services.permissions import dashboard_actor  # avoids an import cycle at start-up

    actor = dashboard_actor(session, actor_id)
    if actor is None:
        return False
    if actor.is_staff and mfa_verified:
        return True
    return actor.instructor_id is not None and actor.instructor_id == course_instructor_id


@dataclass(frozen=True)
class LessonAccess:
    lesson_id: int
    course_id: int
    access: Access
    entitled: bool  # holds an active entitlement to the course
    free_seconds: int
    preview: bool = False  # a course manager looking at it "as a learner" (no progress kept)
    unlocks_at: datetime | None = None  # drip release: when a locked/partial lesson opens for this viewer


def _drip_unlock(release_at: datetime | None, after_days: int, granted_at: datetime | None,
                 now: datetime) -> tuple[datetime | None, datetime | None]:
    """(date lock for everyone, purchase-relative lock for this buyer); None = not locked."""
    by_date = release_at if release_at is not None and release_at > now else None
    by_days = None
    if granted_at is not None and after_days > 0:
        opens = granted_at + timedelta(days=int(after_days))
        by_days = opens if opens > now else None
    return by_date, by_days


def drip_unlocks_at(*, release_at: datetime | None, after_days: int, granted_at: datetime | None,
                    now: datetime) -> datetime | None:
    """When a drip-released lesson opens for a viewer granted at `granted_at` (None = open now)."""
    by_date, by_days = _drip_unlock(release_at, int(after_days or 0), granted_at, now)
    return max((d for d in (by_date, by_days) if d is not None), default=None)


def active_grant_time(session: Session, *, user_id: int | None, course_id: int,
                      now: datetime | None = None) -> datetime | None:
    return _active_grant_time(session, user_id=user_id, course_id=course_id, now=now or utcnow())


def check_lesson_access(session: Session, *, actor_id: int | None, lesson_id: object,
                        mfa_verified: bool = False, now: datetime | None = None) -> LessonAccess:
    """Access of `actor_id` (None = anonymous) to a lesson; DomainError if it is not visible.
    `mfa_verified`: the viewer's session passed the TOTP step (owner/staff previews need it)."""
    lid = valid_id(lesson_id)
    if lid is None:
        raise DomainError("error.bad_request")
    row = session.exec(
        select(Lesson.course_id, Lesson.is_free_trial, Lesson.free_seconds, Lesson.release_at,
               Lesson.release_after_days, Course.status, Course.instructor_id)
        .join(Course, Course.id == Lesson.course_id)
        .where(Lesson.id == lid)
    ).first()
    if row is None:
        raise DomainError("error.not_found")
    course_id, is_free_trial, free_seconds, release_at, after_days, status, instructor_id = row
    free_seconds = int(free_seconds or 0)
    now = now or utcnow()
    granted_at = _active_grant_time(session, user_id=actor_id, course_id=course_id, now=now)
    entitled = granted_at is not None
    by_date, by_days = _drip_unlock(release_at, int(after_days or 0), granted_at, now)
    if by_date is not None:
        access = Access.LOCKED
    else:
        access = decide_access(entitled=entitled and by_days is None, is_free_trial=bool(is_free_trial),
                               free_seconds=free_seconds)
    published = status == CourseStatus.PUBLISHED
    if (not published or access is not Access.FULL) and is_course_manager(
            session, actor_id=actor_id, course_instructor_id=instructor_id, mfa_verified=mfa_verified):
        return LessonAccess(lid, course_id, Access.FULL, entitled, free_seconds, preview=True)
    if not published and not (entitled and open_to_buyers(status)):
        raise DomainError("error.not_found")  # drafts; taken-down courses stay open to their buyers
    unlocks_at = None
    if access is not Access.FULL:
        unlocks_at = max((d for d in (by_date, by_days) if d is not None), default=None)
    return LessonAccess(lid, course_id, access, entitled, free_seconds, unlocks_at=unlocks_at)


# ---------------------------------------------------------------------------------- minting

@dataclass(frozen=True)
class MintedMedia:
    url: str
    kind: str  # video | audio
    mime: str
    access: Access
    free_seconds: int  # > 0 only when access is PARTIAL


@dataclass(frozen=True)
class MediaSource:
    name: str  # src | hd | sd | audio
    url: str
    mime: str


@dataclass(frozen=True)
class PlayerMedia:
    kind: str  # video | audio (of the lesson's main asset)
    access: Access
    free_seconds: int  # > 0 only when access is PARTIAL
    sources: tuple[MediaSource, ...]  # hd then sd, or the single src; the first is the default
    listen: MediaSource | None  # an audio track of a video lesson ("listen mode"), if any


def _main_asset(session: Session, lesson_id: int) -> MediaAsset:
    asset = session.exec(select(MediaAsset).join(Lesson, Lesson.media_asset_id == MediaAsset.id)
                         .where(Lesson.id == lesson_id)).first()
    if asset is None or asset.status != "ready":
        raise DomainError("lesson.no_media")
    return asset


def _renditions(asset: MediaAsset) -> dict[str, str]:
    raw = asset.renditions if isinstance(asset.renditions, dict) else {}
    return {k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, str) and v}


def rendition_mime(name: str, key: str, original_mime: str) -> str:
    if name in QUALITY_RENDITIONS:
        return "video/mp4"
    if name == "audio":
        return _AUDIO_MIME.get(posixpath.splitext(key)[1].lower(), "audio/mp4")
    return original_mime


def _binding_for(actor_id: int | None, session_token_hash: str) -> str:
    if not actor_id:
        return ANONYMOUS_BINDING
    # A viewer's token without a usable session hash gets the anonymous marker, which the media
    # route never accepts for a signed-in user: such a URL is dead rather than portable.
    return session_binding(session_token_hash) or ANONYMOUS_BINDING


def mint_lesson_media_url(session: Session, *, actor_id: int | None, lesson_id: object,
                          session_token_hash: str = "", mfa_verified: bool = False) -> MintedMedia:
    """A short-lived signed URL for the lesson's original media (or its preview), after the check."""
    decision = check_lesson_access(session, actor_id=actor_id, lesson_id=lesson_id, mfa_verified=mfa_verified)
    if decision.access is Access.LOCKED:
        raise DomainError("lesson.locked")
    asset = _main_asset(session, decision.lesson_id)
    token = mint_token(user_id=actor_id, lesson_id=decision.lesson_id, asset_id=asset.id,
                       binding=_binding_for(actor_id, session_token_hash))
    return MintedMedia(url=media_url(token), kind=asset.kind, mime=asset.mime, access=decision.access,
                       free_seconds=decision.free_seconds if decision.access is Access.PARTIAL else 0)


def _listen_source(session: Session, lesson_id: int, asset: MediaAsset, mint) -> MediaSource | None:
    """The audio rendition of the video, else the lesson's separate audio asset, else None."""
    audio_key = _renditions(asset).get("audio")
    if audio_key:
        return MediaSource("audio", mint(asset.id, "audio"), rendition_mime("audio", audio_key, asset.mime))
    extra = session.exec(select(MediaAsset).join(Lesson, Lesson.audio_asset_id == MediaAsset.id)
                         .where(Lesson.id == lesson_id)).first()
    if extra is None or extra.status != "ready":
        return None
    return MediaSource("audio", mint(extra.id, "src"), extra.mime)


def mint_player_media(session: Session, *, actor_id: int | None, lesson_id: object, session_token_hash: str = "",
                      mfa_verified: bool = False, decision: LessonAccess | None = None) -> PlayerMedia:
    """One signed URL per rendition the viewer may play, each bound to the user, lesson, asset,
    rendition and (for signed-in viewers) their session. Free previews get the single preview source."""
    decision = decision or check_lesson_access(session, actor_id=actor_id, lesson_id=lesson_id,
                                               mfa_verified=mfa_verified)
    if decision.access is Access.LOCKED:
        raise DomainError("lesson.locked")
    asset = _main_asset(session, decision.lesson_id)
    binding = _binding_for(actor_id, session_token_hash)

    def mint(asset_id: int, rendition: str) -> str:
        return media_url(mint_token(user_id=actor_id, lesson_id=decision.lesson_id, asset_id=asset_id,
                                    rendition=rendition, binding=binding))

    if decision.access is Access.PARTIAL:
        only = MediaSource("src", mint(asset.id, "src"), asset.mime)
        return PlayerMedia(asset.kind, decision.access, decision.free_seconds, (only,), None)
    keys = _renditions(asset)
    sources = tuple(MediaSource(name, mint(asset.id, name), rendition_mime(name, keys[name], asset.mime))
                    for name in QUALITY_RENDITIONS if name in keys and asset.kind == "video")
    if not sources:
        sources = (MediaSource("src", mint(asset.id, "src"), asset.mime),)
    listen = _listen_source(session, decision.lesson_id, asset, mint) if asset.kind == "video" else None
    return PlayerMedia(asset.kind, decision.access, 0, sources, listen)


# ---------------------------------------------------------------------------------- serving

@dataclass(frozen=True)
class ServableMedia:
    storage_key: str
    mime: str


def resolve_media_for_claim(session: Session, claim: MediaClaim, *, mfa_verified: bool = False,
                            now: datetime | None = None) -> ServableMedia | None:
    """Re-check a verified token's claim against the database now. None = refuse (403).
    The session binding is checked by the caller (api/media.py), which knows the request."""
    try:
        decision = check_lesson_access(session, actor_id=claim.user_id or None, lesson_id=claim.lesson_id,
                                       mfa_verified=mfa_verified, now=now)
    except DomainError:
        return None
    if decision.access is Access.LOCKED:
        return None
    asset = session.exec(
        select(MediaAsset)
        .join(Lesson, or_(Lesson.media_asset_id == MediaAsset.id, Lesson.audio_asset_id == MediaAsset.id))
        .where(Lesson.id == claim.lesson_id, MediaAsset.id == claim.asset_id)
    ).first()
    if asset is None or asset.status != "ready":
        return None
    keys = _renditions(asset)
    if decision.access is Access.PARTIAL:
        if claim.rendition != "src":
            return None  # previews play one trimmed source, never a full rendition
        # A trimmed preview made by the media pipeline keeps the rest of a paid lesson off the wire.
        return ServableMedia(storage_key=keys.get("preview") or asset.storage_key, mime=asset.mime)
    if claim.rendition == "src":
        return ServableMedia(storage_key=asset.storage_key, mime=asset.mime)
    key = keys.get(claim.rendition)
    if not key:
        return None
    return ServableMedia(storage_key=key, mime=rendition_mime(claim.rendition, key, asset.mime))

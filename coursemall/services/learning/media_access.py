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

What each viewer is given (`mint_player_media`):
- FULL: the encrypted HLS variants the media pipeline made (api/hls.py), never a whole file; a
  manager previewing media that has no HLS yet gets the whole files (api/media.py);
- PARTIAL: the lesson's free-seconds clip only, once the pipeline made it for the lesson's current
  media and seconds (`preview_ready`); until then nothing at all;
- LOCKED: nothing.

The same check runs when the URL is minted and again on every media request, so revoking an
entitlement stops playback at the next segment or range request.
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
from coursemall.domain.validation import valid_id
from coursemall.media.tokens import ANONYMOUS_BINDING, MediaClaim, media_url, mint_token, session_binding
from coursemall.models import Course, Entitlement, Lesson, MediaAsset, utcnow

QUALITY_RENDITIONS = ("hd", "sd")  # best first; the player offers a switch when both exist
_AUDIO_MIME = {".m4a": "audio/mp4", ".mp4": "audio/mp4", ".aac": "audio/aac", ".mp3": "audio/mpeg",
               ".ogg": "audio/ogg", ".webm": "audio/webm", ".wav": "audio/wav"}


class Access(StrEnum):
    FULL = "full"
    PARTIAL = "partial"
    LOCKED = "locked"


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

def preview_ready(lesson: Lesson) -> bool:
    """The lesson's free-seconds clip exists for its current media and its current seconds."""
    return (bool(lesson.preview_key) and lesson.preview_asset_id is not None
            and lesson.preview_asset_id == lesson.media_asset_id
            and int(lesson.preview_seconds or 0) == int(lesson.free_seconds or 0) > 0)


def preview_mime(kind: str) -> str:
    return "video/mp4" if kind == "video" else "audio/mp4"


HLS_MIME = "application/vnd.apple.mpegurl"


@dataclass(frozen=True)
class MintedMedia:
    url: str
    kind: str  # video | audio
    mime: str
    access: Access
    free_seconds: int  # > 0 only when access is PARTIAL


@dataclass(frozen=True)
class MediaSource:
    name: str  # hd | sd | src (the single source: an audio lesson's playlist, the preview clip) | audio
    url: str
    mime: str  # HLS_MIME for encrypted playlists (the player uses hls.js), else the file's type


@dataclass(frozen=True)
class PlayerMedia:
    kind: str  # video | audio (of the lesson's main asset)
    access: Access
    free_seconds: int  # > 0 only when access is PARTIAL
    sources: tuple[MediaSource, ...]  # hd then sd, or the single src; the first is the default
    listen: MediaSource | None  # an audio track of a video lesson ("listen mode"), if any
    preparing: bool = False  # nothing this viewer may play exists yet (clip or HLS being made)


def _main_asset(session: Session, lesson_id: int) -> MediaAsset:
    asset = session.exec(select(MediaAsset).join(Lesson, Lesson.media_asset_id == MediaAsset.id)
                         .where(Lesson.id == lesson_id)).first()
    if asset is None or asset.status != "ready":
        raise DomainError("lesson.no_media")
    return asset


def _renditions(asset: MediaAsset) -> dict[str, str]:
    raw = asset.renditions if isinstance(asset.renditions, dict) else {}
    return {k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, str) and v}


def hls_folder(asset: MediaAsset, variant: str) -> str:
    """Storage key of the asset's encrypted `variant` (hd | sd | audio) folder, "" if none. Assets
    transcoded before variants existed have one HD playlist under "hls"."""
    keys = _renditions(asset)
    folder = keys.get(f"hls_{variant}", "")
    if not folder and variant == "hd" and asset.kind == "video":
        folder = keys.get("hls", "")
    return folder


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


def hls_playlist_url(lesson_id: int, asset_id: int, variant: str, token: str) -> str:
    return f"/api/hls/{int(lesson_id)}/{int(asset_id)}/{variant}/index.m3u8?t={token}"


def mint_lesson_media_url(session: Session, *, actor_id: int | None, lesson_id: object,
                          session_token_hash: str = "", mfa_verified: bool = False) -> MintedMedia:
    """The default source of the lesson for this viewer (after the check): the encrypted playlist,
    or the free-seconds clip for a partial preview. DomainError when there is nothing to play."""
    media = mint_player_media(session, actor_id=actor_id, lesson_id=lesson_id,
                              session_token_hash=session_token_hash, mfa_verified=mfa_verified)
    if not media.sources:
        raise DomainError("lesson.media_preparing")
    first = media.sources[0]
    return MintedMedia(url=first.url, kind=media.kind, mime=first.mime, access=media.access,
                       free_seconds=media.free_seconds)


def _lesson_row(session: Session, lesson_id: int) -> Lesson:
    lesson = session.get(Lesson, lesson_id)
    if lesson is None:
        raise DomainError("error.not_found")
    return lesson


def _listen_asset(session: Session, lesson: Lesson, asset: MediaAsset) -> MediaAsset | None:
    """The asset holding the lesson's listen-mode audio: the video's own audio variant, else the
    lesson's separate audio asset."""
    if hls_folder(asset, "audio") or "audio" in _renditions(asset):
        return asset
    if not lesson.audio_asset_id:
        return None
    extra = session.get(MediaAsset, lesson.audio_asset_id)
    return extra if extra is not None and extra.status == "ready" else None


def mint_player_media(session: Session, *, actor_id: int | None, lesson_id: object, session_token_hash: str = "",
                      mfa_verified: bool = False, decision: LessonAccess | None = None) -> PlayerMedia:
    """What this viewer may play, each URL signed for the user, lesson, asset, rendition and (for
    signed-in viewers) their session:
    - partial preview: the lesson's free-seconds clip only (none until the pipeline made it);
    - full access: the encrypted HLS variants (HD/SD, or the audio lesson's playlist) and the audio
      variant for listen mode; nothing until the pipeline made them. Course managers previewing a
      lesson whose media has no HLS yet get the whole files instead."""
    decision = decision or check_lesson_access(session, actor_id=actor_id, lesson_id=lesson_id,
                                               mfa_verified=mfa_verified)
    if decision.access is Access.LOCKED:
        raise DomainError("lesson.locked")
    asset = _main_asset(session, decision.lesson_id)
    lesson = _lesson_row(session, decision.lesson_id)
    binding = _binding_for(actor_id, session_token_hash)

    def token(asset_id: int, rendition: str) -> str:
        return mint_token(user_id=actor_id, lesson_id=decision.lesson_id, asset_id=asset_id, rendition=rendition,
                          binding=binding)

    if decision.access is Access.PARTIAL:
        if not preview_ready(lesson):
            return PlayerMedia(asset.kind, decision.access, decision.free_seconds, (), None, preparing=True)
        clip = MediaSource("src", media_url(token(asset.id, "preview")), preview_mime(asset.kind))
        return PlayerMedia(asset.kind, decision.access, decision.free_seconds, (clip,), None)

    def playlist(source_asset: MediaAsset, variant: str, name: str) -> MediaSource | None:
        if not hls_folder(source_asset, variant):
            return None
        url = hls_playlist_url(decision.lesson_id, source_asset.id, variant, token(source_asset.id, f"hls-{variant}"))
        return MediaSource(name, url, HLS_MIME)

    if asset.kind == "video":
        found = (playlist(asset, "hd", "hd"), playlist(asset, "sd", "sd"))
    else:
        found = (playlist(asset, "audio", "src"),)
    sources = tuple(src for src in found if src is not None)
    listen_asset = _listen_asset(session, lesson, asset) if asset.kind == "video" else None
    listen = playlist(listen_asset, "audio", "audio") if listen_asset is not None else None
    if sources:
        return PlayerMedia(asset.kind, decision.access, 0, sources, listen)
    if decision.preview:
        return _whole_files_for_manager(session, lesson, asset, decision, token)
    return PlayerMedia(asset.kind, decision.access, 0, (), None, preparing=True)


def _whole_files_for_manager(session: Session, lesson: Lesson, asset: MediaAsset, decision: LessonAccess,
                             token) -> PlayerMedia:
    keys = _renditions(asset)
    sources = tuple(MediaSource(name, media_url(token(asset.id, name)), rendition_mime(name, keys[name], asset.mime))
                    for name in QUALITY_RENDITIONS if name in keys and asset.kind == "video")
    if not sources:
        sources = (MediaSource("src", media_url(token(asset.id, "src")), asset.mime),)
    listen = None
    listen_asset = _listen_asset(session, lesson, asset) if asset.kind == "video" else None
    if listen_asset is not None:
        audio_key = _renditions(listen_asset).get("audio")
        name = "audio" if audio_key else "src"
        listen = MediaSource("audio", media_url(token(listen_asset.id, name)),
                             rendition_mime("audio", audio_key, listen_asset.mime) if audio_key else listen_asset.mime)
    return PlayerMedia(asset.kind, decision.access, 0, sources, listen)


# ---------------------------------------------------------------------------------- serving

@dataclass(frozen=True)
class ServableMedia:
    storage_key: str
    mime: str


def resolve_media_for_claim(session: Session, claim: MediaClaim, *, mfa_verified: bool = False,
                            now: datetime | None = None) -> ServableMedia | None:
    """Re-check a verified /api/media token's claim against the database now. None = refuse (403).
    Learners get one thing here: a partial preview's clip. Whole files (the original and its MP4/M4A
    renditions) go only to course managers previewing their course; buyers play encrypted HLS.
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
    if decision.access is Access.PARTIAL:
        lesson = session.get(Lesson, claim.lesson_id)
        if claim.rendition != "preview" or lesson is None or lesson.media_asset_id != asset.id \
                or not preview_ready(lesson):
            return None  # never the original or a full rendition; no clip yet = nothing at all
        return ServableMedia(storage_key=lesson.preview_key, mime=preview_mime(asset.kind))
    if not decision.preview:
        return None  # learners with full access play the encrypted HLS (api/hls.py)
    if claim.rendition == "src":
        return ServableMedia(storage_key=asset.storage_key, mime=asset.mime)
    key = _renditions(asset).get(claim.rendition)
    if not key or claim.rendition not in (*QUALITY_RENDITIONS, "audio"):
        return None
    return ServableMedia(storage_key=key, mime=rendition_mime(claim.rendition, key, asset.mime))


# ---------------------------------------------------------------------------------- HLS

@dataclass(frozen=True)
class HlsTarget:
    folder: str  # storage key of the variant's folder
    course_id: int
    meter: bool  # a learner with a purchase: what is served counts as consumed


def resolve_hls(session: Session, *, actor_id: int | None, lesson_id: int, asset_id: int, variant: str,
                mfa_verified: bool = False) -> HlsTarget | None:
    """May this viewer receive the encrypted `variant` of the asset now? Full access (bought and not
    revoked/expired, released, or a free-trial lesson; or a manager's preview), the asset is the
    lesson's media or its listen track, ready, with that variant. None = refuse (403)."""
    try:
        decision = check_lesson_access(session, actor_id=actor_id, lesson_id=lesson_id, mfa_verified=mfa_verified)
    except DomainError:
        return None
    if decision.access is not Access.FULL:
        return None
    asset = session.exec(
        select(MediaAsset)
        .join(Lesson, or_(Lesson.media_asset_id == MediaAsset.id, Lesson.audio_asset_id == MediaAsset.id))
        .where(Lesson.id == lesson_id, MediaAsset.id == asset_id)
    ).first()
    if asset is None or asset.status != "ready":
        return None
    folder = hls_folder(asset, variant)
    if not folder:
        return None
    return HlsTarget(folder, decision.course_id, meter=bool(actor_id) and decision.entitled and not decision.preview)

"""Resumable chunked media uploads for a lesson (the media pipeline's first step).

Lifecycle of an UploadSession: uploading -> complete (a MediaAsset + a queued MediaJob exist)
                                        -> failed (not media; the lesson is unchanged)
                                        -> aborted (cancelled by the uploader)
- The part file lives under `<media_dir>/uploads/<upload_key>/` (the private media root, never a
  public folder); its name is generated here, the browser's file name is only displayed.
- Chunks are appended strictly in order: the file on disk is the truth for "bytes received", and
  an exclusive `flock` on it makes two concurrent PUTs (two app workers) safe: the second one sees
  the new size and is refused as out of order.
- Only the user who created an upload may continue, complete or cancel it, and only while they
  still manage the lesson's course (the course is re-checked at every step).
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import update
from sqlmodel import Session, select

from coursemall.domain.catalog import LessonKind
from coursemall.domain.errors import DomainError
from coursemall.domain.validation import valid_id
from coursemall.media import ffmpeg
from coursemall.models import Lesson, MediaAsset, utcnow
from coursemall.models.media_pipeline import MediaJob, UploadSession
from coursemall.services import audit
from coursemall.services.permissions import DashboardActor, require_course_manager, require_dashboard

CHUNK_MAX = 8 * 1024 * 1024
UPLOAD_DIR = "uploads"
_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
_VIDEO_LESSONS = {LessonKind.VIDEO.value, LessonKind.LIVE_REPLAY.value}
_AUDIO_LESSONS = {LessonKind.AUDIO.value}
_EXT_RE = re.compile(r"\.([A-Za-z0-9]{1,5})$")


@dataclass(frozen=True)
class UploadView:
    upload_key: str
    status: str
    size_bytes: int
    received_bytes: int
    error: str  # a message key ('' when none)
    media_asset_id: int | None
    job_id: int | None = None


def _view(row: UploadSession, job_id: int | None = None) -> UploadView:
    return UploadView(row.upload_key, row.status, row.size_bytes, row.received_bytes, row.error,
                      row.media_asset_id, job_id)


def clean_filename(value: object) -> str:
    """A display name only (never a path): last path part, printable, at most 200 chars."""
    if not isinstance(value, str) or not value.strip() or len(value) > 1000:
        raise DomainError("upload.bad_filename")
    name = value.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if not name or name in (".", ".."):
        raise DomainError("upload.bad_filename")
    return name[:200]


def _size(value: object, max_bytes: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise DomainError("upload.bad_size")
    if value > max_bytes:
        raise DomainError("upload.too_large", max_mb=max_bytes // (1024 * 1024))
    return value


def lesson_for_manager(session: Session, actor: DashboardActor, lesson_id: object) -> Lesson:
    """The lesson, when the actor manages its course; the same 'not found' otherwise."""
    lid = valid_id(lesson_id)
    lesson = session.get(Lesson, lid) if lid else None
    if lesson is None:
        raise DomainError("error.not_found")
    require_course_manager(session, actor, lesson.course_id)
    return lesson


def part_path(media_dir: Path, upload_key: str) -> Path:
    return media_dir / UPLOAD_DIR / upload_key / "upload.part"


def create_upload(session: Session, *, actor_id: object, lesson_id: object, filename: object,
                  size_bytes: object, media_dir: Path, max_bytes: int) -> UploadView:
    actor = require_dashboard(session, actor_id)
    lesson = lesson_for_manager(session, actor, lesson_id)
    if lesson.kind not in _VIDEO_LESSONS | _AUDIO_LESSONS:
        raise DomainError("upload.lesson_not_media")
    name = clean_filename(filename)
    size = _size(size_bytes, max_bytes)
    key = secrets.token_urlsafe(24)
    path = part_path(media_dir, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(exist_ok=False)
    row = UploadSession(upload_key=key, user_id=actor.user_id, lesson_id=lesson.id, filename=name,
                        size_bytes=size)
    session.add(row)
    session.flush()
    audit.record(session, actor_id=actor.user_id, action="media.upload_start", target=f"lesson:{lesson.id}",
                 detail={"upload": row.id, "size": size, "filename": name})
    session.commit()
    return _view(row)


def _own_upload(session: Session, actor: DashboardActor, upload_key: object) -> UploadSession:
    if not isinstance(upload_key, str) or not _KEY_RE.match(upload_key):
        raise DomainError("error.not_found")
    row = session.exec(select(UploadSession).where(UploadSession.upload_key == upload_key)).first()
    if row is None or row.user_id != actor.user_id:
        raise DomainError("error.not_found")
    lesson_for_manager(session, actor, row.lesson_id)  # still manages the course
    return row


def upload_status(session: Session, *, actor_id: object, upload_key: object, media_dir: Path) -> UploadView:
    actor = require_dashboard(session, actor_id)
    row = _own_upload(session, actor, upload_key)
    if row.status == "uploading":
        path = part_path(media_dir, row.upload_key)
        received = path.stat().st_size if path.is_file() else 0
        return UploadView(row.upload_key, row.status, row.size_bytes, received, "", None)
    job = session.exec(select(MediaJob.id).where(MediaJob.media_asset_id == row.media_asset_id)).first() \
        if row.media_asset_id else None
    return _view(row, job)


def write_chunk(session: Session, *, actor_id: object, upload_key: object, offset: object, data: bytes,
                media_dir: Path) -> UploadView:
    """Append `data` at `offset`, which must equal the bytes already received."""
    actor = require_dashboard(session, actor_id)
    row = _own_upload(session, actor, upload_key)
    if row.status != "uploading":
        raise DomainError("upload.not_open")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise DomainError("upload.bad_offset", expected=row.received_bytes)
    if not data:
        raise DomainError("upload.empty_chunk")
    if len(data) > CHUNK_MAX:
        raise DomainError("upload.chunk_too_large", max_mb=CHUNK_MAX // (1024 * 1024))
    if offset + len(data) > row.size_bytes:
        raise DomainError("upload.beyond_size")
    session.commit()  # no transaction stays open while the file is written
    received = _append(part_path(media_dir, row.upload_key), offset, data)
    session.execute(update(UploadSession).where(UploadSession.id == row.id, UploadSession.status == "uploading")
                    .values(received_bytes=received, updated_at=utcnow()))
    session.commit()
    return UploadView(row.upload_key, "uploading", row.size_bytes, received, "", None)


def _append(path: Path, offset: int, data: bytes) -> int:
    try:
        handle = open(path, "r+b")
    except FileNotFoundError as exc:
        raise DomainError("upload.not_open") from exc
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise DomainError("upload.busy") from exc
        size = os.fstat(handle.fileno()).st_size
        if offset != size:
            raise DomainError("upload.bad_offset", expected=size)
        handle.seek(offset)
        handle.write(data)
        handle.flush()
        return size + len(data)


def cancel_upload(session: Session, *, actor_id: object, upload_key: object, media_dir: Path) -> UploadView:
    actor = require_dashboard(session, actor_id)
    row = _own_upload(session, actor, upload_key)
    if row.status != "uploading":
        raise DomainError("upload.not_open")
    won = session.execute(update(UploadSession).where(UploadSession.id == row.id,
                                                      UploadSession.status == "uploading")
                          .values(status="aborted", updated_at=utcnow())).rowcount
    session.commit()
    if won == 1:
        shutil.rmtree(part_path(media_dir, row.upload_key).parent, ignore_errors=True)
    session.refresh(row)
    return _view(row)


def _extension(filename: str, probe: ffmpeg.ProbeResult) -> str:
    match = _EXT_RE.search(filename)
    ext = match.group(1).lower() if match else ""
    return ext if ext in {"mp4", "m4v", "mov", "mkv", "webm", "mp3", "m4a", "aac", "wav", "ogg", "oga", "flac",
                          "opus"} else ("mp4" if probe.has_video else "bin")


def complete_upload(session: Session, *, actor_id: object, upload_key: object, media_dir: Path) -> UploadView:
    """All bytes there -> probe -> a MediaAsset (processing) and a queued MediaJob. Not media ->
    the upload fails with a clear message and the lesson is unchanged. Repeating is harmless."""
    actor = require_dashboard(session, actor_id)
    row = _own_upload(session, actor, upload_key)
    if row.status != "uploading":
        return upload_status(session, actor_id=actor_id, upload_key=upload_key, media_dir=media_dir)
    path = part_path(media_dir, row.upload_key)
    received = path.stat().st_size if path.is_file() else 0
    if received != row.size_bytes:
        raise DomainError("upload.incomplete", received=received, size=row.size_bytes)
    session.commit()
    probe = ffmpeg.probe(path)
    lesson = lesson_for_manager(session, actor, row.lesson_id)
    reason = _refusal(probe, lesson.kind)
    if reason:
        return _fail_upload(session, row, reason, media_dir)
    return _accept_upload(session, actor, row, lesson, probe, media_dir)


def _refusal(probe: ffmpeg.ProbeResult, lesson_kind: str) -> str:
    if not probe.is_media:
        return probe.refusal or "upload.not_media"  # a manifest/playlist or a refused container says so
    if lesson_kind in _VIDEO_LESSONS and not probe.has_video:
        return "upload.needs_video"
    if lesson_kind in _AUDIO_LESSONS and not probe.has_audio:
        return "upload.needs_audio"
    return ""


def _fail_upload(session: Session, row: UploadSession, reason: str, media_dir: Path) -> UploadView:
    won = session.execute(update(UploadSession).where(UploadSession.id == row.id,
                                                      UploadSession.status == "uploading")
                          .values(status="failed", error=reason, updated_at=utcnow())).rowcount
    session.commit()
    if won == 1:
        shutil.rmtree(part_path(media_dir, row.upload_key).parent, ignore_errors=True)
    session.refresh(row)
    return _view(row)


def _accept_upload(session: Session, actor: DashboardActor, row: UploadSession, lesson: Lesson,
                   probe: ffmpeg.ProbeResult, media_dir: Path) -> UploadView:
    won = session.execute(update(UploadSession).where(UploadSession.id == row.id,
                                                      UploadSession.status == "uploading")
                          .values(status="complete", updated_at=utcnow())).rowcount
    if won != 1:  # another request completed it first
        session.rollback()
        session.refresh(row)
        return _view(row)
    key = f"{UPLOAD_DIR}/{row.upload_key}/original.{_extension(row.filename, probe)}"
    part_path(media_dir, row.upload_key).replace(media_dir / key)
    kind = "video" if lesson.kind in _VIDEO_LESSONS else "audio"
    asset = MediaAsset(kind=kind, storage_key=key, mime=probe.mime, size_bytes=row.size_bytes,
                       duration_seconds=round(probe.duration), status="processing", uploaded_by=actor.user_id)
    session.add(asset)
    session.flush()
    job = MediaJob(media_asset_id=asset.id, lesson_id=lesson.id)
    session.add(job)
    _attach_if_nothing_plays(session, lesson, asset)
    row.media_asset_id = asset.id
    row.received_bytes = row.size_bytes
    session.add(row)
    session.flush()
    audit.record(session, actor_id=actor.user_id, action="media.upload_complete", target=f"lesson:{lesson.id}",
                 detail={"upload": row.id, "asset": asset.id, "job": job.id, "seconds": asset.duration_seconds})
    session.commit()
    return _view(row, job.id)


def _attach_if_nothing_plays(session: Session, lesson: Lesson, asset: MediaAsset) -> None:
    """A lesson without a ready asset shows the new one (processing) at once; a lesson that has
    one keeps playing it until the job succeeds (services/media/transcode.py switches it then)."""
    current = session.get(MediaAsset, lesson.media_asset_id) if lesson.media_asset_id else None
    if current is None or current.status != "ready":
        lesson.media_asset_id = asset.id
        session.add(lesson)


STALE_AFTER = timedelta(hours=24)


def expire_stale_uploads(session: Session, *, media_dir: Path, now: datetime | None = None,
                         older_than: timedelta = STALE_AFTER, batch: int = 100) -> int:
    """Abort uploads untouched for `older_than` and delete their part files (disk space).
    Compare-and-set per row, so several workers sweeping at once delete each once."""
    cutoff = (now or utcnow()) - older_than
    stale = session.exec(select(UploadSession.id, UploadSession.upload_key)
                         .where(UploadSession.status == "uploading", UploadSession.updated_at < cutoff)
                         .order_by(UploadSession.id).limit(batch)).all()
    session.commit()
    expired = 0
    for upload_id, key in stale:
        won = session.execute(update(UploadSession).where(UploadSession.id == upload_id,
                                                          UploadSession.status == "uploading",
                                                          UploadSession.updated_at < cutoff)
                              .values(status="aborted", error="upload.expired", updated_at=utcnow())).rowcount
        session.commit()
        if won == 1:
            shutil.rmtree(part_path(media_dir, key).parent, ignore_errors=True)
            expired += 1
    return expired

"""The media job queue: claim, run, finish, fail, retry, and the dashboard's views of it.

Safe with several app workers (each runs `jobs.media.media_jobs_loop`):
- a worker claims a job with a compare-and-set UPDATE (queued, or running with an expired lease
  -> running, lease_owner = host:pid:uuid, lease_until = now + LEASE); only a row count of 1 wins,
  so on SQLite and PostgreSQL alike one job is run by one worker;
- while ffmpeg runs, the worker renews the lease (heartbeat) only if it still owns it; if another
  worker took the job over (lease expired), ffmpeg is stopped and nothing is written;
- finish/fail are compare-and-set on (status='running', lease_owner=me), in one transaction with
  the asset, lesson and course changes.

Job kinds (MediaJob.kind):
- transcode (and hls, the same for an asset made before encrypted HLS existed): a video source
  gets HD (<=720p) and SD (<=360p) H.264/AAC MP4s, an AAC .m4a for listen mode, a JPEG poster
  (public dir) and AES-128 HLS variants hd/sd/audio cut from those files (one random key per
  variant; api/hls.py serves playlists, segments and keys after an access check); an audio source
  gets the .m4a and its encrypted audio variant;
- preview: the lesson's clip of its first `free_seconds` (what non-buyers get, and all they get),
  queued by `queue_preview` wherever the seconds or the lesson's media change.
Files are written as *.part and renamed, so a job taken over after a crash starts clean. Uploads
are untrusted: ffmpeg reads them with protocol and demuxer whitelists (media/ffmpeg.py).
One module (about 600 lines) because the lease rules above hold for every step of a job, from the
claim to the dashboard's retry; what a step writes (HLS, preview clips) is in packaging.py.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import and_, exists, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from coursemall.domain.errors import DomainError
from coursemall.domain.validation import valid_id
from coursemall.media import ffmpeg
from coursemall.models import Course, Lesson, MediaAsset, utcnow
from coursemall.models.media_pipeline import MediaJob
from coursemall.services import audit
from coursemall.services.learning.media_access import preview_ready
from coursemall.services.media.packaging import JobFailed, finish_part, inside, make_hls, make_preview_clip
from coursemall.services.permissions import course_scope, require_course_manager, require_dashboard

log = logging.getLogger("coursemall.media")

MAX_ATTEMPTS = 3
LEASE_SECONDS = 60
HEARTBEAT_SECONDS = 10  # lease renewal even when ffmpeg prints nothing
PROGRESS_SECONDS = 2.0
JOB_STATUSES = ("queued", "running", "done", "failed")
HD_HEIGHT, SD_HEIGHT = 720, 360
POSTER_DIR = "posters"
UPLOAD_DIR = "uploads"  # services/media/uploads.py keeps originals in uploads/<key>/


def worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


# ---- claiming -------------------------------------------------------------------------------

def claim_job(session: Session, *, owner: str, now: datetime | None = None,
              lease_seconds: int = LEASE_SECONDS) -> int | None:
    """Claim one job for `owner`: queued and due, or running with an expired lease. None = no work."""
    now = now or utcnow()
    claimable = or_(and_(MediaJob.status == "queued", MediaJob.run_after <= now),
                    and_(MediaJob.status == "running", MediaJob.lease_until < now))
    candidates = session.exec(select(MediaJob.id).where(claimable).order_by(MediaJob.id).limit(5)).all()
    session.commit()
    for job_id in candidates:
        won = session.execute(
            update(MediaJob).where(MediaJob.id == job_id, claimable)
            .values(status="running", lease_owner=owner, lease_until=now + timedelta(seconds=lease_seconds),
                    attempts=MediaJob.attempts + 1, progress_pct=0, step="", error="")
            .execution_options(synchronize_session=False)).rowcount
        session.commit()
        if won == 1:
            return job_id
    return None


def heartbeat(session: Session, *, job_id: int, owner: str, progress_pct: int, step: str,
              lease_seconds: int = LEASE_SECONDS) -> bool:
    """Renew the lease and publish progress; False when this worker no longer owns the job."""
    won = session.execute(
        update(MediaJob).where(MediaJob.id == job_id, MediaJob.lease_owner == owner, MediaJob.status == "running")
        .values(lease_until=utcnow() + timedelta(seconds=lease_seconds), progress_pct=max(0, min(progress_pct, 100)),
                step=step[:40])
        .execution_options(synchronize_session=False)).rowcount
    session.commit()
    return won == 1


# ---- running --------------------------------------------------------------------------------

@dataclass
class JobInput:
    job_id: int
    job_kind: str  # transcode | hls | preview (MediaJob.kind)
    asset_id: int
    kind: str  # video | audio
    source: Path
    folder: Path  # where the renditions go (the asset's own folder)
    key_prefix: str  # storage-key prefix of that folder
    attempts: int
    lesson_id: int | None = None
    renditions: dict = field(default_factory=dict)  # what the asset already has


@dataclass
class PreviewOutput:
    lesson_id: int
    asset_id: int
    seconds: int
    key: str  # "" = the lesson no longer wants this clip (seconds or media changed meanwhile)


@dataclass
class JobOutput:
    renditions: dict = field(default_factory=dict)
    duration: float = 0.0
    preview: PreviewOutput | None = None


class LeaseLost(Exception):
    """Another worker owns the job now; stop without writing anything."""


def asset_prefix(asset: MediaAsset) -> str:
    """The asset's own folder for its renditions: an upload's folder (uploads/<key>/), else the
    storage key without its extension (demo/video1.mp4 -> demo/video1; storage keys are unique)."""
    key = asset.storage_key
    if key.startswith(f"{UPLOAD_DIR}/") and key.count("/") >= 2:
        return key.rsplit("/", 1)[0]
    stem = key.rsplit(".", 1)[0] if "." in key.rsplit("/", 1)[-1] else f"{key}.d"
    return stem or f"assets/{asset.id}"


def _load_input(engine: Engine, job_id: int, media_dir: Path) -> JobInput:
    with Session(engine) as s:
        job = s.get(MediaJob, job_id)
        asset = s.get(MediaAsset, job.media_asset_id) if job else None
        if job is None or asset is None:
            raise JobFailed("media.job.missing")
        prefix = asset_prefix(asset)
        return JobInput(job.id, job.kind or "transcode", asset.id, asset.kind,
                        inside(media_dir, asset.storage_key), media_dir / prefix, prefix, job.attempts,
                        job.lesson_id, dict(asset.renditions or {}))


class _Progress:
    """Progress of the running job, published at each step, every PROGRESS_SECONDS of ffmpeg
    output and by a heartbeat thread every HEARTBEAT_SECONDS; a lost lease flips `lost` and stops
    ffmpeg at its next report."""

    def __init__(self, engine: Engine, job_id: int, owner: str, steps: list[str]):
        self.engine, self.job_id, self.owner, self.steps = engine, job_id, owner, steps
        self.index, self.fraction, self.lost = 0, 0.0, False
        self._published = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat_loop, daemon=True)

    @property
    def pct(self) -> int:
        return int(100 * (self.index + self.fraction) / max(len(self.steps), 1))

    def beat(self) -> None:
        try:
            with Session(self.engine) as s:
                if not heartbeat(s, job_id=self.job_id, owner=self.owner, progress_pct=self.pct,
                                 step=self.steps[min(self.index, len(self.steps) - 1)]):
                    self.lost = True
        except Exception:  # noqa: BLE001 - a busy database must not kill the job; retry next beat
            log.warning("media job %s: heartbeat failed", self.job_id, exc_info=True)

    def _beat_loop(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            self.beat()

    def start_step(self, index: int) -> None:
        self.index, self.fraction = index, 0.0
        self.beat()
        if self.lost:
            raise LeaseLost()

    def report(self, fraction: float) -> bool:
        """From ffmpeg's progress lines: publish at most every PROGRESS_SECONDS (the page polls
        every 2 s); False stops ffmpeg when the lease is gone."""
        self.fraction = fraction
        now = time.monotonic()
        if now - self._published >= PROGRESS_SECONDS:
            self._published = now
            self.beat()
        return not self.lost

    def __enter__(self) -> _Progress:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def plan_steps(kind: str, probe: ffmpeg.ProbeResult) -> list[str]:
    if kind == "video":
        return ["hd", "sd", *(["audio"] if probe.has_audio else []), "poster", "hls"]
    return ["audio", "hls"]


def _run_preview(engine: Engine, job: JobInput, media_dir: Path, remaining: float) -> JobOutput:
    with Session(engine) as s:
        lesson = s.get(Lesson, job.lesson_id) if job.lesson_id else None
        if lesson is None:
            raise JobFailed("media.job.missing")
        seconds, current = int(lesson.free_seconds or 0), lesson.media_asset_id
    if seconds <= 0 or current != job.asset_id:
        return JobOutput(preview=PreviewOutput(lesson.id, job.asset_id, seconds, ""))
    key = make_preview_clip(media_dir, key_prefix=job.key_prefix, kind=job.kind, renditions=job.renditions,
                            seconds=seconds, timeout=min(remaining, 300))
    return JobOutput(preview=PreviewOutput(lesson.id, job.asset_id, seconds, key))


def _run_step(step: str, job: JobInput, probe: ffmpeg.ProbeResult, progress: _Progress, deadline: float,
              public_dir: Path, out: JobOutput) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise JobFailed("media.job.timeout")
    if step == "hls":
        out.renditions.update(make_hls(job.folder, job.key_prefix, min(remaining, 1800)))
        return
    if step == "poster":
        name = f"{POSTER_DIR}/{job.asset_id}-{secrets.token_hex(6)}.jpg"
        final = public_dir / name
        final.parent.mkdir(parents=True, exist_ok=True)
        part = final.with_name(final.name + ".part")
        ffmpeg.run_simple(ffmpeg.poster_command(job.source, part, at_seconds=min(1.0, probe.duration / 3),
                                                demuxer=probe.container),
                          timeout=min(remaining, 120))
        finish_part(part, final)
        out.renditions["poster"] = name
        return
    filename = {"hd": "hd.mp4", "sd": "sd.mp4", "audio": "audio.m4a"}[step]
    final = job.folder / filename
    part = final.with_name(final.name + ".part")
    if step == "audio":
        cmd = ffmpeg.audio_command(job.source, part, demuxer=probe.container)
    else:
        tall = step == "hd"
        cmd = ffmpeg.video_command(job.source, part, max_height=HD_HEIGHT if tall else SD_HEIGHT,
                                   crf=23 if tall else 28, audio_kbps=128 if tall else 64,
                                   has_audio=probe.has_audio, demuxer=probe.container)
    ffmpeg.run(cmd, timeout=remaining, duration=probe.duration, on_progress=progress.report)
    if progress.lost:
        raise LeaseLost()
    finish_part(part, final)
    out.renditions[step] = f"{job.key_prefix}/{filename}"


def transcode(engine: Engine, job_id: int, owner: str, *, media_dir: Path, public_dir: Path,
              timeout_seconds: int) -> JobOutput:
    """Run the claimed job: every rendition of an upload (transcode/hls), or a lesson's preview
    clip. Blocking: run it in a worker thread."""
    job = _load_input(engine, job_id, media_dir)
    deadline = time.monotonic() + timeout_seconds
    if job.job_kind == "preview":
        with _Progress(engine, job_id, owner, ["preview"]) as progress:
            progress.start_step(0)
            try:
                return _run_preview(engine, job, media_dir, deadline - time.monotonic())
            except ffmpeg.FfmpegError as exc:
                raise JobFailed("media.job.timeout" if exc.reason == "timeout" else "media.job.ffmpeg_failed",
                                exc.detail) from exc
    if not job.source.is_file():
        raise JobFailed("media.job.source_missing")
    probe = ffmpeg.probe(job.source)
    if not probe.is_media:
        raise JobFailed(probe.refusal or "upload.not_media")
    job.folder.mkdir(parents=True, exist_ok=True)
    steps = plan_steps(job.kind, probe)
    out = JobOutput(duration=probe.duration)
    with _Progress(engine, job_id, owner, steps) as progress:
        for index, step in enumerate(steps):
            progress.start_step(index)
            try:
                _run_step(step, job, probe, progress, deadline, public_dir, out)
            except ffmpeg.FfmpegError as exc:
                if exc.reason == "stopped" or progress.lost:
                    raise LeaseLost() from exc
                raise JobFailed("media.job.timeout" if exc.reason == "timeout" else "media.job.ffmpeg_failed",
                                exc.detail) from exc
    return out


# ---- the lesson's preview clip -------------------------------------------------------------

def queue_preview(session: Session, lesson: Lesson) -> int | None:
    """Queue the making of `lesson`'s free-seconds clip when it needs one and has none ready.
    Called (in the caller's transaction) wherever free_seconds or the lesson's media change; an
    asset still processing gets its clip when its transcode finishes (finish_job). Returns the
    job id (an already queued one is reused: the job reads the lesson when it runs)."""
    if int(lesson.free_seconds or 0) <= 0 or not lesson.media_asset_id or preview_ready(lesson):
        return None
    asset = session.get(MediaAsset, lesson.media_asset_id)
    if asset is None or asset.status != "ready":
        return None
    queued = session.exec(select(MediaJob.id).where(MediaJob.lesson_id == lesson.id, MediaJob.kind == "preview",
                                                    MediaJob.media_asset_id == asset.id,
                                                    MediaJob.status == "queued")).first()
    if queued is not None:
        return queued
    job = MediaJob(kind="preview", media_asset_id=asset.id, lesson_id=lesson.id)
    session.add(job)
    session.flush()
    return job.id


def queue_missing_work(session: Session, *, limit: int = 50) -> int:
    """Sweep (idempotent, safe in every worker): lessons with free seconds whose ready media has no
    clip and never had a preview job for it (e.g. seconds set before clips existed), and ready
    lesson media without encrypted HLS (made before it existed) get their job, once. Returns how
    many jobs were queued."""
    queued = 0
    stale = or_(Lesson.preview_key == "", Lesson.preview_asset_id.is_(None),  # type: ignore[union-attr]
                Lesson.preview_asset_id != Lesson.media_asset_id, Lesson.preview_seconds != Lesson.free_seconds)
    had_job = exists().where(MediaJob.lesson_id == Lesson.id, MediaJob.kind == "preview",
                             MediaJob.media_asset_id == Lesson.media_asset_id)
    lessons = session.exec(select(Lesson).join(MediaAsset, MediaAsset.id == Lesson.media_asset_id)
                           .where(Lesson.free_seconds > 0, MediaAsset.status == "ready", stale, ~had_job)
                           .order_by(Lesson.id).limit(limit)).all()
    for lesson in lessons:
        queued += queue_preview(session, lesson) is not None
    rows = session.exec(select(MediaAsset.id, MediaAsset.renditions, Lesson.id)
                        .join(Lesson, Lesson.media_asset_id == MediaAsset.id)
                        .where(MediaAsset.status == "ready").order_by(MediaAsset.id, Lesson.id)).all()
    seen: set[int] = set()
    for asset_id, renditions, lesson_id in rows:
        if asset_id in seen or has_hls(renditions):
            continue
        seen.add(asset_id)
        if session.exec(select(MediaJob.id).where(MediaJob.media_asset_id == asset_id,
                                                  MediaJob.kind == "hls")).first() is None:
            session.add(MediaJob(kind="hls", media_asset_id=asset_id, lesson_id=lesson_id))
            queued += 1
        if len(seen) >= limit:
            break
    session.commit()
    return queued


def has_hls(renditions: object) -> bool:
    return isinstance(renditions, dict) and any(
        isinstance(k, str) and k.startswith("hls_") and v for k, v in renditions.items())


def _publish_preview(session: Session, job: MediaJob, preview: PreviewOutput) -> None:
    """Point the lesson at its clip, only while it still has the media and seconds it was cut for."""
    if preview.key:
        won = session.execute(
            update(Lesson).where(Lesson.id == preview.lesson_id, Lesson.media_asset_id == preview.asset_id,
                                 Lesson.free_seconds == preview.seconds)
            .values(preview_key=preview.key, preview_asset_id=preview.asset_id, preview_seconds=preview.seconds)
            .execution_options(synchronize_session=False)).rowcount
    else:
        won = 0
    audit.record(session, actor_id=None, action="media.preview_ready" if won else "media.preview_skipped",
                 target=f"lesson:{preview.lesson_id}",
                 detail={"job": job.id, "asset": preview.asset_id, "seconds": preview.seconds})


def finish_job(session: Session, *, job_id: int, owner: str, output: JobOutput) -> bool:
    """Publish the renditions: asset ready, the lesson switched to it (unless a newer upload is
    already there), durations on the lesson and the course. False when the lease was lost."""
    won = session.execute(
        update(MediaJob).where(MediaJob.id == job_id, MediaJob.lease_owner == owner, MediaJob.status == "running")
        .values(status="done", progress_pct=100, step="done", error="", finished_at=utcnow(), lease_until=None)
        .execution_options(synchronize_session=False)).rowcount
    if won != 1:
        session.rollback()
        return False
    job = session.get(MediaJob, job_id)
    if output.preview is not None:
        _publish_preview(session, job, output.preview)
        session.commit()
        return True
    asset = session.get(MediaAsset, job.media_asset_id)
    asset.renditions = {**(asset.renditions or {}), **output.renditions}
    asset.duration_seconds = round(output.duration)
    asset.status, asset.error = "ready", ""
    session.add(asset)
    lesson = session.get(Lesson, job.lesson_id) if job.lesson_id else None
    if lesson is not None and (lesson.media_asset_id is None or lesson.media_asset_id <= asset.id):
        lesson.media_asset_id = asset.id
        lesson.duration_seconds = asset.duration_seconds
        session.add(lesson)
        session.flush()
        _update_course_duration(session, lesson.course_id)
        queue_preview(session, lesson)  # a new asset needs a new clip of the free seconds
    audit.record(session, actor_id=None, action="media.ready", target=f"asset:{asset.id}",
                 detail={"job": job_id, "lesson": job.lesson_id, "renditions": sorted(output.renditions)})
    session.commit()
    return True


def _update_course_duration(session: Session, course_id: int) -> None:
    total = session.exec(select(func.coalesce(func.sum(Lesson.duration_seconds), 0))
                         .where(Lesson.course_id == course_id)).one()
    course = session.get(Course, course_id)
    if course is not None:
        course.total_duration_seconds = int(total)
        session.add(course)


def fail_job(session: Session, *, job_id: int, owner: str, code: str, detail: str = "") -> bool:
    """Mark the job and its asset failed with a message key; the lesson keeps what it had."""
    won = session.execute(
        update(MediaJob).where(MediaJob.id == job_id, MediaJob.lease_owner == owner, MediaJob.status == "running")
        .values(status="failed", error=code[:500], finished_at=utcnow(), lease_until=None)
        .execution_options(synchronize_session=False)).rowcount
    if won != 1:
        session.rollback()
        return False
    job = session.get(MediaJob, job_id)
    asset = session.get(MediaAsset, job.media_asset_id)
    if asset is not None and asset.status != "ready":
        asset.status, asset.error = "failed", code[:500]
        session.add(asset)
    audit.record(session, actor_id=None, action="media.failed", target=f"asset:{job.media_asset_id}",
                 detail={"job": job_id, "code": code, "detail": detail[-300:]})
    session.commit()
    return True


def process_one(engine: Engine, *, media_dir: Path, public_dir: Path, timeout_seconds: int,
                owner: str | None = None,
                transcoder: Callable[..., JobOutput] | None = None) -> int | None:
    """Claim and run one job end to end. Returns the job id handled (None when idle)."""
    owner = owner or worker_id()
    with Session(engine) as s:
        job_id = claim_job(s, owner=owner)
        if job_id is None:
            return None
        attempts = s.get(MediaJob, job_id).attempts
    if attempts > MAX_ATTEMPTS:  # a job that keeps killing its worker (lease expiry) stops here
        with Session(engine) as s:
            fail_job(s, job_id=job_id, owner=owner, code="media.job.too_many_attempts")
        return job_id
    try:
        output = (transcoder or transcode)(engine, job_id, owner, media_dir=media_dir, public_dir=public_dir,
                                           timeout_seconds=timeout_seconds)
    except LeaseLost:
        log.warning("media job %s: lease lost to another worker; stopped", job_id)
        return job_id
    except JobFailed as exc:
        with Session(engine) as s:
            fail_job(s, job_id=job_id, owner=owner, code=exc.code, detail=exc.detail)
        return job_id
    except Exception as exc:  # noqa: BLE001 - any bug fails this job, not the loop
        log.exception("media job %s crashed", job_id)
        with Session(engine) as s:
            fail_job(s, job_id=job_id, owner=owner, code="media.job.ffmpeg_failed", detail=repr(exc))
        return job_id
    with Session(engine) as s:
        finish_job(s, job_id=job_id, owner=owner, output=output)
    return job_id


# ---- dashboard: retry and views -------------------------------------------------------------

def _job_for_manager(session: Session, actor, job_id: object) -> MediaJob:
    jid = valid_id(job_id)
    job = session.get(MediaJob, jid) if jid else None
    if job is None or job.lesson_id is None:
        raise DomainError("error.not_found")
    lesson = session.get(Lesson, job.lesson_id)
    if lesson is None:
        raise DomainError("error.not_found")
    require_course_manager(session, actor, lesson.course_id)
    return job


def retry_job(session: Session, *, actor_id: object, job_id: object) -> MediaJob:
    """Queue a failed job again (at most MAX_ATTEMPTS runs in all)."""
    actor = require_dashboard(session, actor_id)
    job = _job_for_manager(session, actor, job_id)
    if job.status != "failed":
        raise DomainError("media.retry_not_failed")
    if job.attempts >= MAX_ATTEMPTS:
        raise DomainError("media.retry_exhausted", max=MAX_ATTEMPTS)
    won = session.execute(
        update(MediaJob).where(MediaJob.id == job.id, MediaJob.status == "failed", MediaJob.attempts < MAX_ATTEMPTS)
        .values(status="queued", error="", progress_pct=0, step="", run_after=utcnow(), finished_at=None,
                lease_owner="", lease_until=None)
        .execution_options(synchronize_session=False)).rowcount
    if won != 1:
        session.rollback()
        raise DomainError("media.retry_not_failed")
    asset = session.get(MediaAsset, job.media_asset_id)
    if asset is not None and asset.status == "failed":
        asset.status, asset.error = "processing", ""
        session.add(asset)
    audit.record(session, actor_id=actor.user_id, action="media.retry", target=f"job:{job.id}",
                 detail={"asset": job.media_asset_id, "attempts": job.attempts})
    session.commit()
    session.refresh(job)
    return job


@dataclass(frozen=True)
class JobRow:
    job_id: int
    asset_id: int
    lesson_id: int | None
    lesson_title: str
    course_title: str
    status: str
    progress_pct: int
    step: str
    error: str  # message key
    attempts: int
    can_retry: bool
    created_at: datetime


def _rows(session: Session, query) -> list[JobRow]:
    out = []
    for job, lesson_title, course_title in session.exec(query).all():
        out.append(JobRow(job.id, job.media_asset_id, job.lesson_id, lesson_title or "", course_title or "",
                          job.status, job.progress_pct, job.step, job.error, job.attempts,
                          job.status == "failed" and job.attempts < MAX_ATTEMPTS, job.created_at))
    return out


def _job_query():
    return (select(MediaJob, Lesson.title, Course.title)
            .join(Lesson, Lesson.id == MediaJob.lesson_id)
            .join(Course, Course.id == Lesson.course_id))


def list_jobs(session: Session, *, actor_id: object, status: str | None = None, limit: int = 100) -> list[JobRow]:
    """Recent jobs, newest first; an instructor sees only jobs of their own courses."""
    actor = require_dashboard(session, actor_id)
    if status is not None and status not in JOB_STATUSES:
        raise DomainError("error.bad_request")
    query = _job_query()
    scope = course_scope(session, actor)
    if scope is not None:
        if not scope:
            return []
        query = query.where(Lesson.course_id.in_(scope))  # type: ignore[attr-defined]
    if status:
        query = query.where(MediaJob.status == status)
    return _rows(session, query.order_by(MediaJob.id.desc()).limit(max(1, min(limit, 200))))  # type: ignore[union-attr]


@dataclass(frozen=True)
class AssetView:
    asset_id: int
    kind: str
    status: str
    duration_seconds: int
    size_bytes: int
    error: str
    renditions: dict


@dataclass(frozen=True)
class LessonMediaView:
    lesson_id: int
    lesson_title: str
    lesson_kind: str
    course_id: int
    course_title: str
    current: AssetView | None
    jobs: list[JobRow]  # newest first, for this lesson
    free_seconds: int = 0  # > 0: non-buyers get a clip of this length
    preview_ready: bool = False  # that clip exists for the current media and length


def lesson_media(session: Session, *, actor_id: object, lesson_id: object) -> LessonMediaView:
    from coursemall.services.media.uploads import lesson_for_manager

    actor = require_dashboard(session, actor_id)
    lesson = lesson_for_manager(session, actor, lesson_id)
    course = session.get(Course, lesson.course_id)
    asset = session.get(MediaAsset, lesson.media_asset_id) if lesson.media_asset_id else None
    current = AssetView(asset.id, asset.kind, asset.status, asset.duration_seconds, asset.size_bytes, asset.error,
                        dict(asset.renditions or {})) if asset else None
    jobs = _rows(session, _job_query().where(MediaJob.lesson_id == lesson.id).order_by(MediaJob.id.desc()).limit(5))  # type: ignore[union-attr]
    return LessonMediaView(lesson.id, lesson.title, lesson.kind, course.id, course.title, current, jobs,
                           int(lesson.free_seconds or 0), preview_ready(lesson))

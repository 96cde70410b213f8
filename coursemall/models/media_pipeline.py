"""Media pipeline: resumable chunked uploads and the transcoding job queue."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from coursemall.models.base import UtcDateTime, utcnow

__all__ = ["UploadSession", "MediaJob", "ServedSegment"]


class UploadSession(SQLModel, table=True):
    """A file being uploaded in chunks into the private media root."""

    __tablename__ = "upload_sessions"

    id: int | None = Field(default=None, primary_key=True)
    upload_key: str = Field(max_length=64, unique=True)  # random, names the temp file
    user_id: int = Field(foreign_key="users.id", index=True)
    lesson_id: int | None = Field(default=None, foreign_key="lessons.id")
    filename: str = Field(default="", max_length=200)
    size_bytes: int = Field(default=0)  # announced total
    received_bytes: int = Field(default=0)
    status: str = Field(default="uploading", max_length=16)  # uploading | complete | failed | aborted
    error: str = Field(default="", max_length=500)
    media_asset_id: int | None = Field(default=None, foreign_key="media_assets.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class MediaJob(SQLModel, table=True):
    """Transcoding work for one media asset. Workers claim a job with a compare-and-set lease,
    so several app workers can run the loop safely."""

    __tablename__ = "media_jobs"
    __table_args__ = (Index("ix_media_jobs_status_run_after", "status", "run_after"),)

    id: int | None = Field(default=None, primary_key=True)
    media_asset_id: int = Field(foreign_key="media_assets.id", index=True)
    # the lesson that switches to this asset when the job succeeds (the old asset plays until then)
    lesson_id: int | None = Field(default=None, foreign_key="lessons.id", index=True)
    # transcode: renditions of a new upload; preview: the lesson's free-seconds clip;
    # hls: the renditions again for an asset made before encrypted HLS existed
    kind: str = Field(default="transcode", max_length=16)
    status: str = Field(default="queued", max_length=16)  # queued | running | done | failed
    attempts: int = Field(default=0)
    lease_owner: str = Field(default="", max_length=80)
    lease_until: datetime | None = Field(default=None, sa_type=UtcDateTime)
    run_after: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    progress_pct: int = Field(default=0)
    step: str = Field(default="", max_length=40)
    error: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class ServedSegment(SQLModel, table=True):
    """One encrypted HLS segment served to a learner with a purchase (segment -1 = the key): the
    consumption the refund rule counts, measured where the browser cannot skip it. The unique key
    makes repeats (seeking back, HD and SD of the same seconds, retries) count once."""

    __tablename__ = "served_segments"
    __table_args__ = (UniqueConstraint("user_id", "lesson_id", "segment", name="uq_served_segments"),
                      Index("ix_served_segments_user_course", "user_id", "course_id"))

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    lesson_id: int = Field(foreign_key="lessons.id")
    course_id: int = Field(foreign_key="courses.id")
    segment: int  # index in the playlist; -1 = the AES key
    duration_ms: int = Field(default=0)
    served_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)

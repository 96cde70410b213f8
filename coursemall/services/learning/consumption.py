"""Consumption measured on the server: the encrypted HLS segments served to a learner.

Heartbeats come from the browser, which may simply not send them (buy, download every segment,
refund). What api/hls.py serves cannot be skipped: each segment (and the key) served to a learner
with a purchase is recorded once per (learner, lesson, segment index) by a single
insert-or-ignore on a UNIQUE key, so repeats (seeking back, HD and SD of the same seconds,
retries, concurrent requests) count once and cost one small statement.

The refund rule uses `consumed_pct`: the larger of the heartbeat course progress and the share of
the course's media seconds served.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from coursemall.domain.catalog import LessonKind
from coursemall.models import Lesson, utcnow
from coursemall.models.media_pipeline import ServedSegment
from coursemall.services.learning.progress import course_progress_map

MEDIA_KINDS = (LessonKind.VIDEO.value, LessonKind.AUDIO.value, LessonKind.LIVE_REPLAY.value)


def record_served(session: Session, *, user_id: int, lesson_id: int, course_id: int, segment: int,
                  duration_ms: int, now: datetime | None = None) -> bool:
    """Record one served segment (-1 = the key) once. True when it was new. The caller commits."""
    values = dict(user_id=user_id, lesson_id=lesson_id, course_id=course_id, segment=segment,
                  duration_ms=max(0, int(duration_ms)), served_at=now or utcnow())
    table = ServedSegment.__table__
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt = pg_insert(table).values(**values).on_conflict_do_nothing(constraint="uq_served_segments")
    elif dialect == "sqlite":
        stmt = sqlite_insert(table).values(**values).on_conflict_do_nothing()
    else:  # another database: a savepoint absorbs the duplicate
        try:
            with session.begin_nested():
                session.execute(table.insert().values(**values))
            return True
        except IntegrityError:
            return False
    # RETURNING tells a new row from a skipped one (psycopg reports no row count here)
    return session.execute(stmt.returning(table.c.id)).first() is not None


def served_seconds(session: Session, user_id: int, course_ids: list[int] | set[int]) -> dict[int, int]:
    """{course_id: seconds of distinct media segments served to the learner}."""
    ids = sorted({int(c) for c in course_ids})
    if not ids:
        return {}
    rows = session.exec(select(ServedSegment.course_id, func.coalesce(func.sum(ServedSegment.duration_ms), 0))
                        .where(ServedSegment.user_id == user_id, col(ServedSegment.course_id).in_(ids),
                               ServedSegment.segment >= 0)
                        .group_by(ServedSegment.course_id)).all()
    got = {int(cid): int(ms) // 1000 for cid, ms in rows}
    return {cid: got.get(cid, 0) for cid in ids}


def media_seconds(session: Session, course_ids: list[int] | set[int]) -> dict[int, int]:
    """{course_id: total seconds of its video and audio lessons}."""
    ids = sorted({int(c) for c in course_ids})
    if not ids:
        return {}
    rows = session.exec(select(Lesson.course_id, func.coalesce(func.sum(Lesson.duration_seconds), 0))
                        .where(col(Lesson.course_id).in_(ids), col(Lesson.kind).in_(MEDIA_KINDS))
                        .group_by(Lesson.course_id)).all()
    got = {int(cid): int(total) for cid, total in rows}
    return {cid: got.get(cid, 0) for cid in ids}


def served_pct(served: int, total: int) -> int:
    if total <= 0:
        return 0
    return max(0, min(100, served * 100 // total))


@dataclass(frozen=True)
class Consumption:
    served_seconds: int  # distinct media seconds served, summed over the courses
    media_seconds: int  # their video/audio length
    served_pct: int  # the highest served share among the courses
    progress_pct: int  # the highest heartbeat course progress among the courses

    @property
    def consumed_pct(self) -> int:
        return max(self.served_pct, self.progress_pct)


def consumption(session: Session, user_id: int, course_ids: list[int]) -> Consumption:
    """What the learner has consumed of these courses (a refund's courses), by both measures."""
    served = served_seconds(session, user_id, course_ids)
    totals = media_seconds(session, course_ids)
    progress = course_progress_map(session, user_id, course_ids)
    shares = [served_pct(served[c], totals[c]) for c in served]
    return Consumption(served_seconds=sum(served.values()), media_seconds=sum(totals.values()),
                       served_pct=max(shares, default=0), progress_pct=max(progress.values(), default=0))


def consumed_pct(session: Session, user_id: int, course_ids: list[int]) -> int:
    """Refund policy lookup: max(heartbeat progress, served-media share), 0–100."""
    return consumption(session, user_id, course_ids).consumed_pct

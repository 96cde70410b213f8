"""Demo study history: the demo learners (demo/accounts.py) have studied some of the courses they
own over the last 30 days, so /learning's chart, streaks and "continue" buttons and the owner's
analytics show data in `make run`.

`ensure_demo_study(session)` is idempotent: progress rows are only added for lessons a learner has
never touched, and a day's study time only for days without a row, so real study (and a second
run) is never overwritten. Deterministic (no randomness): the same seed gives the same history.
Courses are never finished here (no certificates): the last owned lessons stay to be studied.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from coursemall.demo.accounts import DEMO_LEARNERS
from coursemall.domain import progress as rules
from coursemall.domain.catalog import CourseStatus, LessonKind
from coursemall.domain.time import china_date
from coursemall.models import Chapter, Course, Entitlement, Lesson, LessonProgress, StudyDay, User, utcnow

HISTORY_DAYS = 30
COURSES_PER_LEARNER = 3  # at most this many owned courses get progress
DONE_LESSONS = (3, 2, 1)  # lessons completed in the learner's 1st, 2nd, 3rd course, then one in progress


def _covered(duration: int, until: int) -> tuple[bytes, int]:
    """Bitmap and watched seconds for a learner who watched 0..until of a lesson."""
    bitmap, _ = rules.merge_span(b"", rules.span_buckets(0, float(min(until, duration)), duration), duration)
    return bitmap, rules.watched_seconds(bitmap, duration)


def _progress_row(user_id: int, lesson: Lesson, *, fraction: float, at: datetime) -> LessonProgress:
    duration = max(1, min(int(lesson.duration_seconds or 0), rules.MAX_LESSON_SECONDS))
    done = fraction >= 1.0
    if lesson.kind == LessonKind.ARTICLE:
        percent = 100 if done else int(fraction * 100)
        return LessonProgress(user_id=user_id, lesson_id=lesson.id, course_id=lesson.course_id,
                              position_seconds=percent, covered=b"", percent=percent,
                              watched_seconds=duration * percent // 100, last_heartbeat_at=at,
                              completed_at=at if done else None, version=1, created_at=at)
    until = duration if done else int(duration * fraction)
    bitmap, watched = _covered(duration, until)
    return LessonProgress(user_id=user_id, lesson_id=lesson.id, course_id=lesson.course_id,
                          position_seconds=0 if done else until, covered=bitmap, watched_seconds=watched,
                          percent=rules.watched_pct(bitmap, duration), last_heartbeat_at=at,
                          completed_at=at if done else None, version=1, created_at=at)


def _owned_courses(session: Session, user_id: int) -> list[int]:
    return list(session.exec(
        select(Course.id).join(Entitlement, Entitlement.course_id == Course.id)
        .where(Entitlement.user_id == user_id, col(Entitlement.revoked_at).is_(None),
               Course.status == CourseStatus.PUBLISHED)
        .group_by(Course.id).order_by(Course.id)).all())


def _outline(session: Session, course_id: int) -> list[Lesson]:
    return list(session.exec(select(Lesson).join(Chapter, Chapter.id == Lesson.chapter_id)
                             .where(Lesson.course_id == course_id)
                             .order_by(col(Chapter.position), col(Chapter.id), col(Lesson.position),
                                       col(Lesson.id))).all())


def _add_progress(session: Session, user_id: int, index: int, now: datetime) -> int:
    touched = set(session.exec(select(LessonProgress.lesson_id).where(LessonProgress.user_id == user_id)).all())
    added = 0
    for k, course_id in enumerate(_owned_courses(session, user_id)[:COURSES_PER_LEARNER]):
        lessons = _outline(session, course_id)
        done = min(DONE_LESSONS[k], max(0, len(lessons) - 1))  # always leave something to study
        plan = [(lesson, 1.0) for lesson in lessons[:done]] + [(lesson, 0.4) for lesson in lessons[done:done + 1]]
        for step, (lesson, fraction) in enumerate(plan):
            if lesson.id in touched:
                continue
            # Spread over the month, the most recent lesson last; learner-specific offsets.
            at = now - timedelta(days=max(0, 24 - 6 * step - 3 * k - index), hours=2 + index)
            session.add(_progress_row(user_id, lesson, fraction=fraction, at=at))
            added += 1
    return added


def _studied_on(day_offset: int, index: int) -> bool:
    """A believable pattern: most days, a few gaps, and the last few days in a row (a streak)."""
    return day_offset <= 3 + index or (day_offset * 7 + index * 3) % 10 < 6


def _add_study_days(session: Session, user_id: int, index: int, now: datetime) -> int:
    today = china_date(now)
    existing = set(session.exec(select(StudyDay.day).where(StudyDay.user_id == user_id)).all())
    added = 0
    for offset in range(HISTORY_DAYS):
        day = today - timedelta(days=offset)
        if day in existing or not _studied_on(offset, index):
            continue
        minutes = 8 + (offset * 13 + index * 7) % 38
        session.add(StudyDay(user_id=user_id, day=day, seconds=minutes * 60))
        added += 1
    return added


def ensure_demo_study(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Give each demo learner progress and 30 days of study time (flushed; the caller commits)."""
    now = now or utcnow()
    counts = {"study_progress_rows": 0, "study_days": 0}
    for index, account in enumerate(DEMO_LEARNERS):
        user_id = session.exec(select(User.id).where(User.email == account.email)).first()
        if user_id is None:
            continue  # not seeded (demo off)
        counts["study_progress_rows"] += _add_progress(session, user_id, index, now)
        counts["study_days"] += _add_study_days(session, user_id, index, now)
    session.flush()
    return counts

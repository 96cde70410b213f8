"""Learning progress: heartbeats, article reading, course %, "my learning", resume positions.

Rules live in `domain.progress` (5-second coverage buckets, 90 % completion, forgery caps, streaks,
Asia/Shanghai study days). A heartbeat is one short transaction:

    access check (media_access.check_lesson_access) → read the (user, lesson) row →
    merge the span into the bitmap → UPDATE ... WHERE id=:id AND version=:v (compare-and-set) or
    INSERT (unique user+lesson) → add the credited seconds to the day's row (UPDATE, else INSERT)
    → commit.

A lost compare-and-set or a duplicate-key error (two tabs, two workers) rolls the attempt back and
runs it again against the fresh row; no savepoints, so it behaves the same on SQLite and
PostgreSQL. Nothing is written when validation or the access check fails.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from coursemall.domain import progress as rules
from coursemall.domain.catalog import OPEN_TO_BUYERS, LessonKind, open_to_buyers
from coursemall.domain.errors import DomainError
from coursemall.domain.time import china_date
from coursemall.domain.validation import parse_id
from coursemall.models import Chapter, Course, Entitlement, Lesson, LessonProgress, StudyDay, User, utcnow
from coursemall.services.actors import require_actor
from coursemall.services.commerce.orders import owned_course_ids
from coursemall.services.learning.media_access import Access, check_lesson_access
from coursemall.urls import public_url

MAX_ATTEMPTS = 6
RECENT_LIMIT = 10
CHART_DAYS = 30
MEDIA_KINDS = (LessonKind.VIDEO, LessonKind.AUDIO, LessonKind.LIVE_REPLAY)


# ---------------------------------------------------------------------------------- access

@dataclass(frozen=True)
class StudyTarget:
    """A lesson the actor may study, and how far (`limit_seconds` < duration for free previews)."""

    lesson_id: int
    course_id: int
    kind: str
    title: str
    duration: int
    access: Access
    entitled: bool
    limit_seconds: int


def require_study(session: Session, actor_id: object, lesson_id: object, *,
                  full: bool = False, record: bool = False) -> tuple[User, StudyTarget]:
    """The signed-in actor and the lesson they may study (error.bad_request for a bad id,
    error.not_found for an unknown/unpublished lesson, lesson.locked without access or before its
    drip release; with `full=True` a free preview is not enough). `record=True` (progress writes)
    also refuses a course manager's "preview as a learner": previews keep no progress."""
    user = require_actor(session, actor_id)
    decision = check_lesson_access(session, actor_id=user.id, lesson_id=lesson_id)
    if decision.access is Access.LOCKED or (full and decision.access is not Access.FULL):
        raise DomainError("lesson.locked")
    if record and decision.preview:
        raise DomainError("lesson.preview_only")
    row = session.exec(select(Lesson.kind, Lesson.title, Lesson.duration_seconds)
                       .where(Lesson.id == decision.lesson_id)).one()
    kind, title, duration = row
    duration = max(0, min(int(duration or 0), rules.MAX_LESSON_SECONDS))
    limit = duration if decision.access is Access.FULL else min(duration, decision.free_seconds)
    return user, StudyTarget(decision.lesson_id, decision.course_id, kind, title, duration, decision.access,
                             decision.entitled, limit)


# ---------------------------------------------------------------------------------- heartbeats

@dataclass(frozen=True)
class HeartbeatResult:
    lesson_id: int
    position_seconds: int
    watched_seconds: int
    percent: int
    completed: bool
    just_completed: bool
    course_percent: int | None  # filled when this heartbeat completed the lesson
    certificate_code: str  # set when this heartbeat completed the course


def _seconds_between(later: datetime, earlier: datetime | None) -> float | None:
    if earlier is None:
        return None
    return max(0.0, (later - earlier).total_seconds())


def _last_activity(session: Session, user_id: int) -> datetime | None:
    return session.exec(select(func.max(LessonProgress.last_heartbeat_at))
                        .where(LessonProgress.user_id == user_id)).one()


def _add_study_seconds(session: Session, user_id: int, day: date, seconds: int) -> None:
    """Add to the day's row (UPDATE, else INSERT). A duplicate-key error propagates: the caller
    retries the whole attempt, which then takes the UPDATE branch."""
    if seconds <= 0:
        return
    changed = session.execute(
        update(StudyDay).where(StudyDay.user_id == user_id, StudyDay.day == day)
        .values(seconds=StudyDay.seconds + seconds).execution_options(synchronize_session=False)).rowcount
    if changed == 0:
        session.add(StudyDay(user_id=user_id, day=day, seconds=seconds))
        session.flush()


def _write_progress(session: Session, row: LessonProgress | None, values: dict) -> bool:
    """INSERT a new row or compare-and-set UPDATE on `version`. False = lost a race (retry)."""
    if row is None:
        session.add(LessonProgress(**values, version=1))
        session.flush()
        return True
    changed = session.execute(
        update(LessonProgress).where(LessonProgress.id == row.id, LessonProgress.version == row.version)
        .values(version=row.version + 1, **{k: v for k, v in values.items()
                                           if k not in ("user_id", "lesson_id", "course_id")})
        .execution_options(synchronize_session=False)).rowcount
    return changed == 1


def _load_row(session: Session, user_id: int, lesson_id: int) -> LessonProgress | None:
    return session.exec(select(LessonProgress).where(LessonProgress.user_id == user_id,
                                                     LessonProgress.lesson_id == lesson_id)
                        .execution_options(populate_existing=True)).first()


def _run_attempts(session: Session, attempt) -> tuple:
    for _ in range(MAX_ATTEMPTS):
        try:
            outcome = attempt()
        except IntegrityError:
            session.rollback()
            continue
        except OperationalError as exc:  # SQLite: a concurrent writer invalidated our snapshot
            session.rollback()
            if "locked" not in str(exc).lower():
                raise
            continue
        if outcome is None:
            session.rollback()
            continue
        session.commit()
        return outcome
    raise DomainError("learning.busy")


def record_heartbeat(session: Session, *, actor_id: object, lesson_id: object, position_seconds: object,
                     watched_from: object, watched_to: object, now: datetime | None = None) -> HeartbeatResult:
    """Store the player's position and the span it played since the previous heartbeat.

    Positions are seconds (int or finite float) within the lesson (+3 s tolerance); for a free
    preview within its free seconds. Rejected input changes nothing."""
    user, target = require_study(session, actor_id, lesson_id, record=True)
    if target.kind not in MEDIA_KINDS:
        raise DomainError("error.bad_request")
    now = now or utcnow()
    upper = target.limit_seconds + rules.POSITION_TOLERANCE_SECONDS
    position = rules.parse_seconds(position_seconds, upper=upper)
    start = rules.parse_seconds(watched_from, upper=upper)
    end = rules.parse_seconds(watched_to, upper=upper)
    if end < start:
        raise DomainError("progress.bad_position")
    end = min(end, float(target.limit_seconds))
    position_int = min(int(position), target.limit_seconds)
    duration = target.duration

    def attempt():
        row = _load_row(session, user.id, target.lesson_id)
        last_any = _last_activity(session, user.id)
        span_start = max(start, end - rules.allowed_span(_seconds_between(now, row.last_heartbeat_at if row else None)))
        buckets = rules.span_buckets(span_start, end, duration)
        old_bitmap = bytes(row.covered) if row else b""
        bitmap, _ = rules.merge_span(old_bitmap, buckets, duration)
        watched = rules.watched_seconds(bitmap, duration)
        old_watched = row.watched_seconds if row else 0
        was_complete = row is not None and row.completed_at is not None
        complete = was_complete or rules.is_media_complete(watched, duration)
        values = dict(user_id=user.id, lesson_id=target.lesson_id, course_id=target.course_id,
                      position_seconds=position_int, covered=bitmap, watched_seconds=watched,
                      percent=rules.watched_pct(bitmap, duration), last_heartbeat_at=now,
                      completed_at=(row.completed_at if was_complete else now) if complete else None)
        if not _write_progress(session, row, values):
            return None
        credit = rules.credit_seconds(watched - old_watched, _seconds_between(now, last_any))
        _add_study_seconds(session, user.id, china_date(now), credit)
        return values, complete and not was_complete

    values, just_completed = _run_attempts(session, attempt)
    return _after_write(session, user, target, values, just_completed, now)


def record_article_read(session: Session, *, actor_id: object, lesson_id: object, percent: object,
                        now: datetime | None = None) -> HeartbeatResult:
    """Reading progress of an article (0–100 % scrolled). Complete when read to the end (100 %)."""
    user, target = require_study(session, actor_id, lesson_id, full=True, record=True)
    if target.kind != LessonKind.ARTICLE:
        raise DomainError("error.bad_request")
    pct = rules.parse_percent(percent)
    now = now or utcnow()

    def attempt():
        row = _load_row(session, user.id, target.lesson_id)
        last_any = _last_activity(session, user.id)
        best = max(pct, row.percent if row else 0)
        was_complete = row is not None and row.completed_at is not None
        complete = was_complete or best >= rules.ARTICLE_COMPLETE_PCT
        values = dict(user_id=user.id, lesson_id=target.lesson_id, course_id=target.course_id,
                      position_seconds=pct, covered=b"", percent=best,
                      watched_seconds=target.duration * best // 100, last_heartbeat_at=now,
                      completed_at=(row.completed_at if was_complete else now) if complete else None)
        if not _write_progress(session, row, values):
            return None
        since_row = _seconds_between(now, row.last_heartbeat_at) if row else 0.0
        reading = min(since_row or 0.0, float(rules.ARTICLE_CREDIT_MAX_SECONDS))
        credit = rules.credit_seconds(int(reading), _seconds_between(now, last_any))
        _add_study_seconds(session, user.id, china_date(now), credit)
        return values, complete and not was_complete

    values, just_completed = _run_attempts(session, attempt)
    return _after_write(session, user, target, values, just_completed, now)


def _after_write(session: Session, user: User, target: StudyTarget, values: dict, just_completed: bool,
                 now: datetime) -> HeartbeatResult:
    course_percent = None
    code = ""
    if just_completed:
        course_percent = course_progress_map(session, user.id, [target.course_id]).get(target.course_id, 0)
        if course_percent >= 100 and target.entitled:
            from coursemall.services.learning.certificates import issue_for_completed_course  # cycle-free import

            code = issue_for_completed_course(session, user_id=user.id, course_id=target.course_id, now=now).code
    return HeartbeatResult(lesson_id=target.lesson_id, position_seconds=values["position_seconds"],
                           watched_seconds=values["watched_seconds"], percent=values["percent"],
                           completed=values["completed_at"] is not None, just_completed=just_completed,
                           course_percent=course_percent, certificate_code=code)


# ---------------------------------------------------------------------------------- course progress

def course_progress_map(session: Session, user_id: int, course_ids: list[int] | set[int]) -> dict[int, int]:
    """{course_id: completed lessons * 100 // lessons} for the given courses (0 when none done)."""
    ids = sorted({int(c) for c in course_ids})
    if not ids:
        return {}
    totals = dict(session.exec(select(Lesson.course_id, func.count()).where(col(Lesson.course_id).in_(ids))
                               .group_by(Lesson.course_id)).all())
    done = dict(session.exec(
        select(Lesson.course_id, func.count()).select_from(LessonProgress)
        .join(Lesson, Lesson.id == LessonProgress.lesson_id)
        .where(LessonProgress.user_id == user_id, col(Lesson.course_id).in_(ids),
               col(LessonProgress.completed_at).is_not(None))
        .group_by(Lesson.course_id)).all())
    return {cid: rules.course_pct(int(done.get(cid, 0)), int(totals.get(cid, 0))) for cid in ids}


def course_progress_pct(session: Session, user_id: int, course_ids: list[int]) -> int:
    """Refund policy lookup: the highest progress among `course_ids` (0–100)."""
    return max(course_progress_map(session, user_id, course_ids).values(), default=0)


@dataclass(frozen=True)
class LessonProgressItem:
    lesson_id: int
    percent: int
    completed: bool
    position_seconds: int


@dataclass(frozen=True)
class CourseProgressView:
    course_id: int
    percent: int
    completed_lessons: int
    total_lessons: int
    lessons: tuple[LessonProgressItem, ...]  # only lessons the learner has touched


def get_course_progress(session: Session, *, actor_id: object, course_id: object) -> CourseProgressView:
    user = require_actor(session, actor_id)
    cid = parse_id(course_id)
    course = session.get(Course, cid)
    if course is None or not open_to_buyers(course.status):
        raise DomainError("error.not_found")
    total = int(session.exec(select(func.count()).select_from(Lesson).where(Lesson.course_id == cid)).one())
    rows = session.exec(
        select(LessonProgress.lesson_id, LessonProgress.percent, LessonProgress.completed_at,
               LessonProgress.position_seconds)
        .join(Lesson, Lesson.id == LessonProgress.lesson_id)
        .where(LessonProgress.user_id == user.id, Lesson.course_id == cid)).all()
    items = tuple(LessonProgressItem(lid, pct, done is not None, pos) for lid, pct, done, pos in rows)
    completed = sum(1 for i in items if i.completed)
    return CourseProgressView(cid, rules.course_pct(completed, total), completed, total, items)


# ---------------------------------------------------------------------------------- resume

@dataclass(frozen=True)
class ResumeView:
    lesson_id: int
    position_seconds: int  # where the player should start (articles: scroll percent)
    percent: int
    completed: bool
    furthest_seconds: int  # end of the watched prefix (for "no seeking ahead on first watch")
    limit_seconds: int  # free-preview limit for non-buyers; the duration otherwise


def resume_position(session: Session, *, actor_id: object, lesson_id: object) -> ResumeView:
    """Where this learner resumes; DomainError (lesson.preview_only) for a manager's preview."""
    user, target = require_study(session, actor_id, lesson_id, record=True)
    row = _load_row(session, user.id, target.lesson_id)
    if row is None:
        return ResumeView(target.lesson_id, 0, 0, False, 0, target.limit_seconds)
    position = min(row.position_seconds, target.limit_seconds if target.kind != LessonKind.ARTICLE else 100)
    if (target.kind != LessonKind.ARTICLE and row.completed_at is not None
            and position >= target.duration - rules.BUCKET_SECONDS):
        position = 0  # finished: start again from the beginning
    furthest = rules.furthest_contiguous_seconds(bytes(row.covered), target.duration)
    return ResumeView(target.lesson_id, position, row.percent, row.completed_at is not None, furthest,
                      target.limit_seconds)


# ---------------------------------------------------------------------------------- my learning

@dataclass(frozen=True)
class MyCourseView:
    course_id: int
    slug: str
    title: str
    cover_url: str
    percent: int
    completed_lessons: int
    total_lessons: int
    continue_lesson_id: int | None  # the continue button opens this lesson ...
    continue_lesson_title: str
    continue_position: int  # ... at this second (articles: scroll percent)
    last_studied_at: datetime | None


@dataclass(frozen=True)
class RecentLessonView:
    lesson_id: int
    lesson_title: str
    kind: str
    course_id: int
    course_title: str
    position_seconds: int
    percent: int
    completed: bool
    studied_at: datetime


@dataclass(frozen=True)
class DayMinutes:
    day: str  # ISO date, Asia/Shanghai
    minutes: int


@dataclass(frozen=True)
class MyLearningView:
    courses: tuple[MyCourseView, ...]
    recent: tuple[RecentLessonView, ...]
    daily: tuple[DayMinutes, ...]  # the last 30 days, oldest first, zero-filled
    today_minutes: int
    total_minutes: int
    streak_current: int
    streak_longest: int


def _continue_target(outline: list[tuple], rows: dict[int, tuple]) -> tuple[int | None, str, int]:
    """outline: [(lesson_id, title, kind, duration)] in course order; rows: lesson_id -> progress."""
    if not outline:
        return None, "", 0
    touched = [lid for lid, *_ in outline if lid in rows]
    if not touched:
        lid, title, _, _ = outline[0]
        return lid, title, 0
    last = max(touched, key=lambda lid: rows[lid][3])
    index = next(i for i, item in enumerate(outline) if item[0] == last)
    lid, title, kind, duration = outline[index]
    position, _, completed_at, _ = rows[lid]
    finished = completed_at is not None and (
        position >= 100 if kind == LessonKind.ARTICLE else position >= duration - 2 * rules.BUCKET_SECONDS)
    if finished:
        for nxt in outline[index + 1:]:
            progress = rows.get(nxt[0])
            if progress is None or progress[2] is None:
                return nxt[0], nxt[1], progress[0] if progress else 0
        return lid, title, 0  # everything after it is done: replay the last one from the start
    return lid, title, position


def my_learning(session: Session, *, actor_id: object, now: datetime | None = None) -> MyLearningView:
    """The learner's centre: owned courses with progress and continue targets, recent lessons,
    minutes per day for the last 30 days, streaks."""

    user = require_actor(session, actor_id)
    now = now or utcnow()
    today = china_date(now)
    granted = session.exec(select(Entitlement.course_id).where(Entitlement.user_id == user.id,
                                                               col(Entitlement.revoked_at).is_(None))).all()
    owned = owned_course_ids(session, user.id, set(granted), now=now)
    courses = session.exec(select(Course).where(col(Course.id).in_(sorted(owned)),
                                                col(Course.status).in_(OPEN_TO_BUYERS))).all() if owned else []
    course_ids = [c.id for c in courses]
    outline: dict[int, list[tuple]] = defaultdict(list)
    if course_ids:
        for lid, cid, title, kind, duration in session.exec(
                select(Lesson.id, Lesson.course_id, Lesson.title, Lesson.kind, Lesson.duration_seconds)
                .join(Chapter, Chapter.id == Lesson.chapter_id)
                .where(col(Lesson.course_id).in_(course_ids))
                .order_by(Chapter.position, Chapter.id, Lesson.position, Lesson.id)).all():
            outline[cid].append((lid, title, kind, int(duration or 0)))
    progress_rows = session.exec(
        select(LessonProgress.lesson_id, LessonProgress.course_id, LessonProgress.position_seconds,
               LessonProgress.percent, LessonProgress.completed_at, LessonProgress.last_heartbeat_at)
        .where(LessonProgress.user_id == user.id)).all()
    by_course: dict[int, dict[int, tuple]] = defaultdict(dict)
    for lid, cid, pos, pct, done, seen in progress_rows:
        by_course[cid][lid] = (pos, pct, done, seen)

    views = []
    for c in courses:
        rows = by_course.get(c.id, {})
        lesson_ids = {item[0] for item in outline[c.id]}
        completed = sum(1 for lid, r in rows.items() if lid in lesson_ids and r[2] is not None)
        total = len(lesson_ids)
        cont_id, cont_title, cont_pos = _continue_target(outline[c.id], rows)
        last_seen = max((r[3] for lid, r in rows.items() if lid in lesson_ids), default=None)
        views.append(MyCourseView(c.id, c.slug, c.title, public_url(c.cover_path or ""),
                                  rules.course_pct(completed, total), completed, total, cont_id, cont_title,
                                  cont_pos, last_seen))
    epoch = datetime.min.replace(tzinfo=now.tzinfo)
    views.sort(key=lambda v: (v.last_studied_at or epoch, v.course_id), reverse=True)

    recent_rows = session.exec(
        select(LessonProgress.lesson_id, Lesson.title, Lesson.kind, Course.id, Course.title,
               LessonProgress.position_seconds, LessonProgress.percent, LessonProgress.completed_at,
               LessonProgress.last_heartbeat_at)
        .join(Lesson, Lesson.id == LessonProgress.lesson_id)
        .join(Course, Course.id == Lesson.course_id)
        .where(LessonProgress.user_id == user.id, col(Course.status).in_(OPEN_TO_BUYERS))
        .order_by(col(LessonProgress.last_heartbeat_at).desc(), col(LessonProgress.id).desc())
        .limit(RECENT_LIMIT)).all()
    recent = tuple(RecentLessonView(lid, lt, kind, cid, ct, pos, pct, done is not None, seen)
                   for lid, lt, kind, cid, ct, pos, pct, done, seen in recent_rows)

    day_rows = session.exec(select(StudyDay.day, StudyDay.seconds)
                            .where(StudyDay.user_id == user.id, StudyDay.seconds > 0)).all()
    seconds_by_day = {d: int(s) for d, s in day_rows}
    first = today - timedelta(days=CHART_DAYS - 1)
    daily = tuple(DayMinutes((first + timedelta(days=i)).isoformat(),
                             seconds_by_day.get(first + timedelta(days=i), 0) // 60) for i in range(CHART_DAYS))
    streak = rules.streaks(seconds_by_day.keys(), today)
    return MyLearningView(courses=tuple(views), recent=recent, daily=daily,
                          today_minutes=seconds_by_day.get(today, 0) // 60,
                          total_minutes=sum(seconds_by_day.values()) // 60,
                          streak_current=streak.current, streak_longest=streak.longest)

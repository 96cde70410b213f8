"""Learning reminders: "you have not studied <course> for N days".

Once an hour each worker sweeps the learners' courses (settings.reminder_days; 0 = off). A learner
gets one in-app message per course per inactivity period: the period starts at their last study
activity in the course (the last heartbeat, else the purchase), and a reminder already sent after
that moment blocks another one. Studying again starts a new period.

Idempotent and safe with several workers: each (learner, course) is decided in its own short
transaction that first takes a lock for that pair — a PostgreSQL transaction-level advisory lock,
or on SQLite the database write lock (a no-op UPDATE as the first statement) — then checks for an
existing reminder and inserts. Two sweeps at once send one message.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, text, update
from sqlmodel import Session, col, select

from coursemall import urls
from coursemall.domain.catalog import CourseStatus
from coursemall.models import Course, Entitlement, LessonProgress, Message, User, utcnow
from coursemall.services.community.messages import create_message
from coursemall.services.learning.progress import course_progress_map
from coursemall.settings import get_settings

log = logging.getLogger("coursemall.jobs")

REMINDER_KIND = "study_reminder"
REMINDER_KEY = "msg.study_reminder"
SWEEP_EVERY_SECONDS = 3600
FIRST_SWEEP_DELAY_SECONDS = 60  # let the app finish starting first


@dataclass(frozen=True)
class Idle:
    user_id: int
    course_id: int
    title: str
    since: datetime  # start of the inactivity period


def _idle_courses(session: Session, now: datetime, cutoff: datetime) -> list[Idle]:
    """(learner, course) pairs with an active entitlement and no study since `cutoff`."""
    owned = session.exec(
        select(Entitlement.user_id, Entitlement.course_id, Course.title, func.min(Entitlement.granted_at))
        .join(Course, Course.id == Entitlement.course_id)
        .join(User, User.id == Entitlement.user_id)
        .where(col(Entitlement.revoked_at).is_(None),
               or_(col(Entitlement.expires_at).is_(None), col(Entitlement.expires_at) > now),
               Course.status == CourseStatus.PUBLISHED, col(User.is_active).is_(True))
        .group_by(Entitlement.user_id, Entitlement.course_id, Course.title)).all()
    last_study = {(u, c): seen for u, c, seen in session.exec(
        select(LessonProgress.user_id, LessonProgress.course_id, func.max(LessonProgress.last_heartbeat_at))
        .group_by(LessonProgress.user_id, LessonProgress.course_id)).all()}
    idle = []
    for user_id, course_id, title, granted in owned:
        seen = last_study.get((user_id, course_id))
        since = max(granted, seen) if seen is not None else granted
        if since <= cutoff:
            idle.append(Idle(user_id, course_id, title, since))
    return idle


def _lock_pair(session: Session, user_id: int, course_id: int) -> None:
    """Serialise deciders for one (learner, course) until the transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k1, :k2)"),
                        {"k1": 0x434D5231 ^ (user_id & 0x7FFFFFFF), "k2": course_id & 0x7FFFFFFF})
    else:  # SQLite: a write as the first statement takes the database write lock (busy_timeout waits)
        session.execute(update(Message).where(Message.id == -1).values(kind=Message.kind)
                        .execution_options(synchronize_session=False))


def _remind_once(session: Session, item: Idle, days: int, percent: int) -> bool:
    """One transaction: lock the pair, skip if this period already has a reminder, else send one."""
    link = urls.course_url(item.course_id)
    try:
        _lock_pair(session, item.user_id, item.course_id)
        already = session.exec(
            select(Message.id).where(Message.user_id == item.user_id, Message.kind == REMINDER_KIND,
                                     Message.link == link, Message.created_at >= item.since).limit(1)).first()
        if already is not None:
            session.rollback()
            return False
        create_message(session, user_id=item.user_id, kind=REMINDER_KIND, key=REMINDER_KEY, link=link,
                       course=item.title, days=days, percent=percent)
        session.commit()
        return True
    except BaseException:
        session.rollback()
        raise


def send_study_reminders(session: Session, *, now: datetime | None = None, days: int | None = None) -> int:
    """Send the due reminders; returns how many THIS call sent (0 when reminders are off)."""
    days = get_settings().reminder_days if days is None else int(days)
    if days <= 0:
        return 0
    now = now or utcnow()
    idle = _idle_courses(session, now, now - timedelta(days=days))
    percents: dict[tuple[int, int], int] = {}
    for user_id in {i.user_id for i in idle}:
        courses = [i.course_id for i in idle if i.user_id == user_id]
        for course_id, pct in course_progress_map(session, user_id, courses).items():
            percents[(user_id, course_id)] = pct
    session.commit()  # end the read transaction: each pair is decided in its own one below
    sent = 0
    for item in idle:
        percent = percents.get((item.user_id, item.course_id), 0)
        if percent >= 100:
            continue  # finished courses need no nudge
        if _remind_once(session, item, days, percent):
            sent += 1
    return sent


def _sweep_once() -> int:
    from coursemall.db import session_scope

    with session_scope() as session:
        return send_study_reminders(session)


async def learning_jobs_loop() -> None:
    """Lifespan task: the hourly reminder sweep (does nothing while COURSEMALL_REMINDER_DAYS=0)."""
    await asyncio.sleep(FIRST_SWEEP_DELAY_SECONDS)
    while True:
        if get_settings().reminder_days > 0:
            try:
                sent = await asyncio.to_thread(_sweep_once)
                if sent:
                    log.info("study reminders sent: %d", sent)
            except Exception:  # noqa: BLE001 - a failed sweep is retried next hour
                log.exception("study reminder sweep failed")
        await asyncio.sleep(SWEEP_EVERY_SECONDS)

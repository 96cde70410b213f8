""""Not studied for N days" reminders (jobs/learning.py): one in-app message per learner per
course per inactivity period; idempotent, also with two sweeps at once; off when N = 0."""

from __future__ import annotations

import inspect
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from coursemall.jobs import learning as jobs
from coursemall.models import Course, Entitlement, Lesson, LessonProgress, Message, utcnow
from tests.concurrency import run_n
from tests.services.learning_fixture import make_world, play


@pytest.fixture
def w(session):
    return make_world(session)


def reminders(engine, user_id=None):
    with Session(engine) as s:
        query = select(Message).where(Message.kind == jobs.REMINDER_KIND)
        if user_id is not None:
            query = query.where(Message.user_id == user_id)
        return s.exec(query.order_by(Message.id)).all()


def test_off_when_days_is_zero(session, db_engine, w):
    assert jobs.send_study_reminders(session, now=utcnow() + timedelta(days=400), days=0) == 0
    assert reminders(db_engine) == []


def test_one_reminder_per_learner_per_course_and_a_second_run_sends_nothing(session, db_engine, w):
    later = utcnow() + timedelta(days=8)
    assert jobs.send_study_reminders(session, now=later, days=7) == 2  # buyer and buyer2; not the expired one
    assert jobs.send_study_reminders(session, now=later, days=7) == 0
    assert jobs.send_study_reminders(session, now=later + timedelta(days=20), days=7) == 0  # same idle period
    (msg,) = reminders(db_engine, w.buyer)
    assert msg.link == f"/course/{w.course}" and msg.read_at is None
    assert "手机摄影入门" in msg.body and "7" in msg.body and "0%" in msg.body
    assert {m.user_id for m in reminders(db_engine)} == {w.buyer, w.buyer2}


def test_not_yet_idle_learners_get_nothing(session, db_engine, w):
    assert jobs.send_study_reminders(session, now=utcnow() + timedelta(days=6), days=7) == 0
    assert reminders(db_engine) == []


def test_studying_again_starts_a_new_period(session, db_engine, w):
    start = utcnow() + timedelta(days=8)
    assert jobs.send_study_reminders(session, now=start, days=7) == 2
    studied = play(session, w.buyer, w.trial, 0, 125, start + timedelta(hours=1))  # 1 of 4 lessons done
    assert jobs.send_study_reminders(session, now=studied + timedelta(days=3), days=7) == 0  # studied recently
    assert jobs.send_study_reminders(session, now=studied + timedelta(days=8), days=7) == 1  # buyer only
    assert len(reminders(db_engine, w.buyer)) == 2 and len(reminders(db_engine, w.buyer2)) == 1
    (_, second) = reminders(db_engine, w.buyer)
    assert "25%" in second.body  # the progress made is in the text


def test_finished_revoked_and_unpublished_courses_are_skipped(session, db_engine, w):
    old = utcnow() - timedelta(days=30)
    for lesson_id in session.exec(select(Lesson.id).where(Lesson.course_id == w.course)).all():
        session.add(LessonProgress(user_id=w.buyer, lesson_id=lesson_id, course_id=w.course, percent=100,
                                   completed_at=old, last_heartbeat_at=old, version=1))
    ent = session.exec(select(Entitlement).where(Entitlement.user_id == w.buyer2)).one()
    ent.revoked_at = utcnow()
    session.add(ent)
    session.commit()
    later = utcnow() + timedelta(days=8)
    assert jobs.send_study_reminders(session, now=later, days=7) == 0
    course = session.get(Course, w.course)
    course.status = "unpublished"
    ent.revoked_at = None
    session.add_all([course, ent])
    session.commit()
    assert jobs.send_study_reminders(session, now=later, days=7) == 0
    assert reminders(db_engine) == []


def test_two_sweeps_at_once_send_each_reminder_once(db_engine, w):
    later = utcnow() + timedelta(days=8)

    def sweep(_):
        with Session(db_engine, expire_on_commit=False) as s:
            return jobs.send_study_reminders(s, now=later, days=7)

    assert sum(run_n(2, sweep)) == 2
    assert sorted(m.user_id for m in reminders(db_engine)) == sorted([w.buyer, w.buyer2])


def test_the_loop_is_a_lifespan_task_without_required_arguments():
    assert inspect.iscoroutinefunction(jobs.learning_jobs_loop)
    assert all(p.default is not inspect.Parameter.empty
               for p in inspect.signature(jobs.learning_jobs_loop).parameters.values())

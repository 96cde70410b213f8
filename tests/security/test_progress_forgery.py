"""Threat: forged progress heartbeats (to fake completion, earn a certificate, block a refund review,
inflate study time, or learn about lessons one has not bought). Each is refused with a clear code
and changes nothing, or is bounded by the server's own clock."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlmodel import select

from coursemall.domain.errors import DomainError
from coursemall.models import Certificate, Entitlement, LessonProgress, StudyDay
from coursemall.services.learning import certificates, progress
from tests.services.learning_fixture import T, make_world


@pytest.fixture
def w(session):
    return make_world(session)


def counts(session):
    return (session.exec(select(func.count()).select_from(LessonProgress)).one(),
            session.exec(select(func.count()).select_from(StudyDay)).one())


def beat(session, actor, lesson, pos, start, end, now=T):
    return progress.record_heartbeat(session, actor_id=actor, lesson_id=lesson, position_seconds=pos,
                                     watched_from=start, watched_to=end, now=now)


@pytest.mark.parametrize("pos,start,end,code", [
    (604, 590, 600, "progress.bad_position"),  # beyond duration + tolerance (600 + 3)
    (10**12, 0, 10, "progress.bad_position"),
    (-1, 0, 10, "progress.bad_position"),
    (10, -5, 10, "progress.bad_position"),
    (10, 20, 10, "progress.bad_position"),  # span ends before it starts
    (math.nan, 0, 10, "error.bad_request"),
    (10, 0, math.inf, "error.bad_request"),
    (10, -math.inf, 10, "error.bad_request"),
    ("10", 0, 10, "error.bad_request"),
    (10, None, 10, "error.bad_request"),
    (True, 0, 10, "error.bad_request"),
    ({"$gt": 0}, 0, 10, "error.bad_request"),
])
def test_bad_positions_are_refused_and_nothing_is_stored(session, w, pos, start, end, code):
    with pytest.raises(DomainError) as err:
        beat(session, w.buyer, w.paid, pos, start, end)
    assert err.value.code == code
    assert counts(session) == (0, 0)


@pytest.mark.parametrize("lesson_id", [0, -1, 2**31, 10**30, "1 OR 1=1", None, 1.5, [1], {"id": 1}, True])
def test_bad_lesson_ids(session, w, lesson_id):
    with pytest.raises(DomainError, match="error.bad_request"):
        beat(session, w.buyer, lesson_id, 10, 0, 10)
    assert counts(session) == (0, 0)


def test_lessons_not_owned_are_refused(session, w):
    for actor in (w.stranger, w.expired):  # never bought / entitlement expired
        with pytest.raises(DomainError, match="lesson.locked"):
            beat(session, actor, w.paid, 10, 0, 10)
    with pytest.raises(DomainError, match="error.sign_in_required"):
        beat(session, None, w.paid, 10, 0, 10)
    with pytest.raises(DomainError, match="error.not_found"):
        beat(session, w.buyer, 999_999, 10, 0, 10)
    assert counts(session) == (0, 0)
    with pytest.raises(DomainError, match="lesson.locked"):
        progress.resume_position(session, actor_id=w.stranger, lesson_id=w.paid)


def test_refunded_learner_is_refused(session, w):
    beat(session, w.buyer, w.paid, 10, 0, 10)
    grant = session.exec(select(Entitlement).where(Entitlement.user_id == w.buyer)).one()
    grant.revoked_at = T
    session.add(grant)
    session.commit()
    with pytest.raises(DomainError, match="lesson.locked"):
        beat(session, w.buyer, w.paid, 20, 10, 20, now=T + timedelta(seconds=10))
    assert session.exec(select(LessonProgress.watched_seconds)).one() == 10


def test_free_preview_limit(session, w):
    """Non-buyers of a lesson with 30 free seconds: only up to that second (+3 s tolerance)."""
    beat(session, w.stranger, w.partial, 10, 0, 10)
    with pytest.raises(DomainError, match="progress.bad_position"):
        beat(session, w.stranger, w.partial, 40, 30, 40, now=T + timedelta(seconds=10))
    r = beat(session, w.stranger, w.partial, 32.5, 10, 32.5, now=T + timedelta(seconds=22))
    assert r.position_seconds == 30 and r.watched_seconds == 30 and not r.completed
    # the buyer of the same lesson goes on to the end
    assert beat(session, w.buyer, w.partial, 60, 50, 60).position_seconds == 60


def test_one_forged_heartbeat_cannot_complete_a_lesson(session, w):
    r = beat(session, w.buyer, w.paid, 600, 0, 600)
    assert not r.completed and r.watched_seconds <= 30
    # nor can a burst of forged heartbeats sent within a second
    for i in range(20):
        r = beat(session, w.buyer, w.paid, 600, 0, 600, now=T + timedelta(milliseconds=50 * i))
    assert not r.completed and r.watched_seconds <= 60
    studied = session.exec(select(func.sum(StudyDay.seconds))).one()
    assert studied <= 30 + 20 * 3
    with pytest.raises(DomainError, match="certificate.not_complete"):
        certificates.issue_certificate(session, actor_id=w.buyer, course_id=w.course)
    assert session.exec(select(Certificate)).all() == []


def test_parallel_lessons_do_not_multiply_study_time(session, w):
    """Heartbeats for several lessons in the same seconds share one wall clock."""
    now = T
    for step in range(6):
        now = T + timedelta(seconds=10 * (step + 1))
        for lesson in (w.paid, w.trial, w.partial):
            beat(session, w.buyer, lesson, 10 * (step + 1), 10 * step, 10 * (step + 1), now=now)
    studied = session.exec(select(func.sum(StudyDay.seconds))).one()
    assert studied <= 60 + 6 * 2 + 3 * 10 + 10  # ~wall time, not 3 × 60


def test_article_read_needs_full_access_and_valid_percent(session, w):
    for bad in (101, -1, math.nan, "100", None):
        with pytest.raises(DomainError):
            progress.record_article_read(session, actor_id=w.buyer, lesson_id=w.article, percent=bad, now=T)
    assert counts(session) == (0, 0)

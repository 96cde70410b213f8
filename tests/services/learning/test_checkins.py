"""Daily check-in per course: once per Shanghai day, optional clean photo, streaks, listing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from PIL import Image
from sqlmodel import select

from coursemall.domain.errors import DomainError
from coursemall.models import CheckIn
from coursemall.services.learning import checkins
from tests.services.learning_fixture import T, make_world, png_bytes


@pytest.fixture
def w(session):
    return make_world(session)


def test_once_per_day_with_photo_and_streaks(session, w, tmp_path):
    view = checkins.check_in(session, actor_id=w.buyer, course_id=w.course, text="第一天打卡", photo=png_bytes(),
                             now=T, public_dir=tmp_path)
    assert view.day == "2026-03-02" and view.photo_url.startswith("/api/public/checkins/")
    name = view.photo_url.removeprefix("/api/public/")
    with Image.open(tmp_path / name) as img:
        assert img.format == "PNG" and img.size == (64, 48)
    with pytest.raises(DomainError, match="checkin.already_today"):
        checkins.check_in(session, actor_id=w.buyer, course_id=w.course, text="再打一次",
                          now=T + timedelta(hours=13), public_dir=tmp_path)  # 23:00 Shanghai, same day
    # 16:00 UTC is midnight in Shanghai: a new day
    checkins.check_in(session, actor_id=w.buyer, course_id=w.course, text="第二天", now=T + timedelta(hours=14),
                      public_dir=tmp_path)
    checkins.check_in(session, actor_id=w.buyer, course_id=w.course, text="第三天", now=T + timedelta(days=2),
                      public_dir=tmp_path)
    status = checkins.checkin_status(session, actor_id=w.buyer, course_id=w.course, now=T + timedelta(days=2))
    assert (status.checked_in_today, status.streak_current, status.streak_longest, status.total_days) == (
        True, 3, 3, 3)
    later = checkins.checkin_status(session, actor_id=w.buyer, course_id=w.course, now=T + timedelta(days=4))
    assert (later.checked_in_today, later.streak_current, later.streak_longest) == (False, 0, 3)
    assert len(session.exec(select(CheckIn)).all()) == 3
    assert len(list((tmp_path / "checkins").iterdir())) == 1


def test_learners_only_and_listing(session, w, tmp_path):
    for actor in (w.stranger, w.expired):
        with pytest.raises(DomainError, match="checkin.not_learner"):
            checkins.check_in(session, actor_id=actor, course_id=w.course, text="没买", now=T, public_dir=tmp_path)
        with pytest.raises(DomainError, match="checkin.not_learner"):
            checkins.list_checkins(session, actor_id=actor, course_id=w.course)
    with pytest.raises(DomainError, match="error.bad_request"):
        checkins.check_in(session, actor_id=w.buyer, course_id="abc", text="x", public_dir=tmp_path)
    a = checkins.check_in(session, actor_id=w.buyer, course_id=w.course, text="甲", public_dir=tmp_path)
    b = checkins.check_in(session, actor_id=w.buyer2, course_id=w.course, text="乙", public_dir=tmp_path)
    listed = checkins.list_checkins(session, actor_id=w.buyer, course_id=w.course)
    assert [(c.id, c.mine) for c in listed] == [(b.id, False), (a.id, True)]
    assert [c.id for c in checkins.list_checkins(session, actor_id=w.teacher, course_id=w.course,
                                                 as_manager=True)] == [b.id, a.id]
    for manager in (w.teacher, w.staff, w.owner):  # not through the dashboard guard: not a learner
        with pytest.raises(DomainError, match="checkin.not_learner"):
            checkins.list_checkins(session, actor_id=manager, course_id=w.course)
    assert [c.id for c in checkins.list_checkins(session, actor_id=w.buyer, course_id=w.course,
                                                 before_id=b.id)] == [a.id]

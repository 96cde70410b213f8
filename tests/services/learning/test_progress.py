"""Progress service: coverage, completion, study days, streaks, my learning, resume, refund policy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from coursemall.domain.errors import DomainError
from coursemall.models import Chapter, Lesson, LessonProgress, StudyDay
from coursemall.services.commerce import cart, checkout, payments, refunds
from coursemall.services.learning import progress
from tests.concurrency import run_n
from tests.payments.factories import make_course, make_user
from tests.services.learning_fixture import T, make_world, play


@pytest.fixture
def w(session):
    return make_world(session)


def row(session, user_id, lesson_id):
    return session.exec(select(LessonProgress).where(LessonProgress.user_id == user_id,
                                                     LessonProgress.lesson_id == lesson_id)
                        .execution_options(populate_existing=True)).first()


def day_seconds(session, user_id):
    return sum(s for s in session.exec(select(StudyDay.seconds).where(StudyDay.user_id == user_id)
                                       .execution_options(populate_existing=True)).all())


def test_replayed_time_counts_once(session, w):
    now = play(session, w.buyer, w.paid, 0, 60, T)
    first = row(session, w.buyer, w.paid)
    assert (first.watched_seconds, first.position_seconds) == (60, 60)
    studied = day_seconds(session, w.buyer)
    assert 55 <= studied <= 62
    now = play(session, w.buyer, w.paid, 0, 60, now + timedelta(minutes=5))  # replay
    again = row(session, w.buyer, w.paid)
    assert again.watched_seconds == 60 and bytes(again.covered) == bytes(first.covered)
    assert day_seconds(session, w.buyer) == studied  # a replay adds no study time
    play(session, w.buyer, w.paid, 30, 90, now + timedelta(minutes=5))
    assert row(session, w.buyer, w.paid).watched_seconds == 90
    assert row(session, w.buyer, w.paid).completed_at is None


def test_completion_at_ninety_percent(session, w):
    now = play(session, w.buyer, w.paid, 0, 535, T)
    assert row(session, w.buyer, w.paid).completed_at is None
    result = progress.record_heartbeat(session, actor_id=w.buyer, lesson_id=w.paid, position_seconds=541,
                                       watched_from=535, watched_to=541, now=now + timedelta(seconds=6))
    assert result.completed and result.just_completed and result.percent == 90
    assert result.course_percent == 25  # 1 of 4 lessons
    # further heartbeats keep it complete without "completing" again
    later = progress.record_heartbeat(session, actor_id=w.buyer, lesson_id=w.paid, position_seconds=100,
                                      watched_from=90, watched_to=100, now=now + timedelta(seconds=20))
    assert later.completed and not later.just_completed
    assert row(session, w.buyer, w.paid).completed_at is not None


def test_two_times_speed_covers_faster_but_credits_wall_time(session, w):
    play(session, w.buyer, w.paid, 0, 200, T, rate=2.0)  # 100 s of wall time
    assert row(session, w.buyer, w.paid).watched_seconds == 200
    # wall time + 2 s slack per heartbeat; the very first heartbeat cannot know its wall time (+10)
    assert 100 <= day_seconds(session, w.buyer) <= 100 + 10 * 2 + 10


def test_article_complete_when_read_to_the_end(session, w):
    r = progress.record_article_read(session, actor_id=w.buyer, lesson_id=w.article, percent=60, now=T)
    assert not r.completed and r.percent == 60
    r = progress.record_article_read(session, actor_id=w.buyer, lesson_id=w.article, percent=30,
                                     now=T + timedelta(seconds=20))
    assert r.percent == 60 and r.position_seconds == 30  # best kept, position follows the reader
    r = progress.record_article_read(session, actor_id=w.buyer, lesson_id=w.article, percent=100,
                                     now=T + timedelta(seconds=40))
    assert r.completed and r.just_completed
    with pytest.raises(DomainError, match="error.bad_request"):  # heartbeats are for media
        progress.record_heartbeat(session, actor_id=w.buyer, lesson_id=w.article, position_seconds=1,
                                  watched_from=0, watched_to=1, now=T)
    with pytest.raises(DomainError, match="error.bad_request"):
        progress.record_article_read(session, actor_id=w.buyer, lesson_id=w.paid, percent=100, now=T)


def test_course_progress_and_certificate_at_100(session, w):
    now = play(session, w.buyer, w.trial, 0, 125, T)
    now = play(session, w.buyer, w.partial, 0, 420, now)
    progress.record_article_read(session, actor_id=w.buyer, lesson_id=w.article, percent=100, now=now)
    view = progress.get_course_progress(session, actor_id=w.buyer, course_id=w.course)
    assert (view.percent, view.completed_lessons, view.total_lessons) == (75, 3, 4)
    assert progress.course_progress_pct(session, w.buyer, [w.course]) == 75
    assert progress.course_progress_pct(session, w.buyer2, [w.course]) == 0
    last = None
    pos = 0
    while pos < 600:
        now += timedelta(seconds=10)
        last = progress.record_heartbeat(session, actor_id=w.buyer, lesson_id=w.paid, position_seconds=pos + 10,
                                         watched_from=pos, watched_to=pos + 10, now=now)
        pos += 10
        if last.just_completed:
            break
    assert last.course_percent == 100 and last.certificate_code


def test_resume_position(session, w):
    play(session, w.buyer, w.paid, 0, 40, T)
    r = progress.resume_position(session, actor_id=w.buyer, lesson_id=w.paid)
    assert (r.position_seconds, r.completed, r.furthest_seconds, r.limit_seconds) == (40, False, 40, 600)
    fresh = progress.resume_position(session, actor_id=w.buyer, lesson_id=w.trial)
    assert fresh.position_seconds == 0
    # a finished lesson starts again from the beginning
    play(session, w.buyer, w.trial, 0, 125, T + timedelta(hours=1))
    assert progress.resume_position(session, actor_id=w.buyer, lesson_id=w.trial).position_seconds == 0
    # non-buyers of a partial lesson are limited to its free seconds
    assert progress.resume_position(session, actor_id=w.stranger, lesson_id=w.partial).limit_seconds == 30


def test_my_learning_continue_recent_chart_and_streaks(session, w):
    empty = progress.my_learning(session, actor_id=w.buyer, now=T)
    course = next(c for c in empty.courses if c.course_id == w.course)
    assert course.percent == 0 and course.continue_lesson_id == w.trial and course.continue_position == 0
    # day 1 (Mar 2), day 2 (Mar 3), day 3 (Mar 4); skip Mar 5; Mar 6
    play(session, w.buyer, w.trial, 0, 125, T)
    play(session, w.buyer, w.partial, 0, 120, T + timedelta(days=1))
    play(session, w.buyer, w.partial, 120, 200, T + timedelta(days=2))
    play(session, w.buyer, w.paid, 0, 40, T + timedelta(days=4))  # leaves at 0:40
    view = progress.my_learning(session, actor_id=w.buyer, now=T + timedelta(days=4, hours=1))
    course = next(c for c in view.courses if c.course_id == w.course)
    assert (course.continue_lesson_id, course.continue_position) == (w.paid, 40)
    assert course.percent == 25 and (course.completed_lessons, course.total_lessons) == (1, 4)
    assert [r.lesson_id for r in view.recent][:3] == [w.paid, w.partial, w.trial]
    assert len(view.daily) == 30 and view.daily[-1].day == "2026-03-06"
    minutes = {d.day: d.minutes for d in view.daily}
    assert minutes["2026-03-02"] == 2 and minutes["2026-03-03"] == 2 and minutes["2026-03-05"] == 0
    assert (view.streak_current, view.streak_longest) == (1, 3)
    # a learner who owns nothing sees nothing
    stranger = progress.my_learning(session, actor_id=w.stranger, now=T)
    assert stranger.courses == () and stranger.streak_current == 0


def test_continue_moves_to_next_lesson_after_finishing(session, w):
    play(session, w.buyer, w.trial, 0, 125, T)
    view = progress.my_learning(session, actor_id=w.buyer, now=T + timedelta(minutes=5))
    course = next(c for c in view.courses if c.course_id == w.course)
    assert (course.continue_lesson_id, course.continue_position) == (w.partial, 0)


def test_concurrent_heartbeats_merge(db_engine, session, w):
    """Two tabs send heartbeats for different spans at once: one row, both spans covered."""

    def worker(k):
        with Session(db_engine, expire_on_commit=False) as s:
            progress.record_heartbeat(s, actor_id=w.buyer, lesson_id=w.paid, position_seconds=k * 20 + 20,
                                      watched_from=k * 20, watched_to=k * 20 + 20, now=T)

    run_n(4, worker)
    rows = session.exec(select(LessonProgress).where(LessonProgress.user_id == w.buyer)).all()
    assert len(rows) == 1 and rows[0].watched_seconds == 80 and rows[0].version == 4


def test_refund_policy_sees_real_progress(session):
    """≥ 20 % progress sends the refund to review instead of auto-approval."""
    owner = make_user(session, role="owner")
    refunds.update_refund_policy(session, actor_id=owner.id, auto_approve=True, within_days=7,
                                 max_progress_pct=20, request_window_days=30)
    course = make_course(session, price_fen=1000)
    chapter = Chapter(course_id=course.id, title="第一章", position=1)
    session.add(chapter)
    session.flush()
    lessons = [Lesson(course_id=course.id, chapter_id=chapter.id, title=f"第{i}课", kind="video", position=i,
                      duration_seconds=20) for i in range(5)]
    session.add_all(lessons)
    session.commit()

    def buy(user):
        cart.add_to_cart(session, actor_id=user.id, item_type="course", item_id=course.id)
        order = checkout.checkout_cart(session, actor_id=user.id)
        payments.sandbox_decide(session, actor_id=user.id, order_no=order.out_trade_no, outcome="pay")
        return order.out_trade_no

    studious, idle = make_user(session), make_user(session)
    order_studious, order_idle = buy(studious), buy(idle)
    progress.record_heartbeat(session, actor_id=studious.id, lesson_id=lessons[0].id, position_seconds=20,
                              watched_from=0, watched_to=20)
    assert progress.course_progress_pct(session, studious.id, [course.id]) == 20
    review = refunds.request_refund(session, actor_id=studious.id, order_no=order_studious, reason="不想学了")
    assert (review.status, review.policy_outcome) == ("requested", "review")
    auto = refunds.request_refund(session, actor_id=idle.id, order_no=order_idle, reason="买错了")
    assert (auto.status, auto.policy_outcome) == ("succeeded", "auto_approve")


# ---------------------------------------------------------------------------------- demo history

def test_demo_study_history_fills_my_learning_and_is_idempotent(session):
    from coursemall.demo.accounts import DEMO_LEARNERS
    from coursemall.demo.study import ensure_demo_study
    from coursemall.models import Entitlement, User
    from coursemall.services.learning.media_access import utcnow
    from tests.services.catalog_fixture import build_catalog

    cat = build_catalog(session, media_prefix="demo")
    learners = []
    for account in DEMO_LEARNERS:
        user = User(email=account.email, nickname=account.nickname, watermark_code=account.email[:8])
        session.add(user)
        session.flush()
        session.add(Entitlement(user_id=user.id, course_id=cat.ids["phone"], source="manual", source_ref="demo"))
        learners.append(user.id)
    session.commit()
    first = ensure_demo_study(session)
    session.commit()
    assert first["study_progress_rows"] > 0 and first["study_days"] >= 3 * 15
    assert ensure_demo_study(session) == {"study_progress_rows": 0, "study_days": 0}  # idempotent
    for user_id in learners:
        view = progress.my_learning(session, actor_id=user_id, now=utcnow())
        (course,) = view.courses
        assert 0 < course.percent < 100  # studied, never finished by the seed
        assert course.continue_lesson_id is not None
        assert sum(d.minutes for d in view.daily) > 60 and view.streak_current >= 4
        assert view.recent  # "recently studied" has rows

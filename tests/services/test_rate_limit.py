"""The one rate limiter on SQLite and PostgreSQL: fixed windows counted by atomic UPSERTs, all or
nothing across rules, refunds, purge, and concurrent bursts admitting exactly the limit."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from coursemall.domain.errors import DomainError
from coursemall.i18n import t
from coursemall.models import LessonComment, LessonNote
from coursemall.models.limits import RateCounter
from coursemall.services.community import comments
from coursemall.services.learning import notes
from coursemall.services import rate_limit
from tests.services.learning_fixture import make_world

T0 = datetime(2026, 5, 1, 10, 0, 0, tzinfo=timezone.utc)  # on a window boundary of every rule


def _refused(session, *checks, now=T0) -> DomainError:
    with pytest.raises(DomainError) as err:
        rate_limit.take(session, *checks, now=now)
    return err.value


def test_limit_then_wait_then_a_new_window(session):
    for _ in range(5):
        rate_limit.take(session, ("post.comment", "7"), now=T0 + timedelta(seconds=10))
    err = _refused(session, ("post.comment", "7"), now=T0 + timedelta(seconds=25))
    assert err.code == "limit.post_seconds" and err.params["n"] == 35
    assert t(err.code, "zh_CN", **err.params) == "发布太频繁了，请 35 秒后再试"
    assert t(err.code, "en", **err.params) == "You are posting too often, try again in 35 seconds"
    rate_limit.take(session, ("post.comment", "8"), now=T0 + timedelta(seconds=25))  # another user
    rate_limit.take(session, ("post.comment", "7"), now=T0 + timedelta(seconds=60))  # next minute


def test_day_window_holds_across_minutes(session):
    for minute in range(20):  # 3 a minute for check-ins, 20 a day
        rate_limit.take(session, ("post.checkin", "9"), now=T0 + timedelta(minutes=minute))
    err = _refused(session, ("post.checkin", "9"), now=T0 + timedelta(minutes=30))
    assert err.code == "limit.post_hours" and err.params["n"] == 14  # until midnight UTC
    assert "小时后再试" in t(err.code, "zh_CN", **err.params)


def test_all_or_nothing_across_rules(session):
    for i in range(5):
        rate_limit.take(session, ("code.ip", f"10.0.0.{i}"), ("code.target", "login:a@x.cn"), now=T0)
    err = _refused(session, ("code.ip", "10.0.0.99"), ("code.target", "login:a@x.cn"))
    assert err.code == "limit.code_minutes" and err.params["n"] == 60
    # the refused call did not count for its IP: that IP still has its whole hourly budget
    for _ in range(20):
        rate_limit.take(session, ("code.ip", "10.0.0.99"), ("code.target", f"login:{_}@x.cn"), now=T0)


def test_refund_gives_the_attempt_back(session):
    for _ in range(5):
        taken = rate_limit.take(session, ("password.change", "3"), now=T0)
        rate_limit.refund(session, taken)
        session.commit()
    counts = session.exec(select(RateCounter.count)).all()
    assert counts and set(counts) == {0}


def test_empty_key_skips_the_rule(session):
    assert rate_limit.take(session, ("register.ip", ""), now=T0).slots == ()
    assert session.exec(select(func.count()).select_from(RateCounter)).one() == 0


def test_keys_are_not_stored_raw(session):
    rate_limit.take(session, ("register.ip", "203.0.113.77"), ("register.account", "secret@example.com"), now=T0)
    buckets = " ".join(session.exec(select(RateCounter.bucket)).all())
    assert "203.0.113.77" not in buckets and "secret@example.com" not in buckets


def test_purge_drops_only_old_windows(session):
    rate_limit.take(session, ("post.note", "1"), now=T0)
    rate_limit.take(session, ("post.note", "1"), now=T0 + timedelta(days=3))
    session.commit()
    removed = rate_limit.purge_expired(session, now=T0 + timedelta(days=3))
    session.commit()
    assert removed == 2  # the minute and the day window of T0
    assert session.exec(select(func.count()).select_from(RateCounter)).one() == 2


def _burst(db_engine, n: int, work) -> list[str]:
    """Run `work(session)` in n threads at once; every worker must finish and none may raise."""
    barrier = threading.Barrier(n)
    results: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            with Session(db_engine, expire_on_commit=False) as s:
                barrier.wait(timeout=30)
                try:
                    work(s)
                    outcome = "ok"
                except DomainError as exc:
                    outcome = exc.code
            with lock:
                results.append(outcome)
        except BaseException as exc:  # noqa: BLE001 - reported below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not any(th.is_alive() for th in threads), "a worker hung"
    assert errors == [], errors
    assert len(results) == n
    return results


def test_concurrent_burst_admits_exactly_the_limit(db_engine):
    results = _burst(db_engine, 16, lambda s: rate_limit.take(s, ("post.comment", "42"), now=T0))
    assert results.count("ok") == 5 and results.count("limit.post_seconds") == 11
    with Session(db_engine) as s:
        assert sorted(s.exec(select(RateCounter.count)).all()) == [5, 5]  # minute and day window


def test_concurrent_burst_over_several_rules(db_engine):
    """Two rules per call (shared target, distinct IPs): exactly the target's hourly limit passes,
    and the IPs of refused calls are not charged."""
    counter = iter(range(100))
    lock = threading.Lock()

    def work(s):
        with lock:
            i = next(counter)
        rate_limit.take(s, ("code.ip", f"10.1.0.{i}"), ("code.target", "reset:owner@x.cn"), now=T0)

    results = _burst(db_engine, 12, work)
    assert results.count("ok") == 5
    with Session(db_engine) as s:
        ip_counts = s.exec(select(func.sum(RateCounter.count)).where(RateCounter.bucket.like("code.ip/3600:%"))).one()
        assert ip_counts == 5


@pytest.fixture
def w(session):
    return make_world(session)


def test_comments_are_limited_per_user(session, w):
    for i in range(5):
        comments.add_comment(session, actor_id=w.buyer, lesson_id=w.paid, text=f"第{i}条")
    with pytest.raises(DomainError) as err:  # a reply counts as a comment too
        comments.add_comment(session, actor_id=w.buyer, lesson_id=w.paid, text="回复", parent_id=None)
    assert err.value.code == "limit.post_seconds"
    comments.add_comment(session, actor_id=w.buyer2, lesson_id=w.paid, text="别人不受影响")
    assert session.exec(select(func.count()).select_from(LessonComment)
                        .where(LessonComment.user_id == w.buyer)).one() == 5


def test_concurrent_comment_burst_stores_exactly_the_limit(db_engine, session, w):
    session.commit()
    results = _burst(db_engine, 10, lambda s: comments.add_comment(s, actor_id=w.buyer, lesson_id=w.paid,
                                                                   text="刷屏"))
    assert results.count("ok") == 5
    with Session(db_engine) as s:
        assert s.exec(select(func.count()).select_from(LessonComment)
                      .where(LessonComment.user_id == w.buyer)).one() == 5


def test_notes_are_limited_per_user(session, w):
    for i in range(20):
        notes.add_note(session, actor_id=w.buyer, lesson_id=w.paid, at_seconds=i, text=f"笔记{i}")
    with pytest.raises(DomainError) as err:
        notes.add_note(session, actor_id=w.buyer, lesson_id=w.paid, at_seconds=30, text="再一条")
    assert err.value.code == "limit.post_seconds"
    assert session.exec(select(func.count()).select_from(LessonNote)).one() == 20

"""Refunds: policy, review queue, partial refunds by line, revocation, one refund at a time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from coursemall.domain.errors import DomainError
from coursemall.models import Entitlement, Refund, utcnow
from coursemall.services.commerce import cart, checkout, payments, refunds
from tests.concurrency import run_n
from tests.payments.factories import active_grants, make_course, make_user, messages_of, order_row


def _paid_order(session, user, prices=(1000, 2000)):
    courses = [make_course(session, price_fen=p) for p in prices]
    for c in courses:
        cart.add_to_cart(session, actor_id=user.id, item_type="course", item_id=c.id)
    order = checkout.checkout_cart(session, actor_id=user.id)
    payments.sandbox_decide(session, actor_id=user.id, order_no=order.out_trade_no, outcome="pay")
    return checkout.get_my_order(session, actor_id=user.id, order_no=order.out_trade_no), courses


def test_auto_approved_partial_then_full_refund(session):
    user = make_user(session)
    order, (a, b) = _paid_order(session, user)
    line_a = next(ln for ln in order.lines if ln.item_id == a.id)
    view = refunds.request_refund(session, actor_id=user.id, order_no=order.out_trade_no, line_ids=[line_a.id],
                                  reason="买错了")
    assert (view.status, view.policy_outcome, view.amount_fen) == ("succeeded", "auto_approve", 1000)
    assert order_row(session, order.out_trade_no).status == "partially_refunded"
    assert [g.course_id for g in active_grants(session, user.id)] == [b.id]
    revoked = session.exec(select(Entitlement).where(Entitlement.course_id == a.id)).one()
    assert revoked.revoked_at is not None and view.out_refund_no in revoked.revoke_reason
    # the same line cannot be refunded twice
    with pytest.raises(DomainError, match="refund.bad_lines"):
        refunds.request_refund(session, actor_id=user.id, order_no=order.out_trade_no, line_ids=[line_a.id],
                               reason="again")
    refunds.request_refund(session, actor_id=user.id, order_no=order.out_trade_no, reason="都不要了")
    row = order_row(session, order.out_trade_no)
    assert (row.status, row.refunded_fen) == ("refunded", 3000)
    assert active_grants(session, user.id) == []
    assert len(messages_of(session, user.id, "refund_result")) == 2


def test_review_queue_approve_and_reject(session):
    owner = make_user(session, role="owner")
    staff = make_user(session, role="staff")
    refunds.update_refund_policy(session, actor_id=owner.id, auto_approve=False, within_days=7,
                                 max_progress_pct=20, request_window_days=30)
    user = make_user(session)
    order, _ = _paid_order(session, user)
    view = refunds.request_refund(session, actor_id=user.id, order_no=order.out_trade_no, reason="不想学了")
    assert view.status == "requested" and order_row(session, order.out_trade_no).status == "refunding"
    assert [r.id for r in refunds.list_refund_queue(session, actor_id=staff.id)] == [view.id]
    with pytest.raises(DomainError, match="error.forbidden"):
        refunds.decide_refund(session, actor_id=user.id, refund_id=view.id, approve=True)
    with pytest.raises(DomainError, match="refund.reason_length"):
        refunds.decide_refund(session, actor_id=staff.id, refund_id=view.id, approve=False, reason="")
    rejected = refunds.decide_refund(session, actor_id=staff.id, refund_id=view.id, approve=False, reason="已学完")
    assert rejected.status == "rejected"
    assert order_row(session, order.out_trade_no).status == "paid"
    assert len(active_grants(session, user.id)) == 2
    assert any("已学完" in m.body for m in messages_of(session, user.id, "refund_result"))
    with pytest.raises(DomainError, match="refund.already_decided"):
        refunds.decide_refund(session, actor_id=staff.id, refund_id=view.id, approve=True)
    # ask again, approved this time
    again = refunds.request_refund(session, actor_id=user.id, order_no=order.out_trade_no, reason="再申请")
    done = refunds.decide_refund(session, actor_id=owner.id, refund_id=again.id, approve=True)
    assert done.status == "succeeded" and order_row(session, order.out_trade_no).status == "refunded"
    assert active_grants(session, user.id) == []
    with pytest.raises(DomainError, match="error.forbidden"):  # only the owner edits the policy
        refunds.update_refund_policy(session, actor_id=staff.id, auto_approve=True, within_days=7,
                                     max_progress_pct=20, request_window_days=30)


def test_policy_uses_injected_progress_and_window(session):
    user = make_user(session)
    order, _ = _paid_order(session, user)
    view = refunds.request_refund(session, actor_id=user.id, order_no=order.out_trade_no, reason="进度太多",
                                  progress=lambda s, uid, cids: 50)
    assert (view.status, view.policy_outcome) == ("requested", "review")
    other = make_user(session)
    order2, _ = _paid_order(session, other)
    paid_at = order_row(session, order2.out_trade_no).paid_at
    with pytest.raises(DomainError, match="refund.window_passed"):
        refunds.request_refund(session, actor_id=other.id, order_no=order2.out_trade_no, reason="太晚",
                               now=paid_at + timedelta(days=31))
    late = refunds.request_refund(session, actor_id=other.id, order_no=order2.out_trade_no, reason="八天后",
                                  now=paid_at + timedelta(days=8))
    assert late.policy_outcome == "review"


@pytest.mark.parametrize("reason", ["", "   ", "x" * 201, None, 12, ["a"]])
def test_reason_is_validated(session, reason):
    user = make_user(session)
    order, _ = _paid_order(session, user)
    with pytest.raises(DomainError):
        refunds.request_refund(session, actor_id=user.id, order_no=order.out_trade_no, reason=reason)
    assert order_row(session, order.out_trade_no).status == "paid"
    assert session.exec(select(Refund)).all() == []


def test_two_concurrent_requests_make_one_refund(db_engine, session):
    owner = make_user(session, role="owner")
    refunds.update_refund_policy(session, actor_id=owner.id, auto_approve=False, within_days=7,
                                 max_progress_pct=20, request_window_days=30)
    user = make_user(session)
    order, _ = _paid_order(session, user)

    def worker(_):
        with Session(db_engine, expire_on_commit=False) as s:
            try:
                return refunds.request_refund(s, actor_id=user.id, order_no=order.out_trade_no, reason="并发").status
            except DomainError as exc:
                return exc.code

    results = run_n(2, worker)
    assert sorted(results) == ["refund.in_progress", "requested"]
    session.expire_all()
    assert len(session.exec(select(Refund)).all()) == 1


def test_refund_keeps_access_from_other_sources(session):
    user = make_user(session)
    order, (a,) = _paid_order(session, user, prices=(900,))
    session.add(Entitlement(user_id=user.id, course_id=a.id, source="gift", source_ref="friend"))
    session.commit()
    refunds.request_refund(session, actor_id=user.id, order_no=order.out_trade_no, reason="朋友送了")
    assert [(g.course_id, g.source) for g in active_grants(session, user.id)] == [(a.id, "gift")]


def test_unpaid_or_foreign_orders_cannot_be_refunded(session):
    user = make_user(session)
    order = checkout.buy_now(session, actor_id=user.id, item_type="course", item_id=make_course(session).id)
    with pytest.raises(DomainError, match="refund.not_refundable"):
        refunds.request_refund(session, actor_id=user.id, order_no=order.out_trade_no, reason="未支付")
    mallory = make_user(session)
    paid, _ = _paid_order(session, user)
    with pytest.raises(DomainError, match="order.not_found"):
        refunds.request_refund(session, actor_id=mallory.id, order_no=paid.out_trade_no, reason="not mine")
    assert order_row(session, paid.out_trade_no).status == "paid"


def test_refund_outcome_is_applied_once(session):
    user = make_user(session)
    order, _ = _paid_order(session, user, prices=(700,))
    view = refunds.request_refund(session, actor_id=user.id, order_no=order.out_trade_no, reason="一次")
    from coursemall.payments.base import RefundResult

    again = refunds.apply_refund_result(session, refund_id=view.id, result=RefundResult("succeeded", "X"),
                                        kind="refund_notify")
    assert again == "succeeded"
    assert order_row(session, order.out_trade_no).refunded_fen == 700
    assert len(messages_of(session, user.id, "refund_result")) == 1
    assert utcnow()


# ---------------------------------------------------------------------------------- consumption

def _course_with_media(session, price=1000, lessons=(100, 100, 100, 100, 100)):
    from coursemall.models import Chapter, Lesson

    course = make_course(session, price_fen=price)
    chapter = Chapter(course_id=course.id, title="一")
    session.add(chapter)
    session.flush()
    rows = [Lesson(course_id=course.id, chapter_id=chapter.id, title=f"第{i}课", kind="video", position=i,
                   duration_seconds=seconds) for i, seconds in enumerate(lessons)]
    session.add_all(rows)
    session.commit()
    return course, rows


def _buy(session, user, course):
    cart.add_to_cart(session, actor_id=user.id, item_type="course", item_id=course.id)
    order = checkout.checkout_cart(session, actor_id=user.id)
    payments.sandbox_decide(session, actor_id=user.id, order_no=order.out_trade_no, outcome="pay")
    return order.out_trade_no


def _served(session, user, lesson, seconds: int) -> None:
    """What api/hls.py records while it serves 4-second segments (and the key)."""
    from coursemall.services.learning.consumption import record_served

    record_served(session, user_id=user.id, lesson_id=lesson.id, course_id=lesson.course_id, segment=-1,
                  duration_ms=0)
    for index in range(-(-seconds // 4)):
        record_served(session, user_id=user.id, lesson_id=lesson.id, course_id=lesson.course_id, segment=index,
                      duration_ms=min(4000, (seconds - 4 * index) * 1000))
    session.commit()


def test_served_media_counts_towards_the_refund_rule_beside_heartbeats(session):
    from coursemall.services.learning.consumption import consumption

    course, lessons = _course_with_media(session)  # 500 media seconds
    downloader, sampler, idle = make_user(session), make_user(session), make_user(session)
    orders = {u.id: _buy(session, u, course) for u in (downloader, sampler, idle)}
    # buy -> download every segment of two lessons without sending one heartbeat: 40 % served
    for lesson in lessons[:2]:
        _served(session, downloader, lesson, 100)
    _served(session, sampler, lessons[0], 60)  # 12 %: below the 20 % of the default rule
    used = consumption(session, downloader.id, [course.id])
    assert (used.served_seconds, used.media_seconds, used.served_pct, used.progress_pct) == (200, 500, 40, 0)
    review = refunds.request_refund(session, actor_id=downloader.id, order_no=orders[downloader.id], reason="退")
    assert (review.status, review.policy_outcome) == ("requested", "review")
    for user in (sampler, idle):
        auto = refunds.request_refund(session, actor_id=user.id, order_no=orders[user.id], reason="买错了")
        assert (auto.status, auto.policy_outcome) == ("succeeded", "auto_approve")


def test_repeated_segments_count_once(session):
    from coursemall.services.learning.consumption import consumption, record_served

    course, lessons = _course_with_media(session)
    user = make_user(session)
    first = [record_served(session, user_id=user.id, lesson_id=lessons[0].id, course_id=course.id, segment=i,
                           duration_ms=4000) for i in (0, 1, 0, 0, 1)]
    session.commit()
    assert first == [True, True, False, False, False]
    assert consumption(session, user.id, [course.id]).served_seconds == 8


def test_a_learner_past_the_automatic_refund_limit_goes_to_review(session, monkeypatch):
    import dataclasses

    from coursemall.settings import get_settings

    limit = dataclasses.replace(get_settings(), auto_refund_limit=2)
    monkeypatch.setattr(refunds, "get_settings", lambda: limit)
    user = make_user(session)
    outcomes = []
    for _ in range(3):
        order, _courses = _paid_order(session, user, prices=(1000,))
        outcomes.append(refunds.request_refund(session, actor_id=user.id, order_no=order.out_trade_no,
                                               reason="又退了").policy_outcome)
    assert outcomes == ["auto_approve", "auto_approve", "review_limit"]
    third = session.exec(select(Refund).where(Refund.user_id == user.id).order_by(Refund.id.desc())).first()
    assert third.status == "requested"
    # refunds older than 90 days no longer count
    for row in session.exec(select(Refund).where(Refund.user_id == user.id)).all():
        row.created_at = utcnow() - timedelta(days=91)
        session.add(row)
    session.commit()
    order, _courses = _paid_order(session, user, prices=(1000,))
    assert refunds.request_refund(session, actor_id=user.id, order_no=order.out_trade_no,
                                  reason="隔了很久").policy_outcome == "auto_approve"
    # 0 = every refund goes to the owner
    monkeypatch.setattr(refunds, "get_settings", lambda: dataclasses.replace(limit, auto_refund_limit=0))
    fresh = make_user(session)
    order, _courses = _paid_order(session, fresh, prices=(1000,))
    view = refunds.request_refund(session, actor_id=fresh.id, order_no=order.out_trade_no, reason="第一次")
    assert (view.status, view.policy_outcome) == ("requested", "review_limit")


def test_the_review_queue_shows_what_the_learner_consumed(session):
    from coursemall.services.dashboard import queues as admin_service

    owner = make_user(session, role="owner")
    course, lessons = _course_with_media(session)
    user = make_user(session)
    order_no = _buy(session, user, course)
    for lesson in lessons[:3]:
        _served(session, user, lesson, 100)
    refunds.request_refund(session, actor_id=user.id, order_no=order_no, reason="全下载了")
    (row,) = admin_service.list_refund_rows(session, actor_id=owner.id)
    assert (row.policy_outcome, row.served_seconds, row.media_seconds, row.served_pct, row.progress_pct) == (
        "review", 300, 500, 60, 0)

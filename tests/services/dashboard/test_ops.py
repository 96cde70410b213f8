"""Operations services on SQLite and PostgreSQL: order filters/search/paging/totals (China dates),
order detail and the staff refund, learner search and profile, grant / revoke access (lesson
access follows; audit and messages), and refusals that change nothing."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import Session, func, select

from coursemall.domain.errors import DomainError
from coursemall.models import AuditLog, Chapter, Entitlement, Instructor, Lesson, Message, Order, OrderLine, Refund, User
from coursemall.services.commerce import cart, checkout, payments
from coursemall.services.dashboard import operations
from coursemall.services.accounts import sessions
from coursemall.services.learning.media_access import Access, check_lesson_access
from tests.payments.factories import make_course, make_user

UTC = timezone.utc


def _order(s: Session, user: User, *, status="paid", channel="alipay", total=1000, created=None, title="课程"):
    created = created or datetime.now(UTC)
    order = Order(out_trade_no=f"CM{secrets.token_hex(8).upper()}", user_id=user.id, status=status, channel=channel,
                  total_fen=total, created_at=created, expires_at=created + timedelta(minutes=30),
                  paid_at=created if status == "paid" else None)
    s.add(order)
    s.flush()
    s.add(OrderLine(order_id=order.id, item_type="course", item_id=1, title=title, unit_price_fen=total,
                    course_ids=[]))
    s.commit()
    return order


@pytest.fixture
def shop(session):
    owner = make_user(session, role="owner")
    staff = make_user(session, role="staff")
    alice = make_user(session, email="alice@example.com")
    alice.nickname, alice.phone, alice.watermark_code = "爱丽丝", "13800001111", "ab12cd34ef"
    bob = make_user(session, email="bob_%@example.com")
    bob.nickname = "Bob"
    session.add_all([alice, bob])
    session.commit()
    # 2026-03-01 23:30 China time = 15:30 UTC; 2026-03-02 00:10 China = 16:10 UTC on 03-01
    late = datetime(2026, 3, 1, 15, 30, tzinfo=UTC)
    early_next = datetime(2026, 3, 1, 16, 10, tzinfo=UTC)
    orders = {
        "a1": _order(session, alice, channel="alipay", total=1000, created=late, title="摄影入门"),
        "a2": _order(session, alice, channel="wechat", total=2500, created=early_next, title="Python 数据分析"),
        "a3": _order(session, alice, status="pending", channel="wechat", total=700, created=early_next,
                     title="摄影入门"),
        "b1": _order(session, bob, channel="alipay", total=400, created=datetime(2026, 2, 1, 2, tzinfo=UTC),
                     title="手冲咖啡"),
    }
    return {"owner": owner.id, "staff": staff.id, "alice": alice.id, "bob": bob.id,
            **{k: o.out_trade_no for k, o in orders.items()}}


def nos(page) -> set[str]:
    return {r.order_no for r in page.rows}


def search(session, shop, **raw):
    return operations.search_orders(session, actor_id=shop["staff"], filters=operations.parse_order_filter(raw))


def test_order_filters_and_totals(session, shop):
    everything = search(session, shop)
    assert everything.count == 4 and everything.total_fen == 4600 and everything.paid_fen == 3900
    assert everything.rows[0].order_no == shop["b1"]  # newest (highest id) first
    assert nos(search(session, shop, status="pending")) == {shop["a3"]}
    assert nos(search(session, shop, channel="wechat")) == {shop["a2"], shop["a3"]}
    # China dates: 03-01 23:30 belongs to 03-01; 03-02 00:10 (still 03-01 in UTC) to 03-02
    assert nos(search(session, shop, date_from="2026-03-01", date_to="2026-03-01")) == {shop["a1"]}
    assert nos(search(session, shop, date_from="2026-03-02")) == {shop["a2"], shop["a3"]}
    assert nos(search(session, shop, date_to="2026-02-28")) == {shop["b1"]}
    both = search(session, shop, status="paid", channel="wechat", date_from="2026-03-02", date_to="2026-03-02")
    assert nos(both) == {shop["a2"]} and both.total_fen == 2500


@pytest.mark.parametrize("q,expected", [
    ("alice@", {"a1", "a2", "a3"}), ("爱丽丝", {"a1", "a2", "a3"}), ("1380000", {"a1", "a2", "a3"}),
    ("摄影", {"a1", "a3"}), ("python", {"a2"}), ("bob", {"b1"}), ("咖啡", {"b1"}),
    ("%", {"b1"}),  # the literal % in bob's e-mail, not "anything"
    ("_", {"b1"}), ("不存在", set()),
])
def test_order_search(session, shop, q, expected):
    assert nos(search(session, shop, q=q)) == {shop[k] for k in expected}


def test_order_search_by_number_and_paging(session, shop):
    assert nos(search(session, shop, q=shop["a2"].lower())) == {shop["a2"]}
    first = operations.search_orders(session, actor_id=shop["owner"], filters=operations.OrderFilter(), page=1, page_size=3)
    second = operations.search_orders(session, actor_id=shop["owner"], filters=operations.OrderFilter(), page=2, page_size=3)
    assert (first.pages, len(first.rows), len(second.rows), first.count) == (2, 3, 1, 4)
    assert not nos(first) & nos(second)
    beyond = operations.search_orders(session, actor_id=shop["owner"], filters=operations.OrderFilter(), page=99, page_size=3)
    assert beyond.page == 2 and nos(beyond) == nos(second)


@pytest.mark.parametrize("raw,code", [
    ({"status": "stolen"}, "error.bad_request"), ({"channel": "paypal"}, "error.bad_request"),
    ({"date_from": "2026-13-01"}, "ops.bad_date"), ({"date_to": "yesterday"}, "ops.bad_date"),
    ({"date_from": ["2026-01-01"]}, "ops.bad_date"),
    ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "ops.bad_range"),
    ({"q": "x" * 61}, "ops.query_too_long"), ({"q": 5}, "ops.query_too_long"), ({"status": 1}, "error.bad_request"),
])
def test_bad_filters(raw, code):
    with pytest.raises(DomainError) as err:
        operations.parse_order_filter(raw)
    assert err.value.code == code


def test_only_staff_see_orders_and_learners(session, shop):
    teacher = make_user(session)
    session.add(Instructor(user_id=teacher.id, name="讲师", status="approved"))
    session.commit()
    for who in (shop["alice"], teacher.id, None, 999_999):
        for call in (lambda: operations.search_orders(session, actor_id=who, filters=operations.OrderFilter()),
                     lambda: operations.order_detail(session, actor_id=who, order_no=shop["a1"]),
                     lambda: operations.search_learners(session, actor_id=who, q=""),
                     lambda: operations.learner_profile(session, actor_id=who, user_id=shop["alice"])):
            with pytest.raises(DomainError, match="error.forbidden"):
                call()


def test_learner_search(session, shop):
    def ids(q):
        return {r.id for r in operations.search_learners(session, actor_id=shop["staff"], q=q).rows}

    assert ids("ALICE@example") == {shop["alice"]}
    assert ids("13800001111") == {shop["alice"]}
    assert ids("爱丽") == {shop["alice"]}
    assert ids(" AB12 CD34EF ") == {shop["alice"]}  # watermark code: case and spaces tolerated
    assert ids("ab12cd") == set()  # ... but exact
    row = operations.search_learners(session, actor_id=shop["staff"], q="alice").rows[0]
    assert (row.orders, row.paid_fen) == (2, 3500)


# ---------------------------------------------------------------------------------- a real paid order

@pytest.fixture
def bought(session, shop):
    courses = [make_course(session, price_fen=p) for p in (3000, 5000)]
    chapter = Chapter(course_id=courses[0].id, title="第一章")
    session.add(chapter)
    session.flush()
    lesson = Lesson(course_id=courses[0].id, chapter_id=chapter.id, title="第一课", kind="video")
    session.add(lesson)
    session.commit()
    for c in courses:
        cart.add_to_cart(session, actor_id=shop["bob"], item_type="course", item_id=c.id)
    order = checkout.checkout_cart(session, actor_id=shop["bob"])
    payments.sandbox_decide(session, actor_id=shop["bob"], order_no=order.out_trade_no, outcome="pay")
    return {"order_no": order.out_trade_no, "courses": [c.id for c in courses], "lesson": lesson.id}


def access(session, user_id, lesson_id) -> Access:
    session.expire_all()
    return check_lesson_access(session, actor_id=user_id, lesson_id=lesson_id).access


def counts(session) -> dict:
    return {m.__name__: session.exec(select(func.count()).select_from(m)).one()
            for m in (Refund, Entitlement, Message, AuditLog)}


def test_order_detail_and_staff_partial_refund(session, shop, bought):
    detail = operations.order_detail(session, actor_id=shop["staff"], order_no=bought["order_no"])
    assert detail.status == "paid" and detail.can_refund and detail.total == "¥80.00" and detail.learner == "Bob"
    assert len(detail.lines) == 2 and all(ln.refundable for ln in detail.lines)
    assert len(detail.payments) == 1 and detail.events and [h[0] for h in detail.history] == ["created", "paid"]
    first_line = detail.lines[0]

    before = counts(session)
    for bad in ([], ["x"], [first_line.id, 999_999], "1", None):
        with pytest.raises(DomainError):
            operations.staff_refund(session, actor_id=shop["staff"], order_no=bought["order_no"],
                             line_ids=bad if bad is not None else [first_line.id], reason="" if bad is None else "原因")
    with pytest.raises(DomainError, match="error.forbidden"):
        operations.staff_refund(session, actor_id=shop["bob"], order_no=bought["order_no"], line_ids=[first_line.id],
                         reason="原因")
    assert counts(session) == before

    operations.staff_refund(session, actor_id=shop["staff"], order_no=bought["order_no"], line_ids=[first_line.id],
                     reason="  课程质量问题  ")
    session.expire_all()
    detail = operations.order_detail(session, actor_id=shop["staff"], order_no=bought["order_no"])
    assert detail.status == "partially_refunded" and detail.refunded == "¥30.00"
    assert [r.status for r in detail.refunds] == ["succeeded"] and detail.refunds[0].reason == "课程质量问题"
    assert access(session, shop["bob"], bought["lesson"]) == Access.LOCKED  # the refunded course's lesson
    live = session.exec(select(Entitlement.course_id).where(Entitlement.user_id == shop["bob"],
                                                            Entitlement.revoked_at.is_(None))).all()
    assert live == [bought["courses"][1]]
    log = session.exec(select(AuditLog).where(AuditLog.action == "order.refund")).one()
    assert log.actor_id == shop["staff"] and log.detail["amount_fen"] == 3000
    with pytest.raises(DomainError, match="refund.bad_lines"):  # the same line again
        operations.staff_refund(session, actor_id=shop["staff"], order_no=bought["order_no"], line_ids=[first_line.id],
                         reason="再退")


def test_grant_and_revoke_access(session, shop, bought):
    course, lesson = bought["courses"][0], bought["lesson"]
    alice = shop["alice"]
    assert access(session, alice, lesson) == Access.LOCKED
    before = counts(session)
    for kwargs, code in (({"course_id": course, "reason": ""}, "ops.reason_length"),
                         ({"course_id": course, "reason": "长" * 201}, "ops.reason_length"),
                         ({"course_id": 999_999, "reason": "赠送"}, "ops.course_not_found"),
                         ({"course_id": "abc", "reason": "赠送"}, "error.bad_request")):
        with pytest.raises(DomainError) as err:
            operations.grant_access(session, actor_id=shop["staff"], user_id=alice, **kwargs)
        assert err.value.code == code
    with pytest.raises(DomainError, match="ops.learner_not_found"):
        operations.grant_access(session, actor_id=shop["staff"], user_id=999_999, course_id=course, reason="赠送")
    with pytest.raises(DomainError, match="error.forbidden"):
        operations.grant_access(session, actor_id=alice, user_id=alice, course_id=course, reason="自己给自己")
    assert counts(session) == before

    grant_id = operations.grant_access(session, actor_id=shop["staff"], user_id=alice, course_id=course, reason="活动奖品")
    assert access(session, alice, lesson) == Access.FULL
    grant = session.get(Entitlement, grant_id)
    assert grant.source == "grant" and grant.revoked_at is None
    msg = session.exec(select(Message).where(Message.user_id == alice).order_by(Message.id.desc())).first()
    assert "活动奖品" in msg.body and msg.kind == "access_granted"
    assert session.exec(select(AuditLog).where(AuditLog.action == "learner.grant")).one().actor_id == shop["staff"]
    with pytest.raises(DomainError, match="ops.already_has_access"):
        operations.grant_access(session, actor_id=shop["owner"], user_id=alice, course_id=course, reason="再送")

    profile = operations.learner_profile(session, actor_id=shop["owner"], user_id=alice)
    assert [(e.course_id, e.source, e.active) for e in profile.entitlements] == [(course, "grant", True)]
    assert len(profile.orders) == 3

    with pytest.raises(DomainError, match="ops.reason_length"):
        operations.revoke_access(session, actor_id=shop["staff"], entitlement_id=grant_id, reason=" ")
    operations.revoke_access(session, actor_id=shop["staff"], entitlement_id=grant_id, reason="误操作")
    assert access(session, alice, lesson) == Access.LOCKED
    with pytest.raises(DomainError, match="ops.already_revoked"):
        operations.revoke_access(session, actor_id=shop["staff"], entitlement_id=grant_id, reason="误操作")
    session.expire_all()
    assert session.get(Entitlement, grant_id).revoke_reason == "误操作"
    # a re-grant after a revoke works (a new row; the history stays)
    operations.grant_access(session, actor_id=shop["staff"], user_id=alice, course_id=course, reason="重新开通")
    assert access(session, alice, lesson) == Access.FULL

    # revoking a purchase entitlement takes the bought lesson away too
    bob_grant = session.exec(select(Entitlement.id).where(Entitlement.user_id == shop["bob"],
                                                          Entitlement.course_id == course)).one()
    operations.revoke_access(session, actor_id=shop["owner"], entitlement_id=bob_grant, reason="共享账号")
    assert access(session, shop["bob"], lesson) == Access.LOCKED
    assert session.exec(select(func.count()).select_from(AuditLog)
                        .where(AuditLog.action == "learner.revoke")).one() == 2


def test_profile_devices_and_frozen(session, shop):
    sessions.create_session(session, user_id=shop["alice"])
    sessions.create_session(session, user_id=shop["alice"])
    session.commit()
    profile = operations.learner_profile(session, actor_id=shop["staff"], user_id=shop["alice"])
    assert profile.devices == 2 and profile.active and profile.email == "alice@example.com"
    user = session.get(User, shop["alice"])
    user.is_active = False
    session.add(user)
    session.commit()
    course = make_course(session)
    with pytest.raises(DomainError, match="ops.learner_frozen"):
        operations.grant_access(session, actor_id=shop["staff"], user_id=shop["alice"], course_id=course.id, reason="送")


def test_export_iterators_see_every_row(session, shop, monkeypatch):
    monkeypatch.setattr(operations, "EXPORT_BATCH", 2)
    rows = list(operations.iter_order_rows(session, actor_id=shop["staff"], filters=operations.OrderFilter()))
    assert len(rows) == 4 and len({r.order_no for r in rows}) == 4
    rows = list(operations.iter_order_rows(session, actor_id=shop["staff"], filters=operations.parse_order_filter({"q": "摄影"})))
    assert {r.order_no for r in rows} == {shop["a1"], shop["a3"]}
    assert len(list(operations.iter_learner_rows(session, actor_id=shop["staff"], q=""))) == 4
    with pytest.raises(DomainError, match="error.forbidden"):
        list(operations.iter_order_rows(session, actor_id=shop["alice"], filters=operations.OrderFilter()))

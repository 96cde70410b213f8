"""Lesson comments (replies, likes, paging, moderation) and course reviews (buyers only, one per
course, editable, owner reply, rating sum kept consistent)."""

from __future__ import annotations


import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from coursemall.domain.errors import DomainError
from coursemall.models import CommentLike, Course, Entitlement, LessonComment, Review
from coursemall.services.community import comments as community
from tests.concurrency import run_concurrently, run_n
from tests.services.learning_fixture import make_world


@pytest.fixture
def w(session):
    world = make_world(session)
    # the test catalog ships with demo reviews; start the phone course from its real numbers
    community.recount_course_rating(session, world.course)
    return world


def rating_cols(session, course_id):
    c = session.exec(select(Course).where(Course.id == course_id).execution_options(populate_existing=True)).one()
    return c.rating_sum, c.rating_count


def visible_totals(session, course_id):
    rows = session.exec(select(Review.rating).where(Review.course_id == course_id, Review.status == "visible")
                        .execution_options(populate_existing=True)).all()
    return sum(rows), len(rows)


def test_comment_reply_like_and_paging(session, w):
    first = community.add_comment(session, actor_id=w.buyer, lesson_id=w.paid, text="  第一条  ")
    assert first.body == "第一条" and first.mine and first.parent_id is None
    others = [community.add_comment(session, actor_id=w.buyer2, lesson_id=w.paid, text=f"评论{i}") for i in range(4)]
    reply = community.add_comment(session, actor_id=w.buyer2, lesson_id=w.paid, text="回复", parent_id=first.id)
    nested = community.add_comment(session, actor_id=w.buyer, lesson_id=w.paid, text="再回复", parent_id=reply.id)
    assert nested.parent_id == first.id  # one level only
    page = community.list_comments(session, actor_id=w.buyer, lesson_id=w.paid, limit=3)
    assert [c.id for c in page.items] == [others[3].id, others[2].id, others[1].id]  # newest first
    page2 = community.list_comments(session, actor_id=w.buyer, lesson_id=w.paid, limit=3,
                                    before_id=page.next_before_id)
    assert [c.id for c in page2.items] == [others[0].id, first.id] and page2.next_before_id is None
    top = page2.items[-1]
    assert top.reply_count == 2 and [r.id for r in top.replies] == [reply.id, nested.id]
    liked = community.toggle_like(session, actor_id=w.buyer2, comment_id=first.id)
    assert (liked.liked, liked.like_count) == (True, 1)
    assert community.set_like(session, actor_id=w.buyer2, comment_id=first.id, liked=True).like_count == 1
    assert community.toggle_like(session, actor_id=w.buyer, comment_id=first.id).like_count == 2
    assert community.toggle_like(session, actor_id=w.buyer2, comment_id=first.id) == community.LikeView(
        first.id, False, 1)
    assert community.set_like(session, actor_id=w.buyer2, comment_id=first.id, liked=False).like_count == 1
    replies = community.list_replies(session, actor_id=w.buyer2, comment_id=first.id, after_id=reply.id)
    assert [r.id for r in replies] == [nested.id]


def test_only_learners_who_may_study_comment(session, w):
    with pytest.raises(DomainError, match="lesson.locked"):
        community.add_comment(session, actor_id=w.stranger, lesson_id=w.paid, text="我没买")
    with pytest.raises(DomainError, match="lesson.locked"):  # a free preview is not enough
        community.add_comment(session, actor_id=w.stranger, lesson_id=w.partial, text="试听")
    with pytest.raises(DomainError, match="lesson.locked"):
        community.list_comments(session, actor_id=w.stranger, lesson_id=w.paid)
    free = community.add_comment(session, actor_id=w.stranger, lesson_id=w.trial, text="免费课也能聊")
    assert free.body == "免费课也能聊"
    paid = community.add_comment(session, actor_id=w.buyer, lesson_id=w.paid, text="付费课评论")
    with pytest.raises(DomainError, match="lesson.locked"):
        community.set_like(session, actor_id=w.expired, comment_id=paid.id, liked=True)
    with pytest.raises(DomainError, match="comment.not_found"):  # a reply must stay on the same lesson
        community.add_comment(session, actor_id=w.buyer, lesson_id=w.paid, text="x", parent_id=free.id)


def test_delete_and_hide(session, w):
    mine = community.add_comment(session, actor_id=w.buyer, lesson_id=w.paid, text="我的")
    reply = community.add_comment(session, actor_id=w.buyer2, lesson_id=w.paid, text="别人的回复", parent_id=mine.id)
    with pytest.raises(DomainError, match="comment.not_found"):  # not the author, not a manager
        community.delete_comment(session, actor_id=w.buyer, comment_id=reply.id)
    with pytest.raises(DomainError, match="error.forbidden"):
        community.set_comment_hidden(session, actor_id=w.buyer, comment_id=reply.id, hidden=True, as_manager=True)
    with pytest.raises(DomainError, match="error.forbidden"):  # instructor of other courses
        community.set_comment_hidden(session, actor_id=w.other_teacher, comment_id=reply.id, hidden=True,
                                     as_manager=True)
    for manager in (w.teacher, w.staff, w.owner):  # a manager not admitted by the dashboard guard
        with pytest.raises(DomainError, match="error.forbidden"):
            community.set_comment_hidden(session, actor_id=manager, comment_id=reply.id, hidden=True)
        with pytest.raises(DomainError, match="comment.not_found"):
            community.delete_comment(session, actor_id=manager, comment_id=reply.id)
    community.set_comment_hidden(session, actor_id=w.teacher, comment_id=reply.id, hidden=True, as_manager=True)
    top = community.list_comments(session, actor_id=w.buyer, lesson_id=w.paid).items[0]
    assert top.reply_count == 0 and top.replies == ()
    community.set_comment_hidden(session, actor_id=w.staff, comment_id=reply.id, hidden=False, as_manager=True)
    assert community.list_comments(session, actor_id=w.buyer, lesson_id=w.paid).items[0].reply_count == 1
    community.delete_comment(session, actor_id=w.buyer2, comment_id=reply.id)
    community.delete_comment(session, actor_id=w.owner, comment_id=mine.id, as_manager=True)
    assert _audit_actions(session) == ["comment.hide", "comment.unhide", "comment.delete"]  # moderation is audited
    assert community.list_comments(session, actor_id=w.buyer, lesson_id=w.paid).items == ()
    with pytest.raises(DomainError, match="comment.not_found"):
        community.toggle_like(session, actor_id=w.buyer2, comment_id=mine.id)


def test_keyword_filter(session, w, monkeypatch):
    with pytest.raises(DomainError, match="text.blocked"):
        community.add_comment(session, actor_id=w.buyer, lesson_id=w.paid, text="代 写 作业，加ＶＸ")
    monkeypatch.setattr(community, "BLOCKED_WORDS", ("优惠券",))
    with pytest.raises(DomainError, match="text.blocked"):
        community.add_comment(session, actor_id=w.buyer, lesson_id=w.paid, text="领优惠券")
    assert community.add_comment(session, actor_id=w.buyer, lesson_id=w.paid, text="代写").body == "代写"
    assert session.exec(select(func.count()).select_from(LessonComment)).one() == 1


def test_likes_are_unique_under_concurrency(db_engine, session, w):
    comment = community.add_comment(session, actor_id=w.buyer, lesson_id=w.paid, text="点赞我")

    def worker(_):
        with Session(db_engine, expire_on_commit=False) as s:
            community.set_like(s, actor_id=w.buyer2, comment_id=comment.id, liked=True)

    run_n(6, worker)
    likes = session.exec(select(CommentLike).where(CommentLike.comment_id == comment.id)).all()
    count = session.exec(select(LessonComment.like_count).where(LessonComment.id == comment.id)
                         .execution_options(populate_existing=True)).one()
    assert len(likes) == 1 and count == 1


def test_reviews_buyers_only_one_per_course_editable(session, w):
    base_sum, base_count = rating_cols(session, w.course)
    assert (base_sum, base_count) == visible_totals(session, w.course)
    for actor in (w.stranger, w.expired):
        with pytest.raises(DomainError, match="review.buyers_only"):
            community.submit_review(session, actor_id=actor, course_id=w.course, rating=5, content="没买也评")
    # a membership grant is access, not a purchase
    session.add(Entitlement(user_id=w.stranger, course_id=w.course, source="membership", source_ref="M1"))
    session.commit()
    with pytest.raises(DomainError, match="review.buyers_only"):
        community.submit_review(session, actor_id=w.stranger, course_id=w.course, rating=5)
    for bad in (0, 6, 4.5, "5", True, None):
        with pytest.raises(DomainError):
            community.submit_review(session, actor_id=w.buyer2, course_id=w.course, rating=bad)
    created = community.submit_review(session, actor_id=w.buyer2, course_id=w.course, rating=2, content="一般")
    assert rating_cols(session, w.course) == (base_sum + 2, base_count + 1) == visible_totals(session, w.course)
    edited = community.submit_review(session, actor_id=w.buyer2, course_id=w.course, rating=5, content="其实很好")
    assert edited.id == created.id and edited.rating == 5 and edited.content == "其实很好"
    assert rating_cols(session, w.course) == (base_sum + 5, base_count + 1) == visible_totals(session, w.course)
    assert session.exec(select(func.count()).select_from(Review).where(Review.user_id == w.buyer2)).one() == 1
    # owner reply, hide/show keep the sums right
    with pytest.raises(DomainError, match="error.forbidden"):
        community.reply_review(session, actor_id=w.buyer, review_id=created.id, text="我来回复", as_manager=True)
    for manager in (w.teacher, w.staff):  # not admitted by the dashboard guard
        with pytest.raises(DomainError, match="error.forbidden"):
            community.reply_review(session, actor_id=manager, review_id=created.id, text="没验证")
        with pytest.raises(DomainError, match="error.forbidden"):
            community.set_review_hidden(session, actor_id=manager, review_id=created.id, hidden=True)
    replied = community.reply_review(session, actor_id=w.teacher, review_id=created.id, text="谢谢支持",
                                     as_manager=True)
    assert replied.owner_reply == "谢谢支持"
    community.set_review_hidden(session, actor_id=w.staff, review_id=created.id, hidden=True, as_manager=True)
    assert rating_cols(session, w.course) == (base_sum, base_count) == visible_totals(session, w.course)
    community.set_review_hidden(session, actor_id=w.staff, review_id=created.id, hidden=True,
                                as_manager=True)  # no double count
    community.submit_review(session, actor_id=w.buyer2, course_id=w.course, rating=1)  # edit while hidden
    assert rating_cols(session, w.course) == (base_sum, base_count)
    community.set_review_hidden(session, actor_id=w.owner, review_id=created.id, hidden=False, as_manager=True)
    assert rating_cols(session, w.course) == (base_sum + 1, base_count + 1) == visible_totals(session, w.course)
    summary = community.rating_summary(session, course_id=w.course)
    assert summary.count == base_count + 1 and sum(b.count for b in summary.bars) == summary.count
    assert [b.stars for b in summary.bars] == [5, 4, 3, 2, 1]
    assert community.get_my_review(session, actor_id=w.buyer2, course_id=w.course).rating == 1
    listed = community.list_reviews(session, course_id=w.course, viewer_id=w.buyer2)
    assert any(r.mine and r.rating == 1 for r in listed)


def test_concurrent_review_edits_keep_rating_sum(db_engine, session, w):
    community.submit_review(session, actor_id=w.buyer2, course_id=w.course, rating=3)

    def worker(stars):
        with Session(db_engine, expire_on_commit=False) as s:
            try:
                community.submit_review(s, actor_id=w.buyer2, course_id=w.course, rating=stars)
                return "ok"
            except DomainError as exc:
                return exc.code

    outcomes = run_concurrently([lambda n=n: worker(n) for n in (1, 2, 4, 5, 5)])
    assert set(outcomes) <= {"ok", "learning.busy"} and "ok" in outcomes, outcomes
    assert rating_cols(session, w.course) == visible_totals(session, w.course)


# ---------------------------------------------------------------------------------- moderation

def _audit_actions(session) -> list[str]:
    from coursemall.models import AuditLog

    return list(session.exec(select(AuditLog.action).order_by(AuditLog.id)).all())


def test_managers_read_paid_lesson_comments_without_buying(session, w):
    community.add_comment(session, actor_id=w.buyer, lesson_id=w.paid, text="付费课的评论")
    for manager in (w.owner, w.staff, w.teacher):
        page = community.list_comments(session, actor_id=manager, lesson_id=w.paid, as_manager=True)
        assert [c.body for c in page.items] == ["付费课的评论"] and page.items[0].can_delete
    for manager in (w.owner, w.staff):  # not through the dashboard guard: a non-buyer like any other
        with pytest.raises(DomainError, match="lesson.locked"):
            community.list_comments(session, actor_id=manager, lesson_id=w.paid)
    for outsider in (w.other_teacher, w.stranger):  # another instructor is not entitled either
        with pytest.raises(DomainError, match="lesson.locked"):
            community.list_comments(session, actor_id=outsider, lesson_id=w.paid, as_manager=True)


def test_moderation_feed_is_scoped_to_the_actors_courses(session, w):
    mine = community.add_comment(session, actor_id=w.buyer, lesson_id=w.paid, text="李老师的课")
    feed_teacher = community.moderation_comments(session, actor_id=w.teacher)
    assert [c.id for c in feed_teacher] == [mine.id] and feed_teacher[0].lesson
    assert community.moderation_comments(session, actor_id=w.other_teacher) == []
    assert [c.id for c in community.moderation_comments(session, actor_id=w.staff)] == [mine.id]
    for who in (w.buyer, w.stranger, None):
        with pytest.raises(DomainError, match="error.forbidden"):
            community.moderation_comments(session, actor_id=who)
    with pytest.raises(DomainError, match="error.bad_request"):
        community.moderation_comments(session, actor_id=w.owner, status="deleted")
    reviews = community.moderation_reviews(session, actor_id=w.other_teacher)
    assert all(r.course_id != w.course for r in reviews)


def test_instructor_b_cannot_moderate_a_by_id(session, w):
    comment = community.add_comment(session, actor_id=w.buyer, lesson_id=w.paid, text="别动我")
    community.submit_review(session, actor_id=w.buyer, course_id=w.course, rating=4, content="好")
    review_id = session.exec(select(Review.id).where(Review.user_id == w.buyer, Review.course_id == w.course)).one()
    before = rating_cols(session, w.course)
    for action in ("hide", "delete", "unhide"):
        with pytest.raises(DomainError, match="comment.not_found"):
            community.moderate_comment(session, actor_id=w.other_teacher, comment_id=comment.id, action=action)
    with pytest.raises(DomainError, match="review.not_found"):
        community.moderate_review(session, actor_id=w.other_teacher, review_id=review_id, hidden=True)
    with pytest.raises(DomainError, match="error.forbidden"):
        community.moderate_comment(session, actor_id=w.buyer2, comment_id=comment.id, action="hide")
    with pytest.raises(DomainError, match="error.bad_request"):
        community.moderate_comment(session, actor_id=w.teacher, comment_id=comment.id, action="drop")
    session.expire_all()
    assert session.get(LessonComment, comment.id).status == "visible" and rating_cols(session, w.course) == before
    assert _audit_actions(session) == []

    # the course's own instructor: hide, unhide, delete; the review's rating follows
    assert community.moderate_comment(session, actor_id=w.teacher, comment_id=comment.id, action="hide") == "hidden"
    assert community.moderate_comment(session, actor_id=w.teacher, comment_id=comment.id, action="hide") == "hidden"
    assert [c.status for c in community.moderation_comments(session, actor_id=w.teacher, status="hidden")] == [
        "hidden"]
    assert community.moderate_comment(session, actor_id=w.teacher, comment_id=comment.id, action="unhide") == "visible"
    assert community.moderate_review(session, actor_id=w.teacher, review_id=review_id, hidden=True) == "hidden"
    assert rating_cols(session, w.course) == visible_totals(session, w.course)
    assert community.moderate_review(session, actor_id=w.owner, review_id=review_id, hidden=False) == "visible"
    assert rating_cols(session, w.course) == before == visible_totals(session, w.course)
    assert community.moderate_comment(session, actor_id=w.staff, comment_id=comment.id, action="delete") == "deleted"
    with pytest.raises(DomainError, match="comment.not_found"):
        community.moderate_comment(session, actor_id=w.staff, comment_id=comment.id, action="unhide")
    assert _audit_actions(session) == ["comment.hide", "comment.unhide", "review.hide", "review.unhide",
                                       "comment.delete"]


def test_shop_blocked_words(session, w, monkeypatch):
    monkeypatch.setattr(community, "_shop_words_cache", ())  # restored afterwards, whatever happens
    with pytest.raises(DomainError, match="error.forbidden"):
        community.set_blocked_words(session, actor_id=w.teacher, text="优惠券")
    for bad in ("长" * 31, ["优惠券"], None, "\n".join(f"w{i}" for i in range(201))):
        with pytest.raises(DomainError):
            community.set_blocked_words(session, actor_id=w.staff, text=bad)
    assert community.get_blocked_words(session, actor_id=w.owner) == []
    words = community.set_blocked_words(session, actor_id=w.staff, text=" 优惠券 \n\n返现，优惠券\n")
    assert words == ["优惠券", "返现"]
    with pytest.raises(DomainError, match="text.blocked"):
        community.add_comment(session, actor_id=w.buyer, lesson_id=w.paid, text="领 优 惠 券")
    with pytest.raises(DomainError, match="text.blocked"):  # the built-in list still applies
        community.add_comment(session, actor_id=w.buyer, lesson_id=w.paid, text="找人代写")
    with pytest.raises(DomainError, match="text.blocked"):
        community.submit_review(session, actor_id=w.buyer, course_id=w.course, rating=5, content="好评返现")
    assert session.exec(select(func.count()).select_from(LessonComment)).one() == 0
    assert _audit_actions(session) == ["moderation.blocked_words"]
    community.set_blocked_words(session, actor_id=w.owner, text="")
    assert community.add_comment(session, actor_id=w.buyer, lesson_id=w.paid, text="领优惠券").body == "领优惠券"

"""Lesson comments (one level of replies, likes), course reviews, and the user-text rules shared
by every learning service (notes, check-ins, homework).

User text is plain text: control characters, bidi overrides and lone surrogates are removed,
line ends normalised, length checked after cleaning (oversized input is refused before any
work), and a small keyword list is applied. It is stored verbatim otherwise — `<script>` stays
the literal characters — and the UI renders it as text, never as HTML.

Authorisation is against the object: commenting needs full access to the lesson
(`progress.require_study(full=True)`), reading needs any access; a comment is deleted by its author
or a course manager (owner/staff, or the approved instructor of that course, from the database);
reviews need an active purchase (order/bundle/manual entitlement).

Manager powers (reading paid lessons' comments without buying, hiding or deleting others'
comments, replying to or hiding reviews, answering questions, grading) are used only when the
caller says `as_manager=True`, which a state passes only after the dashboard guard admitted the
session (`state/guards.check_dashboard`: role from the database, TOTP for owner and staff).
Without it a manager is treated as any learner. The role and the object are checked here again.

Moderation: the dashboard feed and actions (`moderation_*`, `moderate_*`) go through
`permissions` — instructors see and act on their own courses only (another course's ids answer
"not found"), every change is audited; course managers read the comments of every lesson of their
courses (paid ones included) without an entitlement. Owner/staff edit the blocked-word list.

Course `rating_sum`/`rating_count` always equal the sum/count of the course's visible reviews:
every change to a review is a compare-and-set on its (rating, status) followed, in the same
transaction, by an atomic `UPDATE courses SET rating_sum = rating_sum + :delta`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from coursemall.domain.catalog import CourseStatus, EntitlementSource, open_to_buyers
from coursemall.domain.errors import DomainError
from coursemall.domain.validation import parse_id
from coursemall.models import (
    CommentLike,
    Course,
    Entitlement,
    Lesson,
    LessonComment,
    Review,
    User,
    utcnow,
)
from coursemall.services import audit, rate_limit
from coursemall.services.shop import shop_settings
from coursemall.services.actors import require_actor
from coursemall.services.permissions import course_scope, dashboard_actor, require_course_manager, require_dashboard
from coursemall.services.learning.progress import require_study
from coursemall.urls import public_url

COMMENT_MAX = 1000
REVIEW_MAX = 1000
REPLY_MAX = 1000
PAGE_MAX = 50
REPLIES_SHOWN = 3
# Keyword filter: matched case-insensitively after NFKC normalisation with spaces removed.
# The built-in list, plus the owner's/staff's list (shop setting "blocked_words", edited on
# /admin/moderation), read from the database whenever the caller passes its session.
BLOCKED_WORDS: tuple[str, ...] = ("加微信", "加v信", "代写", "刷单", "博彩", "赌博", "裸聊", "viagra")
SHOP_WORDS_KEY = "blocked_words"
SHOP_WORD_MAX, SHOP_WORDS_MAX = 30, 200
# The last list read or saved in this process: used by callers that pass no session (a worker
# may lag behind an edit made in another worker until its next read with a session).
_shop_words_cache: tuple[str, ...] = ()
REVIEW_SOURCES = (EntitlementSource.ORDER, EntitlementSource.BUNDLE, EntitlementSource.MANUAL, EntitlementSource.GRANT)

_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")


# ---------------------------------------------------------------------------------- shared rules

def clean_text(value: object, *, max_len: int, min_len: int = 1, filter_words: bool = True,
               session: Session | None = None) -> str:
    """Validate and clean user text; DomainError text.too_long / text.empty / text.blocked.
    With `session`, the owner's blocked words are read fresh from the shop settings."""
    if not isinstance(value, str):
        raise DomainError("error.bad_request")
    if len(value) > max_len * 2 + 64:  # 100 KB pastes stop here, before any regex work
        raise DomainError("text.too_long", max=max_len)
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text)
    text = _MANY_BLANK_LINES.sub("\n\n", text).strip()
    if len(text) > max_len:
        raise DomainError("text.too_long", max=max_len)
    if len(text) < min_len:
        raise DomainError("text.empty")
    if filter_words and text:
        extra = shop_blocked_words(session) if session is not None else _shop_words_cache
        if contains_blocked_word(text, extra):
            raise DomainError("text.blocked")
    return text


def _fold(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).lower().split())


def contains_blocked_word(text: str, extra: tuple[str, ...] | list[str] = ()) -> bool:
    folded = _fold(text)
    return any(word and _fold(word) and _fold(word) in folded for word in (*BLOCKED_WORDS, *extra))


def shop_blocked_words(session: Session) -> tuple[str, ...]:
    """The owner's/staff's blocked words (shop setting), refreshing this process's cache."""
    global _shop_words_cache
    value = shop_settings.get_value(session, SHOP_WORDS_KEY).get("words")
    words = tuple(w for w in value if isinstance(w, str) and w) if isinstance(value, list) else ()
    _shop_words_cache = words
    return words


def parse_blocked_words(value: object) -> list[str]:
    """One word per line (or separated by commas); blanks dropped, duplicates merged."""
    if not isinstance(value, str) or len(value) > SHOP_WORDS_MAX * (SHOP_WORD_MAX + 2):
        raise DomainError("moderation.words_invalid", max=SHOP_WORDS_MAX, length=SHOP_WORD_MAX)
    words: list[str] = []
    for part in re.split(r"[\n,，]", value):
        word = _INVISIBLE.sub("", part).strip()
        if not word:
            continue
        if len(word) > SHOP_WORD_MAX:
            raise DomainError("moderation.words_invalid", max=SHOP_WORDS_MAX, length=SHOP_WORD_MAX)
        if word not in words:
            words.append(word)
    if len(words) > SHOP_WORDS_MAX:
        raise DomainError("moderation.words_invalid", max=SHOP_WORDS_MAX, length=SHOP_WORD_MAX)
    return words


def get_blocked_words(session: Session, *, actor_id: object) -> list[str]:
    require_dashboard(session, actor_id, staff_only=True)
    return list(shop_blocked_words(session))


def set_blocked_words(session: Session, *, actor_id: object, text: object) -> list[str]:
    """Owner/staff replace the shop's blocked-word list (audited)."""
    global _shop_words_cache
    actor = require_dashboard(session, actor_id, staff_only=True)
    words = parse_blocked_words(text)
    old = list(shop_blocked_words(session))
    shop_settings.set_value(session, SHOP_WORDS_KEY, {"words": words}, actor_id=actor.user_id)
    audit.record(session, actor_id=actor.user_id, action="moderation.blocked_words", target=SHOP_WORDS_KEY,
                 detail={"added": [w for w in words if w not in old][:50],
                         "removed": [w for w in old if w not in words][:50]})
    session.commit()
    _shop_words_cache = tuple(words)
    return words


def parse_bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise DomainError("error.bad_request")
    return value


def parse_limit(value: object, default: int = 20) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= PAGE_MAX:
        return default
    return value


def managed_course_ids(session: Session, user: User, *, as_manager: bool) -> list[int] | None:
    """None = every course (owner/staff); otherwise the ids of the instructor's courses
    (the role rules of services/permissions; [] for learners, and for everyone whose caller did
    not pass the dashboard guard: `as_manager` False)."""
    actor = dashboard_actor(session, user.id) if as_manager is True else None
    return [] if actor is None else course_scope(session, actor)


def manages_course(session: Session, user: User, course_id: int, *, as_manager: bool) -> bool:
    """Owner/staff (role from the database) or the approved instructor of this course, acting
    through the dashboard guard (`as_manager`)."""
    scope = managed_course_ids(session, user, as_manager=as_manager)
    return scope is None or course_id in scope


# ---------------------------------------------------------------------------------- comments

@dataclass(frozen=True)
class CommentView:
    id: int
    parent_id: int | None
    author: str
    author_avatar_url: str
    body: str  # plain text: render as text
    like_count: int
    reply_count: int
    liked: bool
    mine: bool
    can_delete: bool
    created_at: datetime
    replies: tuple["CommentView", ...] = ()


@dataclass(frozen=True)
class CommentPage:
    items: tuple[CommentView, ...]
    next_before_id: int | None  # pass as before_id for the next (older) page


@dataclass(frozen=True)
class LikeView:
    comment_id: int
    liked: bool
    like_count: int


def _comment_views(session: Session, rows: list[tuple[LessonComment, str, str]], user: User,
                   manager: bool) -> list[CommentView]:
    ids = [c.id for c, _, _ in rows]
    liked = set(session.exec(select(CommentLike.comment_id).where(
        CommentLike.user_id == user.id, col(CommentLike.comment_id).in_(ids))).all()) if ids else set()
    return [CommentView(id=c.id, parent_id=c.parent_id, author=nick or "", author_avatar_url=public_url(avatar or ""),
                        body=c.body, like_count=c.like_count, reply_count=c.reply_count, liked=c.id in liked,
                        mine=c.user_id == user.id, can_delete=manager or c.user_id == user.id,
                        created_at=c.created_at) for c, nick, avatar in rows]


def _visible_comment(session: Session, comment_id: object) -> LessonComment:
    comment = session.get(LessonComment, parse_id(comment_id), populate_existing=True)
    if comment is None or comment.status != "visible":
        raise DomainError("comment.not_found")
    return comment


@dataclass(frozen=True)
class _ReadTarget:
    lesson_id: int
    course_id: int


def _readable_lesson(session: Session, actor_id: object, lesson_id: object,
                     as_manager: bool) -> tuple[User, _ReadTarget]:
    """A lesson whose comments the actor may read: a course manager reads every lesson of their
    courses (paid ones too, without an entitlement); anyone else needs access to the lesson."""
    user = require_actor(session, actor_id)
    lesson = session.get(Lesson, parse_id(lesson_id))
    if lesson is not None and manages_course(session, user, lesson.course_id, as_manager=as_manager):
        return user, _ReadTarget(lesson.id, lesson.course_id)
    _, target = require_study(session, user.id, lesson_id)
    return user, _ReadTarget(target.lesson_id, target.course_id)


def add_comment(session: Session, *, actor_id: object, lesson_id: object, text: object,
                parent_id: object = None, as_manager: bool = False) -> CommentView:
    """A comment on a lesson, or a reply (replies to a reply attach to its top-level comment)."""
    user, target = require_study(session, actor_id, lesson_id, full=True)
    body = clean_text(text, max_len=COMMENT_MAX, session=session)
    parent = None
    if parent_id is not None:
        parent = _visible_comment(session, parent_id)
        if parent.lesson_id != target.lesson_id:
            raise DomainError("comment.not_found")
        if parent.parent_id is not None:
            parent = _visible_comment(session, parent.parent_id)
    rate_limit.take(session, ("post.comment", str(user.id)))
    comment = LessonComment(lesson_id=target.lesson_id, course_id=target.course_id, user_id=user.id,
                            parent_id=parent.id if parent else None, body=body)
    session.add(comment)
    session.flush()
    if parent is not None:
        session.execute(update(LessonComment).where(LessonComment.id == parent.id)
                        .values(reply_count=LessonComment.reply_count + 1)
                        .execution_options(synchronize_session=False))
    session.commit()
    return _comment_views(session, [(comment, user.nickname, user.avatar_path)], user,
                          manages_course(session, user, target.course_id, as_manager=as_manager))[0]


def list_comments(session: Session, *, actor_id: object, lesson_id: object, before_id: object = None,
                  limit: object = 20, as_manager: bool = False) -> CommentPage:
    """Top-level comments of a lesson, newest first, each with its first replies (oldest first)."""
    user, target = _readable_lesson(session, actor_id, lesson_id, as_manager)
    size = parse_limit(limit)
    query = (select(LessonComment, User.nickname, User.avatar_path).join(User, User.id == LessonComment.user_id)
             .where(LessonComment.lesson_id == target.lesson_id, col(LessonComment.parent_id).is_(None),
                    LessonComment.status == "visible"))
    if before_id is not None:
        query = query.where(LessonComment.id < parse_id(before_id))
    rows = list(session.exec(query.order_by(col(LessonComment.id).desc()).limit(size + 1)).all())
    more = len(rows) > size
    rows = rows[:size]
    manager = manages_course(session, user, target.course_id, as_manager=as_manager)
    tops = _comment_views(session, rows, user, manager)
    replies: dict[int, list[CommentView]] = {}
    if tops:
        rank = func.row_number().over(partition_by=LessonComment.parent_id, order_by=LessonComment.id).label("rn")
        inner = (select(LessonComment.id, rank)
                 .where(col(LessonComment.parent_id).in_([t.id for t in tops]), LessonComment.status == "visible")
                 .subquery())
        reply_rows = list(session.exec(
            select(LessonComment, User.nickname, User.avatar_path).join(User, User.id == LessonComment.user_id)
            .join(inner, inner.c.id == LessonComment.id).where(inner.c.rn <= REPLIES_SHOWN)
            .order_by(LessonComment.id)).all())
        for view in _comment_views(session, reply_rows, user, manager):
            replies.setdefault(view.parent_id or 0, []).append(view)
    items = tuple(CommentView(**{**t.__dict__, "replies": tuple(replies.get(t.id, ()))}) for t in tops)
    return CommentPage(items=items, next_before_id=items[-1].id if more and items else None)


def list_replies(session: Session, *, actor_id: object, comment_id: object, after_id: object = None,
                 limit: object = 20, as_manager: bool = False) -> tuple[CommentView, ...]:
    """Replies of a comment, oldest first, after `after_id`."""
    user = require_actor(session, actor_id)
    parent = _visible_comment(session, comment_id)
    _, target = _readable_lesson(session, user.id, parent.lesson_id, as_manager)
    query = (select(LessonComment, User.nickname, User.avatar_path).join(User, User.id == LessonComment.user_id)
             .where(LessonComment.parent_id == parent.id, LessonComment.status == "visible"))
    if after_id is not None:
        query = query.where(LessonComment.id > parse_id(after_id))
    rows = list(session.exec(query.order_by(LessonComment.id).limit(parse_limit(limit))).all())
    return tuple(_comment_views(session, rows, user,
                                manages_course(session, user, target.course_id, as_manager=as_manager)))


def set_like(session: Session, *, actor_id: object, comment_id: object, liked: object) -> LikeView:
    """Like or unlike a comment (idempotent; at most one like per user and comment)."""
    want = parse_bool(liked)
    user = require_actor(session, actor_id)
    comment = _visible_comment(session, comment_id)
    require_study(session, user.id, comment.lesson_id, full=True)
    cid = comment.id
    if want:
        try:
            session.add(CommentLike(comment_id=cid, user_id=user.id))
            session.flush()
            session.execute(update(LessonComment).where(LessonComment.id == cid)
                            .values(like_count=LessonComment.like_count + 1)
                            .execution_options(synchronize_session=False))
            session.commit()
        except IntegrityError:
            session.rollback()  # already liked (maybe by a concurrent request): nothing to do
    else:
        gone = session.execute(delete(CommentLike).where(CommentLike.comment_id == cid,
                                                          CommentLike.user_id == user.id)
                               .execution_options(synchronize_session=False)).rowcount
        if gone == 1:
            session.execute(update(LessonComment).where(LessonComment.id == cid)
                            .values(like_count=LessonComment.like_count - 1)
                            .execution_options(synchronize_session=False))
        session.commit()
    count = session.exec(select(LessonComment.like_count).where(LessonComment.id == cid)).one()
    mine = session.exec(select(CommentLike.id).where(CommentLike.comment_id == cid,
                                                     CommentLike.user_id == user.id)).first()
    return LikeView(cid, mine is not None, int(count))


def toggle_like(session: Session, *, actor_id: object, comment_id: object) -> LikeView:
    user = require_actor(session, actor_id)
    cid = parse_id(comment_id)
    mine = session.exec(select(CommentLike.id).where(CommentLike.comment_id == cid,
                                                     CommentLike.user_id == user.id)).first()
    return set_like(session, actor_id=user.id, comment_id=cid, liked=mine is None)


def _set_comment_status(session: Session, comment: LessonComment, old: str, new: str) -> bool:
    won = session.execute(update(LessonComment).where(LessonComment.id == comment.id, LessonComment.status == old)
                          .values(status=new).execution_options(synchronize_session=False)).rowcount == 1
    if won and comment.parent_id is not None:
        delta = 1 if new == "visible" else -1 if old == "visible" else 0
        if delta:
            session.execute(update(LessonComment).where(LessonComment.id == comment.parent_id)
                            .values(reply_count=LessonComment.reply_count + delta)
                            .execution_options(synchronize_session=False))
    return won


def delete_comment(session: Session, *, actor_id: object, comment_id: object, as_manager: bool = False) -> None:
    """Delete (soft) a comment: its author, or a course manager through the dashboard guard
    (then as moderation: audited). Others get comment.not_found."""
    user = require_actor(session, actor_id)
    comment = session.get(LessonComment, parse_id(comment_id), populate_existing=True)
    if comment is None or comment.status == "deleted":
        raise DomainError("comment.not_found")
    if comment.user_id != user.id:
        if not manages_course(session, user, comment.course_id, as_manager=as_manager):
            raise DomainError("comment.not_found")
        moderate_comment(session, actor_id=user.id, comment_id=comment.id, action="delete")
        return
    _set_comment_status(session, comment, comment.status, "deleted")
    session.commit()


def set_comment_hidden(session: Session, *, actor_id: object, comment_id: object, hidden: object,
                       as_manager: bool = False) -> None:
    """Moderation by a course manager through the dashboard guard: hide or show again (audited)."""
    want = parse_bool(hidden)
    user = require_actor(session, actor_id)
    comment = session.get(LessonComment, parse_id(comment_id), populate_existing=True)
    if comment is None or comment.status == "deleted":
        raise DomainError("comment.not_found")
    if not manages_course(session, user, comment.course_id, as_manager=as_manager):
        raise DomainError("error.forbidden")
    moderate_comment(session, actor_id=user.id, comment_id=comment.id, action="hide" if want else "unhide")


# ---------------------------------------------------------------------------------- reviews

@dataclass(frozen=True)
class ReviewView:
    id: int
    course_id: int
    author: str
    rating: int
    content: str  # plain text
    owner_reply: str  # plain text
    visible: bool
    mine: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class RatingBar:
    stars: int
    count: int
    percent: int


@dataclass(frozen=True)
class RatingSummary:
    course_id: int
    average_text: str  # "4.5" or "" when nobody rated yet
    count: int
    bars: tuple[RatingBar, ...]  # 5 stars first


def _review_view(review: Review, author: str, viewer_id: int | None) -> ReviewView:
    return ReviewView(review.id or 0, review.course_id, author, review.rating, review.content, review.owner_reply,
                      review.status == "visible", review.user_id == viewer_id, review.created_at, review.updated_at)


def is_buyer(session: Session, user_id: int, course_id: int) -> bool:
    now = utcnow()
    row = session.exec(select(Entitlement.id).where(
        Entitlement.user_id == user_id, Entitlement.course_id == course_id,
        col(Entitlement.source).in_([str(s) for s in REVIEW_SOURCES]),
        col(Entitlement.revoked_at).is_(None),
        or_(col(Entitlement.expires_at).is_(None), col(Entitlement.expires_at) > now)).limit(1)).first()
    return row is not None


def _parse_rating(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise DomainError("review.bad_rating")
    return value


def _bump_course_rating(session: Session, course_id: int, delta_sum: int, delta_count: int) -> None:
    if delta_sum or delta_count:
        session.execute(update(Course).where(Course.id == course_id)
                        .values(rating_sum=Course.rating_sum + delta_sum,
                                rating_count=Course.rating_count + delta_count)
                        .execution_options(synchronize_session=False))


def submit_review(session: Session, *, actor_id: object, course_id: object, rating: object,
                  content: object = "") -> ReviewView:
    """Create the actor's review of a course they bought, or edit it (one per learner and course)."""
    user = require_actor(session, actor_id)
    cid = parse_id(course_id)
    stars = _parse_rating(rating)
    text = clean_text(content, max_len=REVIEW_MAX, min_len=0, session=session)
    course = session.get(Course, cid)
    if course is None or not open_to_buyers(course.status):
        raise DomainError("error.not_found")
    if not is_buyer(session, user.id, cid):
        raise DomainError("review.buyers_only")
    rate_limit.take(session, ("post.review", str(user.id)))
    for _ in range(5):
        existing = session.exec(select(Review).where(Review.course_id == cid, Review.user_id == user.id)
                                .execution_options(populate_existing=True)).first()
        now = utcnow()
        if existing is None:
            try:
                review = Review(course_id=cid, user_id=user.id, rating=stars, content=text, created_at=now,
                                updated_at=now)
                session.add(review)
                session.flush()
                _bump_course_rating(session, cid, stars, 1)
                session.commit()
                return _review_view(review, user.nickname, user.id)
            except IntegrityError:
                session.rollback()  # a concurrent first review won: edit it instead
                continue
        won = session.execute(
            update(Review).where(Review.id == existing.id, Review.rating == existing.rating,
                                 Review.status == existing.status)
            .values(rating=stars, content=text, updated_at=now)
            .execution_options(synchronize_session=False)).rowcount == 1
        if not won:
            session.rollback()
            continue
        if existing.status == "visible":
            _bump_course_rating(session, cid, stars - existing.rating, 0)
        session.commit()
        review = session.get(Review, existing.id, populate_existing=True)
        return _review_view(review, user.nickname, user.id)
    raise DomainError("learning.busy")


def _managed_review(session: Session, user: User, review_id: object, as_manager: bool) -> Review:
    review = session.get(Review, parse_id(review_id), populate_existing=True)
    if review is None:
        raise DomainError("review.not_found")
    if not manages_course(session, user, review.course_id, as_manager=as_manager):
        raise DomainError("error.forbidden")
    return review


def reply_review(session: Session, *, actor_id: object, review_id: object, text: object,
                 as_manager: bool = False) -> ReviewView:
    """The owner's (staff's, course instructor's) public reply through the dashboard guard; empty
    text removes it."""
    user = require_actor(session, actor_id)
    body = clean_text(text, max_len=REPLY_MAX, min_len=0, filter_words=False)
    review = _managed_review(session, user, review_id, as_manager)
    session.execute(update(Review).where(Review.id == review.id).values(owner_reply=body)
                    .execution_options(synchronize_session=False))
    session.commit()
    review = session.get(Review, review.id, populate_existing=True)
    author = session.exec(select(User.nickname).where(User.id == review.user_id)).one()
    return _review_view(review, author, user.id)


def set_review_hidden(session: Session, *, actor_id: object, review_id: object, hidden: object,
                      as_manager: bool = False) -> None:
    """Hide (or show again) a review from the course page: `moderate_review`, with the course
    page's answers (a non-manager is 'forbidden' there, not 'not found')."""
    user = require_actor(session, actor_id)
    _managed_review(session, user, review_id, as_manager)
    moderate_review(session, actor_id=user.id, review_id=review_id, hidden=hidden)


def get_my_review(session: Session, *, actor_id: object, course_id: object) -> ReviewView | None:
    user = require_actor(session, actor_id)
    review = session.exec(select(Review).where(Review.course_id == parse_id(course_id),
                                               Review.user_id == user.id)).first()
    return _review_view(review, user.nickname, user.id) if review else None


def list_reviews(session: Session, *, course_id: object, viewer_id: int | None = None, before_id: object = None,
                 limit: object = 20) -> tuple[ReviewView, ...]:
    """Visible reviews of a published course, newest first (public)."""
    cid = parse_id(course_id)
    query = (select(Review, User.nickname).join(User, User.id == Review.user_id)
             .join(Course, Course.id == Review.course_id)
             .where(Review.course_id == cid, Review.status == "visible", Course.status == CourseStatus.PUBLISHED))
    if before_id is not None:
        query = query.where(Review.id < parse_id(before_id))
    rows = session.exec(query.order_by(col(Review.id).desc()).limit(parse_limit(limit))).all()
    return tuple(_review_view(r, nick or "", viewer_id) for r, nick in rows)


def rating_summary(session: Session, *, course_id: object) -> RatingSummary:
    """Average, count and star distribution of the visible reviews."""
    cid = parse_id(course_id)
    dist = {int(r): int(n) for r, n in session.exec(
        select(Review.rating, func.count()).where(Review.course_id == cid, Review.status == "visible")
        .group_by(Review.rating)).all()}
    count = sum(dist.values())
    total = sum(r * n for r, n in dist.items())
    bars = tuple(RatingBar(s, dist.get(s, 0), round(100 * dist.get(s, 0) / count) if count else 0)
                 for s in (5, 4, 3, 2, 1))
    return RatingSummary(cid, f"{total / count:.1f}" if count else "", count, bars)


def recount_course_rating(session: Session, course_id: int) -> None:
    """Repair tool: set the course's rating columns from its visible reviews."""
    total, count = session.exec(select(func.coalesce(func.sum(Review.rating), 0), func.count())
                                .where(Review.course_id == course_id, Review.status == "visible")).one()
    session.execute(update(Course).where(Course.id == course_id)
                    .values(rating_sum=int(total), rating_count=int(count))
                    .execution_options(synchronize_session=False))
    session.commit()



# ---------------------------------------------------------------------------------- moderation

MODERATION_STATUSES = ("all", "visible", "hidden")


@dataclass(frozen=True)
class ModComment:
    id: int
    course_id: int
    course: str
    lesson_id: int
    lesson: str
    author: str
    body: str
    status: str  # visible | hidden
    is_reply: bool
    created_at: datetime


@dataclass(frozen=True)
class ModReview:
    id: int
    course_id: int
    course: str
    author: str
    rating: int
    content: str
    owner_reply: str
    status: str
    created_at: datetime


def _status_filter(status: object) -> tuple[str, ...]:
    if status not in MODERATION_STATUSES:
        raise DomainError("error.bad_request")
    return ("visible", "hidden") if status == "all" else (str(status),)


def moderation_comments(session: Session, *, actor_id: object, status: object = "all",
                        limit: object = PAGE_MAX) -> list[ModComment]:
    """Recent comments (paid lessons included) of the courses the actor manages, newest first.
    Deleted comments are not listed."""
    actor = require_dashboard(session, actor_id)
    statuses = _status_filter(status)
    scope = course_scope(session, actor)
    query = (select(LessonComment, User.nickname, Course.title, Lesson.title)
             .join(User, User.id == LessonComment.user_id).join(Course, Course.id == LessonComment.course_id)
             .join(Lesson, Lesson.id == LessonComment.lesson_id)
             .where(col(LessonComment.status).in_(statuses)))
    if scope is not None:
        if not scope:
            return []
        query = query.where(col(LessonComment.course_id).in_(scope))
    rows = session.exec(query.order_by(col(LessonComment.id).desc()).limit(parse_limit(limit, PAGE_MAX))).all()
    return [ModComment(c.id, c.course_id, course, c.lesson_id, lesson, nick or "", c.body, c.status,
                       c.parent_id is not None, c.created_at) for c, nick, course, lesson in rows]


def moderation_reviews(session: Session, *, actor_id: object, status: object = "all",
                       limit: object = PAGE_MAX) -> list[ModReview]:
    actor = require_dashboard(session, actor_id)
    statuses = _status_filter(status)
    scope = course_scope(session, actor)
    query = (select(Review, User.nickname, Course.title).join(User, User.id == Review.user_id)
             .join(Course, Course.id == Review.course_id).where(col(Review.status).in_(statuses)))
    if scope is not None:
        if not scope:
            return []
        query = query.where(col(Review.course_id).in_(scope))
    rows = session.exec(query.order_by(col(Review.id).desc()).limit(parse_limit(limit, PAGE_MAX))).all()
    return [ModReview(r.id, r.course_id, course, nick or "", r.rating, r.content, r.owner_reply, r.status,
                      r.created_at) for r, nick, course in rows]


COMMENT_ACTIONS = {"hide": ("visible", "hidden"), "unhide": ("hidden", "visible"), "delete": (None, "deleted")}


def moderate_comment(session: Session, *, actor_id: object, comment_id: object, action: object) -> str:
    """Hide, unhide or delete a comment of a course the actor manages (another instructor's
    comment ids answer comment.not_found). Returns the new status; audited."""
    if action not in COMMENT_ACTIONS:
        raise DomainError("error.bad_request")
    actor = require_dashboard(session, actor_id)
    comment = session.get(LessonComment, parse_id(comment_id), populate_existing=True)
    if comment is None or comment.status == "deleted":
        raise DomainError("comment.not_found")
    try:
        require_course_manager(session, actor, comment.course_id)
    except DomainError:
        raise DomainError("comment.not_found") from None
    old, new = COMMENT_ACTIONS[action]
    old = old or comment.status
    if comment.status != old:
        return comment.status  # already done (a second click)
    if not _set_comment_status(session, comment, old, new):
        session.rollback()
        raise DomainError("learning.busy")
    audit.record(session, actor_id=actor.user_id, action=f"comment.{action}", target=f"comment:{comment.id}",
                 detail={"course_id": comment.course_id, "lesson_id": comment.lesson_id})
    session.commit()
    return new


def moderate_review(session: Session, *, actor_id: object, review_id: object, hidden: object) -> str:
    """Hide or show again a review of a course the actor manages; the course's rating follows
    (see `set_review_hidden`). Returns the new status; audited."""
    want = parse_bool(hidden)
    actor = require_dashboard(session, actor_id)
    review = session.get(Review, parse_id(review_id), populate_existing=True)
    if review is None:
        raise DomainError("review.not_found")
    try:
        require_course_manager(session, actor, review.course_id)
    except DomainError:
        raise DomainError("review.not_found") from None
    old, new = ("visible", "hidden") if want else ("hidden", "visible")
    for _ in range(5):
        review = session.get(Review, review.id, populate_existing=True)
        if review.status != old:
            return review.status
        won = session.execute(update(Review).where(Review.id == review.id, Review.status == old,
                                                   Review.rating == review.rating)
                              .values(status=new).execution_options(synchronize_session=False)).rowcount == 1
        if not won:
            session.rollback()
            continue
        sign = -1 if want else 1
        _bump_course_rating(session, review.course_id, sign * review.rating, sign)
        audit.record(session, actor_id=actor.user_id, action="review.hide" if want else "review.unhide",
                     target=f"review:{review.id}", detail={"course_id": review.course_id})
        session.commit()
        return new
    raise DomainError("learning.busy")

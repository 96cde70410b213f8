"""Timestamped notes and questions ★, shown as markers on a lesson's timeline.

- A learner pins a note or a question to a second of a lesson they may study (free previews:
  within the free seconds).
- Markers for a viewer: every note/question of their own, plus the answered *public* questions of
  other learners (a question is public unless the asker unticks it; notes are private unless
  marked public, and public notes of others are shown too).
- An answer comes from a course manager (owner/staff or the approved instructor of that course);
  the asker gets a message. Answering again edits the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, or_, update
from sqlmodel import Session, col, select

from coursemall import urls
from coursemall.domain import progress as rules
from coursemall.domain.errors import DomainError
from coursemall.domain.validation import parse_id
from coursemall.models import Course, Lesson, LessonNote, User, utcnow
from coursemall.services import rate_limit
from coursemall.services.actors import require_actor
from coursemall.services.community.comments import (
    clean_text,
    managed_course_ids,
    manages_course,
    parse_bool,
    parse_limit,
)
from coursemall.services.community.messages import create_message
from coursemall.services.learning.progress import require_study

NOTE_MAX = 1000
ANSWER_MAX = 2000
KINDS = ("note", "question")
MAX_MARKERS = 500


@dataclass(frozen=True)
class MarkerView:
    id: int
    lesson_id: int
    at_seconds: int  # seek target
    kind: str  # note | question
    text: str  # plain text
    answer: str  # plain text, "" while unanswered
    answered: bool
    public: bool
    mine: bool
    author: str
    created_at: datetime


@dataclass(frozen=True)
class QuestionView:
    id: int
    course_id: int
    course_title: str
    lesson_id: int
    lesson_title: str
    at_seconds: int
    asker: str
    text: str
    answer: str
    created_at: datetime


def _marker(note: LessonNote, author: str, viewer_id: int) -> MarkerView:
    return MarkerView(note.id or 0, note.lesson_id, note.at_seconds, note.kind, note.body, note.answer,
                      note.answered_at is not None, note.is_public, note.user_id == viewer_id, author, note.created_at)


def add_note(session: Session, *, actor_id: object, lesson_id: object, at_seconds: object, text: object,
             kind: object = "note", public: object = None) -> MarkerView:
    """Pin a note or a question at `at_seconds`. `public` defaults to True for questions (so an
    answer helps later learners) and False for notes."""
    if kind not in KINDS:
        raise DomainError("error.bad_request")
    user, target = require_study(session, actor_id, lesson_id)
    at = rules.parse_seconds(at_seconds, upper=target.limit_seconds + rules.POSITION_TOLERANCE_SECONDS)
    is_public = (kind == "question") if public is None else parse_bool(public)
    body = clean_text(text, max_len=NOTE_MAX, session=session)
    rate_limit.take(session, ("post.note", str(user.id)))
    note = LessonNote(lesson_id=target.lesson_id, course_id=target.course_id, user_id=user.id,
                      at_seconds=min(int(at), target.limit_seconds), kind=str(kind), body=body, is_public=is_public)
    session.add(note)
    session.commit()
    return _marker(note, user.nickname, user.id)


def list_markers(session: Session, *, actor_id: object, lesson_id: object) -> tuple[MarkerView, ...]:
    """The viewer's own notes and questions + others' answered public questions and public notes,
    ordered by time in the lesson."""
    user, target = require_study(session, actor_id, lesson_id)
    rows = session.exec(
        select(LessonNote, User.nickname).join(User, User.id == LessonNote.user_id)
        .where(LessonNote.lesson_id == target.lesson_id,
               or_(LessonNote.user_id == user.id,
                   and_(col(LessonNote.is_public).is_(True),
                        or_(LessonNote.kind == "note", col(LessonNote.answered_at).is_not(None)))))
        .order_by(LessonNote.at_seconds, LessonNote.id).limit(MAX_MARKERS)).all()
    return tuple(_marker(n, nick or "", user.id) for n, nick in rows)


def delete_note(session: Session, *, actor_id: object, note_id: object) -> None:
    """The author removes their own note/question; anything else is note.not_found."""
    user = require_actor(session, actor_id)
    gone = session.execute(delete(LessonNote).where(LessonNote.id == parse_id(note_id), LessonNote.user_id == user.id)
                           .execution_options(synchronize_session=False)).rowcount
    if gone != 1:
        session.rollback()
        raise DomainError("note.not_found")
    session.commit()


def answer_question(session: Session, *, actor_id: object, note_id: object, text: object,
                    as_manager: bool = False) -> MarkerView:
    """A course manager (through the dashboard guard: `as_manager`) answers a question (or edits
    the answer); the asker gets a message."""
    user = require_actor(session, actor_id)
    answer = clean_text(text, max_len=ANSWER_MAX, filter_words=False)
    note = session.get(LessonNote, parse_id(note_id), populate_existing=True)
    if note is None or note.kind != "question":
        raise DomainError("note.not_found")
    if not manages_course(session, user, note.course_id, as_manager=as_manager):
        raise DomainError("error.forbidden")
    first = note.answered_at is None
    session.execute(update(LessonNote).where(LessonNote.id == note.id)
                    .values(answer=answer, answered_by=user.id, answered_at=note.answered_at or utcnow())
                    .execution_options(synchronize_session=False))
    if first and note.user_id != user.id:
        lesson_title = session.exec(select(Lesson.title).where(Lesson.id == note.lesson_id)).one()
        create_message(session, user_id=note.user_id, kind="question_answered", key="msg.question_answered",
                       link=f"{urls.lesson_url(note.lesson_id)}?t={note.at_seconds}", lesson=lesson_title)
    session.commit()
    note = session.get(LessonNote, note.id, populate_existing=True)
    asker = session.exec(select(User.nickname).where(User.id == note.user_id)).one()
    return _marker(note, asker, user.id)


def list_question_queue(session: Session, *, actor_id: object, answered: object = False,
                        limit: object = 50, offset: object = 0, as_manager: bool = False) -> tuple[QuestionView, ...]:
    """Questions for managers (through the dashboard guard: `as_manager`): owner/staff see all
    courses, an instructor only their own."""
    user = require_actor(session, actor_id)
    want_answered = parse_bool(answered)
    scope = managed_course_ids(session, user, as_manager=as_manager)
    if scope is not None and not scope:
        raise DomainError("error.forbidden")
    skip = offset if isinstance(offset, int) and not isinstance(offset, bool) and 0 <= offset <= 100_000 else 0
    query = (select(LessonNote, User.nickname, Course.title, Lesson.title)
             .join(User, User.id == LessonNote.user_id).join(Course, Course.id == LessonNote.course_id)
             .join(Lesson, Lesson.id == LessonNote.lesson_id)
             .where(LessonNote.kind == "question",
                    col(LessonNote.answered_at).is_not(None) if want_answered
                    else col(LessonNote.answered_at).is_(None)))
    if scope is not None:
        query = query.where(col(LessonNote.course_id).in_(scope))
    rows = session.exec(query.order_by(LessonNote.id).offset(skip).limit(parse_limit(limit, 50))).all()
    return tuple(QuestionView(n.id, n.course_id, ct, n.lesson_id, lt, n.at_seconds, nick or "", n.body, n.answer,
                              n.created_at) for n, nick, ct, lt in rows)

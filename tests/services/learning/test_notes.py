"""Timestamped notes and questions: visibility of markers, answers by course managers, messages."""

from __future__ import annotations

import pytest
from sqlmodel import select

from coursemall.domain.errors import DomainError
from coursemall.models import LessonNote
from tests.payments.factories import messages_of
from coursemall.services.learning import notes
from tests.services.learning_fixture import make_world


@pytest.fixture
def w(session):
    return make_world(session)


def test_markers_visibility(session, w):
    private = notes.add_note(session, actor_id=w.buyer, lesson_id=w.paid, at_seconds=42.7, text="我的私人笔记")
    assert (private.at_seconds, private.kind, private.public) == (42, "note", False)
    question = notes.add_note(session, actor_id=w.buyer, lesson_id=w.paid, at_seconds=90, text="这里为什么这样构图？",
                              kind="question")
    assert question.public and not question.answered
    secret_q = notes.add_note(session, actor_id=w.buyer, lesson_id=w.paid, at_seconds=120, text="私下问",
                              kind="question", public=False)
    shared = notes.add_note(session, actor_id=w.buyer, lesson_id=w.paid, at_seconds=10, text="公开笔记",
                            public=True)
    mine = notes.list_markers(session, actor_id=w.buyer, lesson_id=w.paid)
    assert [m.id for m in mine] == [shared.id, private.id, question.id, secret_q.id]  # by time
    # another learner: no private note, no unanswered question
    theirs = notes.list_markers(session, actor_id=w.buyer2, lesson_id=w.paid)
    assert [m.id for m in theirs] == [shared.id]
    for manager in (w.teacher, w.staff):  # not through the dashboard guard
        with pytest.raises(DomainError, match="error.forbidden"):
            notes.answer_question(session, actor_id=manager, note_id=question.id, text="没验证")
    answered = notes.answer_question(session, actor_id=w.teacher, note_id=question.id, text="三分法让主体更突出",
                                     as_manager=True)
    assert answered.answered and answered.answer == "三分法让主体更突出"
    notes.answer_question(session, actor_id=w.owner, note_id=secret_q.id, text="私下答", as_manager=True)
    theirs = notes.list_markers(session, actor_id=w.buyer2, lesson_id=w.paid)
    assert [(m.id, m.at_seconds, m.answer) for m in theirs] == [(shared.id, 10, ""), (question.id, 90, "三分法让主体更突出")]
    assert not any(m.mine for m in theirs)
    msgs = messages_of(session, w.buyer, "question_answered")
    assert len(msgs) == 2 and msgs[0].link == f"/lesson/{w.paid}?t=90"
    # editing an answer does not notify again
    notes.answer_question(session, actor_id=w.staff, note_id=question.id, text="补充：注意光线", as_manager=True)
    assert len(messages_of(session, w.buyer, "question_answered")) == 2


def test_who_may_answer_and_delete(session, w):
    q = notes.add_note(session, actor_id=w.buyer, lesson_id=w.paid, at_seconds=1, text="问题", kind="question")
    note = notes.add_note(session, actor_id=w.buyer, lesson_id=w.paid, at_seconds=1, text="笔记")
    for actor in (w.buyer2, w.buyer, w.other_teacher):
        with pytest.raises(DomainError, match="error.forbidden"):
            notes.answer_question(session, actor_id=actor, note_id=q.id, text="我来答", as_manager=True)
    with pytest.raises(DomainError, match="note.not_found"):  # notes are not questions
        notes.answer_question(session, actor_id=w.owner, note_id=note.id, text="答", as_manager=True)
    with pytest.raises(DomainError, match="note.not_found"):
        notes.delete_note(session, actor_id=w.buyer2, note_id=note.id)
    notes.delete_note(session, actor_id=w.buyer, note_id=note.id)
    assert session.exec(select(LessonNote.id)).all() == [q.id]
    queue = notes.list_question_queue(session, actor_id=w.teacher, as_manager=True)
    assert [x.id for x in queue] == [q.id]
    assert notes.list_question_queue(session, actor_id=w.staff, as_manager=True)[0].asker
    with pytest.raises(DomainError, match="error.forbidden"):
        notes.list_question_queue(session, actor_id=w.buyer, as_manager=True)
    assert notes.list_question_queue(session, actor_id=w.other_teacher, as_manager=True) == ()
    with pytest.raises(DomainError, match="error.forbidden"):  # not through the dashboard guard
        notes.list_question_queue(session, actor_id=w.staff)


def test_note_input_and_access(session, w):
    with pytest.raises(DomainError, match="lesson.locked"):
        notes.add_note(session, actor_id=w.stranger, lesson_id=w.paid, at_seconds=1, text="没买")
    with pytest.raises(DomainError, match="lesson.locked"):
        notes.list_markers(session, actor_id=w.stranger, lesson_id=w.paid)
    for at in (-1, 700, float("nan"), "10", None):
        with pytest.raises(DomainError):
            notes.add_note(session, actor_id=w.buyer, lesson_id=w.paid, at_seconds=at, text="x")
    for kind in ("answer", None, 1):
        with pytest.raises(DomainError, match="error.bad_request"):
            notes.add_note(session, actor_id=w.buyer, lesson_id=w.paid, at_seconds=1, text="x", kind=kind)
    with pytest.raises(DomainError, match="error.bad_request"):
        notes.add_note(session, actor_id=w.buyer, lesson_id=w.paid, at_seconds=1, text="x", public="yes")
    # free preview: only within the free seconds
    notes.add_note(session, actor_id=w.stranger, lesson_id=w.partial, at_seconds=20, text="试听笔记")
    with pytest.raises(DomainError, match="progress.bad_position"):
        notes.add_note(session, actor_id=w.stranger, lesson_id=w.partial, at_seconds=100, text="试听之外")
    assert len(session.exec(select(LessonNote)).all()) == 1

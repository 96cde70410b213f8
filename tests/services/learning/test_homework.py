"""Homework: submit/replace until graded, images cleaned, grading by course managers notifies."""

from __future__ import annotations

import pytest
from PIL import Image
from sqlmodel import select

from coursemall.domain.errors import DomainError
from coursemall.models import HomeworkSubmission
from coursemall.services.learning import homework
from tests.payments.factories import messages_of
from tests.services.learning_fixture import make_world, png_bytes


@pytest.fixture
def w(session):
    return make_world(session)


def files(tmp_path):
    folder = tmp_path / "homework"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_submit_replace_grade_notify(session, w, tmp_path):
    first = homework.submit_homework(session, actor_id=w.buyer, lesson_id=w.paid, text="我的作业",
                                     images=[png_bytes(), png_bytes((3000, 1000))], public_dir=tmp_path)
    assert first.status == "submitted" and len(first.image_urls) == 2 and len(files(tmp_path)) == 2
    big = first.image_urls[1].removeprefix("/api/public/")
    with Image.open(tmp_path / big) as img:
        assert max(img.size) == 1600  # resized
    second = homework.submit_homework(session, actor_id=w.buyer, lesson_id=w.paid, text="改好的作业",
                                      images=[png_bytes()], public_dir=tmp_path)
    assert second.id == first.id and second.text == "改好的作业" and len(files(tmp_path)) == 1  # old images gone
    assert homework.review_queue(session, actor_id=w.teacher, as_manager=True)[0].id == first.id
    graded = homework.grade_homework(session, actor_id=w.teacher, submission_id=first.id, score=88,
                                     feedback="构图不错，注意曝光", as_manager=True)
    assert (graded.status, graded.score, graded.feedback) == ("graded", 88, "构图不错，注意曝光")
    msgs = messages_of(session, w.buyer, "homework_feedback")
    assert len(msgs) == 1 and "88" in msgs[0].body and msgs[0].link == f"/lesson/{w.paid}"
    with pytest.raises(DomainError, match="homework.already_graded"):
        homework.submit_homework(session, actor_id=w.buyer, lesson_id=w.paid, text="再改", public_dir=tmp_path)
    assert homework.get_my_homework(session, actor_id=w.buyer, lesson_id=w.paid).text == "改好的作业"
    assert [s.id for s in homework.list_my_homework(session, actor_id=w.buyer)] == [first.id]
    assert homework.review_queue(session, actor_id=w.teacher, as_manager=True) == ()
    assert [s.id for s in homework.review_queue(session, actor_id=w.staff, graded=True,
                                                as_manager=True)] == [first.id]
    assert len(files(tmp_path)) == 1


def test_who_may_submit_and_grade(session, w, tmp_path):
    with pytest.raises(DomainError, match="lesson.locked"):
        homework.submit_homework(session, actor_id=w.stranger, lesson_id=w.paid, text="没买", public_dir=tmp_path)
    with pytest.raises(DomainError, match="lesson.locked"):  # preview is not enough
        homework.submit_homework(session, actor_id=w.stranger, lesson_id=w.partial, text="试听", public_dir=tmp_path)
    sub = homework.submit_homework(session, actor_id=w.buyer, lesson_id=w.paid, text="作业", public_dir=tmp_path)
    for actor in (w.buyer, w.buyer2, w.other_teacher):
        with pytest.raises(DomainError, match="error.forbidden"):
            homework.grade_homework(session, actor_id=actor, submission_id=sub.id, score=100, feedback="自己给满分",
                                    as_manager=True)
    for score in (-1, 101, 99.5, "100", True, None):
        with pytest.raises(DomainError, match="homework.bad_score"):
            homework.grade_homework(session, actor_id=w.owner, submission_id=sub.id, score=score, feedback="",
                                    as_manager=True)
    with pytest.raises(DomainError, match="homework.not_found"):
        homework.grade_homework(session, actor_id=w.owner, submission_id=999_999, score=1, feedback="",
                                as_manager=True)
    with pytest.raises(DomainError, match="error.forbidden"):
        homework.review_queue(session, actor_id=w.buyer, as_manager=True)
    for manager in (w.teacher, w.staff, w.owner):  # not through the dashboard guard
        with pytest.raises(DomainError, match="error.forbidden"):
            homework.review_queue(session, actor_id=manager)
        with pytest.raises(DomainError, match="error.forbidden"):
            homework.grade_homework(session, actor_id=manager, submission_id=sub.id, score=1, feedback="")
    assert homework.review_queue(session, actor_id=w.other_teacher, as_manager=True) == ()  # not their course
    assert session.exec(select(HomeworkSubmission.status)).one() == "submitted"
    assert messages_of(session, w.buyer, "homework_feedback") == []


def test_images_are_checked_before_anything_is_written(session, w, tmp_path):
    with pytest.raises(DomainError, match="homework.too_many_images"):
        homework.submit_homework(session, actor_id=w.buyer, lesson_id=w.paid, text="x", images=[png_bytes()] * 4,
                                 public_dir=tmp_path)
    with pytest.raises(DomainError, match="homework.not_image"):
        homework.submit_homework(session, actor_id=w.buyer, lesson_id=w.paid, text="x",
                                 images=[png_bytes(), b"<html>not an image</html>"], public_dir=tmp_path)
    with pytest.raises(DomainError, match="error.bad_request"):
        homework.submit_homework(session, actor_id=w.buyer, lesson_id=w.paid, text="x", images="abc",
                                 public_dir=tmp_path)
    assert files(tmp_path) == [] and session.exec(select(HomeworkSubmission)).all() == []

"""Threat: user text (comments, reviews, notes, check-ins, homework) used for HTML/script
injection, invisible-character tricks or denial of service by size. Text is stored and returned
verbatim as plain text (the UI renders it as text); oversized input is refused before any work."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func
from sqlmodel import select

from coursemall.domain.errors import DomainError
from coursemall.models import CheckIn, HomeworkSubmission, LessonComment, LessonNote, Review
from coursemall.services.learning import checkins, homework, notes
from coursemall.services.community import comments as community
from tests.services.learning_fixture import T, make_world

PAYLOADS = [
    "<script>alert(document.cookie)</script>",
    "<img src=x onerror=alert(1)>",
    "\"><svg/onload=alert(1)>",
    "javascript:alert(1)",
    "{{7*7}} ${7*7} {% raw %}",
    "'; DROP TABLE lesson_comments; --",
    "<a href=\"javascript:alert(1)\">点我</a>",
]


@pytest.fixture
def w(session):
    return make_world(session)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markup_is_stored_and_returned_verbatim(session, w, payload):
    view = community.add_comment(session, actor_id=w.buyer, lesson_id=w.paid, text=payload)
    assert view.body == payload
    stored = session.exec(select(LessonComment.body).where(LessonComment.id == view.id)).one()
    assert stored == payload
    listed = community.list_comments(session, actor_id=w.buyer2, lesson_id=w.paid).items
    assert [c.body for c in listed] == [payload]
    review = community.submit_review(session, actor_id=w.buyer2, course_id=w.course, rating=4, content=payload)
    assert review.content == payload
    note = notes.add_note(session, actor_id=w.buyer, lesson_id=w.paid, at_seconds=5, text=payload)
    assert note.text == payload


def test_huge_text_is_refused_quickly_everywhere(session, w, tmp_path):
    huge = "<b>x</b>" * 12_800  # 100 KB
    started = time.perf_counter()
    calls = [
        lambda: community.add_comment(session, actor_id=w.buyer, lesson_id=w.paid, text=huge),
        lambda: community.submit_review(session, actor_id=w.buyer, course_id=w.course, rating=5, content=huge),
        lambda: notes.add_note(session, actor_id=w.buyer, lesson_id=w.paid, at_seconds=1, text=huge),
        lambda: checkins.check_in(session, actor_id=w.buyer, course_id=w.course, text=huge, public_dir=tmp_path),
        lambda: homework.submit_homework(session, actor_id=w.buyer, lesson_id=w.paid, text=huge * 2,
                                         public_dir=tmp_path),
    ]
    for call in calls:
        with pytest.raises(DomainError) as err:
            call()
        assert err.value.code == "text.too_long" and err.value.params["max"] > 0
    assert time.perf_counter() - started < 2
    for model in (LessonComment, LessonNote, CheckIn, HomeworkSubmission):
        assert session.exec(select(func.count()).select_from(model)).one() == 0
    assert session.exec(select(func.count()).select_from(Review).where(Review.user_id == w.buyer)).one() == 1


def test_length_counts_after_cleaning(session, w):
    assert community.add_comment(session, actor_id=w.buyer, lesson_id=w.paid, text="好" * 1000).body == "好" * 1000
    with pytest.raises(DomainError, match="text.too_long"):
        community.add_comment(session, actor_id=w.buyer, lesson_id=w.paid, text="好" * 1001)
    for empty in ("", "   ", "\n\t\n", "\u202e\u200b\x00"):
        with pytest.raises(DomainError, match="text.empty"):
            community.add_comment(session, actor_id=w.buyer, lesson_id=w.paid, text=empty)


def test_control_bidi_and_surrogates_are_removed(session, w):
    raw = "a\x00b\x07c\u202eevil\u2066d\r\ne\ud800f\ufeff😀 👨\u200d👩\u200d👧"
    view = community.add_comment(session, actor_id=w.buyer, lesson_id=w.paid, text=raw)
    assert view.body == "abcevild\nef😀 👨\u200d👩\u200d👧"
    assert "\n\n\n" not in community.clean_text("a\n\n\n\n\nb", max_len=100)


@pytest.mark.parametrize("bad", [None, 123, ["a"], {"text": "a"}, b"bytes", True])
def test_non_text_is_a_bad_request(session, w, bad):
    with pytest.raises(DomainError, match="error.bad_request"):
        community.add_comment(session, actor_id=w.buyer, lesson_id=w.paid, text=bad)
    with pytest.raises(DomainError, match="error.bad_request"):
        notes.add_note(session, actor_id=w.buyer, lesson_id=w.paid, at_seconds=1, text=bad)
    assert session.exec(select(func.count()).select_from(LessonComment)).one() == 0


def test_checkin_photo_that_is_not_an_image(session, w, tmp_path):
    for bad in (b"<svg onload=alert(1)></svg>", b"GIF89a" + b"\x00" * 20, b"\x89PNG\r\n\x1a\n" + b"0" * 50,
                "not bytes"):
        with pytest.raises(DomainError, match="checkin.not_image"):
            checkins.check_in(session, actor_id=w.buyer, course_id=w.course, text="今天学了构图", photo=bad,
                              now=T, public_dir=tmp_path)
    assert session.exec(select(func.count()).select_from(CheckIn)).one() == 0
    assert not (tmp_path / "checkins").exists() or not any((tmp_path / "checkins").iterdir())

"""Certificates: issued once at 100 %, verifiable by code, PNG of the right size."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from PIL import Image
from sqlmodel import Session, select

from coursemall.domain.errors import DomainError
from coursemall.media.certificate import CERT_SIZE
from coursemall.models import Certificate
from coursemall.services.learning import certificates, progress
from tests.concurrency import run_n
from tests.services.learning_fixture import T, make_world, play


@pytest.fixture
def w(session):
    return make_world(session)


def finish_course(session, w, user_id):
    now = play(session, user_id, w.trial, 0, 125, T)
    now = play(session, user_id, w.partial, 0, 420, now)
    progress.record_article_read(session, actor_id=user_id, lesson_id=w.article, percent=100, now=now)
    return play(session, user_id, w.paid, 0, 600, now)


def test_not_before_100_percent(session, w):
    play(session, w.buyer, w.trial, 0, 125, T)
    with pytest.raises(DomainError, match="certificate.not_complete"):
        certificates.issue_certificate(session, actor_id=w.buyer, course_id=w.course)
    with pytest.raises(DomainError, match="lesson.locked"):
        certificates.issue_certificate(session, actor_id=w.stranger, course_id=w.course)
    assert session.exec(select(Certificate)).all() == []


def test_issued_once_at_completion_and_verifiable(session, w):
    finish_course(session, w, w.buyer)
    rows = session.exec(select(Certificate)).all()
    assert len(rows) == 1  # issued by the heartbeat that completed the course
    view = certificates.issue_certificate(session, actor_id=w.buyer, course_id=w.course)
    assert view.code == rows[0].code and len(session.exec(select(Certificate)).all()) == 1
    assert view.issued_on == "2026-03-02" and view.verify_path == f"/certificate/{view.code}"
    found = certificates.verify_certificate(session, view.code.lower())
    assert (found.learner_name, found.course_title, found.issued_on) == (
        "学员0", "手机摄影入门：从构图到后期", "2026-03-02")
    for bad in ("", "AAAA-AAAA-AAAA-AAAA", "x" * 10_000, None, 12, "' OR 1=1 --"):
        assert certificates.verify_certificate(session, bad) is None
    assert [c.code for c in certificates.my_certificates(session, actor_id=w.buyer)] == [view.code]
    png = certificates.render_certificate_png(view, base_url="https://shop.example")
    with Image.open(io.BytesIO(png)) as img:
        assert img.format == "PNG" and img.size == CERT_SIZE
    assert certificates.certificate_png(session, "nope") is None
    assert certificates.certificate_png(session, view.code)[:8] == b"\x89PNG\r\n\x1a\n"


def test_concurrent_issue_makes_one(db_engine, session, w):
    finish_course(session, w, w.buyer2)
    session.exec(select(Certificate)).one()
    # delete it and let several requests race to issue it again
    for c in session.exec(select(Certificate)).all():
        session.delete(c)
    session.commit()

    def worker(_):
        with Session(db_engine, expire_on_commit=False) as s:
            return certificates.issue_certificate(s, actor_id=w.buyer2, course_id=w.course,
                                                  now=T + timedelta(days=1)).code

    assert len(set(run_n(4, worker))) == 1
    assert len(session.exec(select(Certificate)).all()) == 1

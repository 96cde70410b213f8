"""Homework per lesson: text + up to 3 images; feedback and a 0–100 score from the owner/staff or
the course's instructor; the learner gets a message.

- One submission per learner and lesson (UNIQUE). Resubmitting replaces it while it is still
  `submitted`; once graded it is final (homework.already_graded). Replacing is a
  compare-and-set on `status='submitted'`, so a grade and a resubmission never interleave.
- Images are cleaned by `media.images.clean_photo` and stored in the public dir under
  `homework/<128-bit random>.png` (unguessable names; served like avatars).
- Review queue: owner/staff see every course; an approved instructor only their courses;
  anyone else error.forbidden.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from coursemall import urls
from coursemall.domain.errors import DomainError
from coursemall.domain.validation import parse_id
from coursemall.media.images import save_public_image
from coursemall.models import Course, HomeworkSubmission, Lesson, User, utcnow
from coursemall.services import rate_limit
from coursemall.services.actors import require_actor
from coursemall.services.learning.checkins import clean_upload
from coursemall.services.community.comments import clean_text, managed_course_ids, manages_course, parse_bool, parse_limit
from coursemall.services.community.messages import create_message
from coursemall.services.learning.progress import require_study
from coursemall.settings import get_settings
from coursemall.urls import public_url

TEXT_MAX = 5000
FEEDBACK_MAX = 2000
MAX_IMAGES = 3
IMAGE_DIR = "homework"


@dataclass(frozen=True)
class SubmissionView:
    id: int
    lesson_id: int
    lesson_title: str
    course_id: int
    course_title: str
    learner: str
    text: str  # plain text
    image_urls: tuple[str, ...]
    status: str  # submitted | graded
    score: int | None
    feedback: str  # plain text
    mine: bool
    created_at: datetime
    updated_at: datetime
    graded_at: datetime | None


def _views(session: Session, rows: list[HomeworkSubmission], viewer_id: int) -> list[SubmissionView]:
    if not rows:
        return []
    lessons = dict(session.exec(select(Lesson.id, Lesson.title).where(
        col(Lesson.id).in_({r.lesson_id for r in rows}))).all())
    courses = dict(session.exec(select(Course.id, Course.title).where(
        col(Course.id).in_({r.course_id for r in rows}))).all())
    users = dict(session.exec(select(User.id, User.nickname).where(
        col(User.id).in_({r.user_id for r in rows}))).all())
    return [SubmissionView(r.id or 0, r.lesson_id, lessons.get(r.lesson_id, ""), r.course_id,
                           courses.get(r.course_id, ""), users.get(r.user_id, ""), r.body,
                           tuple(public_url(p) for p in (r.image_paths or [])), r.status, r.score, r.feedback,
                           r.user_id == viewer_id, r.created_at, r.updated_at, r.graded_at) for r in rows]


def _parse_images(images: object) -> list[bytes]:
    if images is None:
        return []
    if not isinstance(images, (list, tuple)):
        raise DomainError("error.bad_request")
    if len(images) > MAX_IMAGES:
        raise DomainError("homework.too_many_images", max=MAX_IMAGES)
    return [clean_upload(data, code="homework.not_image") for data in images]


def _remove(root: Path, names: list[str]) -> None:
    for name in names:
        if isinstance(name, str) and name.startswith(f"{IMAGE_DIR}/"):
            path = (root / name).resolve()
            if root.resolve() in path.parents:
                path.unlink(missing_ok=True)


def submit_homework(session: Session, *, actor_id: object, lesson_id: object, text: object,
                    images: object = None, public_dir: Path | None = None) -> SubmissionView:
    """Submit (or replace, until graded) the actor's homework for a lesson they may fully study."""
    user, target = require_study(session, actor_id, lesson_id, full=True)
    body = clean_text(text, max_len=TEXT_MAX, session=session)
    pngs = _parse_images(images)  # every image is checked before anything is written
    root = public_dir or get_settings().public_dir
    existing = session.exec(select(HomeworkSubmission).where(HomeworkSubmission.user_id == user.id,
                                                             HomeworkSubmission.lesson_id == target.lesson_id)
                            .execution_options(populate_existing=True)).first()
    if existing is not None and existing.status != "submitted":
        raise DomainError("homework.already_graded")
    rate_limit.take(session, ("post.homework", str(user.id)))
    names = [f"{IMAGE_DIR}/{secrets.token_hex(16)}.png" for _ in pngs]
    for name, png in zip(names, pngs):
        save_public_image(root, name, png)
    now = utcnow()
    try:
        if existing is None:
            row = HomeworkSubmission(lesson_id=target.lesson_id, course_id=target.course_id, user_id=user.id,
                                     body=body, image_paths=names, created_at=now, updated_at=now)
            session.add(row)
            session.commit()
            row_id = row.id
            old_names: list[str] = []
        else:
            won = session.execute(
                update(HomeworkSubmission)
                .where(HomeworkSubmission.id == existing.id, HomeworkSubmission.status == "submitted")
                .values(body=body, image_paths=names, updated_at=now)
                .execution_options(synchronize_session=False)).rowcount == 1
            if not won:
                raise DomainError("homework.already_graded")
            session.commit()
            row_id = existing.id
            old_names = list(existing.image_paths or [])
    except (IntegrityError, DomainError) as exc:
        session.rollback()
        _remove(root, names)
        if isinstance(exc, DomainError):
            raise
        raise DomainError("homework.already_submitted") from None  # a concurrent first submission won
    _remove(root, old_names)
    row = session.get(HomeworkSubmission, row_id, populate_existing=True)
    return _views(session, [row], user.id)[0]


def get_my_homework(session: Session, *, actor_id: object, lesson_id: object) -> SubmissionView | None:
    user = require_actor(session, actor_id)
    row = session.exec(select(HomeworkSubmission).where(HomeworkSubmission.user_id == user.id,
                                                        HomeworkSubmission.lesson_id == parse_id(lesson_id))).first()
    return _views(session, [row], user.id)[0] if row else None


def list_my_homework(session: Session, *, actor_id: object, limit: object = 50) -> tuple[SubmissionView, ...]:
    user = require_actor(session, actor_id)
    rows = list(session.exec(select(HomeworkSubmission).where(HomeworkSubmission.user_id == user.id)
                             .order_by(col(HomeworkSubmission.updated_at).desc())
                             .limit(parse_limit(limit, 50))).all())
    return tuple(_views(session, rows, user.id))


def review_queue(session: Session, *, actor_id: object, graded: object = False, course_id: object = None,
                 limit: object = 50, offset: object = 0, as_manager: bool = False) -> tuple[SubmissionView, ...]:
    """Submissions to grade (or already graded), oldest first, within the actor's courses (a
    manager through the dashboard guard: `as_manager`)."""
    user = require_actor(session, actor_id)
    want_graded = parse_bool(graded)
    scope = managed_course_ids(session, user, as_manager=as_manager)
    if scope is not None and not scope:
        raise DomainError("error.forbidden")
    query = select(HomeworkSubmission).where(HomeworkSubmission.status == ("graded" if want_graded else "submitted"))
    if scope is not None:
        query = query.where(col(HomeworkSubmission.course_id).in_(scope))
    if course_id is not None:
        query = query.where(HomeworkSubmission.course_id == parse_id(course_id))
    skip = offset if isinstance(offset, int) and not isinstance(offset, bool) and 0 <= offset <= 100_000 else 0
    rows = list(session.exec(query.order_by(HomeworkSubmission.updated_at, HomeworkSubmission.id)
                             .offset(skip).limit(parse_limit(limit, 50))).all())
    return tuple(_views(session, rows, user.id))


def grade_homework(session: Session, *, actor_id: object, submission_id: object, score: object,
                   feedback: object, as_manager: bool = False) -> SubmissionView:
    """Feedback + score (0–100) by a manager of the course; grading again edits the grade.
    The learner gets a message each time."""
    user = require_actor(session, actor_id)
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 100:
        raise DomainError("homework.bad_score")
    text = clean_text(feedback, max_len=FEEDBACK_MAX, min_len=0, filter_words=False)
    row = session.get(HomeworkSubmission, parse_id(submission_id), populate_existing=True)
    if row is None:
        raise DomainError("homework.not_found")
    if not manages_course(session, user, row.course_id, as_manager=as_manager):
        raise DomainError("error.forbidden")
    now = utcnow()
    session.execute(update(HomeworkSubmission).where(HomeworkSubmission.id == row.id)
                    .values(status="graded", score=score, feedback=text, graded_by=user.id, graded_at=now,
                            updated_at=now).execution_options(synchronize_session=False))
    lesson_title = session.exec(select(Lesson.title).where(Lesson.id == row.lesson_id)).one()
    create_message(session, user_id=row.user_id, kind="homework_feedback", key="msg.homework_graded",
                   link=urls.lesson_url(row.lesson_id), lesson=lesson_title, score=score)
    session.commit()
    row = session.get(HomeworkSubmission, row.id, populate_existing=True)
    return _views(session, [row], user.id)[0]

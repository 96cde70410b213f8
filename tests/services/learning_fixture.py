"""Shared setup for the learning tests: the test catalog (catalog_fixture) plus the people who
study, teach and moderate it, and a helper that plays a lesson with realistic heartbeats."""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from PIL import Image
from sqlmodel import Session, select

from coursemall.models import Course, Entitlement, Instructor, Lesson, User
from coursemall.services.learning import progress
from tests.services.catalog_fixture import build_catalog

T = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai


@dataclass
class World:
    course: int  # the phone course (4 lessons: paid video 600 s, article 300 s, partial audio 420 s/30 s free,
    paid: int  #   trial video 125 s)
    article: int
    partial: int
    trial: int
    buyer: int
    buyer2: int
    stranger: int
    expired: int
    owner: int
    staff: int
    teacher: int  # user managing the course's instructor profile
    other_teacher: int  # instructor of other courses only
    other_course: int  # a published course the buyers do not own


def _user(session: Session, role: str = "learner", nickname: str = "") -> int:
    user = User(nickname=nickname or f"{role}-{secrets.token_hex(2)}", role=role,
                watermark_code=secrets.token_hex(5))
    session.add(user)
    session.flush()
    return user.id


def make_world(session: Session) -> World:
    cat = build_catalog(session, media_prefix=secrets.token_hex(3))
    ids = cat.ids
    owner = _user(session, "owner", "店主")
    staff = _user(session, "staff", "客服")
    teacher = _user(session, "instructor", "李老师")
    other_teacher = _user(session, "instructor", "陈老师")
    buyer2 = _user(session, "learner", "同学二")
    phone = session.get(Course, ids["phone"])
    li = session.get(Instructor, phone.instructor_id)
    li.user_id = teacher
    pandas = session.get(Course, ids["pandas"])
    guido = session.get(Instructor, pandas.instructor_id)
    guido.user_id = other_teacher
    session.add_all([li, guido])
    session.add(Entitlement(user_id=buyer2, course_id=phone.id, source="order", source_ref="O3"))
    session.commit()
    return World(course=phone.id, paid=ids["lesson_paid"], article=ids["lesson_article"],
                 partial=ids["lesson_partial"], trial=ids["lesson_trial"], buyer=ids["buyer"], buyer2=buyer2,
                 stranger=ids["stranger"], expired=ids["expired_buyer"], owner=owner, staff=staff,
                 teacher=teacher, other_teacher=other_teacher, other_course=ids["pandas"])


def play(session: Session, user_id: int, lesson_id: int, start: int, end: int, now: datetime,
         step: int = 10, rate: float = 1.0) -> datetime:
    """Heartbeats every `step` wall seconds while the player moves from `start` to `end` at `rate`.
    Returns the wall clock after the last heartbeat."""
    pos = float(start)
    while pos < end:
        nxt = min(float(end), pos + step * rate)
        now = now + timedelta(seconds=(nxt - pos) / rate)
        progress.record_heartbeat(session, actor_id=user_id, lesson_id=lesson_id, position_seconds=nxt,
                                  watched_from=pos, watched_to=nxt, now=now)
        pos = nxt
    return now


def lesson_ids(session: Session, course_id: int) -> list[int]:
    return list(session.exec(select(Lesson.id).where(Lesson.course_id == course_id)).all())


def png_bytes(size: tuple[int, int] = (64, 48), color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()

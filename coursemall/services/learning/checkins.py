"""Daily check-in (打卡) per course: text + optional photo, one per learner, course and shop-local
day (Asia/Shanghai, see domain.progress), with streaks.

Only learners with an active entitlement to the course check in and see the course's check-ins
(owner/staff/instructor of the course may read them too). A photo is sniffed and re-encoded by
`media.images.clean_photo` (not an image → checkin.not_image, nothing stored) and saved in the
public dir under `checkins/<random>.png`; the name is generated here, never taken from the upload.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from coursemall.domain import progress as rules
from coursemall.domain.catalog import open_to_buyers
from coursemall.domain.errors import DomainError
from coursemall.domain.time import china_date
from coursemall.domain.validation import parse_id
from coursemall.media.images import clean_photo, save_public_image
from coursemall.models import CheckIn, Course, User, utcnow
from coursemall.services import rate_limit
from coursemall.services.actors import require_actor
from coursemall.services.community.comments import clean_text, manages_course, parse_limit
from coursemall.services.learning.media_access import has_active_entitlement
from coursemall.settings import get_settings
from coursemall.urls import public_url

TEXT_MAX = 500
PHOTO_MAX_BYTES = 8 * 1024 * 1024
PHOTO_MAX_SIDE = 1600
PHOTO_DIR = "checkins"


@dataclass(frozen=True)
class CheckInView:
    id: int
    course_id: int
    author: str
    author_avatar_url: str
    text: str  # plain text
    photo_url: str
    day: str  # ISO date (Asia/Shanghai)
    mine: bool
    created_at: datetime


@dataclass(frozen=True)
class CheckInStatus:
    course_id: int
    checked_in_today: bool
    streak_current: int
    streak_longest: int
    total_days: int


def _published_course(session: Session, course_id: object) -> Course:
    """The course if its buyers may still study it (published, or taken down after sale)."""
    course = session.get(Course, parse_id(course_id))
    if course is None or not open_to_buyers(course.status):
        raise DomainError("error.not_found")
    return course


def clean_upload(data: object, *, max_bytes: int = PHOTO_MAX_BYTES, code: str = "checkin.not_image") -> bytes:
    """Untrusted photo bytes → clean PNG (no metadata), or DomainError(code)."""
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise DomainError(code)
    if len(data) > max_bytes:
        raise DomainError("learning.image_too_large", mb=max_bytes // (1024 * 1024))
    try:
        return clean_photo(bytes(data), max_side=PHOTO_MAX_SIDE)
    except DomainError:
        raise DomainError(code) from None


def _view(row: CheckIn, author: str, avatar: str, viewer_id: int) -> CheckInView:
    return CheckInView(row.id or 0, row.course_id, author, public_url(avatar or ""), row.body,
                       public_url(row.photo_path), row.day.isoformat(), row.user_id == viewer_id, row.created_at)


def check_in(session: Session, *, actor_id: object, course_id: object, text: object, photo: object = None,
             now: datetime | None = None, public_dir: Path | None = None) -> CheckInView:
    """Today's check-in. A second one the same day → checkin.already_today (nothing stored)."""
    user = require_actor(session, actor_id)
    course = _published_course(session, course_id)
    if not has_active_entitlement(session, user_id=user.id, course_id=course.id):
        raise DomainError("checkin.not_learner")
    body = clean_text(text, max_len=TEXT_MAX, session=session)
    now = now or utcnow()
    day = china_date(now)
    if session.exec(select(CheckIn.id).where(CheckIn.user_id == user.id, CheckIn.course_id == course.id,
                                             CheckIn.day == day)).first():
        raise DomainError("checkin.already_today")
    png = clean_upload(photo) if photo is not None else None
    rate_limit.take(session, ("post.checkin", str(user.id)), now=now)
    root = public_dir or get_settings().public_dir
    name = ""
    if png is not None:
        name = f"{PHOTO_DIR}/{secrets.token_hex(16)}.png"
        save_public_image(root, name, png)
    row = CheckIn(user_id=user.id, course_id=course.id, day=day, body=body, photo_path=name, created_at=now)
    try:
        session.add(row)
        session.commit()
    except IntegrityError:
        session.rollback()
        if name:
            (root / name).unlink(missing_ok=True)
        raise DomainError("checkin.already_today") from None
    return _view(row, user.nickname, user.avatar_path, user.id)


def checkin_status(session: Session, *, actor_id: object, course_id: object,
                   now: datetime | None = None) -> CheckInStatus:
    user = require_actor(session, actor_id)
    course = _published_course(session, course_id)
    days = session.exec(select(CheckIn.day).where(CheckIn.user_id == user.id, CheckIn.course_id == course.id)).all()
    today = china_date(now or utcnow())
    streak = rules.streaks(days, today)
    return CheckInStatus(course.id, today in set(days), streak.current, streak.longest, len(set(days)))


def list_checkins(session: Session, *, actor_id: object, course_id: object, before_id: object = None,
                  limit: object = 20, days: int = 30, as_manager: bool = False) -> tuple[CheckInView, ...]:
    """Recent check-ins of a course (newest first, last `days` days), for its learners and its
    managers (through the dashboard guard: `as_manager`)."""
    user = require_actor(session, actor_id)
    course = _published_course(session, course_id)
    if not (has_active_entitlement(session, user_id=user.id, course_id=course.id)
            or manages_course(session, user, course.id, as_manager=as_manager)):
        raise DomainError("checkin.not_learner")
    window = days if isinstance(days, int) and not isinstance(days, bool) and 1 <= days <= 366 else 30
    since = china_date(utcnow()) - timedelta(days=window)
    query = (select(CheckIn, User.nickname, User.avatar_path).join(User, User.id == CheckIn.user_id)
             .where(CheckIn.course_id == course.id, CheckIn.day >= since))
    if before_id is not None:
        query = query.where(CheckIn.id < parse_id(before_id))
    rows = session.exec(query.order_by(col(CheckIn.id).desc()).limit(parse_limit(limit))).all()
    return tuple(_view(r, nick or "", avatar or "", user.id) for r, nick, avatar in rows)

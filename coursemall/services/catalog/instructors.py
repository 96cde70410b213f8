"""Instructors: learners apply to teach, the owner approves or rejects with a
reason, profiles, and the revenue share per instructor.

- One pending application per user at a time (checked under the applicant's row lock, so two
  concurrent submissions make one); an approved instructor cannot apply again.
- Decisions are the owner's (permissions: "staff and instructor decisions"); staff may read the
  list. A decision is a compare-and-set on the application's status, so two clicks (or two
  owners' tabs) decide once. Approval creates — or re-activates — the user's Instructor profile;
  from then on `permissions.dashboard_actor` admits them as an instructor.
- Revenue share is whole or two-decimal percent 0..100, stored as basis points; owner only.
- A profile (name, title, bio) is edited by the instructor themself or by the owner.
Every change writes the audit log in the same transaction; the applicant gets a message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from coursemall import urls
from coursemall.domain.errors import DomainError
from coursemall.domain.validation import parse_id
from coursemall.models import Course, Instructor, InstructorApplication, User, utcnow
from coursemall.services import audit
from coursemall.services.actors import require_actor
from coursemall.services.community.comments import clean_text
from coursemall.services.community.messages import create_message
from coursemall.services.permissions import approved_instructor_id, require_dashboard

NAME_MAX, TITLE_MAX, BIO_MAX, REASON_MAX = 40, 80, 2000, 200
APP_STATUSES = ("pending", "approved", "rejected")
_PERCENT = re.compile(r"^\d{1,3}(\.\d{1,2})?$")


@dataclass(frozen=True)
class ApplicationView:
    id: int
    user_id: int
    applicant: str
    contact: str
    name: str
    title: str
    bio: str
    status: str
    decision_reason: str
    created_at: datetime
    decided_at: datetime | None


@dataclass(frozen=True)
class MyTeachStatus:
    is_instructor: bool
    application: ApplicationView | None  # the latest one


@dataclass(frozen=True)
class InstructorView:
    id: int
    name: str
    title: str
    bio: str
    status: str
    account: str  # the linked account's contact ('' when none)
    share_bp: int
    share_text: str  # "12.5%"
    courses: int


def _texts(name: object, title: object, bio: object) -> tuple[str, str, str]:
    return (clean_text(name, max_len=NAME_MAX), clean_text(title, max_len=TITLE_MAX, min_len=0),
            clean_text(bio, max_len=BIO_MAX, min_len=0))


def share_text(bp: int) -> str:
    whole, rest = divmod(int(bp), 100)
    return f"{whole}%" if rest == 0 else f"{whole}.{rest:02d}".rstrip("0") + "%"


def parse_percent(value: object) -> int:
    """'12', '12.5', 12 → basis points 0..10000; anything else instructor.share_invalid."""
    if isinstance(value, bool):
        raise DomainError("instructor.share_invalid")
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or len(value) > 12:
        raise DomainError("instructor.share_invalid")
    text = value.strip().rstrip("%").strip()
    if not _PERCENT.match(text):
        raise DomainError("instructor.share_invalid")
    whole, _, frac = text.partition(".")
    bp = int(whole) * 100 + int((frac + "00")[:2])
    if not 0 <= bp <= 10_000:
        raise DomainError("instructor.share_invalid")
    return bp


def _app_view(app: InstructorApplication, user: User | None) -> ApplicationView:
    return ApplicationView(app.id or 0, app.user_id, user.nickname if user else "",
                           (user.email or user.phone or "") if user else "", app.name, app.title, app.bio,
                           app.status, app.decision_reason, app.created_at, app.decided_at)


# ---------------------------------------------------------------------------------- the applicant

def my_teach_status(session: Session, *, actor_id: object) -> MyTeachStatus:
    user = require_actor(session, actor_id)
    app = session.exec(select(InstructorApplication).where(InstructorApplication.user_id == user.id)
                       .order_by(col(InstructorApplication.id).desc())).first()
    return MyTeachStatus(approved_instructor_id(session, user.id) is not None,
                         _app_view(app, user) if app else None)


def apply_to_teach(session: Session, *, actor_id: object, name: object, title: object,
                   bio: object) -> ApplicationView:
    user = require_actor(session, actor_id)
    name_, title_, bio_ = _texts(name, title, bio)
    # Take the applicant's row lock (PostgreSQL) / the write lock (SQLite) before looking for a
    # pending application, so two concurrent submissions cannot both find none.
    session.execute(update(User).where(User.id == user.id).values(updated_at=utcnow())
                    .execution_options(synchronize_session=False))
    if approved_instructor_id(session, user.id) is not None:
        raise DomainError("teach.already_instructor")
    pending = session.exec(select(InstructorApplication.id).where(
        InstructorApplication.user_id == user.id, InstructorApplication.status == "pending")).first()
    if pending is not None:
        raise DomainError("teach.pending_exists")
    app = InstructorApplication(user_id=user.id, name=name_, title=title_, bio=bio_)
    session.add(app)
    session.commit()
    return _app_view(app, user)


# ---------------------------------------------------------------------------------- decisions

def list_applications(session: Session, *, actor_id: object, status: object = "pending",
                      limit: int = 100) -> list[ApplicationView]:
    require_dashboard(session, actor_id, staff_only=True)
    if status not in APP_STATUSES:
        raise DomainError("error.bad_request")
    rows = session.exec(select(InstructorApplication, User).join(User, User.id == InstructorApplication.user_id)
                        .where(InstructorApplication.status == status)
                        .order_by(col(InstructorApplication.id).desc()).limit(limit)).all()
    return [_app_view(a, u) for a, u in rows]


def _decide(session: Session, actor_id: int, app_id: int, new: str, reason: str) -> InstructorApplication:
    won = session.execute(update(InstructorApplication)
                          .where(InstructorApplication.id == app_id, InstructorApplication.status == "pending")
                          .values(status=new, decision_reason=reason, decided_by=actor_id, decided_at=utcnow())
                          .execution_options(synchronize_session=False)).rowcount == 1
    if not won:
        session.rollback()
        exists = session.get(InstructorApplication, app_id)
        raise DomainError("teach.already_decided" if exists else "teach.not_found")
    return session.get(InstructorApplication, app_id, populate_existing=True)


def approve_application(session: Session, *, actor_id: object, application_id: object) -> int:
    """Approve: the applicant's Instructor profile is created (or re-activated and refreshed from
    the application) with status approved. Returns the instructor id."""
    actor = require_dashboard(session, actor_id, owner_only=True)
    app = _decide(session, actor.user_id, parse_id(application_id), "approved", "")
    profile = session.exec(select(Instructor).where(Instructor.user_id == app.user_id)
                           .order_by(Instructor.id)).first()
    if profile is None:
        profile = Instructor(user_id=app.user_id, name=app.name, title=app.title, bio=app.bio)
    profile.name, profile.title, profile.bio, profile.status = app.name, app.title, app.bio, "approved"
    session.add(profile)
    session.flush()
    audit.record(session, actor_id=actor.user_id, action="instructor.approve", target=f"user:{app.user_id}",
                 detail={"application_id": app.id, "instructor_id": profile.id})
    create_message(session, user_id=app.user_id, kind="teach_result", key="teach.msg.approved", link=urls.ADMIN,
                   name=app.name)
    session.commit()
    return int(profile.id)


def reject_application(session: Session, *, actor_id: object, application_id: object, reason: object) -> None:
    actor = require_dashboard(session, actor_id, owner_only=True)
    app_id = parse_id(application_id)
    if not isinstance(reason, str) or not 1 <= len(reason.strip()) <= REASON_MAX:
        raise DomainError("teach.reason_length", max=REASON_MAX)
    text = reason.strip()
    app = _decide(session, actor.user_id, app_id, "rejected", text)
    audit.record(session, actor_id=actor.user_id, action="instructor.reject", target=f"user:{app.user_id}",
                 detail={"application_id": app.id, "reason": text})
    create_message(session, user_id=app.user_id, kind="teach_result", key="teach.msg.rejected", link=urls.TEACH_APPLY,
                   reason=text)
    session.commit()


# ---------------------------------------------------------------------------------- profiles and share

def _view(session: Session, ins: Instructor, courses: dict[int, int]) -> InstructorView:
    account = ""
    if ins.user_id:
        user = session.get(User, ins.user_id)
        account = (user.email or user.phone or user.nickname) if user else ""
    return InstructorView(ins.id or 0, ins.name, ins.title, ins.bio, ins.status, account, ins.revenue_share_bp,
                          share_text(ins.revenue_share_bp), courses.get(ins.id or 0, 0))


def list_instructors(session: Session, *, actor_id: object) -> list[InstructorView]:
    require_dashboard(session, actor_id, staff_only=True)
    rows = session.exec(select(Instructor).order_by(Instructor.id).limit(500)).all()
    courses = dict(session.exec(select(Course.instructor_id, func.count()).where(
        col(Course.instructor_id).is_not(None)).group_by(Course.instructor_id)).all())
    return [_view(session, ins, courses) for ins in rows]


def set_revenue_share(session: Session, *, actor_id: object, instructor_id: object, percent: object) -> InstructorView:
    actor = require_dashboard(session, actor_id, owner_only=True)
    bp = parse_percent(percent)
    ins = session.get(Instructor, parse_id(instructor_id))
    if ins is None:
        raise DomainError("error.not_found")
    old = ins.revenue_share_bp
    ins.revenue_share_bp = bp
    session.add(ins)
    audit.record(session, actor_id=actor.user_id, action="instructor.share", target=f"instructor:{ins.id}",
                 detail={"old_bp": old, "new_bp": bp})
    session.commit()
    return _view(session, ins, {})


def _editable(session: Session, actor_id: object, instructor_id: object) -> tuple[int, Instructor]:
    """The profile, if the actor is its instructor or the owner ('not found' otherwise)."""
    actor = require_dashboard(session, actor_id)
    wanted = actor.instructor_id if instructor_id is None else parse_id(instructor_id)
    ins = session.get(Instructor, wanted) if wanted else None
    if ins is None or not (actor.is_owner or ins.id == actor.instructor_id):
        raise DomainError("error.not_found")
    return actor.user_id, ins


def get_profile(session: Session, *, actor_id: object, instructor_id: object = None) -> InstructorView:
    """The actor's own profile (instructor_id None) or, for the owner, any profile."""
    _, ins = _editable(session, actor_id, instructor_id)
    return _view(session, ins, {})


def update_profile(session: Session, *, actor_id: object, instructor_id: object, name: object, title: object,
                   bio: object) -> InstructorView:
    user_id, ins = _editable(session, actor_id, instructor_id)
    name_, title_, bio_ = _texts(name, title, bio)
    old = {"name": ins.name, "title": ins.title}
    ins.name, ins.title, ins.bio = name_, title_, bio_
    session.add(ins)
    audit.record(session, actor_id=user_id, action="instructor.profile", target=f"instructor:{ins.id}",
                 detail={"old": old, "new": {"name": name_, "title": title_}})
    session.commit()
    return _view(session, ins, {})

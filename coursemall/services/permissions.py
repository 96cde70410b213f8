"""Who may do what in the dashboard. One place for the role rules; every dashboard
service starts with `require_dashboard` and, for an object, `require_course_manager`.

Roles (from the database, never from the browser):
- owner: everything, including shop settings, staff and instructor decisions, data export;
- staff: operations (orders, refunds, learners, moderation, all courses), not owner-only settings;
- instructor: an approved Instructor profile linked to the user; sees and edits only their own
  courses, their lessons, media, learners' homework/comments there, and their own sales.
Owner and staff also need a TOTP-verified session; that is checked by the state guards
(`coursemall.state.guards`), which know the session. Nobody uses the dashboard while the shop is
not open (a production shop before its owner's one-time setup, services/shop/setup.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from coursemall.domain.errors import DomainError
from coursemall.domain.orders import STAFF_ROLES
from coursemall.models import Course, Instructor, User
from coursemall.services.actors import require_actor


DASHBOARD_CLOSED = "setup.dashboard_closed"


@dataclass(frozen=True)
class DashboardActor:
    user_id: int
    role: str  # owner | staff | instructor
    instructor_id: int | None  # the approved Instructor profile (None for owner/staff without one)

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"


def approved_instructor_id(session: Session, user_id: int) -> int | None:
    return session.exec(select(Instructor.id).where(Instructor.user_id == user_id,
                                                    Instructor.status == "approved")).first()


def dashboard_actor(session: Session, actor_id: object) -> DashboardActor | None:
    """The dashboard identity of this user, or None for learners / inactive accounts."""
    try:
        user: User = require_actor(session, actor_id)
    except DomainError:
        return None
    instructor_id = approved_instructor_id(session, user.id)
    if user.role in STAFF_ROLES:
        return DashboardActor(user.id, user.role, instructor_id)
    if instructor_id is not None:
        return DashboardActor(user.id, "instructor", instructor_id)
    return None


def require_dashboard(session: Session, actor_id: object, *, staff_only: bool = False,
                      owner_only: bool = False) -> DashboardActor:
    """The dashboard actor, refused while the shop is not open (services/shop/setup.py)."""
    from coursemall.services.shop.setup import shop_is_open  # setup -> mfa -> permissions: import on use

    if not shop_is_open(session):
        raise DomainError(DASHBOARD_CLOSED)
    actor = dashboard_actor(session, actor_id)
    if actor is None:
        raise DomainError("error.forbidden")
    if owner_only and not actor.is_owner:
        raise DomainError("error.forbidden")
    if staff_only and not actor.is_staff:
        raise DomainError("error.forbidden")
    return actor


def course_scope(session: Session, actor: DashboardActor) -> list[int] | None:
    """None = every course (owner/staff); else the ids of the instructor's own courses."""
    if actor.is_staff:
        return None
    return list(session.exec(select(Course.id).where(Course.instructor_id == actor.instructor_id)).all())


def require_course_manager(session: Session, actor: DashboardActor, course_id: object) -> Course:
    """The course, if this actor may manage it; the same 'not found' for missing and foreign
    courses, so ids of other instructors' courses cannot be probed."""
    course = session.get(Course, course_id) if isinstance(course_id, int) and not isinstance(course_id, bool) else None
    if course is None or not (actor.is_staff or (actor.instructor_id is not None
                                                 and course.instructor_id == actor.instructor_id)):
        raise DomainError("error.not_found")
    return course

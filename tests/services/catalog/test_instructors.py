"""Instructors on SQLite and PostgreSQL: the application flow (one pending at a time, approve
creates the profile and opens the dashboard, reject with a reason and a message), owner-only
decisions and revenue share (bounds; nothing saved on bad input), profile edits by the
instructor themself or the owner only."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from coursemall.domain.errors import DomainError
from coursemall.models import AuditLog, Instructor, InstructorApplication, Message
from coursemall.services.catalog import instructors
from coursemall.services.permissions import dashboard_actor
from tests.concurrency import run_n
from tests.payments.factories import make_user


@pytest.fixture
def people(session):
    owner = make_user(session, role="owner")
    staff = make_user(session, role="staff")
    learner = make_user(session)
    other = make_user(session)
    return {"owner": owner.id, "staff": staff.id, "learner": learner.id, "other": other.id}


def apply(session, who, name="王老师", title="摄影师", bio="十年经验"):
    return instructors.apply_to_teach(session, actor_id=who, name=name, title=title, bio=bio)


def test_apply_approve_flow(session, people):
    learner = people["learner"]
    assert instructors.my_teach_status(session, actor_id=learner).application is None
    app = apply(session, learner, name="  王老师 ")
    assert app.status == "pending" and app.name == "王老师"
    with pytest.raises(DomainError, match="teach.pending_exists"):
        apply(session, learner)
    assert dashboard_actor(session, learner) is None

    pending = instructors.list_applications(session, actor_id=people["staff"])
    assert [a.id for a in pending] == [app.id]
    with pytest.raises(DomainError, match="error.forbidden"):  # decisions are the owner's
        instructors.approve_application(session, actor_id=people["staff"], application_id=app.id)
    with pytest.raises(DomainError, match="error.forbidden"):
        instructors.list_applications(session, actor_id=learner)

    ins_id = instructors.approve_application(session, actor_id=people["owner"], application_id=app.id)
    actor = dashboard_actor(session, learner)
    assert actor is not None and actor.role == "instructor" and actor.instructor_id == ins_id
    profile = session.get(Instructor, ins_id)
    assert (profile.name, profile.title, profile.status, profile.user_id) == ("王老师", "摄影师", "approved", learner)
    msg = session.exec(select(Message).where(Message.user_id == learner)).one()
    assert msg.kind == "teach_result" and "王老师" in msg.body
    assert session.exec(select(AuditLog.action).where(AuditLog.actor_id == people["owner"])).all() == [
        "instructor.approve"]
    with pytest.raises(DomainError, match="teach.already_decided"):
        instructors.approve_application(session, actor_id=people["owner"], application_id=app.id)
    with pytest.raises(DomainError, match="teach.already_instructor"):
        apply(session, learner)
    assert instructors.my_teach_status(session, actor_id=learner).is_instructor


def test_reject_with_reason_then_apply_again(session, people):
    app = apply(session, people["learner"])
    for bad in ("", "   ", "长" * 201, None, ["x"]):
        with pytest.raises(DomainError):
            instructors.reject_application(session, actor_id=people["owner"], application_id=app.id, reason=bad)
    session.expire_all()
    assert session.get(InstructorApplication, app.id).status == "pending"
    with pytest.raises(DomainError, match="teach.not_found"):
        instructors.reject_application(session, actor_id=people["owner"], application_id=999_999, reason="不合适")
    instructors.reject_application(session, actor_id=people["owner"], application_id=app.id, reason="资料不完整")
    status = instructors.my_teach_status(session, actor_id=people["learner"])
    assert status.application.status == "rejected" and status.application.decision_reason == "资料不完整"
    assert "资料不完整" in session.exec(select(Message.body).where(Message.user_id == people["learner"])).one()
    assert dashboard_actor(session, people["learner"]) is None
    again = apply(session, people["learner"], bio="补充了作品集")
    assert again.status == "pending" and again.id != app.id


@pytest.mark.parametrize("value,bp", [("0", 0), ("100", 10_000), ("12.5", 1250), (" 30 % ", 3000), (7, 700),
                                      ("0.05", 5)])
def test_parse_percent(value, bp):
    assert instructors.parse_percent(value) == bp


@pytest.mark.parametrize("value", ["-1", "100.01", "101", "abc", "", "1e2", "12.345", None, True, 1.5, -5,
                                   ["10"], "5" * 20])
def test_revenue_share_bounds_save_nothing(session, people, value):
    ins = Instructor(name="讲师", status="approved", revenue_share_bp=3000)
    session.add(ins)
    session.commit()
    with pytest.raises(DomainError, match="instructor.share_invalid"):
        instructors.set_revenue_share(session, actor_id=people["owner"], instructor_id=ins.id, percent=value)
    session.expire_all()
    assert session.get(Instructor, ins.id).revenue_share_bp == 3000
    assert session.exec(select(func.count()).select_from(AuditLog)).one() == 0


def test_revenue_share_owner_only(session, people):
    ins = Instructor(name="讲师", status="approved")
    session.add(ins)
    session.commit()
    with pytest.raises(DomainError, match="error.forbidden"):
        instructors.set_revenue_share(session, actor_id=people["staff"], instructor_id=ins.id, percent="50")
    view = instructors.set_revenue_share(session, actor_id=people["owner"], instructor_id=ins.id, percent="37.5")
    assert (view.share_bp, view.share_text) == (3750, "37.5%")
    assert instructors.list_instructors(session, actor_id=people["staff"])[0].share_text == "37.5%"
    log = session.exec(select(AuditLog).where(AuditLog.action == "instructor.share")).one()
    assert log.detail == {"old_bp": 0, "new_bp": 3750}


def test_profile_edit_self_or_owner(session, people):
    a, b = make_user(session), make_user(session)
    ia = Instructor(user_id=a.id, name="甲", status="approved")
    ib = Instructor(user_id=b.id, name="乙", status="approved")
    session.add_all([ia, ib])
    session.commit()
    view = instructors.update_profile(session, actor_id=a.id, instructor_id=ia.id, name="甲老师", title="讲师",
                                      bio="简介")
    assert view.name == "甲老师"
    for actor, target in ((b.id, ia.id), (people["staff"], ia.id), (people["learner"], ia.id)):
        with pytest.raises(DomainError, match="error.not_found|error.forbidden"):
            instructors.update_profile(session, actor_id=actor, instructor_id=target, name="黑", title="", bio="")
    with pytest.raises(DomainError, match="text.empty"):
        instructors.update_profile(session, actor_id=a.id, instructor_id=ia.id, name="  ", title="", bio="")
    with pytest.raises(DomainError, match="text.too_long"):
        instructors.update_profile(session, actor_id=a.id, instructor_id=ia.id, name="名" * 41, title="", bio="")
    session.expire_all()
    assert session.get(Instructor, ia.id).name == "甲老师"
    instructors.update_profile(session, actor_id=people["owner"], instructor_id=ib.id, name="乙老师", title="",
                               bio="")
    assert instructors.get_profile(session, actor_id=b.id).name == "乙老师"


def test_concurrent_applications_make_one(db_engine, session, people):
    from sqlalchemy.exc import OperationalError
    from sqlmodel import Session

    def worker(i):
        with Session(db_engine, expire_on_commit=False) as s:
            try:
                apply(s, people["learner"], name=f"老师{i}")
                return "ok"
            except DomainError as exc:
                return exc.code
            except OperationalError as exc:  # SQLite may answer "database is locked"
                return type(exc).__name__

    outcomes = run_n(4, worker)
    session.expire_all()
    pending = session.exec(select(func.count()).select_from(InstructorApplication)
                           .where(InstructorApplication.status == "pending")).one()
    assert pending == 1 and sorted(outcomes) == ["ok"] + ["teach.pending_exists"] * 3, outcomes

"""Operations states: order detail and staff refund, learners (search, profile,
grant / revoke access), instructors (applications, revenue share, profiles), moderation, and
the learner's "apply to teach" form.

Rules as in state/dashboard/base.py: every dashboard handler carries a guard below `@rx.event`
(`staff_required` for the Admin* states, `dashboard_required` where instructors belong), checks
every argument's type and size, and calls services that check role and object again. Rows go
to the browser as small dicts of strings. The learner's TeachApplyState needs only a signed-in
account (the service resolves the actor from the server-side session).
"""

from __future__ import annotations

import asyncio

import reflex as rx

from coursemall import urls
from coursemall.db import session_scope
from coursemall.domain.errors import DomainError
from coursemall.domain.money import format_fen
from coursemall.domain.time import china_time_text
from coursemall.domain.validation import valid_id
from coursemall.services.community import comments as community_service
from coursemall.services.catalog import instructors as instructor_service
from coursemall.services.dashboard import operations as ops_service
from coursemall.state.dashboard.orders import AdminBaseState, export_url
from coursemall.state.base import AppState
from coursemall.state.dashboard.base import (
    MAX_FORM_FIELD,
    DashboardBaseState,
    _in_session,
    form_checked,
    form_field,
)
from coursemall.state.guards import dashboard_required, staff_required

MAX_FORM_KEYS = 120
TEXT_FIELD_MAX = 12_000  # bios; anything longer is cut so the service says "too long"


def _time(value) -> str:
    return china_time_text(value) if value else ""


def _text_field(form_data: object, name: str) -> str | None:
    """A text field of a form: None when not a form / not a string; oversized text is cut (the
    service then refuses it as too long with its own message)."""
    if not isinstance(form_data, dict) or len(form_data) > MAX_FORM_KEYS:
        return None
    value = form_data.get(name, "")
    if not isinstance(value, str):
        return None
    return value[:TEXT_FIELD_MAX]


def _short_field(form_data: object, name: str) -> str | None:
    value = _text_field(form_data, name)
    return None if value is None or len(value) > MAX_FORM_FIELD else value


# ---------------------------------------------------------------------------------- order detail

class AdminOrderDetailState(AdminBaseState):
    """/admin/orders/[order_no]: lines, payments, refunds, payment events, history; staff refund."""

    order: dict[str, str] = {}
    lines: list[dict[str, str]] = []
    payments: list[dict[str, str]] = []
    refund_rows: list[dict[str, str]] = []
    events: list[dict[str, str]] = []
    history: list[dict[str, str]] = []
    can_refund: bool = False

    def _clear_data(self) -> None:
        self.order = {}
        self.lines, self.payments, self.refund_rows, self.events, self.history = [], [], [], [], []
        self.can_refund = False

    def _order_no(self) -> str | None:
        value = self._route_param("order_no")
        return value if isinstance(value, str) and 0 < len(value) <= 32 and value.isalnum() else None

    def _show(self, d: ops_service.OrderDetail) -> None:
        self.order = {"order_no": d.order_no, "status": d.status, "channel": d.channel, "total": d.total,
                      "refunded": d.refunded, "learner": d.learner, "contact": d.contact,
                      "learner_href": urls.admin_learner_url(d.learner_id), "date": _time(d.created_at),
                      "paid_at": _time(d.paid_at), "closed_at": _time(d.closed_at), "close_reason": d.close_reason}
        self.lines = [{"id": str(ln.id), "title": ln.title, "price": ln.price, "refund_status": ln.refund_status,
                       "refundable": "1" if ln.refundable else ""} for ln in d.lines]
        self.payments = [{"channel": p.channel, "txn": p.provider_txn_id, "amount": p.amount,
                          "role": self._t(f"ops.payment_role.{p.role}"), "date": _time(p.paid_at)}
                         for p in d.payments]
        self.refund_rows = [{"no": r.out_refund_no, "amount": r.amount, "status": r.status, "reason": r.reason,
                             "decision": r.decision_reason, "date": _time(r.created_at),
                             "progress": self._t("ops.refund.progress", attempts=r.attempts, why=r.last_reason)
                             if r.last_reason else ""} for r in d.refunds]
        self.events = [{"kind": e.kind, "channel": e.channel, "amount": e.amount,
                        "verified": "1" if e.verified else "", "outcome": e.outcome, "date": _time(e.created_at)}
                       for e in d.events]
        self.history = [{"what": what, "date": _time(when)} for what, when in d.history]
        self.can_refund = d.can_refund

    def _reload(self, order_no: str) -> None:
        self._show(_in_session(ops_service.order_detail, actor_id=self._actor_id(), order_no=order_no))

    @rx.event
    @staff_required
    def load_order_detail(self):
        self._clear_messages()
        self._clear_data()
        order_no = self._order_no()
        if order_no is None:
            self._admit()
            return self._fail("page", "order.not_found")
        try:
            self._reload(order_no)
        except DomainError as exc:
            self._admit()
            return self._service_error("page", exc)
        self._admit()

    @rx.event
    @staff_required
    async def refund_order(self, form_data: dict):
        order_no = self._order_no()
        if order_no is None or not isinstance(form_data, dict) or len(form_data) > MAX_FORM_KEYS:
            return self._fail("refund", "error.bad_request")
        reason = _short_field(form_data, "reason")
        if reason is None:
            return self._fail("refund", "error.bad_request")
        line_ids = []
        for key, value in form_data.items():
            if isinstance(key, str) and key.startswith("line_") and form_checked(value):
                lid = valid_id(key[5:])
                if lid is None:
                    return self._fail("refund", "error.bad_request")
                line_ids.append(lid)
        if not line_ids:
            return self._fail("refund", "ops.refund.pick_lines")
        actor_id = self._actor_id()
        try:
            # creates the refund, then calls the payment channel (blocking): off the event loop
            await asyncio.to_thread(_in_session, ops_service.staff_refund, actor_id=actor_id, order_no=order_no,
                                    line_ids=line_ids, reason=reason)
        except DomainError as exc:
            return self._service_error("refund", exc)
        finally:
            try:
                self._reload(order_no)
            except DomainError:
                pass
        self._ok("refund", "ops.refund.done")


# ---------------------------------------------------------------------------------- learners

class AdminLearnersState(AdminBaseState):
    """/admin/learners: search by e-mail, phone, nickname or watermark code; CSV export."""

    learners: list[dict[str, str]] = []
    q: str = ""
    page: int = 1
    pages: int = 1
    count: int = 0
    csv_url: str = "/api/admin/export/learners.csv"

    def _clear_data(self) -> None:
        self.learners = []
        self.count = 0

    def _load(self, q: str, page: int) -> None:
        result = _in_session(ops_service.search_learners, actor_id=self._actor_id(), q=q, page=page)
        self._admit()
        self.q, self.page, self.pages, self.count = q, result.page, result.pages, result.count
        self.csv_url = export_url("learners", {"q": q})
        self.learners = [{"id": str(r.id), "href": urls.admin_learner_url(r.id), "nickname": r.nickname,
                          "email": r.email, "phone": r.phone, "role": r.role, "active": "1" if r.active else "",
                          "orders": str(r.orders), "paid": format_fen(r.paid_fen),
                          "date": _time(r.created_at)} for r in result.rows]

    @rx.event
    @staff_required
    def load_learners(self):
        self._clear_messages()
        try:
            self._load(self.q, 1)
        except DomainError as exc:
            self._service_error("list", exc)

    @rx.event
    @staff_required
    def search_learners(self, form_data: dict):
        self._clear_messages()
        q = _short_field(form_data, "q")
        if q is None:
            return self._fail("list", "error.bad_request")
        try:
            self._load(q, 1)
        except DomainError as exc:
            self._service_error("list", exc)

    @rx.event
    @staff_required
    def goto_learners_page(self, page: int):
        self._clear_messages()
        number = valid_id(page)
        if number is None or number > ops_service.MAX_PAGE:
            return self._fail("list", "error.bad_request")
        try:
            self._load(self.q, number)
        except DomainError as exc:
            self._service_error("list", exc)


class AdminLearnerState(AdminBaseState):
    """/admin/learners/[learner_id]: profile, orders, entitlements with progress; grant / revoke."""

    profile: dict[str, str] = {}
    learner_orders: list[dict[str, str]] = []
    grants: list[dict[str, str]] = []
    course_options: list[dict[str, str]] = []
    form_key: int = 0

    def _clear_data(self) -> None:
        self.profile, self.learner_orders, self.grants, self.course_options = {}, [], [], []

    def _show(self, p: ops_service.LearnerProfile, courses: list[ops_service.CourseOption]) -> None:
        self.profile = {"id": str(p.id), "nickname": p.nickname, "email": p.email, "phone": p.phone,
                        "role": p.role, "active": "1" if p.active else "", "frozen_reason": p.frozen_reason,
                        "date": _time(p.created_at), "devices": str(p.devices), "last_seen": _time(p.last_seen_at)}
        self.learner_orders = [{"order_no": o.order_no, "href": urls.admin_order_url(o.order_no), "total": o.total,
                                "status": o.status, "date": _time(o.created_at)} for o in p.orders]
        self.grants = [{"id": str(e.id), "course": e.course, "course_href": urls.course_url(e.course_id),
                        "source": e.source, "ref": e.source_ref, "granted": _time(e.granted_at),
                        "revoked": _time(e.revoked_at), "revoke_reason": e.revoke_reason,
                        "active": "1" if e.active else "", "progress": f"{e.progress_pct}%"}
                       for e in p.entitlements]
        self.course_options = [{"id": str(c.id), "title": c.title} for c in courses]
        self.form_key += 1

    def _reload(self, user_id: int) -> None:
        with session_scope() as s:
            actor = self._actor_id()
            profile = ops_service.learner_profile(s, actor_id=actor, user_id=user_id)
            courses = ops_service.grantable_courses(s, actor_id=actor)
        self._show(profile, courses)

    @rx.event
    @staff_required
    def load_learner(self):
        self._clear_messages()
        self._clear_data()
        user_id = self._route_id("learner_id")
        self._admit()
        if user_id is None:
            return self._fail("page", "ops.learner_not_found")
        try:
            self._reload(user_id)
        except DomainError as exc:
            self._service_error("page", exc)

    def _act(self, section: str, fn, ok_key: str, **kwargs) -> None:
        user_id = self._route_id("learner_id")
        if user_id is None:
            return self._fail(section, "ops.learner_not_found")
        try:
            _in_session(fn, actor_id=self._actor_id(), **kwargs)
        except DomainError as exc:
            return self._service_error(section, exc)
        self._reload(user_id)
        self._ok(section, ok_key)

    @rx.event
    @staff_required
    def grant_access(self, form_data: dict):
        course_id = valid_id(form_field(form_data, "course_id"))
        if course_id is None:
            return self._fail("grant", "ops.grant.pick_course")
        reason = _short_field(form_data, "reason")
        if reason is None:
            return self._fail("grant", "error.bad_request")
        user_id = self._route_id("learner_id")
        if user_id is None:
            return self._fail("grant", "ops.learner_not_found")
        self._act("grant", ops_service.grant_access, "ops.grant.done", user_id=user_id, course_id=course_id,
                  reason=reason)

    @rx.event
    @staff_required
    def revoke_access(self, form_data: dict):
        grant_id = valid_id(form_field(form_data, "entitlement_id"))
        if grant_id is None:
            return self._fail("grants", "error.bad_request")
        reason = _short_field(form_data, "reason")
        if reason is None:
            return self._fail("grants", "error.bad_request")
        if not any(g["id"] == str(grant_id) for g in self.grants):
            return self._fail("grants", "ops.entitlement_not_found")  # only rows of the learner on this page
        self._act("grants", ops_service.revoke_access, "ops.revoke.done", entitlement_id=grant_id, reason=reason)


# ---------------------------------------------------------------------------------- instructors

class AdminInstructorsState(AdminBaseState):
    """/admin/instructors: pending applications (approve / reject with a reason, owner), the
    instructors with their revenue share (owner edits) and profiles (owner edits any)."""

    applications: list[dict[str, str]] = []
    instructors: list[dict[str, str]] = []
    form_key: int = 0

    def _clear_data(self) -> None:
        self.applications, self.instructors = [], []

    def _reload(self) -> None:
        with session_scope() as s:
            actor = self._actor_id()
            apps = instructor_service.list_applications(s, actor_id=actor)
            people = instructor_service.list_instructors(s, actor_id=actor)
        self.applications = [{"id": str(a.id), "applicant": a.applicant, "contact": a.contact, "name": a.name,
                              "title": a.title, "bio": a.bio, "date": _time(a.created_at)} for a in apps]
        self.instructors = [{"id": str(i.id), "name": i.name, "title": i.title, "bio": i.bio, "status": i.status,
                             "account": i.account, "share": i.share_text, "share_value": i.share_text.rstrip("%"),
                             "courses": str(i.courses)} for i in people]
        self.form_key += 1

    @rx.event
    @staff_required
    def load_instructors(self):
        self._clear_messages()
        try:
            self._reload()
        except DomainError as exc:
            return self._service_error("page", exc)
        self._admit()

    def _run(self, section: str, ok_key: str, fn, **kwargs) -> None:
        try:
            _in_session(fn, actor_id=self._actor_id(), **kwargs)
        except DomainError as exc:
            if exc.code in ("teach.already_decided", "teach.not_found"):
                self._reload()
            return self._service_error(section, exc, owner_only=True)
        self._reload()
        self._ok(section, ok_key)

    @rx.event
    @staff_required
    def approve_application(self, application_id: int):
        app_id = valid_id(application_id)
        if app_id is None:
            return self._fail("applications", "admin.bad_id")
        self._run("applications", "teach.approved", instructor_service.approve_application, application_id=app_id)

    @rx.event
    @staff_required
    def reject_application(self, form_data: dict):
        app_id = valid_id(form_field(form_data, "application_id"))
        if app_id is None:
            return self._fail("applications", "admin.bad_id")
        reason = _short_field(form_data, "reason")
        if reason is None:
            return self._fail("applications", "error.bad_request")
        self._run("applications", "teach.rejected", instructor_service.reject_application, application_id=app_id,
                  reason=reason)

    @rx.event
    @staff_required
    def save_share(self, form_data: dict):
        ins_id = valid_id(form_field(form_data, "instructor_id"))
        if ins_id is None:
            return self._fail("instructors", "admin.bad_id")
        percent = _short_field(form_data, "percent")
        if percent is None:
            return self._fail("instructors", "instructor.share_invalid")
        self._run("instructors", "instructor.share_saved", instructor_service.set_revenue_share,
                  instructor_id=ins_id, percent=percent)

    @rx.event
    @staff_required
    def save_instructor_profile(self, form_data: dict):
        ins_id = valid_id(form_field(form_data, "instructor_id"))
        fields = [_text_field(form_data, n) for n in ("name", "title", "bio")]
        if ins_id is None or any(f is None for f in fields):
            return self._fail("instructors", "error.bad_request")
        if self._staff_role != "owner":
            return self._fail("instructors", "admin.owner_only")
        name, title, bio = fields
        self._run("instructors", "instructor.profile_saved", instructor_service.update_profile,
                  instructor_id=ins_id, name=name, title=title, bio=bio)


class InstructorProfileState(DashboardBaseState):
    """The signed-in instructor's own profile (name, title, bio) on /admin/instructors."""

    my_profile: dict[str, str] = {}
    has_profile: bool = False
    form_key: int = 0

    def _clear_data(self) -> None:
        self.my_profile, self.has_profile = {}, False

    def _show(self, v: instructor_service.InstructorView) -> None:
        self.my_profile = {"id": str(v.id), "name": v.name, "title": v.title, "bio": v.bio, "share": v.share_text}
        self.has_profile = True
        self.form_key += 1

    @rx.event
    @dashboard_required
    def load_my_profile(self):
        self._clear_messages()
        self._admit()
        if not self._instructor_id:
            self.my_profile, self.has_profile = {}, False  # owner/staff without a teaching profile
            return
        try:
            self._show(_in_session(instructor_service.get_profile, actor_id=self._actor_id()))
        except DomainError as exc:
            self._service_error("profile", exc)

    @rx.event
    @dashboard_required
    def save_my_profile(self, form_data: dict):
        fields = [_text_field(form_data, n) for n in ("name", "title", "bio")]
        if any(f is None for f in fields):
            return self._fail("profile", "error.bad_request")
        if not self._instructor_id:
            return self._fail("profile", "instructor.no_profile")
        name, title, bio = fields
        try:
            view = _in_session(instructor_service.update_profile, actor_id=self._actor_id(),
                               instructor_id=self._instructor_id, name=name, title=title, bio=bio)
        except DomainError as exc:
            return self._service_error("profile", exc)
        self._show(view)
        self._ok("profile", "instructor.profile_saved")


# ---------------------------------------------------------------------------------- moderation

class ModerationState(DashboardBaseState):
    """/admin/moderation: comments and reviews of the courses the viewer manages (instructors:
    their own); hide / unhide / delete; the blocked-word list (owner/staff)."""

    comments: list[dict[str, str]] = []
    reviews: list[dict[str, str]] = []
    status_filter: str = "all"
    blocked_words: str = ""
    form_key: int = 0

    def _clear_data(self) -> None:
        self.comments, self.reviews, self.blocked_words = [], [], ""

    def _reload(self) -> None:
        self._admit()  # the guard has just set the role: refresh the flags the page uses
        with session_scope() as s:
            actor = self._actor_id()
            comments = community_service.moderation_comments(s, actor_id=actor, status=self.status_filter)
            reviews = community_service.moderation_reviews(s, actor_id=actor, status=self.status_filter)
            words = community_service.get_blocked_words(s, actor_id=actor) if self.is_staff else []
        self.comments = [{"id": str(c.id), "course": c.course, "lesson": c.lesson,
                          "lesson_href": urls.lesson_url(c.lesson_id), "author": c.author, "body": c.body,
                          "status": c.status, "reply": "1" if c.is_reply else "", "date": _time(c.created_at)}
                         for c in comments]
        self.reviews = [{"id": str(r.id), "course": r.course, "course_href": urls.course_url(r.course_id),
                         "author": r.author, "stars": "★" * r.rating, "content": r.content,
                         "owner_reply": r.owner_reply, "status": r.status, "date": _time(r.created_at)}
                        for r in reviews]
        self.blocked_words = "\n".join(words)
        self.form_key += 1

    @rx.event
    @dashboard_required
    def load_moderation(self):
        self._clear_messages()
        self._admit()
        if self.status_filter not in community_service.MODERATION_STATUSES:
            self.status_filter = "all"
        try:
            self._reload()
        except DomainError as exc:
            self._service_error("page", exc)

    @rx.event
    @dashboard_required
    def filter_moderation(self, status: str):
        self._clear_messages()
        if not isinstance(status, str) or status not in community_service.MODERATION_STATUSES:
            return self._fail("page", "error.bad_request")
        self.status_filter = status
        try:
            self._reload()
        except DomainError as exc:
            self._service_error("page", exc)

    def _moderate(self, fn, ok_key: str, **kwargs) -> None:
        try:
            _in_session(fn, actor_id=self._actor_id(), **kwargs)
        except DomainError as exc:
            return self._service_error("page", exc)
        self._reload()
        self._ok("page", ok_key)

    def _comment(self, comment_id: object, action: str) -> None:
        cid = valid_id(comment_id)
        if cid is None:
            return self._fail("page", "admin.bad_id")
        self._moderate(community_service.moderate_comment, f"moderation.comment_{action}", comment_id=cid,
                       action=action)

    @rx.event
    @dashboard_required
    def hide_comment(self, comment_id: int):
        self._comment(comment_id, "hide")

    @rx.event
    @dashboard_required
    def unhide_comment(self, comment_id: int):
        self._comment(comment_id, "unhide")

    @rx.event
    @dashboard_required
    def delete_comment(self, comment_id: int):
        self._comment(comment_id, "delete")

    def _review(self, review_id: object, hidden: bool) -> None:
        rid = valid_id(review_id)
        if rid is None:
            return self._fail("page", "admin.bad_id")
        self._moderate(community_service.moderate_review, "moderation.review_hidden" if hidden
                       else "moderation.review_shown", review_id=rid, hidden=hidden)

    @rx.event
    @dashboard_required
    def hide_review(self, review_id: int):
        self._review(review_id, True)

    @rx.event
    @dashboard_required
    def unhide_review(self, review_id: int):
        self._review(review_id, False)

    @rx.event
    @staff_required
    def save_blocked_words(self, form_data: dict):
        text = _text_field(form_data, "words")
        if text is None:
            return self._fail("words", "error.bad_request")
        try:
            _in_session(community_service.set_blocked_words, actor_id=self._actor_id(), text=text)
        except DomainError as exc:
            return self._service_error("words", exc)
        self._reload()
        self._ok("words", "moderation.words_saved")


# ---------------------------------------------------------------------------------- apply to teach

class TeachApplyState(AppState):
    """/teach: a signed-in learner applies to teach (one pending application at a time)."""

    error: str = ""
    success: str = ""
    teach_loaded: bool = False
    is_instructor: bool = False
    app_status: str = ""  # '' (none) | pending | approved | rejected
    app_reason: str = ""
    app_date: str = ""

    def _fail(self, code: str, **params: object) -> None:
        self.error, self.success = self._t(code, **params), ""

    def _show(self, status: instructor_service.MyTeachStatus) -> None:
        self.is_instructor = status.is_instructor
        app = status.application
        self.app_status = app.status if app else ""
        self.app_reason = app.decision_reason if app else ""
        self.app_date = _time(app.created_at) if app else ""
        self.teach_loaded = True

    @rx.event
    def load_teach(self):
        self.error = self.success = ""
        actor = self._actor_id()
        if actor is None:
            self.teach_loaded, self.is_instructor, self.app_status = True, False, ""
            return
        try:
            self._show(_in_session(instructor_service.my_teach_status, actor_id=actor))
        except DomainError as exc:
            self._fail(exc.code, **exc.params)

    @rx.event
    def submit_application(self, form_data: dict):
        actor = self._actor_id()
        if actor is None:
            return self._fail("error.sign_in_required")
        fields = [_text_field(form_data, n) for n in ("name", "title", "bio")]
        if any(f is None for f in fields):
            return self._fail("error.bad_request")
        name, title, bio = fields
        try:
            with session_scope() as s:
                instructor_service.apply_to_teach(s, actor_id=actor, name=name, title=title, bio=bio)
                status = instructor_service.my_teach_status(s, actor_id=actor)
        except DomainError as exc:
            return self._fail(exc.code, **exc.params)
        self._show(status)
        self.error, self.success = "", self._t("teach.submitted")

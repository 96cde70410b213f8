"""Course CMS states: /admin/courses, /admin/courses/[course_id],
/admin/lessons/[lesson_id].

Every handler is a remote endpoint callable by anyone with any payload, so each one carries
`@dashboard_required` below `@rx.event` (owner/staff with TOTP, or an approved instructor), checks
the shape of its arguments here, and calls services/authoring.py, which checks the role and the object
again (another instructor's ids are "not found") and validates every field with a clear message.
The course / lesson being edited is remembered in a backend var by its page load (after the
service admitted it), never taken from a handler argument. Rows are small dicts of strings.
"""

from __future__ import annotations

import asyncio

import reflex as rx
from starlette.datastructures import UploadFile as StarletteUploadFile

from coursemall import urls
from coursemall.domain.errors import DomainError
from coursemall.domain.time import china_time_text
from coursemall.domain.validation import valid_id
from coursemall.services.catalog import authoring
from coursemall.state.dashboard.base import (
    DashboardBaseState,
    _in_session,
    form_checked,
    form_field,
)
from coursemall.state.guards import dashboard_required

DIRECTIONS = ("up", "down")


def _form(form_data: object) -> dict | None:
    return form_data if isinstance(form_data, dict) else None


def _checkbox(form: dict, name: str) -> bool | None:
    return form_checked(form.get(name, ""))


def _editor_and_options(session, *, actor_id: int | None, course_id: int):
    return (authoring.get_course_editor(session, actor_id=actor_id, course_id=course_id),
            authoring.form_options(session, actor_id=actor_id))


class CmsPageState(DashboardBaseState):
    """Shared by the CMS states (no handlers of its own)."""

    def _load_failed(self, exc: DomainError) -> None:
        """A page load refused by the service: forbidden stays forbidden; a missing or foreign
        course/lesson shows its message inside the dashboard frame (the guard admitted the actor)."""
        if exc.code in ("error.forbidden", "error.sign_in_required"):
            return self._service_error("page", exc)
        self._admit()
        self._fail("page", exc.code, **exc.params)


class CmsCoursesState(CmsPageState):
    """/admin/courses: the actor's courses (all for owner/staff), by status and title; new course."""

    rows: list[dict[str, str]] = []
    status_filter: str = ""
    query: str = ""

    def _clear_data(self) -> None:
        self.rows = []

    def _load(self, status: str, query: str) -> None:
        try:
            rows = _in_session(authoring.list_courses, actor_id=self._actor_id(), status=status, query=query)
        except DomainError as exc:
            return self._service_error("list", exc)
        self._admit()
        self.status_filter, self.query = status, query
        self.rows = [{"id": str(r.id), "title": r.title, "status": r.status, "cover": r.cover_url,
                      "price": r.price_text, "lessons": str(r.lesson_count), "learners": str(r.learners_count),
                      "instructor": r.instructor_name, "href": urls.admin_course_url(r.id)} for r in rows]

    @rx.event
    @dashboard_required
    def load_courses(self):
        self._clear_messages()
        self._load("", "")  # a fresh visit shows everything

    @rx.event
    @dashboard_required
    def filter_courses(self, status: str):
        self._clear_messages()
        if not isinstance(status, str) or (status and status not in authoring.STATUSES):
            return self._fail("list", "error.bad_request")
        self._load(status, self.query)

    @rx.event
    @dashboard_required
    def search_courses(self, form_data: dict):
        self._clear_messages()
        form = _form(form_data)
        query = form.get("q", "") if form is not None else None
        if not isinstance(query, str):
            return self._fail("list", "error.bad_request")
        if len(query) > authoring.QUERY_MAX * 4:
            return self._fail("list", "cms.query_too_long", max=authoring.QUERY_MAX)
        self._load(self.status_filter, " ".join(query.split()))

    @rx.event
    @dashboard_required
    def create_course(self, form_data: dict):
        self._clear_messages()
        form = _form(form_data)
        if form is None:
            return self._fail("create", "cms.bad_form")
        try:
            course_id = _in_session(authoring.create_course, actor_id=self._actor_id(),
                                    data=authoring.CourseInput(title=form.get("title", ""), price="0"))
        except DomainError as exc:
            return self._service_error("create", exc)
        self._ok("create", "cms.created")
        return rx.redirect(urls.admin_course_url(course_id))


class CmsCourseState(CmsPageState):
    """/admin/courses/[course_id]: the course form, cover, status, chapters and lessons."""

    editing_id: str = ""  # the course on the page ("" until loaded); not `course_id`, a route arg name
    slug: str = ""
    title: str = ""
    subtitle: str = ""
    intro: str = ""
    audience: str = ""
    price: str = ""
    original_price: str = ""
    category_id: str = ""
    tags: str = ""
    instructor_id: str = ""
    instructor_name: str = ""
    member_only: bool = False
    no_seek: bool = False
    status: str = ""
    cover_url: str = ""
    lesson_count: str = "0"
    duration: str = ""
    blockers: list[str] = []
    categories: list[dict[str, str]] = []
    instructors: list[dict[str, str]] = []
    chapters: list[dict[str, str]] = []
    chapter_lessons: list[list[dict[str, str]]] = []
    form_key: int = 0  # bumped when the course form must remount with stored values

    _course_id: int = 0  # set by load_course once the service admitted the actor to the course

    @rx.var
    def preview_href(self) -> str:
        return urls.course_url(int(self.editing_id)) if self.editing_id.isdigit() else ""

    def _clear_data(self) -> None:
        self._course_id = 0
        self.editing_id = self.title = self.subtitle = self.intro = self.audience = ""
        self.price = self.original_price = self.tags = self.cover_url = self.status = self.slug = ""
        self.blockers, self.categories, self.instructors = [], [], []
        self.chapters, self.chapter_lessons = [], []

    # ---- DTO -> vars ------------------------------------------------------------------------
    def _lesson_vars(self, row: authoring.LessonRowDTO, index: int, total: int) -> dict[str, str]:
        if row.release_at is not None:
            drip = self._t("cms.lesson.drip_date", date=china_time_text(row.release_at))
        elif row.release_after_days:
            drip = self._t("cms.lesson.drip_days", n=row.release_after_days)
        else:
            drip = ""
        return {"id": str(row.id), "title": row.title, "kind": row.kind, "duration": row.duration_text,
                "free": "1" if row.is_free_trial else "", "free_seconds": str(row.free_seconds or ""),
                "media": row.media_status, "drip": drip, "first": "1" if index == 0 else "",
                "last": "1" if index == total - 1 else "", "edit_href": urls.admin_lesson_url(row.id),
                "media_href": urls.admin_lesson_media_url(row.id), "preview_href": urls.lesson_url(row.id)}

    def _show(self, view: authoring.CourseEditorDTO, *, reset_form: bool) -> None:
        self._course_id = view.id
        self.editing_id = str(view.id)
        self.status = view.status
        self.cover_url = view.cover_url
        self.lesson_count = str(view.lesson_count)
        self.duration = view.total_duration_text
        self.instructor_name = view.instructor_name
        self.blockers = [self._t(b.code, lesson=b.lesson) for b in view.blockers]
        count = len(view.chapters)
        self.chapters = [{"id": str(c.id), "title": c.title, "first": "1" if i == 0 else "",
                          "last": "1" if i == count - 1 else "", "count": str(len(c.lessons))}
                         for i, c in enumerate(view.chapters)]
        self.chapter_lessons = [[self._lesson_vars(x, i, len(c.lessons)) for i, x in enumerate(c.lessons)]
                                for c in view.chapters]
        if reset_form:
            self.slug, self.title, self.subtitle = view.slug, view.title, view.subtitle
            self.intro, self.audience = view.intro_html, view.audience
            self.price, self.original_price = view.price_yuan, view.original_price_yuan
            self.category_id = str(view.category_id or "")
            self.instructor_id = str(view.instructor_id or "")
            self.tags = view.tags_text
            self.member_only, self.no_seek = view.member_only, view.no_seek_first_watch
            self.form_key += 1

    def _reload(self, section: str, *, reset_form: bool = False) -> bool:
        try:
            view = _in_session(authoring.get_course_editor, actor_id=self._actor_id(), course_id=self._course_id)
        except DomainError as exc:
            self._service_error(section, exc)
            return False
        self._show(view, reset_form=reset_form)
        return True

    def _run(self, section: str, fn, success: str, **kwargs) -> None:
        """One service call on the loaded course, then the editor is re-read (outline, blockers)."""
        try:
            result = _in_session(fn, actor_id=self._actor_id(), **kwargs)
        except DomainError as exc:
            return self._service_error(section, exc)
        if self._reload(section):
            self._ok(section, "cms.not_moved" if result is False else success)

    # ---- handlers ---------------------------------------------------------------------------
    @rx.event
    @dashboard_required
    def load_course(self):
        self._clear_messages()
        course_id = self._route_id("course_id")
        self._clear_data()
        if course_id is None:
            return self._load_failed(DomainError("error.not_found"))
        try:
            view, options = _in_session(_editor_and_options, actor_id=self._actor_id(), course_id=course_id)
        except DomainError as exc:
            return self._load_failed(exc)
        self._admit()
        self.categories = [{"id": str(o.id), "name": o.name} for o in options.categories]
        self.instructors = [{"id": str(o.id), "name": o.name} for o in options.instructors]
        self._show(view, reset_form=True)

    @rx.event
    @dashboard_required
    def save_course(self, form_data: dict):
        self._clear_messages()
        form = _form(form_data)
        if form is None:
            return self._fail("basics", "cms.bad_form")
        member_only, no_seek = _checkbox(form, "member_only"), _checkbox(form, "no_seek")
        if member_only is None or no_seek is None:
            return self._fail("basics", "cms.bad_form")
        data = authoring.CourseInput(
            title=form.get("title", ""), subtitle=form.get("subtitle", ""), intro=form.get("intro", ""),
            audience=form.get("audience", ""), price=form.get("price", ""),
            original_price=form.get("original_price", ""), category_id=form.get("category_id", ""),
            tags=form.get("tags", ""), instructor_id=form.get("instructor_id", ""), member_only=member_only,
            no_seek_first_watch=no_seek)
        try:
            _in_session(authoring.update_course, actor_id=self._actor_id(), course_id=self._course_id, data=data)
        except DomainError as exc:
            return self._service_error("basics", exc)
        if self._reload("basics", reset_form=True):
            self._ok("basics", "cms.saved")

    @rx.event
    @dashboard_required
    async def upload_cover(self, files: list[rx.UploadFile]):
        self._clear_messages()
        if not isinstance(files, list) or len(files) != 1 or not isinstance(files[0], StarletteUploadFile):
            return self._fail("cover", "cms.no_file")
        stream, actor_id, course_id = files[0].file, self._actor_id(), self._course_id

        def work() -> str:
            data = stream.read(authoring.COVER_MAX_BYTES + 1)
            return _in_session(authoring.set_cover, actor_id=actor_id, course_id=course_id,
                               data=bytes(data) if isinstance(data, bytes | bytearray) else None)

        try:
            url = await asyncio.to_thread(work)  # image decoding is CPU work: off the event loop
        except DomainError as exc:
            return self._service_error("cover", exc)
        self.cover_url = url
        if self._reload("cover"):
            self._ok("cover", "cms.cover_saved")

    @rx.event
    @dashboard_required
    def publish_course(self):
        self._clear_messages()
        self._run("status", authoring.publish_course, "cms.published", course_id=self._course_id)

    @rx.event
    @dashboard_required
    def unpublish_course(self):
        self._clear_messages()
        self._run("status", authoring.unpublish_course, "cms.unpublished_ok", course_id=self._course_id)

    @rx.event
    @dashboard_required
    def archive_course(self):
        self._clear_messages()
        self._run("status", authoring.archive_course, "cms.archived_ok", course_id=self._course_id)

    @rx.event
    @dashboard_required
    def add_chapter(self, form_data: dict):
        self._clear_messages()
        form = _form(form_data)
        if form is None:
            return self._fail("outline", "cms.bad_form")
        self._run("outline", authoring.add_chapter, "cms.chapter.added", course_id=self._course_id,
                  title=form.get("title", ""))

    @rx.event
    @dashboard_required
    def rename_chapter(self, form_data: dict):
        self._clear_messages()
        chapter_id = valid_id(form_field(form_data, "chapter_id"))
        if chapter_id is None:
            return self._fail("outline", "admin.bad_id")
        self._run("outline", authoring.rename_chapter, "cms.chapter.renamed", chapter_id=chapter_id,
                  title=form_field(form_data, "title"))

    @rx.event
    @dashboard_required
    def delete_chapter(self, chapter_id: str):
        self._clear_messages()
        cid = valid_id(chapter_id)
        if cid is None:
            return self._fail("outline", "admin.bad_id")
        self._run("outline", authoring.delete_chapter, "cms.chapter.deleted", chapter_id=cid)

    @rx.event
    @dashboard_required
    def move_chapter(self, chapter_id: str, direction: str):
        self._clear_messages()
        cid = valid_id(chapter_id)
        if cid is None or direction not in DIRECTIONS:
            return self._fail("outline", "admin.bad_id" if cid is None else "error.bad_request")
        self._run("outline", authoring.move_chapter, "cms.moved", chapter_id=cid, direction=direction)

    @rx.event
    @dashboard_required
    def add_lesson(self, form_data: dict):
        self._clear_messages()
        chapter_id = valid_id(form_field(form_data, "chapter_id"))
        if chapter_id is None:
            return self._fail("outline", "admin.bad_id")
        kind = form_field(form_data, "kind")
        if kind not in authoring.NEW_LESSON_KINDS:
            return self._fail("outline", "cms.kind_invalid")
        self._run("outline", authoring.add_lesson, "cms.lesson.added", chapter_id=chapter_id, kind=kind,
                  title=form_field(form_data, "title"))

    @rx.event
    @dashboard_required
    def move_lesson(self, lesson_id: str, direction: str):
        self._clear_messages()
        lid = valid_id(lesson_id)
        if lid is None or direction not in DIRECTIONS:
            return self._fail("outline", "admin.bad_id" if lid is None else "error.bad_request")
        self._run("outline", authoring.move_lesson, "cms.moved", lesson_id=lid, direction=direction)

    @rx.event
    @dashboard_required
    def delete_lesson(self, lesson_id: str):
        self._clear_messages()
        lid = valid_id(lesson_id)
        if lid is None:
            return self._fail("outline", "admin.bad_id")
        self._run("outline", authoring.delete_lesson, "cms.lesson.deleted", lesson_id=lid)


class CmsLessonState(CmsPageState):
    """/admin/lessons/[lesson_id]: title, free trial, article body, drip release, chapter, media."""

    editing_id: str = ""  # the lesson on the page (not `lesson_id`, a route arg name)
    parent_id: str = ""  # its course
    course_title: str = ""
    chapter_id: str = ""
    title: str = ""
    kind: str = ""
    is_free_trial: bool = False
    free_seconds: str = "0"
    article: str = ""
    reading_minutes: str = ""
    drip: str = "none"
    release_at: str = ""
    release_days: str = ""
    media_status: str = ""
    media_error: str = ""
    duration: str = ""
    chapters: list[dict[str, str]] = []
    form_key: int = 0

    _lesson_id: int = 0  # set by load_lesson once the service admitted the actor

    def _clear_data(self) -> None:
        self._lesson_id = 0
        self.editing_id = self.parent_id = self.course_title = self.chapter_id = self.title = ""
        self.article = self.release_at = self.media_error = ""
        self.chapters = []

    @rx.var
    def course_href(self) -> str:
        return urls.admin_course_url(int(self.parent_id)) if self.parent_id.isdigit() else urls.ADMIN_COURSES

    @rx.var
    def media_href(self) -> str:
        return urls.admin_lesson_media_url(int(self.editing_id)) if self.editing_id.isdigit() else ""

    @rx.var
    def preview_href(self) -> str:
        return urls.lesson_url(int(self.editing_id)) if self.editing_id.isdigit() else ""

    def _show(self, view: authoring.LessonEditorDTO) -> None:
        self._lesson_id = view.id
        self.editing_id, self.parent_id = str(view.id), str(view.course_id)
        self.course_title, self.chapter_id = view.course_title, str(view.chapter_id)
        self.title, self.kind = view.title, view.kind
        self.is_free_trial, self.free_seconds = view.is_free_trial, str(view.free_seconds)
        self.article = view.article_html
        self.reading_minutes = str(view.reading_minutes or "")
        self.drip, self.release_at = view.drip, view.release_at_input
        self.release_days = str(view.release_after_days or "")
        self.media_status, self.media_error = view.media_status, view.media_error
        self.duration = view.duration_text
        self.chapters = [{"id": str(c.id), "title": c.name} for c in view.chapters]
        self.form_key += 1

    def _reload(self, section: str) -> bool:
        try:
            view = _in_session(authoring.get_lesson_editor, actor_id=self._actor_id(), lesson_id=self._lesson_id)
        except DomainError as exc:
            self._service_error(section, exc)
            return False
        self._show(view)
        return True

    @rx.event
    @dashboard_required
    def load_lesson(self):
        self._clear_messages()
        lesson_id = self._route_id("lesson_id")
        self._clear_data()
        if lesson_id is None:
            return self._load_failed(DomainError("error.not_found"))
        try:
            view = _in_session(authoring.get_lesson_editor, actor_id=self._actor_id(), lesson_id=lesson_id)
        except DomainError as exc:
            return self._load_failed(exc)
        self._admit()
        self._show(view)

    @rx.event
    @dashboard_required
    def save_lesson(self, form_data: dict):
        self._clear_messages()
        form = _form(form_data)
        if form is None:
            return self._fail("lesson", "cms.bad_form")
        free_trial = _checkbox(form, "is_free_trial")
        if free_trial is None:
            return self._fail("lesson", "cms.bad_form")
        data = authoring.LessonInput(
            title=form.get("title", ""), is_free_trial=free_trial, free_seconds=form.get("free_seconds", "0") or "0",
            article=form.get("article", ""), reading_minutes=form.get("reading_minutes", ""),
            drip=form.get("drip", "none"), release_at=form.get("release_at", ""),
            release_after_days=form.get("release_days", ""))
        try:
            _in_session(authoring.update_lesson, actor_id=self._actor_id(), lesson_id=self._lesson_id, data=data)
        except DomainError as exc:
            return self._service_error("lesson", exc)
        if self._reload("lesson"):
            self._ok("lesson", "cms.lesson.saved")

    @rx.event
    @dashboard_required
    def move_to_chapter(self, form_data: dict):
        self._clear_messages()
        chapter_id = valid_id(form_field(form_data, "chapter_id"))
        if chapter_id is None:
            return self._fail("move", "admin.bad_id")
        try:
            _in_session(authoring.move_lesson_to_chapter, actor_id=self._actor_id(), lesson_id=self._lesson_id,
                        chapter_id=chapter_id)
        except DomainError as exc:
            return self._service_error("move", exc)
        if self._reload("move"):
            self._ok("move", "cms.lesson.moved")

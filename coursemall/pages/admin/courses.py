"""Course CMS pages: /admin/courses, /admin/courses/[course_id],
/admin/lessons/[lesson_id]. Phone first: one column of cards that widens on a laptop.

The pages compile into the public bundle like every page: `allowed` only hides UI. The data is
protected by the guarded handlers (state/dashboard/content.py) and services/catalog/authoring.py (object checks).
"""

from __future__ import annotations

import reflex as rx

from coursemall.components.course_card import cover_image
from coursemall.components.dashboard import dashboard_messages
from coursemall.components.forms import submit_button
from coursemall.components.i18n import tr
from coursemall.components.page import dashboard, shop_page
from coursemall.pages import routes
from coursemall.services.catalog.authoring import NEW_LESSON_KINDS, STATUSES
from coursemall.state.dashboard.content import CmsCourseState, CmsCoursesState, CmsLessonState

COVER_UPLOAD = "cms-cover-upload"
_ACCEPT = {"image/jpeg": [".jpg", ".jpeg"], "image/png": [".png"], "image/webp": [".webp"]}
_SELECT_STYLE = {"padding": "0.45em", "border-radius": "6px", "border": "1px solid var(--gray-a7)",
                 "background": "var(--color-background)", "width": "100%", "min_height": "2.2em"}
_STATUS_COLORS = (("draft", "gray"), ("published", "green"), ("unpublished", "orange"), ("archived", "red"))
_MEDIA_COLORS = (("none", "gray"), ("processing", "blue"), ("ready", "green"), ("failed", "red"))


# ---------------------------------------------------------------------------------- small pieces

def _status_badge(status, **props) -> rx.Component:
    return rx.badge(rx.match(status, *[(s, tr(f"cms.status.{s}")) for s in STATUSES], status),
                    color_scheme=rx.match(status, *_STATUS_COLORS, "gray"), **props)


def _kind_label(kind) -> rx.Component:
    return rx.match(kind, *[(k, tr(f"kind.{k}")) for k in NEW_LESSON_KINDS], kind)


def _media_badge(status, **props) -> rx.Component:
    return rx.badge(rx.match(status, *[(m, tr(f"cms.media.{m}")) for m, _ in _MEDIA_COLORS], status),
                    color_scheme=rx.match(status, *_MEDIA_COLORS, "gray"), variant="soft", **props)


def _field(label_key: str, field_id: str, control: rx.Component) -> rx.Component:
    return rx.vstack(rx.el.label(tr(label_key), html_for=field_id, font_size="0.85em", color="var(--gray-11)"),
                     control, spacing="1", width="100%")


def _input(name: str, id_: str, value, **props) -> rx.Component:
    return rx.input(name=name, id=id_, default_value=value, size="3", width="100%", **props)


def _switch(name: str, id_: str, checked, label_key: str) -> rx.Component:
    return rx.hstack(rx.switch(name=name, id=id_, default_checked=checked),
                     rx.el.label(tr(label_key), html_for=id_, font_size="0.9em"), spacing="2", align="center")


def _icon_link(icon: str, label, href, id_: str, **props) -> rx.Component:
    return rx.link(rx.hstack(rx.icon(icon, size=14), label, spacing="1", align="center"), href=href, id=id_,
                   size="2", **props)


def _card(title_key: str, *children: rx.Component, **props) -> rx.Component:
    return rx.card(rx.vstack(rx.heading(tr(title_key), size="4"), *children, spacing="3", width="100%"),
                   width="100%", **props)


def _icon_button(icon: str, label_key: str, id_, on_click, disabled=False, color: str = "gray") -> rx.Component:
    return rx.icon_button(rx.icon(icon, size=16), on_click=on_click, id=id_, size="2", variant="soft",
                          color_scheme=color, disabled=disabled, aria_label=tr(label_key), title=tr(label_key))


# ---------------------------------------------------------------------------------- /admin/courses

def _course_row(row) -> rx.Component:
    return rx.link(
        rx.card(
            rx.hstack(
                rx.box(cover_image(row["cover"], row["title"], radius="8px"), width="6.5em", flex_shrink="0"),
                rx.vstack(
                    rx.text(row["title"], weight="bold", size="3", class_name="cms-row-title",
                            style={"overflow_wrap": "anywhere"}),
                    rx.hstack(_status_badge(row["status"]), rx.text(row["price"], size="2", weight="medium",
                                                                    color="var(--orange-11)"),
                              spacing="2", align="center", wrap="wrap"),
                    rx.text(tr("cms.lessons_label"), " ", row["lessons"], " · ", tr("cms.learners_label"), " ",
                            row["learners"], rx.cond(row["instructor"] != "", rx.text.span(" · ", row["instructor"])),
                            size="1", color="gray"),
                    spacing="1", min_width="0", flex="1",
                ),
                spacing="3", align="center", width="100%",
            ),
            width="100%",
        ),
        href=row["href"], underline="none", width="100%", id=f"cms-course-{row['id']}", class_name="cms-course-row",
    )


def _new_course_form() -> rx.Component:
    s = CmsCoursesState
    return rx.form(
        rx.flex(
            rx.input(name="title", id="cms-new-title", placeholder=tr("cms.list.new_title"), max_length=80,
                     size="3", flex="1", min_width="12em"),
            submit_button(rx.icon("plus", size=16), tr("cms.list.new"), id="cms-create", size="3"),
            spacing="2", width="100%", wrap="wrap",
        ),
        dashboard_messages(s, "create"),
        on_submit=s.create_course, reset_on_submit=False, width="100%",
    )


def _list_filters() -> rx.Component:
    s = CmsCoursesState
    return rx.flex(
        rx.el.select(
            rx.el.option(tr("cms.list.all_statuses"), value=""),
            *[rx.el.option(tr(f"cms.status.{st}"), value=st) for st in STATUSES],
            id="cms-status-filter", value=s.status_filter, on_change=s.filter_courses,
            aria_label=tr("cms.list.all_statuses"), style={**_SELECT_STYLE, "width": "auto"},
        ),
        rx.form(
            rx.flex(
                rx.input(name="q", id="cms-search-input", placeholder=tr("cms.list.search"), default_value=s.query,
                         max_length=50, size="2", flex="1", min_width="8em"),
                submit_button(rx.icon("search", size=14), tr("cms.list.search_button"),
                          id="cms-search", size="2", variant="soft"),
                spacing="2", width="100%",
            ),
            on_submit=s.search_courses, reset_on_submit=False, flex="1", min_width="14em",
        ),
        spacing="2", width="100%", wrap="wrap", align="center",
    )


@shop_page(routes.ADMIN_COURSES, "cms.list.title",
           on_load=[CmsCoursesState.load_courses],
           layout=dashboard(CmsCoursesState))
def admin_courses_page() -> rx.Component:
    s = CmsCoursesState
    return (
        dashboard_messages(s, "page"),
        _new_course_form(),
        _list_filters(),
        dashboard_messages(s, "list"),
        rx.cond(s.rows.length() == 0, rx.text(tr("cms.list.empty"), color="gray", size="2", id="cms-empty")),
        rx.grid(rx.foreach(s.rows, _course_row), columns=rx.breakpoints(initial="1", md="2"), spacing="3",
                width="100%", id="cms-course-list"),
    )


# ---------------------------------------------------------------------------------- /admin/courses/[id]

def _status_card() -> rx.Component:
    s = CmsCourseState
    return _card(
        "cms.section.status",
        rx.hstack(_status_badge(s.status, size="3", id="cms-status"), rx.spacer(),
                  _icon_link("eye", tr("cms.preview"), s.preview_href, "cms-preview", is_external=True),
                  width="100%", align="center"),
        rx.cond(
            s.blockers.length() > 0,
            rx.vstack(rx.text(tr("cms.blockers"), size="2", weight="medium"),
                      rx.el.ul(rx.foreach(s.blockers, lambda b: rx.el.li(b)), id="cms-blockers",
                               style={"padding_left": "1.2em", "font_size": "0.9em", "color": "var(--orange-11)"}),
                      spacing="1", width="100%"),
            rx.text(tr("cms.ready_to_publish"), size="2", color="green", id="cms-ready"),
        ),
        rx.flex(
            rx.cond(s.status != "published",
                    rx.button(rx.icon("rocket", size=14), tr("cms.publish"), id="cms-publish", size="3",
                              color_scheme="green", on_click=s.publish_course)),
            rx.cond(s.status == "published",
                    rx.button(tr("cms.unpublish"), id="cms-unpublish", size="3", variant="soft", color_scheme="orange",
                              on_click=s.unpublish_course)),
            rx.cond(s.status != "archived",
                    rx.button(tr("cms.archive"), id="cms-archive", size="3", variant="soft", color_scheme="red",
                              on_click=s.archive_course)),
            spacing="2", wrap="wrap",
        ),
        rx.text(tr("cms.status_hint"), size="1", color="gray"),
        dashboard_messages(s, "status"),
    )


def _cover_card() -> rx.Component:
    s = CmsCourseState
    return _card(
        "cms.section.cover",
        rx.upload(
            rx.vstack(
                rx.cond(s.cover_url != "",
                        rx.box(cover_image(s.cover_url, s.title), width="100%", max_width="28em", id="cms-cover-img"),
                        rx.text(tr("cms.no_cover"), color="gray", size="2")),
                rx.text(tr("cms.cover_hint"), size="1", color="gray", text_align="center"),
                align="center", spacing="2", width="100%",
            ),
            id=COVER_UPLOAD, max_files=1, multiple=False, accept=_ACCEPT,
            on_drop=s.upload_cover(rx.upload_files(upload_id=COVER_UPLOAD)),
            border="1px dashed var(--gray-a7)", border_radius="12px", padding="1em", cursor="pointer", width="100%",
        ),
        dashboard_messages(s, "cover"),
    )


def _course_form() -> rx.Component:
    s = CmsCourseState
    return _card(
        "cms.section.basics",
        rx.form(
            rx.vstack(
                _field("cms.field.title", "cms-title", _input("title", "cms-title", s.title, max_length=80)),
                _field("cms.field.subtitle", "cms-subtitle", _input("subtitle", "cms-subtitle", s.subtitle,
                                                                    max_length=160)),
                rx.grid(
                    _field("cms.field.price", "cms-price",
                           _input("price", "cms-price", s.price, input_mode="decimal", max_length=12)),
                    _field("cms.field.original_price", "cms-original-price",
                           _input("original_price", "cms-original-price", s.original_price, input_mode="decimal",
                                  max_length=12)),
                    columns="2", spacing="3", width="100%",
                ),
                rx.grid(
                    _field("cms.field.category", "cms-category", rx.el.select(
                        rx.el.option(tr("cms.field.no_category"), value=""),
                        rx.foreach(s.categories, lambda c: rx.el.option(c["name"], value=c["id"])),
                        name="category_id", id="cms-category", default_value=s.category_id, style=_SELECT_STYLE)),
                    rx.cond(
                        s.is_staff,
                        _field("cms.field.instructor", "cms-instructor", rx.el.select(
                            rx.el.option(tr("cms.field.no_instructor"), value=""),
                            rx.foreach(s.instructors, lambda c: rx.el.option(c["name"], value=c["id"])),
                            name="instructor_id", id="cms-instructor", default_value=s.instructor_id,
                            style=_SELECT_STYLE)),
                        _field("cms.field.instructor", "cms-instructor-name",
                               rx.text(s.instructor_name, id="cms-instructor-name", size="3")),
                    ),
                    columns=rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%",
                ),
                _field("cms.field.tags", "cms-tags", _input("tags", "cms-tags", s.tags, max_length=400)),
                _field("cms.field.intro", "cms-intro",
                       rx.text_area(name="intro", id="cms-intro", default_value=s.intro, rows="8", width="100%",
                                    max_length=20000)),
                _field("cms.field.audience", "cms-audience",
                       rx.text_area(name="audience", id="cms-audience", default_value=s.audience, rows="3",
                                    width="100%", max_length=2000)),
                rx.flex(_switch("member_only", "cms-member-only", s.member_only, "cms.field.member_only"),
                        _switch("no_seek", "cms-no-seek", s.no_seek, "cms.field.no_seek"), spacing="4", wrap="wrap"),
                dashboard_messages(s, "basics"),
                submit_button(tr("common.save"), id="cms-save", size="3", width="100%"),
                spacing="3", width="100%",
            ),
            key=s.form_key, on_submit=s.save_course, reset_on_submit=False, width="100%",
        ),
    )


def _lesson_row(row) -> rx.Component:
    s = CmsCourseState
    return rx.box(
        rx.flex(
            rx.vstack(
                rx.hstack(rx.badge(_kind_label(row["kind"]), variant="outline"),
                          rx.link(row["title"], href=row["edit_href"], weight="medium", size="2",
                                  id=f"cms-lesson-link-{row['id']}", style={"overflow_wrap": "anywhere"}),
                          spacing="2", align="center", wrap="wrap"),
                rx.flex(
                    rx.cond(row["duration"] != "00:00", rx.text(row["duration"], size="1", color="gray")),
                    rx.cond(row["media"] != "", _media_badge(row["media"], id=f"cms-media-{row['id']}")),
                    rx.cond(row["free"] == "1", rx.badge(tr("cms.lesson.free_trial"), color_scheme="green")),
                    rx.cond(row["free_seconds"] != "", rx.badge(tr("cms.lesson.free_seconds_badge"), ": ",
                                                                row["free_seconds"], color_scheme="green",
                                                                variant="soft")),
                    rx.cond(row["drip"] != "", rx.badge(row["drip"], color_scheme="blue", variant="soft")),
                    spacing="1", wrap="wrap", align="center",
                ),
                spacing="1", flex="1", min_width="0",
            ),
            rx.flex(
                _icon_button("arrow-up", "cms.move_up", f"cms-lesson-up-{row['id']}",
                             s.move_lesson(row["id"], "up"), disabled=row["first"] == "1"),
                _icon_button("arrow-down", "cms.move_down", f"cms-lesson-down-{row['id']}",
                             s.move_lesson(row["id"], "down"), disabled=row["last"] == "1"),
                rx.link(rx.icon_button(rx.icon("pencil", size=16), size="2", variant="soft",
                                       aria_label=tr("cms.lesson.edit")),
                        href=row["edit_href"], id=f"cms-lesson-edit-{row['id']}"),
                rx.cond(row["media"] != "",
                        rx.link(rx.icon_button(rx.icon("upload", size=16), size="2", variant="soft",
                                               aria_label=tr("cms.media.manage")),
                                href=row["media_href"], id=f"cms-lesson-media-{row['id']}", title=tr("cms.media.manage"))),
                rx.link(rx.icon_button(rx.icon("eye", size=16), size="2", variant="soft",
                                       aria_label=tr("cms.lesson.preview")),
                        href=row["preview_href"], is_external=True, id=f"cms-lesson-preview-{row['id']}"),
                _icon_button("trash-2", "cms.lesson.delete", f"cms-lesson-delete-{row['id']}",
                             s.delete_lesson(row["id"]), color="red"),
                spacing="1", wrap="wrap",
            ),
            spacing="2", wrap="wrap", width="100%", align="center",
        ),
        padding_y="0.5em", border_top="1px solid var(--gray-a4)", width="100%", id=f"cms-lesson-{row['id']}",
        class_name="cms-lesson-row",
    )


def _add_lesson_form(chapter) -> rx.Component:
    s = CmsCourseState
    return rx.form(
        rx.el.input(type="hidden", name="chapter_id", value=chapter["id"]),
        rx.flex(
            rx.el.select(*[rx.el.option(tr(f"kind.{k}"), value=k) for k in NEW_LESSON_KINDS],
                         name="kind", id=f"cms-lesson-kind-{chapter['id']}", aria_label=tr("cms.lesson.kind"),
                         style={**_SELECT_STYLE, "width": "auto"}),
            rx.input(name="title", id=f"cms-lesson-title-{chapter['id']}", placeholder=tr("cms.lesson.new"),
                     max_length=80, size="2", flex="1", min_width="10em"),
            submit_button(rx.icon("plus", size=14), tr("cms.lesson.add"),
                      id=f"cms-add-lesson-{chapter['id']}", size="2", variant="soft"),
            spacing="2", width="100%", wrap="wrap", align="center",
        ),
        on_submit=s.add_lesson, reset_on_submit=True, width="100%",
    )


def _chapter_card(chapter, index) -> rx.Component:
    s = CmsCourseState
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.form(
                    rx.el.input(type="hidden", name="chapter_id", value=chapter["id"]),
                    rx.flex(
                        rx.input(name="title", id=f"cms-chapter-title-{chapter['id']}", default_value=chapter["title"],
                                 max_length=80, size="2", flex="1", min_width="8em", font_weight="bold"),
                        submit_button(tr("cms.chapter.rename"), id=f"cms-chapter-rename-{chapter['id']}",
                                  size="2", variant="soft"),
                        spacing="2", width="100%",
                    ),
                    on_submit=s.rename_chapter, reset_on_submit=False, flex="1", min_width="14em",
                    key=chapter["id"] + chapter["title"],
                ),
                rx.flex(
                    _icon_button("arrow-up", "cms.move_up", f"cms-chapter-up-{chapter['id']}",
                                 s.move_chapter(chapter["id"], "up"), disabled=chapter["first"] == "1"),
                    _icon_button("arrow-down", "cms.move_down", f"cms-chapter-down-{chapter['id']}",
                                 s.move_chapter(chapter["id"], "down"), disabled=chapter["last"] == "1"),
                    _icon_button("trash-2", "cms.chapter.delete", f"cms-chapter-delete-{chapter['id']}",
                                 s.delete_chapter(chapter["id"]), disabled=chapter["count"] != "0", color="red"),
                    spacing="1",
                ),
                spacing="2", wrap="wrap", width="100%", align="center",
            ),
            rx.cond(s.chapter_lessons[index].length() == 0,
                    rx.text(tr("cms.chapter.empty"), size="1", color="gray")),
            rx.vstack(rx.foreach(s.chapter_lessons[index], _lesson_row), spacing="0", width="100%"),
            _add_lesson_form(chapter),
            spacing="2", width="100%",
        ),
        width="100%", id=f"cms-chapter-{chapter['id']}", class_name="cms-chapter",
    )


def _outline_card() -> rx.Component:
    s = CmsCourseState
    return _card(
        "cms.section.outline",
        rx.text(s.lesson_count, " ", tr("cms.lessons_label"), " · ", s.duration, size="2", color="gray"),
        dashboard_messages(s, "outline"),
        rx.cond(s.chapters.length() == 0, rx.text(tr("cms.no_chapters"), size="2", color="gray")),
        rx.vstack(rx.foreach(s.chapters, _chapter_card), spacing="3", width="100%", id="cms-outline"),
        rx.form(
            rx.flex(
                rx.input(name="title", id="cms-chapter-new", placeholder=tr("cms.chapter.new"), max_length=80,
                         size="3", flex="1", min_width="10em"),
                submit_button(rx.icon("plus", size=16), tr("cms.chapter.add"), id="cms-add-chapter",
                          size="3"),
                spacing="2", width="100%", wrap="wrap",
            ),
            on_submit=s.add_chapter, reset_on_submit=True, width="100%",
        ),
    )


@shop_page(routes.ADMIN_COURSE_EDIT, "cms.edit.title",
           on_load=[CmsCourseState.load_course],
           layout=dashboard(CmsCourseState, nav=routes.ADMIN_COURSES))
def admin_course_edit_page() -> rx.Component:
    s = CmsCourseState
    return (
        _icon_link("chevron-left", tr("cms.back_to_list"), routes.ADMIN_COURSES, "cms-back"),
        dashboard_messages(s, "page"),
        rx.cond(
            s.editing_id != "",
            rx.vstack(
                rx.heading(s.title, size="5", id="cms-heading", style={"overflow_wrap": "anywhere"}),
                rx.grid(_status_card(), _cover_card(), columns=rx.breakpoints(initial="1", md="2"), spacing="3",
                        width="100%"),
                _outline_card(),
                _course_form(),
                spacing="4", width="100%",
            ),
        ),
    )


# ---------------------------------------------------------------------------------- /admin/lessons/[id]

def _lesson_form() -> rx.Component:
    s = CmsLessonState
    is_article = s.kind == "article"
    return _card(
        "cms.lesson.settings",
        rx.form(
            rx.vstack(
                rx.hstack(rx.text(tr("cms.lesson.kind"), size="2", color="gray"),
                          rx.badge(_kind_label(s.kind), id="cms-lesson-kind"),
                          rx.cond(~is_article, rx.text(tr("cms.lesson.duration"), " ", s.duration, size="2",
                                                       color="gray")),
                          spacing="2", align="center"),
                _field("cms.lesson.field_title", "cms-lesson-title",
                       _input("title", "cms-lesson-title", s.title, max_length=80)),
                _switch("is_free_trial", "cms-free-trial", s.is_free_trial, "cms.lesson.field_free_trial"),
                rx.cond(
                    is_article,
                    rx.vstack(
                        _field("cms.lesson.field_article", "cms-article",
                               rx.text_area(name="article", id="cms-article", default_value=s.article, rows="14",
                                            width="100%", max_length=60000)),
                        _field("cms.lesson.field_reading", "cms-reading",
                               _input("reading_minutes", "cms-reading", s.reading_minutes, type="number", min="1",
                                      max="600", step="1")),
                        spacing="3", width="100%",
                    ),
                    _field("cms.lesson.field_free_seconds", "cms-free-seconds",
                           _input("free_seconds", "cms-free-seconds", s.free_seconds, type="number", min="0",
                                  max="36000", step="1")),
                ),
                _field("cms.lesson.drip", "cms-drip", rx.el.select(
                    rx.el.option(tr("cms.lesson.drip_none"), value="none"),
                    rx.el.option(tr("cms.lesson.drip_by_date"), value="date"),
                    rx.el.option(tr("cms.lesson.drip_by_days"), value="days"),
                    name="drip", id="cms-drip", default_value=s.drip, style=_SELECT_STYLE)),
                rx.grid(
                    _field("cms.lesson.field_release_at", "cms-release-at",
                           _input("release_at", "cms-release-at", s.release_at, type="datetime-local")),
                    _field("cms.lesson.field_release_days", "cms-release-days",
                           _input("release_days", "cms-release-days", s.release_days, type="number", min="1",
                                  max="3650", step="1")),
                    columns=rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%",
                ),
                dashboard_messages(s, "lesson"),
                submit_button(tr("common.save"), id="cms-lesson-save", size="3", width="100%"),
                spacing="3", width="100%",
            ),
            key=s.form_key, on_submit=s.save_lesson, reset_on_submit=False, width="100%",
        ),
    )


def _media_card() -> rx.Component:
    s = CmsLessonState
    return _card(
        "cms.media.manage",
        rx.hstack(_media_badge(s.media_status, id="cms-media-status", size="3"), spacing="2", align="center"),
        rx.cond(s.media_error != "", rx.text(s.media_error, size="2", color="red", id="cms-media-error")),
        rx.link(rx.button(rx.icon("upload", size=14), tr("cms.media.manage"), size="3", variant="soft"),
                href=s.media_href, id="cms-media-link"),
    )


def _move_card() -> rx.Component:
    s = CmsLessonState
    return _card(
        "cms.lesson.move_to",
        rx.form(
            rx.flex(
                rx.el.select(rx.foreach(s.chapters, lambda c: rx.el.option(c["title"], value=c["id"])),
                             name="chapter_id", id="cms-move-chapter", default_value=s.chapter_id,
                             aria_label=tr("cms.lesson.move_to"), style={**_SELECT_STYLE, "flex": "1",
                                                                        "min_width": "10em"}),
                submit_button(tr("cms.lesson.move"), id="cms-move", size="2", variant="soft"),
                spacing="2", width="100%", wrap="wrap", align="center",
            ),
            key=s.form_key, on_submit=s.move_to_chapter, reset_on_submit=False, width="100%",
        ),
        dashboard_messages(s, "move"),
    )


@shop_page(routes.ADMIN_LESSON_EDIT, "cms.lesson.title",
           on_load=[CmsLessonState.load_lesson],
           layout=dashboard(CmsLessonState, nav=routes.ADMIN_COURSES))
def admin_lesson_edit_page() -> rx.Component:
    s = CmsLessonState
    return (
        _icon_link("chevron-left", rx.text.span(tr("cms.back_to_course"), " · ", s.course_title), s.course_href,
                   "cms-back-course"),
        dashboard_messages(s, "page"),
        rx.cond(
            s.editing_id != "",
            rx.vstack(
                rx.hstack(rx.heading(s.title, size="5", style={"overflow_wrap": "anywhere"}), rx.spacer(),
                          _icon_link("eye", tr("cms.lesson.preview"), s.preview_href, "cms-lesson-preview",
                                     is_external=True),
                          width="100%", align="center", wrap="wrap"),
                rx.cond(s.media_status != "", _media_card()),
                _lesson_form(),
                _move_card(),
                spacing="4", width="100%",
            ),
        ),
    )

"""/admin/homework: the homework review queue of the owner, staff (both with TOTP), or an approved
instructor (their own courses only), in the dashboard frame. The page compiles into the public
bundle; `allowed` only hides the UI — the handlers carry `@dashboard_required` and the service
checks each submission's course."""

from __future__ import annotations

import reflex as rx

from coursemall.components.forms import submit_button
from coursemall.components.i18n import tr
from coursemall.components.dashboard import dashboard_messages
from coursemall.components.page import dashboard, shop_page
from coursemall.pages import routes
from coursemall.state.community.community import HomeworkReviewState as S


def _grade_form(row: rx.Var) -> rx.Component:
    return rx.form(
        rx.el.input(type="hidden", name="submission_id", value=row["id"]),
        rx.vstack(
            rx.hstack(
                rx.el.label(tr("admin.homework.score"), font_size="0.9em", flex_shrink="0"),
                rx.input(name="score", type="number", min="0", max="100", step="1", default_value=row["score"],
                         size="2", width="6em", class_name="grade-score"),
                align="center", spacing="2",
            ),
            rx.text_area(name="feedback", default_value=row["feedback"], placeholder=tr("admin.homework.feedback"),
                         rows="3", width="100%", class_name="grade-feedback"),
            rx.hstack(submit_button(tr("admin.homework.submit"), size="2", class_name="grade-submit"),
                      justify="end", width="100%"),
            spacing="2", width="100%",
        ),
        on_submit=S.grade_homework, reset_on_submit=False, width="100%",
    )


def _row(row: rx.Var, index: rx.Var) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(rx.avatar(fallback=row["initial"], size="2", radius="full"),
                      rx.vstack(rx.text(row["learner"], size="2", weight="medium", class_name="homework-learner"),
                                rx.text(row["date"], size="1", color="gray"), spacing="0"),
                      rx.spacer(),
                      rx.cond(row["score"] != "", rx.badge(row["score"], color_scheme="green")),
                      width="100%", align="center"),
            rx.text(row["course"], " · ", rx.link(row["lesson"], href=row["lesson_href"]), size="1", color="gray"),
            rx.text(row["text"], size="2", class_name="homework-text",
                    style={"white_space": "pre-wrap", "overflow_wrap": "anywhere"}),
            rx.flex(rx.foreach(S.queue_images[index],
                               lambda src: rx.link(rx.image(src=src, alt="", width="96px", height="96px",
                                                            object_fit="cover", border_radius="8px"),
                                                   href=src, is_external=True)),
                    gap="2", wrap="wrap"),
            _grade_form(row),
            spacing="2", width="100%",
        ),
        width="100%", class_name="homework-row",
    )


def admin_homework_body() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.button(tr("admin.homework.pending"), size="2", id="homework-tab-pending",
                      variant=rx.cond(S.show_graded, "soft", "solid"),
                      on_click=S.load_homework_queue(False)),
            rx.button(tr("admin.homework.graded_tab"), size="2", id="homework-tab-graded",
                      variant=rx.cond(S.show_graded, "solid", "soft"),
                      on_click=S.load_homework_queue(True)),
            spacing="2"),
        dashboard_messages(S, "queue"),
        rx.cond(S.queue.length() == 0,
                rx.text(tr("admin.homework.empty"), size="2", color="gray", id="admin-empty")),
        rx.vstack(rx.foreach(S.queue, _row), spacing="3", width="100%", id="homework-queue"),
        spacing="3", width="100%",
    )


@shop_page(routes.ADMIN_HOMEWORK, "admin.homework.title",
           on_load=[S.load_homework_queue],
           layout=dashboard(S))
def admin_homework() -> rx.Component:
    return (admin_homework_body())

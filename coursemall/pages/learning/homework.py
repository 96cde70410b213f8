"""/lesson/[lesson_id]/homework: my homework for a lesson (text + up to 3 images), its status, and
the score and feedback once graded. Resubmitting replaces it until it is graded."""

from __future__ import annotations

import reflex as rx

from coursemall.components.i18n import tr
from coursemall.components.page import shop_page
from coursemall.components.theme import ACCENT
from coursemall.components.shop import form_messages
from coursemall.pages import routes
from coursemall.state.community.community import HOMEWORK_UPLOAD, HomeworkState as S

_ACCEPT = {"image/jpeg": [".jpg", ".jpeg"], "image/png": [".png"], "image/webp": [".webp"],
           "image/gif": [".gif"]}


def _submission() -> rx.Component:
    graded = S.status == "graded"
    return rx.card(
        rx.vstack(
            rx.hstack(rx.text(tr("homework.ui.mine"), weight="bold"), rx.spacer(),
                      rx.badge(rx.cond(graded, tr("homework.ui.status.graded"), tr("homework.ui.status.submitted")),
                               color_scheme=rx.cond(graded, "green", "orange"), id="homework-status"),
                      width="100%", align="center"),
            rx.text(S.updated, size="1", color="gray"),
            rx.text(S.my_text, size="2", id="homework-text",
                    style={"white_space": "pre-wrap", "overflow_wrap": "anywhere"}),
            rx.flex(rx.foreach(S.images, lambda src: rx.image(src=src, alt="", width="30%", min_width="90px",
                                                              border_radius="8px", class_name="homework-image")),
                    gap="2", wrap="wrap", width="100%"),
            rx.cond(graded,
                    rx.box(
                        rx.hstack(rx.text(tr("homework.ui.score"), size="2", color="gray"),
                                  rx.heading(S.score, size="6", color=ACCENT, id="homework-score"),
                                  align="baseline", spacing="2"),
                        rx.text(tr("homework.ui.feedback"), size="2", color="gray", margin_top="0.3em"),
                        rx.text(S.feedback, size="2", id="homework-feedback",
                                style={"white_space": "pre-wrap", "overflow_wrap": "anywhere"}),
                        background="var(--gray-a2)", padding="0.7em", border_radius="8px", width="100%")),
            spacing="2", width="100%",
        ),
        width="100%", id="homework-submission",
    )


def _form() -> rx.Component:
    return rx.vstack(
        rx.text_area(id="homework-input", value=S.text, on_change=S.edit_homework_text,
                     placeholder=tr("homework.ui.placeholder"), rows="6", width="100%"),
        rx.upload(
            rx.vstack(
                rx.icon("image-plus", size=22, color="var(--gray-9)"),
                rx.text(tr("homework.ui.images"), size="2", color="gray", text_align="center"),
                rx.foreach(rx.selected_files(HOMEWORK_UPLOAD), lambda f: rx.text(f, size="1", weight="medium")),
                align="center", spacing="1",
            ),
            id=HOMEWORK_UPLOAD, max_files=3, multiple=True, accept=_ACCEPT,
            border="1px dashed var(--gray-a7)", border_radius="12px", padding="1em", width="100%", cursor="pointer",
        ),
        rx.button(rx.cond(S.submitted, tr("homework.ui.resubmit"), tr("homework.ui.submit")),
                  id="homework-submit", size="3", radius="full", width="100%",
                  on_click=S.submit_homework(rx.upload_files(upload_id=HOMEWORK_UPLOAD))),
        spacing="2", width="100%", id="homework-form",
    )


def homework_body() -> rx.Component:
    return rx.vstack(
        rx.cond(S.lesson_href != "",
                rx.link(rx.hstack(rx.icon("chevron-left", size=16), rx.text(tr("homework.ui.back")),
                                  align="center", spacing="1"),
                        href=S.lesson_href, id="homework-back", size="2", underline="none")),
        rx.heading(tr("homework.ui.title"), size="6"),
        rx.cond(S.lesson_title != "", rx.text(S.lesson_title, size="3", color="gray", id="homework-lesson")),
        form_messages(S),
        rx.cond(
            S.allowed,
            rx.vstack(
                rx.cond(S.submitted, _submission(),
                        rx.text(tr("homework.ui.none"), size="2", color="gray", id="homework-none")),
                rx.cond(S.status == "graded",
                        rx.text(tr("homework.ui.final"), size="1", color="gray"),
                        _form()),
                spacing="3", width="100%",
            ),
            rx.cond(~S.loaded, rx.center(rx.spinner(size="3"), width="100%", padding="2em")),
        ),
        spacing="3", width="100%",
    )


@shop_page(routes.HOMEWORK, "page.title.homework", on_load=[S.load_homework])
def homework() -> rx.Component:
    return homework_body()

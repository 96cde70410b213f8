"""/lesson/[lesson_id]: the trial player (the full player comes with the learning work).

Free-trial and entitled lessons get a signed media URL; `free_seconds` lessons play up to that
second and then stop with a buy prompt; other lessons show "buy to unlock" and no media URL.
"""

from __future__ import annotations

import reflex as rx

from coursemall.components.i18n import tr
from coursemall.components.layout import page_frame
from coursemall.components.outline import kind_icon, kind_label
from coursemall.pages import routes
from coursemall.state.catalog import LessonState, page_load

_MEDIA_STYLE = {"width": "100%", "display": "block", "background": "#000", "border_radius": "12px"}


def trial_over() -> rx.Component:
    """Shown by the trial guard script (state/catalog.py) when a partial preview reaches its end."""
    return rx.box(
        rx.vstack(
            rx.icon("lock", size=28, color="white"),
            rx.text(tr("lesson.trial_over"), color="white", weight="medium", text_align="center"),
            rx.link(rx.button(tr("lesson.buy_course"), radius="full"), href=LessonState.course_href),
            align="center", spacing="3",
        ),
        id="trial-over", position="absolute", inset="0", background="rgba(0,0,0,.78)",
        border_radius="12px", align_items="center", justify_content="center",
        style={"display": "none"},
    )


def player() -> rx.Component:
    return rx.match(
        LessonState.kind,
        ("audio", rx.box(
            rx.center(rx.icon("headphones", size=48, color="#e8590c"), height="140px",
                      background="linear-gradient(135deg, var(--orange-a3), var(--amber-a3))",
                      border_radius="12px", margin_bottom="0.6em"),
            rx.el.audio(src=LessonState.media_url, controls=True, preload="metadata",
                        id="lesson-audio", key=LessonState.media_url,
                        custom_attrs={"data-free-seconds": LessonState.free_seconds,
                                      "controlsList": "nodownload"},
                        style={"width": "100%"}),
            trial_over(),
            position="relative", width="100%",
        )),
        rx.box(
            rx.el.video(src=LessonState.media_url, controls=True, plays_inline=True,
                        preload="metadata", id="lesson-video", key=LessonState.media_url,
                        custom_attrs={"data-free-seconds": LessonState.free_seconds,
                                      "controlsList": "nodownload"},
                        style={**_MEDIA_STYLE, "aspect_ratio": "16 / 9"}),
            trial_over(),
            position="relative", width="100%",
        ),
    )


def locked_box() -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.center(rx.icon("lock", size=30, color="#e8590c"), width="64px", height="64px",
                      border_radius="999px", background="var(--orange-a3)"),
            rx.text(tr("lesson.locked"), text_align="center", weight="medium"),
            rx.link(rx.button(tr("lesson.buy_course"), radius="full", size="3"),
                    href=LessonState.course_href, id="lesson-buy"),
            align="center", spacing="3",
        ),
        id="lesson-locked", width="100%", padding="2.5em 1em", border_radius="12px",
        background="var(--gray-a2)",
    )


def lesson_content() -> rx.Component:
    return rx.cond(
        LessonState.access == "locked",
        locked_box(),
        rx.cond(
            LessonState.kind == "article",
            rx.box(rx.html(LessonState.article_html), id="lesson-article", class_name="rich-text",
                   style={"line_height": "1.8", "font_size": "16px",
                          "& img": {"max_width": "100%", "height": "auto", "border_radius": "8px"}},
                   width="100%"),
            rx.cond(
                LessonState.media_url != "",
                rx.vstack(
                    player(),
                    rx.cond(LessonState.partial_text != "",
                            rx.callout(LessonState.partial_text, icon="clock", color_scheme="orange",
                                       size="1", width="100%", id="lesson-partial-note")),
                    width="100%", spacing="2",
                ),
                rx.callout(tr("lesson.no_media"), icon="info", width="100%"),
            ),
        ),
    )


def lesson_body() -> rx.Component:
    return rx.cond(
        LessonState.error != "",
        rx.center(rx.vstack(rx.icon("circle-alert", size=40, color="var(--gray-8)"),
                            rx.text(LessonState.error, id="form-error"),
                            rx.link(tr("nav.home"), href=routes.HOME), align="center"),
                  padding="4em", width="100%"),
        rx.cond(
            LessonState.lesson_id > 0,
            rx.vstack(
                rx.link(rx.hstack(rx.icon("chevron-left", size=16), rx.text(tr("lesson.back")),
                                  rx.text("·", color="gray"),
                                  rx.text(LessonState.course_title, color="gray",
                                          style={"white_space": "nowrap", "overflow": "hidden",
                                                 "text_overflow": "ellipsis"}),
                                  align="center", spacing="1"),
                        href=LessonState.course_href, id="lesson-back", size="2", underline="none"),
                lesson_content(),
                rx.hstack(kind_icon(LessonState.kind),
                          rx.text(kind_label(LessonState.kind), size="1", color="gray"),
                          rx.text(LessonState.duration, size="1", color="gray"),
                          rx.cond(LessonState.access != "locked",
                                  rx.badge(tr("lesson.free_badge"), color_scheme="orange",
                                           variant="soft")),
                          align="center", spacing="2"),
                rx.heading(LessonState.title, size="5", id="lesson-title"),
                rx.hstack(
                    rx.cond(LessonState.prev_href != "",
                            rx.link(rx.button(rx.icon("chevron-left", size=14), tr("lesson.prev"),
                                              variant="soft"), href=LessonState.prev_href,
                                    id="lesson-prev")),
                    rx.spacer(),
                    rx.cond(LessonState.next_href != "",
                            rx.link(rx.button(tr("lesson.next"), rx.icon("chevron-right", size=14),
                                              variant="soft"), href=LessonState.next_href,
                                    id="lesson-next")),
                    width="100%",
                ),
                width="100%", spacing="3",
            ),
            rx.center(rx.spinner(size="3"), padding="4em", width="100%"),
        ),
    )


@rx.page(route=routes.LESSON, title="课程试看 · 知行课堂", on_load=page_load(LessonState.load))
def lesson() -> rx.Component:
    return page_frame(lesson_body())

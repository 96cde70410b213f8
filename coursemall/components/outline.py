"""Course outline: chapters with their lessons, a type icon, duration, and trial / lock marks."""

from __future__ import annotations

import reflex as rx

from coursemall.components.i18n import tr
from coursemall.components.theme import ACCENT

def kind_icon(kind: rx.Var) -> rx.Component:
    return rx.match(
        kind,
        ("audio", rx.icon("headphones", size=18, color="#1c7ed6")),
        ("article", rx.icon("file-text", size=18, color="#2f9e44")),
        ("live_replay", rx.icon("radio", size=18, color="#ae3ec9")),
        rx.icon("circle-play", size=18, color=ACCENT),
    )


def kind_label(kind: rx.Var) -> rx.Component:
    return rx.match(
        kind,
        ("audio", tr("kind.audio")),
        ("article", tr("kind.article")),
        ("live_replay", tr("kind.live_replay")),
        tr("kind.video"),
    )


def _row_body(lesson: rx.Var) -> rx.Component:
    return rx.hstack(
        kind_icon(lesson["kind"]),
        rx.vstack(
            rx.text(lesson["title"], size="2", weight="medium"),
            rx.hstack(
                rx.text(kind_label(lesson["kind"]), size="1", color="gray"),
                rx.text(lesson["duration"], size="1", color="gray"),
                spacing="2",
            ),
            spacing="0", min_width="0",
        ),
        rx.spacer(),
        rx.cond(
            lesson["trial"] == "1",
            rx.badge(tr("course.trial"), color_scheme="orange", variant="soft", class_name="trial-badge"),
            rx.cond(
                lesson["partial"] != "",
                rx.badge(tr("course.trial"), " ", lesson["partial"], color_scheme="orange",
                         variant="outline", class_name="trial-badge"),
            ),
        ),
        rx.cond(
            lesson["playable"] == "1",
            rx.icon("chevron-right", size=16, color="var(--gray-9)"),
            rx.icon("lock", size=15, color="var(--gray-8)", aria_label="locked"),
        ),
        width="100%", align="center", spacing="3", padding_y="0.7em", padding_x="0.25em",
    )


def lesson_row(lesson: rx.Var) -> rx.Component:
    """Every row links to its lesson page: playable rows open the player, locked rows show the
    "buy to unlock" page (no media URL is minted for them)."""
    return rx.link(
        _row_body(lesson), href=lesson["href"], id="lesson-link-" + lesson["id"],
        underline="none", color="inherit",
        class_name=rx.cond(lesson["playable"] == "1", "lesson-row lesson-open", "lesson-row lesson-locked"),
        style={"display": "block", "_hover": {"background": "var(--orange-a2)"},
               "border_radius": "8px"},
    )


def outline(chapters: rx.Var, lessons: rx.Var) -> rx.Component:
    """`chapters`: list of {id,title,index}; `lessons`: list (per chapter) of lesson dicts."""
    return rx.vstack(
        rx.foreach(
            chapters,
            lambda chapter, i: rx.box(
                rx.hstack(
                    rx.badge(chapter["index"], variant="solid", color_scheme="gray", radius="full"),
                    rx.text(chapter["title"], weight="bold", size="3"),
                    align="center", spacing="2", padding_y="0.4em",
                ),
                rx.vstack(rx.foreach(lessons[i], lesson_row), spacing="0", width="100%",
                          class_name="chapter-lessons"),
                width="100%", class_name="chapter",
                border_bottom="1px solid var(--gray-a4)", padding_bottom="0.5em",
            ),
        ),
        id="course-outline", width="100%", spacing="3",
    )

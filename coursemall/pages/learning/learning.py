"""/learning: my courses with progress and continue buttons, recently studied lessons, daily
study minutes for the last 30 days (bar chart) and the study streak."""

from __future__ import annotations

import reflex as rx

from coursemall.components.course_card import cover_image
from coursemall.components.i18n import tr
from coursemall.components.outline import kind_icon
from coursemall.components.player import bar
from coursemall.components.page import shop_page
from coursemall.components.theme import ACCENT
from coursemall.pages import routes
from coursemall.state.learning.player import LearningState


def _course_row(c) -> rx.Component:
    return rx.card(
        rx.hstack(
            rx.link(rx.box(cover_image(c["cover"], c["title"], radius="8px"), width="120px", flex_shrink="0"),
                    href=c["href"]),
            rx.vstack(
                rx.link(rx.text(c["title"], weight="medium", size="3"), href=c["href"], color="inherit",
                        underline="none"),
                rx.hstack(bar(c["percent_css"]),
                          rx.text(c["percent"], "%", size="1", class_name="learning-percent"),
                          width="100%", align="center", spacing="2"),
                rx.text(c["progress_text"], size="1", color="gray"),
                rx.cond(c["continue_href"] != "",
                        rx.link(rx.button(rx.icon("play", size=14), tr("learning.continue"), size="2",
                                          radius="full"),
                                href=c["continue_href"], class_name="learning-continue")),
                spacing="1", width="100%", align="start",
            ),
            width="100%", spacing="3", align="start",
        ),
        width="100%", class_name="learning-course", custom_attrs={"data-course": c["id"]},
    )


def _recent_row(r) -> rx.Component:
    return rx.link(
        rx.hstack(kind_icon(r["kind"]),
                  rx.vstack(rx.text(r["title"], size="2"), rx.text(r["course"], size="1", color="gray"),
                            spacing="0", flex="1"),
                  rx.cond(r["done"] == "1", rx.icon("circle-check", size=16, color="var(--green-9)"),
                          rx.text(r["percent"], "%", size="1", color="gray")),
                  width="100%", align="center", spacing="2", padding_y="0.4em"),
        href=r["href"], underline="none", color="inherit", width="100%", class_name="learning-recent",
    )


def _stat(value, key: str, id_: str) -> rx.Component:
    return rx.vstack(rx.text(value, size="6", weight="bold", color="var(--orange-11)", id=id_),
                     rx.text(tr(key), size="1", color="gray"), align="center", spacing="0", flex="1")


def _chart() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(tr("learning.chart_title"), weight="medium"),
            rx.recharts.bar_chart(
                rx.recharts.bar(data_key="minutes", fill=ACCENT, name="min"),
                rx.recharts.x_axis(data_key="day", tick_line=False, font_size=10, interval=4),
                rx.recharts.y_axis(width=30, font_size=10, allow_decimals=False),
                rx.recharts.graphing_tooltip(),
                data=LearningState.daily, width="100%", height=180,
            ),
            width="100%", spacing="2",
        ),
        width="100%", id="learning-chart",
    )


def learning_body() -> rx.Component:
    return rx.cond(
        LearningState.needs_sign_in,
        rx.center(rx.vstack(rx.text(tr("learning.sign_in")),
                            rx.link(rx.button(tr("nav.sign_in")), href=routes.sign_in_url(routes.LEARNING)),
                            align="center"), padding="4em", width="100%"),
        rx.vstack(
            rx.heading(tr("learning.title"), size="6"),
            rx.cond(LearningState.error != "", rx.callout(LearningState.error, color_scheme="red", width="100%")),
            rx.card(rx.hstack(
                _stat(LearningState.streak_current, "learning.streak_current", "streak-current"),
                _stat(LearningState.streak_longest, "learning.streak_longest", "streak-longest"),
                _stat(LearningState.today_minutes, "learning.today_minutes", "today-minutes"),
                _stat(LearningState.total_minutes, "learning.total_minutes", "total-minutes"),
                width="100%"), width="100%"),
            _chart(),
            rx.heading(tr("learning.my_courses"), size="4"),
            rx.cond(LearningState.courses.length() > 0,
                    rx.vstack(rx.foreach(LearningState.courses, _course_row), width="100%", spacing="2",
                              id="learning-courses"),
                    rx.cond(LearningState.loaded,
                            rx.vstack(rx.text(tr("learning.empty"), color="gray"),
                                      rx.link(tr("cart.browse"), href=routes.SEARCH), id="learning-empty"))),
            rx.cond(LearningState.recent.length() > 0,
                    rx.vstack(rx.heading(tr("learning.recent"), size="4"),
                              rx.card(rx.vstack(rx.foreach(LearningState.recent, _recent_row), width="100%",
                                                spacing="0"), width="100%"),
                              width="100%")),
            width="100%", spacing="4",
        ),
    )


@shop_page(routes.LEARNING, "page.title.learning", on_load=[LearningState.load_learning])
def learning_page() -> rx.Component:
    return learning_body()

"""/course/[course_id]: cover, title, price, rating, intro, audience, instructor, outline, reviews."""

from __future__ import annotations

import reflex as rx

from coursemall.components.course_card import card_grid, cover_image
from coursemall.components.i18n import tr
from coursemall.components.outline import outline
from coursemall.components.price import price_tag
from coursemall.components.reviews import reviews_section
from coursemall.components.page import shop_page
from coursemall.components.theme import ACCENT
from coursemall.components.shop import form_messages
from coursemall.pages import routes
from coursemall.state.catalog.storefront import CourseState
from coursemall.state.community.community import ReviewState
from coursemall.state.commerce.shop import BuyState

_PANEL = {"background": "var(--color-panel-solid)", "border_radius": "14px", "padding": "1em",
          "box_shadow": "0 1px 3px rgba(0,0,0,0.05)", "width": "100%"}


def panel(title_key: str, *children: rx.Component, **props) -> rx.Component:
    return rx.box(
        rx.hstack(rx.box(width="4px", height="1em", background=ACCENT, border_radius="2px"),
                  rx.heading(tr(title_key), size="4"), align="center", spacing="2",
                  margin_bottom="0.6em"),
        *children,
        style=_PANEL, **props,
    )


def header_block() -> rx.Component:
    return rx.vstack(
        cover_image(CourseState.cover, CourseState.title, eager=True),
        rx.vstack(
            rx.cond(CourseState.category_href != "",
                    rx.link(rx.badge(rx.cond(CourseState.lang == "en", CourseState.category_name_en,
                                             CourseState.category_name), variant="soft"),
                            href=CourseState.category_href)),
            rx.heading(CourseState.title, size="6", id="course-title", as_="h1"),
            rx.text(CourseState.subtitle, size="3", color="gray", id="course-subtitle"),
            rx.hstack(
                rx.cond(CourseState.rating != "",
                        rx.hstack(rx.icon("star", size=15, color="#f59f00", fill="#f59f00"),
                                  rx.text(CourseState.rating, weight="bold", color="#e67700"),
                                  rx.text("(", CourseState.rating_count_text, ")", size="1", color="gray"),
                                  spacing="1", align="center", id="course-rating"),
                        rx.text(tr("card.no_rating"), size="1", color="gray")),
                rx.text(CourseState.learners_text, size="2", color="gray"),
                spacing="3", align="center", wrap="wrap",
            ),
            rx.hstack(rx.foreach(CourseState.tags, lambda t: rx.badge("#", t, variant="outline",
                                                                      color_scheme="gray")),
                      spacing="1", wrap="wrap"),
            rx.hstack(
                price_tag(CourseState.price, CourseState.original, CourseState.free, size="6"),
                rx.spacer(),
                rx.button(rx.icon("share-2", size=14), tr("course.share"), variant="ghost", size="2",
                          id="course-share",
                          on_click=[rx.set_clipboard(rx.State.router.url),
                                    rx.toast(tr("course.shared"))]),
                width="100%", align="center",
            ),
            spacing="2", width="100%", padding_x="0.2em",
        ),
        width="100%", spacing="3",
    )


def buy_messages() -> rx.Component:
    return form_messages(BuyState, size="1",
                         success=rx.hstack(rx.text(BuyState.success),
                                           rx.link(tr("buy.view_cart"), href=routes.CART, id="go-cart"),
                                           spacing="2", wrap="wrap"))


def _buy_buttons() -> rx.Component:
    course_id = CourseState.course_id
    return rx.cond(
        CourseState.free,
        rx.button(rx.icon("gift", size=16), tr("buy.claim_free"), size="3", radius="full", flex="1",
                  id="buy-now", on_click=BuyState.buy_now("course", course_id)),
        rx.hstack(
            rx.button(rx.icon("shopping-cart", size=16), tr("buy.add_to_cart"), size="3", radius="full",
                      variant="soft", id="add-to-cart", flex="1", white_space="nowrap", padding_x="0.8em",
                      on_click=BuyState.add_to_cart("course", course_id)),
            rx.button(tr("buy.buy_now"), size="3", radius="full", id="buy-now", flex="1", white_space="nowrap", padding_x="0.8em",
                      on_click=BuyState.buy_now("course", course_id)),
            spacing="2", flex="1",
        ),
    )


def buy_bar() -> rx.Component:
    """Fixed at the bottom on phones: trial / add to cart / buy now, or start learning when owned."""
    return rx.box(
        rx.vstack(
            buy_messages(),
            rx.hstack(
                rx.cond(
                    CourseState.entitled,
                    rx.link(rx.button(rx.icon("circle-play", size=16), tr("buy.owned"), size="3",
                                      radius="full", color_scheme="green", width="100%"),
                            href=CourseState.first_lesson_href, id="start-learning", underline="none",
                            flex="1"),
                    rx.fragment(
                        rx.cond(
                            CourseState.first_lesson_href != "",
                            rx.link(rx.button(rx.icon("circle-play", size=16), tr("course.trial"),
                                              variant="soft", size="3", radius="full", color_scheme="gray",
                                              white_space="nowrap", padding_x="0.8em"),
                                    href=CourseState.first_lesson_href, id="course-start",
                                    underline="none"),
                        ),
                        _buy_buttons(),
                    ),
                ),
                spacing="2", align="center", width="100%",
            ),
            spacing="2", width="100%", max_width="960px", margin_x="auto",
        ),
        position="sticky", bottom=["3.6em", "3.6em", "0"], z_index="5", width="100%",
        padding="0.6em 1em", background="var(--color-background)",
        border_top="1px solid var(--gray-a4)", margin_top="1em",
    )


def instructor_card() -> rx.Component:
    i = CourseState.instructor
    return panel(
        "course.instructor",
        rx.hstack(
            rx.avatar(src=i["avatar"], fallback=i["initial"], size="5", radius="full"),
            rx.vstack(rx.text(i["name"], weight="bold", size="3", id="instructor-name"),
                      rx.text(i["title"], size="2", color="gray"), spacing="0"),
            align="center", spacing="3",
        ),
        rx.text(i["bio"], size="2", margin_top="0.6em", style={"white_space": "pre-line"}),
        id="course-instructor",
    )


def course_body() -> rx.Component:
    return rx.cond(
        CourseState.error != "",
        rx.center(
            rx.vstack(rx.icon("book-x", size=40, color="var(--gray-8)"),
                      rx.text(CourseState.error, id="form-error"),
                      rx.link(tr("nav.home"), href=routes.HOME), align="center"),
            padding="4em", width="100%",
        ),
        rx.cond(
            CourseState.course_id > 0,
            rx.vstack(
                header_block(),
                panel("course.intro", rx.box(rx.html(CourseState.intro_html), class_name="rich-text",
                                             style={"line_height": "1.7", "font_size": "15px",
                                                    "& img": {"max_width": "100%", "height": "auto",
                                                              "border_radius": "8px"}}),
                      id="course-intro"),
                rx.cond(CourseState.audience.length() > 0,
                        panel("course.audience",
                              rx.vstack(rx.foreach(CourseState.audience, lambda line: rx.hstack(
                                  rx.icon("circle-check", size=16, color="#2f9e44"),
                                  rx.text(line, size="2"), align="start", spacing="2")),
                                  spacing="2"),
                              id="course-audience")),
                rx.cond(CourseState.entitled,
                        rx.link(rx.button(rx.icon("calendar-check", size=16), tr("checkin.ui.title"),
                                          variant="soft", size="3", radius="full", width="100%"),
                                href=f"/course/{CourseState.course_id}/checkin", id="checkin-link",
                                underline="none", width="100%")),
                rx.cond(CourseState.instructor.contains("name"), instructor_card()),
                panel("course.outline",
                      rx.hstack(rx.text(CourseState.outline_text, size="2", color="gray",
                                        id="course-total"),
                                rx.cond(CourseState.trial_text != "",
                                        rx.badge(CourseState.trial_text, color_scheme="orange")),
                                spacing="2", wrap="wrap", margin_bottom="0.4em"),
                      outline(CourseState.chapters, CourseState.lessons)),
                panel("course.reviews", reviews_section()),
                rx.cond(CourseState.related.length() > 0,
                        rx.vstack(rx.heading(tr("course.related"), size="4"),
                                  card_grid(CourseState.related), width="100%",
                                  id="course-related")),
                buy_bar(),
                width="100%", spacing="4",
            ),
            rx.center(rx.spinner(size="3"), padding="4em", width="100%"),
        ),
    )


@shop_page(routes.COURSE, "page.title.course",
           on_load=[BuyState.clear_message, CourseState.load, ReviewState.load_reviews])
def course() -> rx.Component:
    return course_body()

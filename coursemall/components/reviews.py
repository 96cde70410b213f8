"""Course reviews on /course/[course_id]: rating summary with distribution bars, the reviews with
the shop's replies, "write / edit my review" for buyers, reply and hide controls for managers.

All review and reply text is rendered with `rx.text` (plain text, never HTML)."""

from __future__ import annotations

import reflex as rx

from coursemall.components.forms import submit_button
from coursemall.components.i18n import tr
from coursemall.components.mfa import mfa_gate
from coursemall.state.community.community import ReviewState as S


def _messages() -> rx.Component:
    return rx.fragment(
        rx.cond(S.mfa_needed, mfa_gate(),
                rx.cond(S.error != "",
                        rx.callout(S.error, icon="triangle_alert", color_scheme="red", role="alert",
                                   id="review-error", size="1", width="100%"))),
        rx.cond(S.success != "",
                rx.callout(S.success, icon="circle_check", color_scheme="green", role="status",
                           id="review-success", size="1", width="100%")),
    )


def rating_summary() -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.text(rx.cond(S.average != "", S.average, "—"), size="8", weight="bold", color="#e67700",
                    id="rating-average"),
            rx.text(S.count_text, size="1", color="gray", id="rating-count"),
            align="center", spacing="0", min_width="5em",
        ),
        rx.vstack(
            rx.foreach(S.bars, lambda b: rx.hstack(
                rx.text(b["stars"], "★", size="1", color="gray", min_width="2.2em"),
                rx.box(rx.box(width=b["percent"], height="100%", background="#f59f00", border_radius="3px"),
                       flex="1", height="6px", background="var(--gray-a3)", border_radius="3px"),
                rx.text(b["count"], size="1", color="gray", min_width="2em", text_align="right",
                        class_name="rating-bar-count"),
                width="100%", align="center", spacing="2", class_name="rating-bar",
            )),
            flex="1", spacing="1",
        ),
        width="100%", spacing="4", align="center", id="rating-summary",
    )


def _star_picker() -> rx.Component:
    return rx.hstack(
        *[rx.icon_button(
            rx.icon("star", size=22, color="#f59f00", fill=rx.cond(S.my_rating >= n, "#f59f00", "none")),
            variant="ghost", size="2", type="button", id=f"review-star-{n}", aria_label=f"{n}",
            on_click=S.pick_review_star(n),
        ) for n in range(1, 6)],
        rx.cond(S.my_rating == 0, rx.text(tr("reviews.pick_stars"), size="1", color="gray")),
        spacing="1", align="center",
    )


def _my_review_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.text(rx.cond(S.has_review, tr("reviews.edit"), tr("reviews.write")), size="2", weight="medium"),
            _star_picker(),
            rx.text_area(id="review-content", name="content", default_value=S.my_content,
                         placeholder=tr("reviews.content_placeholder"), rows="3", width="100%"),
            rx.hstack(submit_button(tr("reviews.submit"), id="review-submit", size="2",
                                radius="full"),
                      justify="end", width="100%"),
            spacing="2", width="100%",
        ),
        on_submit=S.submit_review, reset_on_submit=False, width="100%", key=S.form_key,
        id="review-form", padding="0.8em", border_radius="10px", background="var(--gray-a2)",
    )


def _reply_form(r: rx.Var) -> rx.Component:
    return rx.form(
        rx.el.input(type="hidden", name="review_id", value=r["id"]),
        rx.vstack(
            rx.text_area(name="text", default_value=r["reply"], placeholder=tr("reviews.reply_placeholder"),
                         rows="2", width="100%", class_name="review-reply-input"),
            rx.hstack(submit_button(tr("reviews.reply_submit"), size="1",
                                class_name="review-reply-submit"), justify="end", width="100%"),
            spacing="2", width="100%",
        ),
        on_submit=S.reply_review, reset_on_submit=False, width="100%", margin_top="0.4em",
    )


def _review_item(r: rx.Var) -> rx.Component:
    return rx.box(
        rx.hstack(rx.avatar(fallback=r["initial"], size="2", radius="full"),
                  rx.vstack(rx.hstack(rx.text(r["author"], size="2", weight="medium"),
                                      rx.cond(r["mine"] == "1", rx.badge(tr("reviews.mine"), size="1")),
                                      spacing="2", align="center"),
                            rx.text(r["stars"], size="1", color="#f59f00", class_name="review-stars"),
                            spacing="0"),
                  rx.spacer(), rx.text(r["date"], size="1", color="gray"),
                  align="center", width="100%"),
        rx.cond(r["content"] != "",
                rx.text(r["content"], size="2", margin_top="0.4em", class_name="review-content",
                        style={"white_space": "pre-wrap", "overflow_wrap": "anywhere"})),
        rx.cond(r["reply"] != "",
                rx.box(rx.text(tr("course.owner_reply"), size="1", color="gray", weight="medium"),
                       rx.text(r["reply"], size="1", color="gray", class_name="review-owner-reply",
                               style={"white_space": "pre-wrap", "overflow_wrap": "anywhere"}),
                       background="var(--gray-a2)", padding="0.5em", border_radius="8px", margin_top="0.4em")),
        rx.cond(S.is_manager,
                rx.hstack(
                    rx.button(tr("reviews.reply"), variant="ghost", size="1", class_name="review-reply-open",
                              on_click=S.open_review_reply(r["id"])),
                    rx.button(tr("reviews.hide"), variant="ghost", size="1", color_scheme="orange",
                              class_name="review-hide", on_click=S.hide_review(r["id"])),
                    spacing="3", margin_top="0.3em")),
        rx.cond(S.reply_to == r["id"], _reply_form(r)),
        width="100%", padding_y="0.7em", border_bottom="1px solid var(--gray-a3)", class_name="review",
        custom_attrs={"data-review-id": r["id"]},
    )


def reviews_section() -> rx.Component:
    """Summary, my review (buyers), the list. Loaded by `ReviewState.load_reviews` (course on_load)."""
    return rx.vstack(
        rating_summary(),
        _messages(),
        rx.cond(S.can_review, _my_review_form(),
                rx.cond(~S.has_review,
                        rx.text(tr("reviews.buyers_hint"), size="1", color="gray", id="review-buyers-hint"))),
        rx.cond(S.reviews.length() > 0,
                rx.vstack(rx.foreach(S.reviews, _review_item), spacing="0", width="100%", id="course-reviews"),
                rx.text(tr("course.no_reviews"), size="2", color="gray")),
        spacing="3", width="100%", id="reviews-section",
    )

"""The lesson discussion: `lesson_comments_section()` is self-contained (its own state and loader)
and is placed on /lesson/[lesson_id] under the player.

It loads when it mounts and again whenever the URL changes (client-side navigation to the next
lesson remounts it through its `key`). Every comment is rendered with `rx.text` — plain text, so
`<script>` or `<img onerror>` in a comment shows as the characters typed, never as HTML.
"""

from __future__ import annotations

import reflex as rx

from coursemall.components.forms import submit_button
from coursemall.components.i18n import tr
from coursemall.components.mfa import mfa_gate
from coursemall.components.theme import ACCENT
from coursemall.pages import routes
from coursemall.state.community.community import LessonCommentsState as S
from coursemall.state.learning.player import PlayerState


def _messages() -> rx.Component:
    return rx.fragment(
        # the TOTP step once per page: the player above shows it when the whole lesson needs it
        rx.cond(S.mfa_needed, rx.cond(PlayerState.mfa_needed, rx.fragment(), mfa_gate()),
                rx.cond(S.error != "",
                        rx.callout(S.error, icon="triangle_alert", color_scheme="red", role="alert",
                                   id="comment-error", size="1", width="100%"))),
        rx.cond(S.success != "",
                rx.callout(S.success, icon="circle_check", color_scheme="green", role="status",
                           id="comment-success", size="1", width="100%")),
    )


def _reply_form(item: rx.Var) -> rx.Component:
    return rx.form(
        rx.el.input(type="hidden", name="parent_id", value=item["id"]),
        rx.vstack(
            rx.text_area(name="text", placeholder=tr("community.reply_placeholder"), rows="2",
                         width="100%", class_name="reply-input", auto_focus=True),
            rx.hstack(
                rx.button(tr("community.cancel"), type="button", variant="ghost", size="1",
                          on_click=S.open_reply(item["id"])),
                submit_button(tr("community.reply_submit"), size="1", class_name="reply-submit"),
                justify="end", width="100%", spacing="2",
            ),
            spacing="2", width="100%",
        ),
        on_submit=S.post_reply, reset_on_submit=False, width="100%", margin_top="0.4em",
    )


def _comment_item(item: rx.Var) -> rx.Component:
    is_reply = item["reply"] == "1"
    return rx.box(
        rx.hstack(
            rx.avatar(src=item["avatar"], fallback=item["initial"], size=rx.cond(is_reply, "1", "2"),
                      radius="full"),
            rx.vstack(rx.text(item["author"], size="2", weight="medium", class_name="comment-author"),
                      rx.text(item["date"], size="1", color="gray"), spacing="0"),
            align="center", spacing="2", width="100%",
        ),
        # Plain text, never HTML (ARCHITECTURE.md): what a learner typed is shown as typed.
        rx.text(item["text"], size="2", class_name="comment-text", margin_top="0.3em",
                style={"white_space": "pre-wrap", "overflow_wrap": "anywhere"}),
        rx.hstack(
            rx.button(
                rx.icon("heart", size=14, fill=rx.cond(item["liked"] == "1", "#e03131", "none"),
                        color=rx.cond(item["liked"] == "1", "#e03131", "var(--gray-10)")),
                rx.text(item["likes"], size="1", class_name="comment-likes"),
                variant="ghost", size="1", color_scheme="gray", class_name="comment-like",
                aria_pressed=rx.cond(item["liked"] == "1", "true", "false"),
                on_click=S.toggle_like(item["id"]), disabled=~S.can_post,
            ),
            rx.cond(~is_reply & S.can_post,
                    rx.button(rx.icon("message-circle", size=14), tr("community.reply"), variant="ghost",
                              size="1", color_scheme="gray", class_name="comment-reply-open",
                              on_click=S.open_reply(item["id"]))),
            rx.cond(item["can_delete"] == "1",
                    rx.button(tr("community.delete"), variant="ghost", size="1", color_scheme="red",
                              class_name="comment-delete", on_click=S.delete_comment(item["id"]))),
            rx.cond(item["moderate"] == "1",
                    rx.button(tr("community.hide"), variant="ghost", size="1", color_scheme="orange",
                              class_name="comment-hide", on_click=S.hide_comment(item["id"]))),
            spacing="3", margin_top="0.3em", align="center",
        ),
        rx.cond(item["more"] != "",
                rx.button(tr("community.more_replies"), " (", item["more"], ")", variant="ghost", size="1",
                          class_name="comment-more-replies", on_click=S.load_replies(item["id"]))),
        rx.cond(S.reply_to == item["id"], _reply_form(item)),
        class_name=rx.cond(is_reply, "comment-item comment-reply", "comment-item"),
        custom_attrs={"data-comment-id": item["id"]},
        width="100%", padding_y="0.6em",
        padding_left=rx.cond(is_reply, "2.6em", "0"),
        border_bottom=rx.cond(is_reply, "none", "1px solid var(--gray-a3)"),
    )


def _post_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.text_area(id="comment-input", name="text", placeholder=tr("community.placeholder"),
                         rows="3", width="100%"),
            rx.hstack(submit_button(tr("community.submit"), id="comment-submit", size="2",
                                radius="full"),
                      justify="end", width="100%"),
            spacing="2", width="100%",
        ),
        on_submit=S.post_comment, reset_on_submit=False, width="100%",
        key=S.form_key,
    )


def _composer() -> rx.Component:
    return rx.cond(
        S.needs_sign_in,
        rx.link(tr("community.sign_in"), href=routes.SIGN_IN, id="comment-sign-in", size="2"),
        rx.cond(S.can_post, _post_form(),
                rx.cond(S.loaded, rx.text(tr("community.locked_hint"), size="2", color="gray",
                                          id="comment-locked"))),
    )


def _list() -> rx.Component:
    return rx.vstack(
        rx.foreach(S.items, _comment_item),
        rx.cond(S.loaded & (S.items.length() == 0) & ~S.needs_sign_in,
                rx.text(tr("community.empty"), size="2", color="gray", id="comments-empty")),
        rx.cond(S.next_before > 0,
                rx.button(tr("community.load_more"), variant="soft", size="2", id="comments-more",
                          on_click=S.load_more_comments, width="100%")),
        spacing="0", width="100%", id="comments-list",
    )


def lesson_comments_section() -> rx.Component:
    """The discussion under a lesson. Reads [lesson_id] from the route; loads itself."""
    return rx.box(
        rx.box(
            rx.hstack(
                rx.box(width="4px", height="1em", background=ACCENT, border_radius="2px"),
                rx.heading(tr("community.title"), size="4"),
                rx.spacer(),
                rx.cond(S.can_post & (S.lesson_id > 0),
                        rx.link(rx.icon("notebook-pen", size=14), tr("community.homework_link"),
                                href=f"/lesson/{S.lesson_id}/homework", id="homework-link", size="2")),
                align="center", spacing="2", width="100%", margin_bottom="0.6em",
            ),
            _messages(),
            _composer(),
            _list(),
            on_mount=S.load_comments,
            width="100%",
            style={"display": "flex", "flex_direction": "column", "gap": "0.6em"},
        ),
        key=rx.State.router.page.raw_path,
        id="lesson-comments", width="100%",
        background="var(--color-panel-solid)", border_radius="14px", padding="1em",
        box_shadow="0 1px 3px rgba(0,0,0,0.05)",
    )

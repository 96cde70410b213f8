"""Stateless pieces of the lesson player: speed bar, watermark, timeline markers, note form,
course outline, progress badges. The behaviour lives in assets/js/player.js."""

from __future__ import annotations

import reflex as rx

from coursemall.components.forms import submit_button
from coursemall.components.i18n import tr
from coursemall.components.outline import kind_icon
from coursemall.state.learning.player import SPEEDS, PlayerState

SPEED_LABELS = {"0.5": "0.5×", "0.75": "0.75×", "1": "1×", "1.25": "1.25×", "1.5": "1.5×", "2": "2×"}


def speed_bar() -> rx.Component:
    return rx.hstack(
        rx.text(tr("player.speed"), size="1", color="gray"),
        *[rx.el.button(SPEED_LABELS[s], id=f"speed-{s}", type="button",
                       custom_attrs={"data-speed": s, "aria-pressed": "false"},
                       style={"border": "1px solid var(--gray-a6)", "border_radius": "999px",
                              "padding": "2px 10px", "font_size": "13px", "background": "transparent",
                              "cursor": "pointer"})
          for s in SPEEDS],
        spacing="1", wrap="wrap", align="center", id="speed-bar",
    )


def _source_button(label_key: str, id_: str, attrs: dict) -> rx.Component:
    return rx.el.button(tr(label_key), id=id_, type="button", custom_attrs={**attrs, "aria-pressed": "false"},
                        style={"border": "1px solid var(--gray-a6)", "border_radius": "999px",
                               "padding": "2px 10px", "font_size": "13px", "background": "transparent",
                               "cursor": "pointer"})


def source_bar() -> rx.Component:
    """高清/标清 when both renditions exist, and 只听声音 when the lesson has an audio track.
    The buttons only carry names; the player script picks the signed URL from the media element."""
    return rx.cond(
        (PlayerState.hd_url != "") & (PlayerState.sd_url != "") | (PlayerState.listen_url != ""),
        rx.hstack(
            rx.cond((PlayerState.hd_url != "") & (PlayerState.sd_url != ""),
                    rx.hstack(rx.text(tr("player.quality"), size="1", color="gray"),
                              _source_button("player.quality_hd", "quality-hd", {"data-quality": "hd"}),
                              _source_button("player.quality_sd", "quality-sd", {"data-quality": "sd"}),
                              spacing="1", align="center")),
            rx.cond(PlayerState.listen_url != "",
                    rx.el.button(rx.hstack(rx.icon("headphones", size=14), tr("player.listen"), spacing="1",
                                           align="center"),
                                 id="listen-toggle", type="button", custom_attrs={"aria-pressed": "false"},
                                 style={"border": "1px solid var(--gray-a6)", "border_radius": "999px",
                                        "padding": "2px 10px", "font_size": "13px", "background": "transparent",
                                        "cursor": "pointer"})),
            spacing="3", wrap="wrap", align="center", id="source-bar",
        ),
    )


def listen_overlay() -> rx.Component:
    """Covers the (black) video while an audio track plays; shown by the player script."""
    return rx.box(
        rx.vstack(rx.icon("headphones", size=40, color="white"),
                  rx.text(tr("player.listening"), color="white", size="2", text_align="center"),
                  align="center", spacing="2"),
        id="listen-overlay", position="absolute", inset="0", bottom="48px", z_index="2",
        align_items="center", justify_content="center", border_radius="12px 12px 0 0",
        background="linear-gradient(135deg, #7c2d12, #b45309)",
        style={"display": "none", "pointer_events": "none"},
    )


def preview_banner() -> rx.Component:
    return rx.cond(PlayerState.preview_mode,
                   rx.callout(tr("player.preview_banner"), icon="eye", color_scheme="blue", size="1",
                              width="100%", id="preview-banner"))


def watermark() -> rx.Component:
    """The viewer's nickname and code over the media; moved every ~20 s by the player script."""
    return rx.cond(
        PlayerState.overlay_code != "",
        rx.box(
            rx.text(PlayerState.overlay_name, " · ", PlayerState.overlay_code, size="1"),
            class_name="cm-watermark", id="player-watermark",
            position="absolute", top="12%", left="8%", color="rgba(255,255,255,.55)", white_space="nowrap",
            text_shadow="0 0 2px rgba(0,0,0,.6)", z_index="3",
            style={"pointer_events": "none", "user_select": "none", "transition": "top 1s, left 1s",
                   "mix_blend_mode": "difference"},
        ),
    )


def article_watermark() -> rx.Component:
    return rx.cond(
        PlayerState.overlay_code != "",
        rx.box(
            rx.text(PlayerState.overlay_name, " · ", PlayerState.overlay_code, size="2"),
            class_name="cm-watermark", id="article-watermark",
            position="absolute", top="20%", left="10%", color="rgba(120,120,120,.28)", z_index="3",
            style={"pointer_events": "none", "user_select": "none", "transform": "rotate(-18deg)",
                   "transition": "top 1s, left 1s"},
        ),
    )


def marker_bar() -> rx.Component:
    """Own notes/questions and answered questions on a thin timeline; a click seeks there."""
    return rx.cond(
        PlayerState.markers.length() > 0,
        rx.vstack(
            rx.box(
                rx.foreach(PlayerState.markers, lambda m: rx.el.button(
                    "",
                    type="button", title=m["time"],
                    class_name="cm-marker",
                    custom_attrs={"data-seek": m["at"], "data-kind": m["kind"]},
                    style={"position": "absolute", "left": m["left"], "top": "-5px", "width": "12px",
                           "height": "12px", "margin_left": "-6px", "border_radius": "999px",
                           "border": "2px solid white", "cursor": "pointer", "padding": "0",
                           "background": rx.cond(m["kind"] == "question", "var(--blue-9)", "var(--orange-9)")},
                )),
                id="marker-bar", position="relative", width="100%", height="4px", border_radius="2px",
                background="var(--gray-a5)", margin_y="8px",
            ),
            rx.foreach(PlayerState.markers, marker_row),
            width="100%", spacing="1",
        ),
    )


def marker_row(m) -> rx.Component:
    return rx.hstack(
        rx.el.button(m["time"], type="button", custom_attrs={"data-seek": m["at"]}, class_name="cm-marker-time",
                     style={"font_family": "monospace", "font_size": "12px", "color": "var(--orange-11)",
                            "background": "transparent", "border": "none", "cursor": "pointer", "padding": "0"}),
        rx.badge(rx.cond(m["kind"] == "question", tr("player.kind_question"), tr("player.kind_note")),
                 color_scheme=rx.cond(m["kind"] == "question", "blue", "orange"), variant="soft", size="1"),
        rx.vstack(
            rx.text(m["text"], size="2", style={"white_space": "pre-wrap", "word_break": "break-word"}),
            rx.cond(m["answer"] != "",
                    rx.text(tr("player.answer"), ": ", m["answer"], size="1", color="gray",
                            style={"white_space": "pre-wrap", "word_break": "break-word"})),
            spacing="0", width="100%",
        ),
        width="100%", align="start", spacing="2", class_name="cm-marker-row",
    )


def note_form() -> rx.Component:
    """<details> needs no state round trip to open; the script fills `at` with the current time
    when the summary is clicked."""
    return rx.cond(
        PlayerState.can_track,
        rx.el.details(
            rx.el.summary(tr("player.note_button"), id="note-open",
                          style={"cursor": "pointer", "color": "var(--orange-11)", "font_size": "14px"}),
            rx.form(
                rx.vstack(
                    rx.el.input(name="at", id="note-at", type="text", default_value="0",
                                style={"display": "none"}),
                    rx.text_area(name="text", id="note-text", placeholder=tr("player.note_placeholder"),
                                 max_length=1000, width="100%", rows="3"),
                    rx.hstack(
                        rx.el.select(
                            rx.el.option(tr("player.kind_note"), value="note"),
                            rx.el.option(tr("player.kind_question"), value="question"),
                            name="kind", id="note-kind",
                            style={"padding": "4px 8px", "border_radius": "6px",
                                   "border": "1px solid var(--gray-a6)"}),
                        rx.spacer(),
                        submit_button(tr("player.note_save"), id="note-save", size="2"),
                        width="100%", align="center",
                    ),
                    width="100%", spacing="2",
                ),
                on_submit=PlayerState.save_note, reset_on_submit=False, key=PlayerState.note_form_key,
                width="100%",
            ),
            rx.cond(PlayerState.note_error != "",
                    rx.text(PlayerState.note_error, color="red", size="1", id="note-error")),
            rx.cond(PlayerState.note_message != "",
                    rx.text(PlayerState.note_message, color="green", size="1", id="note-message")),
            style={"width": "100%"},
        ),
    )


def bar(width, id_: str = "") -> rx.Component:
    """A plain progress bar (Radix Progress warns on 0 and mis-draws string values)."""
    return rx.box(rx.box(height="100%", width=width, background="var(--orange-9)", border_radius="3px"),
                  id=id_ or None, height="6px", width="100%", flex="1", border_radius="3px",
                  background="var(--gray-a4)", overflow="hidden")


def progress_line() -> rx.Component:
    return rx.cond(
        PlayerState.can_track,
        rx.vstack(
            rx.hstack(
                rx.text(tr("player.course_progress"), size="1", color="gray"),
                bar(f"{PlayerState.course_percent}%", "course-progress-bar"),
                rx.text(PlayerState.course_percent, "%", size="1", id="course-percent"),
                rx.cond(PlayerState.lesson_completed,
                        rx.badge(rx.icon("check", size=12), tr("player.lesson_done"), color_scheme="green",
                                 id="lesson-complete")),
                width="100%", align="center", spacing="2",
            ),
            rx.cond(PlayerState.certificate_href != "",
                    rx.link(rx.hstack(rx.icon("award", size=16), rx.text(tr("player.certificate_link")),
                                      align="center", spacing="1"),
                            href=PlayerState.certificate_href, id="certificate-link", color_scheme="orange")),
            width="100%", spacing="1",
        ),
    )


def _outline_lesson(ls) -> rx.Component:
    return rx.link(
        rx.hstack(
            kind_icon(ls["kind"]),
            rx.text(ls["title"], size="2", weight=rx.cond(ls["current"] == "1", "bold", "regular"),
                    style={"overflow": "hidden", "text_overflow": "ellipsis", "white_space": "nowrap"},
                    flex="1"),
            rx.text(ls["duration"], size="1", color="gray"),
            rx.cond(ls["unlocks"] != "",
                    rx.hstack(rx.icon("lock", size=12, color="var(--gray-9)"),
                              rx.text(ls["unlocks"], size="1", color="gray"),
                              spacing="1", align="center", class_name="cm-outline-unlocks",
                              title=tr("player.drip_locked"))),
            rx.cond(ls["done"] == "1", rx.icon("circle-check", size=14, color="var(--green-9)")),
            width="100%", align="center", spacing="2", padding="6px 8px", border_radius="6px",
            background=rx.cond(ls["current"] == "1", "var(--orange-a3)", "transparent"),
        ),
        href=ls["href"], underline="none", color="inherit", width="100%",
        custom_attrs={"data-lesson-link": ls["id"]},
    )


def outline_panel() -> rx.Component:
    return rx.cond(
        PlayerState.chapters.length() > 0,
        rx.vstack(
            rx.heading(tr("player.outline"), size="3"),
            rx.foreach(PlayerState.chapters, lambda ch, i: rx.vstack(
                rx.text(ch["title"], size="2", weight="medium", color="gray"),
                rx.foreach(PlayerState.outline[i], _outline_lesson),
                width="100%", spacing="0",
            )),
            id="player-outline", width="100%", spacing="2", padding="0.8em", border_radius="12px",
            background="var(--gray-a2)",
        ),
    )


def beat_inputs() -> rx.Component:
    """The player script's channel to the server: typing into these fires the handlers."""
    return rx.fragment(
        rx.el.input(id="player-beat", type="text", on_change=PlayerState.heartbeat,
                    style={"display": "none"}, aria_hidden="true", tab_index=-1),
        rx.el.input(id="player-read", type="text", on_change=PlayerState.article_read,
                    style={"display": "none"}, aria_hidden="true", tab_index=-1),
        rx.el.input(id="player-refresh", type="text", on_change=PlayerState.refresh_media,
                    style={"display": "none"}, aria_hidden="true", tab_index=-1),
    )

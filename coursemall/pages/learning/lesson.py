"""/lesson/[lesson_id]: the lesson player.

Free-trial and entitled lessons play encrypted HLS through hls.js, one signed playlist URL per
source bound to the viewer's session (HD/SD switch, "listen mode" audio); course managers preview
any lesson of their course; drip-locked lessons say when they open; `free_seconds` lessons play
the clip the media pipeline cut (it ends there; the server sends nothing past it) and then show a
buy prompt, or say the clip is being prepared; other lessons show "buy to unlock" and no media URL.
Video/audio: speed 0.5×–2× (remembered), resume / `?t=` seek, heartbeats, notes and questions
pinned to the timeline, next-lesson autoplay; articles: reading progress and read-to-end. The
behaviour is assets/js/player.js; the watermark shows the viewer's own nickname and code.
"""

from __future__ import annotations

import reflex as rx

from coursemall.components.comments import lesson_comments_section
from coursemall.components.i18n import tr
from coursemall.components.mfa import mfa_gate
from coursemall.components.outline import kind_icon, kind_label
from coursemall.pages import routes
from coursemall.components.page import shop_page
from coursemall.components.theme import ACCENT
from coursemall.components.player import (
    article_watermark,
    beat_inputs,
    listen_overlay,
    marker_bar,
    note_form,
    outline_panel,
    preview_banner,
    progress_line,
    source_bar,
    speed_bar,
    watermark,
)
from coursemall.state.catalog.storefront import LessonState
from coursemall.state.learning.player import PLAYER_JS_SRC, PlayerState

_MEDIA_STYLE = {"width": "100%", "display": "block", "background": "#000", "border_radius": "12px"}


def trial_over() -> rx.Component:
    """Shown by the trial guard script (state/catalog/storefront.py) when a partial preview reaches its end."""
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
            rx.center(rx.icon("headphones", size=48, color=ACCENT), height="140px",
                      background="linear-gradient(135deg, var(--orange-a3), var(--amber-a3))",
                      border_radius="12px", margin_bottom="0.6em"),
            rx.el.audio(controls=True, preload="metadata", id="lesson-audio", key=LessonState.media_url,
                        custom_attrs={"data-free-seconds": LessonState.free_seconds,
                                      "data-lesson": LessonState.lesson_id,
                                      # the encrypted playlist (or the free-seconds clip); the script plays it
                                      "data-src": PlayerState.src_url,
                                      "controlsList": "nodownload"},
                        style={"width": "100%"}),
            trial_over(),
            position="relative", width="100%",
        )),
        rx.box(
            rx.el.video(controls=True, plays_inline=True,
                        preload="metadata", id="lesson-video", key=LessonState.media_url,
                        custom_attrs={"data-free-seconds": LessonState.free_seconds,
                                      "data-lesson": LessonState.lesson_id,
                                      # signed URLs per source: encrypted HLS playlists (HD/SD switch,
                                      # listen mode) or the free-seconds clip; the script plays them
                                      "data-src": PlayerState.src_url, "data-hd": PlayerState.hd_url,
                                      "data-sd": PlayerState.sd_url, "data-listen": PlayerState.listen_url,
                                      "controlsList": "nodownload"},
                        style={**_MEDIA_STYLE, "aspect_ratio": "16 / 9"}),
            listen_overlay(),
            watermark(),
            trial_over(),
            position="relative", width="100%",
        ),
    )


def locked_box() -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.center(rx.icon("lock", size=30, color=ACCENT), width="64px", height="64px",
                      border_radius="999px", background="var(--orange-a3)"),
            rx.cond(
                PlayerState.unlock_text != "",
                rx.vstack(rx.text(tr("player.drip_locked"), text_align="center", weight="medium"),
                          rx.text(PlayerState.unlock_text, text_align="center", color="gray", id="lesson-unlocks"),
                          align="center", spacing="1"),
                rx.vstack(rx.text(tr("lesson.locked"), text_align="center", weight="medium"),
                          rx.link(rx.button(tr("lesson.buy_course"), radius="full", size="3"),
                                  href=LessonState.course_href, id="lesson-buy"),
                          align="center", spacing="3"),
            ),
            align="center", spacing="3",
        ),
        id="lesson-locked", width="100%", padding="2.5em 1em", border_radius="12px",
        background="var(--gray-a2)",
    )


def article_view() -> rx.Component:
    return rx.box(
        rx.box(rx.box(id="read-progress-bar", height="100%", width="0%", background="var(--orange-9)",
                      style={"transition": "width .2s"}),
               id="read-progress", position="fixed", top="0", left="0", height="3px", width="100%",
               background="var(--gray-a3)", z_index="30"),
        rx.box(rx.html(LessonState.article_html), id="lesson-article", class_name="rich-text",
               custom_attrs={"data-lesson": LessonState.lesson_id},
               style={"line_height": "1.8", "font_size": "16px",
                      "& img": {"max_width": "100%", "height": "auto", "border_radius": "8px"}},
               width="100%"),
        rx.box(id="article-end", height="1px", width="100%"),
        article_watermark(),
        position="relative", width="100%", overflow="hidden",
    )


def lesson_content() -> rx.Component:
    return rx.cond(
        LessonState.access == "locked",
        locked_box(),
        rx.cond(
            LessonState.kind == "article",
            article_view(),
            rx.cond(
                LessonState.media_url != "",
                rx.vstack(
                    player(),
                    speed_bar(),
                    source_bar(),
                    marker_bar(),
                    note_form(),
                    rx.cond(LessonState.partial_text != "",
                            rx.callout(LessonState.partial_text, icon="clock", color_scheme="orange",
                                       size="1", width="100%", id="lesson-partial-note")),
                    rx.cond((PlayerState.unlock_text != "") & (LessonState.access != "locked"),
                            rx.callout(PlayerState.unlock_text, icon="calendar-clock", size="1",
                                       width="100%", id="lesson-unlocks")),
                    width="100%", spacing="2",
                ),
                rx.cond(PlayerState.preparing_text != "",
                        rx.callout(PlayerState.preparing_text, icon="hourglass", width="100%",
                                   id="lesson-preparing"),
                        rx.callout(tr("lesson.no_media"), icon="info", width="100%")),
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
                preview_banner(),
                rx.cond(PlayerState.mfa_needed, mfa_gate()),
                lesson_content(),
                rx.hstack(kind_icon(LessonState.kind),
                          rx.text(kind_label(LessonState.kind), size="1", color="gray"),
                          rx.text(LessonState.duration, size="1", color="gray"),
                          rx.cond((LessonState.access != "locked") & ~PlayerState.entitled,
                                  rx.badge(tr("lesson.free_badge"), color_scheme="orange",
                                           variant="soft")),
                          align="center", spacing="2"),
                rx.heading(LessonState.title, size="5", id="lesson-title"),
                progress_line(),
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
                outline_panel(),
                lesson_comments_section(),
                beat_inputs(),
                width="100%", spacing="3",
            ),
            rx.center(rx.spinner(size="3"), padding="4em", width="100%"),
        ),
    )


@shop_page(routes.LESSON, "page.title.lesson", on_load=[PlayerState.load_player])
def lesson() -> rx.Component:
    # The page asks for the player script as it renders (on a full load its fetch runs alongside
    # hydration); load_player's boot call starts it, or loads it itself if it is not there yet.
    # Same id as the boot's own script tag, so the file is never added twice.
    return rx.fragment(rx.script(src=PLAYER_JS_SRC, id="cm-player-js"), lesson_body())

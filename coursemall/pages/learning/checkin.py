"""/course/[course_id]/checkin: today's check-in (text + optional photo), streaks, and the recent
check-ins of the course's learners. Check-in text is rendered as plain text."""

from __future__ import annotations

import reflex as rx

from coursemall.components.i18n import tr
from coursemall.components.mfa import mfa_gate
from coursemall.components.page import shop_page
from coursemall.components.theme import ACCENT
from coursemall.pages import routes
from coursemall.state.community.community import CHECKIN_UPLOAD, CheckinState as S

_ACCEPT = {"image/jpeg": [".jpg", ".jpeg"], "image/png": [".png"], "image/webp": [".webp"],
           "image/gif": [".gif"]}


def _messages() -> rx.Component:
    return rx.fragment(
        rx.cond(S.mfa_needed, mfa_gate(),
                rx.cond(S.error != "",
                        rx.callout(S.error, icon="triangle_alert", color_scheme="red", role="alert", id="form-error",
                                   width="100%"))),
        rx.cond(S.success != "",
                rx.callout(S.success, icon="circle_check", color_scheme="green", role="status",
                           id="form-success", width="100%")),
    )


def _stat(label_key: str, value, id_: str) -> rx.Component:
    return rx.card(rx.vstack(rx.heading(value, size="7", color=ACCENT, id=id_),
                             rx.text(tr(label_key), size="1", color="gray"), align="center", spacing="1"),
                   flex="1")


def _form() -> rx.Component:
    return rx.cond(
        S.checked_today,
        rx.callout(tr("checkin.ui.today_done"), icon="calendar-check", color_scheme="green", id="checkin-done",
                   width="100%"),
        rx.vstack(
            rx.text_area(id="checkin-text", value=S.text, on_change=S.edit_checkin_text,
                         placeholder=tr("checkin.ui.placeholder"), rows="3", width="100%"),
            rx.upload(
                rx.vstack(
                    rx.icon("image-plus", size=22, color="var(--gray-9)"),
                    rx.text(tr("checkin.ui.photo"), size="2", color="gray", text_align="center"),
                    rx.foreach(rx.selected_files(CHECKIN_UPLOAD), lambda f: rx.text(f, size="1", weight="medium")),
                    align="center", spacing="1",
                ),
                id=CHECKIN_UPLOAD, max_files=1, multiple=False, accept=_ACCEPT,
                border="1px dashed var(--gray-a7)", border_radius="12px", padding="1em", width="100%",
                cursor="pointer",
            ),
            rx.button(rx.icon("calendar-check", size=16), tr("checkin.ui.submit"), id="checkin-submit", size="3",
                      radius="full", width="100%",
                      on_click=S.submit_checkin(rx.upload_files(upload_id=CHECKIN_UPLOAD))),
            spacing="2", width="100%", id="checkin-form",
        ),
    )


def _item(it: rx.Var) -> rx.Component:
    return rx.box(
        rx.hstack(rx.avatar(src=it["avatar"], fallback=it["initial"], size="2", radius="full"),
                  rx.vstack(rx.text(it["author"], size="2", weight="medium"),
                            rx.text(it["date"], size="1", color="gray"), spacing="0"),
                  align="center", spacing="2"),
        rx.text(it["text"], size="2", margin_top="0.3em", class_name="checkin-text",
                style={"white_space": "pre-wrap", "overflow_wrap": "anywhere"}),
        rx.cond(it["photo"] != "",
                rx.image(src=it["photo"], alt="", max_width="100%", max_height="320px", border_radius="8px",
                         margin_top="0.4em", loading="lazy", class_name="checkin-photo")),
        class_name="checkin-item", width="100%", padding_y="0.7em", border_bottom="1px solid var(--gray-a3)",
    )


def checkin_body() -> rx.Component:
    return rx.vstack(
        rx.cond(S.course_href != "",
                rx.link(rx.hstack(rx.icon("chevron-left", size=16), rx.text(tr("checkin.ui.back")),
                                  align="center", spacing="1"),
                        href=S.course_href, id="checkin-back", size="2", underline="none")),
        rx.heading(tr("checkin.ui.title"), size="6"),
        _messages(),
        rx.cond(
            S.allowed,
            rx.vstack(
                rx.hstack(_stat("checkin.ui.streak_current", S.streak_current, "streak-current"),
                          _stat("checkin.ui.streak_longest", S.streak_longest, "streak-longest"),
                          _stat("checkin.ui.total", S.total_days, "checkin-total"),
                          spacing="2", width="100%"),
                _form(),
                rx.heading(tr("checkin.ui.recent"), size="4", margin_top="0.6em"),
                rx.cond(S.items.length() > 0,
                        rx.vstack(rx.foreach(S.items, _item), spacing="0", width="100%", id="checkin-list"),
                        rx.text(tr("checkin.ui.empty"), size="2", color="gray")),
                spacing="3", width="100%",
            ),
            rx.cond(~S.loaded, rx.center(rx.spinner(size="3"), width="100%", padding="2em")),
        ),
        spacing="3", width="100%",
    )


@shop_page(routes.CHECKIN, "page.title.checkin", on_load=[S.load_checkin])
def checkin() -> rx.Component:
    return checkin_body()

"""/messages: the in-app message centre (newest first, unread highlighted, mark all read)."""

from __future__ import annotations

import reflex as rx

from coursemall.components.i18n import tr
from coursemall.components.shop import form_messages, page_column
from coursemall.components.page import shop_page
from coursemall.pages import routes
from coursemall.state.commerce.shop import MessageCenterState as M


def _item(m: rx.Var) -> rx.Component:
    unread = m["unread"] == "1"
    return rx.box(
        rx.hstack(
            rx.cond(unread, rx.box(width="8px", height="8px", border_radius="4px", background="#e03131",
                                   flex_shrink="0")),
            rx.text(m["title"], weight=rx.cond(unread, "bold", "regular"), size="3"),
            rx.spacer(),
            rx.text(m["date"], size="1", color="gray"),
            width="100%", align="center", spacing="2",
        ),
        rx.text(m["body"], size="2", color="gray", margin_top="0.3em"),
        rx.cond(m["link"] != "", rx.link(tr("messages.open"), href=m["link"], size="2")),
        background=rx.cond(unread, "var(--orange-a2)", "var(--color-panel-solid)"),
        border_radius="12px", padding="0.9em", width="100%",
        border=rx.cond(unread, "1px solid var(--orange-a6)", "1px solid var(--gray-a3)"),
        class_name=rx.cond(unread, "message-item message-unread", "message-item"),
    )


def messages_body() -> rx.Component:
    return page_column(
        rx.hstack(
            rx.heading(tr("messages.title"), size="6"), rx.spacer(),
            rx.button(rx.icon("check-check", size=14), tr("messages.read_all"), variant="soft", size="2",
                      id="messages-read-all", on_click=M.read_all),
            width="100%", align="center",
        ),
        form_messages(M),
        rx.cond(
            M.loaded,
            rx.cond(M.items.length() > 0,
                    rx.vstack(rx.foreach(M.items, _item), spacing="2", width="100%", id="messages-list"),
                    rx.center(rx.text(tr("messages.empty"), color="gray", id="messages-empty"),
                              padding="3em", width="100%")),
            rx.center(rx.spinner(size="3"), padding="3em", width="100%"),
        ),
    )


@shop_page(routes.MESSAGES, "page.title.messages", on_load=[M.load_messages])
def messages_page() -> rx.Component:
    return messages_body()

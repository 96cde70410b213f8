"""/outbox (demo): the one-time codes and messages the demo "sent"."""

from __future__ import annotations

import reflex as rx

from coursemall.components.i18n import tr
from coursemall.components.page import shop_page
from coursemall.pages import routes
from coursemall.state.accounts.sign_in import OutboxState


def _row(msg: rx.Var) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(rx.badge(msg["channel"]), rx.text(msg["target"], weight="bold", size="2"),
                      rx.spacer(), rx.text(msg["time"], size="1", color="gray"), width="100%",
                      align="center", wrap="wrap"),
            rx.text(msg["body"], size="2", class_name="outbox-body"),
            spacing="2", width="100%",
        ),
        class_name="outbox-row", width="100%",
    )


@shop_page(routes.OUTBOX, "page.title.outbox", on_load=[OutboxState.load_outbox])
def outbox_page() -> rx.Component:
    return rx.center(rx.vstack(
        rx.hstack(rx.heading(tr("outbox.title"), size="6"), rx.spacer(),
                  rx.button(tr("outbox.refresh"), on_click=OutboxState.load_outbox,
                            variant="soft", size="2", id="outbox-refresh"),
                  width="100%", align="center"),
        rx.cond(
            OutboxState.enabled,
            rx.vstack(
                rx.text(tr("outbox.intro"), size="2", color="gray"),
                rx.cond(OutboxState.messages.length() > 0,
                        rx.foreach(OutboxState.messages, _row),
                        rx.text(tr("outbox.empty"), color="gray")),
                spacing="3", width="100%",
            ),
            rx.callout(tr("outbox.disabled"), icon="info", id="outbox-disabled"),
        ),
        spacing="4", width="100%", max_width="520px",
    ), width="100%")

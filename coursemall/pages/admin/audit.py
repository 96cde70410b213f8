"""/admin/audit (owner): the audit log of owner, staff and instructor actions, newest first,
filtered by action prefix and actor, one page at a time. Times in China time.

Like every page it compiles into the public bundle; the data comes only from the
`@owner_required` handlers of AuditState (state/accounts/security.py).
"""

from __future__ import annotations

import reflex as rx

from coursemall.components.dashboard import dashboard_messages
from coursemall.components.forms import submit_button
from coursemall.components.i18n import tr
from coursemall.components.page import dashboard, shop_page
from coursemall.pages import routes
from coursemall.state.accounts.security import AuditState

_SELECT_STYLE = {"padding": "0.5em", "border-radius": "6px", "border": "1px solid var(--gray-a7)",
                 "background": "var(--color-background)", "width": "100%"}


def _filters() -> rx.Component:
    s = AuditState
    return rx.card(rx.form(
        rx.flex(
            rx.vstack(
                rx.el.label(tr("audit.ui.action_prefix"), html_for="audit-action", font_size="0.9em"),
                rx.input(name="action", id="audit-action", max_length=60, default_value=s.action_filter,
                         size="2", width="100%"),
                spacing="1", flex="1", min_width="12em",
            ),
            rx.vstack(
                rx.el.label(tr("audit.ui.actor"), html_for="audit-actor", font_size="0.9em"),
                rx.el.select(
                    rx.el.option(tr("audit.ui.all_actors"), value=""),
                    rx.foreach(s.actors, lambda a: rx.el.option(a["nickname"], value=a["id"])),
                    name="actor", id="audit-actor", default_value=s.actor_filter, style=_SELECT_STYLE,
                ),
                spacing="1", flex="1", min_width="10em",
            ),
            submit_button(tr("audit.ui.apply"), id="audit-apply", size="2", align_self="end"),
            gap="3", wrap="wrap", width="100%",
        ),
        on_submit=s.filter_audit, reset_on_submit=False, width="100%",
    ), width="100%")


def _entry(row) -> rx.Component:
    return rx.card(rx.vstack(
        rx.hstack(rx.code(row["action"], size="2"), rx.spacer(), rx.text(row["time"], size="1", color="gray"),
                  width="100%", align="center"),
        rx.hstack(rx.text(row["actor"], size="2", weight="bold"),
                  rx.text(row["target"], size="2", color="gray", word_break="break-all"),
                  spacing="2", wrap="wrap"),
        rx.cond(row["detail"] != "", rx.text(row["detail"], size="1", color="gray", font_family="monospace",
                                             word_break="break-all")),
        spacing="1", width="100%",
    ), width="100%", class_name="audit-row", key=row["id"])


def _pager() -> rx.Component:
    s = AuditState
    return rx.hstack(
        rx.button(tr("audit.ui.prev"), on_click=s.prev_audit_page, disabled=s.audit_page <= 1, variant="soft",
                  id="audit-prev", size="2"),
        rx.text(s.page_label, size="2", id="audit-page"),
        rx.button(tr("audit.ui.next"), on_click=s.next_audit_page, disabled=~s.has_more, variant="soft",
                  id="audit-next", size="2"),
        spacing="3", align="center", justify="center", width="100%",
    )


@shop_page(routes.ADMIN_AUDIT, "audit.title", on_load=[AuditState.load_audit], layout=dashboard(AuditState))
def admin_audit_page() -> rx.Component:
    s = AuditState
    return (
        dashboard_messages(s, "page"),
        _filters(),
        dashboard_messages(s, "list"),
        rx.cond(s.entries.length() == 0, rx.text(tr("admin.empty"), color="gray", size="2", id="audit-empty")),
        rx.vstack(rx.foreach(s.entries, _entry), spacing="2", width="100%"),
        _pager(),
    )

"""/admin: the dashboard overview — today's figures (China time), the queues that wait, and the
last 30 days of revenue. Instructors see only their own courses' figures (the service scopes)."""

from __future__ import annotations

import reflex as rx

from coursemall.components.dashboard import dashboard_messages
from coursemall.components.i18n import tr
from coursemall.components.page import dashboard, shop_page
from coursemall.components.theme import ACCENT, ACCENT_SOFT
from coursemall.pages import routes
from coursemall.state.dashboard.analytics import DashboardHomeState

S = DashboardHomeState


def _figure(label_key: str, value, id_: str) -> rx.Component:
    return rx.card(rx.vstack(rx.text(tr(label_key), size="2", color="gray"),
                             rx.heading(value, size="7", id=id_), spacing="1"), width="100%")


def _queue(label_key: str, value, href: str, id_: str) -> rx.Component:
    return rx.link(
        rx.card(rx.hstack(rx.text(tr(label_key), size="2"), rx.spacer(),
                          rx.badge(value, size="2", color_scheme=rx.cond(value > 0, "orange", "gray"), id=id_),
                          align="center", width="100%"), width="100%"),
        href=href, underline="none", width="100%", color="inherit",
    )


def _spark() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(rx.text(tr("dash.spark_title"), weight="medium"), rx.spacer(),
                      rx.link(tr("dash.more_analytics"), href=routes.ADMIN_ANALYTICS, size="2",
                              id="dash-more-analytics"), width="100%"),
            rx.recharts.area_chart(
                rx.recharts.area(data_key="yuan", stroke=ACCENT, fill=ACCENT_SOFT, type_="monotone",
                                 name="¥"),
                rx.recharts.x_axis(data_key="day", tick_line=False, font_size=10, interval=6),
                rx.recharts.y_axis(width=44, font_size=10),
                rx.recharts.graphing_tooltip(),
                data=S.spark, width="100%", height=180,
            ),
            width="100%", spacing="2",
        ),
        width="100%", id="dash-spark",
    )


def _golive_row(row) -> rx.Component:
    blocking = row["severity"] == "blocking"
    return rx.vstack(
        rx.hstack(rx.badge(rx.cond(blocking, tr("golive.blocking"), tr("golive.warning")),
                           color_scheme=rx.cond(blocking, "red", "amber")),
                  rx.code(row["code"], size="1"), spacing="2", align="center", wrap="wrap"),
        rx.text(row["problem"], size="2"),
        rx.text(tr("golive.how"), row["fix"], size="2", color="gray"),
        spacing="1", width="100%", class_name="golive-finding", custom_attrs={"data-code": row["code"]},
    )


def _golive_card() -> rx.Component:
    """The go-live check (owner only): what this shop must still fix before going live."""
    return rx.card(
        rx.vstack(
            rx.hstack(rx.text(tr("golive.title"), weight="medium"), rx.spacer(),
                      rx.badge(S.golive_summary, color_scheme=rx.cond(S.golive_blocking > 0, "red", "green"),
                               id="golive-summary"),
                      width="100%", align="center", wrap="wrap"),
            rx.foreach(S.golive_rows, _golive_row),
            spacing="3", width="100%",
        ),
        width="100%", id="golive-card",
    )


@shop_page(routes.ADMIN, "admin.nav.home",
           on_load=[DashboardHomeState.load_dashboard_home],
           layout=dashboard(S))
def admin_home_page() -> rx.Component:
    return (
        dashboard_messages(S, "page"),
        rx.hstack(rx.text(tr("dash.today"), size="2", color="gray"), rx.text(S.today, size="2", color="gray"),
                  rx.cond(~S.is_staff, rx.badge(tr("dash.scope_instructor"), color_scheme="blue")),
                  spacing="2", align="center", wrap="wrap"),
        rx.grid(
            _figure("dash.today_revenue", S.today_revenue, "dash-today-revenue"),
            _figure("dash.today_orders", S.today_orders, "dash-today-orders"),
            _figure("dash.today_learners", S.today_learners, "dash-today-learners"),
            columns=rx.breakpoints(initial="1", sm="3"), spacing="3", width="100%",
        ),
        rx.grid(
            rx.cond(S.is_staff, _queue("dash.pending_refunds", S.pending_refunds, routes.ADMIN_REFUNDS,
                                       "admin-count-refunds")),
            rx.cond(S.is_staff, _queue("dash.pending_manual", S.pending_manual, routes.ADMIN_MANUAL,
                                       "admin-count-manual")),
            _queue("dash.pending_homework", S.pending_homework, routes.ADMIN_HOMEWORK, "dash-pending-homework"),
            columns=rx.breakpoints(initial="1", sm="3"), spacing="3", width="100%",
        ),
        rx.cond(S.is_owner & (S.golive_summary != ""), _golive_card()),
        _spark(),
    )

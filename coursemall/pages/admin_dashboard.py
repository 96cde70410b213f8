"""/admin: the dashboard overview (what waits for the owner; today's figures)."""

from __future__ import annotations

import reflex as rx

from coursemall.components.dashboard import dashboard_messages, dashboard_page
from coursemall.components.i18n import tr
from coursemall.pages import routes
from coursemall.state.admin import AdminHomeState
from coursemall.state.base import AppState



def _count_card(label_key: str, value, href: str, id_: str) -> rx.Component:
    return rx.link(
        rx.card(rx.vstack(rx.text(tr(label_key), size="2", color="gray"),
                          rx.heading(value, size="7", id=id_), spacing="1"), width="100%"),
        href=href, underline="none", width="100%",
    )


@rx.page(route=routes.ADMIN, title="店铺管理 · CourseMall",
         on_load=[AppState.load_viewer, AdminHomeState.load_admin_home])
def admin_home_page() -> rx.Component:
    return dashboard_page(
        AdminHomeState, routes.ADMIN, "admin.nav.home",
        dashboard_messages(AdminHomeState, "page"),
        rx.grid(
            _count_card("admin.count.pending_refunds", AdminHomeState.pending_refunds, routes.ADMIN_REFUNDS,
                        "admin-count-refunds"),
            _count_card("admin.count.pending_manual", AdminHomeState.pending_manual, routes.ADMIN_MANUAL,
                        "admin-count-manual"),
            _count_card("admin.count.paid_orders", AdminHomeState.paid_orders, routes.ADMIN_ORDERS,
                        "admin-count-paid"),
            columns=rx.breakpoints(initial="1", sm="3"), spacing="3", width="100%",
        ),
    )



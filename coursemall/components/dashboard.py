"""The dashboard frame: role-filtered navigation, the permission states (spinner, TOTP step,
forbidden) and the page heading. Every dashboard page renders through `dashboard_page`.

The pages compile into the public bundle like every page: the flags only hide UI. Data is
protected by the guarded handlers (state/guards.py) and the services.
"""

from __future__ import annotations

import reflex as rx

from coursemall.components.i18n import tr
from coursemall.components.layout import page_frame
from coursemall.components.mfa import mfa_gate
from coursemall.components.shop import form_messages
from coursemall.pages import routes
from coursemall.state.base import AppState

# (message key, route, element id, who sees it: "all" = instructors too, "staff", "owner")
NAV: tuple[tuple[str, str, str, str], ...] = (
    ("admin.nav.home", routes.ADMIN, "admin-nav-home", "all"),
    ("admin.nav.courses", routes.ADMIN_COURSES, "admin-nav-courses", "all"),
    ("admin.nav.media", routes.ADMIN_MEDIA, "admin-nav-media", "all"),
    ("admin.nav.analytics", routes.ADMIN_ANALYTICS, "admin-nav-analytics", "all"),
    ("admin.nav.orders", routes.ADMIN_ORDERS, "admin-nav-orders", "staff"),
    ("admin.nav.refunds", routes.ADMIN_REFUNDS, "admin-nav-refunds", "staff"),
    ("admin.nav.manual", routes.ADMIN_MANUAL, "admin-nav-manual", "staff"),
    ("admin.nav.learners", routes.ADMIN_LEARNERS, "admin-nav-learners", "staff"),
    ("admin.nav.homework", routes.ADMIN_HOMEWORK, "admin-nav-homework", "all"),
    ("admin.nav.moderation", routes.ADMIN_MODERATION, "admin-nav-moderation", "all"),
    ("admin.nav.instructors", routes.ADMIN_INSTRUCTORS, "admin-nav-instructors", "all"),
    ("admin.nav.leak", routes.ADMIN_LEAK, "admin-nav-leak", "staff"),
    ("admin.nav.shop_settings", routes.ADMIN_SHOP_SETTINGS, "admin-nav-shop-settings", "owner"),
    ("admin.nav.settings", routes.ADMIN_PAYMENT_SETTINGS, "admin-nav-settings", "owner"),
    ("admin.nav.audit", routes.ADMIN_AUDIT, "admin-nav-audit", "owner"),
    ("admin.nav.staff", routes.ADMIN_STAFF, "admin-nav-staff", "owner"),
    ("admin.nav.security", routes.ADMIN_SECURITY, "admin-nav-security", "all"),
)


def _nav_button(key: str, href: str, id_: str, current: str) -> rx.Component:
    active = href == current
    # the active section in the owner's accent colour (the frame's theme), the others gray
    scheme = {} if active else {"color_scheme": "gray"}
    return rx.link(rx.button(tr(key), variant="solid" if active else "soft", size="2", **scheme),
                   href=href, id=id_, underline="none", flex_shrink="0")


def dashboard_nav(state, current: str) -> rx.Component:
    items = []
    for key, href, id_, who in NAV:
        button = _nav_button(key, href, id_, current)
        if who == "staff":
            button = rx.cond(state.is_staff, button)
        elif who == "owner":
            button = rx.cond(state.is_owner, button)
        items.append(button)
    return rx.flex(*items, gap="2", width="100%", overflow_x="auto", padding_bottom="0.3em")


def dashboard_messages(state, section: str) -> rx.Component:
    """The error/success callout of one part of a page (state.section == section)."""
    return form_messages(state, section)


def forbidden_notice() -> rx.Component:
    return rx.callout(
        rx.vstack(
            rx.text(tr("admin.forbidden"), weight="bold"),
            rx.cond(~AppState.signed_in,
                    rx.link(tr("admin.sign_in_hint"), href=routes.SIGN_IN, id="admin-sign-in")),
            spacing="1",
        ),
        icon="shield_alert", color_scheme="red", role="alert", id="admin-forbidden", width="100%",
    )


def shop_closed_notice() -> rx.Component:
    """Before the owner's one-time setup: the dashboard is closed for everyone."""
    return rx.callout(
        rx.vstack(rx.text(tr("setup.closed_title"), weight="bold"),
                  rx.text(tr("setup.dashboard_closed"), size="2"), spacing="1"),
        icon="store", color_scheme="orange", role="alert", id="admin-shop-closed", width="100%",
    )


def dashboard_page(state, route: str, title_key: str, *body: rx.Component) -> rx.Component:
    """A dashboard page for `state` (a DashboardBaseState): nav + title + body once this page's
    own load admitted the viewer; the TOTP step or the refusal once it denied them."""
    name = state.get_full_name()
    return page_frame(rx.vstack(
        rx.heading(tr("admin.title"), size="3", color="gray"),
        rx.cond(
            state.allowed & (state.admitted == name),
            rx.vstack(dashboard_nav(state, route), rx.heading(tr(title_key), size="6"), *body,
                      spacing="4", width="100%"),
            rx.cond(state.denied == name,
                    rx.cond(state.mfa_needed, mfa_gate(),
                            rx.cond(state.shop_closed, shop_closed_notice(), forbidden_notice())),
                    rx.center(rx.spinner(size="3"), width="100%", padding="2em")),
        ),
        spacing="3", width="100%",
    ))

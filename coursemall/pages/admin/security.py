"""/admin/security (every dashboard user: TOTP enrolment, verification of this device, recovery
codes) and /admin/staff (owner: staff accounts, promote, demote, reset 2FA).

Like every page these compile into the public bundle; the flags only hide UI. The handlers are
guarded (state/accounts/security.py) and the services check the role again.
"""

from __future__ import annotations

import reflex as rx

from coursemall.components.dashboard import dashboard_messages
from coursemall.components.forms import submit_button
from coursemall.components.i18n import tr
from coursemall.components.mfa import code_input
from coursemall.components.page import dashboard, shop_page
from coursemall.pages import routes
from coursemall.state.accounts.security import SecurityState, StaffState


# ---------------------------------------------------------------------------------- /admin/security

def _status_card() -> rx.Component:
    s = SecurityState
    return rx.card(rx.vstack(
        rx.hstack(
            rx.badge(rx.cond(s.enrolled, tr("mfa.ui.on"), tr("mfa.ui.off")),
                     color_scheme=rx.cond(s.enrolled, "green", "orange"), size="2", id="mfa-status"),
            rx.badge(rx.cond(s.verified, tr("mfa.ui.device_verified"), tr("mfa.ui.device_unverified")),
                     color_scheme=rx.cond(s.verified, "green", "gray"), size="2", id="mfa-device"),
            spacing="2", wrap="wrap",
        ),
        rx.text(rx.cond(s.required, tr("mfa.ui.required"), tr("mfa.ui.optional")), size="2", color="gray"),
        rx.cond(s.enrolled, rx.text(s.recovery_left_text, size="2", id="mfa-recovery-left")),
        rx.cond(s.verified & (s.next_path != routes.ADMIN_SECURITY),
                rx.link(rx.button(tr("mfa.ui.continue"), size="3", width="100%"), href=s.next_path,
                        id="mfa-continue", width="100%")),
        spacing="2", width="100%",
    ), width="100%")


def _verify_card() -> rx.Component:
    return rx.card(rx.vstack(
        rx.heading(tr("mfa.ui.verify_title"), size="4"),
        dashboard_messages(SecurityState, "verify"),
        rx.form(
            rx.vstack(
                rx.el.label(tr("mfa.ui.code_label"), html_for="mfa-code", font_size="0.9em"),
                rx.flex(code_input("mfa-code"),
                        submit_button(tr("mfa.ui.verify"), id="mfa-verify", size="3"),
                        gap="2", width="100%", wrap="wrap"),
                spacing="1", width="100%",
            ),
            on_submit=SecurityState.verify_device, reset_on_submit=True, width="100%",
        ),
        spacing="3", width="100%",
    ), width="100%")


def _enrol_form() -> rx.Component:
    s = SecurityState
    return rx.vstack(
        rx.text(tr("mfa.ui.enrol_step1"), size="2"),
        rx.center(rx.image(src=s.enrol_qr, alt="QR", width="200px", height="200px", id="mfa-qr"), width="100%"),
        rx.text(tr("mfa.ui.enrol_manual"), size="2", color="gray"),
        rx.code(s.enrol_key, id="mfa-key", word_break="break-all", size="3"),
        rx.text(tr("mfa.ui.enrol_step2"), size="2"),
        rx.form(
            rx.flex(code_input("mfa-enrol-code"),
                    submit_button(tr("mfa.ui.enrol_confirm"), id="mfa-enrol-confirm", size="3"),
                    gap="2", width="100%", wrap="wrap"),
            on_submit=s.confirm_enrol, reset_on_submit=True, width="100%",
        ),
        rx.button(tr("mfa.ui.enrol_cancel"), on_click=s.cancel_enrol, variant="soft", color_scheme="gray",
                  id="mfa-enrol-cancel"),
        spacing="2", width="100%",
    )


def _enrol_card() -> rx.Component:
    s = SecurityState
    start_key = rx.cond(s.enrolled, tr("mfa.ui.enrol_replace"), tr("mfa.ui.enrol_start"))
    return rx.card(rx.vstack(
        rx.heading(tr("mfa.ui.enrol_title"), size="4"),
        dashboard_messages(s, "enrol"),
        rx.cond(s.enrolling, _enrol_form(),
                rx.button(start_key, on_click=s.start_enrol, size="3", id="mfa-enrol-start",
                          variant=rx.cond(s.enrolled, "soft", "solid"))),
        spacing="3", width="100%",
    ), width="100%")


def _codes_card() -> rx.Component:
    s = SecurityState
    return rx.card(rx.vstack(
        rx.heading(tr("mfa.ui.codes_title"), size="4"),
        dashboard_messages(s, "codes"),
        rx.cond(
            s.new_codes.length() > 0,
            rx.vstack(
                rx.text(tr("mfa.ui.codes_hint"), size="2", color="orange"),
                rx.grid(rx.foreach(s.new_codes, lambda c: rx.code(c, size="3", class_name="mfa-recovery-code")),
                        columns="2", spacing="2", width="100%", id="mfa-codes"),
                rx.button(tr("mfa.ui.codes_done"), on_click=s.hide_codes, id="mfa-codes-done", size="2"),
                spacing="2", width="100%",
            ),
            rx.cond(s.verified,
                    rx.button(tr("mfa.ui.codes_regenerate"), on_click=s.regenerate_codes, variant="soft",
                              id="mfa-codes-regenerate", size="2")),
        ),
        spacing="3", width="100%",
    ), width="100%")


@shop_page(routes.ADMIN_SECURITY, "admin.nav.security",
           on_load=[SecurityState.load_security],
           layout=dashboard(SecurityState))
def admin_security_page() -> rx.Component:
    s = SecurityState
    return (
        dashboard_messages(s, "page"),
        _status_card(),
        rx.cond(s.enrolled & ~s.verified, _verify_card()),
        rx.cond(~s.enrolled | s.verified, _enrol_card()),
        rx.cond(s.enrolled | (s.new_codes.length() > 0), _codes_card()),
        rx.cond(s.is_owner, rx.link(tr("staff.title"), href=routes.ADMIN_STAFF, id="admin-staff-link")),
    )


# ---------------------------------------------------------------------------------- /admin/staff

def _staff_card(row) -> rx.Component:
    is_staff = row["role"] == "staff"
    return rx.card(rx.vstack(
        rx.hstack(
            rx.text(row["nickname"], weight="bold"),
            rx.badge(rx.cond(is_staff, tr("staff.ui.role.staff"), tr("staff.ui.role.owner")),
                     color_scheme=rx.cond(is_staff, "blue", "orange")),
            rx.badge(rx.cond(row["mfa"] == "on", tr("staff.ui.mfa_on"), tr("staff.ui.mfa_off")),
                     color_scheme=rx.cond(row["mfa"] == "on", "green", "gray")),
            spacing="2", wrap="wrap", align="center",
        ),
        rx.text(row["account"], size="2", color="gray", word_break="break-all"),
        rx.text(tr("staff.ui.since"), " ", row["since"], size="1", color="gray"),
        rx.cond(is_staff, rx.flex(
            rx.button(tr("staff.ui.reset_mfa"), on_click=StaffState.reset_staff_mfa(row["id"]), size="2",
                      variant="soft", id=f"staff-reset-{row['id']}", disabled=row["mfa"] != "on"),
            rx.button(tr("staff.ui.demote"), on_click=StaffState.demote_staff(row["id"]), size="2",
                      variant="soft", color_scheme="red", id=f"staff-demote-{row['id']}"),
            gap="2", wrap="wrap",
        )),
        spacing="2", width="100%",
    ), width="100%", class_name="staff-row", key=row["id"])


def _promote_form() -> rx.Component:
    return rx.card(rx.form(
        rx.vstack(
            rx.el.label(tr("staff.ui.promote_label"), html_for="staff-account", font_size="0.9em"),
            rx.flex(rx.input(name="account", id="staff-account", max_length=254, size="3", flex="1",
                             min_width="12em"),
                    submit_button(tr("staff.ui.promote"), id="staff-promote", size="3"),
                    gap="2", width="100%", wrap="wrap"),
            dashboard_messages(StaffState, "promote"),
            spacing="2", width="100%",
        ),
        on_submit=StaffState.promote_staff, reset_on_submit=True, width="100%",
    ), width="100%")


@shop_page(routes.ADMIN_STAFF, "staff.title", on_load=[StaffState.load_staff], layout=dashboard(StaffState))
def admin_staff_page() -> rx.Component:
    return (
        dashboard_messages(StaffState, "page"),
        _promote_form(),
        dashboard_messages(StaffState, "list"),
        rx.grid(rx.foreach(StaffState.staff_rows, _staff_card), columns=rx.breakpoints(initial="1", md="2"),
                spacing="3", width="100%"),
    )

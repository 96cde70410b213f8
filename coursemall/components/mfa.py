"""The TOTP step shown inside a dashboard page refused with admin.mfa_required
(components/dashboard.dashboard_page): a code form right there when the user has an authenticator
(on success the page reloads and its on_load runs again, now verified), else a link to enrol on
/admin/security, which brings the user back here afterwards (?next=).
"""

from __future__ import annotations

import reflex as rx

from coursemall.components.forms import submit_button
from coursemall.components.i18n import tr
from coursemall.state.accounts.security import MfaGateState


def code_input(id_: str) -> rx.Component:
    """One field for a 6-digit code or a recovery code (phones offer the code from SMS/app)."""
    return rx.input(name="code", id=id_, placeholder=tr("mfa.ui.code_placeholder"), max_length=20,
                    auto_complete="one-time-code", input_mode="text", size="3", flex="1", min_width="8em")


def _gate_messages() -> rx.Component:
    s = MfaGateState
    return rx.fragment(
        rx.cond(s.gate_error != "", rx.text(s.gate_error, color="red", size="2", role="alert", id="mfa-gate-error")),
        rx.cond(s.gate_success != "", rx.text(s.gate_success, color="green", size="2", role="status",
                                              id="mfa-gate-success")),
    )


def _gate_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.el.label(tr("mfa.ui.code_label"), html_for="mfa-gate-code", font_size="0.9em"),
            rx.flex(code_input("mfa-gate-code"),
                    submit_button(tr("mfa.ui.verify"), id="mfa-gate-submit", size="3"),
                    gap="2", width="100%", wrap="wrap"),
            spacing="1", width="100%",
        ),
        on_submit=MfaGateState.submit_gate, reset_on_submit=True, width="100%",
    )


def mfa_gate() -> rx.Component:
    s = MfaGateState
    return rx.callout(
        rx.vstack(
            rx.text(tr("admin.mfa_required"), weight="bold"),
            rx.cond(
                s.gate_loaded,
                rx.cond(
                    s.gate_enrolled,
                    rx.vstack(_gate_form(),
                              rx.link(tr("mfa.ui.gate_other"), href=s.gate_security_href, id="mfa-manage",
                                      size="2"),
                              spacing="2", width="100%"),
                    rx.link(rx.button(tr("mfa.ui.gate_enrol"), size="3"), href=s.gate_security_href,
                            id="mfa-go"),
                ),
                rx.spinner(size="2"),
            ),
            _gate_messages(),
            spacing="2", width="100%",
        ),
        icon="shield_check", color_scheme="orange", role="alert", id="mfa-gate", width="100%",
        on_mount=MfaGateState.load_gate,
    )

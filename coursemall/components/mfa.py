"""The TOTP step shown inside dashboard pages when the session has not passed it yet.
(Placeholder link; replaced by the inline verification form of the security page.)"""

from __future__ import annotations

import reflex as rx

from coursemall.components.i18n import tr
from coursemall.pages import routes


def mfa_gate() -> rx.Component:
    return rx.callout(
        rx.vstack(rx.text(tr("admin.mfa_required"), weight="bold"),
                  rx.link(tr("admin.mfa_go"), href=routes.ADMIN_SECURITY, id="mfa-go"), spacing="1"),
        icon="shield_check", color_scheme="orange", role="alert", id="mfa-gate", width="100%",
    )

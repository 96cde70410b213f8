"""/setup/<token>: the shop's one-time setup — the owner's account, then an authenticator app,
then the recovery codes and a signed-in way into the shop admin (state/shop/setup.py)."""

from __future__ import annotations

import reflex as rx

from coursemall.components.forms import submit_button
from coursemall.components.i18n import tr
from coursemall.components.mfa import code_input
from coursemall.components.page import shop_page
from coursemall.components.shop import form_messages
from coursemall.pages import routes
from coursemall.pages.accounts.auth import field
from coursemall.state.shop.setup import SetupState

S = SetupState


def _account_step() -> rx.Component:
    return rx.vstack(
        rx.text(tr("setup.intro"), size="2"),
        rx.heading(tr("setup.step_account"), size="4"),
        rx.form(
            rx.vstack(
                field("setup.email_label", id="setup-email", name="email", type="email",
                      auto_complete="username", max_length=254),
                field("auth.nickname_label", id="setup-nickname", name="nickname",
                      placeholder_key="auth.nickname_placeholder", max_length=20),
                field("auth.password_label", id="setup-password", name="password", type="password",
                      placeholder_key="auth.password_placeholder", auto_complete="new-password", max_length=72),
                field("setup.password_again_label", id="setup-password-again", name="password_again",
                      type="password", auto_complete="new-password", max_length=72),
                form_messages(S),
                submit_button(tr("setup.next"), id="setup-next", size="3", width="100%"),
                spacing="3", width="100%",
            ),
            on_submit=S.submit_account, reset_on_submit=False, width="100%",
        ),
        spacing="3", width="100%",
    )


def _totp_step() -> rx.Component:
    return rx.vstack(
        rx.heading(tr("setup.step_totp"), size="4"),
        rx.text(tr("mfa.ui.enrol_step1"), size="2"),
        rx.center(rx.image(src=S.enrol_qr, alt="QR", width="200px", height="200px", id="setup-qr"), width="100%"),
        rx.text(tr("mfa.ui.enrol_manual"), size="2", color="gray"),
        rx.code(S.enrol_key, id="setup-key", word_break="break-all", size="3"),
        rx.text(tr("mfa.ui.enrol_step2"), size="2"),
        rx.form(
            rx.vstack(
                rx.flex(code_input("setup-code"),
                        submit_button(tr("setup.totp_finish"), id="setup-finish", size="3"),
                        gap="2", width="100%", wrap="wrap"),
                form_messages(S),
                spacing="2", width="100%",
            ),
            on_submit=S.finish_setup, reset_on_submit=True, width="100%",
        ),
        rx.button(tr("setup.back"), on_click=S.back_to_account, variant="soft", color_scheme="gray",
                  id="setup-back"),
        spacing="3", width="100%",
    )


def _done_step() -> rx.Component:
    return rx.vstack(
        rx.heading(tr("setup.step_done"), size="4", id="setup-done"),
        rx.text(tr("setup.done_intro"), size="2", color="orange"),
        rx.grid(rx.foreach(S.new_codes, lambda c: rx.code(c, size="3", class_name="setup-recovery-code")),
                columns="2", spacing="2", width="100%", id="setup-codes"),
        form_messages(S),
        rx.button(tr("setup.open_dashboard"), on_click=S.open_dashboard, id="setup-open-dashboard",
                  size="3", width="100%"),
        spacing="3", width="100%",
    )


def _refused() -> rx.Component:
    return rx.vstack(
        rx.callout(S.refusal, icon="triangle_alert", color_scheme="red", role="alert", id="setup-refused",
                   width="100%"),
        rx.link(tr("nav.home"), href=routes.HOME, id="setup-home"),
        spacing="3", width="100%",
    )


@shop_page(routes.SETUP, "page.title.setup", on_load=[SetupState.load_setup])
def setup_page() -> rx.Component:
    body = rx.match(
        S.step,
        ("account", _account_step()),
        ("totp", _totp_step()),
        ("done", _done_step()),
        ("refused", _refused()),
        rx.center(rx.vstack(rx.spinner(size="3"), rx.text(tr("setup.checking"), size="2", color="gray"),
                            align="center"), width="100%", padding="2em"),
    )
    return rx.center(
        rx.card(rx.vstack(rx.heading(tr("setup.title"), size="6"), body, spacing="4", width="100%"),
                width="100%", max_width="480px", size="3"),
        width="100%", padding_top=["0.5em", "2em"],
    )

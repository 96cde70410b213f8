"""Sign-in, registration, code sign-in and password reset pages (mobile-first cards)."""

from __future__ import annotations

import reflex as rx

from coursemall.components.forms import submit_button
from coursemall.components.i18n import tr
from coursemall.components.page import shop_page
from coursemall.components.shop import form_messages
from coursemall.pages import routes
from coursemall.settings import get_settings
from coursemall.state.accounts.sign_in import CodeSignInState, RegisterState, ResetPasswordState, SignInState


def auth_card(title_key: str, *children: rx.Component) -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(rx.heading(tr(title_key), size="6"), *children, spacing="4",
                      width="100%"),
            width="100%", max_width="420px", size="3",
        ),
        width="100%", padding_top=["0.5em", "2em"],
    )


def field(label_key: str, *, id: str, name: str, type: str = "text",
          placeholder_key: str | None = None, **props) -> rx.Component:
    return rx.vstack(
        rx.el.label(tr(label_key), html_for=id, font_size="0.9em", color="var(--gray-11)"),
        rx.input(id=id, name=name, type=type, size="3", width="100%",
                 placeholder=tr(placeholder_key) if placeholder_key else "", **props),
        spacing="1", width="100%",
    )


def link_row(*links: rx.Component) -> rx.Component:
    return rx.flex(*links, justify="between", wrap="wrap", gap="2", width="100%")


@shop_page(routes.SIGN_IN, "page.title.sign_in", on_load=[SignInState.clear_message])
def sign_in_page() -> rx.Component:
    return auth_card(
        "auth.sign_in_title",
        rx.form(
            rx.vstack(
                field("auth.account_label", id="login-account", name="account",
                      placeholder_key="auth.account_placeholder", auto_complete="username",
                      max_length=254),
                field("auth.password_label", id="login-password", name="password",
                      type="password", auto_complete="current-password", max_length=72),
                form_messages(SignInState),
                submit_button(tr("auth.sign_in_button"), id="login-submit", size="3",
                          width="100%"),
                spacing="3", width="100%",
            ),
            on_submit=SignInState.sign_in, reset_on_submit=False, width="100%",
        ),
        link_row(
            rx.link(tr("auth.use_code"), href=routes.CODE_SIGN_IN, id="to-code-sign-in"),
            rx.link(tr("auth.forgot_password"), href=routes.RESET_PASSWORD, id="to-reset"),
        ),
        rx.link(tr("auth.no_account"), href=routes.REGISTER, id="to-register"),
    )


@shop_page(routes.REGISTER, "page.title.register", on_load=[RegisterState.clear_message])
def register_page() -> rx.Component:
    return auth_card(
        "auth.register_title",
        rx.form(
            rx.vstack(
                field("auth.account_label", id="register-account", name="account",
                      placeholder_key="auth.account_placeholder", auto_complete="username",
                      max_length=254),
                field("auth.nickname_label", id="register-nickname", name="nickname",
                      placeholder_key="auth.nickname_placeholder", max_length=20),
                field("auth.password_label", id="register-password", name="password",
                      type="password", placeholder_key="auth.password_placeholder",
                      auto_complete="new-password", max_length=72),
                form_messages(RegisterState),
                submit_button(tr("auth.register_button"), id="register-submit",
                          size="3", width="100%"),
                spacing="3", width="100%",
            ),
            on_submit=RegisterState.register, reset_on_submit=False, width="100%",
        ),
        rx.link(tr("auth.have_account"), href=routes.SIGN_IN, id="to-sign-in"),
    )


def _demo_hint() -> rx.Component:
    if not get_settings().demo:
        return rx.fragment()
    return rx.callout(
        rx.hstack(rx.text(tr("auth.code_demo_hint")),
                  rx.link(tr("auth.open_outbox"), href=routes.OUTBOX, is_external=True,
                          id="to-outbox"), wrap="wrap"),
        icon="info", size="1", color_scheme="gray", width="100%")


def _code_fields(state, prefix: str) -> rx.Component:
    return rx.vstack(
        field("auth.account_label", id=f"{prefix}-account", name="account",
              placeholder_key="auth.account_placeholder", auto_complete="username",
              max_length=254, on_change=state.set_account),
        rx.vstack(
            rx.el.label(tr("auth.code_label"), html_for=f"{prefix}-code" if prefix == "reset"
                        else "code-input", font_size="0.9em", color="var(--gray-11)"),
            rx.hstack(
                rx.input(id="reset-code" if prefix == "reset" else "code-input", name="code",
                         placeholder=tr("auth.code_placeholder"), input_mode="numeric",
                         auto_complete="one-time-code", max_length=6, size="3", flex="1"),
                rx.button(tr("auth.send_code"), type="button", id=f"{prefix}-send",
                          on_click=state.send_code, variant="soft", size="3"),
                width="100%",
            ),
            spacing="1", width="100%",
        ),
        spacing="3", width="100%",
    )


@shop_page(routes.CODE_SIGN_IN, "page.title.code_sign_in", on_load=[CodeSignInState.clear_message])
def code_sign_in_page() -> rx.Component:
    return auth_card(
        "auth.code_title",
        _demo_hint(),
        rx.form(
            rx.vstack(
                _code_fields(CodeSignInState, "code"),
                form_messages(CodeSignInState),
                submit_button(tr("auth.code_sign_in_button"), id="code-submit",
                          size="3", width="100%"),
                spacing="3", width="100%",
            ),
            on_submit=CodeSignInState.sign_in_with_code, reset_on_submit=False, width="100%",
        ),
        link_row(rx.link(tr("auth.use_password"), href=routes.SIGN_IN),
                 rx.link(tr("nav.register"), href=routes.REGISTER)),
    )


@shop_page(routes.RESET_PASSWORD, "page.title.reset_password", on_load=[ResetPasswordState.clear_message])
def reset_password_page() -> rx.Component:
    return auth_card(
        "auth.reset_title",
        _demo_hint(),
        rx.form(
            rx.vstack(
                _code_fields(ResetPasswordState, "reset"),
                field("auth.new_password_label", id="reset-password", name="password",
                      type="password", placeholder_key="auth.password_placeholder",
                      auto_complete="new-password", max_length=72),
                form_messages(ResetPasswordState),
                submit_button(tr("auth.reset_button"), id="reset-submit", size="3",
                          width="100%"),
                spacing="3", width="100%",
            ),
            on_submit=ResetPasswordState.reset_password, reset_on_submit=False, width="100%",
        ),
        rx.link(tr("auth.use_password"), href=routes.SIGN_IN),
    )

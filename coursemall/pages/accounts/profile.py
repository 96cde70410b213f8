"""/me: profile (nickname, avatar, e-mail/phone), password, signed-in devices, sign out."""

from __future__ import annotations

import reflex as rx

from coursemall.components.forms import submit_button
from coursemall.components.i18n import tr
from coursemall.components.page import shop_page
from coursemall.components.shop import form_messages
from coursemall.pages import routes
from coursemall.pages.accounts.auth import field
from coursemall.state.accounts.sign_in import ProfileState
from coursemall.state.base import AppState

_ACCEPT = {"image/jpeg": [".jpg", ".jpeg"], "image/png": [".png"], "image/webp": [".webp"],
           "image/gif": [".gif"]}


def _card(title_key: str, *children: rx.Component) -> rx.Component:
    return rx.card(rx.vstack(rx.heading(tr(title_key), size="4"), *children, spacing="3",
                             width="100%"), width="100%")


def _role_label() -> rx.Component:
    return rx.match(AppState.role,
                    ("owner", tr("role.owner")), ("staff", tr("role.staff")),
                    ("instructor", tr("role.instructor")), tr("role.learner"))


def _identity() -> rx.Component:
    return _card(
        "profile.title",
        rx.hstack(
            rx.upload(
                rx.vstack(
                    rx.avatar(src=AppState.avatar_url, fallback=AppState.nickname[:1], size="7",
                              radius="full", id="avatar-img"),
                    rx.text(tr("profile.avatar_hint"), size="1", color="gray",
                            text_align="center"),
                    align="center", spacing="1",
                ),
                id="avatar-upload", max_files=1, multiple=False, accept=_ACCEPT,
                on_drop=ProfileState.upload_avatar(rx.upload_files(upload_id="avatar-upload")),
                border="1px dashed var(--gray-a7)", border_radius="12px", padding="0.6em",
                cursor="pointer", width="9em",
            ),
            rx.vstack(
                rx.text(AppState.nickname, weight="bold", size="5"),
                rx.badge(_role_label()),
                rx.text(tr("profile.email"), ": ",
                        rx.cond(ProfileState.email != "", ProfileState.email,
                                tr("profile.not_bound")), size="2", id="profile-email"),
                rx.text(tr("profile.phone"), ": ",
                        rx.cond(ProfileState.phone != "", ProfileState.phone,
                                tr("profile.not_bound")), size="2", id="profile-phone"),
                spacing="2", min_width="0",
            ),
            spacing="4", align="center", width="100%", wrap="wrap",
        ),
        form_messages(ProfileState, "avatar"),
        rx.form(
            rx.vstack(
                rx.el.label(tr("profile.nickname"), html_for="profile-nickname",
                            font_size="0.9em", color="var(--gray-11)"),
                rx.hstack(
                    rx.input(id="profile-nickname", name="nickname",
                             value=ProfileState.nickname_input,
                             on_change=ProfileState.set_nickname_input, max_length=20, size="3",
                             flex="1"),
                    submit_button(tr("common.save"), id="profile-save", size="3"),
                    width="100%",
                ),
                spacing="1", width="100%",
            ),
            on_submit=ProfileState.save_nickname, reset_on_submit=False, width="100%",
        ),
        form_messages(ProfileState, "nickname"),
    )


def _password() -> rx.Component:
    return _card(
        "profile.change_password",
        rx.form(
            rx.vstack(
                field("profile.old_password", id="old-password", name="old_password",
                      type="password", auto_complete="current-password", max_length=72),
                field("profile.new_password", id="new-password", name="new_password",
                      type="password", auto_complete="new-password", max_length=72),
                form_messages(ProfileState, "password"),
                submit_button(tr("profile.change_password"),
                          id="change-password-submit", size="3", width="100%"),
                spacing="3", width="100%",
            ),
            on_submit=ProfileState.change_password, reset_on_submit=True, width="100%",
        ),
    )


def _session_row(row: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.text(row["device"], weight="medium", size="2"),
            rx.text(row["ip"], " · ", tr("profile.last_seen"), " ", row["last_seen"], size="1",
                    color="gray"),
            spacing="0", min_width="0",
        ),
        rx.spacer(),
        rx.cond(row["current"] == "1",
                rx.badge(tr("profile.this_device"), color_scheme="green"),
                rx.button(tr("profile.revoke"), size="1", variant="soft", color_scheme="red",
                          on_click=ProfileState.revoke_session(row["id"]))),
        width="100%", align="center", class_name="session-row", padding_y="0.3em",
        border_bottom="1px solid var(--gray-a3)",
    )


def _devices() -> rx.Component:
    return _card(
        "profile.sessions",
        rx.foreach(ProfileState.device_sessions, _session_row),
        form_messages(ProfileState, "sessions"),
        rx.flex(
            rx.button(tr("profile.sign_out"), id="sign-out", on_click=ProfileState.sign_out,
                      variant="outline", size="3", flex="1"),
            rx.button(tr("profile.sign_out_everywhere"), id="sign-out-everywhere",
                      on_click=ProfileState.sign_out_everywhere, color_scheme="red",
                      variant="soft", size="3", flex="1"),
            gap="3", width="100%", wrap="wrap",
        ),
    )


def _shop_links() -> rx.Component:
    def item(icon: str, key: str, href: str, id_: str) -> rx.Component:
        return rx.link(rx.hstack(rx.icon(icon, size=18), rx.text(tr(key), size="3"), rx.spacer(),
                                 rx.icon("chevron-right", size=16, color="gray"), width="100%",
                                 align="center", spacing="2"),
                       href=href, id=id_, underline="none", color="inherit", width="100%", padding_y="0.3em")

    return rx.card(rx.vstack(item("graduation-cap", "learning.title", routes.LEARNING, "profile-learning"),
                             item("receipt", "orders.title", routes.ORDERS, "profile-orders"),
                             item("bell", "messages.title", routes.MESSAGES, "profile-messages"),
                             item("shopping-cart", "cart.title", routes.CART, "profile-cart"),
                             # Only hides the link: the admin handlers check the role themselves.
                             rx.cond((AppState.role == "owner") | (AppState.role == "staff")
                                     | (AppState.role == "instructor"),
                                     item("store", "admin.title", routes.ADMIN, "profile-admin"),
                                     item("presentation", "teach.page_title", routes.TEACH_APPLY,
                                          "profile-teach")),
                             spacing="1", width="100%"), width="100%")


@shop_page(routes.PROFILE, "page.title.profile", on_load=[ProfileState.load_profile])
def profile_page() -> rx.Component:
    return rx.center(
        rx.vstack(_identity(), _shop_links(), _password(), _devices(), spacing="4", width="100%",
                  max_width="520px"),
        width="100%",
    )

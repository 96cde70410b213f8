"""Page frame: top bar (shop name/logo, search, language, account), footer with the policy links,
and a bottom tab bar on phones.

The owner's brand (shop settings) reaches every page through `BrandState`, loaded when the frame
mounts: the header shows its name and logo, and a nested Radix theme applies its accent colour
to everything inside the frame (default buttons, links, `var(--accent-*)`); `--cm-accent`
(components/theme.py `ACCENT`) is set here once from it for prices, accents and charts.
"""

from __future__ import annotations

import reflex as rx

from coursemall.components.i18n import tr
from coursemall.components.theme import ACCENT, ACCENT_VARS
from coursemall.pages import routes
from coursemall.services.shop.shop_settings import POLICY_KINDS
from coursemall.state.base import AppState
from coursemall.state.dashboard.shop_settings import BrandState


def _brand_mark() -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.cond(BrandState.logo_url != "",
                    rx.image(src=BrandState.logo_url, alt="logo", height="32px", width="auto", max_width="96px",
                             object_fit="contain", id="brand-logo")),
            rx.heading(BrandState.shop_name, size="5", color=ACCENT, id="brand-name",
                       style={"white_space": "nowrap", "overflow": "hidden", "text_overflow": "ellipsis"},
                       max_width=["9em", "14em", "20em"]),
            align="center", spacing="2",
        ),
        href=routes.HOME, underline="none", min_width="0",
    )


def _footer() -> rx.Component:
    links = [rx.link(tr(f"shopset.policy.kind.{kind}"), href=routes.policy_url(kind), size="1", color="gray",
                     id=f"footer-policy-{kind}") for kind in POLICY_KINDS]
    return rx.vstack(
        rx.hstack(*links, spacing="4", justify="center", wrap="wrap"),
        rx.text("© 2026 ", BrandState.shop_name, " · ", tr("shopset.footer.powered"), size="1", color="gray",
                id="footer-copyright"),
        align="center", spacing="1", padding="1em", padding_bottom="5em", width="100%",
    )


def _top_bar() -> rx.Component:
    return rx.hstack(
        _brand_mark(),
        rx.spacer(),
        rx.link(rx.icon("search", size=20), href=routes.SEARCH, aria_label="search", color="gray"),
        rx.cond(AppState.signed_in, _shop_links()),
        rx.button(tr("nav.language"), on_click=AppState.toggle_lang, variant="ghost", size="1",
                  id="lang-toggle"),
        rx.cond(
            AppState.signed_in,
            rx.link(rx.avatar(src=AppState.avatar_url, fallback=AppState.nickname[:1], size="2",
                              radius="full"), href=routes.PROFILE, id="nav-profile"),
            rx.link(tr("nav.sign_in"), href=routes.SIGN_IN, id="nav-sign-in", size="2"),
        ),
        width="100%", align="center", padding_x="1em", padding_y="0.6em", spacing="3",
        border_bottom="1px solid var(--gray-a4)", background="var(--color-background)",
        position="sticky", top="0", z_index="10",
    )


def _shop_links() -> rx.Component:
    """Cart and the message bell with its unread badge (signed-in viewers only)."""
    return rx.fragment(
        rx.link(rx.icon("graduation-cap", size=20), href=routes.LEARNING, id="nav-learning",
                aria_label="learning", color="gray"),
        rx.link(rx.icon("shopping-cart", size=20), href=routes.CART, id="nav-cart", aria_label="cart",
                color="gray"),
        rx.link(
            rx.box(
                rx.icon("bell", size=20),
                rx.cond(AppState.unread_count > 0,
                        rx.box(AppState.unread_count, id="unread-count", position="absolute", top="-6px",
                               right="-8px", min_width="16px", height="16px", padding_x="3px",
                               border_radius="8px", background="#e03131", color="white",
                               font_size="10px", line_height="16px", text_align="center")),
                position="relative", display="flex",
            ),
            href=routes.MESSAGES, id="nav-messages", aria_label="messages", color="gray",
        ),
    )


def _tab(icon: str, key: str, href: str) -> rx.Component:
    return rx.link(rx.vstack(rx.icon(icon, size=20), rx.text(tr(key), size="1"), spacing="0",
                             align="center"), href=href, color="gray", underline="none")


def _bottom_tabs() -> rx.Component:
    return rx.hstack(
        _tab("house", "nav.home", routes.HOME),
        _tab("layout-grid", "nav.categories", routes.SEARCH),
        _tab("graduation-cap", "nav.learning", routes.LEARNING),
        _tab("receipt", "nav.orders", routes.ORDERS),
        _tab("user", "nav.my", routes.PROFILE),
        justify="between", padding_x="2em", padding_y="0.4em", width="100%",
        position="fixed", bottom="0", left="0", background="var(--color-background)",
        border_top="1px solid var(--gray-a4)", display=["flex", "flex", "none"], z_index="10",
    )


def page_frame(*children: rx.Component) -> rx.Component:
    """Wrap a page body: max width for desktop, room for the tab bar on phones."""
    return rx.theme(
        rx.box(
            _top_bar(),
            rx.box(*children, width="100%", max_width="960px", margin_x="auto", padding="1em",
                   padding_bottom="5em"),
            _footer(),
            _bottom_tabs(),
            width="100%", min_height="100vh", on_mount=BrandState.load_brand, style=ACCENT_VARS,
        ),
        accent_color=BrandState.accent, has_background=False,
    )

"""/policy/<kind>: privacy policy, refund rules, terms (the owner's text or the built-in default).

The text is rendered as headings, list items and paragraphs of plain text nodes: nothing the
owner writes is ever interpreted as HTML.
"""

from __future__ import annotations

import reflex as rx

from coursemall.components.i18n import tr
from coursemall.components.page import shop_page
from coursemall.components.theme import ACCENT
from coursemall.pages import routes
from coursemall.services.shop.shop_settings import POLICY_KINDS
from coursemall.state.dashboard.shop_settings import PolicyState


def _block(block: rx.Var) -> rx.Component:
    return rx.match(
        block["kind"],
        ("h", rx.heading(block["text"], size="4", margin_top="0.8em")),
        ("li", rx.hstack(rx.text("•", color=ACCENT), rx.text(block["text"], size="3"),
                         spacing="2", align="start", width="100%")),
        rx.text(block["text"], size="3", style={"white_space": "pre-line"}, width="100%"),
    )


def _nav() -> rx.Component:
    return rx.hstack(
        *[rx.link(tr(f"shopset.policy.kind.{kind}"), href=routes.policy_url(kind), size="2",
                  weight=rx.cond(PolicyState.kind == kind, "bold", "regular"), id=f"policy-nav-{kind}")
          for kind in POLICY_KINDS],
        spacing="4", wrap="wrap",
    )


@shop_page(routes.POLICY, "page.title.policy", on_load=[PolicyState.load_policy])
def policy_page() -> rx.Component:
    return rx.vstack(
        _nav(),
        rx.cond(
            PolicyState.not_found,
            rx.callout(tr("shopset.policy.not_found"), icon="info", id="policy-not-found", width="100%"),
            rx.vstack(rx.foreach(PolicyState.blocks, _block), spacing="2", width="100%", id="policy-text"),
        ),
        spacing="4", width="100%", id="policy",
    )

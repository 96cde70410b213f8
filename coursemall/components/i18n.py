"""`tr(key)`: a catalog string that follows the viewer's language without a server round trip."""

from __future__ import annotations

import reflex as rx

from coursemall.i18n import CATALOG
from coursemall.state.base import AppState


def tr(key: str) -> rx.Var:
    zh, en = CATALOG[key]  # KeyError at compile time for an unknown key: caught by the build
    return rx.cond(AppState.lang == "en", en, zh)

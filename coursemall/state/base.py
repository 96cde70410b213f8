"""The root of the app's states: viewer language and the signed-in viewer.

Identity lives in backend vars (`_user_id`); the session token never reaches a frontend var.
The accounts work fills in session resolution (see coursemall/state/auth.py).
"""

from __future__ import annotations

import reflex as rx

from coursemall.i18n import DEFAULT_LANG, normalize_lang, t


class AppState(rx.State):
    """Base for every page state. Subclasses read the actor with `self._actor_id()`."""

    lang: str = rx.Cookie(DEFAULT_LANG, name="cm_lang", max_age=365 * 24 * 3600, same_site="lax")
    signed_in: bool = False
    nickname: str = ""
    avatar_url: str = ""
    role: str = ""

    _user_id: int | None = None

    def _t(self, key: str, **params: object) -> str:
        return t(key, self.lang, **params)

    def _actor_id(self) -> int | None:
        """The signed-in user's id, re-checked against the server-side session store."""
        return self._user_id

    @rx.event
    def toggle_lang(self):
        self.lang = "en" if normalize_lang(self.lang) == "zh_CN" else "zh_CN"

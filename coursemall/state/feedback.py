"""The error/success message pair every form state shows, and how a handler reports a failure."""

from __future__ import annotations

import logging

import reflex as rx

from coursemall.domain.errors import DomainError


class FeedbackMixin(rx.State, mixin=True):
    """`error` / `success` vars (shown as #form-error / #form-success), copied into each state."""

    error: str = ""
    success: str = ""

    def _fail(self, code: str, **params: object) -> None:
        self.error = self._t(code, **params)
        self.success = ""

    def _ok(self, code: str, **params: object) -> None:
        self.success = self._t(code, **params)
        self.error = ""

    def _signed_in_actor(self) -> int | None:
        """The signed-in user's id, or None with a "please sign in" message."""
        user_id = self._actor_id()
        if user_id is None:
            self._fail("error.sign_in_required")
        return user_id

    def _failed(self, exc: BaseException) -> None:
        """A service said no (translated code) or something broke (logged, generic message)."""
        if isinstance(exc, DomainError):
            self._fail(exc.code, **exc.params)
        else:
            logging.getLogger(type(self).__module__).exception("%s handler failed", type(self).__name__)
            self._fail("error.generic")

    def _show_failure(self, exc: DomainError | None, section: str) -> None:
        """For AppState._run: the service's message, or the generic one."""
        if exc is None:
            self._fail("error.generic")
        else:
            self._fail(exc.code, **exc.params)

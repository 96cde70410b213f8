"""Guards for owner-area event handlers (ARCHITECTURE.md rule 4).

Use *below* `@rx.event`, so Reflex registers the guarded function:

    @rx.event
    @staff_required
    def approve_refund(self, refund_id: int): ...

The guard re-reads the actor from the server-side session (`_actor_id(fresh=True)`) and the
user's role from the database — never the `role` frontend var, which the browser can change.
On failure it calls the state's `_deny(code)` (a translated message, data cleared) and returns
without running the handler. The services check the role again (defence in depth).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from coursemall.db import session_scope
from coursemall.domain.errors import DomainError
from coursemall.services._commerce import require_staff

GUARD_ATTR = "__coursemall_guard__"


def staff_role_of(state: Any) -> str | None:
    """'owner' / 'staff' when the session's user is active staff in the database, else None."""
    actor_id = state._actor_id(fresh=True)
    if actor_id is None:
        return None
    try:
        with session_scope() as s:
            return require_staff(s, actor_id).role
    except DomainError:
        return None


def _deny(state: Any) -> None:
    deny = getattr(state, "_deny", None)
    if callable(deny):
        deny("admin.forbidden")


def staff_required(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run the handler only for an owner or staff member (checked against the database)."""
    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def async_wrapper(self, *args: Any, **kwargs: Any) -> Any:
            role = staff_role_of(self)
            if role is None:
                _deny(self)
                return None
            self._staff_role = role
            return await fn(self, *args, **kwargs)

        wrapper: Callable[..., Any] = async_wrapper
    else:
        @functools.wraps(fn)
        def sync_wrapper(self, *args: Any, **kwargs: Any) -> Any:
            role = staff_role_of(self)
            if role is None:
                _deny(self)
                return None
            self._staff_role = role
            return fn(self, *args, **kwargs)

        wrapper = sync_wrapper
    setattr(wrapper, GUARD_ATTR, "staff_required")
    return wrapper


def guard_of(fn: Callable[..., Any]) -> str | None:
    """The guard a handler function carries (None when unguarded)."""
    return getattr(fn, GUARD_ATTR, None)

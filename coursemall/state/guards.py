"""Guards for dashboard event handlers (ARCHITECTURE.md rule 4).

Use *below* `@rx.event`, so Reflex registers the guarded function:

    @rx.event
    @staff_required
    def approve_refund(self, refund_id: int): ...

- `staff_required`: owner or staff;
- `owner_required`: the owner only;
- `dashboard_required`: owner, staff or an approved instructor (the services then limit an
  instructor to their own courses and sales).
Owner and staff must also have passed TOTP on this device (`UserSession.mfa_verified_at`);
otherwise the handler is refused with `admin.mfa_required` and the page shows the TOTP step.
While the shop is not open (services/shop/setup.py) every guard refuses with `setup.dashboard_closed`.

The guard re-reads the actor from the server-side session (`_actor_id(fresh=True)`) and the role
from the database — never the `role` frontend var, which the browser can change. On failure it
calls the state's `_deny(code)` (a translated message, data cleared) and returns without running
the handler. The services check the role and the object again (defence in depth).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from coursemall.db import session_scope
from coursemall.services.permissions import DASHBOARD_CLOSED, DashboardActor, dashboard_actor
from coursemall.services.shop.setup import shop_is_open

GUARD_ATTR = "__coursemall_guard__"
MFA_REQUIRED = "admin.mfa_required"
FORBIDDEN = "admin.forbidden"


def _admits(kind: str, actor: DashboardActor) -> bool:
    if kind == "owner_required":
        return actor.is_owner
    if kind == "staff_required":
        return actor.is_staff
    return True  # dashboard_required


def check_dashboard(state: Any, kind: str = "dashboard_required") -> tuple[DashboardActor | None, str]:
    """(actor, "") when the session's user passes guard `kind`, else (None, message code)."""
    actor_id = state._actor_id(fresh=True)
    with session_scope() as s:
        if not shop_is_open(s):
            return None, DASHBOARD_CLOSED
        actor = dashboard_actor(s, actor_id) if actor_id is not None else None
    if actor is None or not _admits(kind, actor):
        return None, FORBIDDEN
    if actor.is_staff and not state._mfa_ok:
        return None, MFA_REQUIRED
    return actor, ""


def _deny(state: Any, code: str) -> None:
    deny = getattr(state, "_deny", None)
    if callable(deny):
        deny(code)


def _admit(state: Any, actor: DashboardActor) -> None:
    # backend vars declared on DashboardBaseState; other states may not have them
    for name, value in (("_staff_role", actor.role), ("_instructor_id", actor.instructor_id or 0)):
        if name in getattr(type(state), "backend_vars", {}) or hasattr(type(state), name):
            setattr(state, name, value)


Check = Callable[[Any], tuple[DashboardActor | None, str]]


def make_guard(kind: str, check: Check) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A handler decorator named `kind`: runs `check(state)` -> (actor, refusal code) first;
    refused calls get `state._deny(code)` and the handler does not run."""
    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def async_wrapper(self, *args: Any, **kwargs: Any) -> Any:
                actor, code = check(self)
                if actor is None:
                    _deny(self, code)
                    return None
                _admit(self, actor)
                return await fn(self, *args, **kwargs)

            wrapper: Callable[..., Any] = async_wrapper
        else:
            @functools.wraps(fn)
            def sync_wrapper(self, *args: Any, **kwargs: Any) -> Any:
                actor, code = check(self)
                if actor is None:
                    _deny(self, code)
                    return None
                _admit(self, actor)
                return fn(self, *args, **kwargs)

            wrapper = sync_wrapper
        setattr(wrapper, GUARD_ATTR, kind)
        return wrapper

    return decorator


def _make_guard(kind: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return make_guard(kind, lambda state: check_dashboard(state, kind))


staff_required = _make_guard("staff_required")
owner_required = _make_guard("owner_required")
dashboard_required = _make_guard("dashboard_required")


def guard_of(fn: Callable[..., Any]) -> str | None:
    """The guard a handler function carries (None when unguarded)."""
    return getattr(fn, GUARD_ATTR, None)

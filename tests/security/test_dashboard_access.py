"""Every dashboard handler carries a guard (ARCHITECTURE.md rule 4).

Calling every handler as the wrong people (no writes, no data, the TOTP step for password-only
owner/staff) is the authorisation matrix's job: tests/security/test_authorization_matrix.py, whose
table also has to agree with each handler's guard. This file pins, statically, that every handler of
every class in the dashboard state modules — and of every DashboardBaseState subclass anywhere —
carries some guard (state/guards.py or a documented variant such as
state/security.dashboard_user_required).
"""

from __future__ import annotations

import importlib
import pkgutil

import reflex as rx

import coursemall.pages  # noqa: F401  (registers every page and so every state)
from coursemall.state.dashboard.base import DashboardBaseState
from coursemall.state.guards import guard_of

# Every module of state/dashboard/, plus the owner's account security page.
DASHBOARD_MODULE_NAMES = sorted(
    [f"coursemall.state.dashboard.{info.name}"
     for info in pkgutil.iter_modules(importlib.import_module("coursemall.state.dashboard").__path__)]
    + ["coursemall.state.accounts.security"])
for _name in DASHBOARD_MODULE_NAMES:
    importlib.import_module(_name)  # a missing module fails here, never silently


def _all_states() -> list[type[rx.State]]:
    seen: list[type[rx.State]] = []

    def walk(cls):
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.append(sub)
                walk(sub)

    walk(rx.State)
    return [cls for cls in seen if cls.__module__.startswith("coursemall.")]


# ---------------------------------------------------------------------------------- every handler guarded

# Storefront states that live beside the dashboard states of a module; each is public on purpose
# (reviewed). Anything else in a dashboard module must be guarded.
PUBLIC_STATES = {
    "coursemall.state.dashboard.operations.TeachApplyState": "/teach: a signed-in learner applies to teach (own data only)",
    "coursemall.state.dashboard.shop_settings.BrandState": "the storefront header's shop name, logo and colour",
    "coursemall.state.dashboard.shop_settings.HomeLayoutState": "the home page's sections and featured courses",
    "coursemall.state.dashboard.shop_settings.PolicyState": "/policy/<kind>: the shop's public policy texts",
}


def _dashboard_module_states() -> list[type]:
    return [cls for cls in _all_states() if cls.__module__ in DASHBOARD_MODULE_NAMES]


def _unguarded(cls) -> list[str]:
    return [f"{cls.__module__}.{cls.__name__}.{name}" for name, handler in cls.event_handlers.items()
            if name != "setvar" and guard_of(handler.fn) is None]


def test_every_handler_in_the_dashboard_modules_carries_a_guard():
    states = _dashboard_module_states()
    assert any(cls.__module__ == "coursemall.state.accounts.security" for cls in states)
    assert any(cls.__module__ == "coursemall.state.dashboard.orders" for cls in states)
    public = [cls for cls in states if f"{cls.__module__}.{cls.__name__}" in PUBLIC_STATES]
    missing = [h for cls in states if cls not in public for h in _unguarded(cls)]
    assert not missing, f"unguarded dashboard handlers: {missing}"
    # a public state is a storefront state: it must not be a dashboard state
    assert not [cls for cls in public if issubclass(cls, DashboardBaseState)]


def test_every_dashboard_state_anywhere_is_guarded():
    """Wherever a DashboardBaseState subclass is defined, all its handlers carry a guard."""
    states = [cls for cls in _all_states() if issubclass(cls, DashboardBaseState)]
    assert len(states) > 5
    missing = [h for cls in states for h in _unguarded(cls)]
    assert not missing, f"unguarded dashboard handlers: {missing}"

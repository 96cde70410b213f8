"""Every public State method is a remote endpoint: the set of them is pinned here.

A browser can call any event handler of any state by name with any payload (ARCHITECTURE.md,
rule 1). The list is the authorisation matrix's table (tests/security/test_authorization_matrix.py):
a new handler fails this test until it has a row there, added on purpose (after checking that it
validates its arguments and takes no prices, user ids or roles, and saying who may call it).
"""

from __future__ import annotations

import inspect

import pytest
import reflex as rx
from reflex_base.config import get_config

import coursemall.coursemall  # noqa: F401  (imports every page and so every state)
from coursemall.state.base import AppState
from tests.security.test_authorization_matrix import TABLE as MATRIX

# Reflex 0.10.1 adds `setvar` to every state. It only calls `set_<name>` methods, and there are
# none (no auto setters; see test_no_setters_reachable_through_setvar), so it can set nothing.
REFLEX_BUILTINS = {"setvar"}

# {state class name: its own event handlers}, from the authorisation matrix's table (one row per
# handler, saying who may call it): a new handler fails here and there until its row is added.
EXPECTED: dict[str, set[str]] = {}
for _key in MATRIX:
    _state, _handler = _key.split(".", 1)
    EXPECTED.setdefault(_state, set()).add(_handler)

# Words that must never name a frontend var (those are sent to the browser on every change).
SECRET_WORDS = ("password", "passwd", "hash", "secret", "token", "totp", "otp_", "session_id",
                "_sa_instance_state", "watermark")


def _all_app_states() -> list[type[rx.State]]:
    seen: list[type[rx.State]] = []

    def walk(cls):
        if cls not in seen:
            seen.append(cls)
            for sub in cls.__subclasses__():
                walk(sub)

    walk(AppState)
    return seen


def _all_coursemall_states() -> list[type[rx.State]]:
    found = []

    def walk(cls):
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("coursemall") and not sub._mixin:
                found.append(sub)
            walk(sub)

    walk(rx.State)
    return found


STATES = _all_app_states()


def _own_handlers(cls) -> set[str]:
    return set(cls.event_handlers) - REFLEX_BUILTINS


def test_expected_handlers_exactly():
    actual = {cls.__name__: _own_handlers(cls) for cls in STATES}
    # Two states with the same class name in different modules would hide each other here.
    assert len(actual) == len(STATES), "state class names must be unique"
    added = {k: sorted(v - EXPECTED.get(k, set())) for k, v in actual.items()
             if v - EXPECTED.get(k, set())}
    removed = {k: sorted(v - actual.get(k, set())) for k, v in EXPECTED.items()
               if v - actual.get(k, set())}
    assert not added, (
        f"new event handlers (remote endpoints!) — review them and add a row for each to TABLE in "
        f"tests/security/test_authorization_matrix.py: {added}")
    assert not removed, f"handlers gone — remove their rows from TABLE in test_authorization_matrix.py: {removed}"


def test_every_app_state_derives_from_appstate():
    strays = [f"{c.__module__}.{c.__name__}" for c in _all_coursemall_states()
              if not issubclass(c, AppState)]
    assert not strays, f"states must derive from AppState (session + language): {strays}"


def test_only_reflex_builtins_besides_own_handlers():
    for cls in STATES:
        assert REFLEX_BUILTINS <= set(cls.event_handlers), cls.__name__


def test_auto_setters_are_off():
    assert get_config().state_auto_setters is False


@pytest.mark.parametrize("cls", STATES, ids=lambda c: c.__name__)
def test_no_auto_setters(cls):
    for name, handler in cls.event_handlers.items():
        qualname = getattr(handler.fn, "__qualname__", "")
        assert "_get_setter" not in qualname, f"{cls.__name__}.{name} is an auto setter"
    # A hand-written `set_<var>` is allowed (it has a matrix row and must validate), but it
    # must be a function of the state's own module, not something Reflex generated.
    for name in {f"set_{v}" for v in cls.base_vars} & set(cls.event_handlers):
        fn = cls.event_handlers[name].fn
        assert getattr(fn, "__module__", "").startswith("coursemall"), f"{cls.__name__}.{name}"


@pytest.mark.parametrize("cls", STATES, ids=lambda c: c.__name__)
def test_no_setters_reachable_through_setvar(cls):
    """setvar(name, value) calls getattr(state, 'set_' + name): no such attribute may exist."""
    for name, f in cls.__fields__.items():
        if not f._owner.__module__.startswith("coursemall"):
            continue  # Reflex's own (is_hydrated, router_*): handled by Reflex
        setter = f"set_{name}"
        if not hasattr(cls, setter):
            continue
        # Only a deliberate, pinned handler may answer setvar(name, ...); never for backend vars.
        assert not name.startswith("_"), f"{cls.__name__}.{setter} makes backend var {name} settable"
        assert setter in EXPECTED.get(cls.__name__, set()), (
            f"{cls.__name__}.{setter} exists: setvar('{name}', ...) from the browser calls it")


@pytest.mark.parametrize("cls", STATES, ids=lambda c: c.__name__)
def test_handler_names_are_public_functions(cls):
    for name, handler in cls.event_handlers.items():
        assert not name.startswith("_"), f"{cls.__name__}.{name}"
        if name in REFLEX_BUILTINS:
            continue
        assert inspect.isfunction(handler.fn), f"{cls.__name__}.{name}"


@pytest.mark.parametrize("cls", STATES, ids=lambda c: c.__name__)
def test_identity_lives_in_backend_vars(cls):
    fields = cls.__fields__
    assert "_user_id" in fields, f"{cls.__name__} lost the backend identity var"
    assert fields["_user_id"]._backend, "_user_id must be a backend var"
    frontend = set(cls.base_vars) | set(cls.computed_vars) | set(cls.vars)
    assert "_user_id" not in frontend
    assert "user_id" not in frontend, f"{cls.__name__} exposes user_id to the browser"
    for name in cls.base_vars:
        assert not name.startswith("_")


@pytest.mark.parametrize("cls", STATES, ids=lambda c: c.__name__)
def test_no_secret_named_frontend_vars(cls):
    names = set(cls.base_vars) | set(cls.computed_vars)
    bad = sorted(n for n in names for w in SECRET_WORDS if w in n.lower())
    assert not bad, f"{cls.__name__} sends {bad} to the browser; keep them in backend vars (_name)"

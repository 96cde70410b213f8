"""AppState._run: the one way a handler runs a unit of work.

It runs the service in a worker thread with its own committed session, returns the result, and on
failure shows a message through the state's own `_show_failure` (a form's error, a dashboard
section's error, or the guard's refusal) and returns FAILED; a crash is logged once."""

from __future__ import annotations

import logging
import threading

from reflex.istate.data import RouterData
from reflex.state import State

import coursemall.coursemall  # noqa: F401  (registers pages and states)
import coursemall.db
from coursemall.domain.errors import DomainError
from coursemall.i18n import t
from coursemall.state.base import FAILED
from coursemall.state.commerce.shop import CartState
from coursemall.state.dashboard.orders import AdminOrdersState


def _state(cls):
    root = State(_reflex_internal_init=True)
    state = root.get_substate(cls.get_full_name().split(".")[1:])
    state.router = RouterData.from_router_data({"pathname": "/", "asPath": "/", "query": {},
                                                "headers": {"origin": "http://localhost:3000"}})
    return state


class _Session:
    def __init__(self):
        self.committed = self.rolled_back = False

    def commit(self):
        self.committed = True

    def rollback(self):
        self.rolled_back = True


def _fake_units(monkeypatch):
    sessions = []
    from contextlib import contextmanager

    @contextmanager
    def scope():
        s = _Session()
        sessions.append(s)
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise

    monkeypatch.setattr(coursemall.db, "session_scope", scope)
    return sessions


async def test_result_comes_back_from_a_worker_thread_and_is_committed(monkeypatch):
    sessions = _fake_units(monkeypatch)
    loop_thread = threading.get_ident()

    def service(session, *, n):
        return (n * 2, threading.get_ident())

    state = _state(CartState)
    value, thread = await state._run(service, n=21)
    assert value == 42 and thread != loop_thread
    assert sessions[0].committed and state.error == ""


async def test_a_refusal_shows_its_message_and_rolls_back(monkeypatch):
    sessions = _fake_units(monkeypatch)

    def service(session):
        raise DomainError("cart.empty")

    state = _state(CartState)
    assert await state._run(service) is FAILED
    assert state.error == t("cart.empty", state.lang) and sessions[0].rolled_back


async def test_a_crash_is_logged_once_and_shown_as_the_generic_message(monkeypatch, caplog):
    _fake_units(monkeypatch)

    def service(session):
        raise RuntimeError("database on fire")

    state = _state(CartState)
    with caplog.at_level(logging.ERROR):
        result = await state._run(service)
    assert result is FAILED and not result
    assert state.error == t("error.generic", state.lang)
    assert "database on fire" not in state.error
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1


async def test_a_dashboard_state_shows_it_in_the_section_or_refuses_through_the_guard(monkeypatch):
    _fake_units(monkeypatch)

    def bad(session):
        raise DomainError("order.not_found")

    def forbidden(session):
        raise DomainError("error.forbidden")

    state = _state(AdminOrdersState)
    assert await state._run(bad, section="list") is FAILED
    assert (state.section, state.error) == ("list", t("order.not_found", state.lang))
    assert await state._run(forbidden, section="list") is FAILED
    assert state.allowed is False and state.error == t("admin.forbidden", state.lang)

"""Every dashboard handler refuses the wrong caller and changes nothing (issue 5, "Access").

Generic on purpose: every rx.State subclass of the app (all pages imported) is scanned for event
handlers carrying a dashboard guard, so handlers added later are covered without editing this
file. Each one is called, with dummy arguments matching its signature and valid ids of real rows,
as:
  (a) an anonymous visitor, (b) a learner (whose session even passed TOTP), (c) the owner on a
  device that has NOT passed TOTP; for staff/owner-only handlers also (d) an approved instructor;
  for owner-only handlers also (e) staff.
After each call: no row of any table changed (row count and a hash of every table's rows), the
state says no (`allowed` false, a message), and its data vars hold nothing.

A second test pins that every handler of every class in the dashboard state modules carries some
guard (state/guards.py or a documented variant such as state/security.dashboard_user_required).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import io
from dataclasses import dataclass

import pytest
import reflex as rx
from PIL import Image
from sqlalchemy import select
from sqlmodel import Session, SQLModel

import coursemall.db
import coursemall.pages  # noqa: F401  (registers every page and so every state)
from coursemall.i18n import CATALOG
from coursemall.models import AuditLog
from coursemall.services import audit, cart, checkout, manual_pay, payments, refunds
from coursemall.state.base import AppState
from coursemall.state.dashboard_base import DashboardBaseState
from coursemall.state.guards import guard_of
from tests.payments.factories import make_user
from tests.services.learning_fixture import make_world
from tests.state.test_admin_state import cookie_for
from tests.state.test_auth_state import make_state

DASHBOARD_GUARDS = {"staff_required", "owner_required", "dashboard_required", "course_manager_required"}
STAFF_ONLY = {"staff_required", "owner_required"}
DASHBOARD_MODULES = ("admin", "cms", "ops", "analytics", "shop_settings", "leak", "media_admin", "security")
# Frontend vars that only steer the page (never data): ignored when looking for leaked rows.
FLAG_VARS = {"error", "success", "section", "allowed", "loaded", "is_owner", "is_staff", "mfa_needed"}
REFUSALS = {pair for key in ("admin.forbidden", "admin.mfa_required", "admin.owner_only", "error.forbidden",
                             "error.sign_in_required") for pair in CATALOG[key]}

# Handlers that are known to let an actor through, with the reason and the fix owner. The test
# below fails when one of them starts refusing (so the entry must then be removed): keep it empty.
KNOWN_GAPS: dict[tuple[str, str, str], str] = {}


# ---------------------------------------------------------------------------------- discovery

def _import_dashboard_modules() -> list[str]:
    """Import the dashboard state modules that exist (a page may not import its state yet)."""
    names = []
    for short in DASHBOARD_MODULES:
        try:
            importlib.import_module(f"coursemall.state.{short}")
        except ModuleNotFoundError as exc:
            if exc.name != f"coursemall.state.{short}":
                raise
            continue
        names.append(f"coursemall.state.{short}")
    return names


DASHBOARD_MODULE_NAMES = _import_dashboard_modules()


def _all_states() -> list[type[rx.State]]:
    seen: list[type[rx.State]] = []

    def walk(cls):
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.append(sub)
                walk(sub)

    walk(rx.State)
    return [cls for cls in seen if cls.__module__.startswith("coursemall.")]


@dataclass(frozen=True)
class Target:
    cls: type
    name: str
    guard: str

    @property
    def label(self) -> str:
        return f"{self.cls.__name__}.{self.name}"


def guarded_handlers() -> list[Target]:
    found = []
    for cls in _all_states():
        for name, handler in cls.event_handlers.items():
            guard = guard_of(handler.fn)
            if guard in DASHBOARD_GUARDS:
                found.append(Target(cls, name, guard))
    return sorted(found, key=lambda t: t.label)


def test_discovery_finds_the_dashboard_handlers():
    labels = {t.label for t in guarded_handlers()}
    assert {"AdminHomeState.load_admin_home", "AdminRefundsState.approve_refund", "StaffState.load_staff",
            "AuditState.filter_audit"} <= labels


# ---------------------------------------------------------------------------------- dummy arguments

class AnyForm(dict):
    """A form payload that answers "1" for any field, so a handler that slipped past its guard
    would find plausible values (ids of real rows, a switch on, a short text) and act on them."""

    def __init__(self):
        super().__init__({k: "1" for k in ("id", "course_id", "lesson_id", "user_id", "order_no", "reason",
                                           "title", "price", "code", "account", "action", "actor")})

    def get(self, key, default=None):
        return "1"

    def __getitem__(self, key):
        return "1"

    def __contains__(self, key):
        return True


def _png_upload() -> rx.UploadFile:
    buf = io.BytesIO()
    Image.new("RGB", (40, 40), (10, 120, 90)).save(buf, format="PNG")
    buf.seek(0)
    return rx.UploadFile(file=buf)


def dummy_value(param: inspect.Parameter):
    ann = param.annotation if isinstance(param.annotation, str) else getattr(param.annotation, "__name__",
                                                                             str(param.annotation))
    ann = ann.lower()
    if "upload" in ann or ann.startswith("list"):
        return [_png_upload()]
    if "dict" in ann:
        return AnyForm()
    if "bool" in ann:
        return True
    if "int" in ann:
        return 1
    return "1"


def dummy_args(fn) -> tuple:
    params = list(inspect.signature(fn).parameters.values())[1:]  # after self
    return tuple(dummy_value(p) for p in params
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty)


async def invoke(state, fn, args) -> None:
    result = fn(state, *args)
    if inspect.isawaitable(result):
        await result
    elif inspect.isasyncgen(result):
        async for _ in result:
            pass
    elif inspect.isgenerator(result):
        for _ in result:
            pass


# ---------------------------------------------------------------------------------- database

def table_digest(engine) -> dict[str, tuple[int, str]]:
    """Row count and a hash of every row of every table."""
    out = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            rows = sorted(repr(tuple(r)) for r in conn.execute(select(table)).all())
            out[table.name] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    return out


def changed_tables(before: dict, after: dict) -> list[str]:
    return [name for name in before if before[name] != after.get(name)]


@pytest.fixture
def engine(sqlite_engine, monkeypatch, tmp_path):
    monkeypatch.setattr(coursemall.db, "get_engine", lambda: sqlite_engine)
    return sqlite_engine


@pytest.fixture
def world(engine):
    """The learning world (courses, lessons, owner, staff, two instructors, buyers) plus a paid
    order with a refund waiting, a transfer waiting for confirmation and an audit entry: data every
    kind of dashboard page would show or change."""
    with Session(engine, expire_on_commit=False) as s:
        w = make_world(s)
        refunds.update_refund_policy(s, actor_id=w.owner, auto_approve=False, within_days=7, max_progress_pct=20,
                                     request_window_days=30)
        cart.add_to_cart(s, actor_id=w.stranger, item_type="course", item_id=w.course)
        order = checkout.checkout_cart(s, actor_id=w.stranger)
        payments.sandbox_decide(s, actor_id=w.stranger, order_no=order.out_trade_no, outcome="pay")
        refunds.request_refund(s, actor_id=w.stranger, order_no=order.out_trade_no, reason="不想学了")
        buf = io.BytesIO()
        Image.new("RGB", (30, 30), (1, 2, 3)).save(buf, format="PNG")
        manual_pay.update_manual_settings(s, actor_id=w.owner, enabled=True, instructions="备注", qr_image=buf.getvalue())
        transfer_buyer = make_user(s)
        mo = checkout.buy_now(s, actor_id=transfer_buyer.id, item_type="course", item_id=w.other_course)
        manual_pay.submit_manual_proof(s, actor_id=transfer_buyer.id, order_no=mo.out_trade_no,
                                       image=buf.getvalue(), reference="尾号 1234")
        audit.record(s, actor_id=w.owner, action="course.publish", target=f"course:{w.course}")
        s.commit()
        assert s.exec(select(AuditLog)).first() is not None
    return w


ACTORS = {
    # name: (cookie maker, which guards it is tested against)
    "anonymous": (lambda engine, w: "cm_lang=zh_CN", DASHBOARD_GUARDS),
    "learner": (lambda engine, w: cookie_for(engine, w.buyer2, mfa=True), DASHBOARD_GUARDS),
    "owner_without_totp": (lambda engine, w: cookie_for(engine, w.owner, mfa=False), DASHBOARD_GUARDS),
    "instructor": (lambda engine, w: cookie_for(engine, w.other_teacher, mfa=True), STAFF_ONLY),
    "staff": (lambda engine, w: cookie_for(engine, w.staff, mfa=True), {"owner_required"}),
}


def data_vars(cls) -> list[str]:
    inherited = set(AppState.base_vars)
    return [name for name in cls.base_vars if name not in inherited and name not in FLAG_VARS]


def refusal_problems(state, target: Target, defaults: dict) -> list[str]:
    problems = []
    if getattr(state, "allowed", False):
        problems.append("allowed is true")
    error = getattr(state, "error", None)
    if error is not None and error not in REFUSALS:
        problems.append(f"no refusal message (error={error!r})")
    for name, default in defaults.items():
        value = getattr(state, name)
        if value != default and value:
            problems.append(f"data var {name} filled: {str(value)[:80]}")
    return problems


@pytest.mark.parametrize("actor", list(ACTORS))
async def test_dashboard_handlers_refuse_and_change_nothing(engine, world, actor):
    make_cookie, guards = ACTORS[actor]
    cookie = make_cookie(engine, world)
    targets = [t for t in guarded_handlers() if t.guard in guards]
    assert targets, "no guarded handler found"
    failures: dict[tuple[str, str, str], str] = {}
    before = table_digest(engine)
    for target in targets:
        state = make_state(target.cls, cookie=cookie)
        defaults = {name: getattr(state, name) for name in data_vars(target.cls)}
        fn = target.cls.event_handlers[target.name].fn
        try:
            await invoke(state, fn, dummy_args(fn))
        except Exception as exc:  # noqa: BLE001  (a guard never raises: the handler ran)
            failures[(target.cls.__name__, target.name, actor)] = f"raised {exc!r}"
            before = table_digest(engine)
            continue
        problems = refusal_problems(state, target, defaults)
        after = table_digest(engine)
        if changed := changed_tables(before, after):
            problems.append(f"tables changed: {changed}")
            before = after  # blame the next change on the next handler
        if problems:
            failures[(target.cls.__name__, target.name, actor)] = "; ".join(problems)
    unexpected = {k: v for k, v in failures.items() if k not in KNOWN_GAPS}
    assert not unexpected, "\n".join(f"{c}.{n} as {a}: {why}" for (c, n, a), why in sorted(unexpected.items()))
    fixed = [k for k in KNOWN_GAPS if k[2] == actor and k not in failures]
    assert not fixed, f"these now refuse correctly; remove them from KNOWN_GAPS: {fixed}"


# ---------------------------------------------------------------------------------- every handler guarded

# Storefront states that live beside the dashboard states of a module; each is public on purpose
# (reviewed). Anything else in a dashboard module must be guarded.
PUBLIC_STATES = {
    "coursemall.state.ops.TeachApplyState": "/teach: a signed-in learner applies to teach (own data only)",
    "coursemall.state.shop_settings.BrandState": "the storefront header's shop name, logo and colour",
    "coursemall.state.shop_settings.HomeLayoutState": "the home page's sections and featured courses",
    "coursemall.state.shop_settings.PolicyState": "/policy/<kind>: the shop's public policy texts",
}


def _dashboard_module_states() -> list[type]:
    return [cls for cls in _all_states() if cls.__module__ in DASHBOARD_MODULE_NAMES]


def _unguarded(cls) -> list[str]:
    return [f"{cls.__module__}.{cls.__name__}.{name}" for name, handler in cls.event_handlers.items()
            if name != "setvar" and guard_of(handler.fn) is None]


def test_every_handler_in_the_dashboard_modules_carries_a_guard():
    states = _dashboard_module_states()
    assert any(cls.__module__ == "coursemall.state.security" for cls in states)
    assert any(cls.__module__ == "coursemall.state.admin" for cls in states)
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

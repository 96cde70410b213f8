"""Dashboard access states called directly, as a browser could (state/accounts/security.py):

- the TOTP page and the inline gate admit any signed-in dashboard user without TOTP (that is
  where it happens) and nobody else; they only touch the caller's own second factor;
- enrolment shows a QR and a key, stores nothing until a right code, then verifies this device and
  shows 10 recovery codes once; the gate's code opens the refused page (the dashboard home) at once;
- staff management and the audit log are owner-only (TOTP included);
- bad input gets a clear message and changes nothing.
"""

from __future__ import annotations

import inspect

import pyotp
import pytest
from sqlmodel import Session, func, select

import coursemall.pages  # noqa: F401  (registers every state)
from coursemall.i18n import t
from coursemall.models import AuditLog, Instructor, LoginAttempt, MfaRecoveryCode, User, UserSession
from coursemall.services import audit, crypto
from coursemall.services.accounts import sessions
from coursemall.state.dashboard.analytics import DashboardHomeState
from coursemall.state.guards import guard_of
from coursemall.state.accounts.security import DASHBOARD_USER, AuditState, MfaGateState, SecurityState, StaffState
from tests.payments.factories import make_user
from tests.state.helpers import IPHONE_SAFARI, call, cookie_for, substate, tab_state

FORBIDDEN = t("admin.forbidden")
BAD_VALUES = [None, 0, -1, True, 2**40, 1.5, ["1"], {"id": 1}, "x" * 100_000, "", "1; DROP TABLE"]

EXPECTED_HANDLERS = {
    SecurityState: ({"load_security", "start_enrol", "cancel_enrol", "confirm_enrol", "verify_device",
                     "regenerate_codes", "hide_codes"}, DASHBOARD_USER),
    MfaGateState: ({"load_gate", "submit_gate"}, DASHBOARD_USER),
    StaffState: ({"load_staff", "promote_staff", "demote_staff", "reset_staff_mfa"}, "owner_required"),
    AuditState: ({"load_audit", "filter_audit", "next_audit_page", "prev_audit_page"}, "owner_required"),
}


def make_state(cls, cookie: str = "", path: str = "/admin/security", query: str = ""):
    return tab_state(cls, cookie=cookie, ua=IPHONE_SAFARI, route=path, path=path + (f"?{query}" if query else ""))


def sibling(state, cls):
    """The `cls` state in the same tree (same browser tab) as `state`."""
    root = state
    while root.parent_state is not None:
        root = root.parent_state
    return substate(root, cls)


@pytest.fixture
def people(engine):
    with Session(engine, expire_on_commit=False) as s:
        owner = make_user(s, role="owner")
        staff = make_user(s, role="staff")
        learner = make_user(s)
        teacher = make_user(s, role="instructor")
        s.add(Instructor(user_id=teacher.id, name="讲师", status="approved"))
        s.commit()
        return {"owner": owner.id, "staff": staff.id, "learner": learner.id, "teacher": teacher.id,
                "learner_email": learner.email, "staff_email": staff.email}


def snapshot(engine) -> dict:
    with Session(engine) as s:
        return {
            "users": sorted((u.id, u.role, u.totp_secret, u.totp_last_step, u.is_active)
                            for u in s.exec(select(User)).all()),
            "sessions": sorted((x.id, x.revoked_at is None, x.mfa_verified_at is None)
                               for x in s.exec(select(UserSession)).all()),
            "codes": sorted((c.code_hash, c.used_at is None) for c in s.exec(select(MfaRecoveryCode)).all()),
            "audit": s.exec(select(func.count()).select_from(AuditLog)).one(),
        }


def session_verified(engine, cookie: str) -> bool:
    token = cookie.split("cm_session=")[1]
    with Session(engine) as s:
        return sessions.resolve_session(s, token_hash_hex=sessions.token_hash(token)).mfa_verified


async def enrol_via_page(engine, user_id: int) -> tuple[str, list[str], str]:
    """Enrol through SecurityState as the browser would; returns (seed, recovery codes, cookie)."""
    cookie = cookie_for(engine, user_id, mfa=False)
    state = make_state(SecurityState, cookie)
    await call(state, "load_security")
    await call(state, "start_enrol")
    seed = state.enrol_key
    await call(state, "confirm_enrol", {"code": pyotp.TOTP(seed).now()})
    assert state.error == "", state.error
    return seed, list(state.new_codes), cookie


def later_code(seed: str) -> str:
    """The next step's code (the current one was spent by the enrolment)."""
    totp = pyotp.TOTP(seed)
    return totp.at(pyotp.totp.datetime.datetime.now(), counter_offset=1)


# ---------------------------------------------------------------------------------- guards

def test_pages_and_states_share_one_set_of_paths():
    from coursemall import urls
    from coursemall.pages import routes

    assert (routes.ADMIN, routes.ADMIN_SECURITY) == (urls.ADMIN, urls.ADMIN_SECURITY) == ("/admin", "/admin/security")


def test_every_handler_carries_its_guard():
    for cls, (names, guard) in EXPECTED_HANDLERS.items():
        own = set(cls.event_handlers) - {"setvar"}
        assert own == names, cls.__name__
        for name in names:
            fn = cls.event_handlers[name].fn
            assert guard_of(fn) == guard, f"{cls.__name__}.{name}"
            assert hasattr(fn, "__wrapped__")
            assert inspect.iscoroutinefunction(fn) == inspect.iscoroutinefunction(fn.__wrapped__)


def _dummy_args(cls, name) -> tuple:
    params = list(inspect.signature(cls.event_handlers[name].fn.__wrapped__).parameters)[1:]
    return tuple({"code": "123456", "account": "x@example.com", "action": "", "actor": ""} if p == "form_data"
                 else 1 for p in params)


@pytest.mark.parametrize("who", ["anonymous", "learner", "revoked_staff"])
async def test_outsiders_change_nothing_and_see_nothing(engine, people, who):
    if who == "anonymous":
        cookie = "cm_lang=zh_CN"
    elif who == "learner":
        cookie = cookie_for(engine, people["learner"])
    else:
        cookie = cookie_for(engine, people["staff"])
        with Session(engine) as s:
            sessions.revoke_all_sessions(s, user_id=people["staff"])
            s.commit()
    before = snapshot(engine)
    for cls, (names, _guard) in EXPECTED_HANDLERS.items():
        for name in sorted(names):
            state = make_state(cls, cookie)
            result = await call(state, name, *_dummy_args(cls, name))
            error = state.gate_error if cls is MfaGateState else state.error
            assert result is None and error == FORBIDDEN, f"{cls.__name__}.{name}"
            assert not getattr(state, "allowed", False) and not getattr(state, "gate_loaded", False)
            for var in ("enrol_qr", "enrol_key", "new_codes", "staff_rows", "entries", "actors"):
                assert not getattr(state, var, None), f"{cls.__name__}.{name} leaked {var}"
    assert snapshot(engine) == before


@pytest.mark.parametrize("who", ["staff", "teacher", "unverified_owner"])
async def test_staff_and_audit_pages_are_owner_only_with_totp(engine, people, who):
    cookie = cookie_for(engine, people["owner"], mfa=False) if who == "unverified_owner" else \
        cookie_for(engine, people[who])
    before = snapshot(engine)
    for cls in (StaffState, AuditState):
        for name in sorted(EXPECTED_HANDLERS[cls][0]):
            state = make_state(cls, cookie)
            await call(state, name, *_dummy_args(cls, name))
            data = state.staff_rows if cls is StaffState else state.entries
            assert not state.allowed and data == [], f"{cls.__name__}.{name}"
            assert state.mfa_needed == (who == "unverified_owner"), f"{cls.__name__}.{name}"
    assert snapshot(engine) == before


# ---------------------------------------------------------------------------------- enrolment

async def test_owner_enrols_from_an_unverified_session(engine, people):
    cookie = cookie_for(engine, people["owner"], mfa=False)
    state = make_state(SecurityState, cookie, query="next=/admin/refunds")
    await call(state, "load_security")
    assert state.allowed and state.required and not state.enrolled and not state.verified
    assert state.next_path == "/admin/refunds"
    await call(state, "start_enrol")
    assert state.enrolling and state.enrol_qr.startswith("data:image/png;base64,")
    seed = state.enrol_key
    assert len(seed) == 32 and seed not in state._pending_enrol
    assert crypto.decrypt(state._pending_enrol) == f"{people['owner']}:{seed}"

    before = snapshot(engine)
    for bad in BAD_VALUES + [{"code": "12345"}, {"code": None}, {"code": ["1"]}]:
        await call(state, "confirm_enrol", bad)
        assert state.error and state.section == "enrol" and not state.new_codes
    wrong = "000000" if pyotp.TOTP(seed).now() != "000000" else "111111"
    await call(state, "confirm_enrol", {"code": wrong})
    assert state.error == t("mfa.code_wrong") and state.enrolling
    after = snapshot(engine)
    assert after == before  # only the failure counter (LoginAttempt) moved

    await call(state, "confirm_enrol", {"code": pyotp.TOTP(seed).now()})
    assert state.error == "" and state.success == t("mfa.ui.enrolled")
    assert len(state.new_codes) == 10 and not state.enrolling and state.enrol_key == "" and state.enrol_qr == ""
    assert state.enrolled and state.verified and session_verified(engine, cookie)
    await call(state, "hide_codes")
    assert state.new_codes == []

    home = make_state(DashboardHomeState, cookie)  # the dashboard opens on this device now
    await call(home, "load_dashboard_home")
    assert home.allowed and not home.mfa_needed


async def test_enrolment_of_an_enrolled_user_needs_a_verified_device(engine, people):
    seed, _codes, _cookie = await enrol_via_page(engine, people["staff"])
    stranger_device = cookie_for(engine, people["staff"], mfa=False)  # e.g. a stolen password
    state = make_state(SecurityState, stranger_device)
    await call(state, "load_security")
    before = snapshot(engine)
    await call(state, "start_enrol")
    assert state.error == t("mfa.verify_first") and not state.enrolling and state.enrol_key == ""
    await call(state, "regenerate_codes")
    assert state.error == t("mfa.verify_first") and state.new_codes == []
    await call(state, "confirm_enrol", {"code": pyotp.TOTP(seed).now()})  # nothing pending
    assert state.error == t("mfa.enrol_expired")
    assert snapshot(engine) == before


async def test_a_pending_enrolment_does_not_carry_over_to_another_account(engine, people):
    """Owner starts enrolling, then staff signs in on the same browser tab: the seed the owner saw
    cannot become the staff member's authenticator."""
    state = make_state(SecurityState, cookie_for(engine, people["owner"], mfa=False))
    await call(state, "start_enrol")
    seed = state.enrol_key
    staff_cookie = cookie_for(engine, people["staff"], mfa=False)
    before = snapshot(engine)
    state.router = make_state(SecurityState, staff_cookie).router  # the new cookie on the same state
    await call(state, "confirm_enrol", {"code": pyotp.TOTP(seed).now()})
    assert state.error == t("mfa.enrol_expired") and not state.enrolling and state.new_codes == []
    assert snapshot(engine) == before and not session_verified(engine, staff_cookie)


async def test_verify_with_code_or_recovery_code(engine, people):
    seed, codes, _cookie = await enrol_via_page(engine, people["staff"])
    cookie = cookie_for(engine, people["staff"], mfa=False)
    state = make_state(SecurityState, cookie, query="next=//evil.example.com/x")
    await call(state, "load_security")
    assert state.enrolled and not state.verified and state.next_path == "/admin"  # no off-site next
    for bad in BAD_VALUES:
        await call(state, "verify_device", bad)
        assert state.error == t("mfa.code_invalid"), bad
    assert not session_verified(engine, cookie)
    await call(state, "verify_device", {"code": later_code(seed)})
    assert state.success == t("mfa.ui.verified") and state.verified and session_verified(engine, cookie)

    other = cookie_for(engine, people["staff"], mfa=False)
    state2 = make_state(SecurityState, other)
    await call(state2, "verify_device", {"code": codes[3]})
    assert state2.success == t("mfa.ui.verified_recovery") and session_verified(engine, other)
    assert state2.recovery_left_text == t("mfa.ui.recovery_left", count=9)
    await call(state2, "regenerate_codes")
    assert len(state2.new_codes) == 10 and not set(state2.new_codes) & set(codes)


async def test_instructor_uses_the_page_without_being_required(engine, people):
    state = make_state(SecurityState, cookie_for(engine, people["teacher"], mfa=False))
    await call(state, "load_security")
    assert state.allowed and not state.required and not state.is_staff


# ---------------------------------------------------------------------------------- the gate

async def test_gate_verifies_and_reloads_the_refused_page(engine, people):
    seed, _codes, _c = await enrol_via_page(engine, people["owner"])
    cookie = cookie_for(engine, people["owner"], mfa=False)
    home = make_state(DashboardHomeState, cookie, path="/admin")
    await call(home, "load_dashboard_home")
    assert home.mfa_needed and not home.allowed and home.pending_refunds == 0

    gate = make_state(MfaGateState, cookie, path="/admin/refunds")
    await call(gate, "load_gate")
    assert gate.gate_loaded and gate.gate_enrolled
    assert gate.gate_security_href == "/admin/security?next=%2Fadmin%2Frefunds"
    wrong = "000000" if later_code(seed) != "000000" else "111111"
    assert await call(gate, "submit_gate", {"code": wrong}) is None
    assert gate.gate_error == t("mfa.code_wrong")
    result = await call(gate, "submit_gate", {"code": later_code(seed)})
    assert "window.location.reload()" in str(result)
    await call(home, "load_dashboard_home")
    assert home.allowed and not home.mfa_needed


async def test_the_gate_does_not_open_the_page_it_sits_in(engine, people):
    """Gate and page live in one state tree (one browser tab): loading the gate must leave the
    refused page refused (Reflex keeps inherited vars such as `allowed` on the ancestor state)."""
    await enrol_via_page(engine, people["owner"])
    home = make_state(DashboardHomeState, cookie_for(engine, people["owner"], mfa=False), path="/admin")
    await call(home, "load_dashboard_home")
    gate = sibling(home, MfaGateState)
    await call(gate, "load_gate")
    assert gate.gate_loaded and gate.gate_enrolled
    assert home.mfa_needed and not home.allowed and home.error == t("admin.mfa_required")


async def test_gate_links_to_enrolment_when_not_enrolled(engine, people):
    gate = make_state(MfaGateState, cookie_for(engine, people["staff"], mfa=False), path="/admin/orders")
    await call(gate, "load_gate")
    assert gate.gate_loaded and not gate.gate_enrolled
    assert gate.gate_security_href == "/admin/security?next=%2Fadmin%2Forders"
    before = snapshot(engine)
    await call(gate, "submit_gate", {"code": "123456"})
    assert gate.gate_error == t("mfa.not_enrolled") and snapshot(engine) == before


async def test_failed_gate_codes_are_rate_limited(engine, people):
    seed, _codes, _c = await enrol_via_page(engine, people["staff"])
    cookie = cookie_for(engine, people["staff"], mfa=False)
    gate = make_state(MfaGateState, cookie)
    wrong = "000000" if later_code(seed) != "000000" else "111111"
    for _ in range(5):
        await call(gate, "submit_gate", {"code": wrong})
    await call(gate, "submit_gate", {"code": later_code(seed)})
    assert "分钟后再试" in gate.gate_error and not session_verified(engine, cookie)
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(LoginAttempt)
                      .where(LoginAttempt.success.is_(False))).one() == 5


# ---------------------------------------------------------------------------------- staff page

async def test_owner_manages_staff(engine, people):
    cookie = cookie_for(engine, people["owner"])
    state = make_state(StaffState, cookie, path="/admin/staff")
    await call(state, "load_staff")
    assert state.allowed and {r["id"] for r in state.staff_rows} == {str(people["owner"]), str(people["staff"])}

    before = snapshot(engine)
    for bad in BAD_VALUES + [{"account": "nobody@example.com"}, {"account": "   "}, {"account": ["a"]}]:
        await call(state, "promote_staff", bad)
        assert state.error and state.section == "promote", bad
    for bad in BAD_VALUES + [str(people["owner"]), str(people["learner"]), 10**6]:
        await call(state, "demote_staff", bad)
        assert state.error, bad
        await call(state, "reset_staff_mfa", bad)
        assert state.error, bad
    assert snapshot(engine) == before

    await call(state, "promote_staff", {"account": people["learner_email"]})
    assert state.success and len(state.staff_rows) == 3
    learner_row = next(r for r in state.staff_rows if r["id"] == str(people["learner"]))
    assert learner_row["role"] == "staff" and learner_row["mfa"] == "off"
    await call(state, "demote_staff", str(people["learner"]))
    assert state.success == t("staff.ui.demoted") and len(state.staff_rows) == 2
    with Session(engine) as s:
        assert s.get(User, people["learner"]).role == "learner"


async def test_owner_resets_staff_2fa_from_the_page(engine, people):
    _seed, _codes, staff_cookie = await enrol_via_page(engine, people["staff"])
    assert session_verified(engine, staff_cookie)
    state = make_state(StaffState, cookie_for(engine, people["owner"]), path="/admin/staff")
    await call(state, "load_staff")
    assert next(r for r in state.staff_rows if r["id"] == str(people["staff"]))["mfa"] == "on"
    await call(state, "reset_staff_mfa", str(people["staff"]))
    assert state.success == t("staff.ui.mfa_reset")
    assert next(r for r in state.staff_rows if r["id"] == str(people["staff"]))["mfa"] == "off"
    assert not session_verified(engine, staff_cookie)
    home = make_state(DashboardHomeState, staff_cookie)
    await call(home, "load_dashboard_home")
    assert home.mfa_needed and not home.allowed


# ---------------------------------------------------------------------------------- audit page

async def test_owner_reads_the_audit_log(engine, people):
    with Session(engine) as s:
        for i in range(35):
            audit.record(s, actor_id=people["staff"], action="refund.approve", target=f"refund:{i}", detail={"i": i})
        audit.record(s, actor_id=people["owner"], action="staff.promote", target="user:7")
        s.commit()
    state = make_state(AuditState, cookie_for(engine, people["owner"]), path="/admin/audit")
    await call(state, "load_audit")
    assert state.allowed and len(state.entries) == 30 and state.has_more
    assert state.entries[0]["action"] == "staff.promote"  # newest first
    assert {a["id"] for a in state.actors} == {str(people["owner"]), str(people["staff"])}
    await call(state, "next_audit_page")
    assert state.audit_page == 2 and len(state.entries) == 6 and not state.has_more
    assert state.page_label == t("audit.ui.page", page=2)
    await call(state, "next_audit_page")  # no further page: stays
    assert state.audit_page == 2
    await call(state, "prev_audit_page")
    assert state.audit_page == 1

    await call(state, "filter_audit", {"action": "staff", "actor": ""})
    assert [e["target"] for e in state.entries] == ["user:7"]
    await call(state, "filter_audit", {"action": "", "actor": str(people["staff"])})
    assert state.entries and all(e["action"] == "refund.approve" for e in state.entries)
    shown = list(state.entries)
    not_forms = [v for v in BAD_VALUES if not isinstance(v, dict)]  # a form without fields = no filter
    for bad in not_forms + [{"action": "x;--", "actor": ""}, {"action": "", "actor": "abc"},
                                 {"action": ["a"], "actor": ""}, {"action": "", "actor": {"a": 1}}]:
        await call(state, "filter_audit", bad)
        assert state.error == t("audit.bad_filter"), bad
        assert state.entries == shown  # a refused filter keeps the list

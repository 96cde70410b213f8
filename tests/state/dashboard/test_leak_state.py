"""LeakState (/admin/leak) called directly, as a browser could (ARCHITECTURE.md rules 1, 2, 4).

- the exact handler set, each carrying `@staff_required` below `@rx.event`;
- anonymous visitors, learners, instructors and staff without the TOTP step change nothing and
  see no data;
- the account acted on is the one the last lookup found (server-side): no handler takes a user id;
- bad payloads get a clear message and change nothing; the staff flow works end to end.
"""

from __future__ import annotations

import inspect

import pytest
from sqlmodel import Session, func, select

import coursemall.pages  # noqa: F401  (registers every state)
from coursemall.i18n import t
from coursemall.models import AuditLog, Entitlement, Instructor, Message, User, UserSession
from coursemall.services.accounts import sessions
from coursemall.state.guards import guard_of
from coursemall.state.dashboard.leak import LeakState
from tests.payments.factories import make_course, make_user
from tests.state.helpers import call, cookie_for, make_state

CODE = "K7QZ2MFO"
HANDLERS = {"load_leak", "trace", "ask_action", "cancel_action", "confirm_action"}
BAD_VALUES = [None, 0, -1, True, 2**40, 1.5, ["1"], {"id": 1}, "x" * 100_000, "", "1; DROP TABLE", "-3"]


@pytest.fixture
def shop(engine):
    with Session(engine, expire_on_commit=False) as s:
        owner = make_user(s, role="owner")
        staff = make_user(s, role="staff")
        learner = make_user(s)
        teacher = make_user(s)
        s.add(Instructor(user_id=teacher.id, name="讲师", status="approved"))
        leaker = make_user(s)
        leaker.watermark_code = CODE
        s.add(leaker)
        course = make_course(s, title="数据分析")
        s.add(Entitlement(user_id=leaker.id, course_id=course.id, source="order"))
        sessions.create_session(s, user_id=leaker.id, user_agent="Mozilla/5.0 (iPhone)", ip="10.0.0.1")
        s.commit()
        return {"owner": owner.id, "staff": staff.id, "learner": learner.id, "teacher": teacher.id,
                "leaker": leaker.id, "owner_code": owner.watermark_code}


def snapshot(engine) -> dict:
    with Session(engine) as s:
        return {
            "users": sorted((u.id, u.is_active, u.frozen_reason) for u in s.exec(select(User)).all()),
            "sessions": sorted((x.id, x.revoked_at is None) for x in s.exec(select(UserSession)).all()),
            "grants": sorted((e.id, e.revoked_at is None) for e in s.exec(select(Entitlement)).all()),
            "audit": s.exec(select(func.count()).select_from(AuditLog)).one(),
            "messages": s.exec(select(func.count()).select_from(Message)).one(),
        }


def staff_state(engine, shop, who="staff"):
    return make_state(LeakState, cookie=cookie_for(engine, shop[who]))


def assert_no_data(state) -> None:
    assert not state.found and state.account == {} and state.orders == [] and state.devices == []
    assert state.ips == [] and state.study == [] and state.pending == "" and state._target_user_id == 0


# ---------------------------------------------------------------------------------- guards

def test_exact_handlers_each_guarded_below_rx_event():
    names = {n for n in LeakState.event_handlers if n != "setvar"}
    assert names == HANDLERS
    for name in names:
        fn = LeakState.event_handlers[name].fn
        assert guard_of(fn) == "staff_required", name
        assert inspect.isfunction(fn) and hasattr(fn, "__wrapped__")


def valid_calls() -> list[tuple[str, tuple]]:
    return [("load_leak", ()), ("trace", ({"code": CODE},)), ("ask_action", ("freeze",)), ("cancel_action", ()),
            ("confirm_action", ({"action": "freeze", "reason": "盗版"},))]


@pytest.mark.parametrize("who", ["anonymous", "learner", "teacher", "leaker", "staff_without_totp"])
async def test_others_change_nothing_and_see_nothing(engine, shop, who):
    if who == "anonymous":
        cookie = "cm_lang=zh_CN"
    elif who == "staff_without_totp":
        cookie = cookie_for(engine, shop["staff"], mfa=False)
    else:
        cookie = cookie_for(engine, shop[who])
    before = snapshot(engine)
    for handler, args in valid_calls():
        state = make_state(LeakState, cookie=cookie)
        state.pending = "freeze"  # even a state primed as if a lookup had happened
        state._target_user_id = shop["leaker"]
        await call(state, handler, *args)
        assert not state.allowed and state.error
        assert state.error == t("admin.mfa_required" if who == "staff_without_totp" else "admin.forbidden")
        assert state.mfa_needed == (who == "staff_without_totp")
        assert_no_data(state)
    assert snapshot(engine) == before


# ---------------------------------------------------------------------------------- the flow

async def test_staff_traces_freezes_revokes_and_unfreezes(engine, shop):
    state = staff_state(engine, shop)
    await call(state, "load_leak")
    assert state.allowed and state.is_staff and not state.found

    await call(state, "trace", {"code": " k7qz-2mf0 "})
    assert state.found and state.success == t("leak.found")
    assert state.account["code"] == CODE and state.account["status"] == "active"
    assert state.account["courses"] == "1" and state.devices[0]["agent"] == "Mozilla/5.0 (iPhone)"
    assert state._target_user_id == shop["leaker"]

    await call(state, "ask_action", "freeze")
    assert state.pending == "freeze"
    await call(state, "confirm_action", {"action": "freeze", "reason": "盗版视频出现水印"})
    assert state.error == "" and state.success == t("leak.done.freeze", count=1)
    assert state.is_frozen and state.pending == "" and state.account["frozen_reason"] == "盗版视频出现水印"

    await call(state, "ask_action", "revoke")
    await call(state, "confirm_action", {"action": "revoke", "reason": "分享账号"})
    assert state.success == t("leak.done.revoke", count=1) and state.account["courses"] == "0"

    await call(state, "ask_action", "unfreeze")
    await call(state, "confirm_action", {"action": "unfreeze", "reason": "核实后解除"})
    assert not state.is_frozen and state.success == t("leak.done.unfreeze")

    with Session(engine) as s:
        actions = [a.action for a in s.exec(select(AuditLog).order_by(AuditLog.id)).all()]
        assert actions == ["leak.lookup", "leak.freeze", "leak.revoke_access", "leak.unfreeze"]
        assert s.exec(select(func.count()).select_from(Message)).one() == 0  # nobody was told


async def test_cancel_leaves_everything_as_it_was(engine, shop):
    state = staff_state(engine, shop)
    await call(state, "trace", {"code": CODE})
    await call(state, "ask_action", "freeze")
    before = snapshot(engine)
    await call(state, "cancel_action")
    assert state.pending == ""
    await call(state, "confirm_action", {"action": "freeze", "reason": "盗版"})
    assert state.error == t("leak.confirm_first")
    assert snapshot(engine) == before


# ---------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("value", BAD_VALUES)
async def test_bad_codes_get_a_message_and_show_nothing(engine, shop, value):
    state = staff_state(engine, shop)
    await call(state, "trace", {"code": CODE})
    before = snapshot(engine)
    for payload in (value, {"code": value}):
        await call(state, "trace", payload)
        assert state.error == t("leak.code_invalid") and state.section == "search"
        assert_no_data(state)
    assert snapshot(engine) == before


async def test_unknown_code_is_a_clear_message(engine, shop):
    state = staff_state(engine, shop)
    await call(state, "trace", {"code": "zzzz 9999"})
    assert state.error == t("leak.not_found", typed="zzzz9999")
    assert_no_data(state)


@pytest.mark.parametrize("value", BAD_VALUES + ["delete", "FREEZE"])
async def test_bad_actions_change_nothing(engine, shop, value):
    state = staff_state(engine, shop)
    await call(state, "trace", {"code": CODE})
    before = snapshot(engine)
    await call(state, "ask_action", value)
    assert state.error == t("error.bad_request") and state.pending == ""
    assert snapshot(engine) == before


async def test_actions_need_a_lookup_then_a_matching_confirmation_with_a_reason(engine, shop):
    state = staff_state(engine, shop)
    before = snapshot(engine)
    await call(state, "ask_action", "freeze")
    assert state.error == t("leak.trace_first") and state.pending == ""
    await call(state, "confirm_action", {"action": "freeze", "reason": "x"})
    assert state.error == t("leak.confirm_first")

    await call(state, "trace", {"code": CODE})
    before = snapshot(engine)
    await call(state, "ask_action", "revoke")
    for payload in BAD_VALUES + [{"action": "freeze", "reason": "理由"}, {"reason": "理由"}]:
        await call(state, "confirm_action", payload)
        assert state.error == t("error.bad_request"), payload
    for reason in BAD_VALUES[:-1] + ["   ", "x" * 201]:
        if isinstance(reason, str) and 1 <= len(reason.strip()) <= 200:
            continue
        await call(state, "confirm_action", {"action": "revoke", "reason": reason})
        assert state.error == t("admin.reason_length", min=1, max=200), reason
    assert state.pending == "revoke"
    assert snapshot(engine) == before


async def test_the_owner_account_is_protected(engine, shop):
    state = staff_state(engine, shop)
    await call(state, "trace", {"code": shop["owner_code"]})
    assert state.found
    before = snapshot(engine)
    await call(state, "ask_action", "freeze")
    await call(state, "confirm_action", {"action": "freeze", "reason": "试试"})
    assert state.error == t("leak.protected") and state.section == "actions"
    assert snapshot(engine) == before

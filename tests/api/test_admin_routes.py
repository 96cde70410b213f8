"""GET /api/admin/manual-proof/{id}: the proof image for owner/staff whose session passed TOTP
(the same rule as the dashboard handlers), never cached publicly."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

import coursemall.db
from coursemall.api import admin as admin_api
from coursemall.api import build_api
from coursemall.models import Instructor
from coursemall.services.commerce import checkout, manual_pay
from coursemall.services.accounts import sessions
from tests.payments.factories import make_course, make_user


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (30, 20), (200, 10, 10)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def env(sqlite_engine, monkeypatch):
    monkeypatch.setattr(coursemall.db, "get_engine", lambda: sqlite_engine)
    with Session(sqlite_engine, expire_on_commit=False) as s:
        owner = make_user(s, role="owner")
        staff = make_user(s, role="staff")
        learner = make_user(s)
        other = make_user(s)
        manual_pay.update_manual_settings(s, actor_id=owner.id, enabled=True, instructions="", qr_image=png())
        order = checkout.buy_now(s, actor_id=learner.id, item_type="course",
                                 item_id=make_course(s, price_fen=500).id)
        mp = manual_pay.submit_manual_proof(s, actor_id=learner.id, order_no=order.out_trade_no, image=png(),
                                            reference="ref-1")
        instructor = make_user(s)
        s.add(Instructor(user_id=instructor.id, name="讲师", status="approved"))
        tokens = {}
        for name, user in (("owner", owner), ("staff", staff), ("learner", learner), ("other", other),
                           ("instructor", instructor)):
            # owner/staff sessions passed TOTP; learners' flags make no difference
            tokens[name] = sessions.create_session(s, user_id=user.id, mfa_verified=True)
        for name, user in (("owner_no_totp", owner), ("staff_no_totp", staff)):
            tokens[name] = sessions.create_session(s, user_id=user.id)  # password only
        s.commit()
    client = TestClient(Starlette(routes=admin_api.ROUTES), base_url="http://localhost:3000")
    return client, tokens, mp.id


def get(client, path, token=None):
    client.cookies.clear()
    if token:
        client.cookies.set("cm_session", token)
    return client.get(path)


@pytest.mark.parametrize("who", ["owner", "staff"])
def test_staff_get_the_image_privately(env, who):
    client, tokens, mp_id = env
    r = get(client, f"/api/admin/manual-proof/{mp_id}", tokens[who])
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content.startswith(b"\x89PNG")
    assert r.headers["cache-control"] == "private, no-store"
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("who", ["learner", "other", "instructor", "owner_no_totp", "staff_no_totp", None])
def test_others_get_403(env, who):
    """Even the learner who uploaded it: this route is the owner's queue (no learner view here).
    Owner and staff whose session has not passed TOTP are refused like everyone else."""
    client, tokens, mp_id = env
    r = get(client, f"/api/admin/manual-proof/{mp_id}", tokens[who] if who else None)
    assert r.status_code == 403 and b"PNG" not in r.content
    assert r.headers["cache-control"] == "private, no-store"


@pytest.mark.parametrize("cookie", ["garbage", "x" * 5000, "A" * 43, "", "a b"])
def test_bad_or_unknown_cookies_get_403(env, cookie):
    client, _tokens, mp_id = env
    client.cookies.clear()
    r = client.get(f"/api/admin/manual-proof/{mp_id}", headers={"cookie": f"cm_session={cookie}"})
    assert r.status_code == 403


def test_totp_step_opens_the_route(env, sqlite_engine):
    """The same device is let in once its session is marked verified (the TOTP step)."""
    client, tokens, mp_id = env
    path = f"/api/admin/manual-proof/{mp_id}"
    assert get(client, path, tokens["staff_no_totp"]).status_code == 403
    with Session(sqlite_engine) as s:
        resolved = sessions.resolve_session(s, token_hash_hex=sessions.token_hash(tokens["staff_no_totp"]))
        sessions.mark_mfa_verified(s, session_id=resolved.session_id, user_id=resolved.user_id)
        s.commit()
    r = get(client, path, tokens["staff_no_totp"])
    assert r.status_code == 200 and r.content.startswith(b"\x89PNG")


def test_revoked_session_gets_403(env, sqlite_engine):
    client, tokens, mp_id = env
    with Session(sqlite_engine) as s:
        sessions.revoke_session_by_hash(s, token_hash_hex=sessions.token_hash(tokens["owner"]))
        s.commit()
    assert get(client, f"/api/admin/manual-proof/{mp_id}", tokens["owner"]).status_code == 403


@pytest.mark.parametrize("raw", ["999999", "0", "-1", "abc", "1.5", "9" * 30, "%00"])
def test_unknown_or_bad_ids(env, raw):
    client, tokens, _mp_id = env
    assert get(client, f"/api/admin/manual-proof/{raw}", tokens["owner"]).status_code == 404
    assert get(client, f"/api/admin/manual-proof/{raw}", tokens["learner"]).status_code == 403
    assert get(client, f"/api/admin/manual-proof/{raw}", tokens["owner_no_totp"]).status_code == 403
    assert get(client, f"/api/admin/manual-proof/{raw}").status_code == 403


def test_only_get(env):
    client, tokens, mp_id = env
    client.cookies.set("cm_session", tokens["owner"])
    assert client.post(f"/api/admin/manual-proof/{mp_id}").status_code == 405


def test_route_is_mounted_in_the_app_api():
    paths = {getattr(r, "path", "") for r in build_api().routes}
    assert "/api/admin/manual-proof/{mp_id}" in paths

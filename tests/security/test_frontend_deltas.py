"""Nothing secret reaches the browser: record every websocket frame a signed-in learner receives.

A demo learner signs in and browses home, a course, a lesson and /me in headless Chromium. Every
frame the browser receives on the event websocket (the state deltas) is kept and searched for
password hashes, the session cookie, secret column names, other users' e-mails, phones and
watermark codes, and raw ORM reprs.
"""

from __future__ import annotations

import json
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.fixtures import browser, live_server, query, shop_db  # noqa: F401

pytestmark = pytest.mark.e2e

LEARNER = "learner1@coursemall.local"
try:
    from coursemall.demo.accounts import LEARNER_PASSWORD
except ImportError:
    LEARNER_PASSWORD = "learner-demo-2026"

FORBIDDEN_WORDS = [
    "$argon2", "$2b$", "password_hash", "token_hash", "ticket_hash", "code_hash", "totp_secret",
    "watermark_code", "_sa_instance_state", "sqlalchemy", "<coursemall.models", "InstanceState",
]


@pytest.fixture
def recorded(browser, live_server):  # noqa: F811
    ctx = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844},
                              is_mobile=True, locale="zh-CN")
    ctx.set_default_timeout(15_000)
    frames: list[str] = []
    sockets: list[str] = []

    def on_ws(ws):
        sockets.append(ws.url)
        ws.on("framereceived",
              lambda payload: frames.append(payload if isinstance(payload, str)
                                            else payload.decode("utf-8", "replace")))

    page = ctx.new_page()
    page.on("websocket", on_ws)
    yield ctx, page, frames, sockets
    ctx.close()


def _decoded(frame: str) -> str:
    """A socket.io frame ('42/_event,[...]') re-serialised without \\u escapes, for searching."""
    start = frame.find("[")
    if start < 0:
        return ""
    try:
        return json.dumps(json.loads(frame[start:]), ensure_ascii=False)
    except ValueError:
        return ""


def _quiet(page, frames: list, quiet_s: float = 0.5, within_s: float = 20.0) -> None:
    """Wait until no websocket frame has arrived for `quiet_s`: the last deltas are in."""
    deadline = time.monotonic() + within_s
    seen, since = len(frames), time.monotonic()
    while time.monotonic() - since < quiet_s:
        assert time.monotonic() < deadline, f"websocket frames still arriving after {within_s} s"
        page.wait_for_timeout(50)  # lets playwright deliver frames; the loop waits for quiet
        if len(frames) != seen:
            seen, since = len(frames), time.monotonic()


def _journey(page, frames, shop_db):  # noqa: F811
    page.goto("/login")
    page.locator("#login-account").fill(LEARNER)
    page.locator("#login-password").fill(LEARNER_PASSWORD)
    page.locator("#login-submit").click()
    expect(page.locator("#nav-profile")).to_be_visible()

    page.goto("/")
    expect(page.locator("[id^=course-card-]").first).to_be_visible()

    course_id, lesson_id = query(
        shop_db,
        "SELECT c.id, l.id FROM courses c JOIN lessons l ON l.course_id = c.id "
        "WHERE c.status = 'published' AND l.is_free_trial = :t ORDER BY c.id, l.position LIMIT 1",
        t=True)[0]
    page.goto(f"/course/{course_id}")
    expect(page.locator("#course-title")).to_be_visible()
    expect(page.locator("#course-outline")).to_be_visible()

    page.goto(f"/lesson/{lesson_id}")
    expect(page.locator("#lesson-video, #lesson-audio, #lesson-article").first).to_be_attached()

    page.goto("/me")
    expect(page.locator("#profile-nickname")).to_be_visible()
    _quiet(page, frames)


def test_deltas_of_a_signed_in_learner_hold_no_secrets(recorded, shop_db):  # noqa: F811
    ctx, page, frames, sockets = recorded
    _journey(page, frames, shop_db)

    assert sockets and all("/_event" in url for url in sockets), sockets
    assert len(frames) >= 5, "too few websocket frames recorded; is the recorder attached?"
    blob = "\n".join(frames + [_decoded(f) for f in frames])
    # Positive control: the recorder sees real state (the learner's own nickname is in it).
    (nickname,) = query(shop_db, "SELECT nickname FROM users WHERE email = :e", e=LEARNER)[0]
    assert nickname in blob, "the learner's own nickname is not in any frame: recorder broken?"

    cookie = next((c for c in ctx.cookies() if c["name"] == "cm_session"), None)
    assert cookie is not None, "signed in without a cm_session cookie"
    assert cookie["httpOnly"], "cm_session must be HttpOnly"
    assert len(cookie["value"]) >= 16
    assert cookie["value"] not in blob, "the session token was sent in a state delta"

    for word in FORBIDDEN_WORDS:
        assert word not in blob, f"{word!r} appears in a websocket frame"
    assert LEARNER_PASSWORD not in blob, "the typed password came back from the server"

    others = query(shop_db, "SELECT email, phone, watermark_code FROM users WHERE email IS NULL "
                            "OR email <> :me", me=LEARNER)
    assert others, "the demo has other users to compare against"
    for email, phone, watermark in others:
        if email:
            assert email not in blob, f"another user's e-mail {email} reached the browser"
        if phone:
            assert phone not in blob, f"another user's phone {phone} reached the browser"
        if watermark and len(watermark) >= 6:
            assert watermark not in blob, "another user's watermark code reached the browser"

    hashes = query(shop_db, "SELECT password_hash FROM users WHERE password_hash <> ''")
    for (h,) in hashes:
        assert h not in blob
    tokens = query(shop_db, "SELECT token_hash FROM user_sessions")
    for (h,) in tokens:
        assert h not in blob, "a session token hash reached the browser"

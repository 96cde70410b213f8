"""Account journeys on a phone: register, sign out/in, wrong password, code sign-in, profile."""

from __future__ import annotations

import io
import os
import re
import time
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.fixtures import wait_ready

pytestmark = pytest.mark.e2e

LEARNER = "learner1@coursemall.local"
try:
    from coursemall.demo.accounts import LEARNER_PASSWORD
except ImportError:  # the demo module is not there yet
    LEARNER_PASSWORD = "learner-demo-2026"


def _unique_email() -> str:
    return f"e2e-{uuid.uuid4().hex[:10]}@example.com"


def register(page, account: str, nickname: str, password: str) -> None:
    page.goto("/register")
    page.locator("#register-account").fill(account)
    page.locator("#register-nickname").fill(nickname)
    page.locator("#register-password").fill(password)
    page.locator("#register-submit").click()


def sign_in(page, account: str, password: str) -> None:
    page.goto("/login")
    page.locator("#login-account").fill(account)
    page.locator("#login-password").fill(password)
    page.locator("#login-submit").click()


def expect_signed_in(page) -> None:
    expect(page.locator("#nav-profile")).to_be_visible()
    expect(page.locator("#nav-sign-in")).to_have_count(0)


def sign_out(page) -> None:
    """Sign out on /me; the handler revokes the session and navigates to the cookie-clearing route."""
    page.goto("/me")
    page.locator("#sign-out").click()
    deadline = time.monotonic() + 15
    while session_cookie(page.context) is not None:
        assert time.monotonic() < deadline, "cm_session cookie still set 15 s after signing out"
        page.wait_for_timeout(100)
    page.wait_for_load_state("load")
    expect(page.locator("#nav-sign-in")).to_be_visible()


def session_cookie(context) -> dict | None:
    return next((c for c in context.cookies() if c["name"] == "cm_session"), None)


def test_register_sign_out_and_sign_in_again(page, phone):
    email, password = _unique_email(), "E2e-pass-" + uuid.uuid4().hex[:8]
    register(page, email, "端到端测试", password)
    expect_signed_in(page)
    cookie = session_cookie(phone)
    assert cookie is not None, "signed in without a cm_session cookie"
    assert cookie["httpOnly"], "cm_session must be HttpOnly"
    assert cookie["sameSite"] in ("Lax", "Strict")
    assert "cm_session" not in page.evaluate("document.cookie"), "scripts can read the session"

    sign_out(page)
    assert session_cookie(phone) is None
    # The session is revoked server-side too: putting the old cookie back does not sign in.
    phone.add_cookies([cookie])
    page.goto("/me")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fme"))  # the page loaded and sent a guest to sign in
    expect(page.locator("#nav-sign-in")).to_be_visible()
    expect(page.locator("#nav-profile")).to_have_count(0)
    phone.clear_cookies()

    sign_in(page, email, password)
    expect_signed_in(page)
    page.reload()  # the HttpOnly cookie restores the session on a fresh load
    expect_signed_in(page)


def test_wrong_password_shows_error(page, phone):
    sign_in(page, LEARNER, "definitely-wrong-password")
    expect(page.locator("#form-error")).to_be_visible()
    expect(page.locator("#nav-sign-in")).to_be_visible()
    assert session_cookie(phone) is None


def test_duplicate_registration_shows_error(page, phone):
    register(page, LEARNER, "冒名顶替", "Another-pass-2026")
    expect(page.locator("#form-error")).to_be_visible()
    expect(page.locator("#nav-profile")).to_have_count(0)
    assert session_cookie(phone) is None


def test_sign_in_with_one_time_code(page, phone):
    email = _unique_email()
    register(page, email, "验证码用户", "Code-pass-" + uuid.uuid4().hex[:8])
    expect_signed_in(page)
    sign_out(page)

    page.goto("/login/code")
    page.locator("#code-account").fill(email)
    page.locator("#code-send").click()
    expect(page.locator("#code-input")).to_be_visible()

    outbox = phone.new_page()
    outbox.goto("/outbox")
    row = outbox.locator(".outbox-row", has_text=email).first
    expect(row).to_be_visible()
    # the code, not six digits of the (random) address shown in the same row
    match = re.search(r"(?<!\d)(\d{6})(?!\d)", row.inner_text().replace(email, ""))
    assert match, f"no 6-digit code in the outbox row: {row.inner_text()!r}"
    outbox.close()

    page.locator("#code-input").fill("000000" if match.group(1) != "000000" else "111111")
    page.locator("#code-submit").click()
    expect(page.locator("#form-error")).to_be_visible()  # a wrong code is refused

    page.locator("#code-input").fill(match.group(1))
    page.locator("#code-submit").click()
    expect_signed_in(page)


def _png_bytes(color=(220, 80, 30)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (320, 240), color).save(buf, "PNG")
    return buf.getvalue()


def _upload(page, name: str, data: bytes, mime: str) -> None:
    page.locator("#avatar-upload input[type=file]").set_input_files(
        {"name": name, "mimeType": mime, "buffer": data})
    submit = page.locator("#avatar-submit")
    if submit.count():
        submit.click()


def test_profile_nickname_and_avatar(page, phone):
    register(page, _unique_email(), "改名前", "Profile-pass-" + uuid.uuid4().hex[:8])
    expect_signed_in(page)

    page.goto("/me")
    wait_ready(page)
    nickname = "改名后" + uuid.uuid4().hex[:4]
    # the profile loads after the page shows: type only once the stored nickname is in the field
    expect(page.locator("#profile-nickname")).to_have_value("改名前")
    page.locator("#profile-nickname").fill(nickname)
    page.locator("#profile-save").click()
    expect(page.locator("#form-success")).to_be_visible()  # saved on the server before the reload
    page.reload()
    expect(page.locator("#profile-nickname")).to_have_value(nickname)

    avatar = page.locator("#avatar-img")
    before = avatar.get_attribute("src") if avatar.count() else None
    _upload(page, "me.png", _png_bytes(), "image/png")
    expect(page.locator("#avatar-img")).to_have_attribute("src", re.compile(r".+"))
    page.wait_for_function(
        "b => { const i = document.querySelector('#avatar-img');"
        " return i && i.getAttribute('src') && i.getAttribute('src') !== b; }",
        arg=before, timeout=15_000)
    src = page.locator("#avatar-img").get_attribute("src")
    assert "me.png" not in src, "uploaded file names must be generated server-side"
    # The new avatar is a real image the browser can load.
    loaded = page.locator("#avatar-img").evaluate(
        "i => new Promise(r => { if (i.complete) r(i.naturalWidth); "
        "i.onload = () => r(i.naturalWidth); i.onerror = () => r(0); })")
    assert loaded > 0

    _upload(page, "fake.png", b"this is plain text, not a picture\n" * 10, "image/png")
    expect(page.locator("#form-error")).to_be_visible()
    assert page.locator("#avatar-img").get_attribute("src") == src  # unchanged


def test_demo_owner_and_learner_can_sign_in(page, phone):
    """The sign-ins printed by the banner and the README work."""
    from coursemall.demo.accounts import OWNER_PASSWORD
    from coursemall.settings import load_settings

    owner = load_settings({**os.environ, "COURSEMALL_SECRET_KEY": "x" * 40})  # as the server has it
    for account, password in ((owner.owner_email, owner.owner_password or OWNER_PASSWORD),
                              (LEARNER, LEARNER_PASSWORD)):
        sign_in(page, account, password)
        expect_signed_in(page)
        sign_out(page)

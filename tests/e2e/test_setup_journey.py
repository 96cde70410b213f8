"""A new production shop opens only through its one-time setup link (Chromium, production build).

A copy of this checkout is built and served as an operator starts a real shop (no COURSEMALL_DEMO,
no channel, no SMTP; `migrate`, `seed`, `banner` as `make serve` runs them), with its own folder,
data and port, beside the shared demo shop. The journey:
- the banner says the shop is not open and prints the setup link;
- a learner registers and tries to buy a course: "the shop is not open yet", no order; the
  dashboard says the same;
- the owner opens the printed link on a laptop, sets e-mail, nickname and password, scans the QR
  (the test reads the key and computes the code with pyotp, as an authenticator app would),
  sees the recovery codes once and enters the shop admin without another code: the go-live card
  lists what is still missing;
- the link is refused when opened again; the learner can now order.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone

import pyotp
import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from tests.e2e import server
from tests.e2e.fixtures import wait_ready
from tests.e2e.test_accounts import expect_signed_in, register

pytestmark = pytest.mark.e2e

OWNER_EMAIL = "founder@shop.example"
OWNER_PASSWORD = "founder-pass-2026"
ORDER_URL = re.compile(r"/order/CM[0-9A-Za-z]+$")


@pytest.fixture(scope="module")
def fresh():
    """The fresh production shop of this module (built and stopped here)."""
    try:
        shop = server.start_fresh_shop()
    except server.ServerStartError as exc:
        pytest.fail(f"the fresh shop did not start:\n{exc}", pytrace=False)
    try:
        yield shop
    finally:
        shop.app.stop()


@pytest.fixture(scope="module")
def db(fresh):
    from sqlalchemy import create_engine

    engine = create_engine(fresh.db_url)
    yield engine
    engine.dispose()


def scalar(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def add_course(engine) -> int:
    """A published course to try buying (the shop has no content yet; normally its owner adds it)."""
    from sqlmodel import Session

    from coursemall.domain.catalog import build_search_text
    from coursemall.models import Course

    with Session(engine) as s:
        course = Course(slug=f"first-{uuid.uuid4().hex[:6]}", title="开张第一课", price_fen=990,
                        status="published", published_at=datetime.now(timezone.utc),
                        search_text=build_search_text("开张第一课", "", "", []))
        s.add(course)
        s.commit()
        return course.id


def context(browser, fresh, options):
    ctx = browser.new_context(base_url=fresh.app.base_url, **options)
    ctx.set_default_timeout(20_000)
    return ctx


def watch_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    return errors


def test_a_new_shop_opens_only_through_its_setup_link(browser, fresh, db):
    assert "NOT OPEN" in fresh.banner and fresh.setup_url.startswith(f"{fresh.app.base_url}/setup/")
    assert scalar(db, "SELECT count(*) FROM users") == 0  # no demo accounts, no seeded owner
    course_id = add_course(db)

    # ---- a learner finds the shop closed for buying; the admin is closed too
    learner = context(browser, fresh, server.PHONE)
    page = learner.new_page()
    learner_errors = watch_errors(page)
    register(page, f"early-{uuid.uuid4().hex[:8]}@example.com", "早到的学员", "learner-pass-2026")
    expect_signed_in(page)
    page.goto(f"/course/{course_id}")
    wait_ready(page)
    page.locator("#buy-now").first.click()
    expect(page.locator("#form-error")).to_contain_text("商店尚未开张")
    assert scalar(db, "SELECT count(*) FROM orders") == 0
    page.goto("/admin")
    wait_ready(page)
    expect(page.locator("#admin-shop-closed")).to_contain_text("开店设置完成前关闭")

    # ---- the owner opens the printed link on a laptop
    owner = context(browser, fresh, server.DESKTOP)
    op = owner.new_page()
    owner_errors = watch_errors(op)
    op.goto(fresh.setup_url)
    wait_ready(op)
    op.locator("#setup-email").fill(OWNER_EMAIL)
    op.locator("#setup-nickname").fill("创始人")
    op.locator("#setup-password").fill(OWNER_PASSWORD)
    op.locator("#setup-password-again").fill(OWNER_PASSWORD + "x")
    op.locator("#setup-next").click()
    expect(op.locator("#form-error")).to_contain_text("两次输入的密码不一致")
    op.locator("#setup-password-again").fill(OWNER_PASSWORD)
    op.locator("#setup-next").click()
    expect(op.locator("#setup-qr")).to_be_visible()
    key = op.locator("#setup-key").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{16,64}", key), key
    assert scalar(db, "SELECT count(*) FROM users WHERE role = 'owner'") == 0  # nothing stored yet
    op.locator("#setup-code").fill(pyotp.TOTP(key).now())
    op.locator("#setup-finish").click()
    expect(op.locator("#setup-done")).to_be_visible()
    expect(op.locator(".setup-recovery-code")).to_have_count(10)
    op.locator("#setup-open-dashboard").click()

    # ---- signed in with TOTP already checked: the dashboard opens, with the go-live card
    expect(op.locator("#admin-nav-home")).to_be_visible()
    assert op.url.rstrip("/").endswith("/admin")
    expect(op.locator("#mfa-gate")).to_have_count(0)
    expect(op.locator("#golive-card")).to_be_visible()
    expect(op.locator('.golive-finding[data-code="smtp_missing"]')).to_be_visible()
    expect(op.locator('.golive-finding[data-code="no_channel"]')).to_be_visible()
    expect(op.locator('.golive-finding[data-code="setup_pending"]')).to_have_count(0)
    assert scalar(db, "SELECT count(*) FROM users WHERE role = 'owner' AND totp_secret != ''") == 1

    # ---- the link works once
    again = owner.new_page()
    again.goto(fresh.setup_url)
    wait_ready(again)
    expect(again.locator("#setup-refused")).to_contain_text("已经完成开店设置")

    # ---- the learner can order now (no channel is configured yet: the order waits for one)
    page.goto(f"/course/{course_id}")
    wait_ready(page)
    page.locator("#buy-now").first.click()
    expect(page).to_have_url(ORDER_URL)
    assert scalar(db, "SELECT count(*) FROM orders") == 1

    assert not learner_errors and not owner_errors, (learner_errors + owner_errors)[:3]
    learner.close()
    owner.close()

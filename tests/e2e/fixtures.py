"""Fixtures for tests that need the running shop and/or Chromium.

`tests/e2e/conftest.py` re-exports them; security tests outside tests/e2e import them by name.
The server is a process-wide singleton (see tests/e2e/server.py): one build serves every module
that uses it, and it stops at the end of the session. Chromium is started per module (see
`browser`).
"""

from __future__ import annotations

import re
import warnings

import pytest
from playwright.sync_api import expect

from tests.e2e import server

# Sign-in hashes a password (argon2) on 2 cores and then follows a redirect: allow for it.
expect.set_options(timeout=15_000)

PHONE = server.PHONE
DESKTOP = server.DESKTOP


@pytest.fixture(scope="session")
def live_server() -> str:
    """Base URL of the production build of this checkout, with the demo data seeded."""
    try:
        app = server.acquire_shop()
    except server.ServerStartError as exc:
        pytest.fail(f"the shop did not start:\n{exc}", pytrace=False)
    try:
        yield app.base_url
    finally:
        server.release_shop()


@pytest.fixture(scope="session")
def shop_db(live_server):
    """Read-only SQLAlchemy engine on the running shop's database (to pick ids for journeys)."""
    from sqlalchemy import create_engine

    url = server.shop_db_url()
    if not url:
        pytest.skip("shop database unknown: set COURSEMALL_E2E_DB_URL with COURSEMALL_E2E_BASE_URL")
    engine = create_engine(url)
    yield engine
    engine.dispose()


def query(engine, sql: str, **params) -> list:
    from sqlalchemy import text

    with engine.connect() as conn:
        return list(conn.execute(text(sql), params))


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for one test module.

    Module scope on purpose: while Playwright's sync API is alive it leaves an asyncio loop marked
    as running in this thread, which breaks every pytest-asyncio test that runs after it.
    """
    if not server.chromium_available():
        msg = f"Chromium not found at {server.CHROMIUM} (make browser installs it)"
        if server.IN_CI:
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    b = server.acquire_browser()
    try:
        yield b
    finally:
        server.release_browser()


def _context(browser, live_server, options):
    ctx = browser.new_context(base_url=live_server, **options)
    ctx.set_default_timeout(15_000)
    return ctx


@pytest.fixture
def phone(browser, live_server):
    """A fresh phone-sized browser context (390x844, touch, zh-CN): no cookies, no storage."""
    ctx = _context(browser, live_server, PHONE)
    yield ctx
    ctx.close()


@pytest.fixture
def desktop(browser, live_server):
    ctx = _context(browser, live_server, DESKTOP)
    yield ctx
    ctx.close()


# React's hydration mismatch errors (#418, #423, #425): React recovers by rendering on the client,
# the user sees the right page. They are reported as warnings, not failures.
_HYDRATION = re.compile(r"Minified React error #(418|423|425)\b|Hydration failed|hydrating")


@pytest.fixture
def page(phone):
    """A page in the phone context that fails the test on any uncaught page error."""
    p = phone.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(f"{p.url}: {exc}"))
    yield p
    hydration = [e for e in errors if _HYDRATION.search(e)]
    if hydration:
        warnings.warn(f"React hydration mismatch: {hydration[:3]}", stacklevel=1)
    real = [e for e in errors if e not in hydration]
    assert not real, f"uncaught errors in the page: {real[:3]}"


def wait_ready(page) -> None:
    """Wait until Reflex's websocket is connected and the first state arrived."""
    page.wait_for_load_state("domcontentloaded")
    # The connection-error toast/banner never shows when the socket is up; the header is state-driven.
    page.locator("#lang-toggle").wait_for(state="visible")


def play_video(video, at: float | None = None) -> None:
    """Start the (muted) lesson video once its source has loaded: hls.js swaps its source in after the
    element appears, which aborts an earlier play(). `at` seeks first (negative: from the end)."""
    video.evaluate("""async (el, at) => {
        for (let i = 0; i < 300; i++) {
            if (el.readyState >= 1) {
                el.muted = true;
                if (at !== null) el.currentTime = at < 0 ? Math.max(0, el.duration + at) : at;
                try { await el.play(); return; } catch (e) { if (e.name !== 'AbortError') throw e; }
            }
            await new Promise(resolve => setTimeout(resolve, 100));
        }
        throw new Error('the video never loaded its source');
    }""", at)

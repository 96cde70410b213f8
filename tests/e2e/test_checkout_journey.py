"""The purchase journey on a phone: sign up, two paid courses into the cart,
check out, pay in the sandbox cashier, a locked lesson plays, the message centre says so, a refund
is approved by the default policy, and the lesson is locked again."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.fixtures import play_video, query, wait_ready
from tests.e2e.test_accounts import expect_signed_in, register

pytestmark = pytest.mark.e2e

SHOTS = Path(os.environ.get("COURSEMALL_E2E_SHOTS", Path(__file__).resolve().parents[2] / "data" / "e2e-shots"))
ORDER_URL = re.compile(r"/order/(CM[0-9A-Za-z]+)$")


def _fen(text: str) -> int:
    yuan, _, cents = text.replace("¥", "").partition(".")
    return int(yuan) * 100 + int(cents or 0)


def _two_paid_courses(shop_db):
    """Course A has a locked video lesson (not a trial, no preview); course B is another paid course."""
    rows = query(
        shop_db,
        "SELECT c.id, c.price_fen, l.id FROM courses c JOIN lessons l ON l.course_id = c.id "
        "WHERE c.status = 'published' AND c.price_fen > 0 AND l.kind = 'video' AND l.is_free_trial = :f "
        "AND l.free_seconds = 0 AND l.media_asset_id IS NOT NULL ORDER BY c.id, l.position LIMIT 1", f=False)
    if not rows:
        pytest.fail("the demo data has no paid course with a locked video lesson")
    course_a, price_a, lesson = rows[0]
    other = query(shop_db, "SELECT id, price_fen FROM courses WHERE status = 'published' AND price_fen > 0 "
                           "AND id <> :a ORDER BY id LIMIT 1", a=course_a)
    if not other:
        pytest.fail("the demo data needs two paid courses")
    return (course_a, price_a), tuple(other[0]), lesson


def _add_to_cart(page, course_id: int) -> None:
    page.goto(f"/course/{course_id}")
    wait_ready(page)
    expect(page.locator("#course-title")).to_be_visible()
    page.locator("#add-to-cart").click()
    expect(page.locator("#form-success")).to_be_visible()
    _shot(page, f"course-{course_id}-added.png", full_page=False)


def _video_advances(page) -> None:
    video = page.locator("video#lesson-video").first
    expect(video).to_be_attached(timeout=20_000)
    play_video(video)
    page.wait_for_function(
        "() => { const m = document.querySelector('video#lesson-video');"
        " return m && !m.paused && m.currentTime > 1; }", timeout=30_000)


def _shot(page, name: str, full_page: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=full_page)


def test_buy_two_courses_pay_in_sandbox_then_refund(page, shop_db):
    (course_a, price_a), (course_b, price_b), lesson = _two_paid_courses(shop_db)

    # A guest who taps "add to cart" is sent to sign in first, and back to the course afterwards.
    page.goto(f"/course/{course_a}")
    wait_ready(page)
    page.locator("#add-to-cart").click()
    expect(page).to_have_url(re.compile(rf"/login\?next=%2Fcourse%2F{course_a}"))

    register(page, f"buyer-{uuid.uuid4().hex[:10]}@example.com", "买课同学", "Buy-pass-" + uuid.uuid4().hex[:8])
    expect_signed_in(page)

    # The lesson is locked before paying.
    page.goto(f"/lesson/{lesson}")
    expect(page.locator("#lesson-locked")).to_be_visible()

    _add_to_cart(page, course_a)
    _add_to_cart(page, course_b)

    page.goto("/cart")
    expect(page.locator(".cart-line")).to_have_count(2)
    expect(page.locator("#cart-total")).to_have_text(f"¥{(price_a + price_b) // 100}.{(price_a + price_b) % 100:02d}")
    page.locator("#checkout").click()
    expect(page).to_have_url(ORDER_URL)
    order_no = ORDER_URL.search(page.url).group(1)

    expect(page.locator("#order-status")).to_have_text("待支付")
    expect(page.locator(".order-line")).to_have_count(2)
    assert _fen(page.locator("#order-total").inner_text()) == price_a + price_b
    expect(page.locator("#test-mode-badge")).to_be_visible()
    page.locator("input[name=channel][value=sandbox]").check()
    _shot(page, "order-pending.png")
    page.locator("#pay").click()

    expect(page).to_have_url(re.compile(rf"/pay/sandbox/{order_no}$"))
    expect(page.locator("#sandbox-banner")).to_be_visible()
    expect(page.locator("#cashier-order-no")).to_contain_text(order_no)
    assert _fen(page.locator("#cashier-amount").inner_text()) == price_a + price_b
    _shot(page, "sandbox-cashier.png")
    page.locator("#sandbox-pay").click()

    expect(page).to_have_url(re.compile(rf"/order/{order_no}$"))
    expect(page.locator("#order-status")).to_have_text("已支付")
    expect(page.locator(".order-start-learning")).to_have_count(2)
    _shot(page, "order-paid.png")

    # Paid: the locked lesson plays now.
    page.goto(f"/lesson/{lesson}")
    expect(page.locator("#lesson-locked")).to_have_count(0)
    _video_advances(page)

    # The course page shows "owned" instead of the buy buttons.
    page.goto(f"/course/{course_a}")
    expect(page.locator("#start-learning")).to_be_visible()
    expect(page.locator("#buy-now")).to_have_count(0)

    # The message centre has the payment message, and the header bell counts it.
    page.goto("/messages")
    expect(page.locator("#unread-count")).to_be_visible()
    assert int(page.locator("#unread-count").inner_text()) >= 1
    expect(page.locator(".message-unread").filter(has_text="支付成功")).to_have_count(1)
    expect(page.locator("#messages-list")).to_contain_text(order_no)
    page.locator("#messages-read-all").click()
    expect(page.locator("#unread-count")).to_have_count(0)
    expect(page.locator(".message-unread")).to_have_count(0)

    # Refund the whole order: within 7 days and no progress, so the default policy approves it.
    page.goto(f"/order/{order_no}")
    expect(page.locator("#order-status")).to_have_text("已支付")
    expect(page.locator("input.refund-line")).to_have_count(2)
    page.locator("#refund-reason").fill("买错了，想退款")
    page.locator("#refund-submit").click()
    expect(page.locator("#form-success")).to_be_visible()
    expect(page.locator("#order-status")).to_have_text("已退款")
    expect(page.locator(".refund-row")).to_have_count(1)
    expect(page.locator(".refund-status")).to_have_text("退款成功")
    _shot(page, "order-refunded.png")

    # Access is gone.
    page.goto(f"/lesson/{lesson}")
    expect(page.locator("#lesson-locked")).to_be_visible()
    assert page.locator("video[src*='/api/media/']").count() == 0

    # My orders lists it as refunded.
    page.goto("/orders")
    expect(page.locator(".order-row").filter(has_text=order_no)).to_contain_text("已退款")


def test_other_users_order_is_not_found(page):
    register(page, f"nosy-{uuid.uuid4().hex[:10]}@example.com", "路人", "Nosy-pass-" + uuid.uuid4().hex[:8])
    expect_signed_in(page)
    page.goto("/order/CM20990101ABCDEF0123456789")
    expect(page.locator("#form-error")).to_be_visible()
    expect(page.locator("#pay")).to_have_count(0)
    page.goto("/pay/sandbox/not-an-order!")
    expect(page.locator("#form-error")).to_be_visible()
    expect(page.locator("#sandbox-pay")).to_have_count(0)

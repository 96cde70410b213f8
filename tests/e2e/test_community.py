"""Community in the browser: two learners who bought the same course talk under a
lesson. A comment full of HTML and script shows literally for the other learner and runs nothing;
a like counts; a 5-star review shows in the course's rating summary."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e import server
from tests.e2e.fixtures import query, wait_ready
from tests.e2e.test_accounts import expect_signed_in, register

pytestmark = pytest.mark.e2e

XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'
ORDER_URL = re.compile(r"/order/(CM[0-9A-Za-z]+)$")


def _paid_course_and_lesson(shop_db) -> tuple[int, int]:
    rows = query(
        shop_db,
        "SELECT c.id, l.id FROM courses c JOIN lessons l ON l.course_id = c.id "
        "WHERE c.status = 'published' AND c.price_fen > 0 AND l.is_free_trial = :f "
        "ORDER BY c.id DESC, l.position LIMIT 1", f=False)
    if not rows:
        pytest.fail("the demo data has no paid course with a paid lesson")
    return rows[0][0], rows[0][1]


def _sign_up_and_buy(page, course_id: int, nickname: str) -> None:
    register(page, f"{nickname.lower()}-{uuid.uuid4().hex[:10]}@example.com", nickname,
             "Talk-pass-" + uuid.uuid4().hex[:8])
    expect_signed_in(page)
    page.goto(f"/course/{course_id}")
    wait_ready(page)
    page.locator("#buy-now").click()
    expect(page).to_have_url(ORDER_URL)
    page.locator("input[name=channel][value=sandbox]").check()
    page.locator("#pay").click()
    expect(page.locator("#sandbox-pay")).to_be_visible()
    page.locator("#sandbox-pay").click()
    expect(page.locator("#order-status")).to_have_text("已支付")


def _open_lesson(page, lesson_id: int) -> None:
    page.goto(f"/lesson/{lesson_id}")
    wait_ready(page)
    expect(page.locator("#lesson-comments")).to_be_visible(timeout=20_000)
    expect(page.locator("#comment-input")).to_be_visible(timeout=20_000)


def test_comment_is_text_for_another_learner_likes_and_review(page, browser, live_server, shop_db):
    course_id, lesson_id = _paid_course_and_lesson(shop_db)
    tag = uuid.uuid4().hex[:6]
    text = f"{XSS} #{tag}"

    # Learner A buys the course and comments under a lesson.
    _sign_up_and_buy(page, course_id, "LearnerA")
    _open_lesson(page, lesson_id)
    page.locator("#comment-input").fill(text)
    page.locator("#comment-submit").click()
    expect(page.locator("#comment-success")).to_be_visible()
    mine = page.locator(".comment-item").filter(has_text=f"#{tag}")
    expect(mine).to_have_count(1)
    expect(mine.locator(".comment-text")).to_have_text(text)
    expect(page.locator("#comment-input")).to_have_value("")

    # Learner B (another browser context), also a buyer, sees the characters and nothing runs.
    ctx_b = browser.new_context(base_url=live_server, **server.PHONE)
    ctx_b.set_default_timeout(15_000)
    try:
        b = ctx_b.new_page()
        errors: list[str] = []
        b.on("pageerror", lambda exc: errors.append(str(exc)))
        _sign_up_and_buy(b, course_id, "LearnerB")
        _open_lesson(b, lesson_id)
        item = b.locator(".comment-item").filter(has_text=f"#{tag}")
        expect(item).to_have_count(1)
        expect(item.locator(".comment-text")).to_have_text(text)
        assert b.evaluate("typeof window.__xss") == "undefined"
        assert b.locator("#lesson-comments script").count() == 0
        assert b.locator("#lesson-comments img[src='x']").count() == 0
        # B likes it: count 1, pressed.
        expect(item.locator(".comment-likes")).to_have_text("0")
        item.locator(".comment-like").click()
        expect(item.locator(".comment-likes")).to_have_text("1")
        expect(item.locator(".comment-like")).to_have_attribute("aria-pressed", "true")
        # B may not delete A's comment: no delete control on it.
        expect(item.locator(".comment-delete")).to_have_count(0)
        # After a reload the like is still there.
        _open_lesson(b, lesson_id)
        expect(b.locator(".comment-item").filter(has_text=f"#{tag}").locator(".comment-likes")).to_have_text("1")
        assert b.evaluate("typeof window.__xss") == "undefined"
        assert not errors, errors[:3]
    finally:
        ctx_b.close()

    # A sees the like too, and writes a 5-star review that shows in the summary.
    _open_lesson(page, lesson_id)
    expect(page.locator(".comment-item").filter(has_text=f"#{tag}").locator(".comment-likes")).to_have_text("1")
    page.goto(f"/course/{course_id}")
    wait_ready(page)
    expect(page.locator("#review-form")).to_be_visible()
    five = page.locator("#rating-summary .rating-bar-count").first
    five_before = int(five.inner_text())
    page.locator("#review-star-5").click()
    page.locator("#review-content").fill(f"讲得很清楚 {XSS} {tag}")
    page.locator("#review-submit").click()
    expect(page.locator("#review-success")).to_be_visible()
    expect(five).to_have_text(str(five_before + 1))
    review = page.locator("#course-reviews .review").filter(has_text=tag)
    expect(review).to_have_count(1)
    expect(review.locator(".review-stars")).to_have_text("★★★★★")
    expect(review.locator(".review-content")).to_have_text(f"讲得很清楚 {XSS} {tag}")
    expect(page.locator("#rating-average")).not_to_have_text("—")
    assert page.evaluate("typeof window.__xss") == "undefined"
    # The owner of the course has a link to the daily check-in.
    expect(page.locator("#checkin-link")).to_be_visible()


def test_the_owner_needs_the_totp_step_to_read_and_moderate_a_paid_lessons_comments(page, shop_db):
    """Moderation goes through the dashboard guard: signed in with the password only, the owner
    sees neither the paid lesson nor its comments but one TOTP step; after the code, the preview
    and the comments with their moderation controls."""
    from sqlmodel import Session, select

    from coursemall.demo.security import ensure_demo_owner_totp
    from coursemall.models import Entitlement, User
    from coursemall.services.community import comments as community
    from tests.e2e.test_owner_queues import OWNER, OWNER_PASSWORD, owner_totp_code

    course_id, lesson_id = _paid_course_and_lesson(shop_db)
    tag = uuid.uuid4().hex[:6]
    with Session(shop_db, expire_on_commit=False) as s:  # a buyer's comment (the browser part is the owner's)
        buyer = User(nickname=f"买家{tag}", watermark_code=uuid.uuid4().hex[:10])
        s.add(buyer)
        s.flush()
        s.add(Entitlement(user_id=buyer.id, course_id=course_id, source="grant", source_ref=f"e2e-{tag}"))
        s.commit()
        community.add_comment(s, actor_id=buyer.id, lesson_id=lesson_id, text=f"买家的评论 {tag}")
        ensure_demo_owner_totp(s, s.exec(select(User).where(User.email == OWNER)).one())
        s.commit()

    page.goto("/login")
    page.locator("#login-account").fill(OWNER)
    page.locator("#login-password").fill(OWNER_PASSWORD)
    page.locator("#login-submit").click()
    expect(page.locator("#nav-profile")).to_be_visible()
    page.goto(f"/lesson/{lesson_id}")
    wait_ready(page)
    expect(page.locator("#lesson-locked")).to_be_visible(timeout=20_000)
    expect(page.locator("#mfa-gate")).to_have_count(1)  # one TOTP step for the page (player and comments)
    expect(page.locator("#lesson-comments")).to_be_visible()
    expect(page.locator(".comment-item")).to_have_count(0)

    page.locator("#mfa-gate-code").fill(owner_totp_code(shop_db))
    page.locator("#mfa-gate-submit").click()
    expect(page.locator("#preview-banner")).to_be_visible(timeout=20_000)
    expect(page.locator("#mfa-gate")).to_have_count(0)
    item = page.locator(".comment-item").filter(has_text=tag)
    expect(item).to_have_count(1)
    item.locator(".comment-hide").click()
    expect(page.locator("#comment-success")).to_be_visible()
    expect(page.locator(".comment-item").filter(has_text=tag)).to_have_count(0)

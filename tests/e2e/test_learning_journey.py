"""The learning journey on a phone: buy a course in the sandbox, play the video
(encrypted HLS through hls.js) at 1.5×, leave at about 0:40, reload and resume there; read an
article to the end; progress on /learning grows; playlist, key and segment requests as a
non-buyer, with an expired token and with another learner's token all get 403; so do the buyer's
own playlist and key URLs copied into another browser (session binding)."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.fixtures import play_video, query, wait_ready
from tests.e2e.test_accounts import expect_signed_in, register

pytestmark = pytest.mark.e2e

E2E_SECRET = "e2e-secret-key-" + "k" * 40  # tests/e2e/server.py shop_env
ORDER_URL = re.compile(r"/order/(CM[0-9A-Za-z]+)$")
PLAYLIST = re.compile(r"^/api/hls/(\d+)/(\d+)/hd/index\.m3u8\?t=(\d+)\.(\d+)\.(\d+)\.hls-hd\.([A-Za-z0-9_-]{22})\.")


def _course_with_video_and_article(shop_db):
    """A paid course with a locked (no trial, no preview) video and a locked article."""
    rows = query(
        shop_db,
        "SELECT c.id, v.id, a.id, v.media_asset_id FROM courses c "
        "JOIN lessons v ON v.course_id = c.id AND v.kind = 'video' AND v.is_free_trial = :f "
        "  AND v.free_seconds = 0 AND v.media_asset_id IS NOT NULL AND v.duration_seconds >= 60 "
        "JOIN lessons a ON a.course_id = c.id AND a.kind = 'article' AND a.is_free_trial = :f "
        "WHERE c.status = 'published' AND c.price_fen > 0 AND c.no_seek_first_watch = :f "
        "ORDER BY c.id, v.position, v.id, a.position, a.id LIMIT 1", f=False)
    if not rows:
        pytest.fail("the demo data has no paid course with a locked video and a locked article")
    return rows[0]


def _buy_in_sandbox(page, course_id: int) -> None:
    page.goto(f"/course/{course_id}")
    wait_ready(page)
    page.locator("#buy-now").click()
    expect(page).to_have_url(ORDER_URL)
    page.locator("input[name=channel][value=sandbox]").check()
    page.locator("#pay").click()
    expect(page).to_have_url(re.compile(r"/pay/sandbox/"))
    page.locator("#sandbox-pay").click()
    expect(page.locator("#order-status")).to_have_text("已支付")


def _video(page):
    video = page.locator("video#lesson-video")
    expect(video).to_be_attached(timeout=20_000)
    page.wait_for_function("() => { const m = document.querySelector('video#lesson-video');"
                           " return m && m.readyState >= 1; }", timeout=30_000)
    return video


def _progress_row(shop_db, user_id: int, lesson_id: int):
    rows = query(shop_db, "SELECT position_seconds, percent, completed_at FROM lesson_progress "
                          "WHERE user_id = :u AND lesson_id = :l", u=user_id, l=lesson_id)
    return rows[0] if rows else None


def _wait_for(predicate, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}")


def _course_percent_on_learning(page, course_id: int) -> int:
    page.goto("/learning")
    wait_ready(page)
    card = page.locator(f".learning-course[data-course='{course_id}']")
    expect(card).to_be_visible()
    return int(card.locator(".learning-percent").inner_text().rstrip("%").strip())


def _session_hash(context) -> str:
    from coursemall.services.accounts import sessions

    (token,) = [c["value"] for c in context.cookies() if c["name"] == sessions.SESSION_COOKIE]
    return sessions.token_hash(token)


def _mint(user_id: int, lesson_id: int, asset_id: int, *, ttl: int = 300, now: float | None = None,
          session_hash: str = "", rendition: str = "hls-hd") -> str:
    """A genuine playlist (or key) URL signed with the shop's key, bound to `session_hash` when given."""
    from coursemall.media.tokens import ANONYMOUS_BINDING, mint_token, session_binding

    binding = session_binding(session_hash, key=E2E_SECRET) if session_hash else ANONYMOUS_BINDING
    token = mint_token(user_id=user_id, lesson_id=lesson_id, asset_id=asset_id, ttl=ttl, now=now,
                       binding=binding, rendition=rendition, key=E2E_SECRET)
    name = "index.m3u8" if rendition.startswith("hls-") else "key"
    return f"/api/hls/{lesson_id}/{asset_id}/hd/{name}?t={token}"


def test_learn_a_bought_course(page, shop_db, browser, live_server):
    course_id, video_id, article_id, asset_id = _course_with_video_and_article(shop_db)
    email = f"learner-{uuid.uuid4().hex[:10]}@example.com"
    register(page, email, "学习同学", "Learn-pass-" + uuid.uuid4().hex[:8])
    expect_signed_in(page)
    (user_id,) = query(shop_db, "SELECT id FROM users WHERE email = :e", e=email)[0]
    _buy_in_sandbox(page, course_id)
    assert _course_percent_on_learning(page, course_id) == 0

    # Play at 1.5×, seek near 0:38, play on to about 0:40, pause (pause sends a heartbeat).
    page.goto(f"/lesson/{video_id}")
    wait_ready(page)
    video = _video(page)
    expect(page.locator("#player-watermark")).to_contain_text("学习同学")
    page.locator("#speed-1\\.5").click()
    play_video(video)
    page.wait_for_function("() => document.querySelector('video#lesson-video').currentTime > 1.5",
                           timeout=30_000)
    assert video.evaluate("el => el.playbackRate") == 1.5
    video.evaluate("el => { el.currentTime = 38; }")
    page.wait_for_function("() => { const m = document.querySelector('video#lesson-video');"
                           " return m.currentTime >= 40.5 && !m.seeking; }", timeout=30_000)
    video.evaluate("el => el.pause()")
    paused_at = video.evaluate("el => el.currentTime")
    assert 40 <= paused_at <= 47, paused_at  # "about 0:40" (a busy machine may pause a little late)
    row = _wait_for(lambda: (r := _progress_row(shop_db, user_id, video_id)) and r[0] >= int(paused_at) - 1 and r,
                    what="the pause heartbeat")
    assert abs(row[0] - paused_at) <= 1.5, (row, paused_at)

    # Reload: the player resumes at about 0:40 and remembers 1.5×.
    page.reload()
    wait_ready(page)
    video = _video(page)
    page.wait_for_function("() => document.querySelector('video#lesson-video').currentTime > 30",
                           timeout=20_000)
    resumed = video.evaluate("el => el.currentTime")
    assert abs(resumed - paused_at) <= 3, (resumed, paused_at)
    expect(page.locator("#speed-1\\.5")).to_have_attribute("aria-pressed", "true")
    play_video(video)
    page.wait_for_function("() => !document.querySelector('video#lesson-video').paused", timeout=10_000)
    assert video.evaluate("el => el.playbackRate") == 1.5
    video.evaluate("el => el.pause()")

    # ?t= seeks there.
    page.goto(f"/lesson/{video_id}?t=12")
    wait_ready(page)
    video = _video(page)
    page.wait_for_function("() => Math.abs(document.querySelector('video#lesson-video').currentTime - 12) < 1.5",
                           timeout=20_000)

    # A note pinned at the current time shows as a marker; clicking it seeks there.
    page.locator("#note-open").click()
    page.locator("#note-text").fill("构图：三分法 <b>不是HTML</b>")
    page.locator("#note-save").click()
    expect(page.locator("#note-message")).to_be_visible()
    marker = page.locator("#marker-bar .cm-marker")
    expect(marker).to_have_count(1)
    expect(page.locator(".cm-marker-row")).to_contain_text("<b>不是HTML</b>")
    video.evaluate("el => { el.muted = true; el.currentTime = 60; }")
    marker.click()
    page.wait_for_function("() => Math.abs(document.querySelector('video#lesson-video').currentTime - 12) < 2",
                           timeout=10_000)
    video.evaluate("el => el.pause()")

    # An article read to the end completes the lesson.
    page.goto(f"/lesson/{article_id}")
    wait_ready(page)
    expect(page.locator("#lesson-article")).to_be_visible()
    expect(page.locator("#lesson-complete")).to_have_count(0)
    page.locator("#article-end").scroll_into_view_if_needed()
    expect(page.locator("#lesson-complete")).to_be_visible(timeout=20_000)
    row = _wait_for(lambda: _progress_row(shop_db, user_id, article_id), what="article progress")
    assert row[2] is not None

    # Progress on /learning grew; the continue button opens a lesson.
    assert _course_percent_on_learning(page, course_id) > 0
    expect(page.locator(".learning-continue").first).to_have_attribute("href", re.compile(r"^/lesson/\d+"))
    expect(page.locator("#learning-chart")).to_be_visible()

    # Media: the buyer plays encrypted HLS; their own playlist, key and segments work.
    page.goto(f"/lesson/{video_id}")
    wait_ready(page)
    video = _video(page)
    page.wait_for_function("() => { const m = document.querySelector('video#lesson-video');"
                           " return m.getAttribute('data-playing') === 'hd' && (m.currentSrc || '').startsWith('blob:'); }",
                           timeout=20_000)
    src = video.get_attribute("data-hd")
    assert PLAYLIST.search(src), src
    playlist = page.request.get(src)
    assert playlist.status == 200 and "#EXT-X-KEY:METHOD=AES-128" in playlist.text()
    key = src.split("index.m3u8", 1)[0] + re.search(r'URI="([^"]+)"', playlist.text()).group(1)
    segment = src.split("index.m3u8", 1)[0] + "seg0001.ts"
    assert page.request.get(key).status == 200 and page.request.get(segment).status == 200

    # A non-buyer (a new context, signed up) gets no media URL, and tokens bound to them are refused.
    other_ctx = browser.new_context(base_url=live_server)
    try:
        other = other_ctx.new_page()
        other_email = f"other-{uuid.uuid4().hex[:10]}@example.com"
        register(other, other_email, "没买的同学", "Other-pass-" + uuid.uuid4().hex[:8])
        expect_signed_in(other)
        (other_id,) = query(shop_db, "SELECT id FROM users WHERE email = :e", e=other_email)[0]
        other.goto(f"/lesson/{video_id}")
        expect(other.locator("#lesson-locked")).to_be_visible()
        assert other.locator("video[data-hd*='/api/hls/']").count() == 0
        anonymous = _mint(0, video_id, asset_id)
        # genuine tokens bound to the requesting browser's own session: refused for other reasons
        another_learners = _mint(other_id, video_id, asset_id, session_hash=_session_hash(other_ctx))
        another_learners_key = _mint(other_id, video_id, asset_id, session_hash=_session_hash(other_ctx),
                                     rendition="key-hd")
        expired = _mint(user_id, video_id, asset_id, ttl=60, now=time.time() - 3600,
                        session_hash=_session_hash(page.context))
        forged = src[:-4] + ("AAAA" if not src.endswith("AAAA") else "BBBB")
        for label, url in (("non-buyer", another_learners), ("non-buyer key", another_learners_key),
                           ("anonymous", anonymous), ("expired", expired), ("forged", forged),
                           ("junk token", src.split("?t=", 1)[0] + "?t=not-a-token"),
                           ("segment", segment)):
            resp = other.request.get(url)
            assert resp.status == 403, (label, resp.status)
            assert resp.body() == b"forbidden", label  # no media bytes
        # the buyer's expired token is refused in the buyer's own browser too (not just elsewhere)
        assert page.request.get(expired).status == 403
        # and the buyer's working playlist and key URLs, copied into the other learner's browser, are refused
        assert other.request.get(src).status == 403
        assert other.request.get(key).status == 403
    finally:
        other_ctx.close()

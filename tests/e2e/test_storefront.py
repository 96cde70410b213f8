"""Storefront journeys on a phone: home, language switch, search, course outline, trial playback."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.e2e.fixtures import play_video, query, wait_ready

pytestmark = pytest.mark.e2e

CARDS = "[id^=course-card-]"


def _trial_lesson(shop_db, kind: str):
    rows = query(
        shop_db,
        "SELECT l.id, l.course_id, l.title FROM lessons l JOIN courses c ON c.id = l.course_id "
        "WHERE c.status = 'published' AND l.is_free_trial = :t AND l.kind = :kind "
        "ORDER BY c.id, l.position LIMIT 1",
        t=True, kind=kind,
    )
    if not rows:
        pytest.fail(f"the demo data has no published free-trial {kind} lesson")
    return rows[0]


def test_home_shows_banner_and_courses(page):
    page.goto("/")
    expect(page.locator("#home-banner")).to_be_visible()
    expect(page.locator(CARDS).nth(7)).to_be_attached()
    assert page.locator(CARDS).count() >= 8
    # A phone-sized page never scrolls sideways.
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"page is {overflow}px wider than the phone screen"


def test_language_toggle_switches_and_persists(page):
    page.goto("/")
    wait_ready(page)
    toggle = page.locator("#lang-toggle")
    expect(toggle).to_have_text("English")
    expect(page.get_by_text("由 CourseMall 驱动")).to_be_visible()

    toggle.click()
    expect(toggle).to_have_text("中文")
    expect(page.get_by_text("Powered by CourseMall")).to_be_visible()
    expect(page.get_by_text("Home", exact=True).first).to_be_visible()

    page.reload()  # the choice is kept in the cm_lang cookie
    expect(page.locator("#lang-toggle")).to_have_text("中文")
    expect(page.get_by_text("Powered by CourseMall")).to_be_visible()

    page.locator("#lang-toggle").click()
    expect(page.locator("#lang-toggle")).to_have_text("English")
    expect(page.get_by_text("由 CourseMall 驱动")).to_be_visible()


def test_search_chinese_word_is_found_and_highlighted(page):
    page.goto("/search?q=" + quote("摄影"))
    expect(page.locator("#search-count")).to_be_visible()
    expect(page.locator("#search-count")).to_contain_text(re.compile(r"[1-9]"))
    expect(page.locator(CARDS).first).to_be_visible()
    expect(page.locator("mark", has_text="摄影").first).to_be_visible()


def test_search_python_finds_python_courses(page):
    page.goto("/search?q=Python")
    expect(page.locator(CARDS).first).to_be_visible()
    expect(page.locator(CARDS).first).to_contain_text(re.compile("python", re.I))
    expect(page.locator("mark").first).to_have_text(re.compile("^python$", re.I))


@pytest.mark.parametrize("q", ["测" * 1000, "%_'\"", "%", "' OR 1=1 --", "\"摄影 AND*", "📷🎓😀"],
                         ids=["1000-chars", "sql-chars", "percent", "injection", "fts-syntax",
                              "emoji"])
def test_search_bad_input_shows_a_clear_page(page, q):
    page.goto("/search?q=" + quote(q))
    wait_ready(page)
    # Either a count (possibly 0) or an explicit message; never a blank page or a crash.
    outcome = page.locator("#search-count, #search-empty, #search-notice, #form-error").first
    expect(outcome).to_be_visible()
    # The app is still alive: the websocket answers an event.
    page.locator("#lang-toggle").click()
    expect(page.locator("#lang-toggle")).to_have_text("中文")
    page.locator("#lang-toggle").click()
    expect(page.locator("#lang-toggle")).to_have_text("English")


def test_course_page_shows_outline_with_trial_badge(page, shop_db):
    lesson_id, course_id, lesson_title = _trial_lesson(shop_db, "video")
    (title,) = query(shop_db, "SELECT title FROM courses WHERE id = :i", i=course_id)[0]
    chapters = [r[0] for r in query(
        shop_db, "SELECT title FROM chapters WHERE course_id = :i ORDER BY position", i=course_id)]

    page.goto(f"/course/{course_id}")
    expect(page.locator("#course-title")).to_have_text(title)
    outline = page.locator("#course-outline")
    expect(outline).to_be_visible()
    for chapter in chapters:
        expect(outline).to_contain_text(chapter)
    expect(outline).to_contain_text(lesson_title)
    expect(outline.locator("[id^=lesson-link-]").nth(3)).to_be_attached()  # 4+ lessons
    expect(outline).to_contain_text(re.compile("试看|免费"))


def _play(page, selector: str) -> None:
    """The player loads the lesson's encrypted HLS through hls.js (a MediaSource blob, no file URL in
    the element); once it has the metadata, playing works."""
    media = page.locator(selector).first
    expect(media).to_be_attached(timeout=20_000)
    page.wait_for_function(
        f"() => {{ const m = document.querySelector({selector!r}); "
        "return m && m.readyState >= 1 && (m.currentSrc || '').startsWith('blob:')"
        " && (m.getAttribute('data-src') || m.getAttribute('data-hd') || '').startsWith('/api/hls/'); }",
        timeout=30_000,
    )
    play_video(media)
    page.wait_for_function(
        f"() => {{ const m = document.querySelector({selector!r}); "
        "return m && !m.paused && m.currentTime > 1; }",
        timeout=30_000,
    )


def test_trial_video_lesson_plays_without_sign_in(page, shop_db):
    lesson_id, course_id, _ = _trial_lesson(shop_db, "video")
    page.goto(f"/course/{course_id}")
    page.locator(f"#lesson-link-{lesson_id}").click()  # a client-side navigation mounts the player
    expect(page).to_have_url(re.compile(rf"/lesson/{lesson_id}\b"))
    _play(page, "video#lesson-video, #lesson-video video")
    # the player came from assets/js/player.js, once, under its content hash
    player_js = (Path(__file__).resolve().parents[2] / "assets" / "js" / "player.js").read_bytes()
    scripts = page.locator("script[src*='/js/player.js']")
    expect(scripts).to_have_count(1)
    src = scripts.get_attribute("src")
    assert src == "/js/player.js?v=" + hashlib.sha256(player_js).hexdigest()[:12], src
    served = page.request.get(src)
    assert served.ok and served.body() == player_js


def test_trial_audio_lesson_plays_without_sign_in(page, shop_db):
    lesson_id, course_id, _ = _trial_lesson(shop_db, "audio")
    page.goto(f"/course/{course_id}")
    page.locator(f"#lesson-link-{lesson_id}").click()
    expect(page).to_have_url(re.compile(rf"/lesson/{lesson_id}\b"))
    _play(page, "audio#lesson-audio, #lesson-audio audio")


def test_locked_lesson_shows_no_media_to_a_guest(page, shop_db):
    rows = query(
        shop_db,
        "SELECT l.id FROM lessons l JOIN courses c ON c.id = l.course_id "
        "WHERE c.status = 'published' AND c.price_fen > 0 AND l.is_free_trial = :f "
        "AND l.free_seconds = 0 AND l.kind = 'video' ORDER BY c.id, l.position LIMIT 1", f=False)
    if not rows:
        pytest.fail("the demo data has no locked video lesson in a paid course")
    media_requests: list[str] = []
    page.on("request", lambda r: media_requests.append(r.url)
            if "/api/media/" in r.url or "/api/hls/" in r.url else None)
    page.goto(f"/lesson/{rows[0][0]}")
    expect(page.locator("#lesson-locked")).to_be_visible()
    assert page.locator("video, audio").count() == 0 or not page.locator(
        "video[src*='/api/media/'], audio[src*='/api/media/'], source[src*='/api/media/']").count()
    assert "/api/media/" not in page.content() and "/api/hls/" not in page.content()
    assert not media_requests, f"a guest's browser fetched paid media: {media_requests[:2]}"


def test_media_route_refuses_forged_tokens(page):
    for token in ("x", "0" * 64, "../../../etc/passwd", "1.2.3"):
        resp = page.request.get(f"/api/media/{token}")
        assert resp.status in (400, 403, 404), (token, resp.status)


def test_desktop_home_and_course(desktop, shop_db):
    page = desktop.new_page()
    page.goto("/")
    expect(page.locator("#home-banner")).to_be_visible()
    expect(page.locator(CARDS).nth(7)).to_be_attached()
    page.locator(CARDS).first.click()
    expect(page).to_have_url(re.compile(r"/course/\d+"))
    expect(page.locator("#course-title")).to_be_visible()
    expect(page.locator("#course-outline")).to_be_visible()
    page.close()


def test_series_page_lists_its_courses_and_asks_a_guest_to_sign_in(page):
    page.goto("/")
    first_series = page.locator("#home-bundles a").first
    expect(first_series).to_be_visible()
    first_series.click()
    expect(page.locator("#bundle-title")).to_be_visible()
    expect(page.locator(CARDS).nth(1)).to_be_attached()  # a series holds several courses
    page.locator("#add-to-cart").click()
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fbundle%2F\d+"))

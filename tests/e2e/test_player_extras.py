"""Player extras in Chromium on a phone, playing encrypted HLS through hls.js as every
buyer does: HD/SD switch that keeps position, speed and play/pause and is remembered; "listen mode"
(the audio-only variant) that keeps counting progress; autoplay of the next lesson at the end of a
video; a learner who finishes a course gets a certificate that the public verification page
confirms; playlist and key URLs copied into a fresh browser get 403; an expired playlist token is
refreshed at the same second; no seeking ahead on a first watch; and an anonymous visitor plays a
paid lesson's free seconds to their end without one request for the full media.

Set-up shortcuts (the buy flow and sign-in have their own journeys): learners are created with a
server-side session whose cookie is put into the browser context, courses are granted directly,
and most of a course's progress is recorded through the progress service before the browser
watches the last lesson. The encrypted variants are the ones the demo seed makes (HD = the 360p
demo file, SD = 180p, audio = the AAC track), as `make run` serves them.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlmodel import Session

from tests.e2e import server
from tests.e2e.fixtures import play_video, query, wait_ready

pytestmark = pytest.mark.e2e

SD_HEIGHT = 180  # demo/renditions.py


# ------------------------------------------------------------------ set-up helpers

def _learner(shop_db, live_server, context, nickname: str) -> int:
    """A learner with a live session whose cookie the browser context now carries."""
    from coursemall.models import User
    from coursemall.services.accounts import sessions

    code = uuid.uuid4().hex[:10]
    with Session(shop_db) as s:
        user = User(email=f"px-{code}@example.com", nickname=nickname, watermark_code=code)
        s.add(user)
        s.flush()
        token = sessions.create_session(s, user_id=user.id, user_agent="e2e")
        s.commit()
        user_id = user.id
    context.add_cookies([{"name": sessions.SESSION_COOKIE, "value": token, "url": live_server,
                          "httpOnly": True, "sameSite": "Lax"}])
    return user_id


def _grant(shop_db, user_id: int, course_id: int) -> None:
    from coursemall.models import Entitlement

    with Session(shop_db) as s:
        s.add(Entitlement(user_id=user_id, course_id=course_id, source="manual", source_ref=f"e2e-{uuid.uuid4().hex[:8]}"))
        s.commit()


def _outline(shop_db, course_id: int) -> list[tuple]:
    """[(lesson_id, kind, duration, media_asset_id)] in outline order."""
    return [tuple(r) for r in query(
        shop_db,
        "SELECT l.id, l.kind, l.duration_seconds, l.media_asset_id FROM lessons l "
        "JOIN chapters ch ON ch.id = l.chapter_id WHERE l.course_id = :c "
        "ORDER BY ch.position, ch.id, l.position, l.id", c=course_id)]


@pytest.fixture(scope="module")
def video_course(shop_db):
    """A paid course with two consecutive video lessons (autoplay next) whose first lesson's media
    has the encrypted HD, SD and audio variants."""
    courses = query(shop_db, "SELECT c.id FROM courses c WHERE c.status = 'published' AND c.price_fen > 0 "
                             "AND c.no_seek_first_watch = :f ORDER BY c.id", f=False)
    for (course_id,) in courses:
        lessons = _outline(shop_db, course_id)
        for first, second in zip(lessons, lessons[1:]):
            if first[1] == second[1] == "video" and first[3] and second[3] and first[2] >= 60:
                asset_id = first[3]
                break
        else:
            continue
        break
    else:
        pytest.fail("the demo data has no paid course with two consecutive video lessons")
    (renditions,) = query(shop_db, "SELECT renditions FROM media_assets WHERE id = :a", a=asset_id)[0]
    renditions = json.loads(renditions) if isinstance(renditions, str) else renditions
    assert {"hls_hd", "hls_sd", "hls_audio"} <= set(renditions), renditions  # made by the demo seed
    return {"course": course_id, "first": first[0], "second": second[0], "duration": first[2]}


def _video(page):
    expect(page.locator("video#lesson-video")).to_be_attached(timeout=20_000)
    page.wait_for_function("() => { const m = document.querySelector('video#lesson-video');"
                           " return m && m.readyState >= 1; }", timeout=30_000)
    return page.locator("video#lesson-video")


def _on_source(page, name: str) -> None:
    """Wait until the player plays the `data-<name>` source (through hls.js: a MediaSource blob)
    and has its metadata."""
    page.wait_for_function(
        "(n) => { const m = document.querySelector('video#lesson-video');"
        " return m && m.getAttribute('data-' + n) && m.getAttribute('data-playing') === n"
        " && m.__cmUrl === m.getAttribute('data-' + n) && (m.currentSrc || '').startsWith('blob:')"
        " && m.readyState >= 1 && !m.seeking; }", arg=name, timeout=20_000)


def _progress(shop_db, user_id: int, lesson_id: int):
    rows = query(shop_db, "SELECT position_seconds, watched_seconds, completed_at FROM lesson_progress "
                          "WHERE user_id = :u AND lesson_id = :l", u=user_id, l=lesson_id)
    return rows[0] if rows else None


def _wait_for(predicate, timeout: float = 20.0, what: str = "condition"):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}")


# ------------------------------------------------------------------ journeys

def test_hd_sd_switch_keeps_position_speed_and_play_state_and_is_remembered(page, shop_db, live_server,
                                                                             video_course):
    user_id = _learner(shop_db, live_server, page.context, "清晰度同学")
    _grant(shop_db, user_id, video_course["course"])
    page.goto(f"/lesson/{video_course['first']}")
    wait_ready(page)
    video = _video(page)
    expect(page.locator("#quality-hd")).to_be_visible()
    expect(page.locator("#quality-hd")).to_have_text("高清")
    expect(page.locator("#quality-sd")).to_have_text("标清")
    _on_source(page, "hd")  # HD first when nothing was chosen yet
    expect(page.locator("#quality-hd")).to_have_attribute("aria-pressed", "true")

    page.locator("#speed-1\\.25").click()
    play_video(video, at=20)
    page.wait_for_function("() => { const m = document.querySelector('video#lesson-video');"
                           " return m.currentTime > 21 && !m.paused; }", timeout=20_000)
    page.locator("#quality-sd").click()
    _on_source(page, "sd")
    page.wait_for_function("() => { const m = document.querySelector('video#lesson-video');"
                           " return !m.paused && m.currentTime > 21; }", timeout=20_000)
    assert video.evaluate("el => el.videoHeight") == SD_HEIGHT
    assert video.evaluate("el => el.playbackRate") == 1.25
    assert 21 <= video.evaluate("el => el.currentTime") < 35  # kept the position, not back to 0
    expect(page.locator("#quality-sd")).to_have_attribute("aria-pressed", "true")

    # Paused stays paused, at the same second.
    video.evaluate("el => el.pause()")
    paused_at = video.evaluate("el => el.currentTime")
    page.locator("#quality-hd").click()
    _on_source(page, "hd")
    page.wait_for_function(  # the new source is loaded at the old position
        "(t) => { const m = document.querySelector('video#lesson-video');"
        " return m.readyState >= 2 && !m.seeking && Math.abs(m.currentTime - t) < 0.6; }",
        arg=paused_at, timeout=20_000)
    assert video.evaluate("el => el.paused") is True
    assert abs(video.evaluate("el => el.currentTime") - paused_at) < 0.6
    assert video.evaluate("el => el.videoHeight") > SD_HEIGHT

    # The choice is remembered on the next visit.
    page.locator("#quality-sd").click()
    _on_source(page, "sd")
    page.reload()
    wait_ready(page)
    _video(page)
    _on_source(page, "sd")
    expect(page.locator("#quality-sd")).to_have_attribute("aria-pressed", "true")


def test_listen_mode_plays_the_audio_at_the_same_position_and_counts_progress(page, shop_db, live_server,
                                                                              video_course):
    lesson_id = video_course["first"]
    user_id = _learner(shop_db, live_server, page.context, "只听同学")
    _grant(shop_db, user_id, video_course["course"])
    page.goto(f"/lesson/{lesson_id}")
    wait_ready(page)
    video = _video(page)
    expect(page.locator("#listen-toggle")).to_contain_text("只听声音")
    expect(page.locator("#listen-overlay")).to_be_hidden()
    play_video(video, at=30)
    page.wait_for_function("() => document.querySelector('video#lesson-video').currentTime > 31", timeout=20_000)
    page.locator("#listen-toggle").click()
    _on_source(page, "listen")
    expect(page.locator("#listen-overlay")).to_be_visible()
    expect(page.locator("#listen-toggle")).to_have_attribute("aria-pressed", "true")
    page.wait_for_function("() => { const m = document.querySelector('video#lesson-video');"
                           " return !m.paused && m.currentTime > 34; }", timeout=20_000)
    assert video.evaluate("el => el.videoHeight") == 0  # audio only
    video.evaluate("el => el.pause()")
    stopped = video.evaluate("el => el.currentTime")
    row = _wait_for(lambda: (r := _progress(shop_db, user_id, lesson_id)) and r[0] >= int(stopped) - 1 and r,
                    what="a heartbeat from listen mode")
    assert row[1] >= 3  # listened seconds were counted for the lesson
    # Back to video at the same second.
    page.locator("#listen-toggle").click()
    page.wait_for_function("() => { const m = document.querySelector('video#lesson-video');"
                           " return m.getAttribute('data-playing') === 'hd' && m.readyState >= 1 && !m.seeking; }",
                           timeout=20_000)
    expect(page.locator("#listen-overlay")).to_be_hidden()
    assert abs(video.evaluate("el => el.currentTime") - stopped) < 0.6


def _key_url(playlist_url: str, text: str) -> str:
    return playlist_url.split("index.m3u8", 1)[0] + re.search(r'URI="([^"]+)"', text).group(1)


def test_copied_playlist_and_key_urls_do_not_play_in_another_browser(page, browser, shop_db, live_server,
                                                                     video_course):
    user_id = _learner(shop_db, live_server, page.context, "复制链接同学")
    _grant(shop_db, user_id, video_course["course"])
    page.goto(f"/lesson/{video_course['first']}")
    wait_ready(page)
    video = _video(page)
    _on_source(page, "hd")
    assert video.evaluate("el => el.currentSrc").startswith("blob:")  # hls.js, no file URL in the element
    playlists = [video.get_attribute(a) for a in ("data-hd", "data-sd", "data-listen")]
    assert all(u and u.startswith("/api/hls/") and "/index.m3u8?t=" in u for u in playlists), playlists
    keys, segments = [], []
    for url in playlists:  # in the learner's own browser they play
        resp = page.request.get(url)
        assert resp.status == 200 and "#EXT-X-KEY:METHOD=AES-128" in resp.text()
        keys.append(_key_url(url, resp.text()))
        segments.append(url.split("index.m3u8", 1)[0] + "seg0000.ts")
        assert page.request.get(keys[-1]).status == 200 and len(page.request.get(keys[-1]).body()) == 16
    fresh = browser.new_context(base_url=live_server)
    try:
        for url in (*playlists, *keys, *segments):
            resp = fresh.request.get(url)
            assert resp.status == 403 and resp.body() == b"forbidden", (url, resp.status)
        # another learner who did not buy: the same
        _learner(shop_db, live_server, fresh, "没买的同学")
        for url in (*playlists, *keys, *segments):
            assert fresh.request.get(url).status == 403, url
    finally:
        fresh.close()


def test_autoplay_opens_the_next_lesson_at_the_end_of_a_video(page, shop_db, live_server, video_course):
    user_id = _learner(shop_db, live_server, page.context, "连播同学")
    _grant(shop_db, user_id, video_course["course"])
    page.goto(f"/lesson/{video_course['first']}")
    wait_ready(page)
    video = _video(page)
    page.locator("#speed-1").click()  # a real click: the tab has user activation, as a learner's would
    play_video(video, at=-2.5)
    expect(page).to_have_url(re.compile(rf"/lesson/{video_course['second']}$"), timeout=30_000)
    page.wait_for_function(
        "(id) => { const m = document.querySelector('video#lesson-video');"
        " return m && m.getAttribute('data-lesson') === String(id) && !m.paused && m.currentTime > 0.3; }",
        arg=video_course["second"], timeout=30_000)
    # the finished lesson was recorded up to its end
    row = _wait_for(lambda: _progress(shop_db, user_id, video_course["first"]), what="the first lesson's progress")
    assert row[0] >= video_course["duration"] - 5


def _short_course(shop_db) -> tuple[int, list[tuple]]:
    """The paid course with the fewest lessons whose last lesson is a video with media."""
    best = None
    for (course_id,) in query(shop_db, "SELECT id FROM courses WHERE status = 'published' AND price_fen > 0 "
                                       "AND no_seek_first_watch = :f ORDER BY id", f=False):
        lessons = _outline(shop_db, course_id)
        if lessons and lessons[-1][1] == "video" and lessons[-1][3] and lessons[-1][2] >= 30:
            if all(kind == "article" or media for _, kind, _, media in lessons):
                if best is None or len(lessons) < len(best[1]):
                    best = (course_id, lessons)
    if best is None:
        pytest.fail("the demo data has no paid course ending with a video lesson")
    return best


def _study_through_the_service(shop_db, user_id: int, lessons: list[tuple], last_until: int) -> None:
    from coursemall.models import utcnow
    from coursemall.services.learning import progress
    from tests.services.learning_fixture import play

    now = utcnow() - timedelta(hours=6)
    with Session(shop_db, expire_on_commit=False) as s:
        for lesson_id, kind, duration, _ in lessons[:-1]:
            if kind == "article":
                progress.record_article_read(s, actor_id=user_id, lesson_id=lesson_id, percent=100, now=now)
                now += timedelta(minutes=3)
            else:
                now = play(s, user_id, lesson_id, 0, int(duration), now) + timedelta(minutes=1)
        last_id, _, _, _ = lessons[-1]
        play(s, user_id, last_id, 0, last_until, now)


def test_finishing_a_course_leads_to_a_verifiable_certificate(page, browser, shop_db, live_server):
    course_id, lessons = _short_course(shop_db)
    (title,) = query(shop_db, "SELECT title FROM courses WHERE id = :c", c=course_id)[0]
    nickname = "结业同学" + uuid.uuid4().hex[:4]
    user_id = _learner(shop_db, live_server, page.context, nickname)
    _grant(shop_db, user_id, course_id)
    last_id, _, last_duration, _ = lessons[-1]
    _study_through_the_service(shop_db, user_id, lessons, last_until=int(last_duration) - 12)

    page.goto(f"/lesson/{last_id}")
    wait_ready(page)
    video = _video(page)
    expect(page.locator("#certificate-link")).to_have_count(0)
    # resumes near the end; watch the rest
    page.wait_for_function("(d) => document.querySelector('video#lesson-video').currentTime > d - 20",
                           arg=last_duration, timeout=20_000)
    play_video(video)
    expect(page.locator("#lesson-complete")).to_be_visible(timeout=40_000)
    expect(page.locator("#course-percent")).to_contain_text("100")
    link = page.locator("#certificate-link")
    expect(link).to_be_visible(timeout=20_000)
    href = link.get_attribute("href")
    assert re.match(r"^/certificate/[A-Za-z0-9-]+$", href), href
    link.click()
    expect(page).to_have_url(re.compile(re.escape(href) + "$"))
    expect(page.locator("#certificate-name")).to_have_text(nickname)
    expect(page.locator("#certificate-course")).to_have_text(title)

    # anyone can verify it: a fresh browser without a sign-in
    fresh = browser.new_context(base_url=live_server)
    try:
        other = fresh.new_page()
        other.goto(href)
        expect(other.locator("#certificate-verified")).to_be_visible()
        expect(other.locator("#certificate-name")).to_have_text(nickname)
        expect(other.locator("#certificate-course")).to_have_text(title)
    finally:
        fresh.close()


def test_a_source_whose_token_expired_is_refreshed_at_the_same_second(page, shop_db, live_server, video_course):
    user_id = _learner(shop_db, live_server, page.context, "续期同学")
    _grant(shop_db, user_id, video_course["course"])
    page.goto(f"/lesson/{video_course['first']}")
    wait_ready(page)
    video = _video(page)
    _on_source(page, "hd")
    page.wait_for_timeout(1200)  # fresh tokens then carry a later expiry, so they differ
    play_video(video, at=15)
    page.wait_for_function("() => document.querySelector('video#lesson-video').currentTime > 16", timeout=20_000)
    # What a 10-minute-old page sees when it switches: its SD playlist token is refused by now.
    dead = video.evaluate(
        "el => { const dead = '/api/hls/1/1/sd/index.m3u8?t=1.1.1.hls-sd.0.1.' + 'A'.repeat(43);"
        " el.setAttribute('data-sd', dead); return dead; }")
    page.locator("#quality-sd").click()
    page.wait_for_function(
        "(dead) => { const m = document.querySelector('video#lesson-video'); const s = m.getAttribute('data-sd');"
        " return s && s !== dead && s.startsWith('/api/hls/') && m.__cmUrl === s"
        " && m.getAttribute('data-playing') === 'sd' && m.readyState >= 1 && !m.paused"
        " && m.currentTime > 15; }", arg=dead, timeout=30_000)
    assert video.evaluate("el => el.videoHeight") == SD_HEIGHT


def test_no_seeking_ahead_on_first_watch(page, shop_db, live_server, video_course):
    from coursemall.models import Course

    rows = query(shop_db, "SELECT c.id, l.id FROM courses c JOIN lessons l ON l.course_id = c.id "
                          "WHERE c.status = 'published' AND c.price_fen > 0 AND c.id != :v AND l.kind = 'video' "
                          "AND l.media_asset_id IS NOT NULL AND l.duration_seconds >= 60 "
                          "ORDER BY c.id DESC, l.id LIMIT 1", v=video_course["course"])
    course_id, lesson_id = rows[0]
    with Session(shop_db) as s:
        course = s.get(Course, course_id)
        course.no_seek_first_watch = True
        s.add(course)
        s.commit()
    try:
        user_id = _learner(shop_db, live_server, page.context, "不跳看同学")
        _grant(shop_db, user_id, course_id)
        page.goto(f"/lesson/{lesson_id}")
        wait_ready(page)
        video = _video(page)
        play_video(video)
        page.wait_for_function("() => document.querySelector('video#lesson-video').currentTime > 2", timeout=20_000)
        video.evaluate("el => { el.currentTime = 50; }")
        page.wait_for_function(  # snapped back to what was watched
            "() => { const m = document.querySelector('video#lesson-video'); return !m.seeking && m.currentTime < 10; }",
            timeout=20_000)
        video.evaluate("el => { el.currentTime = 0.5; }")  # going back is fine
        page.wait_for_function(
            "() => { const m = document.querySelector('video#lesson-video'); return !m.seeking && m.readyState >= 2; }",
            timeout=20_000)
        assert video.evaluate("el => el.currentTime") < 3
    finally:
        with Session(shop_db) as s:
            course = s.get(Course, course_id)
            course.no_seek_first_watch = False
            s.add(course)
            s.commit()


def test_an_anonymous_visitor_plays_the_free_seconds_to_their_end_and_gets_nothing_more(page, shop_db):
    rows = query(shop_db, "SELECT l.id, l.free_seconds FROM lessons l JOIN courses c ON c.id = l.course_id "
                          "WHERE c.status = 'published' AND c.price_fen > 0 AND l.kind = 'video' "
                          "AND l.is_free_trial = :f AND l.free_seconds > 0 ORDER BY l.id LIMIT 1", f=False)
    assert rows, "the demo data has no paid video lesson with free seconds"
    lesson_id, seconds = rows[0]
    media_requests: list[str] = []
    page.on("request", lambda r: media_requests.append(r.url) if "/api/media/" in r.url or "/api/hls/" in r.url
            or r.url.endswith((".mp4", ".m3u8", ".ts", ".m4a", ".mp3")) else None)
    page.goto(f"/lesson/{lesson_id}")
    wait_ready(page)
    video = _video(page)
    expect(page.locator("#lesson-partial-note")).to_be_visible()
    assert video.get_attribute("data-hd") in (None, "") and video.get_attribute("data-listen") in (None, "")
    duration = video.evaluate("el => el.duration")
    assert seconds - 1 <= duration <= seconds + 0.5, duration  # the clip itself ends at the free seconds
    play_video(video, at=seconds - 3)
    page.wait_for_function("() => document.querySelector('video#lesson-video').ended", timeout=30_000)
    expect(page.locator("#trial-over")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/lesson/{lesson_id}$"))  # a preview does not autoplay on
    # seeking past the end cannot reach anything: the element holds only the clip
    video.evaluate(f"el => {{ el.currentTime = {seconds + 30}; }}")
    page.wait_for_function("() => !document.querySelector('video#lesson-video').seeking", timeout=20_000)
    assert video.evaluate("el => el.currentTime") <= seconds + 0.5
    assert media_requests, "no media request was seen"
    for url in media_requests:  # the clip, and nothing else: no HLS part, no whole file
        assert re.search(r"/api/media/\d+\.\d+\.\d+\.preview\.0\.\d+\.[A-Za-z0-9_-]{43}$", url), url

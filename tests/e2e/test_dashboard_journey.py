"""The owner's dashboard journey, in Chromium against the production build.

The owner signs in on a laptop (password, then the TOTP step with a code computed by pyotp from the
demo seed, as an authenticator app would), reads today's revenue on /admin, creates a course in the
CMS (price 12.30 yuan, a cover uploaded from a generated image), adds a chapter and a video lesson,
uploads a generated 3 s mp4 through the lesson media page (chunked uploader, progress bar), waits
for the background job to make the HD/SD/audio/poster renditions, and publishes. A new learner on
a phone finds the course in the storefront, buys it in the sandbox cashier and plays the lesson.
Back on /admin, today's revenue grew by exactly the course price.

Everything happens through the UI; the shop's database is only read (the owner's last TOTP step).
"""

from __future__ import annotations

import io
import re
import subprocess
import uuid
from datetime import datetime
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from coursemall.domain.money import format_fen
from tests.e2e.fixtures import play_video, wait_ready
from tests.e2e.test_accounts import expect_signed_in, register
from tests.e2e.test_owner_queues import OWNER, OWNER_PASSWORD, owner_totp_code

pytestmark = pytest.mark.e2e

PRICE_TEXT, PRICE_FEN = "12.30", 1230
PROCESSING_TIMEOUT_MS = 120_000  # upload probe + HD/SD/audio/poster on 2 shared cores
ORDER_URL = re.compile(r"/order/(CM[0-9A-Za-z]+)$")
CHINA = ZoneInfo("Asia/Shanghai")  # the dashboard's "today"


# ---------------------------------------------------------------------------------- generated media

def cover_png() -> bytes:
    image = Image.new("RGB", (800, 450), (24, 100, 171))
    ImageDraw.Draw(image).rectangle((80, 80, 720, 370), fill=(250, 176, 5))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def make_mp4(path: Path) -> Path:
    """A 3 s 640x360 H.264/AAC file made with the ffmpeg that imageio-ffmpeg ships."""
    import imageio_ffmpeg

    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
           "-f", "lavfi", "-i", "testsrc=size=640x360:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
           "-t", "3", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-movflags", "+faststart",
           str(path)]
    subprocess.run(cmd, check=True, timeout=120, capture_output=True)
    assert path.stat().st_size > 10_000, "ffmpeg made an empty video"
    return path


# ---------------------------------------------------------------------------------- helpers

def fen(text: str) -> int:
    """'¥1,234.50' -> 123450."""
    match = re.search(r"(-?)¥?\s*([\d,]+)(?:\.(\d{1,2}))?", text)
    assert match, f"no amount in {text!r}"
    sign, yuan, cents = match.groups()
    value = int(yuan.replace(",", "")) * 100 + int((cents or "0").ljust(2, "0"))
    return -value if sign else value


def china_day() -> str:
    return datetime.now(CHINA).date().isoformat()


def watch_errors(page) -> list[str]:
    """Uncaught page errors (the `page` fixture does this for the phone; the owner is on a laptop)."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    return errors


def id_number(locator, prefix: str) -> int:
    element_id = locator.get_attribute("id") or ""
    assert element_id.startswith(prefix), element_id
    return int(element_id[len(prefix):])


def sign_in_owner(page, shop_db) -> None:
    """Password first (the dashboard stays closed), then the TOTP step of the dashboard gate."""
    page.goto("/login")
    page.locator("#login-account").fill(OWNER)
    page.locator("#login-password").fill(OWNER_PASSWORD)
    page.locator("#login-submit").click()
    expect(page.locator("#nav-profile")).to_be_visible()
    page.goto("/admin")
    wait_ready(page)
    expect(page.locator("#mfa-gate")).to_be_visible()
    expect(page.locator("#dash-today-revenue")).to_have_count(0)
    page.locator("#mfa-gate-code").fill(owner_totp_code(shop_db))
    page.locator("#mfa-gate-submit").click()
    expect(page.locator("#admin-nav-home")).to_be_visible()
    expect(page.locator("#mfa-gate")).to_have_count(0)


def revenue_figure(page):
    figure = page.locator("#dash-today-revenue")
    expect(figure).to_have_text(re.compile(r"^-?¥\d"))
    return figure


def create_course(page, title: str) -> int:
    page.goto("/admin/courses")
    wait_ready(page)
    page.locator("#cms-new-title").fill(title)
    page.locator("#cms-create").click()
    expect(page).to_have_url(re.compile(r"/admin/courses/\d+$"))
    # The editor is loaded (and its form mounted with the stored values) once the heading shows.
    expect(page.locator("#cms-heading")).to_have_text(title)
    expect(page.locator("#cms-status")).to_have_text("草稿")
    return int(page.url.rstrip("/").rsplit("/", 1)[-1])


def refuse_negative_price(page, title: str) -> None:
    """A negative price gets a clear message and is not stored (the reloaded form shows the old one)."""
    stored = page.locator("#cms-price").input_value()
    page.locator("#cms-price").fill("-12.30")
    page.locator("#cms-save").click()
    expect(page.locator("#form-error")).to_contain_text("价格请填写")
    page.reload()
    wait_ready(page)
    # After a reload the tab first shows its previous state (with the error); the page load clears
    # the message and remounts the form with the stored values.
    expect(page.locator("#cms-heading")).to_have_text(title)
    expect(page.locator("#form-error")).to_have_count(0)
    expect(page.locator("#cms-price")).to_have_value(stored)


def set_price_and_cover(page) -> None:
    page.locator("#cms-price").fill(PRICE_TEXT)
    page.locator("#cms-intro").fill("端到端测试课程：三秒钟的测试视频。")
    page.locator("#cms-save").click()
    expect(page.locator("#form-success")).to_have_text("已保存")
    expect(page.locator("#cms-price")).to_have_value(PRICE_TEXT)  # the form remounted with stored values

    page.locator("#cms-cover-upload input[type=file]").set_input_files(
        {"name": "cover.png", "mimeType": "image/png", "buffer": cover_png()})
    expect(page.locator("#form-success")).to_have_text("封面已更新")
    cover = page.locator("#cms-cover-img img")
    expect(cover).to_be_visible()
    page.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=cover.element_handle())


def add_video_lesson(page, chapter_title: str, lesson_title: str) -> int:
    page.locator("#cms-chapter-new").fill(chapter_title)
    page.locator("#cms-add-chapter").click()
    expect(page.locator("#form-success")).to_have_text("章节已添加")
    chapter = page.locator(".cms-chapter")
    expect(chapter).to_have_count(1)
    chapter_id = id_number(chapter, "cms-chapter-")
    expect(page.locator(f"#cms-chapter-title-{chapter_id}")).to_have_value(chapter_title)

    page.locator(f"#cms-lesson-kind-{chapter_id}").select_option("video")
    page.locator(f"#cms-lesson-title-{chapter_id}").fill(lesson_title)
    page.locator(f"#cms-add-lesson-{chapter_id}").click()
    expect(page.locator("#form-success")).to_have_text("课时已添加")
    row = page.locator(".cms-lesson-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(lesson_title)
    lesson_id = id_number(row, "cms-lesson-")
    expect(page.locator(f"#cms-media-{lesson_id}")).to_have_text("未上传媒体")
    # Not publishable yet: the lesson has no media.
    expect(page.locator("#cms-blockers")).to_contain_text(lesson_title)
    return lesson_id


def wait_uploader(page, lesson_id: int) -> None:
    """The page load sends the chunked uploader script (with the lesson id): before it runs, the
    start button does nothing yet. This also means the lesson's media state is freshly loaded."""
    page.wait_for_function("id => window.__cmUploader && window.__cmUploader.cfg"
                           " && window.__cmUploader.cfg.lessonId === id", arg=lesson_id)


def refuse_non_media(page, lesson_id: int) -> None:
    """A text file named .mp4 is refused after upload with a clear message; the lesson keeps no media."""
    page.locator("#media-file").set_input_files(
        {"name": "notes.mp4", "mimeType": "video/mp4", "buffer": b"not a video, just notes\n" * 400})
    page.locator("#media-upload-start").click()
    expect(page.locator("#media-upload-text")).to_have_text("这不是可识别的视频或音频文件")
    page.reload()  # what is stored, not what the script left on the page
    wait_ready(page)
    wait_uploader(page, lesson_id)
    expect(page.locator("#media-none")).to_be_visible()
    expect(page.locator("#media-asset-status")).to_have_count(0)


def upload_video(page, lesson_id: int, video: Path) -> None:
    page.locator(f"#cms-lesson-media-{lesson_id}").click()
    expect(page).to_have_url(re.compile(rf"/admin/lessons/{lesson_id}/media$"))
    wait_uploader(page, lesson_id)
    expect(page.locator("#media-none")).to_be_visible()
    refuse_non_media(page, lesson_id)
    expect(page.locator("#media-upload-pct")).not_to_have_text("100%")
    page.locator("#media-file").set_input_files(str(video))
    page.locator("#media-upload-start").click()

    expect(page.locator("#media-upload-pct")).to_have_text("100%")
    assert page.locator("#media-upload-progress").evaluate("el => el.value") == 100
    expect(page.locator("#media-upload-text")).to_have_text("上传完成，正在排队转码")
    # The page polls the job every 2 s while it is queued or running, as it would for a user.
    expect(page.locator("#media-asset-status")).to_have_text("可播放", timeout=PROCESSING_TIMEOUT_MS)
    expect(page.locator("#media-asset-error")).to_have_count(0)
    for name in ("hd", "sd", "audio", "poster"):
        expect(page.locator(f".media-rendition[data-name={name}]")).to_have_count(1)
    expect(page.locator("#media-duration")).to_contain_text("0:03")
    poster = page.locator("#media-poster")
    expect(poster).to_be_visible()
    page.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=poster.element_handle())
    expect(page.locator(".media-job .media-status").first).to_have_text("已完成")


def publish(page, course_id: int, lesson_id: int) -> None:
    page.goto(f"/admin/courses/{course_id}")
    wait_ready(page)
    expect(page.locator(f"#cms-media-{lesson_id}")).to_have_text("媒体就绪")
    expect(page.locator("#cms-ready")).to_be_visible()
    page.locator("#cms-publish").click()
    expect(page.locator("#form-success")).to_have_text("课程已发布，店铺中可见")
    expect(page.locator("#cms-status")).to_have_text("已发布")


def find_in_storefront(page, course_id: int, title: str) -> None:
    page.goto("/")
    expect(page.locator(f"#home-newest #course-card-{course_id}")).to_contain_text(title)
    page.goto("/search?q=" + quote(title))
    card = page.locator(f"#course-card-{course_id}")
    expect(card).to_contain_text(title)
    expect(page.locator("[id^=course-card-]")).to_have_count(1)  # the title is unique
    expect(card).to_contain_text(f"¥{PRICE_TEXT}")


def buy_in_sandbox(page, course_id: int) -> None:
    page.locator(f"#course-card-{course_id}").click()
    expect(page).to_have_url(re.compile(rf"/course/{course_id}$"))
    wait_ready(page)
    page.locator("#buy-now").click()
    expect(page).to_have_url(ORDER_URL)
    order_no = ORDER_URL.search(page.url).group(1)
    expect(page.locator("#order-status")).to_have_text("待支付")
    expect(page.locator("#order-total")).to_have_text(f"¥{PRICE_TEXT}")
    page.locator("input[name=channel][value=sandbox]").check()
    page.locator("#pay").click()
    expect(page).to_have_url(re.compile(rf"/pay/sandbox/{order_no}$"))
    expect(page.locator("#cashier-order-no")).to_contain_text(order_no)
    expect(page.locator("#cashier-amount")).to_contain_text(PRICE_TEXT)
    page.locator("#sandbox-pay").click()
    expect(page).to_have_url(re.compile(rf"/order/{order_no}$"))
    expect(page.locator("#order-status")).to_have_text("已支付")


def lesson_plays(page, lesson_id: int) -> None:
    page.goto(f"/lesson/{lesson_id}")
    expect(page.locator("#lesson-locked")).to_have_count(0)
    video = page.locator("video#lesson-video")
    # the learner plays the encrypted HLS the pipeline made (hls.js: a MediaSource blob, no file URL)
    expect(video).to_have_attribute("data-hd", re.compile(r"^/api/hls/\d+/\d+/hd/index\.m3u8\?t="))
    page.wait_for_function(
        "() => { const m = document.querySelector('video#lesson-video');"
        " return m && m.getAttribute('data-playing') === 'hd' && (m.currentSrc || '').startsWith('blob:')"
        " && m.readyState >= 1; }", timeout=30_000)
    play_video(video)
    page.wait_for_function(
        "() => { const m = document.querySelector('video#lesson-video');"
        " return m && m.readyState > 0 && !m.paused && m.currentTime > 0.5; }", timeout=30_000)


# ---------------------------------------------------------------------------------- the journey

def test_owner_publishes_a_video_course_and_a_learner_buys_it(desktop, page, shop_db, tmp_path):
    tag = uuid.uuid4().hex[:8]
    title = f"旅程测试课 {tag}"
    video = make_mp4(tmp_path / "lesson.mp4")

    owner = desktop.new_page()
    owner_errors = watch_errors(owner)
    sign_in_owner(owner, shop_db)  # ends on /admin, loaded for the first time in this tab
    day = china_day()
    revenue_before = fen(revenue_figure(owner).inner_text())

    course_id = create_course(owner, title)
    refuse_negative_price(owner, title)
    set_price_and_cover(owner)
    lesson_id = add_video_lesson(owner, "第一章 开始", f"第一课 {tag}")
    upload_video(owner, lesson_id, video)
    publish(owner, course_id, lesson_id)

    # A new learner on a phone (the `page` fixture fails the test on any uncaught page error).
    find_in_storefront(page, course_id, title)
    register(page, f"journey-{tag}@example.com", "旅程学员", "Journey-pass-" + tag)
    expect_signed_in(page)
    page.goto("/search?q=" + quote(title))
    buy_in_sandbox(page, course_id)
    lesson_plays(page, lesson_id)

    if china_day() != day:
        pytest.skip("the dashboard's day (China time) changed during the journey; revenue not comparable")
    owner.goto("/admin")
    wait_ready(owner)
    # The tab first shows the figure it had (before the purchase); the page load replaces it.
    expect(revenue_figure(owner)).to_have_text(format_fen(revenue_before + PRICE_FEN))
    assert not owner_errors, f"uncaught errors on the owner's pages: {owner_errors[:3]}"

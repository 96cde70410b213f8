"""Demo seeding: idempotent, complete, and made of real files (covers, figures, playable media).

Media files are generated once per machine under the test data dir (data/pytest/media/demo) and
reused by later runs; the database is fresh for every test (SQLite and PostgreSQL).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import subprocess
from datetime import datetime, timedelta, timezone

import pytest
from PIL import Image, ImageStat
from sqlalchemy import func
from sqlmodel import Session, SQLModel, select

from coursemall.demo import accounts, content, covers
from coursemall.demo.media_gen import DEMO_MEDIA, ensure_demo_media, ffmpeg_exe
from coursemall.demo.seed import seed_all
from coursemall.models import (
    Bundle,
    BundleCourse,
    Category,
    Chapter,
    Course,
    CourseTag,
    Entitlement,
    Instructor,
    Lesson,
    MediaAsset,
    Order,
    Payment,
    Review,
    Tag,
    User,
)
from coursemall.services.accounts.passwords import verify_password
from coursemall.services.learning.media_access import preview_ready
from coursemall.services.media.packaging import check_playlist
from coursemall.settings import get_settings

CATALOG_TABLES = [User, Category, Tag, CourseTag, Instructor, Course, Chapter, Lesson, MediaAsset, Bundle,
                  BundleCourse, Entitlement, Review]


@pytest.fixture(scope="session")
def demo_settings():
    settings = dataclasses.replace(get_settings(), demo=True)
    ensure_demo_media(settings.media_dir)  # slow only the first time on a machine
    return settings


@pytest.fixture(autouse=True)
def _cheap_hashes(monkeypatch):
    """Argon2 with tiny cost parameters: the hashes still verify (parameters live in the hash) but
    seeding a dozen accounts per test stops dominating the run time."""
    from argon2 import PasswordHasher

    monkeypatch.setattr("coursemall.demo.seed.hash_password",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash)


@pytest.fixture
def seeded(db_engine, demo_settings):
    summary = seed_all(db_engine, demo_settings)
    return db_engine, summary


@pytest.fixture
def seeded_sqlite(sqlite_engine, demo_settings):
    """For checks of files, which do not depend on the database kind."""
    seed_all(sqlite_engine, demo_settings)
    return sqlite_engine


def _counts(engine) -> dict[str, int]:
    with Session(engine) as s:
        return {t.__tablename__: s.exec(select(func.count()).select_from(t)).one() for t in CATALOG_TABLES}


def _all(engine, model: type[SQLModel]) -> list:
    with Session(engine) as s:
        return list(s.exec(select(model)).all())


# ----------------------------------------------------------------------------------- idempotency


def test_first_run_creates_owner_and_whole_shop(seeded, demo_settings):
    engine, summary = seeded
    assert summary["owner"] == "created"
    assert summary["courses_created"] == len(content.COURSES)
    assert summary["users_created"] == len(accounts.DEMO_LEARNERS) + len(accounts.DEMO_INSTRUCTORS)
    owners = [u for u in _all(engine, User) if u.role == "owner"]
    assert [u.email for u in owners] == [demo_settings.owner_email]
    assert verify_password(owners[0].password_hash, demo_settings.owner_password or accounts.OWNER_PASSWORD)


def test_second_run_duplicates_nothing_and_keeps_edits(seeded, demo_settings):
    engine, _ = seeded
    before = _counts(engine)
    with Session(engine) as s:
        course = s.exec(select(Course).where(Course.slug == "python-data-analysis")).one()
        course.title = "Python 数据分析实战（店主改过的标题）"
        course.price_fen = 12300
        owner = s.exec(select(User).where(User.email == demo_settings.owner_email)).one()
        owner.password_hash = "changed-by-owner"
        s.add(course)
        s.add(owner)
        s.commit()

    summary = seed_all(engine, demo_settings)

    assert summary["owner"] == "exists"
    assert all(v == 0 for k, v in summary.items() if k.endswith("_created") or k == "images_drawn"), summary
    assert _counts(engine) == before
    with Session(engine) as s:
        course = s.exec(select(Course).where(Course.slug == "python-data-analysis")).one()
        assert course.title == "Python 数据分析实战（店主改过的标题）"
        assert course.price_fen == 12300
        owner = s.exec(select(User).where(User.email == demo_settings.owner_email)).one()
        assert owner.password_hash == "changed-by-owner"


def test_production_seed_creates_no_account_and_no_content(db_engine, demo_settings):
    """No demo accounts and no owner with a known password: the owner comes from the setup link."""
    production = dataclasses.replace(demo_settings, demo=False, owner_password="chosen-by-operator-1")
    summary = seed_all(db_engine, production)
    assert summary["owner"] == "created by the setup link"
    counts = _counts(db_engine)
    assert counts["users"] == 0
    assert counts["courses"] == 0 and counts["media_assets"] == 0
    # a second run (every `make serve`) still creates nothing
    seed_all(db_engine, production)
    assert _counts(db_engine)["users"] == 0


# --------------------------------------------------------------------------------------- catalog


def test_catalog_has_enough_varied_published_courses(seeded):
    engine, _ = seeded
    courses = _all(engine, Course)
    categories = _all(engine, Category)
    instructors = _all(engine, Instructor)
    published = [c for c in courses if c.status == "published"]
    assert len(published) >= 18
    assert len(categories) >= 6 and all(c.name and c.name_en and c.icon for c in categories)
    assert len({c.category_id for c in courses}) >= 6
    assert len(instructors) >= 5 and len({c.instructor_id for c in courses}) >= 5
    assert all(i.user_id and i.bio and i.title for i in instructors)

    now = datetime.now(timezone.utc)
    for c in published:
        assert c.published_at.tzinfo is not None
        assert now - timedelta(days=91) <= c.published_at <= now
        assert c.original_price_fen >= c.price_fen >= 0
        assert c.intro_html.startswith("<p>") and "<ul><li>" in c.intro_html
        assert len([line for line in c.audience.splitlines() if line.strip()]) >= 2
        assert c.title.lower() in c.search_text
    assert any(c.price_fen == 0 for c in published)
    assert any(c.original_price_fen > c.price_fen for c in published)
    featured = sorted(c.featured_rank for c in published if c.is_featured)
    assert len(featured) >= 3 and featured[0] >= 1
    assert len({c.sales_count for c in published}) > 10  # varied, not one number
    assert len({c.published_at.date() for c in published}) > 10  # spread over time


def test_search_needles_from_the_issue_are_present(seeded):
    engine, _ = seeded
    titles = [c.title for c in _all(engine, Course)]
    assert sum("Python" in t for t in titles) >= 2
    assert sum("摄影" in t for t in titles) >= 2
    # a two-character word inside a longer title
    assert any("沟通" in t and len(t) > 4 and not t.startswith("沟通") for t in titles)


def test_outlines_mix_lesson_kinds_and_totals_add_up(seeded):
    engine, _ = seeded
    chapters = _all(engine, Chapter)
    lessons = _all(engine, Lesson)
    assets = {a.id: a for a in _all(engine, MediaAsset)}
    assert {lesson.kind for lesson in lessons} == {"video", "audio", "article"}
    for course in _all(engine, Course):
        own = [lesson for lesson in lessons if lesson.course_id == course.id]
        assert len([ch for ch in chapters if ch.course_id == course.id]) >= 2, course.slug
        assert len(own) >= 4, course.slug
        assert len({lesson.kind for lesson in own}) >= 2, course.slug
        assert course.lesson_count == len(own)
        assert course.total_duration_seconds == sum(lesson.duration_seconds for lesson in own)
    for lesson in lessons:
        assert lesson.duration_seconds > 0
        if lesson.kind == "article":
            assert lesson.media_asset_id is None and "<img " in lesson.article_html
        else:
            asset = assets[lesson.media_asset_id]
            assert asset.kind == lesson.kind
            assert lesson.duration_seconds == asset.duration_seconds


def test_every_course_has_free_trial_and_some_partial_previews(seeded):
    engine, _ = seeded
    lessons = _all(engine, Lesson)
    chapters = {ch.id: ch for ch in _all(engine, Chapter)}
    courses = {c.id: c for c in _all(engine, Course)}
    for course_id in courses:
        own = sorted((lsn for lsn in lessons if lsn.course_id == course_id),
                     key=lambda lsn: (chapters[lsn.chapter_id].position, lsn.position))
        assert own[0].is_free_trial, courses[course_id].slug
    partial = [lsn for lsn in lessons if lsn.free_seconds == 30]
    assert partial
    assert all(lsn.kind == "video" and not lsn.is_free_trial and courses[lsn.course_id].price_fen > 0
               for lsn in partial)


def test_tags_and_bundles(seeded):
    engine, _ = seeded
    links = _all(engine, CourseTag)
    for course in _all(engine, Course):
        assert 2 <= sum(link.course_id == course.id for link in links) <= 4
    bundles = _all(engine, Bundle)
    members = _all(engine, BundleCourse)
    assert bundles
    for bundle in bundles:
        assert bundle.status == "published" and bundle.cover_path
        assert sum(m.bundle_id == bundle.id for m in members) >= 2
        assert bundle.original_price_fen > bundle.price_fen > 0


# ------------------------------------------------------------------------ accounts and reviews


def test_demo_learners_and_instructor_accounts(seeded):
    engine, _ = seeded
    users = {u.email: u for u in _all(engine, User)}
    for acc in accounts.DEMO_LEARNERS:
        user = users[acc.email]
        assert user.role == "learner" and user.nickname == acc.nickname and user.phone == acc.phone
        assert verify_password(user.password_hash, accounts.LEARNER_PASSWORD)
    assert users["learner2@coursemall.local"].phone == "13800138002"
    codes = [u.watermark_code for u in users.values()]
    assert len(set(codes)) == len(codes)
    assert all(re.fullmatch(r"[A-Z2-7]{8}", code) for code in codes)

    instructors = _all(engine, Instructor)
    for acc in accounts.DEMO_INSTRUCTORS:
        user = users[acc.email]
        assert user.role == "instructor"
        assert verify_password(user.password_hash, accounts.INSTRUCTOR_PASSWORD)
        assert any(i.user_id == user.id for i in instructors)

    grants = _all(engine, Entitlement)
    learner1 = users["learner1@coursemall.local"]
    assert 2 <= sum(g.user_id == learner1.id for g in grants) <= 3
    assert all((g.source == "manual" and g.source_ref == "demo")  # the demo learners' courses
               or (g.source == "order" and g.source_ref.startswith("DEMO"))  # demo sales (dashboard)
               for g in grants)


def test_demo_sales_are_paid_orders_with_payment_and_grant(seeded):
    """The month of demo sales looks exactly like what the payment pipeline leaves behind."""
    engine, _summary = seeded
    orders = [o for o in _all(engine, Order) if o.out_trade_no.startswith("DEMO")]
    assert len(orders) >= 20
    payments = {p.order_id: p for p in _all(engine, Payment)}
    grants = {(g.user_id, g.source_ref) for g in _all(engine, Entitlement)}
    for order in orders:
        assert order.status == "paid" and order.paid_at is not None and order.total_fen > 0
        assert payments[order.id].amount_fen == order.total_fen
        assert (order.user_id, order.out_trade_no) in grants
    buyers = {u.id: u for u in _all(engine, User) if u.email and u.email.startswith("demo-buyer")}
    assert {o.user_id for o in orders} <= set(buyers)
    assert not any(verify_password(u.password_hash, "") for u in buyers.values())  # cannot sign in


def test_reviews_are_by_owners_and_ratings_are_consistent(seeded):
    engine, _ = seeded
    reviews = _all(engine, Review)
    owned = {(g.user_id, g.course_id) for g in _all(engine, Entitlement)}
    assert len(reviews) >= 5
    assert {r.rating for r in reviews} >= {2, 3, 4, 5}
    for review in reviews:
        assert (review.user_id, review.course_id) in owned
        assert 1 <= review.rating <= 5 and review.content
    for course in _all(engine, Course):
        visible = [r for r in reviews if r.course_id == course.id and r.status == "visible"]
        assert course.rating_count == len(visible), course.slug
        assert course.rating_sum == sum(r.rating for r in visible), course.slug


# ------------------------------------------------------------------------------------- files


def _image_digest(path) -> str:
    with Image.open(path) as im:
        return hashlib.sha256(im.convert("RGB").tobytes()).hexdigest()


def test_covers_are_distinct_16_9_jpegs_and_not_blank(seeded_sqlite, demo_settings):
    paths = [c.cover_path for c in _all(seeded_sqlite, Course)] + [b.cover_path for b in _all(seeded_sqlite, Bundle)]
    assert all(p.startswith("covers/") and p.endswith(".jpg") for p in paths)
    digests = set()
    for name in paths:
        path = demo_settings.public_dir / name
        with Image.open(path) as im:
            assert im.format == "JPEG"
            assert im.size[0] * 9 == im.size[1] * 16
            stddev = ImageStat.Stat(im.convert("L")).stddev[0]
            assert stddev > 20, f"{name} looks blank (stddev {stddev:.1f})"
        digests.add(_image_digest(path))
    assert len(digests) == len(paths)


def test_avatars_and_article_figures_exist(seeded_sqlite, demo_settings):
    for instructor in _all(seeded_sqlite, Instructor):
        with Image.open(demo_settings.public_dir / instructor.avatar_path) as im:
            assert im.format == "PNG" and im.mode == "RGBA"
            assert im.getpixel((0, 0))[3] == 0  # round: the corner is transparent
    articles = [lsn for lsn in _all(seeded_sqlite, Lesson) if lsn.kind == "article"]
    srcs = {src for lsn in articles for src in re.findall(r'<img src="/api/public/([^"]+)"', lsn.article_html)}
    assert len(srcs) >= len(articles)
    for src in srcs:
        assert src.startswith("articles/")
        with Image.open(demo_settings.public_dir / src) as im:
            assert im.format == "PNG" and ImageStat.Stat(im.convert("L")).stddev[0] > 10


def _ffmpeg_info(path) -> str:
    return subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr


def test_media_files_are_real_and_match_stored_duration(seeded_sqlite, demo_settings):
    assets = _all(seeded_sqlite, MediaAsset)
    assert {a.storage_key for a in assets} == {m.key for m in DEMO_MEDIA}
    assert sum(a.kind == "video" for a in assets) >= 3 and sum(a.kind == "audio" for a in assets) >= 3
    for asset in assets:
        path = demo_settings.media_dir / asset.storage_key
        assert asset.storage_key.startswith("demo/") and asset.status == "ready"
        assert path.stat().st_size == asset.size_bytes > 10_000
        info = _ffmpeg_info(path)
        h, m, s = re.search(r"Duration: (\d+):(\d+):([\d.]+)", info).groups()
        assert abs(int(h) * 3600 + int(m) * 60 + float(s) - asset.duration_seconds) < 1.0
        if asset.kind == "video":
            assert asset.mime == "video/mp4" and 85 <= asset.duration_seconds <= 95
            assert re.search(r"Video: h264 \(Constrained Baseline\).*yuv420p.*640x360", info), info
            assert "Audio: aac" in info
        else:
            assert asset.mime == "audio/mpeg" and 90 <= asset.duration_seconds <= 120
            assert "Audio: mp3" in info
        # the demo plays as production does: encrypted HLS variants, segments of about 4 s
        variants = ("hd", "sd", "audio") if asset.kind == "video" else ("audio",)
        for variant in variants:
            segments = check_playlist(demo_settings.media_dir / asset.renditions[f"hls_{variant}"])
            assert abs(segments - asset.duration_seconds / 4) <= 2
    # partial-trial viewers are served a real clip of about 30 s, not the whole file
    lessons = [lsn for lsn in _all(seeded_sqlite, Lesson) if lsn.free_seconds]
    assert lessons and all(preview_ready(lsn) for lsn in lessons)
    for clip in {lsn.preview_key for lsn in lessons}:
        ph, pm, ps = re.search(r"Duration: (\d+):(\d+):([\d.]+)",
                               _ffmpeg_info(demo_settings.media_dir / clip)).groups()
        assert 29 <= int(ph) * 3600 + int(pm) * 60 + float(ps) <= 30.5


# ------------------------------------------------------------------------------- drawing units


def test_cover_without_cjk_font_falls_back_without_crashing(monkeypatch):
    covers.font.cache_clear()
    monkeypatch.setattr(covers, "_cjk_font_path", lambda bold: None)
    try:
        img = covers.draw_cover("手机摄影从入门到精通", "摄影美学", "林晓雨", "fallback-test")
        assert img.size == covers.COVER_SIZE
    finally:
        covers.font.cache_clear()


def test_title_wrapping_keeps_latin_words_and_breaks_after_colon():
    fnt = covers.font(52)
    lines = covers.balanced_wrap("零基础学 Python 自动化办公超长标题测试用例", fnt, 400, 3)
    assert len(lines) >= 2 and any("Python" in line for line in lines)
    assert covers.balanced_wrap("时间管理：告别拖延的 21 天行动计划", fnt, 632, 3)[0] == "时间管理："
    assert all(fnt.getlength(line) <= 632 for line in covers.balanced_wrap("x" * 90, fnt, 632, 3))

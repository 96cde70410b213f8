"""Course CMS service, on SQLite and PostgreSQL.

Each call runs in its own unit of work (commit on success, rollback on error), as the states do,
so "changes nothing" is checked against what a fresh session reads back.
"""

from __future__ import annotations

import io
import random
from datetime import datetime, timezone

import pytest
from PIL import Image
from sqlmodel import Session, func, select

from coursemall.db import session_scope
from coursemall.domain.errors import DomainError
from coursemall.models import (
    AuditLog,
    Category,
    Chapter,
    Course,
    CourseTag,
    Entitlement,
    Instructor,
    Lesson,
    LessonComment,
    LessonProgress,
    MediaAsset,
    MediaJob,
    Tag,
    UploadSession,
)
from coursemall.services.catalog import authoring, storefront
from coursemall.services.catalog.authoring import CourseInput, LessonInput
from tests.payments.factories import make_user


# ---------------------------------------------------------------------------------- fixtures

class Shop:
    def __init__(self, engine):
        self.engine = engine
        self.ids: dict[str, int] = {}

    def run(self, fn, **kwargs):
        """One service call in its own transaction, like a state handler."""
        with session_scope(self.engine) as s:
            return fn(s, **kwargs)

    def read(self, fn):
        with Session(self.engine) as s:
            return fn(s)


def _instructor(s: Session, name: str) -> tuple[int, int]:
    user = make_user(s)
    profile = Instructor(user_id=user.id, name=name, status="approved")
    s.add(profile)
    s.commit()
    return user.id, profile.id


@pytest.fixture
def shop(db_engine) -> Shop:
    shop = Shop(db_engine)
    with Session(db_engine, expire_on_commit=False) as s:
        shop.ids["owner"] = make_user(s, role="owner").id
        shop.ids["staff"] = make_user(s, role="staff").id
        shop.ids["learner"] = make_user(s).id
        shop.ids["a_user"], shop.ids["a"] = _instructor(s, "讲师甲")
        shop.ids["b_user"], shop.ids["b"] = _instructor(s, "讲师乙")
        pending = make_user(s)
        s.add(Instructor(user_id=pending.id, name="待审核", status="pending"))
        cat = Category(slug="photo", name="摄影", name_en="Photography")
        s.add(cat)
        s.commit()
        shop.ids["pending_user"] = pending.id
        shop.ids["cat"] = cat.id
    return shop


def course_input(**over) -> CourseInput:
    base = dict(title="手机摄影 Mobile Photo", subtitle="从构图到后期", intro="第一段\n\n- 构图\n- 光线",
                audience="摄影爱好者\n新手", price="99.90", original_price="199", category_id="",
                tags="手机, 入门、Python", instructor_id="", member_only=False, no_seek_first_watch=True)
    base.update(over)
    return CourseInput(**base)


def png_bytes(size=(800, 600), color=(200, 80, 20)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def snapshot(shop: Shop) -> dict:
    """Everything a CMS call could change."""
    def grab(s: Session) -> dict:
        return {
            "courses": sorted((c.id, c.title, c.subtitle, c.status, c.price_fen, c.original_price_fen, c.cover_path,
                               c.instructor_id, c.category_id, c.lesson_count, c.total_duration_seconds,
                               c.search_text, c.member_only, c.no_seek_first_watch, c.intro_html, c.updated_at)
                              for c in s.exec(select(Course)).all()),
            "chapters": sorted((c.id, c.course_id, c.title, c.position) for c in s.exec(select(Chapter)).all()),
            "lessons": sorted((x.id, x.chapter_id, x.position, x.title, x.is_free_trial, x.free_seconds,
                               x.article_html, x.duration_seconds, x.release_at, x.release_after_days)
                              for x in s.exec(select(Lesson)).all()),
            "tags": sorted(t.name for t in s.exec(select(Tag)).all()),
            "course_tags": sorted((ct.course_id, ct.tag_id) for ct in s.exec(select(CourseTag)).all()),
            "audit": s.exec(select(func.count()).select_from(AuditLog)).one(),
            "grants": sorted((e.id, e.revoked_at) for e in s.exec(select(Entitlement)).all()),
        }
    return shop.read(grab)


def new_course(shop: Shop, who: str = "owner", **over) -> int:
    return shop.run(authoring.create_course, actor_id=shop.ids[who], data=course_input(**over))


def outline(shop: Shop, course_id: int) -> dict[int, list[int]]:
    """{chapter id: [lesson ids]} in position order; asserts positions are exactly 0..n-1."""
    def grab(s: Session):
        chapters = s.exec(select(Chapter).where(Chapter.course_id == course_id)
                          .order_by(Chapter.position, Chapter.id)).all()
        assert [c.position for c in chapters] == list(range(len(chapters)))
        result = {}
        for c in chapters:
            lessons = s.exec(select(Lesson).where(Lesson.chapter_id == c.id).order_by(Lesson.position)).all()
            assert [x.position for x in lessons] == list(range(len(lessons))), c.title
            assert all(x.course_id == course_id for x in lessons)
            result[c.id] = [x.id for x in lessons]
        return result
    return shop.read(grab)


def add_ready_video(shop: Shop, lesson_id: int, status: str = "ready", seconds: int = 125) -> None:
    with Session(shop.engine) as s:
        asset = MediaAsset(kind="video", storage_key=f"v/{lesson_id}-{status}.mp4", mime="video/mp4", status=status,
                           duration_seconds=seconds)
        s.add(asset)
        s.flush()
        lesson = s.get(Lesson, lesson_id)
        lesson.media_asset_id = asset.id
        s.add(lesson)
        s.commit()


def publishable(shop: Shop, who: str = "owner", **over) -> tuple[int, int, int]:
    """A course with a cover, a chapter and a ready video lesson: (course, chapter, lesson)."""
    cid = new_course(shop, who, **over)
    actor = shop.ids[who]
    shop.run(authoring.set_cover, actor_id=actor, course_id=cid, data=png_bytes())
    chid = shop.run(authoring.add_chapter, actor_id=actor, course_id=cid, title="第一章")
    lid = shop.run(authoring.add_lesson, actor_id=actor, chapter_id=chid, kind="video", title="开篇")
    add_ready_video(shop, lid)
    return cid, chid, lid


# ---------------------------------------------------------------------------------- prices

@pytest.mark.parametrize("text,fen", [
    ("99", 9900), ("99.9", 9990), ("99.90", 9990), ("0", 0), ("0.01", 1), ("100000", 10_000_000),
    ("¥12.5", 1250), (" 7 ", 700), ("９９.５", 9950), ("007", 700),
])
def test_price_parsing_accepts_yuan(text, fen):
    assert authoring.parse_yuan(text) == fen


@pytest.mark.parametrize("bad", [
    "-1", "-0.5", "100000.01", "100001", "1.999", "abc", "9a", "1e3", "", " ", "99.", ".5", "1,000", "NaN",
    "0x10", "１２３４５６７", "+5", "5 元", None, 99, 9.9, True, ["1"], {"a": 1}, "9" * 100_000,
])
def test_price_parsing_refuses_bad_input(bad):
    with pytest.raises(DomainError) as err:
        authoring.parse_yuan(bad)
    assert err.value.code == "cms.price_invalid"


def test_yuan_text_round_trip():
    for fen in (0, 1, 990, 9900, 9990, 10_000_000):
        assert authoring.parse_yuan(authoring.fen_to_yuan_text(fen)) == fen


# ---------------------------------------------------------------------------------- create / edit

def test_owner_creates_a_course_end_to_end(shop):
    cid = new_course(shop, category_id=str(shop.ids["cat"]), instructor_id=str(shop.ids["a"]))
    editor = shop.run(authoring.get_course_editor, actor_id=shop.ids["owner"], course_id=cid)
    assert (editor.title, editor.subtitle, editor.status) == ("手机摄影 Mobile Photo", "从构图到后期", "draft")
    assert (editor.price_yuan, editor.original_price_yuan) == ("99.90", "199")
    assert editor.category_id == shop.ids["cat"] and editor.instructor_name == "讲师甲"
    assert editor.intro_html == "<p>第一段</p><ul><li>构图</li><li>光线</li></ul>"
    assert editor.tags_text == "Python, 入门, 手机" and editor.no_seek_first_watch and not editor.member_only
    assert editor.slug.startswith("mobile-photo-")
    with Session(shop.engine) as s:
        course = s.get(Course, cid)
        assert (course.price_fen, course.original_price_fen) == (9990, 19900)
        assert course.search_text.splitlines() == ["手机摄影 mobile photo", "从构图到后期", "讲师甲", "python", "入门", "手机"]
        actions = s.exec(select(AuditLog.action, AuditLog.actor_id)).all()
        assert actions == [("course.create", shop.ids["owner"])]
    # a second course reuses the tags, gets its own slug
    cid2 = new_course(shop, tags="python ,新标签")
    assert snapshot(shop)["tags"] == sorted(["Python", "入门", "手机", "新标签"])
    assert shop.run(authoring.get_course_editor, actor_id=shop.ids["owner"], course_id=cid2).slug != editor.slug


def test_chinese_title_gets_a_generic_unique_slug(shop):
    slugs = {shop.run(authoring.get_course_editor, actor_id=shop.ids["owner"],
                      course_id=new_course(shop, title="纯中文标题")).slug for _ in range(3)}
    assert len(slugs) == 3 and all(s.startswith("course-") for s in slugs)


BAD_COURSE_FIELDS = [
    ({"title": ""}, "cms.title_invalid"),
    ({"title": "   "}, "cms.title_invalid"),
    ({"title": "长" * 81}, "cms.title_invalid"),
    ({"title": None}, "cms.title_invalid"),
    ({"title": {"x": 1}}, "cms.title_invalid"),
    ({"title": "x" * 100_000}, "cms.title_invalid"),
    ({"subtitle": "副" * 161}, "cms.subtitle_invalid"),
    ({"intro": "x" * 100_000}, "cms.intro_invalid"),
    ({"audience": ["a"]}, "cms.audience_invalid"),
    ({"price": "-1"}, "cms.price_invalid"),
    ({"price": "100000.01"}, "cms.price_invalid"),
    ({"price": "9.999"}, "cms.price_invalid"),
    ({"price": "abc"}, "cms.price_invalid"),
    ({"price": ""}, "cms.price_invalid"),
    ({"price": 99}, "cms.price_invalid"),
    ({"original_price": "-5"}, "cms.original_invalid"),
    ({"original_price": None}, "cms.original_invalid"),
    ({"price": "100", "original_price": "99.99"}, "cms.original_below_price"),
    ({"category_id": "999999"}, "cms.category_invalid"),
    ({"category_id": "abc"}, "error.bad_request"),
    ({"category_id": {"id": 1}}, "error.bad_request"),
    ({"tags": "x" * 21}, "cms.tags_invalid"),
    ({"tags": ",".join(f"t{i}" for i in range(11))}, "cms.too_many_tags"),
    ({"tags": None}, "cms.tags_invalid"),
    ({"member_only": "yes"}, "error.bad_request"),
    ({"no_seek_first_watch": None}, "error.bad_request"),
    ({"instructor_id": "999999"}, "cms.instructor_invalid"),
]


@pytest.mark.parametrize("over,code", BAD_COURSE_FIELDS)
def test_bad_course_fields_are_refused_and_save_nothing(shop, over, code):
    cid = new_course(shop)
    before = snapshot(shop)
    with pytest.raises(DomainError) as err:
        new_course(shop, **over)
    assert err.value.code == code
    with pytest.raises(DomainError) as err:
        shop.run(authoring.update_course, actor_id=shop.ids["owner"], course_id=cid, data=course_input(**over))
    assert err.value.code == code
    assert snapshot(shop) == before


def test_pending_instructor_cannot_be_picked_and_data_must_be_a_course_input(shop):
    with Session(shop.engine) as s:
        pending = s.exec(select(Instructor.id).where(Instructor.status == "pending")).one()
    before = snapshot(shop)
    with pytest.raises(DomainError, match="cms.instructor_invalid"):
        new_course(shop, instructor_id=pending)
    with pytest.raises(DomainError, match="error.bad_request"):
        shop.run(authoring.create_course, actor_id=shop.ids["owner"], data={"title": "x"})
    assert snapshot(shop) == before


def test_update_changes_fields_tags_and_search_text(shop):
    cid = new_course(shop, instructor_id=shop.ids["a"])
    shop.run(authoring.update_course, actor_id=shop.ids["staff"], course_id=cid,
             data=course_input(title="新标题", tags="后期", price="0", original_price="", instructor_id=shop.ids["b"],
                               intro="<p>好<script>alert(1)</script><img src=x onerror=alert(2)></p>"))
    with Session(shop.engine) as s:
        course = s.get(Course, cid)
        assert (course.title, course.price_fen, course.original_price_fen) == ("新标题", 0, 0)
        assert course.instructor_id == shop.ids["b"]
        assert course.search_text.splitlines() == ["新标题", "从构图到后期", "讲师乙", "后期"]
        assert "script" not in course.intro_html and "onerror" not in course.intro_html
        entry = s.exec(select(AuditLog).where(AuditLog.action == "course.update")).one()
        assert entry.actor_id == shop.ids["staff"] and entry.detail["price_fen"] == [9990, 0]
        assert s.exec(select(func.count()).select_from(CourseTag)).one() == 1


def test_an_instructor_always_teaches_their_own_course(shop):
    cid = new_course(shop, "a_user", instructor_id=str(shop.ids["b"]))  # tampered payload
    with Session(shop.engine) as s:
        assert s.get(Course, cid).instructor_id == shop.ids["a"]
    options = shop.run(authoring.form_options, actor_id=shop.ids["a_user"])
    assert options.instructors == () and [c.name for c in options.categories] == ["摄影"]
    staff_options = shop.run(authoring.form_options, actor_id=shop.ids["owner"])
    assert {o.name for o in staff_options.instructors} == {"讲师甲", "讲师乙"}  # approved only


def test_course_list_scope_filter_and_search(shop):
    a1 = new_course(shop, "a_user", title="摄影入门 100%_A")
    a2 = new_course(shop, "a_user", title="Python 进阶")
    b1 = new_course(shop, "b_user", title="摄影 B")
    shop.run(authoring.archive_course, actor_id=shop.ids["a_user"], course_id=a2)

    def ids(who, **kw):
        return [r.id for r in shop.run(authoring.list_courses, actor_id=shop.ids[who], **kw)]

    assert set(ids("owner")) == {a1, a2, b1} and set(ids("staff")) == {a1, a2, b1}
    assert set(ids("a_user")) == {a1, a2} and ids("b_user") == [b1]
    assert ids("a_user", status="archived") == [a2]
    assert ids("owner", query="摄影") == [b1, a1]  # newest edit first
    assert ids("owner", query="python") == [a2]  # case-insensitive
    assert ids("owner", query="100%_") == [a1] and ids("owner", query="摄%B") == []  # LIKE wildcards are literal
    row = shop.run(authoring.list_courses, actor_id=shop.ids["owner"], query="Python")[0]
    assert (row.status, row.price_text, row.lesson_count, row.learners_count) == ("archived", "¥99.90", 0, 0)
    for bad in (None, "gone", ["draft"], {"a": 1}):
        with pytest.raises(DomainError, match="error.bad_request"):
            shop.run(authoring.list_courses, actor_id=shop.ids["owner"], status=bad)
    with pytest.raises(DomainError, match="cms.query_too_long"):
        shop.run(authoring.list_courses, actor_id=shop.ids["owner"], query="x" * 100_000)


def test_learners_cannot_use_the_cms(shop):
    cid = new_course(shop)
    before = snapshot(shop)
    for actor in (shop.ids["learner"], shop.ids["pending_user"], None, 999_999, {"id": 1}):
        for fn, kw in ((authoring.list_courses, {}), (authoring.create_course, {"data": course_input()}),
                       (authoring.get_course_editor, {"course_id": cid}), (authoring.publish_course, {"course_id": cid}),
                       (authoring.add_chapter, {"course_id": cid, "title": "x"})):
            with pytest.raises(DomainError) as err:
                shop.run(fn, actor_id=actor, **kw)
            assert err.value.code in ("error.forbidden", "error.sign_in_required")
    assert snapshot(shop) == before


# ---------------------------------------------------------------------------------- cover

def test_cover_is_sniffed_cleaned_and_cropped(shop, tmp_path):
    cid = new_course(shop)
    url = shop.run(authoring.set_cover, actor_id=shop.ids["owner"], course_id=cid, data=png_bytes((900, 900)),
                   public_dir=tmp_path)
    with Session(shop.engine) as s:
        name = s.get(Course, cid).cover_path
    assert url == f"/api/public/{name}" and name.startswith("covers/cms-") and name.endswith(".jpg")
    with Image.open(tmp_path / name) as img:
        assert (img.format, img.size) == ("JPEG", (1280, 720)) and not img.info.get("exif")
    before = snapshot(shop)
    for bad, code in ((b"GIF89a not really", "avatar.not_image"), (b"<svg onload=alert(1)>", "avatar.not_image"),
                      (b"", "avatar.not_image"), ("text", "avatar.not_image"),
                      (b"\x89PNG" + b"0" * (authoring.COVER_MAX_BYTES + 1), "avatar.too_large")):
        with pytest.raises(DomainError) as err:
            shop.run(authoring.set_cover, actor_id=shop.ids["owner"], course_id=cid, data=bad, public_dir=tmp_path)
        assert err.value.code == code
    assert snapshot(shop) == before
    # a replacement removes the old file
    shop.run(authoring.set_cover, actor_id=shop.ids["owner"], course_id=cid, data=png_bytes(), public_dir=tmp_path)
    assert not (tmp_path / name).exists()


# ---------------------------------------------------------------------------------- publishing

def test_publish_rules_name_what_blocks(shop):
    cid = new_course(shop)
    actor = shop.ids["owner"]

    def publish_error() -> tuple[str, dict]:
        with pytest.raises(DomainError) as err:
            shop.run(authoring.publish_course, actor_id=actor, course_id=cid)
        return err.value.code, err.value.params

    assert publish_error()[0] == "cms.block.cover"
    shop.run(authoring.set_cover, actor_id=actor, course_id=cid, data=png_bytes())
    assert publish_error()[0] == "cms.block.no_lessons"
    chid = shop.run(authoring.add_chapter, actor_id=actor, course_id=cid, title="第一章")
    assert publish_error()[0] == "cms.block.no_lessons"  # an empty chapter is not a lesson
    video = shop.run(authoring.add_lesson, actor_id=actor, chapter_id=chid, kind="video", title="视频一")
    assert publish_error() == ("cms.block.media", {"lesson": "视频一"})
    add_ready_video(shop, video, status="processing")
    assert publish_error() == ("cms.block.media", {"lesson": "视频一"})
    editor = shop.run(authoring.get_course_editor, actor_id=actor, course_id=cid)
    assert [(b.code, b.lesson) for b in editor.blockers] == [("cms.block.media", "视频一")]
    assert editor.chapters[0].lessons[0].media_status == "processing"
    add_ready_video(shop, video, status="ready", seconds=125)
    article = shop.run(authoring.add_lesson, actor_id=actor, chapter_id=chid, kind="article", title="读一读")
    assert publish_error() == ("cms.block.article", {"lesson": "读一读"})
    shop.run(authoring.update_lesson, actor_id=actor, lesson_id=article,
             data=LessonInput(title="读一读", article="正文", reading_minutes="3"))
    before = snapshot(shop)
    assert before["audit"] > 0
    shop.run(authoring.publish_course, actor_id=actor, course_id=cid)
    with Session(shop.engine) as s:
        course = s.get(Course, cid)
        assert course.status == "published" and course.published_at is not None
        assert (course.lesson_count, course.total_duration_seconds) == (2, 125 + 180)
        assert s.get(Lesson, video).duration_seconds == 125  # follows the ready asset
    with pytest.raises(DomainError, match="cms.already_published"):
        shop.run(authoring.publish_course, actor_id=actor, course_id=cid)


def _storefront_ids(shop: Shop) -> dict[str, set[int]]:
    def grab(s: Session):
        home = storefront.get_home(s)
        return {"home": {c.id for c in home.newest}, "search": {c.id for c in storefront.search_courses(s, query="摄影").items},
                "category": {c.id for c in storefront.list_category(s, slug="photo").items}}
    return shop.read(grab)


def test_storefront_shows_published_and_hides_unpublished_and_archived(shop):
    cid, _, lid = publishable(shop, category_id=str(shop.ids["cat"]))
    assert _storefront_ids(shop) == {"home": set(), "search": set(), "category": set()}  # a draft
    shop.run(authoring.publish_course, actor_id=shop.ids["owner"], course_id=cid)
    assert _storefront_ids(shop) == {"home": {cid}, "search": {cid}, "category": {cid}}
    detail = shop.read(lambda s: storefront.get_course_detail(s, course_id=cid))
    assert detail.tags == ("Python", "入门", "手机") and detail.lesson_count == 1 and detail.price_text == "¥99.90"
    # a buyer
    with Session(shop.engine) as s:
        s.add(Entitlement(user_id=shop.ids["learner"], course_id=cid, source="manual", source_ref="t"))
        s.commit()
    grants = snapshot(shop)["grants"]
    first_published = shop.read(lambda s: s.get(Course, cid).published_at)
    shop.run(authoring.unpublish_course, actor_id=shop.ids["owner"], course_id=cid)
    assert _storefront_ids(shop) == {"home": set(), "search": set(), "category": set()}
    assert shop.read(lambda s: s.get(Course, cid).status) == "unpublished"
    with pytest.raises(DomainError, match="cms.status_unchanged"):
        shop.run(authoring.unpublish_course, actor_id=shop.ids["owner"], course_id=cid)
    shop.run(authoring.publish_course, actor_id=shop.ids["owner"], course_id=cid)
    assert shop.read(lambda s: s.get(Course, cid).published_at) == first_published
    shop.run(authoring.archive_course, actor_id=shop.ids["owner"], course_id=cid)
    assert _storefront_ids(shop) == {"home": set(), "search": set(), "category": set()}
    with pytest.raises(DomainError, match="error.not_found"):
        shop.read(lambda s: storefront.get_course_detail(s, course_id=cid))
    with pytest.raises(DomainError, match="cms.status_unchanged"):
        shop.run(authoring.archive_course, actor_id=shop.ids["owner"], course_id=cid)
    assert snapshot(shop)["grants"] == grants  # buyers keep their entitlement throughout
    with Session(shop.engine) as s:
        actions = [a for a in s.exec(select(AuditLog.action).order_by(AuditLog.id)).all() if a.startswith("course.")]
    assert actions[-4:] == ["course.publish", "course.unpublish", "course.publish", "course.archive"]


# ---------------------------------------------------------------------------------- chapters and lessons

def test_chapters_add_rename_move_delete(shop):
    cid = new_course(shop)
    actor = shop.ids["owner"]
    ch = [shop.run(authoring.add_chapter, actor_id=actor, course_id=cid, title=f"第{i}章") for i in range(3)]
    assert list(outline(shop, cid)) == ch
    assert shop.run(authoring.move_chapter, actor_id=actor, chapter_id=ch[2], direction="up") is True
    assert list(outline(shop, cid)) == [ch[0], ch[2], ch[1]]
    assert shop.run(authoring.move_chapter, actor_id=actor, chapter_id=ch[0], direction="up") is False
    assert shop.run(authoring.move_chapter, actor_id=actor, chapter_id=ch[1], direction="down") is False
    shop.run(authoring.rename_chapter, actor_id=actor, chapter_id=ch[1], title="  新  名字 ")
    assert shop.read(lambda s: s.get(Chapter, ch[1]).title) == "新 名字"
    lid = shop.run(authoring.add_lesson, actor_id=actor, chapter_id=ch[2], kind="audio", title="音频")
    before = snapshot(shop)
    with pytest.raises(DomainError, match="cms.chapter_not_empty"):
        shop.run(authoring.delete_chapter, actor_id=actor, chapter_id=ch[2])
    for bad in ("", " ", None, "章" * 81, ["x"]):
        with pytest.raises(DomainError, match="cms.chapter_title_invalid"):
            shop.run(authoring.rename_chapter, actor_id=actor, chapter_id=ch[1], title=bad)
        with pytest.raises(DomainError, match="cms.chapter_title_invalid"):
            shop.run(authoring.add_chapter, actor_id=actor, course_id=cid, title=bad)
    for bad in ("left", None, 1, ["up"], {"d": "up"}, "UP"):
        with pytest.raises(DomainError, match="error.bad_request"):
            shop.run(authoring.move_chapter, actor_id=actor, chapter_id=ch[1], direction=bad)
    assert snapshot(shop) == before
    shop.run(authoring.delete_chapter, actor_id=actor, chapter_id=ch[0])
    assert outline(shop, cid) == {ch[2]: [lid], ch[1]: []}


def test_lessons_reorder_and_move_between_chapters_keep_positions_dense(shop):
    cid = new_course(shop)
    actor = shop.ids["owner"]
    c1 = shop.run(authoring.add_chapter, actor_id=actor, course_id=cid, title="一")
    c2 = shop.run(authoring.add_chapter, actor_id=actor, course_id=cid, title="二")
    ls = [shop.run(authoring.add_lesson, actor_id=actor, chapter_id=c1, kind=k, title=f"课{i}")
          for i, k in enumerate(("video", "audio", "article", "video"))]
    assert outline(shop, cid) == {c1: ls, c2: []}
    shop.run(authoring.move_lesson, actor_id=actor, lesson_id=ls[0], direction="down")
    assert outline(shop, cid)[c1] == [ls[1], ls[0], ls[2], ls[3]]
    shop.run(authoring.move_lesson_to_chapter, actor_id=actor, lesson_id=ls[0], chapter_id=c2)
    shop.run(authoring.move_lesson_to_chapter, actor_id=actor, lesson_id=ls[3], chapter_id=str(c2))
    assert outline(shop, cid) == {c1: [ls[1], ls[2]], c2: [ls[0], ls[3]]}
    with pytest.raises(DomainError, match="cms.same_chapter"):
        shop.run(authoring.move_lesson_to_chapter, actor_id=actor, lesson_id=ls[3], chapter_id=c2)
    for bad in ("x", None, 0, -1, ["1"], 2**40):
        with pytest.raises(DomainError, match="error.not_found"):
            shop.run(authoring.move_lesson_to_chapter, actor_id=actor, lesson_id=ls[3], chapter_id=bad)
    # the catalog outline follows: chapter order then lesson order
    with Session(shop.engine) as s:
        assert s.get(Course, cid).lesson_count == 4
    # random sequences keep positions 0..n-1 with no duplicates
    rng = random.Random(5)
    for _ in range(40):
        lesson = rng.choice(ls)
        op = rng.choice(("up", "down", "move"))
        if op == "move":
            current = shop.read(lambda s: s.get(Lesson, lesson).chapter_id)
            shop.run(authoring.move_lesson_to_chapter, actor_id=actor, lesson_id=lesson,
                     chapter_id=c2 if current == c1 else c1)
        else:
            shop.run(authoring.move_lesson, actor_id=actor, lesson_id=lesson, direction=op)
        shape = outline(shop, cid)  # asserts density
        assert sorted(sum(shape.values(), [])) == sorted(ls)


def test_add_lesson_validates_kind_and_title(shop):
    cid = new_course(shop)
    chid = shop.run(authoring.add_chapter, actor_id=shop.ids["owner"], course_id=cid, title="一")
    before = snapshot(shop)
    for kind, title, code in (("live_replay", "x", "cms.kind_invalid"), ("VIDEO", "x", "cms.kind_invalid"),
                              (None, "x", "cms.kind_invalid"), (["video"], "x", "cms.kind_invalid"),
                              ("video", "", "cms.lesson_title_invalid"),
                              ("video", "x" * 100_000, "cms.lesson_title_invalid")):
        with pytest.raises(DomainError) as err:
            shop.run(authoring.add_lesson, actor_id=shop.ids["owner"], chapter_id=chid, kind=kind, title=title)
        assert err.value.code == code
    assert snapshot(shop) == before


def test_delete_lesson_refused_with_learner_progress(shop):
    cid, chid, lid = publishable(shop)
    spare = shop.run(authoring.add_lesson, actor_id=shop.ids["owner"], chapter_id=chid, kind="article", title="备用")
    with Session(shop.engine) as s:
        s.add(LessonProgress(user_id=shop.ids["learner"], lesson_id=lid, course_id=cid, percent=30))
        s.commit()
    before = snapshot(shop)
    with pytest.raises(DomainError) as err:
        shop.run(authoring.delete_lesson, actor_id=shop.ids["owner"], lesson_id=lid)
    assert (err.value.code, err.value.params) == ("cms.lesson_has_progress", {"count": 1})
    assert snapshot(shop) == before
    commented = shop.run(authoring.add_lesson, actor_id=shop.ids["owner"], chapter_id=chid, kind="audio", title="有评论")
    with Session(shop.engine) as s:
        s.add(LessonComment(user_id=shop.ids["learner"], lesson_id=commented, course_id=cid, body="好"))
        # optional links to the spare lesson: an upload and a media job are cut, not blocking
        asset = MediaAsset(kind="video", storage_key="v/spare.mp4", mime="video/mp4", status="processing")
        s.add(asset)
        s.flush()
        s.add(UploadSession(upload_key="k" * 32, user_id=shop.ids["owner"], lesson_id=spare))
        s.add(MediaJob(media_asset_id=asset.id, lesson_id=spare))
        s.commit()
    before = snapshot(shop)
    with pytest.raises(DomainError, match="cms.lesson_has_activity"):
        shop.run(authoring.delete_lesson, actor_id=shop.ids["owner"], lesson_id=commented)
    assert snapshot(shop) == before
    with Session(shop.engine) as s:
        s.delete(s.exec(select(LessonComment)).one())
        s.commit()
    shop.run(authoring.delete_lesson, actor_id=shop.ids["owner"], lesson_id=commented)
    shop.run(authoring.move_lesson, actor_id=shop.ids["owner"], lesson_id=spare, direction="up")
    shop.run(authoring.delete_lesson, actor_id=shop.ids["owner"], lesson_id=spare)
    with Session(shop.engine) as s:
        assert s.exec(select(UploadSession.lesson_id)).one() is None
        assert s.exec(select(MediaJob.lesson_id)).one() is None
    assert outline(shop, cid) == {chid: [lid]}
    with Session(shop.engine) as s:
        assert s.get(Course, cid).lesson_count == 1
        deleted = s.exec(select(AuditLog.target).where(AuditLog.action == "lesson.delete").order_by(AuditLog.id)).all()
        assert deleted == [f"lesson:{commented}", f"lesson:{spare}"]


def test_lesson_settings_free_trial_article_and_drip(shop):
    cid, chid, video = publishable(shop)
    actor = shop.ids["owner"]
    shop.run(authoring.update_lesson, actor_id=actor, lesson_id=video,
             data=LessonInput(title="试看课", free_seconds="90", drip="date", release_at="2026-12-01T20:00"))
    with Session(shop.engine) as s:
        lesson = s.get(Lesson, video)
        assert (lesson.title, lesson.free_seconds, lesson.is_free_trial) == ("试看课", 90, False)
        assert lesson.release_at == datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)  # 20:00 China = 12:00 UTC
    editor = shop.run(authoring.get_lesson_editor, actor_id=actor, lesson_id=video)
    assert (editor.drip, editor.release_at_input, editor.media_status) == ("date", "2026-12-01T20:00", "ready")
    shop.run(authoring.update_lesson, actor_id=actor, lesson_id=video,
             data=LessonInput(title="试看课", is_free_trial=True, free_seconds="90", drip="days", release_after_days="3"))
    with Session(shop.engine) as s:
        lesson = s.get(Lesson, video)
        assert (lesson.is_free_trial, lesson.free_seconds, lesson.release_at, lesson.release_after_days) == (True, 0, None, 3)
    article = shop.run(authoring.add_lesson, actor_id=actor, chapter_id=chid, kind="article", title="图文")
    shop.run(authoring.update_lesson, actor_id=actor, lesson_id=article,
             data=LessonInput(title="图文", article='<h2>标题</h2><p onclick="x()">正文<script>alert(1)</script></p>'
                                                   '<a href="javascript:alert(1)">链接</a>',
                              reading_minutes="12", free_seconds="30"))
    with Session(shop.engine) as s:
        lesson = s.get(Lesson, article)
        assert lesson.article_html.startswith("<h2>标题</h2><p>正文")
        assert "script" not in lesson.article_html and "onclick" not in lesson.article_html
        assert "javascript" not in lesson.article_html
        assert (lesson.duration_seconds, lesson.free_seconds) == (720, 0)  # articles have no "first N seconds"
        assert s.get(Course, cid).total_duration_seconds == 125 + 720
    before = snapshot(shop)
    bad_inputs = [
        (video, LessonInput(title=""), "cms.lesson_title_invalid"),
        (video, LessonInput(title="x", free_seconds="-1"), "cms.free_seconds_invalid"),
        (video, LessonInput(title="x", free_seconds="36001"), "cms.free_seconds_invalid"),
        (video, LessonInput(title="x", free_seconds={"a": 1}), "cms.free_seconds_invalid"),
        (video, LessonInput(title="x", is_free_trial="on"), "error.bad_request"),
        (video, LessonInput(title="x", drip="date", release_at="明天"), "cms.release_at_invalid"),
        (video, LessonInput(title="x", drip="date", release_at="1999-01-01"), "cms.release_at_invalid"),
        (video, LessonInput(title="x", drip="date", release_at=None), "cms.release_at_invalid"),
        (video, LessonInput(title="x", drip="days", release_after_days="0"), "cms.drip_days_invalid"),
        (video, LessonInput(title="x", drip="days", release_after_days="3651"), "cms.drip_days_invalid"),
        (video, LessonInput(title="x", drip="weekly"), "error.bad_request"),
        (video, LessonInput(title="x", drip=None), "error.bad_request"),
        (article, LessonInput(title="x", article="x" * 100_000, reading_minutes="3"), "cms.article_invalid"),
        (article, LessonInput(title="x", article="ok", reading_minutes="0"), "cms.reading_invalid"),
        (article, LessonInput(title="x", article="ok", reading_minutes="1.5"), "cms.reading_invalid"),
        (video, {"title": "x"}, "error.bad_request"),
    ]
    for lesson_id, data, code in bad_inputs:
        with pytest.raises(DomainError) as err:
            shop.run(authoring.update_lesson, actor_id=actor, lesson_id=lesson_id, data=data)
        assert err.value.code == code, (data, err.value.code)
    assert snapshot(shop) == before


def test_plain_text_becomes_safe_paragraphs():
    assert authoring.rich_text_to_html("第一行\n第二行\n\n## 小标题\n\n- a\n- 1 & 2") == (
        "<p>第一行<br>第二行</p><h3>小标题</h3><ul><li>a</li><li>1 &amp; 2</li></ul>")
    assert authoring.rich_text_to_html("1 < 2 <script>x</script>") == "1 &lt; 2 "  # any "<": sanitised as HTML
    assert authoring.rich_text_to_html("") == ""


# ---------------------------------------------------------------------------------- isolation

def test_instructor_b_cannot_touch_instructor_a_course(shop, tmp_path):
    cid, chid, lid = publishable(shop, "a_user")
    b = shop.ids["b_user"]
    b_course = new_course(shop, "b_user")
    b_chapter = shop.run(authoring.add_chapter, actor_id=b, course_id=b_course, title="B 章")
    before = snapshot(shop)
    attempts = [
        (authoring.get_course_editor, {"course_id": cid}),
        (authoring.update_course, {"course_id": cid, "data": course_input(title="被改")}),
        (authoring.set_cover, {"course_id": cid, "data": png_bytes(), "public_dir": tmp_path}),
        (authoring.publish_course, {"course_id": cid}),
        (authoring.unpublish_course, {"course_id": cid}),
        (authoring.archive_course, {"course_id": cid}),
        (authoring.add_chapter, {"course_id": cid, "title": "x"}),
        (authoring.rename_chapter, {"chapter_id": chid, "title": "x"}),
        (authoring.move_chapter, {"chapter_id": chid, "direction": "down"}),
        (authoring.delete_chapter, {"chapter_id": chid}),
        (authoring.add_lesson, {"chapter_id": chid, "kind": "video", "title": "x"}),
        (authoring.get_lesson_editor, {"lesson_id": lid}),
        (authoring.update_lesson, {"lesson_id": lid, "data": LessonInput(title="x")}),
        (authoring.move_lesson, {"lesson_id": lid, "direction": "up"}),
        (authoring.move_lesson_to_chapter, {"lesson_id": lid, "chapter_id": b_chapter}),
        (authoring.delete_lesson, {"lesson_id": lid}),
    ]
    for fn, kwargs in attempts:
        with pytest.raises(DomainError) as err:
            shop.run(fn, actor_id=b, **kwargs)
        assert err.value.code == "error.not_found", fn.__name__
    # A cannot pull B's chapter into their course either
    with pytest.raises(DomainError, match="error.not_found"):
        shop.run(authoring.move_lesson_to_chapter, actor_id=shop.ids["a_user"], lesson_id=lid, chapter_id=b_chapter)
    assert cid not in [r.id for r in shop.run(authoring.list_courses, actor_id=b)]
    assert snapshot(shop) == before
    # the same ids work for A and the owner
    shop.run(authoring.publish_course, actor_id=shop.ids["a_user"], course_id=cid)
    shop.run(authoring.rename_chapter, actor_id=shop.ids["owner"], chapter_id=chid, title="店主改名")


@pytest.mark.parametrize("bad", [None, 0, -1, True, 2**40, 1.5, ["1"], {"id": 1}, "x" * 100_000, "", "1; DROP"])
def test_bad_ids_are_not_found(shop, bad):
    new_course(shop)
    before = snapshot(shop)
    for fn, kwargs in ((authoring.get_course_editor, {"course_id": bad}), (authoring.publish_course, {"course_id": bad}),
                       (authoring.rename_chapter, {"chapter_id": bad, "title": "x"}),
                       (authoring.delete_lesson, {"lesson_id": bad}),
                       (authoring.update_course, {"course_id": bad, "data": course_input()})):
        with pytest.raises(DomainError, match="error.not_found"):
            shop.run(fn, actor_id=shop.ids["owner"], **kwargs)
    assert snapshot(shop) == before

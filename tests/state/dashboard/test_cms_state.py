"""Course CMS states called directly, as a hostile browser could (ARCHITECTURE.md rules 1, 2, 4).

- every CMS handler carries `@dashboard_required` below `@rx.event`;
- anonymous visitors and learners calling any handler see the permission message, receive no
  data and change nothing; another instructor gets "not found" for A's course, chapters, lessons;
- wrong types, 100 KB strings, dicts and None get a clear message and change nothing;
- an instructor builds and publishes a course end to end through the states. SQLite only.
"""

from __future__ import annotations

import inspect
import io

import pytest
import reflex as rx
from PIL import Image
from sqlmodel import Session, select

import coursemall.db
import coursemall.pages  # noqa: F401  (registers every state)
from coursemall.i18n import t
from coursemall.models import Chapter, Course, Instructor, Lesson, MediaAsset
from coursemall.services.catalog import authoring
from coursemall.services.accounts import sessions
from coursemall.state.dashboard.content import CmsCourseState, CmsCoursesState, CmsLessonState, CmsPageState
from coursemall.state.guards import guard_of
from tests.payments.factories import make_user
from tests.services.catalog.test_cms import course_input, snapshot
from tests.state.helpers import call, page_state

FORBIDDEN = t("admin.forbidden")
NOT_FOUND = t("error.not_found")
BAD_VALUES = [None, 0, -1, True, 2**40, 1.5, ["1"], {"id": 1}, "x" * 100_000, "", "1; DROP TABLE", "-3"]

EXPECTED = {
    CmsPageState: set(),
    CmsCoursesState: {"load_courses", "filter_courses", "search_courses", "create_course"},
    CmsCourseState: {"load_course", "save_course", "upload_cover", "publish_course", "unpublish_course",
                     "archive_course", "add_chapter", "rename_chapter", "delete_chapter", "move_chapter",
                     "add_lesson", "move_lesson", "delete_lesson"},
    CmsLessonState: {"load_lesson", "save_lesson", "move_to_chapter"},
}


def png_bytes(size=(640, 360)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (30, 90, 160)).save(buf, format="PNG")
    return buf.getvalue()


# ---------------------------------------------------------------------------------- fixtures

class Shop:
    """Stands in for tests.services.catalog.test_cms.Shop (snapshot() only needs .engine and .read)."""

    def __init__(self, engine):
        self.engine = engine
        self.ids: dict[str, int] = {}

    def read(self, fn):
        with Session(self.engine) as s:
            return fn(s)

    def run(self, fn, **kwargs):
        with coursemall.db.session_scope(self.engine) as s:
            return fn(s, **kwargs)


@pytest.fixture
def shop(sqlite_engine, monkeypatch, tmp_path):
    monkeypatch.setattr(coursemall.db, "get_engine", lambda: sqlite_engine)
    shop = Shop(sqlite_engine)
    with Session(sqlite_engine, expire_on_commit=False) as s:
        shop.ids["owner"] = make_user(s, role="owner").id
        shop.ids["learner"] = make_user(s).id
        for key, name in (("a", "讲师甲"), ("b", "讲师乙")):
            user = make_user(s)
            profile = Instructor(user_id=user.id, name=name, status="approved")
            s.add(profile)
            s.commit()
            shop.ids[f"{key}_user"], shop.ids[key] = user.id, profile.id
    # instructor A's course with a chapter and a video lesson; B's own course
    a = shop.ids["a_user"]
    shop.ids["course"] = shop.run(authoring.create_course, actor_id=a, data=course_input(title="甲的课"))
    shop.ids["chapter"] = shop.run(authoring.add_chapter, actor_id=a, course_id=shop.ids["course"], title="第一章")
    shop.ids["chapter2"] = shop.run(authoring.add_chapter, actor_id=a, course_id=shop.ids["course"], title="第二章")
    shop.ids["lesson"] = shop.run(authoring.add_lesson, actor_id=a, chapter_id=shop.ids["chapter"], kind="video",
                                  title="开篇")
    shop.ids["b_course"] = shop.run(authoring.create_course, actor_id=shop.ids["b_user"], data=course_input(title="乙的课"))
    return shop


def cookie_for(shop: Shop, who: str, mfa: bool = True) -> str:
    if who == "anonymous":
        return "cm_lang=zh_CN"
    with Session(shop.engine) as s:
        token = sessions.create_session(s, user_id=shop.ids[who], mfa_verified=mfa)
        s.commit()
    return f"cm_lang=zh_CN; cm_session={token}"


def make_state(cls, cookie: str, route: str = "/admin/courses", params: dict | None = None):
    return page_state(cls, cookie, route, params)


def course_state(shop: Shop, cookie: str, course_id: object = None):
    return make_state(CmsCourseState, cookie, "/admin/courses/[course_id]",
                      {"course_id": str(shop.ids["course"]) if course_id is None else course_id})


def lesson_state(shop: Shop, cookie: str, lesson_id: object = None):
    return make_state(CmsLessonState, cookie, "/admin/lessons/[lesson_id]",
                      {"lesson_id": str(shop.ids["lesson"]) if lesson_id is None else lesson_id})


def upload(data: bytes):
    return [rx.UploadFile(file=io.BytesIO(data))]


def valid_calls(ids: dict) -> list[tuple[type, str, tuple]]:
    """Every handler with arguments that would succeed for instructor A (after the page load)."""
    return [
        (CmsCoursesState, "load_courses", ()),
        (CmsCoursesState, "filter_courses", ("draft",)),
        (CmsCoursesState, "search_courses", ({"q": "课"},)),
        (CmsCoursesState, "create_course", ({"title": "新课"},)),
        (CmsCourseState, "load_course", ()),
        (CmsCourseState, "save_course", ({"title": "改名", "price": "1", "original_price": "", "tags": "",
                                          "subtitle": "", "intro": "", "audience": "", "category_id": ""},)),
        (CmsCourseState, "upload_cover", (upload(png_bytes()),)),
        (CmsCourseState, "publish_course", ()),
        (CmsCourseState, "unpublish_course", ()),
        (CmsCourseState, "archive_course", ()),
        (CmsCourseState, "add_chapter", ({"title": "新章"},)),
        (CmsCourseState, "rename_chapter", ({"chapter_id": str(ids["chapter"]), "title": "改"},)),
        (CmsCourseState, "delete_chapter", (str(ids["chapter2"]),)),
        (CmsCourseState, "move_chapter", (str(ids["chapter2"]), "up")),
        (CmsCourseState, "add_lesson", ({"chapter_id": str(ids["chapter"]), "kind": "audio", "title": "新课时"},)),
        (CmsCourseState, "move_lesson", (str(ids["lesson"]), "down")),
        (CmsCourseState, "delete_lesson", (str(ids["lesson"]),)),
        (CmsLessonState, "load_lesson", ()),
        (CmsLessonState, "save_lesson", ({"title": "改", "free_seconds": "30", "drip": "none"},)),
        (CmsLessonState, "move_to_chapter", ({"chapter_id": str(ids["chapter2"])},)),
    ]


def fresh(cls, shop: Shop, cookie: str):
    if cls is CmsCourseState:
        return course_state(shop, cookie)
    if cls is CmsLessonState:
        return lesson_state(shop, cookie)
    return make_state(cls, cookie)


DATA_VARS = {
    CmsCoursesState: ("rows",),
    CmsCourseState: ("title", "chapters", "chapter_lessons", "intro", "price", "editing_id", "blockers"),
    CmsLessonState: ("title", "article", "editing_id", "chapters"),
}


# ---------------------------------------------------------------------------------- the guard

def test_every_cms_handler_is_guarded_and_pinned():
    checked = 0
    for cls, names in EXPECTED.items():
        own = {n for n in cls.event_handlers if n != "setvar"}
        # event_handlers includes inherited ones; keep only what this class defines
        own = {n for n in own if n in vars(cls)}
        assert own == names, cls.__name__
        for name in names:
            fn = cls.event_handlers[name].fn
            assert guard_of(fn) == "dashboard_required", f"{cls.__name__}.{name}"
            assert hasattr(fn, "__wrapped__")
            assert inspect.iscoroutinefunction(fn) == inspect.iscoroutinefunction(fn.__wrapped__)
            checked += 1
    assert checked == len(valid_calls({"chapter": 1, "chapter2": 2, "lesson": 1}))


@pytest.mark.parametrize("who", ["anonymous", "learner"])
async def test_non_dashboard_users_change_nothing_and_see_no_data(shop, who):
    cookie = cookie_for(shop, who)
    before = snapshot(shop)
    for cls, handler, args in valid_calls(shop.ids):
        state = fresh(cls, shop, cookie)
        result = await call(state, handler, *args)
        assert result is None, f"{cls.__name__}.{handler}"
        assert state.error == FORBIDDEN, f"{cls.__name__}.{handler}: {state.error!r}"
        assert not state.allowed and not state.success
        for var in DATA_VARS[cls]:
            assert not getattr(state, var), f"{cls.__name__}.{var} leaked"
    assert snapshot(shop) == before


async def test_owner_without_totp_gets_the_totp_step(shop):
    state = course_state(shop, cookie_for(shop, "owner", mfa=False))
    await call(state, "load_course")
    assert state.mfa_needed and state.error == t("admin.mfa_required") and state.title == ""


async def test_another_instructor_gets_not_found_and_changes_nothing(shop):
    cookie = cookie_for(shop, "b_user")
    before = snapshot(shop)
    state = course_state(shop, cookie)
    await call(state, "load_course")
    assert state.allowed and state.error == NOT_FOUND and state.editing_id == "" and state.chapters == []
    # B's own course is loaded, then B sends A's chapter and lesson ids
    state = course_state(shop, cookie, str(shop.ids["b_course"]))
    await call(state, "load_course")
    assert state.editing_id == str(shop.ids["b_course"]) and not state.error
    b_before = snapshot(shop)
    for handler, args in (("rename_chapter", ({"chapter_id": str(shop.ids["chapter"]), "title": "x"},)),
                          ("delete_chapter", (str(shop.ids["chapter2"]),)),
                          ("move_chapter", (str(shop.ids["chapter2"]), "up")),
                          ("add_lesson", ({"chapter_id": str(shop.ids["chapter"]), "kind": "video", "title": "x"},)),
                          ("move_lesson", (str(shop.ids["lesson"]), "down")),
                          ("delete_lesson", (str(shop.ids["lesson"]),))):
        await call(state, handler, *args)
        assert state.error == NOT_FOUND, handler
    assert snapshot(shop) == b_before
    lesson = lesson_state(shop, cookie)
    await call(lesson, "load_lesson")
    assert lesson.error == NOT_FOUND and lesson.title == "" and lesson.article == ""
    await call(lesson, "save_lesson", {"title": "x", "drip": "none"})
    await call(lesson, "move_to_chapter", {"chapter_id": str(shop.ids["chapter2"])})
    assert lesson.error == NOT_FOUND
    listing = make_state(CmsCoursesState, cookie)
    await call(listing, "load_courses")
    assert [r["id"] for r in listing.rows] == [str(shop.ids["b_course"])]
    assert snapshot(shop) == before


async def test_a_handler_before_any_page_load_touches_nothing(shop):
    """The course comes from the admitted page load, never from the payload."""
    state = course_state(shop, cookie_for(shop, "a_user"))
    before = snapshot(shop)
    for handler in ("publish_course", "archive_course"):
        await call(state, handler)
        assert state.error == NOT_FOUND
    await call(state, "add_chapter", {"title": "x", "course_id": str(shop.ids["course"])})
    assert state.error == NOT_FOUND
    assert snapshot(shop) == before


# ---------------------------------------------------------------------------------- bad input

BAD_ARG_CALLS = [
    (CmsCoursesState, "filter_courses", lambda bad: (bad,)),
    (CmsCoursesState, "search_courses", lambda bad: (bad,)),
    (CmsCoursesState, "search_courses", lambda bad: ({"q": bad},)),
    (CmsCoursesState, "create_course", lambda bad: (bad,)),
    (CmsCoursesState, "create_course", lambda bad: ({"title": bad},)),
    (CmsCourseState, "save_course", lambda bad: (bad,)),
    (CmsCourseState, "save_course", lambda bad: ({"title": "ok", "price": bad},)),
    (CmsCourseState, "save_course", lambda bad: ({"title": bad, "price": "1"},)),
    (CmsCourseState, "save_course", lambda bad: ({"title": "ok", "price": "1", "member_only": bad},)),
    (CmsCourseState, "upload_cover", lambda bad: (bad,)),
    (CmsCourseState, "add_chapter", lambda bad: (bad,)),
    (CmsCourseState, "add_chapter", lambda bad: ({"title": bad},)),
    (CmsCourseState, "rename_chapter", lambda bad: ({"chapter_id": bad, "title": "x"},)),
    (CmsCourseState, "delete_chapter", lambda bad: (bad,)),
    (CmsCourseState, "move_chapter", lambda bad: (bad, "up")),
    (CmsCourseState, "move_chapter", lambda bad: ("CHAPTER", bad)),
    (CmsCourseState, "add_lesson", lambda bad: (bad,)),
    (CmsCourseState, "add_lesson", lambda bad: ({"chapter_id": "CHAPTER", "kind": bad, "title": "x"},)),
    (CmsCourseState, "add_lesson", lambda bad: ({"chapter_id": "CHAPTER", "kind": "video", "title": bad},)),
    (CmsCourseState, "move_lesson", lambda bad: (bad, "up")),
    (CmsCourseState, "move_lesson", lambda bad: ("LESSON", bad)),
    (CmsCourseState, "delete_lesson", lambda bad: (bad,)),
    (CmsLessonState, "save_lesson", lambda bad: (bad,)),
    (CmsLessonState, "save_lesson", lambda bad: ({"title": bad, "drip": "none"},)),
    (CmsLessonState, "save_lesson", lambda bad: ({"title": "x", "free_seconds": bad, "drip": "none"},)),
    (CmsLessonState, "save_lesson", lambda bad: ({"title": "x", "drip": bad},)),
    (CmsLessonState, "save_lesson", lambda bad: ({"title": "x", "drip": "date", "release_at": bad},)),
    (CmsLessonState, "save_lesson", lambda bad: ({"title": "x", "is_free_trial": bad, "drip": "none"},)),
    (CmsLessonState, "move_to_chapter", lambda bad: (bad,)),
    (CmsLessonState, "move_to_chapter", lambda bad: ({"chapter_id": bad},)),
]


def _actually_valid(handler: str, args: tuple, bad: object) -> bool:
    """Entries of BAD_VALUES that are fine for some fields ('' = all statuses / no search, 0 free
    seconds, a bool switch, a short title)."""
    if handler == "filter_courses":
        return bad == ""
    if handler == "search_courses":  # a form without "q" is an empty search
        return isinstance(bad, dict) or (isinstance(args[0], dict) and isinstance(bad, str) and len(bad) <= 200)
    if isinstance(args[0], dict) and "title" in args[0] and args[0]["title"] is bad:
        return isinstance(bad, str) and 0 < len(bad.strip()) <= 80
    if handler == "save_lesson" and isinstance(args[0], dict):
        form = args[0]
        if form.get("free_seconds") is bad:
            return bad in ("", 0, None) or (isinstance(bad, int) and not isinstance(bad, bool) and 0 <= bad <= 36000)
        if form.get("is_free_trial") is bad:
            return isinstance(bad, bool) or bad == ""
    if handler == "save_course" and isinstance(args[0], dict) and args[0].get("member_only") is bad:
        return isinstance(bad, bool) or bad == ""
    return False


def _fill(args: tuple, shop: Shop) -> tuple:
    """Put the real ids in place of the CHAPTER / LESSON markers."""
    marks = {"CHAPTER": str(shop.ids["chapter"]), "LESSON": str(shop.ids["lesson"])}
    out = []
    for arg in args:
        if isinstance(arg, dict):
            arg = {k: marks.get(v, v) if isinstance(v, str) else v for k, v in arg.items()}
        elif isinstance(arg, str):
            arg = marks.get(arg, arg)
        out.append(arg)
    return tuple(out)


async def test_wrong_types_get_a_clear_message_and_change_nothing(shop):
    cookie = cookie_for(shop, "a_user")
    before = snapshot(shop)
    generic = t("error.generic")
    for cls, handler, make_args in BAD_ARG_CALLS:
        for bad in BAD_VALUES:
            args = _fill(make_args(bad), shop)
            if _actually_valid(handler, args, bad):
                continue
            state = fresh(cls, shop, cookie)
            if cls is not CmsCoursesState:
                await call(state, "load_course" if cls is CmsCourseState else "load_lesson")
                assert state.allowed and not state.error
            result = await call(state, handler, *args)
            assert result is None, (handler, repr(bad)[:40])
            assert state.error and state.error not in (FORBIDDEN, generic), (handler, repr(bad)[:40], state.error)
            assert not state.success, (handler, repr(bad)[:40])
    assert snapshot(shop) == before


@pytest.mark.parametrize("price,original,key", [
    ("-1", "", "cms.price_invalid"), ("100000.01", "", "cms.price_invalid"), ("9.999", "", "cms.price_invalid"),
    ("九十九", "", "cms.price_invalid"), ("99", "98", "cms.original_below_price"), ("99", "-1", "cms.original_invalid"),
])
async def test_bad_prices_say_what_is_wrong(shop, price, original, key):
    state = course_state(shop, cookie_for(shop, "a_user"))
    await call(state, "load_course")
    before = snapshot(shop)
    await call(state, "save_course", {"title": "甲的课", "price": price, "original_price": original})
    assert state.error == t(key) and state.section == "basics"
    assert snapshot(shop) == before


async def test_bad_route_segments_say_not_found(shop):
    cookie = cookie_for(shop, "owner")
    for bad in ("", "abc", "-1", "0", "99999999999", "1; DROP"):
        state = course_state(shop, cookie, bad)
        await call(state, "load_course")
        assert state.error == NOT_FOUND and state.editing_id == ""
        state = lesson_state(shop, cookie, bad)
        await call(state, "load_lesson")
        assert state.error == NOT_FOUND and state.editing_id == ""


# ---------------------------------------------------------------------------------- the work

async def test_instructor_builds_and_publishes_a_course(shop):
    cookie = cookie_for(shop, "a_user")
    listing = make_state(CmsCoursesState, cookie)
    result = await call(listing, "create_course", {"title": "  新的 课程 "})
    with Session(shop.engine) as s:
        course = s.exec(select(Course).where(Course.title == "新的 课程")).one()
        assert course.instructor_id == shop.ids["a"] and course.status == "draft" and course.price_fen == 0
    assert result is not None and listing.success == t("cms.created")

    state = course_state(shop, cookie, str(course.id))
    await call(state, "load_course")
    assert state.allowed and not state.is_staff and state.title == "新的 课程" and state.instructor_name == "讲师甲"
    assert state.blockers == [t("cms.block.cover"), t("cms.block.no_lessons")]
    await call(state, "save_course", {"title": "新的课程", "subtitle": "副标题", "price": "99.9", "original_price": "199",
                                      "tags": "入门，手机", "intro": "介绍", "audience": "新手", "category_id": "",
                                      "instructor_id": str(shop.ids["b"]), "member_only": "on"})
    assert state.success == t("cms.saved") and state.price == "99.90" and state.tags == "入门, 手机"
    assert state.member_only and not state.no_seek and state.intro == "<p>介绍</p>"
    await call(state, "upload_cover", upload(b"not an image at all"))
    assert state.error == t("avatar.not_image") and state.cover_url == ""
    await call(state, "upload_cover", upload(png_bytes()))
    assert state.success == t("cms.cover_saved") and state.cover_url.startswith("/api/public/covers/cms-")

    await call(state, "add_chapter", {"title": "第一章"})
    chapter_id = state.chapters[0]["id"]
    for title, kind in (("视频课", "video"), ("读物", "article")):
        await call(state, "add_lesson", {"chapter_id": chapter_id, "kind": kind, "title": title})
    assert [x["title"] for x in state.chapter_lessons[0]] == ["视频课", "读物"]
    assert state.chapter_lessons[0][0]["media"] == "none" and state.chapter_lessons[0][1]["media"] == ""
    await call(state, "move_lesson", state.chapter_lessons[0][1]["id"], "up")
    assert [x["title"] for x in state.chapter_lessons[0]] == ["读物", "视频课"]
    await call(state, "move_lesson", state.chapter_lessons[0][0]["id"], "up")
    assert state.success == t("cms.not_moved")
    video_id = int(state.chapter_lessons[0][1]["id"])
    article_id = int(state.chapter_lessons[0][0]["id"])

    await call(state, "publish_course")  # the first blocker in outline order is named
    assert state.error == t("cms.block.article", lesson="读物") and state.status == "draft"
    assert state.blockers == [t("cms.block.article", lesson="读物"), t("cms.block.media", lesson="视频课")]

    with Session(shop.engine) as s:
        asset = MediaAsset(kind="video", storage_key="v/state.mp4", mime="video/mp4", status="ready", duration_seconds=61)
        s.add(asset)
        s.flush()
        s.get(Lesson, video_id).media_asset_id = asset.id
        s.commit()
    lesson = lesson_state(shop, cookie, str(article_id))
    await call(lesson, "load_lesson")
    assert lesson.kind == "article" and lesson.media_status == "" and lesson.course_href.endswith(str(course.id))
    await call(lesson, "save_lesson", {"title": "读物", "article": "正文<script>x</script>", "reading_minutes": "5",
                                       "drip": "days", "release_days": "2", "is_free_trial": "on"})
    assert lesson.success == t("cms.lesson.saved") and lesson.article == "正文" and lesson.release_days == "2"
    assert lesson.is_free_trial and lesson.drip == "days"

    await call(state, "publish_course")
    assert state.success == t("cms.published") and state.status == "published" and state.blockers == []
    assert state.lesson_count == "2"
    assert state.chapter_lessons[0][0]["drip"] == t("cms.lesson.drip_days", n=2)
    await call(state, "archive_course")
    assert state.status == "archived" and state.success == t("cms.archived_ok")

    # move the video into a new chapter from the lesson page; a chapter with lessons cannot go
    await call(state, "add_chapter", {"title": "第二章"})
    second = state.chapters[1]["id"]
    video = lesson_state(shop, cookie, str(video_id))
    await call(video, "load_lesson")
    assert video.media_status == "ready" and video.media_href == f"/admin/lessons/{video_id}/media"
    await call(video, "move_to_chapter", {"chapter_id": second})
    assert video.success == t("cms.lesson.moved") and video.chapter_id == second
    await call(video, "move_to_chapter", {"chapter_id": second})
    assert video.error == t("cms.same_chapter")
    await call(state, "load_course")
    assert [len(x) for x in state.chapter_lessons] == [1, 1]
    await call(state, "move_chapter", second, "up")
    assert [c["id"] for c in state.chapters][0] == second
    await call(state, "delete_chapter", second)
    assert state.error == t("cms.chapter_not_empty")
    await call(state, "delete_lesson", str(video_id))
    assert state.success == t("cms.lesson.deleted")
    await call(state, "delete_chapter", second)
    assert state.success == t("cms.chapter.deleted") and len(state.chapters) == 1
    with Session(shop.engine) as s:
        assert [c.position for c in s.exec(select(Chapter).where(Chapter.course_id == course.id)).all()] == [0]

    await call(listing, "load_courses")
    assert {r["title"] for r in listing.rows} == {"甲的课", "新的课程"}
    await call(listing, "filter_courses", "archived")
    assert [r["title"] for r in listing.rows] == ["新的课程"] and listing.rows[0]["price"] == "¥99.90"
    await call(listing, "search_courses", {"q": "甲"})
    assert listing.rows == []  # the archived filter still applies
    await call(listing, "filter_courses", "")
    assert [r["title"] for r in listing.rows] == ["甲的课"]


async def test_owner_picks_the_instructor(shop):
    state = course_state(shop, cookie_for(shop, "owner"))
    await call(state, "load_course")
    assert state.is_staff and {i["name"] for i in state.instructors} == {"讲师甲", "讲师乙"}
    await call(state, "save_course", {"title": "甲的课", "price": "10", "instructor_id": str(shop.ids["b"])})
    assert state.success == t("cms.saved") and state.instructor_name == "讲师乙"
    # now B manages it and A no longer finds it
    a_state = course_state(shop, cookie_for(shop, "a_user"))
    await call(a_state, "load_course")
    assert a_state.error == NOT_FOUND

"""Community states called directly, as a hostile browser could: wrong types, 100 KB strings,
bad ids and route segments, other users' comments, a learner calling the grading handler.
Each gets a clear (translated) message and the database does not change. SQLite only.
"""

from __future__ import annotations

import io

import pytest
from sqlmodel import Session, func, select
from starlette.datastructures import UploadFile

import coursemall.pages  # noqa: F401  (registers every state)
from coursemall.models import CheckIn, CommentLike, Course, HomeworkSubmission, LessonComment, Message, Review
from coursemall.services.community import comments as community
from coursemall.services.learning import homework
from coursemall.services.accounts import sessions
from coursemall.state.community.community import (
    CheckinState,
    HomeworkReviewState,
    HomeworkState,
    LessonCommentsState,
    ReviewState,
)
from coursemall.state.guards import guard_of
from tests.services.learning_fixture import make_world, png_bytes
from tests.state.helpers import call, cookie_for, page_state

EXPECTED = {
    LessonCommentsState: {"load_comments", "load_more_comments", "load_replies", "post_comment", "open_reply",
                          "post_reply", "toggle_like", "delete_comment", "hide_comment"},
    ReviewState: {"load_reviews", "pick_review_star", "submit_review", "open_review_reply", "reply_review",
                  "hide_review"},
    CheckinState: {"load_checkin", "edit_checkin_text", "submit_checkin"},
    HomeworkState: {"load_homework", "edit_homework_text", "submit_homework"},
    HomeworkReviewState: {"load_homework_queue", "grade_homework"},
}
BAD_IDS = [None, 0, -1, 2**31, 2**63, True, 1.5, "1e3", "-3", "x" * 100_000, ["1"], {"id": 1}]
BAD_FORMS = [None, 42, True, "text", ["a"], {"text": None}, {"text": 42}, {"text": ["x"]},
             {"text": {"nested": 1}}]
HUGE = "长" * 100_000
XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'


@pytest.mark.parametrize("cls", list(EXPECTED), ids=lambda c: c.__name__)
def test_exact_event_handlers(cls):
    assert set(cls.event_handlers) - {"setvar"} == EXPECTED[cls]


def test_review_queue_handlers_carry_the_guard():
    for name, handler in HomeworkReviewState.event_handlers.items():
        if name == "setvar":
            continue
        assert guard_of(handler.fn) == "dashboard_required", name
        assert hasattr(handler.fn, "__wrapped__")


def test_storefront_moderation_handlers_carry_the_dashboard_guard():
    for cls, name in ((LessonCommentsState, "hide_comment"), (ReviewState, "reply_review"),
                      (ReviewState, "hide_review")):
        assert guard_of(cls.event_handlers[name].fn) == "dashboard_required", name


@pytest.fixture
def w(engine):
    with Session(engine, expire_on_commit=False) as s:
        world = make_world(s)
        cookies = {}
        for uid in (world.buyer, world.buyer2, world.stranger, world.owner, world.teacher, world.other_teacher):
            cookies[uid] = f"cm_lang=zh_CN; cm_session={sessions.create_session(s, user_id=uid)}"
        s.commit()
    world.cookies = cookies
    return world


def lesson_state(w, who: int, lesson_id: object = None):
    return page_state(LessonCommentsState, w.cookies.get(who, ""), "/lesson/[lesson_id]",
                      {"lesson_id": str(w.paid) if lesson_id is None else lesson_id})


def course_state(cls, w, who: int, course_id: object = None, route: str = "/course/[course_id]"):
    return page_state(cls, w.cookies.get(who, ""), route,
                      {"course_id": str(w.course) if course_id is None else course_id})


def counts(engine) -> dict[str, int]:
    with Session(engine) as s:
        return {m.__name__: s.exec(select(func.count()).select_from(m)).one()
                for m in (LessonComment, CommentLike, Review, CheckIn, HomeworkSubmission, Message)}


def upload(data: bytes, name: str = "photo.png") -> UploadFile:
    return UploadFile(file=io.BytesIO(data), filename=name)


# ---------------------------------------------------------------------------------- comments

@pytest.mark.parametrize("bad", BAD_FORMS)
async def test_post_comment_wrong_types_change_nothing(engine, w, bad):
    before = counts(engine)
    st = lesson_state(w, w.buyer)
    await call(st, "post_comment", bad)
    assert st.error == "请求参数无效" and not st.success
    assert counts(engine) == before


@pytest.mark.parametrize("text,message", [
    ("", "请输入内容"), ("   \n\t ", "请输入内容"), (HUGE, "内容太长，最多 1000 字"),
    ("x" * 1001, "内容太长，最多 1000 字"), ("加微信领资料", "内容包含不允许的词语，请修改后再发"),
])
async def test_post_comment_bad_text_is_a_clear_message(engine, w, text, message):
    before = counts(engine)
    st = lesson_state(w, w.buyer)
    await call(st, "post_comment", {"text": text})
    assert st.error == message
    assert counts(engine) == before


@pytest.mark.parametrize("bad", BAD_IDS[1:] + ["abc", ""])
async def test_bad_route_lesson_id(engine, w, bad):
    before = counts(engine)
    st = lesson_state(w, w.buyer, bad)
    await call(st, "load_comments")
    assert st.error == "课时不存在或已下架" and st.items == []
    await call(st, "post_comment", {"text": "hello"})
    assert counts(engine) == before


async def test_not_entitled_and_anonymous_cannot_post(engine, w):
    before = counts(engine)
    st = lesson_state(w, w.stranger)
    await call(st, "post_comment", {"text": "我没买"})
    assert st.error == "本节为付费内容，购买课程后即可学习"
    anon = lesson_state(w, 0)
    await call(anon, "post_comment", {"text": "匿名"})
    assert anon.error == "请先登录"
    await call(anon, "load_comments")
    assert anon.needs_sign_in and anon.items == []
    assert counts(engine) == before


async def test_html_is_kept_as_text_and_listed(engine, w):
    st = lesson_state(w, w.buyer)
    await call(st, "load_comments")
    assert st.can_post and st.items == []
    await call(st, "post_comment", {"text": XSS})
    assert st.success == "评论已发表" and st.items[0]["text"] == XSS and st.form_key == 1
    other = lesson_state(w, w.buyer2)
    await call(other, "load_comments")
    assert [i["text"] for i in other.items] == [XSS]
    assert other.items[0]["mine"] == "" and other.items[0]["can_delete"] == ""
    cid = int(other.items[0]["id"])
    await call(other, "toggle_like", cid)
    assert other.items[0]["likes"] == "1" and other.items[0]["liked"] == "1"
    await call(other, "toggle_like", str(cid))
    assert other.items[0]["likes"] == "0" and other.items[0]["liked"] == ""
    # a reply goes under its comment, and a reply to the reply attaches to the same top comment
    await call(other, "open_reply", cid)
    assert other.reply_to == str(cid)
    await call(other, "post_reply", {"text": "回复一下", "parent_id": str(cid)})
    assert other.reply_to == "" and [i["reply"] for i in other.items] == ["", "1"]
    await call(other, "post_reply", {"text": "再回复", "parent_id": other.items[1]["id"]})
    assert [i["parent"] for i in other.items] == ["", str(cid), str(cid)]


@pytest.mark.parametrize("bad", BAD_IDS)
async def test_comment_handlers_bad_ids(engine, w, bad):
    st = lesson_state(w, w.buyer)
    await call(st, "post_comment", {"text": "有内容"})
    before = counts(engine)
    for handler in ("toggle_like", "delete_comment", "open_reply", "load_replies"):
        st.error = ""
        await call(st, handler, bad)
        assert st.error == "请求参数无效", handler
    await call(st, "post_reply", {"text": "回复", "parent_id": bad})
    assert st.error == "请求参数无效"
    teacher = lesson_state(w, w.teacher)  # moderation checks the caller first, then the id
    await call(teacher, "hide_comment", bad)
    assert teacher.error == "请求参数无效"
    assert counts(engine) == before


async def test_other_users_comment_cannot_be_deleted_or_hidden(engine, w):
    a = lesson_state(w, w.buyer)
    await call(a, "post_comment", {"text": "我的评论"})
    cid = int(a.items[0]["id"])
    b = lesson_state(w, w.buyer2)
    await call(b, "load_comments")
    await call(b, "delete_comment", cid)
    assert b.error == "评论不存在或已删除"
    await call(b, "hide_comment", cid)
    assert b.error == "你没有权限访问店铺管理后台" and not b.mfa_needed
    with Session(engine) as s:
        assert s.get(LessonComment, cid).status == "visible"
    # the author may delete it; the course's instructor may hide others' comments
    await call(a, "post_comment", {"text": "第二条"})
    second = int(a.items[0]["id"])
    await call(a, "delete_comment", cid)
    assert a.success == "评论已删除" and str(cid) not in {i["id"] for i in a.items}
    teacher = lesson_state(w, w.teacher)
    await call(teacher, "hide_comment", second)
    assert teacher.success == "评论已隐藏"
    with Session(engine) as s:
        assert s.get(LessonComment, cid).status == "deleted"
        assert s.get(LessonComment, second).status == "hidden"


async def test_moderation_on_the_lesson_page_needs_the_totp_step(engine, w):
    """Owner/staff moderate and read a paid lesson's comments through the dashboard guard: on a
    password-only session they are refused with the TOTP message, see no comment, change nothing."""
    a = lesson_state(w, w.buyer)
    await call(a, "post_comment", {"text": "付费课评论"})
    cid = int(a.items[0]["id"])
    for manager in (w.staff, w.owner):
        st = page_state(LessonCommentsState, cookie_for(engine, manager, mfa=False), "/lesson/[lesson_id]",
                        {"lesson_id": str(w.paid)})
        await call(st, "load_comments")
        assert st.mfa_needed and st.error.startswith("进入管理后台需要两步验证") and st.items == []
        before = counts(engine)
        for handler in ("hide_comment", "delete_comment"):
            st.error, st.mfa_needed = "", False
            await call(st, handler, cid)
            assert st.mfa_needed and st.error.startswith("进入管理后台需要两步验证"), handler
        assert counts(engine) == before
        with Session(engine) as s:
            assert s.get(LessonComment, cid).status == "visible"
    staff = page_state(LessonCommentsState, cookie_for(engine, w.staff, mfa=True), "/lesson/[lesson_id]",
                       {"lesson_id": str(w.paid)})
    await call(staff, "load_comments")
    assert [i["text"] for i in staff.items] == ["付费课评论"] and staff.items[0]["moderate"] == "1"
    await call(staff, "hide_comment", cid)
    assert staff.success == "评论已隐藏" and not staff.mfa_needed
    with Session(engine) as s:
        assert s.get(LessonComment, cid).status == "hidden"


async def test_load_more_pages_older_comments(engine, w, monkeypatch):
    from coursemall.services import rate_limit

    monkeypatch.setattr(rate_limit, "take", lambda *a, **k: rate_limit.Taken())  # paging, not limits
    with Session(engine) as s:
        for n in range(25):
            community.add_comment(s, actor_id=w.buyer, lesson_id=w.paid, text=f"评论 {n}")
    st = lesson_state(w, w.buyer2)
    await call(st, "load_comments")
    assert len(st.items) == 20 and st.next_before > 0 and st.items[0]["text"] == "评论 24"
    await call(st, "load_more_comments")
    assert len(st.items) == 25 and st.next_before == 0 and st.items[-1]["text"] == "评论 0"


# ---------------------------------------------------------------------------------- reviews

@pytest.mark.parametrize("bad", [0, 6, -1, True, 4.5, "5", None, [5], {"n": 5}, "x" * 100_000])
async def test_pick_star_bad_values(engine, w, bad):
    st = course_state(ReviewState, w, w.buyer)
    await call(st, "pick_review_star", bad)
    assert st.error == "请选择 1–5 星" and st.my_rating == 0


async def test_review_buyers_only_and_summary_updates(engine, w):
    before = counts(engine)
    stranger = course_state(ReviewState, w, w.stranger)
    await call(stranger, "load_reviews")
    assert not stranger.can_review
    await call(stranger, "pick_review_star", 5)
    await call(stranger, "submit_review", {"content": "没买也想评"})
    assert stranger.error == "购买课程后才能评价"
    nostar = course_state(ReviewState, w, w.buyer)
    await call(nostar, "submit_review", {"content": "忘了选星"})
    assert nostar.error == "请选择 1–5 星"
    for bad in BAD_FORMS[:5]:
        await call(nostar, "submit_review", bad)
        assert nostar.error == "请求参数无效"
    assert counts(engine) == before

    # buyer2 has not reviewed yet; the fixture has visible 5, 5, 4 (and a hidden 1)
    with Session(engine) as s:
        course = s.get(Course, w.course)
        sum0, count0 = course.rating_sum, course.rating_count
    st = course_state(ReviewState, w, w.buyer2)
    await call(st, "load_reviews")
    assert st.can_review and not st.has_review and st.count_text == "共 3 条评价" and st.average == "4.7"
    await call(st, "pick_review_star", 5)
    await call(st, "submit_review", {"content": XSS})
    assert st.success == "评价已保存，感谢你的反馈", st.error
    assert st.count_text == "共 4 条评价" and st.has_review and st.my_rating == 5
    assert st.reviews[0]["content"] == XSS and st.reviews[0]["mine"] == "1"
    assert [b["count"] for b in st.bars] == ["3", "1", "0", "0", "0"]
    # edit: still one review of buyer2, new rating; the course columns follow
    await call(st, "pick_review_star", 3)
    await call(st, "submit_review", {"content": "改成三星"})
    assert st.count_text == "共 4 条评价" and st.reviews[0]["content"] == "改成三星"
    assert [b["count"] for b in st.bars] == ["2", "1", "1", "0", "0"]
    with Session(engine) as s:
        course = s.get(Course, w.course)
        assert (course.rating_sum, course.rating_count) == (sum0 + 3, count0 + 1)
    # too long
    await call(st, "submit_review", {"content": HUGE})
    assert st.error == "内容太长，最多 1000 字"


async def test_review_reply_and_hide_need_a_manager(engine, w):
    st = course_state(ReviewState, w, w.buyer2)
    await call(st, "pick_review_star", 4)
    await call(st, "submit_review", {"content": "不错"})
    rid = st.reviews[0]["id"]
    assert st.reviews[0]["mine"] == "1"
    other = course_state(ReviewState, w, w.buyer)
    await call(other, "load_reviews")
    assert not other.is_manager
    await call(other, "reply_review", {"text": "冒充店主", "review_id": rid})
    assert other.error == "你没有权限访问店铺管理后台"
    await call(other, "hide_review", int(rid))
    assert other.error == "你没有权限访问店铺管理后台"
    before = counts(engine)
    owner = course_state(ReviewState, w, w.owner)  # a password-only session: the TOTP step first
    await call(owner, "load_reviews")
    assert not owner.is_manager
    await call(owner, "reply_review", {"text": "谢谢支持", "review_id": rid})
    assert owner.mfa_needed and owner.error.startswith("进入管理后台需要两步验证")
    await call(owner, "hide_review", int(rid))
    assert owner.mfa_needed and counts(engine) == before
    with Session(engine) as s:
        assert s.get(Review, int(rid)).owner_reply == ""
    owner = page_state(ReviewState, cookie_for(engine, w.owner, mfa=True), "/course/[course_id]",
                       {"course_id": str(w.course)})
    await call(owner, "load_reviews")
    assert owner.is_manager and not owner.can_review
    await call(owner, "reply_review", {"text": "谢谢支持", "review_id": rid})
    assert owner.reviews[0]["reply"] == "谢谢支持"
    await call(owner, "hide_review", int(rid))
    assert rid not in {r["id"] for r in owner.reviews} and owner.count_text == "共 3 条评价"


# ---------------------------------------------------------------------------------- check-in

async def test_checkin_bad_files_and_not_image(engine, w):
    before = counts(engine)
    st = course_state(CheckinState, w, w.buyer, route="/course/[course_id]/checkin")
    await call(st, "load_checkin")
    assert st.allowed and not st.checked_today
    for bad in (None, "x", {"f": 1}, [1], [upload(png_bytes()), upload(png_bytes())]):
        await call(st, "submit_checkin", bad)
        assert st.error == "每次打卡最多上传 1 张照片"
    st.text = "今天学了构图"
    await call(st, "submit_checkin", [upload(b"MZ\x90\x00 not an image", "evil.png")])
    assert st.error == "无法识别的图片，请上传 JPG、PNG、WebP 或 GIF"
    for bad in (None, 42, ["x"], {"a": 1}, "x" * 100_000):
        await call(st, "edit_checkin_text", bad)
        assert st.error == "内容太长，最多 500 字"
    assert counts(engine) == before
    await call(st, "submit_checkin", [upload(png_bytes())])
    assert st.success.startswith("打卡成功") and st.checked_today and st.streak_current == 1
    assert st.items[0]["photo"].startswith("/") and st.items[0]["text"] == "今天学了构图"
    st.text = "再打一次"
    await call(st, "submit_checkin", [])
    assert st.error == "今天已经打过卡了，明天再来吧"


async def test_checkin_not_learner(engine, w):
    st = course_state(CheckinState, w, w.stranger, route="/course/[course_id]/checkin")
    await call(st, "load_checkin")
    assert st.error == "加入课程后才能打卡" and not st.allowed
    st.text = "打卡"
    before = counts(engine)
    await call(st, "submit_checkin", [])
    assert st.error == "加入课程后才能打卡"
    assert counts(engine) == before


async def test_course_checkins_as_a_manager_need_the_totp_step(engine, w):
    buyer = course_state(CheckinState, w, w.buyer, route="/course/[course_id]/checkin")
    await call(buyer, "edit_checkin_text", "第一天")
    await call(buyer, "submit_checkin", [])
    assert buyer.success.startswith("打卡成功")
    route = "/course/[course_id]/checkin"
    st = page_state(CheckinState, cookie_for(engine, w.staff, mfa=False), route, {"course_id": str(w.course)})
    await call(st, "load_checkin")
    assert st.mfa_needed and st.error.startswith("进入管理后台需要两步验证") and st.items == [] and not st.allowed
    st = page_state(CheckinState, cookie_for(engine, w.staff, mfa=True), route, {"course_id": str(w.course)})
    await call(st, "load_checkin")
    assert not st.mfa_needed and [i["text"] for i in st.items] == ["第一天"]


# ---------------------------------------------------------------------------------- homework

def homework_state(w, who):
    return page_state(HomeworkState, w.cookies.get(who, ""), "/lesson/[lesson_id]/homework",
                      {"lesson_id": str(w.paid)})


async def test_homework_submit_and_learner_cannot_grade(engine, w):
    st = homework_state(w, w.buyer)
    await call(st, "load_homework")
    assert st.allowed and not st.submitted and st.lesson_title
    await call(st, "submit_homework", [upload(png_bytes()) for _ in range(4)])
    assert st.error == "最多上传 3 张图片"
    await call(st, "edit_homework_text", "我的作业 <b>粗体</b>")
    await call(st, "submit_homework", [upload(png_bytes())])
    assert st.success == "作业已提交，等待老师批改" and st.status == "submitted" and len(st.images) == 1
    assert st.my_text == "我的作业 <b>粗体</b>"
    with Session(engine) as s:
        sub_id = s.exec(select(HomeworkSubmission.id)).one()
    before = counts(engine)

    # a learner calling the grading handler: refused by the guard, nothing changes
    for who in (w.buyer, w.buyer2, w.stranger, 0):
        q = page_state(HomeworkReviewState, w.cookies.get(who, ""), "/admin/homework")
        await call(q, "grade_homework", {"submission_id": str(sub_id), "score": "100", "feedback": "满分"})
        assert q.error == "你没有权限访问店铺管理后台" and not q.allowed and q.queue == []
        await call(q, "load_homework_queue")
        assert q.error and q.queue == []
    # an instructor of other courses passes the guard but not the service's course check
    q = page_state(HomeworkReviewState, w.cookies[w.other_teacher], "/admin/homework")
    await call(q, "load_homework_queue")
    assert q.allowed and q.queue == []
    await call(q, "grade_homework", {"submission_id": str(sub_id), "score": "100", "feedback": "满分"})
    assert q.error == "你没有权限访问店铺管理后台"
    assert counts(engine) == before
    with Session(engine) as s:
        assert s.get(HomeworkSubmission, sub_id).status == "submitted"

    # the course's instructor grades it; the learner gets a message
    t = page_state(HomeworkReviewState, w.cookies[w.teacher], "/admin/homework")
    await call(t, "load_homework_queue")
    assert [r["id"] for r in t.queue] == [str(sub_id)] and len(t.queue_images[0]) == 1
    for bad in ({"submission_id": str(sub_id), "score": "101"}, {"submission_id": str(sub_id), "score": "-1"},
                {"submission_id": str(sub_id), "score": "9.5"}, {"submission_id": str(sub_id), "score": None}):
        await call(t, "grade_homework", bad)
        assert t.error == "分数须为 0–100 的整数"
    for bad in (None, [1], "x", {"submission_id": "abc", "score": "90"}):
        await call(t, "grade_homework", bad)
        assert t.error == "请求参数无效"
    assert counts(engine) == before
    await call(t, "grade_homework", {"submission_id": str(sub_id), "score": "88", "feedback": "构图不错"})
    assert t.success and t.queue == []
    assert counts(engine)["Message"] == before["Message"] + 1

    await call(st, "load_homework")
    assert (st.status, st.score, st.feedback) == ("graded", "88", "构图不错")

    # the owner needs the TOTP step on this device, like on every dashboard page
    o = page_state(HomeworkReviewState, w.cookies[w.owner], "/admin/homework")
    await call(o, "load_homework_queue", True)
    assert o.mfa_needed and not o.allowed and o.queue == [] and o.error == "进入管理后台需要两步验证（身份验证器 App 的 6 位动态码）"
    with Session(engine) as s:
        token = sessions.create_session(s, user_id=w.owner, mfa_verified=True)
        s.commit()
    o = page_state(HomeworkReviewState, f"cm_lang=zh_CN; cm_session={token}", "/admin/homework")
    await call(o, "load_homework_queue", True)
    assert o.allowed and o.is_owner and [r["id"] for r in o.queue] == [str(sub_id)]
    await call(st, "submit_homework", [])
    assert st.error == "作业已批改，不能再修改"


async def test_homework_not_entitled_and_bad_text(engine, w):
    st = homework_state(w, w.stranger)
    await call(st, "load_homework")
    assert st.error == "本节为付费内容，购买课程后即可学习" and not st.allowed
    before = counts(engine)
    st.text = "偷偷交"
    await call(st, "submit_homework", [])
    assert st.error == "本节为付费内容，购买课程后即可学习"
    b = homework_state(w, w.buyer)
    b.text = HUGE[:10_001]
    await call(b, "submit_homework", [])
    assert b.error == "内容太长，最多 5000 字"
    assert counts(engine) == before
    assert homework.MAX_IMAGES == 3

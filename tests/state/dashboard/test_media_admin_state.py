"""Media dashboard states called directly, as a browser could: the guard on every handler, what a
learner / another instructor / staff without TOTP get (nothing), bad arguments, the lesson's media
view with job progress, and retry of a failed job."""

from __future__ import annotations

import pytest
from reflex.istate.data import RouterData
from reflex.state import State
from sqlmodel import Session, select

import coursemall.db
import coursemall.pages  # noqa: F401  (registers every state)
from coursemall.i18n import t
from coursemall.models import MediaAsset
from coursemall.models.media_pipeline import MediaJob
from coursemall.state.guards import guard_of
from coursemall.state.dashboard.media import LessonMediaState, MediaAdminBaseState, MediaJobsState
from tests.services.media.test_media_pipeline import build_shop
from tests.state.helpers import call, cookie_for

FORBIDDEN = t("admin.forbidden")
BAD_IDS = [None, 0, -1, True, 2**40, 1.5, ["1"], {"id": 1}, "x" * 100_000, "", "1; DROP TABLE"]
HANDLERS = {
    LessonMediaState: {"load_lesson_media", "refresh_lesson_media", "retry_lesson_job"},
    MediaJobsState: {"load_media_jobs", "refresh_media_jobs", "filter_media_jobs", "retry_media_job"},
    MediaAdminBaseState: set(),
}


@pytest.fixture
def env(sqlite_engine, monkeypatch):
    monkeypatch.setattr(coursemall.db, "get_engine", lambda: sqlite_engine)
    with Session(sqlite_engine, expire_on_commit=False) as s:
        shop = build_shop(s)
        jobs = {}
        for name, lesson, status, attempts, error in (
                ("mine_failed", shop.video_lesson, "failed", 1, "media.job.ffmpeg_failed"),
                ("mine_running", shop.audio_lesson, "running", 1, ""),
                ("theirs_failed", shop.other_lesson, "failed", 1, "media.job.timeout")):
            asset = MediaAsset(kind="video", storage_key=f"uploads/{name}/original.mp4", mime="video/mp4",
                               status="failed" if status == "failed" else "processing", error=error)
            s.add(asset)
            s.flush()
            job = MediaJob(media_asset_id=asset.id, lesson_id=lesson, status=status, attempts=attempts, error=error,
                           progress_pct=40 if status == "running" else 0, step="sd" if status == "running" else "")
            s.add(job)
            s.flush()
            jobs[name] = job.id
        s.commit()
    return sqlite_engine, shop, jobs


def make(cls, cookie: str = "", lesson_id: object = ""):
    root = State(_reflex_internal_init=True)
    state = root.get_substate(cls.get_full_name().split(".")[1:])
    path = f"/admin/lessons/{lesson_id}/media"
    state.router = RouterData.from_router_data({
        "pathname": "/admin/lessons/[lesson_id]/media", "asPath": path, "query": {"lesson_id": str(lesson_id)},
        "headers": {"cookie": cookie, "origin": "http://localhost:3000"},
    })
    return state


def job_states(engine) -> dict:
    with Session(engine) as s:
        return {j.id: (j.status, j.attempts, j.error) for j in s.exec(select(MediaJob))}


def test_handlers_are_exactly_these_and_all_guarded():
    for cls, expected in HANDLERS.items():
        own = {n for n in cls.event_handlers if not n.startswith("set_") and n not in State.event_handlers}
        own -= {n for n in MediaAdminBaseState.__mro__[1].event_handlers}  # inherited from AppState
        assert own == expected, cls.__name__
        for name in expected:
            assert guard_of(cls.event_handlers[name].fn) == "dashboard_required", name


@pytest.mark.parametrize("who", ["learner", "anonymous", "staff_no_totp"])
async def test_outsiders_get_nothing_and_change_nothing(env, who):
    engine, shop, jobs = env
    cookie = {"learner": lambda: cookie_for(engine, shop.learner), "anonymous": lambda: "",
              "staff_no_totp": lambda: cookie_for(engine, shop.staff, mfa=False)}[who]()
    before = job_states(engine)
    lesson = make(LessonMediaState, cookie, shop.video_lesson)
    for handler, args in (("load_lesson_media", ()), ("refresh_lesson_media", ()),
                          ("retry_lesson_job", (str(jobs["mine_failed"]),))):
        await call(lesson, handler, *args)
        assert lesson.allowed is False and lesson.jobs == [] and lesson.lesson_title == ""
        assert lesson.mfa_needed is (who == "staff_no_totp")
    listing = make(MediaJobsState, cookie)
    for handler, args in (("load_media_jobs", ()), ("refresh_media_jobs", ()), ("filter_media_jobs", ("failed",)),
                          ("retry_media_job", (jobs["mine_failed"],))):
        await call(listing, handler, *args)
        assert listing.allowed is False and listing.jobs == []
    assert listing.error in (FORBIDDEN, t("admin.mfa_required"))
    assert job_states(engine) == before


async def test_instructor_sees_their_lesson_media_and_progress(env):
    engine, shop, jobs = env
    state = make(LessonMediaState, cookie_for(engine, shop.teacher), shop.audio_lesson)
    result = await call(state, "load_lesson_media")
    assert "__cmUploader" in str(result)  # the uploader script is started
    assert state.allowed and state.lesson_title == "音频课" and state.course_title == "剪辑入门"
    assert state.processing is True
    assert [(j["status"], j["progress"], j["step"]) for j in state.jobs] == [("running", "40", "生成标清")]
    assert state.lesson_edit_href == f"/admin/lessons/{shop.audio_lesson}"


async def test_another_instructors_lesson_and_bad_ids_show_not_found(env):
    engine, shop, jobs = env
    cookie = cookie_for(engine, shop.teacher)
    for raw in [shop.other_lesson, 999999, *BAD_IDS[:6], "abc"]:
        state = make(LessonMediaState, cookie, raw)
        await call(state, "load_lesson_media")
        assert state.jobs == [] and state.lesson_title == "" and state.error == t("error.not_found"), raw


async def test_retry_from_the_lesson_page_and_the_list(env):
    engine, shop, jobs = env
    cookie = cookie_for(engine, shop.teacher)
    state = make(LessonMediaState, cookie, shop.video_lesson)
    await call(state, "load_lesson_media")
    assert state.jobs[0]["error"] == t("media.job.ffmpeg_failed") and state.jobs[0]["can_retry"] == "1"
    assert state.has_media is False  # the failed upload never replaced anything
    await call(state, "retry_lesson_job", str(jobs["mine_failed"]))
    assert state.success == t("media.retry_queued")
    assert state.jobs[0]["status"] == "queued" and state.processing is True
    assert job_states(engine)[jobs["mine_failed"]] == ("queued", 1, "")
    # another instructor's failed job: not found, unchanged
    listing = make(MediaJobsState, cookie)
    await call(listing, "load_media_jobs")
    assert {j["id"] for j in listing.jobs} == {str(jobs["mine_failed"]), str(jobs["mine_running"])}
    before = job_states(engine)
    await call(listing, "retry_media_job", str(jobs["theirs_failed"]))
    assert listing.error == t("error.not_found") and job_states(engine) == before


async def test_owner_sees_every_job_and_bad_arguments_change_nothing(env):
    engine, shop, jobs = env
    listing = make(MediaJobsState, cookie_for(engine, shop.owner))
    await call(listing, "load_media_jobs")
    assert len(listing.jobs) == 3 and listing.processing is True
    await call(listing, "filter_media_jobs", "failed")
    assert {j["status"] for j in listing.jobs} == {"failed"} and len(listing.jobs) == 2
    before = job_states(engine)
    for bad in BAD_IDS:
        await call(listing, "retry_media_job", bad)
        assert listing.error == t("admin.bad_id")
        await call(listing, "filter_media_jobs", bad)
        if bad != "":
            assert listing.error == t("error.bad_request")
    await call(listing, "retry_media_job", str(jobs["mine_running"]))
    assert listing.error == t("media.retry_not_failed")
    assert job_states(engine) == before

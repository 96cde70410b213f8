"""Player, learning-centre and certificate states: the exact set of remote endpoints, heartbeat
payloads a hostile browser could send (nothing stored), another learner's lesson (refused), and
the happy paths against the fixture catalog on SQLite."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlmodel import Session, select

import coursemall.coursemall  # noqa: F401  (registers pages and states)
from coursemall.models import LessonNote, LessonProgress, StudyDay
from coursemall.state.learning import player as player_state
from coursemall.state.learning.player import (
    PLAYER_JS_FILE,
    PLAYER_JS_SRC,
    CertificateState,
    LearningState,
    PlayerState,
    parse_payload,
    player_boot_js,
)
from coursemall.state import guards
from coursemall.state.catalog import storefront as catalog_state
from tests.state.helpers import call_sync, fixture_catalog, route_state

EXPECTED = {
    PlayerState: {"load_player", "heartbeat", "article_read", "save_note", "refresh_media"},
    LearningState: {"load_learning"},
    CertificateState: {"load_certificate"},
}


@pytest.mark.parametrize("cls", list(EXPECTED), ids=lambda c: c.__name__)
def test_exact_event_handlers(cls):
    assert set(cls.event_handlers) - {"setvar"} == EXPECTED[cls]


def test_player_script_is_a_static_asset_with_a_content_version():
    # The player is a static file under assets/ (served at /); its URL carries the content hash,
    # so a changed player is never taken from a browser's cache.
    text = PLAYER_JS_FILE.read_bytes()
    assert PLAYER_JS_FILE.parent.parent.name == "assets"
    assert b"window.__cmPlayer = {" in text and b"__cmPlayerPending" in text
    assert PLAYER_JS_SRC == "/js/player.js?v=" + hashlib.sha256(text).hexdigest()[:12]


def test_player_boot_gets_integers_only():
    # User data never reaches the inline call: the src is a constant, init gets integers.
    boot = player_boot_js(7, 12, 30, True, False, True)
    assert json.dumps(PLAYER_JS_SRC) in boot and "window.__cmPlayer.init(7, 12, 30, 1, 0, 1);" in boot
    assert "%" not in boot and "__cmPlayerPending = run" in boot


@pytest.fixture
def cat(sqlite_engine, monkeypatch):
    # the player asks the dashboard guard (guards) about previews
    return fixture_catalog(sqlite_engine, monkeypatch, player_state, catalog_state, guards)


def as_user(monkeypatch, user_id):
    async def off_loop(self):
        return user_id

    monkeypatch.setattr(PlayerState, "_actor_id", lambda self, fresh=False: user_id)
    monkeypatch.setattr(PlayerState, "_actor_id_off_loop", off_loop)
    monkeypatch.setattr(LearningState, "_actor_id", lambda self, fresh=False: user_id)


def player_for(lesson_id: int, query: dict | None = None) -> PlayerState:
    """The lesson page as its on_load leaves it (PlayerState.load_player, the page's loader)."""
    s = route_state(PlayerState, "/lesson/[lesson_id]", f"/lesson/{lesson_id}", params={"lesson_id": str(lesson_id)},
             query=query)
    call_sync(s, "load_player")
    return s


def rows(engine, model):
    with Session(engine) as s:
        return s.exec(select(model)).all()


def beat(lesson_id, position, start, end, **extra) -> str:
    return json.dumps({"lesson_id": lesson_id, "position": position, "from": start, "to": end, **extra})


BAD_PAYLOADS = [
    None, 5, 3.5, [], {}, {"lesson_id": 1}, ["a"], "", "not json", "[]", "null", "1e999",
    "x" * 10_000,
    json.dumps({"lesson_id": {"x": 1}, "position": 1, "from": 0, "to": 1}),
    json.dumps({"lesson_id": "1; drop", "position": 1, "from": 0, "to": 1}),
    json.dumps({"position": 1, "from": 0, "to": 1}),
    json.dumps({"lesson_id": 1, "position": "10", "from": 0, "to": 1}),
    json.dumps({"lesson_id": 1, "position": True, "from": 0, "to": 1}),
    json.dumps({"lesson_id": 1, "position": None, "from": 0, "to": 1}),
    json.dumps({"lesson_id": 1, "position": [1], "from": 0, "to": 1}),
    json.dumps({"lesson_id": 1, "position": -5, "from": 0, "to": 1}),
    json.dumps({"lesson_id": 1, "position": 10**12, "from": 0, "to": 1}),
    '{"lesson_id": 1, "position": NaN, "from": 0, "to": 1}',
    '{"lesson_id": 1, "position": Infinity, "from": 0, "to": 1}',
]


@pytest.mark.parametrize("raw", BAD_PAYLOADS, ids=range(len(BAD_PAYLOADS)))
def test_parse_payload_rejects_junk(raw):
    assert parse_payload(raw, ("lesson_id", "position", "from", "to")) is None


def test_wrong_typed_heartbeats_store_nothing(cat, monkeypatch):
    as_user(monkeypatch, cat["buyer"])
    s = player_for(cat["lesson_paid"])
    lid = cat["lesson_paid"]
    payloads = [*BAD_PAYLOADS,
                beat(lid, 700, 0, 10),  # beyond the duration (600 s)
                beat(lid, 10, 20, 10),  # to < from
                beat(lid, -1, 0, 10)]
    for raw in payloads:
        assert call_sync(s, "heartbeat", raw) is None
    # extra positional junk in place of the payload: also ignored
    assert rows(cat["engine"], LessonProgress) == []
    assert rows(cat["engine"], StudyDay) == []


def test_heartbeat_for_another_learners_lesson_is_refused(cat, monkeypatch):
    as_user(monkeypatch, cat["stranger"])  # owns nothing
    s = player_for(cat["lesson_trial"])  # a free trial page is open...
    call_sync(s, "heartbeat", beat(cat["lesson_paid"], 12, 0, 12))  # ...but beats for a paid lesson
    call_sync(s, "heartbeat", beat(cat["lesson_partial"], 100, 90, 100))  # beyond the free 30 s
    assert rows(cat["engine"], LessonProgress) == []
    # the expired buyer is refused too
    as_user(monkeypatch, cat["expired_buyer"])
    call_sync(s, "heartbeat", beat(cat["lesson_paid"], 12, 0, 12))
    assert rows(cat["engine"], LessonProgress) == []


def test_anonymous_heartbeat_is_ignored(cat, monkeypatch):
    as_user(monkeypatch, None)
    s = player_for(cat["lesson_trial"])
    assert s.can_track is False and s.overlay_code == ""
    call_sync(s, "heartbeat", beat(cat["lesson_trial"], 10, 0, 10))
    call_sync(s, "article_read", json.dumps({"lesson_id": cat["lesson_article"], "percent": 100}))
    assert rows(cat["engine"], LessonProgress) == []


def test_buyer_plays_resumes_and_sees_progress(cat, monkeypatch):
    as_user(monkeypatch, cat["buyer"])
    lid = cat["lesson_paid"]
    s = player_for(lid)
    script = call_sync(s, "load_player")
    assert script is not None  # the player script with init(lesson, start=0, ...)
    assert s.can_track and s.overlay_code == "WMtest0" and s.overlay_name == "学员0"
    assert [c["title"] for c in s.chapters] == ["第一章 基础", "第二章 进阶"]
    assert any(ls["current"] == "1" and ls["id"] == str(lid) for ch in s.outline for ls in ch)
    call_sync(s, "heartbeat", beat(lid, 10.4, 0, 10.4))
    (row,) = rows(cat["engine"], LessonProgress)
    assert row.position_seconds == 10 and row.user_id == cat["buyer"]
    assert s.lesson_percent >= 1
    # a reload resumes there; ?t= overrides it
    s = player_for(lid)
    assert f"init({lid}, 10," in _script_text(call_sync(s, "load_player"))
    s = player_for(lid, query={"t": "42"})
    assert f"init({lid}, 42," in _script_text(call_sync(s, "load_player"))
    s = player_for(lid, query={"t": "-3"})
    assert f"init({lid}, 10," in _script_text(call_sync(s, "load_player"))


def _script_text(event) -> str:
    return " ".join(str(value) for pair in event.args for value in pair)


def test_article_read_to_end_completes_the_lesson(cat, monkeypatch):
    as_user(monkeypatch, cat["buyer"])
    lid = cat["lesson_article"]
    s = player_for(lid)
    call_sync(s, "load_player")
    for junk in ({"percent": 100}, json.dumps({"lesson_id": lid, "percent": 101}),
                 json.dumps({"lesson_id": lid, "percent": 99.5}), json.dumps({"lesson_id": lid, "percent": "100"})):
        call_sync(s, "article_read", junk)
    assert rows(cat["engine"], LessonProgress) == []
    call_sync(s, "article_read", json.dumps({"lesson_id": lid, "percent": 100}))
    (row,) = rows(cat["engine"], LessonProgress)
    assert row.completed_at is not None
    assert s.lesson_completed and s.course_percent == 25  # one of four lessons


def test_notes_validate_and_pin_markers(cat, monkeypatch):
    as_user(monkeypatch, cat["buyer"])
    lid = cat["lesson_paid"]
    s = player_for(lid)
    call_sync(s, "load_player")
    for junk in (None, "text", [], {"text": ["x"], "at": "5"}, {"text": "hi", "at": {"x": 1}},
                 {"text": "hi", "at": "5", "kind": "admin"}, {"text": "x" * 100_000, "at": "5"},
                 {"text": "hi", "at": "99999999"}):
        call_sync(s, "save_note", junk)
        assert s.note_error
    assert rows(cat["engine"], LessonNote) == []
    call_sync(s, "save_note", {"text": "构图要点 <script>x()</script>", "at": "65", "kind": "note"})
    assert s.note_error == "" and s.note_message
    (m,) = s.markers
    assert m["at"] == "65" and m["time"] == "01:05" and m["kind"] == "note" and m["left"].endswith("%")
    call_sync(s, "save_note", {"text": "为什么？", "at": "5", "kind": "question"})
    assert [x["at"] for x in s.markers] == ["5", "65"]
    # a stranger cannot pin notes on a lesson they do not own
    as_user(monkeypatch, cat["stranger"])
    call_sync(s, "save_note", {"text": "偷看", "at": "5", "kind": "note"})
    assert s.note_error
    assert len(rows(cat["engine"], LessonNote)) == 2


def test_anonymous_viewer_plays_the_trial_and_sees_the_paid_lesson_locked(cat, monkeypatch):
    from coursemall.models import MediaAsset

    _set(cat["engine"], MediaAsset, cat["asset_video"], renditions={"hls_hd": "x/hls/hd"})
    as_user(monkeypatch, None)
    s = player_for(cat["lesson_trial"])
    assert s.lesson_id == cat["lesson_trial"] and s.access == "full" and s.media_url.startswith("/api/hls/")
    s = player_for(cat["lesson_paid"])
    assert call_sync(s, "load_player") is None  # no player script for a locked lesson
    assert s.lesson_id == cat["lesson_paid"] and s.access == "locked" and s.media_url == "" and s.hd_url == ""


@pytest.mark.parametrize("raw", ["x", "99999", "-5", "9" * 30])
def test_player_load_bad_ids(cat, monkeypatch, raw):
    as_user(monkeypatch, None)
    s = route_state(PlayerState, "/lesson/[lesson_id]", f"/lesson/{raw}", params={"lesson_id": raw})
    assert call_sync(s, "load_player") is None
    assert s.lesson_id == 0 and s.error and s.media_url == ""


def test_learning_centre(cat, monkeypatch):
    as_user(monkeypatch, None)
    s = route_state(LearningState, "/learning", "/learning")
    call_sync(s, "load_learning")
    assert s.needs_sign_in and s.courses == []
    as_user(monkeypatch, cat["buyer"])
    p = player_for(cat["lesson_paid"])
    call_sync(p, "heartbeat", beat(cat["lesson_paid"], 30, 0, 30))
    s = route_state(LearningState, "/learning", "/learning")
    call_sync(s, "load_learning")
    assert not s.needs_sign_in and len(s.courses) == 1
    assert s.courses[0]["continue_href"] == f"/lesson/{cat['lesson_paid']}?t=30"
    assert len(s.daily) == 30 and s.recent[0]["lesson_id"] == str(cat["lesson_paid"])


def test_certificate_page_rejects_junk(cat):
    for raw in ("", "x" * 5000, "AAAA-BBBB-CCCC-DDDD", "../../etc"):
        s = route_state(CertificateState, "/certificate/[code]", "/certificate/x", params={"code": raw})
        call_sync(s, "load_certificate")
        assert s.loaded and not s.found and s.image_url == ""


def test_no_seek_ahead_policy_reaches_the_player_until_the_lesson_is_done(cat, monkeypatch):
    from coursemall.models import Course

    with Session(cat["engine"]) as s:
        course = s.get(Course, cat["phone"])
        course.no_seek_first_watch = True
        s.add(course)
        s.commit()
    as_user(monkeypatch, cat["buyer"])
    lid = cat["lesson_paid"]
    s = player_for(lid)
    # init(lesson, start, furthest, noSeek, article, track)
    assert f"init({lid}, 0, 0, 1, 0, 1)" in _script_text(call_sync(s, "load_player"))
    call_sync(s, "heartbeat", beat(lid, 10, 0, 10))
    s = player_for(lid)
    assert f"init({lid}, 10, 10, 1, 0, 1)" in _script_text(call_sync(s, "load_player"))
    # anonymous viewers of a free trial lesson: no tracking, no policy script needed
    as_user(monkeypatch, None)
    s = player_for(cat["lesson_trial"])
    assert f"init({cat['lesson_trial']}, 0, 0, 0, 0, 0)" in _script_text(call_sync(s, "load_player"))


# ------------------------------------------------------------------ renditions, drip, manager preview

def _set(engine, model, row_id, **values):
    with Session(engine) as s:
        row = s.get(model, row_id)
        for k, v in values.items():
            setattr(row, k, v)
        s.add(row)
        s.commit()


def _signed_in_player(lesson_id, session_hash="b" * 64, mfa=False):
    s = player_for(lesson_id)
    s._session_hash, s._mfa_ok = session_hash, mfa
    return s


HLS = {"hd": "x/hd.mp4", "sd": "x/sd.mp4", "audio": "x/a.m4a", "poster": "p.jpg",
       "hls_hd": "x/hls/hd", "hls_sd": "x/hls/sd", "hls_audio": "x/hls/audio"}


def test_player_gets_one_session_bound_playlist_per_variant(cat, monkeypatch):
    from coursemall.media.tokens import session_binding, verify_token
    from coursemall.models import MediaAsset

    _set(cat["engine"], MediaAsset, cat["asset_paid"], renditions=HLS)
    as_user(monkeypatch, cat["buyer"])
    s = _signed_in_player(cat["lesson_paid"])
    call_sync(s, "load_player")
    assert s.hd_url and s.sd_url and s.listen_url and s.src_url == "" and s.preparing_text == ""
    assert s.media_url == s.hd_url  # HD first; the script applies a remembered SD choice
    assert all(u.startswith(f"/api/hls/{cat['lesson_paid']}/{cat['asset_paid']}/") and "/index.m3u8?t=" in u
               for u in (s.hd_url, s.sd_url, s.listen_url))
    claims = [verify_token(u.split("?t=", 1)[1]) for u in (s.hd_url, s.sd_url, s.listen_url)]
    assert [c.rendition for c in claims] == ["hls-hd", "hls-sd", "hls-audio"]
    assert {c.binding for c in claims} == {session_binding("b" * 64)}
    assert {c.user_id for c in claims} == {cat["buyer"]}


def test_without_encrypted_hls_the_buyer_is_told_the_media_is_being_prepared(cat, monkeypatch):
    from coursemall.models import MediaAsset

    _set(cat["engine"], MediaAsset, cat["asset_paid"], renditions={"hd": "x/hd.mp4", "sd": "x/sd.mp4"})
    as_user(monkeypatch, cat["buyer"])
    s = _signed_in_player(cat["lesson_paid"])
    call_sync(s, "load_player")
    assert s.access == "full" and s.media_url == "" and s.hd_url == s.sd_url == s.src_url == ""
    assert s.preparing_text == "本节视频正在准备中，请稍后再来"


def test_partial_preview_plays_only_the_clip_or_says_it_is_being_prepared(cat, monkeypatch):
    from coursemall.media.tokens import verify_token
    from coursemall.models import Lesson

    as_user(monkeypatch, None)
    s = player_for(cat["lesson_partial"])
    assert call_sync(s, "load_player") is not None  # the player script (with the buy-prompt guard)
    assert s.access == "partial" and s.media_url == "" and s.preparing_text == "试看片段正在准备中，请稍后再来"
    _set(cat["engine"], Lesson, cat["lesson_partial"], preview_key="x/clip.m4a",
         preview_asset_id=cat["asset_audio"], preview_seconds=30)
    s = player_for(cat["lesson_partial"])
    call_sync(s, "load_player")
    assert s.preparing_text == "" and s.media_url == s.src_url and s.hd_url == s.listen_url == ""
    assert verify_token(s.src_url.rsplit("/", 1)[1]).rendition == "preview"


def test_drip_locked_lesson_says_when_it_opens_and_mints_nothing(cat, monkeypatch):
    from datetime import datetime, timezone

    from coursemall.models import Lesson

    _set(cat["engine"], Lesson, cat["lesson_paid"], release_at=datetime(2099, 5, 1, 2, 0, tzinfo=timezone.utc))
    as_user(monkeypatch, cat["buyer"])
    s = _signed_in_player(cat["lesson_paid"])
    assert call_sync(s, "load_player") is None  # no player script for a locked lesson
    assert s.access == "locked" and s.media_url == "" and s.hd_url == "" and not s.can_track
    assert s.unlock_text == "本节将于 2099-05-01 10:00 解锁"  # shop-local time (UTC+8)
    marks = {ls["id"]: ls["unlocks"] for ch in s.outline for ls in ch}
    assert marks[str(cat["lesson_paid"])] == "05-01" and marks[str(cat["lesson_trial"])] == ""
    call_sync(s, "heartbeat", beat(cat["lesson_paid"], 10, 0, 10))
    assert rows(cat["engine"], LessonProgress) == []


def test_drip_after_days_counts_from_the_buyers_grant(cat, monkeypatch):
    from datetime import timedelta

    from coursemall.models import Entitlement, Lesson, utcnow

    _set(cat["engine"], Lesson, cat["lesson_paid"], release_after_days=7)
    as_user(monkeypatch, cat["buyer"])
    s = _signed_in_player(cat["lesson_paid"])
    call_sync(s, "load_player")
    assert s.access == "locked" and s.unlock_text.startswith("本节将于")
    with Session(cat["engine"]) as db:
        ent = db.exec(select(Entitlement).where(Entitlement.user_id == cat["buyer"],
                                                Entitlement.expires_at.is_(None))).one()
        ent.granted_at = utcnow() - timedelta(days=8)
        db.add(ent)
        db.commit()
    from coursemall.models import MediaAsset

    _set(cat["engine"], MediaAsset, cat["asset_paid"], renditions=HLS)
    s = _signed_in_player(cat["lesson_paid"])
    call_sync(s, "load_player")
    assert s.access == "full" and s.unlock_text == "" and s.media_url and s.can_track


def _manager(engine, role: str, instructor_of: int | None = None) -> int:
    from coursemall.models import Course, Instructor, User

    with Session(engine) as db:
        user = User(nickname=f"{role}-m", role=role, watermark_code=f"WM{role}")
        db.add(user)
        db.flush()
        if instructor_of is not None:
            inst = db.get(Instructor, db.get(Course, instructor_of).instructor_id)
            inst.user_id = user.id
            db.add(inst)
        db.commit()
        return user.id


def test_instructor_previews_an_unpublished_course_without_keeping_progress(cat, monkeypatch):
    from coursemall.models import Course

    _set(cat["engine"], Course, cat["phone"], status="draft")
    teacher = _manager(cat["engine"], "learner", instructor_of=cat["phone"])
    as_user(monkeypatch, teacher)
    s = _signed_in_player(cat["lesson_paid"])
    assert call_sync(s, "load_player") is not None
    assert s.error == "" and s.access == "full" and s.preview_mode and s.media_url
    assert not s.can_track  # no heartbeats from a preview
    call_sync(s, "heartbeat", beat(cat["lesson_paid"], 10, 0, 10))
    s2 = _signed_in_player(cat["lesson_article"])
    call_sync(s2, "load_player")
    call_sync(s2, "article_read", json.dumps({"lesson_id": cat["lesson_article"], "percent": 100}))
    assert rows(cat["engine"], LessonProgress) == [] and rows(cat["engine"], StudyDay) == []
    # a learner (or a stranger) still cannot see the draft course
    as_user(monkeypatch, cat["buyer"])
    s3 = _signed_in_player(cat["lesson_paid"])
    call_sync(s3, "load_player")
    assert s3.error and s3.media_url == "" and not s3.preview_mode


def test_owner_preview_needs_a_totp_verified_session(cat, monkeypatch):
    owner = _manager(cat["engine"], "owner")
    as_user(monkeypatch, owner)
    s = _signed_in_player(cat["lesson_paid"], mfa=False)  # published, not bought
    call_sync(s, "load_player")
    assert s.access == "locked" and s.media_url == "" and not s.preview_mode
    assert s.mfa_needed  # the page offers the TOTP step
    s = _signed_in_player(cat["lesson_paid"], mfa=True)
    call_sync(s, "load_player")
    assert s.access == "full" and s.preview_mode and s.media_url and not s.can_track and not s.mfa_needed


def test_another_instructor_gets_no_preview(cat, monkeypatch):
    other = _manager(cat["engine"], "learner", instructor_of=cat["pandas"])
    as_user(monkeypatch, other)
    s = _signed_in_player(cat["lesson_paid"])
    call_sync(s, "load_player")
    assert s.access == "locked" and not s.preview_mode and s.media_url == "" and not s.mfa_needed


def test_refresh_media_mints_fresh_urls_only_for_the_current_lesson_with_access(cat, monkeypatch):
    from coursemall.media.tokens import verify_token
    from coursemall.models import Entitlement, MediaAsset, utcnow

    _set(cat["engine"], MediaAsset, cat["asset_paid"], renditions=HLS)
    as_user(monkeypatch, cat["buyer"])
    s = _signed_in_player(cat["lesson_paid"])
    call_sync(s, "load_player")
    element_key = s.media_url
    for junk in (None, 5, {}, "x" * 5000, json.dumps({"lesson_id": cat["lesson_trial"]}),
                 json.dumps({"lesson_id": "1; drop"}), json.dumps({"lesson": 1})):
        s.hd_url = ""
        call_sync(s, "refresh_media", junk)
        assert s.hd_url == ""  # nothing minted for junk or another lesson
    call_sync(s, "refresh_media", json.dumps({"lesson_id": cat["lesson_paid"]}))
    claim = verify_token(s.hd_url.split("?t=", 1)[1])
    assert claim.lesson_id == cat["lesson_paid"] and claim.user_id == cat["buyer"]
    assert s.media_url == element_key  # the <video> keeps its key; the script swaps the source
    # after a refund the refresh mints nothing (and leaves the old, now refused, URL in place)
    with Session(cat["engine"]) as db:
        for ent in db.exec(select(Entitlement).where(Entitlement.user_id == cat["buyer"])).all():
            ent.revoked_at = utcnow()
            db.add(ent)
        db.commit()
    before = s.hd_url
    call_sync(s, "refresh_media", json.dumps({"lesson_id": cat["lesson_paid"]}))
    assert s.hd_url == before

"""GET /api/media/{token}: signed, short-lived, bound to the viewer's session, re-checked on every
request, Range-capable. What it still serves: a partial preview's free-seconds clip (to anyone who
may preview the lesson) and, to course managers previewing their course, the whole files. A
learner never gets a whole file of a paid lesson here: buyers play encrypted HLS (test_hls.py)."""

from __future__ import annotations

import shutil
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from coursemall.api import media as media_api
from coursemall.domain.errors import DomainError
from coursemall.media.tokens import mint_token, session_binding, verify_token
from coursemall.models import Course, Entitlement, Lesson, MediaAsset, User, utcnow
from coursemall.services.accounts import sessions
from coursemall.services.learning.media_access import mint_lesson_media_url, mint_player_media
from coursemall.settings import get_settings
from tests.services.catalog_fixture import build_catalog

VIDEO = bytes(range(256)) * 40  # 10,240 bytes
AUDIO = b"ID3" + b"\x01" * 5000
CLIP = b"\x00\x00\x00\x20ftypM4A " + bytes(range(200)) * 5  # the free-seconds clip


@pytest.fixture
def shop(db_engine, monkeypatch):
    prefix = f"t{uuid.uuid4().hex[:10]}"
    root = get_settings().media_dir
    folder = root / prefix
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "trial.mp4").write_bytes(VIDEO)
    (folder / "partial.mp3").write_bytes(AUDIO)
    (folder / "paid.mp4").write_bytes(VIDEO[::-1])
    with Session(db_engine, expire_on_commit=False) as s:
        cat = build_catalog(s, media_prefix=prefix)

    @contextmanager
    def scope():
        with Session(db_engine, expire_on_commit=False) as s:
            yield s
            s.commit()

    monkeypatch.setattr(media_api, "session_scope", scope)
    client = TestClient(Starlette(routes=media_api.ROUTES))
    yield cat, client, db_engine
    shutil.rmtree(folder, ignore_errors=True)


def sign_in(engine, client, user_id: int, *, mfa: bool = False) -> str:
    """A live session for `user_id`; its cookie goes with the client's requests. Returns the hash."""
    with Session(engine) as s:
        token = sessions.create_session(s, user_id=user_id, mfa_verified=mfa)
        s.commit()
    client.cookies.set(sessions.SESSION_COOKIE, token)
    return sessions.token_hash(token)


def give_clip(engine, lesson_key_id: int, data: bytes = CLIP, *, seconds: int | None = None) -> str:
    """The pipeline's free-seconds clip for the lesson (its current asset, its current seconds)."""
    with Session(engine) as s:
        lesson = s.get(Lesson, lesson_key_id)
        asset = s.get(MediaAsset, lesson.media_asset_id)
        key = f"{asset.storage_key.rsplit('/', 1)[0]}/clip-{lesson.id}.m4a"
        (get_settings().media_dir / key).write_bytes(data)
        lesson.preview_key, lesson.preview_asset_id = key, asset.id
        lesson.preview_seconds = lesson.free_seconds if seconds is None else seconds
        s.add(lesson)
        s.commit()
        return key


def _url(engine, actor, lesson_id, session_hash: str = "") -> str:
    with Session(engine) as s:
        return mint_lesson_media_url(s, actor_id=actor, lesson_id=lesson_id, session_token_hash=session_hash).url


def assert_forbidden(resp):
    assert resp.status_code == 403
    assert VIDEO[:64] not in resp.content and len(resp.content) < 100
    assert resp.headers.get("cache-control") == "private, no-store"


def test_the_clip_is_served_with_ranges(shop):
    cat, client, engine = shop
    give_clip(engine, cat.ids["lesson_partial"])
    url = _url(engine, None, cat.ids["lesson_partial"])
    assert verify_token(url.rsplit("/", 1)[1]).rendition == "preview"
    resp = client.get(url)
    assert resp.status_code == 200 and resp.content == CLIP
    assert resp.headers["content-type"] == "audio/mp4" and resp.headers["accept-ranges"] == "bytes"
    assert resp.headers["cache-control"] == "private, no-store"
    part = client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == CLIP[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(CLIP)}"
    assert client.get(url, headers={"Range": "bytes=-10"}).content == CLIP[-10:]
    assert client.get(url, headers={"Range": f"bytes={len(CLIP) + 5}-"}).status_code == 416


def test_partial_viewers_get_the_clip_and_never_the_original_or_a_rendition(shop):
    cat, client, engine = shop
    _with_renditions(engine, cat.ids["asset_audio"], audio=("full.m4a", AUDIO))
    give_clip(engine, cat.ids["lesson_partial"])
    ids = cat.ids
    for user in (None, ids["stranger"]):
        c = TestClient(Starlette(routes=media_api.ROUTES))
        h = sign_in(engine, c, user) if user else ""
        binding = session_binding(h) if user else "0"
        with Session(engine) as s:
            media = mint_player_media(s, actor_id=user, lesson_id=ids["lesson_partial"], session_token_hash=h)
        assert [src.name for src in media.sources] == ["src"] and media.listen is None
        assert c.get(media.sources[0].url).content == CLIP
        for rendition in ("src", "hd", "sd", "audio", "hls-audio"):
            token = mint_token(user_id=user, lesson_id=ids["lesson_partial"], asset_id=ids["asset_audio"],
                               rendition=rendition, binding=binding)
            resp = c.get(f"/api/media/{token}")
            assert_forbidden(resp)
            assert AUDIO[:64] not in resp.content


def test_without_a_ready_clip_a_partial_viewer_gets_nothing(shop):
    cat, client, engine = shop
    ids = cat.ids
    token = mint_token(user_id=0, lesson_id=ids["lesson_partial"], asset_id=ids["asset_audio"], rendition="preview")
    with Session(engine) as s:
        media = mint_player_media(s, actor_id=None, lesson_id=ids["lesson_partial"])
    assert media.sources == () and media.preparing  # the player says the preview is being prepared
    with Session(engine) as s, pytest.raises(DomainError):
        mint_lesson_media_url(s, actor_id=None, lesson_id=ids["lesson_partial"])
    assert_forbidden(client.get(f"/api/media/{token}"))
    # a clip cut for other seconds (the owner changed them) is not served
    give_clip(engine, ids["lesson_partial"], seconds=60)
    assert_forbidden(client.get(f"/api/media/{token}"))
    # nor one cut from the lesson's previous media
    give_clip(engine, ids["lesson_partial"])
    assert client.get(f"/api/media/{token}").status_code == 200
    with Session(engine) as s:
        lesson = s.get(Lesson, ids["lesson_partial"])
        lesson.media_asset_id = ids["asset_paid"]
        s.add(lesson)
        s.commit()
    moved = mint_token(user_id=0, lesson_id=ids["lesson_partial"], asset_id=ids["asset_paid"], rendition="preview")
    assert_forbidden(client.get(f"/api/media/{token}"))
    assert_forbidden(client.get(f"/api/media/{moved}"))


def test_missing_forged_and_expired_tokens_are_refused(shop):
    cat, client, engine = shop
    give_clip(engine, cat.ids["lesson_partial"])
    good = _url(engine, None, cat.ids["lesson_partial"]).rsplit("/", 1)[1]
    assert client.get("/api/media/").status_code in (403, 404)
    assert_forbidden(client.get("/api/media/x"))
    body, sig = good.rsplit(".", 1)
    flipped = sig[:-1] + ("A" if sig[-1] != "A" else "B")
    assert_forbidden(client.get(f"/api/media/{body}.{flipped}"))
    forged = mint_token(user_id=0, lesson_id=cat.ids["lesson_partial"], asset_id=cat.ids["asset_audio"],
                        rendition="preview", key="another-key-" + "y" * 40)
    assert_forbidden(client.get(f"/api/media/{forged}"))
    expired = mint_token(user_id=0, lesson_id=cat.ids["lesson_partial"], asset_id=cat.ids["asset_audio"],
                         rendition="preview", now=time.time() - 3600, ttl=60)
    assert_forbidden(client.get(f"/api/media/{expired}"))
    assert_forbidden(client.get("/api/media/" + "1." * 2000 + "x"))


def test_token_cannot_be_moved_to_another_lesson_or_asset(shop):
    cat, client, engine = shop
    ids = cat.ids
    give_clip(engine, ids["lesson_partial"])
    swapped = mint_token(user_id=0, lesson_id=ids["lesson_partial"], asset_id=ids["asset_paid"], rendition="preview")
    assert_forbidden(client.get(f"/api/media/{swapped}"))
    # a genuine token for a paid lesson held by an anonymous viewer: refused
    paid = mint_token(user_id=0, lesson_id=ids["lesson_paid"], asset_id=ids["asset_paid"], rendition="preview")
    assert_forbidden(client.get(f"/api/media/{paid}"))
    good = _url(engine, None, ids["lesson_partial"]).rsplit("/", 1)[1]
    uid, _lesson, asset, rendition, bind, exp, sig = good.split(".")
    assert_forbidden(client.get(f"/api/media/{uid}.{ids['lesson_paid']}.{asset}.{rendition}.{bind}.{exp}.{sig}"))
    assert_forbidden(client.get(f"/api/media/{uid}.{_lesson}.{asset}.src.{bind}.{exp}.{sig}"))


def test_free_trial_and_bought_lessons_are_not_served_as_whole_files(shop):
    cat, client, engine = shop
    ids = cat.ids
    h = sign_in(engine, client, ids["buyer"])
    _with_renditions(engine, ids["asset_paid"], hd=("hd.mp4", b"HD" * 100), sd=("sd.mp4", b"SD" * 100),
                     audio=("audio.m4a", b"AU" * 100))
    for lesson, asset in (("lesson_paid", "asset_paid"), ("lesson_trial", "asset_video")):
        for rendition in ("src", "hd", "sd", "audio", "preview"):
            token = mint_token(user_id=ids["buyer"], lesson_id=ids[lesson], asset_id=ids[asset], rendition=rendition,
                               binding=session_binding(h))
            assert_forbidden(client.get(f"/api/media/{token}"))
    anonymous = mint_token(user_id=0, lesson_id=ids["lesson_trial"], asset_id=ids["asset_video"], rendition="src")
    assert_forbidden(TestClient(Starlette(routes=media_api.ROUTES)).get(f"/api/media/{anonymous}"))
    # without encrypted HLS yet, the buyer's player has nothing to play (the pipeline makes it)
    with Session(engine) as s:
        media = mint_player_media(s, actor_id=ids["buyer"], lesson_id=ids["lesson_paid"], session_token_hash=h)
    assert media.sources == () and media.preparing


def test_unpublishing_the_course_stops_the_preview_clip(shop):
    cat, client, engine = shop
    give_clip(engine, cat.ids["lesson_partial"])
    url = _url(engine, None, cat.ids["lesson_partial"])
    assert client.get(url).status_code == 200
    with Session(engine) as s:
        course = s.get(Course, cat.ids["phone"])
        course.status = "unpublished"
        s.add(course)
        s.commit()
    assert_forbidden(client.get(url))


def test_clip_key_cannot_escape_the_media_root(shop):
    cat, client, engine = shop
    give_clip(engine, cat.ids["lesson_partial"])
    url = _url(engine, None, cat.ids["lesson_partial"])
    with Session(engine) as s:
        lesson = s.get(Lesson, cat.ids["lesson_partial"])
        lesson.preview_key = "../secret_key"
        s.add(lesson)
        s.commit()
    assert_forbidden(client.get(url))


def test_token_round_trip_and_strictness():
    bind = session_binding("a" * 64)
    token = mint_token(user_id=7, lesson_id=3, asset_id=9, rendition="sd", binding=bind)
    claim = verify_token(token)
    assert (claim.user_id, claim.lesson_id, claim.asset_id, claim.rendition, claim.binding) == (7, 3, 9, "sd", bind)
    assert "a" * 64 not in token and len(bind) == 22  # the session hash itself is not in the URL
    anonymous = verify_token(mint_token(user_id=0, lesson_id=3, asset_id=9, binding=bind))
    assert anonymous.binding == "0"  # anonymous tokens are never tied to a session
    with pytest.raises(ValueError):
        mint_token(user_id=7, lesson_id=3, asset_id=9, rendition="../x")
    uid, rest = token.split(".", 1)
    assert verify_token("07." + rest) is None  # non-canonical number
    for bad in (None, 12, {"t": token}, "", token + "x", token.replace(".", "/")):
        assert verify_token(bad) is None


# ------------------------------------------------------------------ course managers' previews

def _with_renditions(engine, asset_id, **keys):
    with Session(engine) as s:
        asset = s.get(MediaAsset, asset_id)
        folder = asset.storage_key.rsplit("/", 1)[0]
        renditions = dict(asset.renditions or {})
        for name, (filename, data) in keys.items():
            (get_settings().media_dir / folder / filename).write_bytes(data)
            renditions[name] = f"{folder}/{filename}"
        asset.renditions = renditions
        s.add(asset)
        s.commit()


def _make_staff(engine, cat, role: str) -> int:
    with Session(engine) as s:
        user = User(nickname=f"{role}-x", role=role, watermark_code=f"WM{role[:3]}")
        s.add(user)
        s.commit()
        return user.id


def test_managers_preview_media_without_hls_as_whole_files_with_a_totp_session(shop):
    cat, client, engine = shop
    owner = _make_staff(engine, cat, "owner")
    _with_renditions(engine, cat.ids["asset_paid"], hd=("hd.mp4", b"HD" * 100), sd=("sd.mp4", b"SD" * 100),
                     audio=("audio.m4a", b"AU" * 100))
    with Session(engine) as s:
        course = s.get(Course, cat.ids["phone"])
        course.status = "draft"
        s.add(course)
        s.commit()
    h = sign_in(engine, client, owner, mfa=True)
    with Session(engine) as s:
        media = mint_player_media(s, actor_id=owner, lesson_id=cat.ids["lesson_paid"], session_token_hash=h,
                                  mfa_verified=True)
    assert [src.name for src in media.sources] == ["hd", "sd"] and media.listen.name == "audio"
    assert [client.get(src.url).content for src in media.sources] == [b"HD" * 100, b"SD" * 100]
    assert client.get(media.listen.url, headers={"Range": "bytes=0-3"}).content == b"AUAU"
    # the same owner on a session without the TOTP step: refused
    plain = TestClient(Starlette(routes=media_api.ROUTES))
    h2 = sign_in(engine, plain, owner, mfa=False)
    token = mint_token(user_id=owner, lesson_id=cat.ids["lesson_paid"], asset_id=cat.ids["asset_paid"],
                       binding=session_binding(h2))
    assert_forbidden(plain.get(f"/api/media/{token}"))


def test_manager_original_cannot_escape_the_media_root(shop):
    cat, client, engine = shop
    owner = _make_staff(engine, cat, "owner")
    h = sign_in(engine, client, owner, mfa=True)
    with Session(engine) as s:
        media = mint_player_media(s, actor_id=owner, lesson_id=cat.ids["lesson_paid"], session_token_hash=h,
                                  mfa_verified=True)
    assert client.get(media.sources[0].url).content == VIDEO[::-1]
    with Session(engine) as s:
        asset = s.get(MediaAsset, cat.ids["asset_paid"])
        asset.storage_key = "../secret_key"
        s.add(asset)
        s.commit()
    assert_forbidden(client.get(media.sources[0].url))

"""/api/uploads through Starlette's TestClient: chunked upload of a generated clip, resume, the
CSRF header and Origin, size limits, truncated and non-media files, and who may upload where."""

from __future__ import annotations

import dataclasses

import pytest
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

import coursemall.db
from coursemall.api import uploads as uploads_api
from coursemall.models import Lesson, MediaAsset
from coursemall.models.media_pipeline import MediaJob, UploadSession
from coursemall.services.accounts import sessions
from coursemall.services.media import transcode
from coursemall.settings import get_settings
from tests.services.media.test_media_pipeline import build_shop, media_files, probe_height  # noqa: F401

ORIGIN = "http://localhost:3000"
HEADERS = {"X-CourseMall-Upload": "1", "Origin": ORIGIN}
LIMIT = 5 * 1024 * 1024


@pytest.fixture
def env(sqlite_engine, monkeypatch, tmp_path):
    monkeypatch.setattr(coursemall.db, "get_engine", lambda: sqlite_engine)
    settings = dataclasses.replace(get_settings(), media_dir=tmp_path / "media", public_dir=tmp_path / "public",
                                   upload_max_bytes=LIMIT)
    monkeypatch.setattr(uploads_api, "get_settings", lambda: settings)
    with Session(sqlite_engine, expire_on_commit=False) as s:
        shop = build_shop(s)
        tokens = {name: sessions.create_session(s, user_id=uid, mfa_verified=True)
                  for name, uid in (("owner", shop.owner), ("teacher", shop.teacher), ("other", shop.other_teacher),
                                    ("learner", shop.learner))}
        tokens["staff_no_totp"] = sessions.create_session(s, user_id=shop.staff, mfa_verified=False)
        s.commit()
    client = TestClient(Starlette(routes=uploads_api.ROUTES), base_url=ORIGIN)
    return client, tokens, shop, settings, sqlite_engine


def as_user(client, token):
    client.cookies.clear()
    if token:
        client.cookies.set("cm_session", token)
    client.cookies.set("cm_lang", "zh_CN")
    return client


def start(client, lesson_id, size, filename="clip.mp4", headers=HEADERS):
    return client.post("/api/uploads", json={"lesson_id": lesson_id, "filename": filename, "size": size},
                       headers=headers)


def send(client, key: str, data: bytes, chunk: int = 200_000, start_at: int = 0):
    for offset in range(start_at, len(data), chunk):
        r = client.put(f"/api/uploads/{key}?offset={offset}", content=data[offset:offset + chunk], headers=HEADERS)
        assert r.status_code == 200, r.text
        assert r.json()["received"] == min(offset + chunk, len(data))


def rows(engine):
    with Session(engine) as s:
        return {"uploads": len(s.exec(select(UploadSession)).all()), "assets": len(s.exec(select(MediaAsset)).all()),
                "jobs": len(s.exec(select(MediaJob)).all()),
                "lessons": sorted((x.id, x.media_asset_id) for x in s.exec(select(Lesson)))}


def test_chunked_upload_then_job_makes_renditions(env, media_files):
    client, tokens, shop, settings, engine = env
    data = media_files["video"].read_bytes()
    as_user(client, tokens["teacher"])
    r = start(client, shop.video_lesson, len(data))
    assert r.status_code == 201 and r.json()["chunk_max"] == 8 * 1024 * 1024
    key = r.json()["upload_key"]
    half = len(data) // 2
    send(client, key, data[:half], chunk=40_000)
    # resumable: a GET tells where to go on, then the rest
    st = client.get(f"/api/uploads/{key}", headers={"X-CourseMall-Upload": "1"})
    assert st.json()["received"] == half and st.json()["status"] == "uploading"
    send(client, key, data, chunk=40_000, start_at=half)
    done = client.post(f"/api/uploads/{key}/complete", headers=HEADERS)
    assert done.status_code == 200 and done.json()["status"] == "complete", done.text
    # nothing under the public dir, the original under the private media root
    assert not settings.public_dir.exists() or not any(settings.public_dir.rglob("*.mp4"))
    with Session(engine) as s:
        asset = s.get(MediaAsset, done.json()["asset_id"])
        assert (settings.media_dir / asset.storage_key).read_bytes() == data
    transcode.process_one(engine, media_dir=settings.media_dir, public_dir=settings.public_dir, timeout_seconds=120)
    with Session(engine) as s:
        asset = s.get(MediaAsset, done.json()["asset_id"])
        assert asset.status == "ready" and s.get(Lesson, shop.video_lesson).media_asset_id == asset.id
    assert probe_height(settings.media_dir / asset.renditions["hd"]) == 720
    assert probe_height(settings.media_dir / asset.renditions["sd"]) == 360
    assert (settings.public_dir / asset.renditions["poster"]).is_file()


def test_truncated_upload_is_refused_with_a_clear_message(env, media_files):
    client, tokens, shop, _settings, engine = env
    data = media_files["video"].read_bytes()
    as_user(client, tokens["teacher"])
    key = start(client, shop.video_lesson, len(data)).json()["upload_key"]
    send(client, key, data[:50_000])
    before = rows(engine)
    r = client.post(f"/api/uploads/{key}/complete", headers=HEADERS)
    assert r.status_code == 409 and r.json()["code"] == "upload.incomplete"
    assert f"50000 / {len(data)}" in r.json()["error"] and "不完整" in r.json()["error"]
    assert rows(engine) == before


@pytest.mark.parametrize("kind", ["png", "text"])
def test_not_media_is_refused_and_the_lesson_is_unchanged(env, media_files, kind):
    client, tokens, shop, _settings, engine = env
    data = media_files[kind].read_bytes()
    as_user(client, tokens["owner"])
    key = start(client, shop.video_lesson, len(data)).json()["upload_key"]
    send(client, key, data)
    before = rows(engine)
    r = client.post(f"/api/uploads/{key}/complete", headers=HEADERS)
    assert r.status_code == 422 and r.json()["code"] == "upload.not_media"
    assert r.json()["error"] == "这不是可识别的视频或音频文件"
    after = rows(engine)
    assert after["lessons"] == before["lessons"] and after["assets"] == 0 and after["jobs"] == 0


def test_english_messages_follow_the_language_cookie(env):
    client, tokens, shop, _settings, _engine = env
    as_user(client, tokens["teacher"]).cookies.set("cm_lang", "en")
    r = start(client, shop.video_lesson, LIMIT + 1)
    assert r.status_code == 413 and r.json()["error"] == "The file is too large: at most 5 MB"


def test_size_over_the_limit_and_bad_bodies_are_refused(env):
    client, tokens, shop, _settings, engine = env
    as_user(client, tokens["teacher"])
    assert start(client, shop.video_lesson, LIMIT + 1).status_code == 413
    for body in (b"not json", b"[1,2]", b"{" + b" " * 5000 + b"}"):
        r = client.post("/api/uploads", content=body, headers=HEADERS)
        assert r.status_code == 400 and r.json()["code"] == "upload.bad_json"
    assert start(client, shop.video_lesson, "12").json()["code"] == "upload.bad_size"
    key = start(client, shop.video_lesson, 20 * 1024 * 1024 // 4).json()["upload_key"]
    big = client.put(f"/api/uploads/{key}?offset=0", content=b"x" * (8 * 1024 * 1024 + 1), headers=HEADERS)
    assert big.status_code == 413 and big.json()["code"] == "upload.chunk_too_large"
    assert client.put(f"/api/uploads/{key}?offset=abc", content=b"x", headers=HEADERS).status_code == 409
    client.put(f"/api/uploads/{key}?offset=0", content=b"x" * 10, headers=HEADERS)
    overlap = client.put(f"/api/uploads/{key}?offset=5", content=b"y" * 10, headers=HEADERS)
    assert overlap.status_code == 409 and "10" in overlap.json()["error"]
    assert rows(engine)["uploads"] == 1


@pytest.mark.parametrize("who,status", [("learner", 403), (None, 403), ("staff_no_totp", 403), ("other", 404)])
def test_who_may_upload(env, who, status):
    client, tokens, shop, _settings, engine = env
    as_user(client, tokens[who] if who else None)
    before = rows(engine)
    r = start(client, shop.video_lesson, 1000)
    assert r.status_code == status and r.json()["ok"] is False
    assert rows(engine) == before


def test_uploads_of_another_user_are_not_found(env):
    client, tokens, shop, _settings, _engine = env
    as_user(client, tokens["teacher"])
    key = start(client, shop.video_lesson, 1000).json()["upload_key"]
    as_user(client, tokens["other"])
    assert client.put(f"/api/uploads/{key}?offset=0", content=b"x", headers=HEADERS).status_code == 404
    assert client.get(f"/api/uploads/{key}", headers=HEADERS).status_code == 404
    assert client.delete(f"/api/uploads/{key}", headers=HEADERS).status_code == 404
    as_user(client, tokens["teacher"])
    assert client.delete(f"/api/uploads/{key}", headers=HEADERS).json()["status"] == "aborted"
    assert client.put(f"/api/uploads/{key}?offset=0", content=b"x", headers=HEADERS).status_code == 409


@pytest.mark.parametrize("headers", [
    {"Origin": ORIGIN},  # no custom header (a plain cross-site form could send this)
    {"X-CourseMall-Upload": "1", "Origin": "https://evil.example"},
    {"X-CourseMall-Upload": "1"},  # no Origin on a write
    {"X-CourseMall-Upload": "1", "Origin": "null"},
])
def test_csrf_header_and_origin_are_required(env, headers):
    client, tokens, shop, _settings, engine = env
    as_user(client, tokens["owner"])
    r = start(client, shop.video_lesson, 1000, headers=headers)
    assert r.status_code == 403 and r.json()["code"] == "upload.csrf"
    assert rows(engine)["uploads"] == 0


# ---------------------------------------------------------------------------------- encrypted HLS

@pytest.fixture
def hls_lesson(env, media_files, monkeypatch):
    """The video lesson of a published course, transcoded (with HLS), and a buyer."""
    from coursemall.api import hls as hls_api
    from coursemall.models import Course, Entitlement
    from tests.services.media.test_media_pipeline import upload_file

    client, tokens, shop, settings, engine = env
    monkeypatch.setattr(hls_api, "get_settings", lambda: settings)
    view = upload_file(engine, actor=shop.teacher, lesson=shop.video_lesson, path=media_files["video"],
                       media_dir=settings.media_dir)
    transcode.process_one(engine, media_dir=settings.media_dir, public_dir=settings.public_dir, timeout_seconds=120)
    with Session(engine) as s:
        course = s.get(Course, shop.course)
        course.status = "published"
        s.add(course)
        s.add(Entitlement(user_id=shop.learner, course_id=shop.course, source="order"))
        s.commit()
    hls_client = TestClient(Starlette(routes=hls_api.ROUTES), base_url=ORIGIN)

    def playlist_for(who: str) -> str:
        """The HD playlist URL the player would get, bound to `who`'s session."""
        from coursemall.services.learning.media_access import mint_player_media

        with Session(engine) as s:
            uid = sessions.resolve_session(s, token_hash_hex=sessions.token_hash(tokens[who])).user_id
            return mint_player_media(s, actor_id=uid, lesson_id=shop.video_lesson,
                                     session_token_hash=sessions.token_hash(tokens[who])).sources[0].url

    return hls_client, tokens, shop, engine, playlist_for


def _key_url(playlist_url: str, text: str) -> str:
    import re

    return playlist_url.split("index.m3u8", 1)[0] + re.search(r'URI="([^"]+)"', text).group(1)


def _decrypt(segment: bytes, key: bytes, iv: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return decryptor.update(segment) + decryptor.finalize()


def test_buyer_gets_playlist_key_and_segments_that_decrypt(hls_lesson):
    client, tokens, _shop, _engine, playlist_for = hls_lesson
    url = playlist_for("learner")
    as_user(client, tokens["learner"])
    playlist = client.get(url)
    assert playlist.status_code == 200 and playlist.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    assert playlist.headers["cache-control"] == "private, no-store"
    iv = bytes.fromhex(playlist.text.split("IV=0x", 1)[1][:32])
    key = client.get(_key_url(url, playlist.text))
    assert key.status_code == 200 and len(key.content) == 16
    segment = client.get(url.split("index.m3u8", 1)[0] + "seg0000.ts")
    assert segment.status_code == 200
    assert not (segment.content[0] == 0x47 and segment.content[188] == 0x47)  # not plain MPEG-TS
    clear = _decrypt(segment.content, key.content, iv)
    assert clear[0] == 0x47 and clear[188] == 0x47  # MPEG-TS sync bytes once decrypted


@pytest.mark.parametrize("who", [None, "other"])
def test_key_is_refused_without_access(hls_lesson, who):
    client, tokens, _shop, _engine, playlist_for = hls_lesson
    url = playlist_for("learner")
    as_user(client, tokens["learner"])
    key = _key_url(url, client.get(url).text)
    as_user(client, tokens[who] if who else None)
    for target in (url, key, url.split("index.m3u8", 1)[0] + "seg0000.ts"):
        r = client.get(target)
        assert r.status_code == 403 and len(r.content) < 20


def test_revoked_entitlement_stops_the_key_and_paths_cannot_escape(hls_lesson):
    from coursemall.models import Entitlement, utcnow

    client, tokens, shop, engine, playlist_for = hls_lesson
    url = playlist_for("learner")
    as_user(client, tokens["learner"])
    key = _key_url(url, client.get(url).text)
    assert client.get(key).status_code == 200
    base = url.split("index.m3u8", 1)[0]
    for bad in ("../original.mp4", "key.bin", "hd.mp4", "index.m3u8%00", "seg1.ts", "..%2Fhd.mp4", "../../hd.mp4"):
        assert client.get(base + bad).status_code in (403, 404)
    other_asset = key.replace(f"/{shop.video_lesson}/", f"/{shop.other_lesson}/")
    assert client.get(other_asset).status_code == 403
    with Session(engine) as s:
        grant = s.exec(select(Entitlement).where(Entitlement.user_id == shop.learner)).one()
        grant.revoked_at = utcnow()
        s.add(grant)
        s.commit()
    assert client.get(key).status_code == 403


# ---------------------------------------------------------------------------------- hostile files

@pytest.mark.parametrize("lang,message", [
    ("zh_CN", "这是播放列表或清单文件（如 HLS、DASH、拼接列表），不是音视频文件：请上传 MP4、MOV、MKV、WebM、MP3、M4A、AAC、WAV、FLAC 或 OGG"),
    ("en", "This is a playlist or manifest (HLS, DASH, a concat list), not a video or audio file: upload MP4, MOV, "
           "MKV, WebM, MP3, M4A, AAC, WAV, FLAC or OGG"),
])
def test_a_manifest_disguised_as_a_video_is_refused_with_a_clear_message(env, lang, message, tmp_path):
    client, tokens, shop, _settings, engine = env
    data = (b'<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static"><Period>'
            b"<AdaptationSet><Representation id=\"1\"><BaseURL>file:///etc/passwd</BaseURL></Representation>"
            b"</AdaptationSet></Period></MPD>\n")
    as_user(client, tokens["teacher"]).cookies.set("cm_lang", lang)
    key = start(client, shop.video_lesson, len(data), filename="lesson.mp4").json()["upload_key"]
    send(client, key, data)
    before = rows(engine)
    r = client.post(f"/api/uploads/{key}/complete", headers=HEADERS)
    assert r.status_code == 422 and r.json()["code"] == "upload.manifest_refused"
    assert r.json()["error"] == message
    after = rows(engine)
    assert after["lessons"] == before["lessons"] and after["assets"] == 0 and after["jobs"] == 0

"""/api/hls: encrypted HLS for buyers (and free-trial viewers) only, playlist and key URLs bound to
the viewer's session, everything re-checked on every request, and every segment served to a
learner with a purchase counted once (also under concurrent requests). SQLite and PostgreSQL.

The variants are small hand-written VOD playlists with random "encrypted" segments: this file is
about who gets which bytes (tests/api/test_uploads.py decrypts a real one made by the pipeline)."""

from __future__ import annotations

import re
import secrets
import shutil
import threading
import uuid
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from coursemall.api import hls as hls_api
from coursemall.api import media as media_api
from coursemall.media.tokens import mint_token, session_binding, verify_token
from coursemall.models import Course, Entitlement, Lesson, MediaAsset, User, utcnow
from coursemall.models.media_pipeline import ServedSegment
from coursemall.services.accounts import sessions
from coursemall.services.learning.consumption import consumption
from coursemall.services.learning.media_access import HLS_MIME, mint_player_media
from coursemall.settings import get_settings
from tests.services.catalog_fixture import build_catalog

SEGMENTS = (4.0, 4.0, 1.5)  # seconds


def write_variant(folder, segments=SEGMENTS) -> dict[str, bytes]:
    """A VOD playlist like ffmpeg writes it, a key and random segment bytes; returns the files."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"key.bin": secrets.token_bytes(16)}
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:4", "#EXT-X-MEDIA-SEQUENCE:0",
             "#EXT-X-PLAYLIST-TYPE:VOD", f'#EXT-X-KEY:METHOD=AES-128,URI="key",IV=0x{secrets.token_hex(16)}']
    for i, seconds in enumerate(segments):
        name = f"seg{i:04d}.ts"
        files[name] = secrets.token_bytes(1880)
        lines += [f"#EXTINF:{seconds:.6f},", name]
    lines.append("#EXT-X-ENDLIST")
    files["index.m3u8"] = ("\n".join(lines) + "\n").encode()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


def give_hls(engine, asset_id: int, root_key: str, variants=("hd", "sd", "audio")) -> dict[str, dict[str, bytes]]:
    made = {}
    with Session(engine) as s:
        asset = s.get(MediaAsset, asset_id)
        renditions = dict(asset.renditions or {})
        for variant in variants:
            key = f"{root_key}/a{asset_id}/hls/{variant}"
            made[variant] = write_variant(get_settings().media_dir / key)
            renditions[f"hls_{variant}"] = key
        asset.renditions = renditions
        s.add(asset)
        s.commit()
    return made


@pytest.fixture
def shop(db_engine, monkeypatch):
    prefix = f"h{uuid.uuid4().hex[:10]}"
    root = get_settings().media_dir
    (root / prefix).mkdir(parents=True, exist_ok=True)
    with Session(db_engine, expire_on_commit=False) as s:
        cat = build_catalog(s, media_prefix=prefix)
    files = {"paid": give_hls(db_engine, cat.ids["asset_paid"], prefix),
             "trial": give_hls(db_engine, cat.ids["asset_video"], prefix),
             "audio": give_hls(db_engine, cat.ids["asset_audio"], prefix, variants=("audio",))}

    @contextmanager
    def scope():
        with Session(db_engine, expire_on_commit=False) as s:
            yield s
            s.commit()

    monkeypatch.setattr(hls_api, "session_scope", scope)
    monkeypatch.setattr(media_api, "session_scope", scope)
    yield cat, db_engine, files
    shutil.rmtree(root / prefix, ignore_errors=True)


def client() -> TestClient:
    return TestClient(Starlette(routes=[*hls_api.ROUTES, *media_api.ROUTES]))


def sign_in(engine, c: TestClient, user_id: int, *, mfa: bool = False) -> str:
    with Session(engine) as s:
        token = sessions.create_session(s, user_id=user_id, mfa_verified=mfa)
        s.commit()
    c.cookies.set(sessions.SESSION_COOKIE, token)
    return sessions.token_hash(token)


def player_media(engine, user_id, lesson_id, session_hash="", mfa=False):
    with Session(engine) as s:
        return mint_player_media(s, actor_id=user_id, lesson_id=lesson_id, session_token_hash=session_hash,
                                 mfa_verified=mfa)


def buyer(shop, lesson_key="lesson_paid"):
    """The buyer's browser and the player's sources for the lesson."""
    cat, engine, _files = shop
    c = client()
    h = sign_in(engine, c, cat.ids["buyer"])
    return c, player_media(engine, cat.ids["buyer"], cat.ids[lesson_key], h)


def key_url(playlist_url: str, playlist_text: str) -> str:
    uri = re.search(r'URI="([^"]+)"', playlist_text).group(1)
    return playlist_url.split("index.m3u8", 1)[0] + uri


def segment_url(playlist_url: str, name: str = "seg0000.ts") -> str:
    return playlist_url.split("index.m3u8", 1)[0] + name


def assert_forbidden(resp, files=None):
    assert resp.status_code == 403, resp.status_code
    assert resp.content == b"forbidden" and resp.headers["cache-control"] == "private, no-store"


def served_rows(engine, user_id):
    with Session(engine) as s:
        return sorted((r.lesson_id, r.segment, r.duration_ms)
                      for r in s.exec(select(ServedSegment).where(ServedSegment.user_id == user_id)))


# ------------------------------------------------------------------ the buyer plays

def test_buyer_gets_variant_playlists_key_and_segments(shop):
    cat, engine, files = shop
    c, media = buyer(shop)
    assert [s.name for s in media.sources] == ["hd", "sd"] and media.listen.name == "audio"
    assert all(s.mime == HLS_MIME and s.url.startswith("/api/hls/") for s in (*media.sources, media.listen))
    for source, variant in ((media.sources[0], "hd"), (media.sources[1], "sd"), (media.listen, "audio")):
        playlist = c.get(source.url)
        assert playlist.status_code == 200 and playlist.headers["content-type"].startswith(HLS_MIME)
        assert playlist.headers["cache-control"] == "private, no-store"
        text = playlist.text
        assert "seg0000.ts\n" in text and "#EXT-X-ENDLIST" in text  # segments stay relative, untokened
        key = c.get(key_url(source.url, text))
        assert key.status_code == 200 and key.content == files["paid"][variant]["key.bin"]
        for name in ("seg0000.ts", "seg0002.ts"):
            seg = c.get(segment_url(source.url, name))
            assert seg.status_code == 200 and seg.content == files["paid"][variant][name]
            assert seg.headers["content-type"] == "video/mp2t"
    # the key URI carries a token for this user, lesson, asset, variant and session
    claim = verify_token(re.search(r'key\?t=([^"]+)"', c.get(media.sources[0].url).text).group(1))
    assert (claim.user_id, claim.lesson_id, claim.asset_id, claim.rendition) == (
        cat.ids["buyer"], cat.ids["lesson_paid"], cat.ids["asset_paid"], "key-hd")


def test_audio_lessons_play_their_encrypted_audio(shop):
    cat, engine, files = shop
    with Session(engine) as s:
        s.add(Entitlement(user_id=cat.ids["stranger"], course_id=cat.ids["phone"], source="order", source_ref="A1"))
        s.commit()
    c = client()
    h = sign_in(engine, c, cat.ids["stranger"])
    media = player_media(engine, cat.ids["stranger"], cat.ids["lesson_partial"], h)
    assert [s.name for s in media.sources] == ["src"] and media.listen is None
    playlist = c.get(media.sources[0].url)
    assert playlist.status_code == 200
    assert c.get(key_url(media.sources[0].url, playlist.text)).content == files["audio"]["audio"]["key.bin"]


def test_free_trial_lessons_play_hls_without_a_sign_in(shop):
    cat, engine, files = shop
    media = player_media(engine, None, cat.ids["lesson_trial"])
    anonymous = client()
    playlist = anonymous.get(media.sources[0].url)
    assert playlist.status_code == 200
    assert anonymous.get(key_url(media.sources[0].url, playlist.text)).status_code == 200
    assert anonymous.get(segment_url(media.sources[0].url)).content == files["trial"]["hd"]["seg0000.ts"]


# ------------------------------------------------------------------ everyone else gets nothing

def _all_urls(shop, media, c):
    """Playlist, key and segment URLs of every source, as the owner of `c` sees them."""
    urls = []
    for source in (*media.sources, *( [media.listen] if media.listen else [])):
        text = c.get(source.url).text
        urls += [source.url, key_url(source.url, text), segment_url(source.url), segment_url(source.url, "seg0001.ts")]
    return urls


@pytest.mark.parametrize("who", ["anonymous", "stranger", "expired_buyer", "buyer_other_session"])
def test_copied_playlist_key_and_segment_urls_are_refused_elsewhere(shop, who):
    cat, engine, _files = shop
    c, media = buyer(shop)
    urls = _all_urls(shop, media, c)
    assert all(c.get(u).status_code == 200 for u in urls)
    other = client()
    if who != "anonymous":
        sign_in(engine, other, cat.ids["buyer" if who == "buyer_other_session" else who])
    for url in urls:
        if who == "buyer_other_session" and "/seg" in url:
            continue  # segments need only the cookie's access: the same buyer may have them
        assert_forbidden(other.get(url))


def test_partial_viewers_and_non_buyers_get_no_hls_at_all(shop):
    cat, engine, _files = shop
    for lesson in ("lesson_paid", "lesson_partial"):
        for variant in ("hd", "sd", "audio"):
            asset = cat.ids["asset_paid" if lesson == "lesson_paid" else "asset_audio"]
            genuine = mint_token(user_id=0, lesson_id=cat.ids[lesson], asset_id=asset, rendition=f"hls-{variant}")
            base = f"/api/hls/{cat.ids[lesson]}/{asset}/{variant}/"
            anonymous = client()
            for url in (f"{base}index.m3u8?t={genuine}", f"{base}seg0000.ts", f"{base}key?t={genuine}"):
                assert_forbidden(anonymous.get(url))
    # the partial lesson's player gets the clip source only (none yet: "being prepared")
    media = player_media(engine, None, cat.ids["lesson_partial"])
    assert media.sources == () and media.preparing


def test_revoked_entitlement_stops_playlist_key_and_segments(shop):
    cat, engine, _files = shop
    c, media = buyer(shop)
    urls = _all_urls(shop, media, c)
    with Session(engine) as s:
        for grant in s.exec(select(Entitlement).where(Entitlement.user_id == cat.ids["buyer"])).all():
            grant.revoked_at = utcnow()
            s.add(grant)
        s.commit()
    for url in urls:
        assert_forbidden(c.get(url))


def test_signed_out_session_stops_everything(shop):
    cat, engine, _files = shop
    c, media = buyer(shop)
    urls = _all_urls(shop, media, c)
    with Session(engine) as s:
        sessions.revoke_session_by_hash(s, token_hash_hex=sessions.token_hash(c.cookies[sessions.SESSION_COOKIE]))
        s.commit()
    for url in urls:
        assert_forbidden(c.get(url))


def test_tokens_cannot_be_moved_between_variants_lessons_or_kinds(shop):
    cat, engine, _files = shop
    c, media = buyer(shop)
    hd = media.sources[0].url
    token = hd.split("?t=", 1)[1]
    text = c.get(hd).text
    key_token = re.search(r'key\?t=([^"]+)"', text).group(1)
    base = hd.split("hd/index.m3u8", 1)[0]
    assert_forbidden(c.get(f"{base}sd/index.m3u8?t={token}"))  # hd token on the sd playlist
    assert_forbidden(c.get(f"{base}hd/key?t={token}"))  # a playlist token is no key token
    assert_forbidden(c.get(f"{base}hd/index.m3u8?t={key_token}"))  # and the other way round
    assert_forbidden(c.get(f"{base}sd/key?t={key_token}"))
    assert_forbidden(c.get(f"{base}hd/index.m3u8"))  # no token
    assert_forbidden(c.get(f"{base}hd/index.m3u8?t=" + token[:-2] + "AA"))  # forged
    expired = mint_token(user_id=cat.ids["buyer"], lesson_id=cat.ids["lesson_paid"], asset_id=cat.ids["asset_paid"],
                         rendition="hls-hd", ttl=60, now=utcnow().timestamp() - 3600,
                         binding=verify_token(token).binding)
    assert_forbidden(c.get(f"{base}hd/index.m3u8?t={expired}"))
    # another asset (the trial lesson's) under the paid lesson's URL
    moved = hd.replace(f"/{cat.ids['asset_paid']}/", f"/{cat.ids['asset_video']}/")
    assert_forbidden(c.get(moved))
    for bad in ("../hd/key.bin", "key.bin", "seg1.ts", "seg0000.ts%00", "index.m3u8.bak", "..%2Fsd%2Fkey"):
        assert c.get(f"{base}hd/{bad}").status_code in (403, 404)
    assert c.get(f"{base}xx/seg0000.ts").status_code == 403


def test_unpublishing_stops_free_trial_hls_and_drip_locks_the_buyer(shop):
    cat, engine, _files = shop
    trial = player_media(engine, None, cat.ids["lesson_trial"]).sources[0].url
    anonymous = client()
    assert anonymous.get(trial).status_code == 200
    c, media = buyer(shop)
    with Session(engine) as s:
        course = s.get(Course, cat.ids["phone"])
        lesson = s.get(Lesson, cat.ids["lesson_paid"])
        lesson.release_at = utcnow() + timedelta(days=2)
        course.status = "unpublished"
        s.add_all([course, lesson])
        s.commit()
    assert_forbidden(anonymous.get(trial))
    assert_forbidden(c.get(media.sources[0].url))
    assert_forbidden(c.get(segment_url(media.sources[0].url)))


def test_drip_release_after_days_counts_from_the_grant(shop):
    cat, engine, _files = shop
    with Session(engine) as s:
        lesson = s.get(Lesson, cat.ids["lesson_paid"])
        lesson.release_after_days = 3
        grant = s.exec(select(Entitlement).where(Entitlement.user_id == cat.ids["buyer"])).one()
        grant.granted_at = utcnow() - timedelta(days=1)
        s.add_all([lesson, grant])
        s.commit()
    c = client()
    h = sign_in(engine, c, cat.ids["buyer"])
    token = mint_token(user_id=cat.ids["buyer"], lesson_id=cat.ids["lesson_paid"], asset_id=cat.ids["asset_paid"],
                       rendition="hls-hd", binding=session_binding(h))
    url = f"/api/hls/{cat.ids['lesson_paid']}/{cat.ids['asset_paid']}/hd/index.m3u8?t={token}"
    assert_forbidden(c.get(url))
    assert_forbidden(c.get(segment_url(url)))
    with Session(engine) as s:
        grant = s.exec(select(Entitlement).where(Entitlement.user_id == cat.ids["buyer"])).one()
        grant.granted_at = utcnow() - timedelta(days=3, minutes=1)
        s.add(grant)
        s.commit()
    assert c.get(url).status_code == 200 and c.get(segment_url(url)).status_code == 200


def test_a_separate_audio_asset_is_the_listen_track(shop):
    cat, engine, files = shop
    with Session(engine) as s:
        asset = s.get(MediaAsset, cat.ids["asset_paid"])
        asset.renditions = {k: v for k, v in asset.renditions.items() if k != "hls_audio"}
        lesson = s.get(Lesson, cat.ids["lesson_paid"])
        lesson.audio_asset_id = cat.ids["asset_audio"]
        s.add_all([asset, lesson])
        s.commit()
    c, media = buyer(shop)
    assert media.listen.url.startswith(f"/api/hls/{cat.ids['lesson_paid']}/{cat.ids['asset_audio']}/audio/")
    playlist = c.get(media.listen.url)
    assert playlist.status_code == 200
    assert c.get(key_url(media.listen.url, playlist.text)).content == files["audio"]["audio"]["key.bin"]
    assert c.get(segment_url(media.listen.url)).content == files["audio"]["audio"]["seg0000.ts"]


def test_manager_preview_without_totp_gets_nothing_and_with_totp_is_not_metered(shop):
    cat, engine, _files = shop
    with Session(engine) as s:
        owner = User(nickname="owner-h", role="owner", watermark_code="WMOWN")
        s.add(owner)
        s.commit()
        owner_id = owner.id
    plain = client()
    h = sign_in(engine, plain, owner_id, mfa=False)
    token = mint_token(user_id=owner_id, lesson_id=cat.ids["lesson_paid"], asset_id=cat.ids["asset_paid"],
                       rendition="hls-hd", binding=session_binding(h))
    assert_forbidden(plain.get(f"/api/hls/{cat.ids['lesson_paid']}/{cat.ids['asset_paid']}/hd/index.m3u8?t={token}"))
    verified = client()
    h2 = sign_in(engine, verified, owner_id, mfa=True)
    media = player_media(engine, owner_id, cat.ids["lesson_paid"], h2, mfa=True)
    for url in _all_urls(shop, media, verified):
        assert verified.get(url).status_code == 200
    assert served_rows(engine, owner_id) == []


# ------------------------------------------------------------------ /api/media: whole files are gone

def test_whole_files_of_a_paid_lesson_are_not_served_to_learners(shop):
    cat, engine, _files = shop
    c = client()
    h = sign_in(engine, c, cat.ids["buyer"])
    for rendition in ("src", "hd", "sd", "audio", "preview"):
        token = mint_token(user_id=cat.ids["buyer"], lesson_id=cat.ids["lesson_paid"], asset_id=cat.ids["asset_paid"],
                           rendition=rendition, binding=session_binding(h))
        assert_forbidden(c.get(f"/api/media/{token}"))


# ------------------------------------------------------------------ metering

def test_each_segment_and_the_key_count_once_per_learner_and_lesson(shop):
    cat, engine, _files = shop
    c, media = buyer(shop)
    hd, sd = media.sources
    text = c.get(hd.url).text
    for _ in range(3):  # repeats (seeking back, retries) count once
        c.get(segment_url(hd.url, "seg0000.ts"))
    c.get(segment_url(hd.url, "seg0002.ts"))
    c.get(segment_url(sd.url, "seg0000.ts"))  # SD of the same seconds: the same segment index
    c.get(key_url(hd.url, text))
    lesson = cat.ids["lesson_paid"]
    assert served_rows(engine, cat.ids["buyer"]) == [(lesson, -1, 0), (lesson, 0, 4000), (lesson, 2, 1500)]
    with Session(engine) as s:
        used = consumption(s, cat.ids["buyer"], [cat.ids["phone"]])
    # 5.5 s of the course's 600 + 420 + 125 media seconds
    assert (used.served_seconds, used.media_seconds, used.served_pct) == (5, 1145, 0)
    # free-trial lessons watched by someone without a purchase, and playlists, are not counted
    stranger = client()
    sign_in(engine, stranger, cat.ids["stranger"])
    trial = player_media(engine, cat.ids["stranger"], cat.ids["lesson_trial"],
                         sessions.token_hash(stranger.cookies[sessions.SESSION_COOKIE])).sources[0].url
    assert stranger.get(segment_url(trial)).status_code == 200
    assert served_rows(engine, cat.ids["stranger"]) == []


def test_concurrent_segment_requests_count_each_segment_once(shop):
    cat, engine, _files = shop
    _c, media = buyer(shop)
    cookie = _c.cookies[sessions.SESSION_COOKIE]
    urls = [segment_url(src.url, f"seg{i:04d}.ts") for src in media.sources for i in range(len(SEGMENTS))] * 3
    errors: list[BaseException] = []
    statuses: list[int] = []
    barrier = threading.Barrier(6)

    def worker(part: list[str]) -> None:
        try:
            c = client()
            c.cookies.set(sessions.SESSION_COOKIE, cookie)
            barrier.wait(timeout=30)
            for url in part:
                statuses.append(c.get(url).status_code)
        except BaseException as exc:  # noqa: BLE001 - reported below: a crashed worker fails the test
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(urls[i::6],)) for i in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not any(th.is_alive() for th in threads), "a worker hung"
    assert errors == [] and statuses == [200] * len(urls)
    lesson = cat.ids["lesson_paid"]
    assert served_rows(engine, cat.ids["buyer"]) == [(lesson, 0, 4000), (lesson, 1, 4000), (lesson, 2, 1500)]

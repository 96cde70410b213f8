"""GET /api/media/{token}: signed, short-lived, bound to the viewer's session, re-checked on every
request, Range-capable; one token per rendition (HD/SD/listen), drip release and manager previews."""

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
from coursemall.services import sessions
from coursemall.services.media_access import mint_lesson_media_url, mint_player_media
from coursemall.settings import get_settings
from tests.services.catalog_fixture import build_catalog

VIDEO = bytes(range(256)) * 40  # 10,240 bytes
AUDIO = b"ID3" + b"\x01" * 5000


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


def _url(engine, actor, lesson_id, session_hash: str = "") -> str:
    with Session(engine) as s:
        return mint_lesson_media_url(s, actor_id=actor, lesson_id=lesson_id, session_token_hash=session_hash).url


def buyer_url(shop, lesson_key: str = "lesson_paid") -> str:
    """The buyer signs in on `client` and gets a URL bound to that session."""
    cat, client, engine = shop
    h = sign_in(engine, client, cat.ids["buyer"])
    return _url(engine, cat.ids["buyer"], cat.ids[lesson_key], h)


def assert_forbidden(resp):
    assert resp.status_code == 403
    assert VIDEO[:64] not in resp.content and len(resp.content) < 100
    assert resp.headers.get("cache-control") == "private, no-store"


def test_valid_token_serves_the_file(shop):
    cat, client, engine = shop
    resp = client.get(_url(engine, None, cat.ids["lesson_trial"]))
    assert resp.status_code == 200
    assert resp.content == VIDEO
    assert resp.headers["content-type"] == "video/mp4"
    assert resp.headers["accept-ranges"] == "bytes"
    assert resp.headers["cache-control"] == "private, no-store"


def test_range_gives_206_with_content_range(shop):
    cat, client, engine = shop
    url = _url(engine, None, cat.ids["lesson_trial"])
    resp = client.get(url, headers={"Range": "bytes=100-199"})
    assert resp.status_code == 206
    assert resp.headers["content-range"] == f"bytes 100-199/{len(VIDEO)}"
    assert resp.content == VIDEO[100:200]
    tail = client.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == VIDEO[-10:]
    bad = client.get(url, headers={"Range": f"bytes={len(VIDEO) + 5}-"})
    assert bad.status_code == 416


def test_missing_forged_and_expired_tokens_are_refused(shop):
    cat, client, engine = shop
    good = _url(engine, None, cat.ids["lesson_trial"]).rsplit("/", 1)[1]
    assert client.get("/api/media/").status_code in (403, 404)
    assert_forbidden(client.get("/api/media/x"))
    body, sig = good.rsplit(".", 1)
    flipped = sig[:-1] + ("A" if sig[-1] != "A" else "B")
    assert_forbidden(client.get(f"/api/media/{body}.{flipped}"))
    forged = mint_token(user_id=0, lesson_id=cat.ids["lesson_trial"], asset_id=cat.ids["asset_video"],
                        key="another-key-" + "y" * 40)
    assert_forbidden(client.get(f"/api/media/{forged}"))
    expired = mint_token(user_id=0, lesson_id=cat.ids["lesson_trial"], asset_id=cat.ids["asset_video"],
                         now=time.time() - 3600, ttl=60)
    assert_forbidden(client.get(f"/api/media/{expired}"))
    assert_forbidden(client.get("/api/media/" + "1." * 2000 + "x"))


def test_token_cannot_be_moved_to_another_lesson_or_asset(shop):
    cat, client, engine = shop
    ids = cat.ids
    # A genuine token for the trial lesson but naming the paid lesson's asset: refused.
    swapped = mint_token(user_id=0, lesson_id=ids["lesson_trial"], asset_id=ids["asset_paid"])
    assert_forbidden(client.get(f"/api/media/{swapped}"))
    # A token (even genuine) for a paid lesson held by an anonymous viewer: refused.
    paid = mint_token(user_id=0, lesson_id=ids["lesson_paid"], asset_id=ids["asset_paid"])
    assert_forbidden(client.get(f"/api/media/{paid}"))
    # Editing the lesson id inside a genuine token breaks the signature.
    good = _url(engine, None, ids["lesson_trial"]).rsplit("/", 1)[1]
    uid, _lesson, asset, rendition, bind, exp, sig = good.split(".")
    assert_forbidden(client.get(f"/api/media/{uid}.{ids['lesson_paid']}.{asset}.{rendition}.{bind}.{exp}.{sig}"))
    # ... and so does renaming the rendition.
    assert_forbidden(client.get(f"/api/media/{uid}.{_lesson}.{asset}.hd.{bind}.{exp}.{sig}"))


def test_paid_lesson_cannot_be_minted_for_anonymous_but_can_for_buyer(shop):
    from coursemall.domain.errors import DomainError

    cat, client, engine = shop
    with Session(engine) as s, pytest.raises(DomainError):
        mint_lesson_media_url(s, actor_id=None, lesson_id=cat.ids["lesson_paid"])
    with Session(engine) as s, pytest.raises(DomainError):
        mint_lesson_media_url(s, actor_id=cat.ids["stranger"], lesson_id=cat.ids["lesson_paid"])
    resp = client.get(buyer_url(shop))
    assert resp.status_code == 200 and resp.content == VIDEO[::-1]


def test_revoked_entitlement_stops_playback(shop):
    cat, client, engine = shop
    url = buyer_url(shop)
    assert client.get(url, headers={"Range": "bytes=0-9"}).status_code == 206
    with Session(engine) as s:
        ent = s.exec(select(Entitlement).where(Entitlement.user_id == cat.ids["buyer"])).one()
        ent.revoked_at = utcnow()
        s.add(ent)
        s.commit()
    assert_forbidden(client.get(url, headers={"Range": "bytes=10-19"}))


def test_unpublishing_the_course_stops_trial_playback(shop):
    cat, client, engine = shop
    url = _url(engine, None, cat.ids["lesson_trial"])
    with Session(engine) as s:
        course = s.get(Course, cat.ids["phone"])
        course.status = "unpublished"
        s.add(course)
        s.commit()
    assert_forbidden(client.get(url))


def test_partial_trial_serves_preview_rendition_when_present(shop):
    cat, client, engine = shop
    url = _url(engine, None, cat.ids["lesson_partial"])
    assert client.get(url).content == AUDIO
    with Session(engine) as s:
        asset = s.get(MediaAsset, cat.ids["asset_audio"])
        folder = asset.storage_key.rsplit("/", 1)[0]
        (get_settings().media_dir / folder / "preview.mp3").write_bytes(b"ID3preview")
        asset.renditions = {"preview": f"{folder}/preview.mp3"}
        s.add(asset)
        s.commit()
    resp = client.get(url)
    assert resp.status_code == 200 and resp.content == b"ID3preview"
    assert resp.headers["content-type"] == "audio/mpeg"


def test_storage_key_cannot_escape_the_media_root(shop):
    cat, client, engine = shop
    with Session(engine) as s:
        asset = s.get(MediaAsset, cat.ids["asset_video"])
        asset.storage_key = "../secret_key"
        s.add(asset)
        s.commit()
    assert_forbidden(client.get(_url(engine, None, cat.ids["lesson_trial"])))


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


# ------------------------------------------------------------------ renditions

def _with_renditions(engine, asset_id, **keys):
    with Session(engine) as s:
        asset = s.get(MediaAsset, asset_id)
        folder = asset.storage_key.rsplit("/", 1)[0]
        renditions = {}
        for name, (filename, data) in keys.items():
            (get_settings().media_dir / folder / filename).write_bytes(data)
            renditions[name] = f"{folder}/{filename}"
        asset.renditions = renditions
        s.add(asset)
        s.commit()


def test_one_token_per_rendition_each_serves_its_own_file(shop):
    cat, client, engine = shop
    _with_renditions(engine, cat.ids["asset_paid"], hd=("hd.mp4", b"HD" * 100), sd=("sd.mp4", b"SD" * 100),
                     audio=("audio.m4a", b"AU" * 100))
    h = sign_in(engine, client, cat.ids["buyer"])
    with Session(engine) as s:
        media = mint_player_media(s, actor_id=cat.ids["buyer"], lesson_id=cat.ids["lesson_paid"],
                                  session_token_hash=h)
    assert [src.name for src in media.sources] == ["hd", "sd"] and media.listen.name == "audio"
    hd, sd = (client.get(src.url) for src in media.sources)
    assert hd.content == b"HD" * 100 and hd.headers["content-type"] == "video/mp4"
    assert sd.content == b"SD" * 100
    audio = client.get(media.listen.url, headers={"Range": "bytes=0-3"})
    assert audio.status_code == 206 and audio.content == b"AUAU" and audio.headers["content-type"] == "audio/mp4"
    # every token names its rendition; all are bound to the same user, lesson and asset
    claims = [verify_token(u.rsplit("/", 1)[1]) for u in (*[x.url for x in media.sources], media.listen.url)]
    assert {c.rendition for c in claims} == {"hd", "sd", "audio"}
    assert {(c.user_id, c.lesson_id, c.asset_id) for c in claims} == {
        (cat.ids["buyer"], cat.ids["lesson_paid"], cat.ids["asset_paid"])}


def test_without_renditions_the_original_plays_and_missing_renditions_are_refused(shop):
    cat, client, engine = shop
    h = sign_in(engine, client, cat.ids["buyer"])
    with Session(engine) as s:
        media = mint_player_media(s, actor_id=cat.ids["buyer"], lesson_id=cat.ids["lesson_paid"],
                                  session_token_hash=h)
    assert [src.name for src in media.sources] == ["src"] and media.listen is None
    assert client.get(media.sources[0].url).content == VIDEO[::-1]
    hd = mint_token(user_id=cat.ids["buyer"], lesson_id=cat.ids["lesson_paid"], asset_id=cat.ids["asset_paid"],
                    rendition="hd", binding=session_binding(h))
    assert_forbidden(client.get(f"/api/media/{hd}"))


def test_partial_preview_never_serves_a_full_rendition(shop):
    cat, client, engine = shop
    _with_renditions(engine, cat.ids["asset_audio"], preview=("preview.mp3", b"ID3preview"),
                     audio=("full.m4a", AUDIO))
    with Session(engine) as s:
        media = mint_player_media(s, actor_id=None, lesson_id=cat.ids["lesson_partial"])
    assert [src.name for src in media.sources] == ["src"] and media.listen is None
    assert client.get(media.sources[0].url).content == b"ID3preview"
    full = mint_token(user_id=0, lesson_id=cat.ids["lesson_partial"], asset_id=cat.ids["asset_audio"],
                      rendition="audio")
    assert_forbidden(client.get(f"/api/media/{full}"))


def test_separate_audio_asset_is_the_listen_track(shop):
    cat, client, engine = shop
    with Session(engine) as s:
        lesson = s.get(Lesson, cat.ids["lesson_paid"])
        lesson.audio_asset_id = cat.ids["asset_audio"]
        s.add(lesson)
        s.commit()
    h = sign_in(engine, client, cat.ids["buyer"])
    with Session(engine) as s:
        media = mint_player_media(s, actor_id=cat.ids["buyer"], lesson_id=cat.ids["lesson_paid"],
                                  session_token_hash=h)
    resp = client.get(media.listen.url)
    assert resp.status_code == 200 and resp.content == AUDIO and resp.headers["content-type"] == "audio/mpeg"


# ------------------------------------------------------------------ drip release

def test_drip_release_by_date_refuses_media_until_then(shop):
    cat, client, engine = shop
    url = buyer_url(shop)
    with Session(engine) as s:
        lesson = s.get(Lesson, cat.ids["lesson_paid"])
        lesson.release_at = utcnow() + timedelta(days=2)
        s.add(lesson)
        s.commit()
    assert_forbidden(client.get(url))
    with Session(engine) as s, pytest.raises(DomainError):
        mint_lesson_media_url(s, actor_id=cat.ids["buyer"], lesson_id=cat.ids["lesson_paid"])


def test_drip_release_after_days_counts_from_the_grant(shop):
    cat, client, engine = shop
    url = buyer_url(shop)
    with Session(engine) as s:
        lesson = s.get(Lesson, cat.ids["lesson_paid"])
        lesson.release_after_days = 3
        s.add(lesson)
        ent = s.exec(select(Entitlement).where(Entitlement.user_id == cat.ids["buyer"])).one()
        ent.granted_at = utcnow() - timedelta(days=1)
        s.add(ent)
        s.commit()
    assert_forbidden(client.get(url))
    with Session(engine) as s:
        ent = s.exec(select(Entitlement).where(Entitlement.user_id == cat.ids["buyer"])).one()
        ent.granted_at = utcnow() - timedelta(days=3, minutes=1)
        s.add(ent)
        s.commit()
    assert client.get(url).status_code == 200


# ------------------------------------------------------------------ manager preview

def _make_staff(engine, cat, role: str) -> int:
    with Session(engine) as s:
        user = User(nickname=f"{role}-x", role=role, watermark_code=f"WM{role[:3]}")
        s.add(user)
        s.commit()
        return user.id


def test_owner_previews_unpublished_course_media_only_with_a_totp_session(shop):
    cat, client, engine = shop
    owner = _make_staff(engine, cat, "owner")
    with Session(engine) as s:
        course = s.get(Course, cat.ids["phone"])
        course.status = "draft"
        s.add(course)
        s.commit()
    h = sign_in(engine, client, owner, mfa=True)
    with Session(engine) as s:
        media = mint_player_media(s, actor_id=owner, lesson_id=cat.ids["lesson_paid"], session_token_hash=h,
                                  mfa_verified=True)
    assert client.get(media.sources[0].url).status_code == 200
    # the same owner on a session without the TOTP step: refused
    plain = TestClient(Starlette(routes=media_api.ROUTES))
    h2 = sign_in(engine, plain, owner, mfa=False)
    token = mint_token(user_id=owner, lesson_id=cat.ids["lesson_paid"], asset_id=cat.ids["asset_paid"],
                       binding=session_binding(h2))
    assert_forbidden(plain.get(f"/api/media/{token}"))

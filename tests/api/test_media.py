"""GET /api/media/{token}: signed, short-lived, re-checked on every request, Range-capable."""

from __future__ import annotations

import shutil
import time
import uuid
from contextlib import contextmanager

import pytest
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from coursemall.api import media as media_api
from coursemall.media.tokens import mint_token, verify_token
from coursemall.models import Course, Entitlement, MediaAsset, utcnow
from coursemall.services.media_access import mint_lesson_media_url
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


def _url(engine, actor, lesson_id) -> str:
    with Session(engine) as s:
        return mint_lesson_media_url(s, actor_id=actor, lesson_id=lesson_id).url


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
    uid, _lesson, asset, exp, sig = good.split(".")
    assert_forbidden(client.get(f"/api/media/{uid}.{ids['lesson_paid']}.{asset}.{exp}.{sig}"))


def test_paid_lesson_cannot_be_minted_for_anonymous_but_can_for_buyer(shop):
    from coursemall.domain.errors import DomainError

    cat, client, engine = shop
    with Session(engine) as s, pytest.raises(DomainError):
        mint_lesson_media_url(s, actor_id=None, lesson_id=cat.ids["lesson_paid"])
    with Session(engine) as s, pytest.raises(DomainError):
        mint_lesson_media_url(s, actor_id=cat.ids["stranger"], lesson_id=cat.ids["lesson_paid"])
    resp = client.get(_url(engine, cat.ids["buyer"], cat.ids["lesson_paid"]))
    assert resp.status_code == 200 and resp.content == VIDEO[::-1]


def test_revoked_entitlement_stops_playback(shop):
    cat, client, engine = shop
    url = _url(engine, cat.ids["buyer"], cat.ids["lesson_paid"])
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
    token = mint_token(user_id=7, lesson_id=3, asset_id=9)
    claim = verify_token(token)
    assert (claim.user_id, claim.lesson_id, claim.asset_id) == (7, 3, 9)
    uid, rest = token.split(".", 1)
    assert verify_token("07." + rest) is None  # non-canonical number
    for bad in (None, 12, {"t": token}, "", token + "x", token.replace(".", "/")):
        assert verify_token(bad) is None

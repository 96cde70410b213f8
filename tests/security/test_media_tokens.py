"""Media URLs are bound to the viewer's session: a playlist or key URL copied out of the page does
not play in another browser, on another device of the same learner, with another learner's cookie
or after sign-out; tampering with any claim (user, lesson, asset, rendition, binding) breaks the
signature; anonymous tokens only ever reach free content (free-trial HLS, preview clips)."""

from __future__ import annotations

import re

from sqlmodel import Session

from coursemall.media.tokens import mint_token, session_binding, verify_token
from coursemall.services.accounts import sessions
from tests.api.test_hls import assert_forbidden, buyer, client, key_url, player_media, shop, sign_in  # noqa: F401


def _playlist(shop):
    c, media = buyer(shop)
    url = media.sources[0].url
    assert c.get(url).status_code == 200
    return c, url


def test_copied_playlist_url_without_the_session_cookie_gets_403(shop):
    c, url = _playlist(shop)
    assert_forbidden(client().get(url))


def test_url_bound_to_one_session_is_refused_on_another_session_of_the_same_user(shop):
    cat, engine, _files = shop
    c, url = _playlist(shop)
    second = client()
    sign_in(engine, second, cat.ids["buyer"])  # same learner, other device
    assert_forbidden(second.get(url))
    assert c.get(url).status_code == 200


def test_another_learners_cookie_does_not_unlock_a_copied_url(shop):
    cat, engine, _files = shop
    _c, url = _playlist(shop)
    thief = client()
    sign_in(engine, thief, cat.ids["stranger"])
    assert_forbidden(thief.get(url))


def test_signed_out_session_stops_playback(shop):
    _cat, engine, _files = shop
    c, url = _playlist(shop)
    key = key_url(url, c.get(url).text)
    with Session(engine) as s:
        sessions.revoke_session_by_hash(s, token_hash_hex=sessions.token_hash(c.cookies.get(sessions.SESSION_COOKIE)))
        s.commit()
    assert_forbidden(c.get(url))
    assert_forbidden(c.get(key))


def test_a_viewer_token_minted_without_a_session_is_dead(shop):
    # An older call path (no session hash) must not yield a portable URL.
    cat, engine, _files = shop
    c = client()
    sign_in(engine, c, cat.ids["buyer"])
    media = player_media(engine, cat.ids["buyer"], cat.ids["lesson_paid"])
    assert_forbidden(c.get(media.sources[0].url))


def test_anonymous_tokens_only_reach_free_content(shop):
    cat, engine, _files = shop
    fresh = client()
    trial = player_media(engine, None, cat.ids["lesson_trial"]).sources[0].url
    assert fresh.get(trial).status_code == 200
    forged_paid = mint_token(user_id=0, lesson_id=cat.ids["lesson_paid"], asset_id=cat.ids["asset_paid"],
                             rendition="hls-hd")
    assert_forbidden(fresh.get(f"/api/hls/{cat.ids['lesson_paid']}/{cat.ids['asset_paid']}/hd/index.m3u8"
                               f"?t={forged_paid}"))


def test_binding_cannot_be_moved_between_sessions_or_users(shop):
    cat, engine, _files = shop
    _c, url = _playlist(shop)
    base, token = url.split("?t=", 1)
    uid, lesson, asset, rendition, bind, exp, sig = token.split(".")
    thief = client()
    thief_hash = sign_in(engine, thief, cat.ids["stranger"])
    # the thief rewrites the binding (or the user id) to match their own session: signature breaks
    rebound = f"{uid}.{lesson}.{asset}.{rendition}.{session_binding(thief_hash)}.{exp}.{sig}"
    assert_forbidden(thief.get(f"{base}?t={rebound}"))
    as_thief = f"{cat.ids['stranger']}.{lesson}.{asset}.{rendition}.{bind}.{exp}.{sig}"
    assert_forbidden(thief.get(f"{base}?t={as_thief}"))
    # marking a viewer's token anonymous breaks it too
    assert_forbidden(thief.get(f"{base}?t={uid}.{lesson}.{asset}.{rendition}.0.{exp}.{sig}"))


def test_a_genuine_token_for_one_user_bound_to_another_users_session_is_refused(shop):
    # Even a correctly signed token (as if the secret leaked into a mint call) needs the user of
    # the session to match the user in the claim.
    cat, engine, _files = shop
    thief = client()
    thief_hash = sign_in(engine, thief, cat.ids["stranger"])
    for rendition, name in (("hls-hd", "index.m3u8"), ("key-hd", "key")):
        token = mint_token(user_id=cat.ids["buyer"], lesson_id=cat.ids["lesson_paid"],
                           asset_id=cat.ids["asset_paid"], rendition=rendition, binding=session_binding(thief_hash))
        assert_forbidden(thief.get(f"/api/hls/{cat.ids['lesson_paid']}/{cat.ids['asset_paid']}/hd/{name}?t={token}"))


def test_the_cookie_value_never_appears_in_a_media_url(shop):
    cat, _engine, _files = shop
    c, url = _playlist(shop)
    cookie = c.cookies.get(sessions.SESSION_COOKIE)
    text = c.get(url).text
    for shown in (url, text):
        assert cookie not in shown and sessions.token_hash(cookie) not in shown
    for token in (url.split("?t=", 1)[1], re.search(r'key\?t=([^"]+)"', text).group(1)):
        claim = verify_token(token)
        assert claim.user_id == cat.ids["buyer"] and len(claim.binding) == 22

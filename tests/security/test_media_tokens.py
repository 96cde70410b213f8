"""Media tokens are bound to the viewer's session (issue 4): a URL copied out of the page does not
play in another browser, on another device of the same learner, with another learner's cookie or
after sign-out; tampering with any claim (user, lesson, asset, rendition, binding) breaks the
signature; anonymous tokens only ever reach free-trial content."""

from __future__ import annotations

from sqlmodel import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from coursemall.api import media as media_api
from coursemall.media.tokens import mint_token, session_binding, verify_token
from coursemall.services import sessions
from tests.api.test_media import _url, assert_forbidden, buyer_url, shop, sign_in  # noqa: F401


def test_copied_url_without_the_session_cookie_gets_403(shop):
    cat, client, engine = shop
    url = buyer_url(shop)
    assert client.get(url, headers={"Range": "bytes=0-9"}).status_code == 206
    other_browser = TestClient(Starlette(routes=media_api.ROUTES))  # no cookie at all
    assert_forbidden(other_browser.get(url))
    assert_forbidden(other_browser.get(url, headers={"Range": "bytes=0-9"}))


def test_url_bound_to_one_session_is_refused_on_another_session_of_the_same_user(shop):
    cat, client, engine = shop
    url = buyer_url(shop)
    second = TestClient(Starlette(routes=media_api.ROUTES))
    sign_in(engine, second, cat.ids["buyer"])  # same learner, other device
    assert_forbidden(second.get(url))
    assert client.get(url).status_code == 200


def test_another_learners_cookie_does_not_unlock_a_copied_url(shop):
    cat, client, engine = shop
    url = buyer_url(shop)
    thief = TestClient(Starlette(routes=media_api.ROUTES))
    sign_in(engine, thief, cat.ids["stranger"])
    assert_forbidden(thief.get(url))


def test_signed_out_session_stops_playback(shop):
    cat, client, engine = shop
    url = buyer_url(shop)
    assert client.get(url).status_code == 200
    h = sessions.token_hash(client.cookies.get(sessions.SESSION_COOKIE))
    with Session(engine) as s:
        sessions.revoke_session_by_hash(s, token_hash_hex=h)
        s.commit()
    assert_forbidden(client.get(url))


def test_a_viewer_token_minted_without_a_session_is_dead(shop):
    # The storefront's older call path (no session hash) must not yield a portable URL.
    cat, client, engine = shop
    sign_in(engine, client, cat.ids["buyer"])
    url = _url(engine, cat.ids["buyer"], cat.ids["lesson_paid"])
    assert_forbidden(client.get(url))


def test_anonymous_tokens_only_reach_free_trial_content(shop):
    cat, client, engine = shop
    fresh = TestClient(Starlette(routes=media_api.ROUTES))
    assert fresh.get(_url(engine, None, cat.ids["lesson_trial"])).status_code == 200
    forged_paid = mint_token(user_id=0, lesson_id=cat.ids["lesson_paid"], asset_id=cat.ids["asset_paid"])
    assert_forbidden(fresh.get(f"/api/media/{forged_paid}"))




def test_binding_cannot_be_moved_between_sessions_or_users(shop):
    cat, client, engine = shop
    url = buyer_url(shop)
    uid, lesson, asset, rendition, bind, exp, sig = url.rsplit("/", 1)[1].split(".")
    thief = TestClient(Starlette(routes=media_api.ROUTES))
    thief_hash = sign_in(engine, thief, cat.ids["stranger"])
    # the thief rewrites the binding (or the user id) to match their own session: signature breaks
    rebound = f"{uid}.{lesson}.{asset}.{rendition}.{session_binding(thief_hash)}.{exp}.{sig}"
    assert_forbidden(thief.get(f"/api/media/{rebound}"))
    as_thief = f"{cat.ids['stranger']}.{lesson}.{asset}.{rendition}.{bind}.{exp}.{sig}"
    assert_forbidden(thief.get(f"/api/media/{as_thief}"))
    # marking a viewer's token anonymous breaks it too
    assert_forbidden(thief.get(f"/api/media/{uid}.{lesson}.{asset}.{rendition}.0.{exp}.{sig}"))


def test_a_genuine_token_for_one_user_bound_to_another_users_session_is_refused(shop):
    # Even a correctly signed token (as if the secret leaked into a mint call) needs the user of
    # the session to match the user in the claim.
    cat, client, engine = shop
    thief = TestClient(Starlette(routes=media_api.ROUTES))
    thief_hash = sign_in(engine, thief, cat.ids["stranger"])
    token = mint_token(user_id=cat.ids["buyer"], lesson_id=cat.ids["lesson_paid"], asset_id=cat.ids["asset_paid"],
                       binding=session_binding(thief_hash))
    assert_forbidden(thief.get(f"/api/media/{token}"))


def test_the_cookie_value_never_appears_in_a_media_url(shop):
    cat, client, engine = shop
    url = buyer_url(shop)
    cookie = client.cookies.get(sessions.SESSION_COOKIE)
    assert cookie not in url and sessions.token_hash(cookie) not in url
    claim = verify_token(url.rsplit("/", 1)[1])
    assert claim.user_id == cat.ids["buyer"] and len(claim.binding) == 22

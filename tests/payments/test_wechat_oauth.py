"""WeChat OAuth (snsapi_base) for JSAPI pay in the WeChat browser, end to end over HTTP:
the start route mints a signed single-use state and sends the browser to WeChat's authorize URL;
the callback spends the state, trades the code for the openid at a loopback fake of
api.weixin.qq.com (through wechatpy's WeChatOAuth, with a timeout) and binds it to the learner.
Forged, expired, reused or foreign states, taken openids, OAuth errors and timeouts store nothing.
Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlparse

import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient
from wechatpy.pay.utils import calculate_signature

import coursemall.db
from coursemall.api import build_api
from coursemall.domain.errors import DomainError
from coursemall.models import User
from coursemall.models.accounts import OneTimeCode
from coursemall.payments import registry
from coursemall.services.commerce import checkout
from coursemall.services.accounts import sessions, wechat_oauth
from coursemall.settings import SettingsError, get_settings, load_settings
from tests.payments.factories import make_course, make_user
from tests.payments.fakes import FakeWeChatOAuth
from tests.payments.fixtures import WX_APP_ID, WX_KEY, wechat  # noqa: F401

WX_SECRET = "appsecret" + "0" * 23
BASE = "https://shop.example.com"
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


@pytest.fixture
def oauth(monkeypatch):
    fake = FakeWeChatOAuth(app_id=WX_APP_ID, secret=WX_SECRET)
    for name, value in (("COURSEMALL_WECHAT_APP_ID", WX_APP_ID), ("COURSEMALL_WECHAT_APP_SECRET", WX_SECRET),
                        ("COURSEMALL_WECHAT_OAUTH_BASE", fake.url), ("COURSEMALL_PUBLIC_BASE_URL", BASE),
                        ("COURSEMALL_PAY_TIMEOUT_SECONDS", "1")):
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    registry.reset()
    yield fake
    fake.stop()
    get_settings.cache_clear()
    registry.reset()


@pytest.fixture
def env(db_engine, monkeypatch, oauth):
    """Alice (with a pending order) and Bob, both signed in; routes use this test's database."""
    monkeypatch.setattr(coursemall.db, "get_engine", lambda: db_engine)
    with Session(db_engine, expire_on_commit=False) as s:
        alice, bob = make_user(s), make_user(s)
        order = checkout.buy_now(s, actor_id=alice.id, item_type="course",
                                 item_id=make_course(s, price_fen=1990).id, client_kind="wechat")
        tokens = {"alice": sessions.create_session(s, user_id=alice.id),
                  "bob": sessions.create_session(s, user_id=bob.id)}
        s.commit()
    client = TestClient(build_api(), base_url="http://testserver", follow_redirects=False)
    return {"engine": db_engine, "client": client, "tokens": tokens, "alice": alice.id, "bob": bob.id,
            "order": order.out_trade_no, "fake": oauth}


def _get(env, path: str, who: str | None = "alice", **params):
    client = env["client"]
    client.cookies.clear()
    if who:
        client.cookies.set("cm_session", env["tokens"][who])
    return client.get(path, params=params)


def _start(env, who="alice") -> str:
    r = _get(env, wechat_oauth.START_PATH, who, order=env["order"])
    assert r.status_code == 303, r.text
    return parse_qs(urlparse(r.headers["location"]).query)["state"][0]


def _openids(env) -> dict[int, str | None]:
    with Session(env["engine"]) as s:
        return {u.id: u.wechat_openid for u in s.exec(select(User)).all()}


def _assert_refused(r, code: str):
    assert r.status_code == 400
    assert f"data-code='{code}'" in r.text
    assert r.headers["cache-control"] == "private, no-store"


# ------------------------------------------------------------------------------ authorize URL

def test_start_redirects_to_wechat_authorize_url(env):
    r = _get(env, wechat_oauth.START_PATH, order=env["order"])
    assert r.status_code == 303 and r.headers["cache-control"] == "private, no-store"
    url = urlparse(r.headers["location"])
    assert (url.scheme, url.netloc, url.path) == ("https", "open.weixin.qq.com", "/connect/oauth2/authorize")
    assert url.fragment == "wechat_redirect"
    q = parse_qs(url.query)
    assert q["appid"] == [WX_APP_ID] and q["scope"] == ["snsapi_base"] and q["response_type"] == ["code"]
    assert q["redirect_uri"] == [BASE + "/api/wechat/oauth/callback"]  # from settings, not the Host header
    state = q["state"][0]
    assert len(state) <= 128 and state.isalnum()  # WeChat only passes [A-Za-z0-9]{,128} back
    claim = wechat_oauth.parse_state(state)
    assert (claim.user_id, claim.order_no) == (env["alice"], env["order"])
    assert 500 < claim.expires_at - time.time() <= wechat_oauth.STATE_TTL_SECONDS
    assert WX_SECRET not in r.headers["location"]


def test_redirect_uri_ignores_forwarded_host_headers(env):
    env["client"].cookies.set("cm_session", env["tokens"]["alice"])
    r = env["client"].get(wechat_oauth.START_PATH, params={"order": env["order"]},
                          headers={"host": "evil.example", "x-forwarded-host": "evil.example"})
    assert "evil" not in r.headers["location"]


def test_start_needs_sign_in_and_an_own_pending_order(env):
    r = _get(env, wechat_oauth.START_PATH, None, order=env["order"])
    assert r.status_code == 303 and r.headers["location"] == f"/login?next=%2Forder%2F{env['order']}"
    _assert_refused(_get(env, wechat_oauth.START_PATH, "bob", order=env["order"]), "order.not_found")
    for bad in ["", "x", "../../etc", "A" * 300, "CM2026<script>"]:
        _assert_refused(_get(env, wechat_oauth.START_PATH, order=bad), "order.not_found")
    with Session(env["engine"]) as s:
        checkout.cancel_order(s, actor_id=env["alice"], order_no=env["order"])
    _assert_refused(_get(env, wechat_oauth.START_PATH, order=env["order"]), "order.not_payable")
    with Session(env["engine"]) as s:
        assert s.exec(select(OneTimeCode).where(OneTimeCode.purpose == "wx_oauth")).all() == []


def test_start_without_app_secret_is_a_clear_error(env, monkeypatch):
    monkeypatch.setenv("COURSEMALL_WECHAT_APP_SECRET", "")
    get_settings.cache_clear()
    _assert_refused(_get(env, wechat_oauth.START_PATH, order=env["order"]), "wechat.oauth_unavailable")


# ------------------------------------------------------------------------------ callback

def test_callback_stores_openid_and_returns_to_the_order(env):
    state = _start(env)
    code = env["fake"].issue_code(OPENID)
    r = _get(env, wechat_oauth.CALLBACK_PATH, code=code, state=state)
    assert r.status_code == 303 and r.headers["location"] == f"{BASE}/order/{env['order']}?wxpay=1"
    assert _openids(env)[env["alice"]] == OPENID and _openids(env)[env["bob"]] is None
    call = env["fake"].calls[-1]
    assert call["path"] == "/sns/oauth2/access_token" and call["code"] == code
    assert (call["appid"], call["secret"], call["grant_type"]) == (WX_APP_ID, WX_SECRET, "authorization_code")
    # the state is single-use: the same callback again is refused before WeChat is asked
    calls = len(env["fake"].calls)
    _assert_refused(_get(env, wechat_oauth.CALLBACK_PATH, code=env["fake"].issue_code(OPENID), state=state),
                    "wechat.oauth_state_invalid")
    assert len(env["fake"].calls) == calls


def test_a_newer_state_retires_the_older_one(env):
    first, second = _start(env), _start(env)
    _assert_refused(_get(env, wechat_oauth.CALLBACK_PATH, code=env["fake"].issue_code(OPENID), state=first),
                    "wechat.oauth_state_invalid")
    r = _get(env, wechat_oauth.CALLBACK_PATH, code=env["fake"].issue_code(OPENID), state=second)
    assert r.status_code == 303


def _tamper(state: str, part: int, value: str) -> str:
    parts = state.split("x", 4)
    parts[part] = value
    return "x".join(parts)


@pytest.mark.parametrize("forgery", ["other_uid", "other_order", "flipped_sig", "later_expiry", "garbage",
                                     "empty", "huge", "not_alnum"])
def test_forged_states_store_nothing(env, forgery):
    state = _start(env)
    sig = state.split("x", 4)[3]
    forged = {
        "other_uid": _tamper(state, 0, str(env["bob"])),
        "other_order": _tamper(state, 4, "CM20260101" + "A" * 16),
        "flipped_sig": _tamper(state, 3, ("0" if sig[0] != "0" else "1") + sig[1:]),
        "later_expiry": _tamper(state, 1, str(int(state.split("x")[1]) + 3600)),
        "garbage": "hello",
        "empty": "",
        "huge": "1" * 5000,
        "not_alnum": state + "<'\">",
    }[forgery]
    who = "bob" if forgery == "other_uid" else "alice"
    r = _get(env, wechat_oauth.CALLBACK_PATH, who, code=env["fake"].issue_code(OPENID), state=forged)
    _assert_refused(r, "wechat.oauth_state_invalid")
    assert set(_openids(env).values()) == {None} and env["fake"].calls == []
    # the genuine state still works afterwards (a forgery does not burn it)
    assert _get(env, wechat_oauth.CALLBACK_PATH, code=env["fake"].issue_code(OPENID), state=state).status_code == 303


def test_expired_state_is_refused(env):
    with Session(env["engine"]) as s:
        state = wechat_oauth.mint_state(s, actor_id=env["alice"], order_no=env["order"],
                                        now=time.time() - wechat_oauth.STATE_TTL_SECONDS - 5)
    _assert_refused(_get(env, wechat_oauth.CALLBACK_PATH, code=env["fake"].issue_code(OPENID), state=state),
                    "wechat.oauth_state_expired")
    assert set(_openids(env).values()) == {None} and env["fake"].calls == []


def test_state_of_another_user_is_refused_and_not_burnt(env):
    """Login swapping: Alice's state (and code) in Bob's session binds nothing to anyone."""
    state = _start(env, "alice")
    _assert_refused(_get(env, wechat_oauth.CALLBACK_PATH, "bob", code=env["fake"].issue_code(OPENID), state=state),
                    "wechat.oauth_state_invalid")
    _assert_refused(_get(env, wechat_oauth.CALLBACK_PATH, None, code=env["fake"].issue_code(OPENID), state=state),
                    "error.sign_in_required")
    assert set(_openids(env).values()) == {None} and env["fake"].calls == []
    assert _get(env, wechat_oauth.CALLBACK_PATH, code=env["fake"].issue_code(OPENID), state=state).status_code == 303


def test_openid_bound_to_another_user_is_refused(env):
    with Session(env["engine"]) as s:
        bob = s.get(User, env["bob"])
        bob.wechat_openid = OPENID
        s.add(bob)
        s.commit()
    state = _start(env)
    r = _get(env, wechat_oauth.CALLBACK_PATH, code=env["fake"].issue_code(OPENID), state=state)
    _assert_refused(r, "wechat.openid_taken")
    assert _openids(env) == {env["alice"]: None, env["bob"]: OPENID}
    assert f"href='/order/{env['order']}'" in r.text  # a way back to the order


@pytest.mark.parametrize("mode,errcode,code", [("error", 40029, "wechat.oauth_code_invalid"),
                                              ("error", 40163, "wechat.oauth_code_invalid"),
                                              ("error", 40013, "wechat.oauth_failed"),
                                              ("not_json", 0, "wechat.oauth_failed"),
                                              ("http_500", 0, "wechat.oauth_failed")])
def test_oauth_errors_store_nothing(env, mode, errcode, code):
    state = _start(env)
    env["fake"].mode, env["fake"].errcode = mode, errcode
    _assert_refused(_get(env, wechat_oauth.CALLBACK_PATH, code=env["fake"].issue_code(OPENID), state=state), code)
    assert set(_openids(env).values()) == {None}


def test_unknown_or_missing_code(env):
    _assert_refused(_get(env, wechat_oauth.CALLBACK_PATH, code="never-issued", state=_start(env)),
                    "wechat.oauth_code_invalid")
    calls = len(env["fake"].calls)
    _assert_refused(_get(env, wechat_oauth.CALLBACK_PATH, state=_start(env)), "wechat.oauth_code_invalid")
    _assert_refused(_get(env, wechat_oauth.CALLBACK_PATH, code="bad code<>", state=_start(env)),
                    "wechat.oauth_code_invalid")
    assert len(env["fake"].calls) == calls  # malformed codes never leave the shop
    assert set(_openids(env).values()) == {None}


def test_timeout_is_bounded_and_stores_nothing(env):
    state = _start(env)
    env["fake"].mode, env["fake"].delay = "slow", 4.0
    began = time.monotonic()
    r = _get(env, wechat_oauth.CALLBACK_PATH, code=env["fake"].issue_code(OPENID), state=state)
    assert time.monotonic() - began < 3.5  # COURSEMALL_PAY_TIMEOUT_SECONDS=1, not the fake's 4 s
    _assert_refused(r, "wechat.oauth_unreachable")
    assert set(_openids(env).values()) == {None}


def test_rebinding_own_openid_is_fine(env):
    for _ in range(2):
        r = _get(env, wechat_oauth.CALLBACK_PATH, code=env["fake"].issue_code(OPENID), state=_start(env))
        assert r.status_code == 303
    assert _openids(env)[env["alice"]] == OPENID


# ------------------------------------------------------------------------------ JSAPI params

def test_jsapi_params_for_a_bound_learner_are_signed(env, wechat):  # noqa: F811
    assert _get(env, wechat_oauth.CALLBACK_PATH, code=env["fake"].issue_code(OPENID),
                state=_start(env)).status_code == 303
    with Session(env["engine"], expire_on_commit=False) as s:
        openid = wechat_oauth.openid_of(s, actor_id=env["alice"])
        assert openid == OPENID
        with pytest.raises(DomainError, match="pay.openid_required"):
            checkout.start_payment(s, actor_id=env["alice"], order_no=env["order"], channel="wechat",
                                   client_kind="wechat")
        action = checkout.start_payment(s, actor_id=env["alice"], order_no=env["order"], channel="wechat",
                                        client_kind="wechat", openid=openid, client_ip="203.0.113.7")
    assert action.kind == "jsapi"
    params = dict(action.params)
    assert set(params) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert params["appId"] == WX_APP_ID and params["signType"] == "MD5"
    assert params["package"].startswith("prepay_id=wx")
    unsigned = {k: v for k, v in params.items() if k != "paySign"}
    assert params["paySign"] == calculate_signature(unsigned, WX_KEY)
    unified = [c[1] for c in wechat.fake.calls if c[0] == "pay/unifiedorder"][-1]
    assert (unified["trade_type"], unified["openid"], unified["spbill_create_ip"]) == ("JSAPI", OPENID,
                                                                                      "203.0.113.7")
    assert unified["total_fee"] == "1990" and wechat.fake.bad_signatures == 0


# ------------------------------------------------------------------------------ settings

def test_oauth_settings_parse():
    base = {"COURSEMALL_SECRET_KEY": "k" * 40}
    s = load_settings({**base, "COURSEMALL_WECHAT_OAUTH_BASE": "http://127.0.0.1:9/x"})
    assert s.wechat_oauth_base == "http://127.0.0.1:9/x/" and s.wechat_app_secret == ""
    assert load_settings(base).wechat_oauth_base == "https://api.weixin.qq.com/"
    assert load_settings({**base, "COURSEMALL_WECHAT_APP_SECRET": " sec "}).wechat_app_secret == "sec"
    with pytest.raises(SettingsError, match="COURSEMALL_WECHAT_OAUTH_BASE"):
        load_settings({**base, "COURSEMALL_WECHAT_OAUTH_BASE": "ftp://x"})

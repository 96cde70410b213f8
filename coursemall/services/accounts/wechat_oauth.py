"""WeChat OAuth (snsapi_base): the learner's openid for JSAPI pay inside the WeChat browser.

Flow: the order page (in WeChat, no openid yet) navigates to `GET /api/wechat/oauth/start?order=`;
`mint_state` makes a signed, short-lived, single-use `state` bound to the signed-in user and the
order; the browser goes to WeChat's authorize URL (`authorize_url`, built by wechatpy's
`WeChatOAuth`), which sends it back to `PUBLIC_BASE_URL/api/wechat/oauth/callback?code=&state=`.
The callback spends the state (`consume_state`, compare-and-set, so a second use fails on any
worker) and `exchange_code` trades the code for the openid and binds it to the user.

- state: ``<uid>x<exp>x<nonce>x<sig>x<order_no>``, only [A-Za-z0-9] as WeChat requires (≤128
  chars). `sig` is HMAC-SHA256 (secret key, purpose prefix) over uid, expiry, nonce and order
  number, truncated to 128 bits. The nonce's SHA-256 is stored as a `OneTimeCode` row
  (purpose `wx_oauth`): minting a new state retires the user's older unused ones, and spending it
  is `UPDATE ... WHERE used_at IS NULL AND expires_at > now` with a row-count check.
- wechatpy's `WeChatOAuth` uses blocking `requests` with no timeout and a class-level base URL;
  `_TimedOAuth` sets the base URL per instance (COURSEMALL_WECHAT_OAUTH_BASE) and always passes
  COURSEMALL_PAY_TIMEOUT_SECONDS. Callers on an event loop run `exchange_code` in a thread; no
  database transaction is open during the call.
- One openid belongs to at most one shop account (UNIQUE `users.wechat_openid`). Never logged:
  the code, the openid, the AppSecret (requests' exception texts carry the URL with the secret, so
  only the exception type is logged).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import requests
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from wechatpy.exceptions import WeChatOAuthException
from wechatpy.oauth import WeChatOAuth

from coursemall.domain.errors import DomainError
from coursemall.domain.orders import OrderStatus, parse_order_no
from coursemall.models import User, utcnow
from coursemall.models.accounts import OneTimeCode
from coursemall.services.actors import require_actor
from coursemall.services.commerce.orders import own_order
from coursemall.settings import Settings, get_settings

log = logging.getLogger("coursemall.wechat_oauth")

SCOPE = "snsapi_base"
START_PATH = "/api/wechat/oauth/start"
CALLBACK_PATH = "/api/wechat/oauth/callback"
STATE_TTL_SECONDS = 600
STATE_PURPOSE = "wx_oauth"
_SIG_PURPOSE = b"coursemall.wx_oauth.v1:"
_STATE_RE = re.compile(r"^([1-9][0-9]{0,11})x([1-9][0-9]{9,10})x([0-9a-f]{16})x([0-9a-f]{32})x([A-Za-z0-9]{8,32})$")
_CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_OPENID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CODE_REJECTED = {40029, 40163, 41008}  # invalid code / code already used / missing code


@dataclass(frozen=True)
class StateClaim:
    user_id: int
    expires_at: int
    nonce: str
    order_no: str


class _TimedOAuth(WeChatOAuth):
    """wechatpy's WeChatOAuth with a per-instance API base URL and a timeout on every call."""

    def __init__(self, *, app_id: str, secret: str, redirect_uri: str, state: str = "",
                 api_base: str = "https://api.weixin.qq.com/", timeout: float = 10) -> None:
        super().__init__(app_id, secret, redirect_uri, scope=SCOPE, state=state)
        self.API_BASE_URL = api_base
        self.timeout = timeout

    def _request(self, method, url_or_endpoint, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("allow_redirects", False)
        return super()._request(method, url_or_endpoint, **kwargs)


def _credentials(settings: Settings) -> tuple[str, str]:
    """(appid, AppSecret): the dashboard's payment settings over the environment's."""
    from coursemall.payments.registry import wechat_oauth_credentials  # registry imports services

    return wechat_oauth_credentials(settings)


def is_configured(settings: Settings | None = None) -> bool:
    return all(_credentials(settings or get_settings()))


def callback_url(settings: Settings | None = None) -> str:
    """Where WeChat sends the browser back: from settings, never from request headers."""
    return (settings or get_settings()).public_base_url + CALLBACK_PATH


def start_url(order_no: str, settings: Settings | None = None) -> str:
    """Absolute URL of the start route (the page navigates there with a full page load)."""
    return f"{(settings or get_settings()).public_base_url}{START_PATH}?order={parse_order_no(order_no)}"


def authorize_url(state_token: str, redirect_uri: str) -> str:
    """WeChat's authorize URL (scope snsapi_base) carrying our signed state."""
    settings = get_settings()
    if not is_configured(settings):
        raise DomainError("wechat.oauth_unavailable")
    if not isinstance(state_token, str) or not _STATE_RE.match(state_token):
        raise DomainError("wechat.oauth_state_invalid")
    app_id, secret = _credentials(settings)
    oauth = _TimedOAuth(app_id=app_id, secret=secret, redirect_uri=redirect_uri, state=state_token)
    return oauth.authorize_url


# ---------------------------------------------------------------------------------- state

def _sign(uid: int, exp: int, nonce: str, order_no: str, key: str) -> str:
    body = f"{uid}.{exp}.{nonce}.{order_no}".encode()
    return hmac.new(key.encode(), _SIG_PURPOSE + body, hashlib.sha256).hexdigest()[:32]


def _nonce_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def _target(user_id: int) -> str:
    return f"{STATE_PURPOSE}:{user_id}"


def mint_state(session: Session, *, actor_id: object, order_no: object, now: float | None = None) -> str:
    """A new state for the actor's own pending order; older unused states of the actor are retired."""
    if not is_configured():
        raise DomainError("wechat.oauth_unavailable")
    user = require_actor(session, actor_id)
    order = own_order(session, user.id, parse_order_no(order_no))
    if order.status != OrderStatus.PENDING:
        raise DomainError("order.not_payable")
    issued = int(now if now is not None else time.time())
    exp = issued + STATE_TTL_SECONDS
    nonce = secrets.token_hex(8)
    token = f"{user.id}x{exp}x{nonce}x{_sign(user.id, exp, nonce, order.out_trade_no, get_settings().secret_key)}" \
            f"x{order.out_trade_no}"
    stamp = utcnow()
    session.execute(update(OneTimeCode)
                    .where(OneTimeCode.target == _target(user.id), OneTimeCode.purpose == STATE_PURPOSE,
                           OneTimeCode.used_at.is_(None))
                    .values(used_at=stamp).execution_options(synchronize_session=False))
    session.add(OneTimeCode(target=_target(user.id), purpose=STATE_PURPOSE, code_hash=_nonce_hash(nonce),
                            created_at=stamp, expires_at=datetime.fromtimestamp(exp, tz=timezone.utc)))
    session.commit()
    return token


def parse_state(token: object, *, now: float | None = None, key: str | None = None) -> StateClaim:
    """The claim of a genuine, unexpired state; DomainError otherwise (never other exceptions)."""
    if not isinstance(token, str) or len(token) > 128:
        raise DomainError("wechat.oauth_state_invalid")
    match = _STATE_RE.match(token)
    if match is None:
        raise DomainError("wechat.oauth_state_invalid")
    uid, exp, nonce, sig, order_no = match.groups()
    expected = _sign(int(uid), int(exp), nonce, order_no, key or get_settings().secret_key)
    if not hmac.compare_digest(expected, sig):
        raise DomainError("wechat.oauth_state_invalid")
    if int(exp) <= int(now if now is not None else time.time()):
        raise DomainError("wechat.oauth_state_expired")
    return StateClaim(int(uid), int(exp), nonce, order_no)


def consume_state(session: Session, *, actor_id: object, state: object, now: float | None = None) -> str:
    """Spend the state once, for the user it was made for; returns its order number."""
    claim = parse_state(state, now=now)
    user = require_actor(session, actor_id)
    if claim.user_id != user.id:
        raise DomainError("wechat.oauth_state_invalid")
    current = utcnow() if now is None else datetime.fromtimestamp(now, tz=timezone.utc)
    spent = session.execute(
        update(OneTimeCode)
        .where(OneTimeCode.target == _target(user.id), OneTimeCode.purpose == STATE_PURPOSE,
               OneTimeCode.code_hash == _nonce_hash(claim.nonce), OneTimeCode.used_at.is_(None),
               OneTimeCode.expires_at > current)
        .values(used_at=current).execution_options(synchronize_session=False)).rowcount
    session.commit()
    if spent != 1:
        raise DomainError("wechat.oauth_state_invalid")
    return claim.order_no


# ---------------------------------------------------------------------------------- code → openid

def _fetch_openid(code: str, settings: Settings) -> str:
    app_id, secret = _credentials(settings)
    oauth = _TimedOAuth(app_id=app_id, secret=secret,
                        redirect_uri=callback_url(settings), api_base=settings.wechat_oauth_base,
                        timeout=settings.pay_timeout_seconds)
    try:
        res = oauth.fetch_access_token(code)
    except WeChatOAuthException as exc:
        errcode = getattr(exc, "errcode", None)
        log.warning("wechat oauth refused the code: errcode=%s", errcode)
        if errcode in _CODE_REJECTED:
            raise DomainError("wechat.oauth_code_invalid") from None
        raise DomainError("wechat.oauth_failed") from None
    except requests.RequestException as exc:
        log.warning("wechat oauth unreachable (%s)", type(exc).__name__)
        raise DomainError("wechat.oauth_unreachable") from None
    except (ValueError, KeyError, TypeError) as exc:  # not JSON / fields missing
        log.warning("wechat oauth bad answer (%s)", type(exc).__name__)
        raise DomainError("wechat.oauth_failed") from None
    finally:
        oauth._http.close()
    openid = res.get("openid") if isinstance(res, dict) else None
    if not isinstance(openid, str) or not _OPENID_RE.match(openid):
        log.warning("wechat oauth answer without a valid openid")
        raise DomainError("wechat.oauth_failed")
    return openid


def exchange_code(session: Session, *, actor_id: object, code: object) -> str:
    """Trade the OAuth `code` for the actor's openid and store it. Blocking network I/O (with a
    timeout): call from a worker thread. An openid bound to another account → DomainError."""
    settings = get_settings()
    if not is_configured(settings):
        raise DomainError("wechat.oauth_unavailable")
    if not isinstance(code, str) or not _CODE_RE.match(code):
        raise DomainError("wechat.oauth_code_invalid")
    user_id = require_actor(session, actor_id).id
    session.commit()  # no transaction stays open during the network call
    openid = _fetch_openid(code, settings)
    user = require_actor(session, user_id)
    other = session.exec(select(User.id).where(User.wechat_openid == openid, User.id != user_id)).first()
    if other is not None:
        raise DomainError("wechat.openid_taken")
    session.execute(update(User).where(User.id == user_id).values(wechat_openid=openid, updated_at=utcnow())
                    .execution_options(synchronize_session=False))
    try:
        session.commit()
    except IntegrityError:  # another account bound it between our check and our update
        session.rollback()
        raise DomainError("wechat.openid_taken") from None
    log.info("wechat openid bound to user %s", user.id)
    return openid


def openid_of(session: Session, *, actor_id: object) -> str:
    """The actor's bound openid ('' when none). Server-side only: never put it in a frontend var."""
    user = require_actor(session, actor_id)
    return user.wechat_openid or ""

"""WeChat OAuth routes (openid for JSAPI pay inside the WeChat browser).

GET /api/wechat/oauth/start?order=<no>
    The viewer comes from the HttpOnly `cm_session` cookie (server-side session store). Mints a
    signed, single-use state for (viewer, their pending order) and 303-redirects to WeChat's
    authorize URL; redirect_uri = COURSEMALL_PUBLIC_BASE_URL + /api/wechat/oauth/callback (from
    settings, never from request headers). Not signed in → the sign-in page, then back to the order.
GET /api/wechat/oauth/callback?code=&state=
    Spends the state (must be genuine, unexpired, unused and made for this same signed-in viewer),
    exchanges the code for the openid in a worker thread (`run_in_threadpool`, with a timeout),
    stores it on the viewer and 303-redirects to /order/<no>?wxpay=1, where the order page
    continues the JSAPI payment once. Anything wrong → a short error page (400) with a link back;
    nothing is stored.
"""

from __future__ import annotations

import html
import logging
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from coursemall import urls
from coursemall.db import session_scope
from coursemall.domain.errors import DomainError
from coursemall.domain.orders import parse_order_no
from coursemall.i18n import normalize_lang, t
from coursemall.services.accounts import sessions
from coursemall.services.accounts import wechat_oauth
from coursemall.services.actors import require_actor
from coursemall.settings import get_settings
from coursemall.urls import order_url

log = logging.getLogger("coursemall.api.wechat")
PRIVATE = {"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer",
           "X-Content-Type-Options": "nosniff"}
_MAX_PARAM = 256


def _viewer(token: str) -> int | None:
    """The signed-in user's id from the session cookie token (None when not signed in)."""
    if not sessions.looks_like_token(token):
        return None
    with session_scope() as s:
        resolved = sessions.resolve_session(s, token_hash_hex=sessions.token_hash(token))
        if resolved is None:
            return None
        try:
            return require_actor(s, resolved.user_id).id
        except DomainError:
            return None


def _error_page(code: str, lang: str, back: str) -> Response:
    title = html.escape(t("wechat.oauth_error_title", lang))
    message = html.escape(t(code, lang))
    link = html.escape(back, quote=True)
    label = html.escape(t("wechat.back_to_order", lang))
    body = (f"<!doctype html><html><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width,initial-scale=1'><title>{title}</title></head>"
            f"<body style='font-family:sans-serif;padding:2em;line-height:1.6'><h1 style='font-size:1.2em'>{title}</h1>"
            f"<p id='oauth-error' data-code='{html.escape(code, quote=True)}'>{message}</p>"
            f"<p><a id='back' href='{link}'>{label}</a></p></body></html>")
    return HTMLResponse(body, status_code=400, headers=PRIVATE)


def _redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=303, headers=PRIVATE)


def _query(request: Request, name: str) -> str:
    value = request.query_params.get(name, "")
    return value if len(value) <= _MAX_PARAM else ""


def _start_work(token: str, order_no: str) -> tuple[str, str]:
    """('redirect', url) or ('error', code); runs in a worker thread."""
    user_id = _viewer(token)
    if user_id is None:
        return "redirect", f"{urls.SIGN_IN}?{urlencode({'next': order_url(order_no)})}"
    try:
        with session_scope() as s:
            state = wechat_oauth.mint_state(s, actor_id=user_id, order_no=order_no)
        return "redirect", wechat_oauth.authorize_url(state, wechat_oauth.callback_url())
    except DomainError as exc:
        return "error", exc.code


async def oauth_start(request: Request) -> Response:
    lang = normalize_lang(request.cookies.get("cm_lang"))
    try:
        order_no = parse_order_no(_query(request, "order"))
    except DomainError:
        return _error_page("order.not_found", lang, urls.ORDERS)
    kind, value = await run_in_threadpool(_start_work, request.cookies.get(sessions.SESSION_COOKIE, ""), order_no)
    if kind == "redirect":
        return _redirect(value)
    return _error_page(value, lang, order_url(order_no))


def _callback_work(token: str, code: str, state: str) -> tuple[str, str, str]:
    """('ok', order_no, '') or ('error', code, back link); runs in a worker thread."""
    user_id = _viewer(token)
    if user_id is None:
        return "error", "error.sign_in_required", urls.ORDERS
    try:
        with session_scope() as s:
            order_no = wechat_oauth.consume_state(s, actor_id=user_id, state=state)
    except DomainError as exc:
        return "error", exc.code, urls.ORDERS
    back = order_url(order_no)
    if not code:
        return "error", "wechat.oauth_code_invalid", back
    try:
        with session_scope() as s:
            wechat_oauth.exchange_code(s, actor_id=user_id, code=code)
    except DomainError as exc:
        return "error", exc.code, back
    return "ok", order_no, ""


async def oauth_callback(request: Request) -> Response:
    lang = normalize_lang(request.cookies.get("cm_lang"))
    outcome, value, back = await run_in_threadpool(
        _callback_work, request.cookies.get(sessions.SESSION_COOKIE, ""), _query(request, "code"),
        _query(request, "state"))
    if outcome == "ok":
        return _redirect(f"{get_settings().public_base_url}{order_url(value)}?wxpay=1")
    log.info("wechat oauth callback refused: %s", value)
    return _error_page(value, lang, back)


ROUTES = [
    Route(wechat_oauth.START_PATH, oauth_start, methods=["GET"]),
    Route(wechat_oauth.CALLBACK_PATH, oauth_callback, methods=["GET"]),
]

"""Session cookie routes.

GET /api/auth/complete?ticket=...&next=/path  redeems a single-use login ticket minted by a
    sign-in event handler, opens a server-side session and sets the HttpOnly `cm_session` cookie
    (and the `cm_device` cookie that marks this browser as a known device of the account),
    then 303-redirects to `next` (same-site relative paths only).
    The ticket is only redeemed when the request carries the `cm_browser` secret of the browser
    that signed in (services/accounts/sessions.py); another browser is sent back to the sign-in page with
    a message and gets no session.
GET /api/auth/browser?next=/path               gives a browser that has none its `cm_browser` secret
    (api/browser_cookie.py) and redirects to `next`; the sign-in forms use it when the websocket
    handshake carried no secret.
GET /api/auth/signout                          clears the cookie (the event handler has already
    revoked the session server-side) and redirects home.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from coursemall import urls
from coursemall.api import browser_cookie
from coursemall.client_ip import request_client_ip
from coursemall.db import session_scope
from coursemall.domain.errors import DomainError
from coursemall.services import rate_limit
from coursemall.services.accounts import sessions
from coursemall.settings import get_settings



def safe_next(value: object, default: str = "/") -> str:
    """Only same-site relative paths: one leading '/', no '//' or '/\\', no control characters."""
    if not isinstance(value, str) or not value or len(value) > 512:
        return default
    if not value.startswith("/") or value.startswith("//") or value.startswith("/\\"):
        return default
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F or ch == "\\" for ch in value):
        return default
    return value


def _cookie_secure() -> bool:
    return get_settings().public_base_url.startswith("https://")


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the ticket is in the URL
    return response


def _redeem(ticket: str, browser_secret: str, user_agent: str, ip: str) -> tuple[str, int]:
    with session_scope() as s:
        return sessions.redeem_login_ticket(s, ticket=ticket, browser_secret=browser_secret,
                                            user_agent=user_agent, ip=ip)


async def complete(request: Request) -> Response:
    ticket = request.query_params.get("ticket", "")
    target = safe_next(request.query_params.get("next"), urls.PROFILE)
    try:
        token, user_id = await run_in_threadpool(
            _redeem, ticket, request.cookies.get(sessions.BROWSER_COOKIE, ""),
            request.headers.get("user-agent", "")[:255], request_client_ip(request))
    except DomainError as exc:
        reason = "other_browser" if exc.code == "auth.ticket_other_browser" else "ticket"
        return _no_store(RedirectResponse(f"{urls.SIGN_IN}?error={reason}", status_code=303))
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(sessions.SESSION_COOKIE, token,
                        max_age=get_settings().session_days * 86400, path="/", httponly=True,
                        samesite="lax", secure=_cookie_secure())
    # This browser is now a known device of the account: its sign-ins keep their own attempt
    # budget whatever others try (services/rate_limit.py).
    current = request.cookies.get(rate_limit.DEVICE_COOKIE, "")
    device = rate_limit.device_cookie_for(user_id, current)
    if device != current:
        response.set_cookie(rate_limit.DEVICE_COOKIE, device, max_age=rate_limit.DEVICE_MAX_AGE, path="/",
                            httponly=True, samesite="lax", secure=_cookie_secure())
    return _no_store(response)


async def browser(request: Request) -> Response:
    response = RedirectResponse(safe_next(request.query_params.get("next"), urls.SIGN_IN), status_code=303)
    if not sessions.looks_like_token(request.cookies.get(sessions.BROWSER_COOKIE, "")):
        response.raw_headers.append((b"set-cookie", browser_cookie.cookie_header(browser_cookie.new_secret())))
    return _no_store(response)


async def signout(_request: Request) -> Response:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(sessions.SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=_cookie_secure())
    return _no_store(response)


ROUTES = [
    Route("/api/auth/complete", complete, methods=["GET"]),
    Route("/api/auth/browser", browser, methods=["GET"]),
    Route("/api/auth/signout", signout, methods=["GET"]),
]

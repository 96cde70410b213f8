"""Session cookie routes.

GET /api/auth/complete?ticket=...&next=/path  redeems a single-use login ticket minted by a
    sign-in event handler, opens a server-side session and sets the HttpOnly `cm_session` cookie,
    then 303-redirects to `next` (same-site relative paths only).
GET /api/auth/signout                          clears the cookie (the event handler has already
    revoked the session server-side) and redirects home.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from coursemall.db import session_scope
from coursemall.domain.errors import DomainError
from coursemall.services import sessions
from coursemall.settings import get_settings

SIGN_IN_PATH = "/login"
DEFAULT_NEXT = "/me"


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


def _redeem(ticket: str, user_agent: str, ip: str) -> str:
    with session_scope() as s:
        token, _user_id = sessions.redeem_login_ticket(s, ticket=ticket, user_agent=user_agent,
                                                       ip=ip)
        return token


async def complete(request: Request) -> Response:
    ticket = request.query_params.get("ticket", "")
    target = safe_next(request.query_params.get("next"), DEFAULT_NEXT)
    try:
        token = await run_in_threadpool(
            _redeem, ticket, request.headers.get("user-agent", "")[:255],
            request.client.host if request.client else "")
    except DomainError:
        return _no_store(RedirectResponse(f"{SIGN_IN_PATH}?error=ticket", status_code=303))
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(sessions.SESSION_COOKIE, token,
                        max_age=get_settings().session_days * 86400, path="/", httponly=True,
                        samesite="lax", secure=_cookie_secure())
    return _no_store(response)


async def signout(_request: Request) -> Response:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(sessions.SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=_cookie_secure())
    return _no_store(response)


ROUTES = [
    Route("/api/auth/complete", complete, methods=["GET"]),
    Route("/api/auth/signout", signout, methods=["GET"]),
]

"""Every browser gets a random secret in the HttpOnly `cm_browser` cookie with the first page it loads.

Sign-in tickets are bound to it (services/accounts/sessions.py): the sign-in handler reads the secret from
the websocket handshake, and /api/auth/complete only redeems a ticket in the browser holding the
same secret. The cookie is added to page responses (HTML, or a 304 for a cached page) of requests
that do not carry a well-formed one yet; API routes, assets and the event websocket are left alone.
Pages served elsewhere (the dev server) get it from /api/auth/browser, which the sign-in forms
visit when the handshake carried no secret.
"""

from __future__ import annotations

import secrets
from collections.abc import MutableMapping
from typing import Any

from coursemall.services.accounts import sessions
from coursemall.settings import get_settings

MAX_AGE = 2 * 365 * 86400
_SKIP_PREFIXES = ("/api/", "/_", "/assets/")


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def cookie_header(secret: str) -> bytes:
    secure = "; Secure" if get_settings().public_base_url.startswith("https://") else ""
    return (f"{sessions.BROWSER_COOKIE}={secret}; Max-Age={MAX_AGE}; Path=/; HttpOnly; SameSite=Lax"
            f"{secure}").encode("latin-1")


def _has_secret(scope: MutableMapping[str, Any]) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, val = part.strip().partition("=")
                if key == sessions.BROWSER_COOKIE and sessions.looks_like_token(val.strip()):
                    return True
    return False


def _is_page(message: MutableMapping[str, Any]) -> bool:
    if message.get("status") == 304:
        return True
    if message.get("status") != 200:
        return False
    for name, value in message.get("headers", ()):
        if name.lower() == b"content-type":
            return value.lower().startswith(b"text/html")
    return False


def _has_header(message: MutableMapping[str, Any], name: bytes) -> bool:
    return any(key.lower() == name for key, _ in message.get("headers", ()))


class BrowserCookieMiddleware:
    """ASGI middleware: hands out the `cm_browser` secret with page responses (see module doc).

    Page responses also get `Cache-Control: no-cache` (unless they set their own), so a browser
    revalidates a page instead of showing a heuristically cached copy: the revalidation passes
    here and a browser whose cookie was cleared gets a new secret before it signs in. A response
    that sets the cookie is `private`, so no shared cache hands one secret to several browsers.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if (scope["type"] != "http" or scope.get("method") not in ("GET", "HEAD")
                or scope.get("path", "").startswith(_SKIP_PREFIXES)):
            await self.app(scope, receive, send)
            return
        needs_secret = not _has_secret(scope)

        async def send_page(message) -> None:
            if message["type"] == "http.response.start" and _is_page(message):
                message = dict(message)
                headers = list(message.get("headers", ()))
                if needs_secret:
                    headers.append((b"set-cookie", cookie_header(new_secret())))
                if not _has_header(message, b"cache-control"):
                    headers.append((b"cache-control", b"private, no-cache" if needs_secret else b"no-cache"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_page)

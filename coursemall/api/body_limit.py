"""Request bodies are capped at the edge, before any route or Reflex's own `/_upload` reads them.

`BodyLimitMiddleware` wraps the whole backend (it is the last `api_transformer`, so it sits outside
the API routes and the Reflex app they mount). Each request gets the cap of its route family:

- `POST /_upload` (Reflex's upload endpoint: avatars, covers, logos, QR codes, payment proofs,
  check-in and homework photos): the largest legitimate request, from the limits the handlers
  enforce themselves, plus room for the multipart framing;
- `PUT /api/uploads/{key}` (the dashboard's chunked media upload): one chunk;
- `POST /api/pay/notify/...`: 64 KiB (gateway notifications are a few KiB);
- everything else: 64 KiB (the event websocket carries no HTTP body).

A declared Content-Length above the cap is answered 413 at once, without calling the app. A body
without a length (chunked) is counted as it streams: the app never receives a byte past the cap;
it sees a client disconnect instead (so Starlette's form parser and the upload handlers stop before
writing anything more), and the client gets 413 unless the app had already started answering.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from coursemall.i18n import normalize_lang, t

log = logging.getLogger("coursemall.api.body_limit")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SMALL_BODY = 64 * 1024
PAY_NOTIFY_BODY = 64 * 1024
MULTIPART_ROOM = 256 * 1024  # part headers, boundaries and the event-args field of an upload
UPLOAD_PATH = "/_upload"
_CHUNK_PUT = re.compile(r"^/api/uploads/[^/]+$")


@functools.lru_cache(maxsize=1)
def upload_cap() -> int:
    """The largest legitimate `/_upload` request: the biggest image any upload handler accepts
    (times the homework form's image count), plus the multipart framing."""
    from coursemall.services.learning import checkins, homework
    from coursemall.services.catalog import authoring
    from coursemall.services.commerce import manual_pay
    from coursemall.services.shop import shop_settings
    from coursemall.settings import get_settings

    largest = max(get_settings().avatar_max_bytes, authoring.COVER_MAX_BYTES, shop_settings.LOGO_MAX_BYTES,
                  manual_pay.MAX_IMAGE_BYTES, checkins.PHOTO_MAX_BYTES * homework.MAX_IMAGES)
    return largest + MULTIPART_ROOM


def chunk_cap() -> int:
    from coursemall.services.media.uploads import CHUNK_MAX

    return CHUNK_MAX


def body_cap(method: str, path: str) -> int:
    """The largest body accepted for this request."""
    if method == "POST" and path == UPLOAD_PATH:
        return upload_cap()
    if method == "PUT" and _CHUNK_PUT.match(path):
        return chunk_cap()
    if path.startswith("/api/pay/notify/"):
        return PAY_NOTIFY_BODY
    return SMALL_BODY


def _declared_length(scope: Scope) -> int | None:
    """The Content-Length header: None if absent, -1 if malformed."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() and len(text) <= 20 else -1
    return None


def _lang(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, val = part.strip().partition("=")
                if key == "cm_lang":
                    return normalize_lang(val.strip())
    return normalize_lang(None)


async def _refuse(scope: Scope, send: Send, cap: int) -> None:
    mb = max(1, cap // (1024 * 1024)) if cap >= 1024 * 1024 else 0
    code = "request.too_large_mb" if mb else "request.too_large_kb"
    size = mb or max(1, cap // 1024)
    body = json.dumps({"ok": False, "code": code, "error": t(code, _lang(scope), size=size)},
                      ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """ASGI middleware: 413 for bodies over their route's cap (see the module docstring)."""

    def __init__(self, app: ASGIApp, cap_for: Callable[[str, str], int] = body_cap) -> None:
        self.app = app
        self.cap_for = cap_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.cap_for(scope.get("method", "GET"), scope.get("path", ""))
        declared = _declared_length(scope)
        if declared is not None and not 0 <= declared <= cap:
            log.info("refused %s %s: declared body %s > %s", scope.get("method"), scope.get("path"), declared, cap)
            await _refuse(scope, send, cap)
            return
        await _LimitedRequest(self.app, scope, receive, send, cap).run()


class _LimitedRequest:
    """One request whose body is counted as the app reads it."""

    def __init__(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send, cap: int) -> None:
        self.app, self.scope, self._receive, self._send, self.cap = app, scope, receive, send, cap
        self.received = 0
        self.overflow = False
        self.started = False

    async def receive(self) -> Message:
        if self.overflow:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.cap:
                self.overflow = True
                log.info("cut off %s %s: streamed body > %s", self.scope.get("method"), self.scope.get("path"), self.cap)
                return {"type": "http.disconnect"}
        return message

    async def send(self, message: Message) -> None:
        if self.overflow and not self.started:
            return  # the app's answer to the disconnect is replaced by our 413
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)

    async def run(self) -> None:
        try:
            await self.app(self.scope, self.receive, self.send)
        except Exception:
            if not self.overflow:
                raise
        if self.overflow and not self.started:
            await _refuse(self.scope, self._send, self.cap)

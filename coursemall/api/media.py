"""GET /api/media/{token}: private lesson media behind short-lived signed tokens.

1. the token must be genuine and unexpired (HMAC, constant-time) -> else 403, no bytes;
2. the token's viewer must still have access to the lesson now (published course, free/partial
   trial or an active entitlement) -> else 403, so a revoked entitlement stops playback;
3. the file is resolved strictly inside the private media root (no traversal) and served by
   Starlette's FileResponse: Range -> 206 (416 when unsatisfiable), file I/O off the event loop.
"""

from __future__ import annotations

from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from coursemall.db import session_scope
from coursemall.media.tokens import verify_token
from coursemall.services.media_access import resolve_media_for_claim
from coursemall.settings import get_settings

_ALLOWED_MIME = {
    "video/mp4", "video/webm", "audio/mpeg", "audio/mp4", "audio/aac", "audio/ogg", "audio/webm",
    "audio/wav", "application/vnd.apple.mpegurl",
}
_PRIVATE = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}


def _forbidden() -> Response:
    return Response("forbidden", status_code=403, media_type="text/plain", headers=_PRIVATE)


def _resolve(claim) -> tuple[Path, str] | None:
    with session_scope() as session:
        media = resolve_media_for_claim(session, user_id=claim.user_id, lesson_id=claim.lesson_id,
                                        asset_id=claim.asset_id)
    if media is None or media.mime not in _ALLOWED_MIME:
        return None
    root = get_settings().media_dir.resolve()
    key = media.storage_key
    if not key or key.startswith(("/", "\\")) or "\x00" in key:
        return None
    path = (root / key).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path, media.mime


async def media_file(request: Request) -> Response:
    claim = verify_token(request.path_params.get("token", ""))
    if claim is None:
        return _forbidden()
    resolved = await run_in_threadpool(_resolve, claim)
    if resolved is None:
        return _forbidden()
    path, mime = resolved
    return FileResponse(path, media_type=mime, headers=dict(_PRIVATE),
                        content_disposition_type="inline")


ROUTES = [Route("/api/media/{token}", media_file, methods=["GET", "HEAD"])]

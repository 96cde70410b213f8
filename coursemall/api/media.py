"""GET /api/media/{token}: private lesson media behind short-lived signed tokens.

What it serves (services/media_access.resolve_media_for_claim): a partial preview's free-seconds
clip, and whole files only to course managers previewing their course. Learners with full access
play encrypted HLS (api/hls.py); the original or an MP4/M4A rendition of a paid lesson is never
served to them.

1. the token must be genuine and unexpired (HMAC, constant-time) -> else 403, no bytes;
2. a signed-in viewer's token is bound to the session it was minted for: the request must carry
   that session's `cm_session` cookie (same-origin <video>/<audio> requests send it) and the
   session must still be live and belong to the token's user -> else 403, so a copied URL does not
   play in another browser. Anonymous tokens need no cookie but only reach free-trial content;
3. the token's viewer must still have access to the lesson now (published course or a manager's
   preview, free/partial trial or an active, released entitlement) -> else 403, so a revoked
   entitlement stops playback;
4. the file is resolved strictly inside the private media root (no traversal) and served by
   Starlette's FileResponse: Range -> 206 (416 when unsatisfiable), file I/O off the event loop.
"""

from __future__ import annotations

from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from coursemall.db import session_scope
from coursemall.media.tokens import MediaClaim, binding_matches, verify_token
from coursemall.services.accounts import sessions
from coursemall.services.learning.media_access import resolve_media_for_claim
from coursemall.settings import get_settings

_ALLOWED_MIME = {
    "video/mp4", "video/webm", "audio/mpeg", "audio/mp4", "audio/aac", "audio/ogg", "audio/webm",
    "audio/wav", "application/vnd.apple.mpegurl",
}
_PRIVATE = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}


def _forbidden() -> Response:
    return Response("forbidden", status_code=403, media_type="text/plain", headers=_PRIVATE)


def _cookie_hash(request: Request) -> str:
    token = request.cookies.get(sessions.SESSION_COOKIE, "")
    return sessions.token_hash(token) if sessions.looks_like_token(token) else ""


def _resolve(claim: MediaClaim, session_hash: str) -> tuple[Path, str] | None:
    with session_scope() as session:
        mfa_verified = False
        if claim.user_id:
            live = sessions.resolve_session(session, token_hash_hex=session_hash)
            if live is None or live.user_id != claim.user_id:
                return None  # signed out, expired, revoked, or someone else's cookie
            mfa_verified = live.mfa_verified
        media = resolve_media_for_claim(session, claim, mfa_verified=mfa_verified)
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
    session_hash = _cookie_hash(request)
    if not binding_matches(claim, session_hash):
        return _forbidden()
    resolved = await run_in_threadpool(_resolve, claim, session_hash)
    if resolved is None:
        return _forbidden()
    path, mime = resolved
    return FileResponse(path, media_type=mime, headers=dict(_PRIVATE),
                        content_disposition_type="inline")


ROUTES = [Route("/api/media/{token}", media_file, methods=["GET", "HEAD"])]

"""Encrypted HLS (AES-128) of a lesson's video, with the key behind an access check.

GET /api/hls/{lesson_id}/{asset_id}/index.m3u8   the playlist (relative URIs: segments, "key")
GET /api/hls/{lesson_id}/{asset_id}/seg0000.ts   an encrypted MPEG-TS segment
GET /api/hls/{lesson_id}/{asset_id}/key          the 16-byte AES key

Every request is checked again: the viewer comes from the HttpOnly `cm_session` cookie (hls.js
requests are same-origin and send it; anonymous = no cookie), the lesson must be public and the
viewer must have FULL access now (bought and not revoked/expired, or a free-trial lesson), and the
asset must be the lesson's current ready video with an "hls" rendition (services/transcode.py).
So a revoked entitlement stops the key at once, and a copied URL opened in another browser gets
403. Partial-trial viewers are refused (they get the trimmed preview MP4 instead).
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlmodel import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from coursemall.db import session_scope
from coursemall.domain.errors import DomainError
from coursemall.models import Lesson, MediaAsset
from coursemall.services import sessions
from coursemall.services.media_access import Access, check_lesson_access, valid_id
from coursemall.settings import get_settings

_NAMES = re.compile(r"^(index\.m3u8|seg\d{4,6}\.ts|key)$")
_TYPES = {"index.m3u8": "application/vnd.apple.mpegurl", "key": "application/octet-stream"}
_PRIVATE = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}


def hls_url(lesson_id: int, asset_id: int) -> str:
    """Playlist URL for the player (hls.js); the cookie travels with every request."""
    return f"/api/hls/{int(lesson_id)}/{int(asset_id)}/index.m3u8"


def _viewer(session, token: str) -> int | None:
    if not sessions.looks_like_token(token):
        return None
    resolved = sessions.resolve_session(session, token_hash_hex=sessions.token_hash(token))
    return resolved.user_id if resolved else None


def _resolve(token: str, raw_lesson: str, raw_asset: str, name: str) -> Path | None:
    lesson_id, asset_id = valid_id(raw_lesson), valid_id(raw_asset)
    if lesson_id is None or asset_id is None or not _NAMES.match(name):
        return None
    with session_scope() as s:
        try:
            decision = check_lesson_access(s, actor_id=_viewer(s, token), lesson_id=lesson_id)
        except DomainError:
            return None
        if decision.access is not Access.FULL:
            return None
        asset = s.exec(select(MediaAsset).join(Lesson, Lesson.media_asset_id == MediaAsset.id)
                       .where(Lesson.id == lesson_id, MediaAsset.id == asset_id)).first()
        folder = (asset.renditions or {}).get("hls") if asset is not None and asset.status == "ready" else None
    if not isinstance(folder, str) or not folder:
        return None
    root = get_settings().media_dir.resolve()
    path = (root / folder / ("key.bin" if name == "key" else name)).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path


async def hls_file(request: Request) -> Response:
    params = request.path_params
    path = await run_in_threadpool(_resolve, request.cookies.get(sessions.SESSION_COOKIE, ""),
                                   params["lesson_id"], params["asset_id"], params["name"])
    if path is None:
        return Response("forbidden", status_code=403, media_type="text/plain", headers=_PRIVATE)
    return FileResponse(path, media_type=_TYPES.get(params["name"], "video/mp2t"), headers=dict(_PRIVATE))


ROUTES = [Route("/api/hls/{lesson_id}/{asset_id}/{name}", hls_file, methods=["GET"])]

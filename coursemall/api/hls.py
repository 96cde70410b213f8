"""Encrypted HLS (AES-128) of a lesson's video and audio: how buyers (and free-trial viewers) play.

GET /api/hls/{lesson}/{asset}/{variant}/index.m3u8?t=<token>   a variant's playlist (hd | sd | audio)
GET /api/hls/{lesson}/{asset}/{variant}/seg0000.ts             an encrypted MPEG-TS segment
GET /api/hls/{lesson}/{asset}/{variant}/key?t=<token>          the variant's 16-byte AES key

Every request is checked again, in one worker-thread call with one database session:
- the viewer comes from the HttpOnly `cm_session` cookie (hls.js requests are same-origin and send
  it; anonymous = no cookie) and must have FULL access now (services/media_access.resolve_hls):
  bought and not revoked/expired, released, or a free-trial lesson, or a manager's preview;
- the playlist and the key also need a short-lived signed token (media/tokens.py) naming the user,
  lesson, asset, variant and the *session*: the player gets the playlist URL from the server, and
  each playlist served carries a fresh key token bound to the requesting session. A playlist or key
  URL copied into another browser (no cookie, another learner, even another session of the same
  learner) gets 403, and so does everything once the entitlement is revoked;
- every segment (and the key) served to a learner with a purchase is recorded once per learner,
  lesson and segment index (services/learning/consumption.py): what the refund rule counts.
Partial-trial viewers get nothing here: they play the free-seconds clip from /api/media.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from coursemall.db import session_scope
from coursemall.domain.validation import valid_id
from coursemall.media.tokens import HLS_VARIANTS, binding_matches, mint_token, session_binding, verify_token
from coursemall.services.learning import consumption
from coursemall.services.accounts import sessions
from coursemall.services.learning.media_access import resolve_hls
from coursemall.settings import get_settings

PLAYLIST, KEY = "index.m3u8", "key"
_SEGMENT = re.compile(r"^seg(\d{4,6})\.ts$")
_KEY_LINE = re.compile(r'(#EXT-X-KEY:[^\n]*URI=")key(")')
_EXTINF = re.compile(r"^#EXTINF:([0-9.]+)")
_PRIVATE = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
HLS_MIME = "application/vnd.apple.mpegurl"
KEY_SEGMENT = -1  # the key is recorded as segment -1 (no duration): the learner could decrypt


@dataclass(frozen=True)
class _Served:
    path: Path
    body: bytes | None = None  # the rewritten playlist; None = stream the file


def _forbidden() -> Response:
    return Response("forbidden", status_code=403, media_type="text/plain", headers=_PRIVATE)


def _viewer(session, token: str) -> tuple[int | None, str, bool]:
    """(user id or None, session token hash, TOTP-verified) from the cookie."""
    if not sessions.looks_like_token(token):
        return None, "", False
    token_hash = sessions.token_hash(token)
    resolved = sessions.resolve_session(session, token_hash_hex=token_hash)
    if resolved is None:
        return None, "", False
    return resolved.user_id, token_hash, resolved.mfa_verified


def _token_ok(raw: str, *, rendition: str, lesson_id: int, asset_id: int, viewer: int | None,
              session_hash: str) -> bool:
    """A genuine, unexpired token for exactly this lesson/asset/variant, minted for this viewer's
    session (anonymous tokens: free-trial viewers without a sign-in)."""
    claim = verify_token(raw)
    if claim is None or claim.rendition != rendition or (claim.lesson_id, claim.asset_id) != (lesson_id, asset_id):
        return False
    if (claim.user_id or None) != viewer:
        return False
    return binding_matches(claim, session_hash)


@lru_cache(maxsize=512)
def _segment_durations(playlist: str, _mtime_ns: int) -> dict[str, int]:
    """{segment file name: duration in ms} of a VOD playlist (parsed once per file version)."""
    durations: dict[str, int] = {}
    pending = 0
    for line in Path(playlist).read_text(errors="replace").splitlines():
        line = line.strip()
        match = _EXTINF.match(line)
        if match:
            pending = int(float(match.group(1)) * 1000)
        elif line and not line.startswith("#"):
            durations[line] = pending
    return durations


def _durations(folder: Path) -> dict[str, int]:
    playlist = folder / PLAYLIST
    return _segment_durations(str(playlist), playlist.stat().st_mtime_ns)


def _rewrite_playlist(text: str, key_token: str) -> bytes:
    """The key URI carries a fresh token bound to the requesting session; segments stay relative."""
    return _KEY_LINE.sub(lambda m: f"{m.group(1)}key?t={key_token}{m.group(2)}", text).encode()


def _serve(cookie: str, raw_lesson: str, raw_asset: str, variant: str, name: str, token: str) -> _Served | None:
    lesson_id, asset_id = valid_id(raw_lesson), valid_id(raw_asset)
    segment = _SEGMENT.match(name)
    if lesson_id is None or asset_id is None or variant not in HLS_VARIANTS:
        return None
    if name not in (PLAYLIST, KEY) and segment is None:
        return None
    with session_scope() as s:
        viewer, session_hash, mfa = _viewer(s, cookie)
        if name in (PLAYLIST, KEY):
            rendition = f"{'hls' if name == PLAYLIST else 'key'}-{variant}"
            if not _token_ok(token, rendition=rendition, lesson_id=lesson_id, asset_id=asset_id, viewer=viewer,
                             session_hash=session_hash):
                return None
        target = resolve_hls(s, actor_id=viewer, lesson_id=lesson_id, asset_id=asset_id, variant=variant,
                             mfa_verified=mfa)
        if target is None:
            return None
        root = get_settings().media_dir.resolve()
        folder = (root / target.folder).resolve()
        if root not in folder.parents:
            return None
        path = folder / ("key.bin" if name == KEY else name)
        if not path.is_file():
            return None
        if name == PLAYLIST:
            key_token = mint_token(user_id=viewer, lesson_id=lesson_id, asset_id=asset_id, rendition=f"key-{variant}",
                                   binding=session_binding(session_hash) if viewer else "0")
            return _Served(path, _rewrite_playlist(path.read_text(errors="replace"), key_token))
        if target.meter:
            if name == KEY:
                index, duration_ms = KEY_SEGMENT, 0
            else:
                known = _durations(folder)
                if name not in known:
                    return None  # a file next to the playlist that it does not list
                index, duration_ms = int(segment.group(1)), known[name]
            consumption.record_served(s, user_id=viewer, lesson_id=lesson_id, course_id=target.course_id,
                                      segment=index, duration_ms=duration_ms)
        return _Served(path)


async def hls_file(request: Request) -> Response:
    params = request.path_params
    token = request.query_params.get("t", "")
    served = await run_in_threadpool(_serve, request.cookies.get(sessions.SESSION_COOKIE, ""),
                                     params["lesson_id"], params["asset_id"], params["variant"], params["name"],
                                     token if isinstance(token, str) and len(token) <= 200 else "")
    if served is None:
        return _forbidden()
    name = params["name"]
    if served.body is not None:
        return Response(served.body, media_type=HLS_MIME, headers=dict(_PRIVATE))
    media_type = "application/octet-stream" if name == KEY else "video/mp2t"
    return FileResponse(served.path, media_type=media_type, headers=dict(_PRIVATE))


ROUTES = [Route("/api/hls/{lesson_id}/{asset_id}/{variant}/{name}", hls_file, methods=["GET"])]

"""Signed, short-lived media tokens (ARCHITECTURE rule 7).

A token binds (user id, lesson id, asset id, rendition, session binding, expiry) with HMAC-SHA256
over the shop's secret key: ``<uid>.<lesson>.<asset>.<rendition>.<bind>.<exp>.<sig>``, all
URL-safe. User id 0 is an anonymous viewer (free-trial content only) and has the binding "0".

The binding of a signed-in viewer is a keyed hash of the SHA-256 of their session cookie
(`session_binding`): the media route recomputes it from the request's `cm_session` cookie, so a
URL copied into another browser (no cookie, or another session) is refused. The cookie itself
never appears in the token. Verification is constant-time and strict, and never raises.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass

from coursemall.settings import get_settings

_PURPOSE = b"coursemall.media.v2:"
_BIND_PURPOSE = b"coursemall.media.bind.v1:"
_MAX_TOKEN_CHARS = 200
ANONYMOUS_BINDING = "0"
# /api/media: src = the upload itself (course managers' previews only), hd/sd/audio = whole-file
# renditions (managers only), preview = the lesson's free-seconds clip (non-buyers).
# /api/hls: hls-<variant> = an encrypted playlist, key-<variant> = its AES key.
HLS_VARIANTS = ("hd", "sd", "audio")
RENDITIONS = ("src", "hd", "sd", "audio", "preview", *(f"hls-{v}" for v in HLS_VARIANTS),
              *(f"key-{v}" for v in HLS_VARIANTS))
_TOKEN_RE = re.compile(
    r"^(\d{1,12})\.(\d{1,12})\.(\d{1,12})\.(" + "|".join(RENDITIONS) + r")\.(0|[A-Za-z0-9_-]{22})\.(\d{1,12})\."
    r"([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class MediaClaim:
    user_id: int  # 0 = anonymous
    lesson_id: int
    asset_id: int
    rendition: str
    binding: str  # session_binding(...) of the minting session; "0" for anonymous
    expires_at: int  # unix seconds


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _sign(body: str, key: str) -> str:
    return _b64(hmac.new(key.encode(), _PURPOSE + body.encode(), hashlib.sha256).digest())


def session_binding(session_token_hash: str, *, key: str | None = None) -> str:
    """22 URL-safe characters derived from a session's token hash (HMAC, so the hash itself is
    not revealed); "" when there is no usable session hash."""
    if not isinstance(session_token_hash, str) or len(session_token_hash) != 64:
        return ""
    digest = hmac.new((key or get_settings().secret_key).encode(), _BIND_PURPOSE + session_token_hash.encode(),
                      hashlib.sha256).digest()
    return _b64(digest[:16])


def mint_token(*, user_id: int | None, lesson_id: int, asset_id: int, rendition: str = "src",
               binding: str = ANONYMOUS_BINDING, ttl: int | None = None, now: float | None = None,
               key: str | None = None) -> str:
    settings = get_settings()
    uid = int(user_id or 0)
    if uid < 0 or lesson_id <= 0 or asset_id <= 0:
        raise ValueError("ids must be positive")
    if rendition not in RENDITIONS:
        raise ValueError("unknown rendition")
    if uid == 0:
        binding = ANONYMOUS_BINDING  # anonymous tokens are never tied to a session
    if not isinstance(binding, str) or not re.fullmatch(r"0|[A-Za-z0-9_-]{22}", binding):
        raise ValueError("bad binding")
    expires = int(now if now is not None else time.time()) + int(ttl or settings.media_token_ttl)
    body = f"{uid}.{int(lesson_id)}.{int(asset_id)}.{rendition}.{binding}.{expires}"
    return f"{body}.{_sign(body, key or settings.secret_key)}"


def verify_token(token: object, *, now: float | None = None, key: str | None = None) -> MediaClaim | None:
    """The claim of a genuine, unexpired token; None for anything else."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_CHARS:
        return None
    match = _TOKEN_RE.match(token)
    if match is None:
        return None
    uid, lesson, asset, rendition, binding, exp, sig = match.groups()
    body = f"{uid}.{lesson}.{asset}.{rendition}.{binding}.{exp}"
    expected = _sign(body, key or get_settings().secret_key)
    if not hmac.compare_digest(expected.encode(), sig.encode()):
        return None
    # Reject non-canonical numbers (leading zeros) so one claim has exactly one token.
    if any(part != str(int(part)) for part in (uid, lesson, asset, exp)):
        return None
    if int(exp) <= int(now if now is not None else time.time()):
        return None
    return MediaClaim(int(uid), int(lesson), int(asset), rendition, binding, int(exp))


def binding_matches(claim: MediaClaim, session_token_hash: str) -> bool:
    """Anonymous claims need no session; a viewer's claim needs the very session it was minted for."""
    if claim.user_id == 0:
        return claim.binding == ANONYMOUS_BINDING
    expected = session_binding(session_token_hash)
    return bool(expected) and hmac.compare_digest(expected.encode(), claim.binding.encode())


def media_url(token: str) -> str:
    return f"/api/media/{token}"

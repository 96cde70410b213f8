"""Signed, short-lived media tokens (ARCHITECTURE rule 7).

A token binds (user id, lesson id, asset id, expiry) with HMAC-SHA256 over the shop's secret key:
``<uid>.<lesson>.<asset>.<exp>.<sig>``, all URL-safe. User id 0 is an anonymous viewer. Verification
is constant-time and strict (digits only, bounded length), and never raises on bad input.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass

from coursemall.settings import get_settings

_PURPOSE = b"coursemall.media.v1:"
_MAX_TOKEN_CHARS = 160
_TOKEN_RE = re.compile(r"^(\d{1,12})\.(\d{1,12})\.(\d{1,12})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class MediaClaim:
    user_id: int  # 0 = anonymous
    lesson_id: int
    asset_id: int
    expires_at: int  # unix seconds


def _sign(body: str, key: str) -> str:
    digest = hmac.new(key.encode(), _PURPOSE + body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def mint_token(*, user_id: int | None, lesson_id: int, asset_id: int, ttl: int | None = None,
               now: float | None = None, key: str | None = None) -> str:
    settings = get_settings()
    uid = int(user_id or 0)
    if uid < 0 or lesson_id <= 0 or asset_id <= 0:
        raise ValueError("ids must be positive")
    expires = int(now if now is not None else time.time()) + int(ttl or settings.media_token_ttl)
    body = f"{uid}.{int(lesson_id)}.{int(asset_id)}.{expires}"
    return f"{body}.{_sign(body, key or settings.secret_key)}"


def verify_token(token: object, *, now: float | None = None, key: str | None = None) -> MediaClaim | None:
    """The claim of a genuine, unexpired token; None for anything else."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_CHARS:
        return None
    match = _TOKEN_RE.match(token)
    if match is None:
        return None
    uid, lesson, asset, exp, sig = match.groups()
    body = f"{uid}.{lesson}.{asset}.{exp}"
    expected = _sign(body, key or get_settings().secret_key)
    if not hmac.compare_digest(expected.encode(), sig.encode()):
        return None
    # Reject non-canonical numbers (leading zeros) so one claim has exactly one token.
    if any(part != str(int(part)) for part in (uid, lesson, asset, exp)):
        return None
    if int(exp) <= int(now if now is not None else time.time()):
        return None
    return MediaClaim(int(uid), int(lesson), int(asset), int(exp))


def media_url(token: str) -> str:
    return f"/api/media/{token}"

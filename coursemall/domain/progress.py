"""Learning progress: pure rules (no DB, no reflex).

Coverage. A lesson of `duration` seconds is cut into 5-second buckets; bucket i is [5i, 5i+5)
(the last one may be shorter). A heartbeat reports the span [watched_from, watched_to) that the
player just played; bucket i counts as covered when the span contains its midpoint. Consecutive
spans therefore cover every bucket exactly once, and time watched twice sets the same bits again:
replays never count twice. The covered set is a bitmap (bit i of byte i // 8, LSB first) stored as
bytes. Watched seconds = covered buckets × 5, capped at the duration.

Completion: video/audio at ≥ 90 % watched; articles when read to 100 % (the end).

Forgery limits (a heartbeat is an untrusted message):
- the span one heartbeat may cover is at most MAX_PLAYBACK_RATE × (wall time since the previous
  heartbeat of that lesson, at most MAX_GAP_SECONDS, + SPAN_SLACK_SECONDS); longer spans are cut
  at their start, so a lesson cannot be "completed" by one forged message;
- the study time credited to a day is the newly covered seconds, capped at the wall time since
  the learner's previous heartbeat (any lesson) + TIME_SLACK_SECONDS, so replays and parallel
  forged heartbeats do not inflate the daily chart.

Day: study days, streaks and check-ins use the shop's local day in Asia/Shanghai
(`coursemall.domain.time.china_date`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterable

from coursemall.domain.errors import DomainError

BUCKET_SECONDS = 5
COMPLETE_PCT = 90  # video / audio
ARTICLE_COMPLETE_PCT = 100
POSITION_TOLERANCE_SECONDS = 3  # players report a little past the end (rounding, last frame)
MAX_LESSON_SECONDS = 24 * 3600  # a bitmap never grows beyond 24 h of buckets (2,160 bytes)
MAX_PLAYBACK_RATE = 2  # the player offers 0.5×–2×
SPAN_SLACK_SECONDS = 15
MAX_GAP_SECONDS = 120
TIME_SLACK_SECONDS = 2
ARTICLE_CREDIT_MAX_SECONDS = 30


# ------------------------------------------------------------------------------------- input

def parse_seconds(value: object, *, upper: float) -> float:
    """A finite, non-negative number of seconds not above `upper`, else error.bad_request."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DomainError("error.bad_request")
    if isinstance(value, int):
        if not 0 <= value <= upper:
            raise DomainError("progress.bad_position")
        return float(value)
    if not math.isfinite(value):
        raise DomainError("error.bad_request")
    if not 0.0 <= value <= upper:
        raise DomainError("progress.bad_position")
    return value


def parse_percent(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DomainError("error.bad_request")
    if isinstance(value, float) and not math.isfinite(value):
        raise DomainError("error.bad_request")
    if not 0 <= value <= 100:
        raise DomainError("progress.bad_position")
    return int(value)


# ------------------------------------------------------------------------------------- buckets

def bucket_count(duration: int) -> int:
    duration = max(0, min(int(duration), MAX_LESSON_SECONDS))
    return (duration + BUCKET_SECONDS - 1) // BUCKET_SECONDS


def _midpoint(i: int, duration: int) -> float:
    start = i * BUCKET_SECONDS
    end = min(start + BUCKET_SECONDS, duration)
    return (start + end) / 2


def span_buckets(start: float, end: float, duration: int) -> range:
    """Indices of the buckets whose midpoint lies in [start, end)."""
    n = bucket_count(duration)
    if n == 0 or end <= start:
        return range(0)
    half = BUCKET_SECONDS / 2
    first = max(0, math.ceil((start - half) / BUCKET_SECONDS))
    last = min(n - 1, math.ceil((end - half) / BUCKET_SECONDS) - 1)
    if last + 1 == n - 1 and _midpoint(n - 1, duration) < end:
        last = n - 1  # the short last bucket has an earlier midpoint
    if first == n and _midpoint(n - 1, duration) >= start:
        first = n - 1
    while first <= last and _midpoint(first, duration) < start:
        first += 1
    return range(first, last + 1)


def merge_span(bitmap: bytes, buckets: range, duration: int) -> tuple[bytes, int]:
    """(new bitmap, number of buckets newly set)."""
    size = (bucket_count(duration) + 7) // 8
    bits = bytearray(bitmap[:size].ljust(size, b"\x00"))
    added = 0
    for i in buckets:
        byte, mask = i // 8, 1 << (i % 8)
        if not bits[byte] & mask:
            bits[byte] |= mask
            added += 1
    return bytes(bits), added


def covered_buckets(bitmap: bytes) -> int:
    return sum(bin(b).count("1") for b in bitmap)


def watched_seconds(bitmap: bytes, duration: int) -> int:
    return min(covered_buckets(bitmap) * BUCKET_SECONDS, max(0, int(duration)))


def furthest_contiguous_seconds(bitmap: bytes, duration: int) -> int:
    """End of the covered prefix (for 'no seeking ahead on first watch')."""
    n = bucket_count(duration)
    i = 0
    while i < n and bitmap[i // 8:i // 8 + 1] and bitmap[i // 8] & (1 << (i % 8)):
        i += 1
    return min(i * BUCKET_SECONDS, max(0, int(duration)))


def watched_pct(bitmap: bytes, duration: int) -> int:
    if duration <= 0:
        return 100
    return min(100, watched_seconds(bitmap, duration) * 100 // duration)


def is_media_complete(watched: int, duration: int) -> bool:
    """≥ 90 % of the duration covered (integer arithmetic, no float rounding)."""
    if duration <= 0:
        return True
    return watched * 100 >= duration * COMPLETE_PCT


def allowed_span(seconds_since_last: float | None) -> float:
    """How much media time one heartbeat may cover, given the wall time since the last one."""
    elapsed = 0.0 if seconds_since_last is None else max(0.0, min(seconds_since_last, MAX_GAP_SECONDS))
    return MAX_PLAYBACK_RATE * (elapsed + SPAN_SLACK_SECONDS)


def credit_seconds(new_seconds: int, seconds_since_last_any: float | None) -> int:
    """Study time credited for `new_seconds` of newly covered media."""
    elapsed = MAX_GAP_SECONDS if seconds_since_last_any is None else max(0.0, min(seconds_since_last_any,
                                                                                     MAX_GAP_SECONDS))
    return max(0, min(int(new_seconds), int(elapsed + TIME_SLACK_SECONDS)))


# ------------------------------------------------------------------------------------- days

@dataclass(frozen=True)
class Streaks:
    current: int
    longest: int


def streaks(days: Iterable[date], today: date) -> Streaks:
    """Current streak = consecutive days ending today (or yesterday, while today is still open);
    longest = the longest run of consecutive days ever."""
    unique = sorted(set(days))
    longest = run = 0
    prev: date | None = None
    for d in unique:
        run = run + 1 if prev is not None and d - prev == timedelta(days=1) else 1
        longest = max(longest, run)
        prev = d
    have = set(unique)
    current = 0
    cursor = today if today in have else today - timedelta(days=1)
    while cursor in have:
        current += 1
        cursor -= timedelta(days=1)
    return Streaks(current=current, longest=longest)


def course_pct(completed: int, total: int) -> int:
    if total <= 0:
        return 0
    return min(100, completed * 100 // total)

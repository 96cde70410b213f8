"""Pure progress rules: coverage buckets, completion, forgery caps, local days, streaks."""

from __future__ import annotations

import math
from datetime import date, datetime, timezone

import pytest

from coursemall.domain import progress as p
from coursemall.domain.errors import DomainError
from coursemall.domain.time import china_date


def cover(spans, duration):
    bitmap = b""
    for start, end in spans:
        bitmap, _ = p.merge_span(bitmap, p.span_buckets(start, end, duration), duration)
    return bitmap


def test_consecutive_spans_cover_each_bucket_once():
    duration = 600
    spans = [(0, 12), (12, 24), (24, 33.3), (33.3, 47)]
    bitmap = cover(spans, duration)
    assert p.watched_seconds(bitmap, duration) == 45  # buckets 0..8 (midpoints 2.5 .. 42.5)
    assert p.furthest_contiguous_seconds(bitmap, duration) == 45


def test_replays_count_once():
    duration = 100
    once = cover([(0, 50)], duration)
    twice = cover([(0, 50), (0, 50), (10, 40), (20, 30)], duration)
    assert once == twice
    assert p.watched_seconds(twice, duration) == 50
    bitmap, added = p.merge_span(twice, p.span_buckets(0, 50, duration), duration)
    assert added == 0 and bitmap == twice


def test_last_partial_bucket_and_cap_at_duration():
    assert list(p.span_buckets(0, 12, 12)) == [0, 1, 2]
    assert list(p.span_buckets(11.5, 12, 12)) == []  # the short last bucket's midpoint is 11
    bitmap = cover([(0, 12)], 12)
    assert p.watched_seconds(bitmap, 12) == 12  # 3 buckets × 5 capped at 12
    assert p.watched_pct(bitmap, 12) == 100


def test_ninety_percent_rule():
    assert not p.is_media_complete(89, 100)
    assert p.is_media_complete(90, 100)
    assert not p.is_media_complete(539, 600)
    assert p.is_media_complete(540, 600)
    assert p.is_media_complete(0, 0)


def test_parse_seconds_refuses_bad_values():
    assert p.parse_seconds(3, upper=10) == 3.0
    assert p.parse_seconds(9.5, upper=10) == 9.5
    for bad in (math.nan, math.inf, -math.inf, "5", None, True, [1], {"a": 1}):
        with pytest.raises(DomainError, match="error.bad_request"):
            p.parse_seconds(bad, upper=10)
    for bad in (-1, -0.5, 10.01, 10**18):
        with pytest.raises(DomainError, match="progress.bad_position"):
            p.parse_seconds(bad, upper=10)


def test_forgery_caps():
    assert p.allowed_span(None) == p.MAX_PLAYBACK_RATE * p.SPAN_SLACK_SECONDS
    assert p.allowed_span(10) == p.MAX_PLAYBACK_RATE * (10 + p.SPAN_SLACK_SECONDS)
    assert p.allowed_span(10_000) == p.allowed_span(p.MAX_GAP_SECONDS)
    assert p.credit_seconds(20, 10) == 12  # 2x playback for 10 s of wall time credits ~10 s
    assert p.credit_seconds(600, 0.5) == 2
    assert p.credit_seconds(-5, 10) == 0


def test_study_day_is_shanghai():
    assert china_date(datetime(2026, 3, 1, 15, 59, tzinfo=timezone.utc)) == date(2026, 3, 1)
    assert china_date(datetime(2026, 3, 1, 16, 0, tzinfo=timezone.utc)) == date(2026, 3, 2)
    with pytest.raises(ValueError):
        china_date(datetime(2026, 3, 1))


def test_streaks():
    d = date(2026, 3, 10)
    days = [date(2026, 3, i) for i in (1, 2, 3, 4, 7, 8, 9, 10)]
    assert p.streaks(days, d) == p.Streaks(current=4, longest=4)
    assert p.streaks(days[:-1], d) == p.Streaks(current=3, longest=4)  # today still open
    assert p.streaks(days[:-2], d) == p.Streaks(current=0, longest=4)  # missed yesterday
    assert p.streaks([], d) == p.Streaks(0, 0)
    assert p.streaks([d, d, d], d) == p.Streaks(1, 1)


def test_course_pct():
    assert p.course_pct(0, 0) == 0
    assert p.course_pct(1, 3) == 33
    assert p.course_pct(3, 3) == 100

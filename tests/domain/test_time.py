"""China time (UTC+8): the shop's day boundaries and how times are shown."""

from datetime import date, datetime, timedelta, timezone

import pytest

from coursemall.domain.time import (
    CHINA_TZ,
    SECOND_FORMAT,
    china_date,
    china_days_utc,
    china_midnight_utc,
    china_time_text,
    china_today,
    china_wall_to_utc,
    to_china,
)

UTC = timezone.utc


def test_china_is_utc_plus_8_without_dst():
    for month in (1, 7):  # no daylight saving: the offset is the same in winter and summer
        assert datetime(2026, month, 1, tzinfo=CHINA_TZ).utcoffset() == timedelta(hours=8)


def test_china_date_turns_at_16_utc():
    assert china_date(datetime(2026, 3, 1, 15, 59, 59, tzinfo=UTC)) == date(2026, 3, 1)
    assert china_date(datetime(2026, 3, 1, 16, 0, tzinfo=UTC)) == date(2026, 3, 2)
    assert china_today(datetime(2026, 12, 31, 16, 0, tzinfo=UTC)) == date(2027, 1, 1)
    with pytest.raises(ValueError):
        china_date(datetime(2026, 3, 1))


def test_today_defaults_to_now():
    before = datetime.now(UTC).astimezone(CHINA_TZ).date()
    assert china_today() in (before, before + timedelta(days=1))


def test_day_boundaries_in_utc():
    assert china_midnight_utc(date(2026, 3, 2)) == datetime(2026, 3, 1, 16, 0, tzinfo=UTC)
    assert china_midnight_utc(date(2026, 3, 2)).tzinfo == UTC
    lo, hi = china_days_utc(date(2026, 3, 9), date(2026, 3, 10))
    assert (lo, hi) == (datetime(2026, 3, 8, 16, tzinfo=UTC), datetime(2026, 3, 10, 16, tzinfo=UTC))
    moment = datetime(2026, 3, 9, 23, 30, tzinfo=UTC)
    assert china_midnight_utc(china_date(moment)) <= moment < china_midnight_utc(china_date(moment) + timedelta(days=1))


def test_wall_clock_and_display():
    assert china_wall_to_utc(datetime(2026, 12, 1, 20, 0)) == datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    at = datetime(2026, 3, 1, 16, 5, 9, tzinfo=UTC)
    assert china_time_text(at) == "2026-03-02 00:05"
    assert china_time_text(at, SECOND_FORMAT) == "2026-03-02 00:05:09"
    assert china_time_text(at.replace(tzinfo=None)) == "2026-03-02 00:05"  # naive = UTC
    assert china_time_text(None) == ""
    assert to_china(at).utcoffset() == timedelta(hours=8) and to_china(at) == at

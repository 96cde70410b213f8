"""The shop's time: China time (UTC+8) and its days. Pure (no DB, no Reflex).

The shop's day is the China day: Asia/Shanghai has had no daylight saving since 1991, so a fixed
+08:00 offset needs no tz database. Datetimes are stored as aware UTC (models.base.UtcDateTime);
everything shown to people, every day boundary and every date range is in China time.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

CHINA_TZ = timezone(timedelta(hours=8))
MINUTE_FORMAT = "%Y-%m-%d %H:%M"
SECOND_FORMAT = "%Y-%m-%d %H:%M:%S"


def _aware(value: datetime) -> datetime:
    """Naive datetimes are UTC (what the database layer hands back); aware ones stay."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def china_date(at: datetime) -> date:
    """The China day of an aware datetime (the shop's day); a naive one is a ValueError."""
    if at.tzinfo is None:
        raise ValueError("aware datetime required")
    return at.astimezone(CHINA_TZ).date()


def china_today(now: datetime | None = None) -> date:
    """Today in China (`now` defaults to the current time)."""
    return china_date(now or datetime.now(timezone.utc))


def china_midnight_utc(day: date) -> datetime:
    """The start of a China day (00:00 China time) as an aware UTC datetime."""
    return datetime.combine(day, time.min, tzinfo=CHINA_TZ).astimezone(timezone.utc)


def china_days_utc(start: date, end: date) -> tuple[datetime, datetime]:
    """Whole China days start..end (inclusive) as [lo, hi) in UTC."""
    return china_midnight_utc(start), china_midnight_utc(end + timedelta(days=1))


def china_wall_to_utc(local: datetime) -> datetime:
    """A naive wall-clock time read as China time -> aware UTC."""
    return local.replace(tzinfo=CHINA_TZ).astimezone(timezone.utc)


def to_china(value: datetime) -> datetime:
    """The same instant in China time (naive = UTC)."""
    return _aware(value).astimezone(CHINA_TZ)


def china_time_text(value: datetime | None, fmt: str = MINUTE_FORMAT) -> str:
    """'2026-03-10 20:05' in China time; None -> '' (naive = UTC)."""
    return "" if value is None else to_china(value).strftime(fmt)

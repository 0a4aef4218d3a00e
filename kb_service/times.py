"""Time in one place: the database stores naive UTC, people read Beijing time.

China has one offset and no daylight saving, so a fixed timezone is exact. Every "today",
"明天", deadline, reference date, week and month that a person reads goes through here, so the
server's own clock zone (UTC on most hosts) never leaks into what residents and staff see.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

BEIJING = dt.timedelta(hours=8)
LOCAL = dt.timezone(BEIJING, "Asia/Shanghai")
WEEKDAYS = "一二三四五六日"


def utcnow() -> dt.datetime:
    """Naive UTC, as stored in the database."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def local_now() -> dt.datetime:
    """Naive Beijing wall-clock time, to the minute: what a notice means by "now"."""
    return (utcnow() + BEIJING).replace(second=0, microsecond=0)


def local_today() -> dt.date:
    return (utcnow() + BEIJING).date()


def to_local(value: dt.datetime) -> dt.datetime:
    """Naive UTC -> naive Beijing time."""
    return value + BEIJING


def from_local(value: dt.datetime) -> dt.datetime:
    """Naive Beijing time -> naive UTC."""
    return value - BEIJING


def iso(value: dt.datetime | dt.date | None) -> str | None:
    """The one ISO style of the API: naive UTC datetimes as `2026-11-29T08:00:00Z`, dates plain."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(timespec="seconds") + "Z"
    return value.isoformat()


def parse_iso(value: str) -> dt.datetime:
    """An ISO time from the API (with `Z` or an offset) -> aware datetime."""
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def naive_utc(value: str) -> dt.datetime:
    """An ISO time from the API (with `Z` or an offset) -> naive UTC, as stored."""
    return parse_iso(value).astimezone(dt.UTC).replace(tzinfo=None)


def local_time(value: str | dt.datetime | None, fmt: str = "%Y年%m月%d日 %H:%M") -> str:
    """A UTC time (ISO text or naive UTC) -> Beijing time for people."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = parse_iso(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(LOCAL).strftime(fmt)


def weekday(value: dt.date) -> str:
    """`周一` … `周日`."""
    return "周" + WEEKDAYS[value.weekday()]


def add_months(value: dt.datetime, months: int) -> dt.datetime:
    """`value` moved by whole calendar months (negative: back), the day clamped to the month's length."""
    year, month = divmod(value.year * 12 + value.month - 1 + months, 12)
    return value.replace(year=year, month=month + 1, day=min(value.day, calendar.monthrange(year, month + 1)[1]))


# -- times people and clients type ------------------------------------------------------------------
# Bounded so that adding the Beijing offset, a deadline or a month never overflows (year 1 and
# 9999 did), and so that a typo like 20260-01-01 is an error rather than a notice for the far future.
EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2099, 12, 31)
DAY_PATTERN = r"^20[0-9]{2}-[0-9]{2}-[0-9]{2}$"
# What parse_local accepts, for the OpenAPI document (the check itself is parse_local).
MOMENT_PATTERN = (r"^\s*20[0-9]{2}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
                  r"(Z|[+-][0-9]{2}:?[0-9]{2})?)?\s*$")
_MOMENT = re.compile(MOMENT_PATTERN)


def parse_day(value: object) -> dt.date:
    """`2026-12-31` -> date, within EARLIEST..LATEST; anything else is a ValueError."""
    if not isinstance(value, str) or not re.fullmatch(DAY_PATTERN, value.strip()):
        raise ValueError("not a day")
    day = dt.date.fromisoformat(value.strip())
    if not EARLIEST <= day <= LATEST:
        raise ValueError("day out of range")
    return day


def parse_local(value: object, *, end_of_day: bool = False) -> dt.datetime:
    """A time as staff type it, Beijing time (`2026-12-01`, `2026-12-01 08:00`, `2026-12-01T08:00`),
    or ISO with Z or an offset -> naive UTC (typed times to the minute). A bare date is the start of that day
    (its last minute with `end_of_day`). Outside EARLIEST..LATEST, or anything else: ValueError."""
    if not isinstance(value, str) or len(value) > 40 or not _MOMENT.fullmatch(value):
        raise ValueError("not a time")
    text = value.strip().replace(" ", "T", 1)
    if "T" not in text:
        day = parse_day(text)
        return dt.datetime.combine(day, dt.time(23, 59) if end_of_day else dt.time(0, 0)) - BEIJING
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if not EARLIEST <= parsed.date() <= LATEST:
        raise ValueError("time out of range")
    if parsed.tzinfo is None:
        return parsed.replace(second=0, microsecond=0) - BEIJING
    # ISO with an offset is what the API itself answers (a stored time sent back): kept to the second.
    return parsed.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)

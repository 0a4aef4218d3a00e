"""Time in one place: the database stores naive UTC, people read Beijing time.

China has one offset and no daylight saving, so a fixed timezone is exact. Every "today",
"明天", deadline, reference date, week and month that a person reads goes through here, so the
server's own clock zone (UTC on most hosts) never leaks into what residents and staff see.
"""

from __future__ import annotations

import calendar
import datetime as dt

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

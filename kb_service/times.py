"""Time in one place: the database stores naive UTC, people read Beijing time.

China has one offset and no daylight saving, so a fixed timezone is exact. Every "today",
"明天", deadline, reference date, week and month that a person reads goes through here, so the
server's own clock zone (UTC on most hosts) never leaks into what residents and staff see.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

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


# -- what people type: dates and times in Beijing wall-clock time ----------------------------------
#
# Staff type times the way they say them: 12月1日, 明天下午2点, 周六 9:00 至 15:00, 下周一上午9点,
# 明早8点, 今晚8点. These parse them into naive Beijing datetimes against `today` (local_today());
# a mistake is a TimeInputError whose message says what to type (2月30日: 2月没有30日).
# Measured against jionlp on the times staff really type: bench/times.py, bench/README.md.

class TimeInputError(ValueError):
    """What was typed is not a date or time; the message (Chinese) says what to write."""


@dataclass(frozen=True)
class TimeRange:
    start: dt.datetime
    end: dt.datetime


RELATIVE_DAYS = {"今天": 0, "今日": 0, "明天": 1, "明日": 1, "后天": 2, "大后天": 3}
# 明早 = 明天早上, 今晚 = 今天晚上 …: a day and a part of the day in one word
DAY_PARTS = {"今早": ("今天", "早上"), "明早": ("明天", "早上"), "今晚": ("今天", "晚上"), "明晚": ("明天", "晚上"),
             "后天早上": ("后天", "早上")}
WEEKDAY_NUMBERS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5}
_FULLWIDTH = str.maketrans("０１２３４５６７８９：－／．　", "0123456789:-/. ")
_PART = r"上午|早上|早晨|清晨|中午|下午|傍晚|晚上|夜里|凌晨"
_DATE_FORMS = [
    re.compile(r"^(?P<y>\d{4})[-/.年](?P<m>\d{1,2})[-/.月](?P<d>\d{1,2})[日号]?$"),
    re.compile(r"^(?P<m>\d{1,2})[月/-](?P<d>\d{1,2})[日号]?$"),
]
_WEEKDAY = re.compile(r"^(?P<which>本|这|下下|下|上)?(?:个)?(?:周|星期|礼拜)(?P<d>[一二三四五六日天末])$")
_TIME = re.compile(
    rf"^(?P<ampm>{_PART})?\s*(?P<h>\d{{1,2}})(?:[:：](?P<mi>\d{{2}})|[点时](?:(?P<half>半)|(?P<mi2>\d{{1,2}})分?|整)?)$")
_DATETIME = re.compile(rf"^(?P<date>.+?)\s*(?P<time>(?:{_PART})?\s*\d{{1,2}}(?:[:：]\d{{2}}|[点时].*))$")
RANGE_SEPARATORS = re.compile(r"\s*(?:至|到|~|～|—|–|--| - )\s*")
# "9:00-15:00", "9点-15点": a hyphen right after a time separates start and end (a date's
# hyphens never follow a time).
_TIME_HYPHEN = re.compile(rf"(\d{{1,2}}(?:[:：]\d{{2}}|[点时](?:半|\d{{1,2}}分?)?))\s*[-－]\s*(?=(?:{_PART})?\s*\d)")
_AMPM = re.compile(_PART)
_LATE_PARTS = ("下午", "傍晚", "晚上", "夜里")


def _normal(text: str) -> str:
    """Full-width digits and punctuation as ASCII; spaces squeezed; 明早 → 明天早上."""
    text = " ".join(str(text).translate(_FULLWIDTH).split())
    for word, (day, part) in DAY_PARTS.items():
        text = text.replace(word, day + part)
    return text


def parse_date(text: str, today: dt.date) -> dt.date:
    """2026-12-01, 12月1日, 明天, 周六 (the coming one, today included), 本周五, 下周一."""
    text = _normal(text or "").replace(" ", "")
    if not text:
        raise TimeInputError("请填写日期，例如 2026-12-01 或 12月1日")
    if text in RELATIVE_DAYS:
        return today + dt.timedelta(days=RELATIVE_DAYS[text])
    m = _WEEKDAY.match(text)
    if m:
        target = WEEKDAY_NUMBERS[m.group("d")]
        monday = today - dt.timedelta(days=today.weekday())
        weeks = {"本": 0, "这": 0, "下": 1, "下下": 2, "上": -1}.get(m.group("which") or "")
        if weeks is None:   # 周六: the coming Saturday (today when today is one)
            return today + dt.timedelta(days=(target - today.weekday()) % 7)
        return monday + dt.timedelta(weeks=weeks, days=target)
    for form in _DATE_FORMS:
        m = form.match(text)
        if m:
            return _calendar_date(m.group("y") if "y" in m.groupdict() else None, int(m.group("m")), int(m.group("d")),
                                  today, text)
    raise TimeInputError("日期格式无法识别，请写成 2026-12-01、12月1日、明天、周六 或 下周一")


def _calendar_date(year: str | None, month: int, day: int, today: dt.date, text: str) -> dt.date:
    """A month and day (and year): say why a day does not exist (2月30日: 2月只有28天). Without a
    year, a month and day more than a month behind today is next year's (1月5日 typed in December)."""
    if not 1 <= month <= 12:
        raise TimeInputError(f"没有{month}月：{text}")
    y = int(year) if year else today.year
    if not 1 <= y <= 9998:
        raise TimeInputError(f"年份不对：{text}")
    if year is None:
        probe = dt.date(y, month, min(max(day, 1), calendar.monthrange(y, month)[1]))
        if probe < today - dt.timedelta(days=31):
            y += 1
    last = calendar.monthrange(y, month)[1]
    if not 1 <= day <= last:
        raise TimeInputError(f"{month}月没有{day}日：{y}年{month}月只有{last}天（{text}）")
    return dt.date(y, month, day)


def parse_clock(text: str) -> dt.time:
    """14:00, 下午2点, 9点半, 晚上8点, 凌晨1点."""
    m = _TIME.match(_normal(text).strip())
    if not m:
        raise TimeInputError("时间格式无法识别，请写成 14:00、下午2点 或 9点半")
    hour = int(m.group("h"))
    minute = 30 if m.group("half") else int(m.group("mi") or m.group("mi2") or 0)
    part = m.group("ampm")
    if part in _LATE_PARTS and hour < 12:
        hour += 12
    if part == "中午" and hour < 11:
        hour += 12
    if part in ("晚上", "夜里") and hour == 24:
        hour = 0
    if hour > 23 or minute > 59:
        raise TimeInputError(f"没有这个时刻：{text}")
    return dt.time(hour, minute)


def parse_datetime(text: str, today: dt.date) -> dt.datetime:
    """A date and a time of day: 2026-12-01 09:30, 12月1日 14:00, 明天下午2点, 周六 9:00, 明早8点."""
    if not text or not text.strip():
        raise TimeInputError("请填写日期和时间，例如 2026-12-01 09:30 或 明天 14:00")
    text = _normal(text).replace("T", " ")
    m = _DATETIME.match(text)
    if not m:
        if _AMPM.search(text) or text.replace(" ", "") in RELATIVE_DAYS:
            raise TimeInputError("请写上几点，例如 明早8点、明天 14:00 或 周六 9:00")
        raise TimeInputError("请同时写日期和时间，例如 2026-12-01 09:30、12月1日 14:00 或 明天 下午2点")
    date_part, time_part = m.group("date").strip(), m.group("time")
    part = _AMPM.search(date_part)       # 明天下午 2点: the part of the day went with the date
    if part and date_part.endswith(part.group(0)):
        date_part, time_part = date_part[:part.start()].strip(), part.group(0) + time_part
    return dt.datetime.combine(parse_date(date_part, today), parse_clock(time_part))


def parse_range(text: str, today: dt.date) -> TimeRange:
    """"明天 9:00-15:00", "周六 9:00 至 15:00", "12月1日 9:00-15:00", "9点到3点", "上午9点至下午3点",
    "2026-12-01 08:00 至 2026-12-01 18:00". Without a date the range is today's; a spoken end hour
    (3点) without 上午/下午 that would come before the start is read in the afternoon (9点到3点 is
    9:00-15:00)."""
    text = _normal(text or "").strip()
    text = _TIME_HYPHEN.sub(r"\1 至 ", text) if text else ""
    parts = RANGE_SEPARATORS.split(text, maxsplit=1) if text else []
    if len(parts) != 2 or not all(parts):
        raise TimeInputError("请写开始和结束时间，用“至”或“-”隔开，例如 明天 9:00-15:00 或 周六 上午9点至下午3点")
    try:
        start = parse_datetime(parts[0], today)
    except TimeInputError as exc:
        try:
            start = dt.datetime.combine(today, parse_clock(parts[0]))   # "9点到3点": today
        except TimeInputError:
            if "没有" in str(exc):       # 2月30日: say why, not only "无法识别"
                raise exc from None
            raise TimeInputError("开始时间无法识别，请写成 明天 9:00、周六 上午9点、12月1日 9点 或 9点") from None
    try:
        end = parse_datetime(parts[1], today)
    except TimeInputError as exc:
        if "没有" in str(exc):
            raise
        end = dt.datetime.combine(start.date(), parse_clock(parts[1]))  # "08:00 至 18:00": same day
        if (end <= start and end.hour < 12 and ("点" in parts[1] or "时" in parts[1]) and not _AMPM.search(parts[1])
                and end + dt.timedelta(hours=12) > start):   # spoken hours only: 18:00-08:00 stays an error
            end += dt.timedelta(hours=12)
    if end <= start:
        raise TimeInputError("结束时间必须晚于开始时间")
    return TimeRange(start, end)


def past(value: dt.date | dt.datetime | TimeRange, now: dt.datetime) -> bool:
    """Already over in Beijing time: a date before today, a time before now, a range that has ended."""
    if isinstance(value, TimeRange):
        return value.end <= now
    if isinstance(value, dt.datetime):
        return value < now
    return value < now.date()

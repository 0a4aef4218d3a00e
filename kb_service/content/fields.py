"""Typed template fields: parse what people type, and show it back the way notices print it.

Every parser takes the raw text and returns a value or raises FieldError with a message in
Chinese that says what to enter. Nothing here evaluates input: values are data, never code.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from kb_service.content.model import Community
from kb_service import times
from kb_service.times import weekday

DEFAULT_MAX = {"text": 100, "multiline": 1000}


class FieldError(ValueError):
    pass


TimeRange = times.TimeRange


def parse(field: dict[str, Any], raw: Any, *, community: Community | None, today: dt.date) -> Any:
    """Raw input (usually text) -> typed value for the field's declared type. Building fields are
    checked against `community`'s buildings and units."""
    kind = field["type"]
    text = "" if raw is None else str(raw).strip()
    if kind in ("text", "multiline"):
        if kind == "text" and ("\n" in text or "\r" in text):
            raise FieldError("这一栏只能写一行，请去掉换行")
        limit = field.get("max_length", DEFAULT_MAX[kind])
        if len(text) > limit:
            raise FieldError(f"最多 {limit} 个字，现在是 {len(text)} 个字")
        return text
    if kind == "date":
        return parse_date(text, today)
    if kind == "datetime":
        return parse_datetime(text, today)
    if kind == "timerange":
        return parse_timerange(text, today)
    if kind == "phone":
        return parse_phone(text)
    if kind == "number":
        return parse_number(text)
    if kind == "money":
        return parse_money(text)
    if kind == "choice":
        if text not in field.get("choices", []):
            raise FieldError("请从列表中选择：" + "、".join(field.get("choices", [])))
        return text
    if kind == "building":
        return parse_building(text, community)
    raise FieldError(f"未知的字段类型 {kind}")


def show(field_type: str, value: Any, *, today: dt.date) -> str:
    """Typed value -> the text printed in a notice."""
    if isinstance(value, TimeRange):
        start = show_datetime(value.start, today)
        if value.end.date() == value.start.date():
            return f"{start}—{value.end:%H:%M}"
        return f"{start}至{show_datetime(value.end, today)}"
    if isinstance(value, dt.datetime):
        return show_datetime(value, today)
    if isinstance(value, dt.date):
        # A date on its own reads best in full; notices always carry the weekday.
        return f"{value.year}年{value.month}月{value.day}日（{weekday(value)}）"
    if isinstance(value, Decimal):
        return f"{value:.2f}" if field_type == "money" else format(value.normalize(), "f")
    return str(value)


def show_date(value: dt.date, today: dt.date) -> str:
    """`12月1日（周一）`, with the year only when it is not this year's."""
    year = "" if value.year == today.year else f"{value.year}年"
    return f"{year}{value.month}月{value.day}日（{weekday(value)}）"


def show_datetime(value: dt.datetime, today: dt.date) -> str:
    return f"{show_date(value.date(), today)}{value.hour}:{value:%M}"


def iso(value: Any) -> Any:
    """Typed value -> JSON (the parsed value shown back to the form)."""
    if isinstance(value, TimeRange):
        return {"start": iso(value.start), "end": iso(value.end)}
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


# -- parsers ----------------------------------------------------------------------------------
# Dates and times are parsed in kb_service/times.py (the one place that reads and writes time);
# these wrappers turn its TimeInputError into a FieldError.

def _time_input(parse, text: str, *args):
    try:
        return parse(text, *args)
    except times.TimeInputError as exc:
        raise FieldError(str(exc)) from None


def parse_date(text: str, today: dt.date) -> dt.date:
    return _time_input(times.parse_date, text, today)


def parse_time(text: str) -> dt.time:
    return _time_input(times.parse_clock, text)


def parse_datetime(text: str, today: dt.date) -> dt.datetime:
    return _time_input(times.parse_datetime, text, today)


def parse_timerange(text: str, today: dt.date) -> TimeRange:
    return _time_input(times.parse_range, text, today)


_MOBILE = re.compile(r"^1[3-9]\d{9}$")
# Area codes: 010 and 02x have three digits, all others four; local numbers never start with 0.
_LANDLINE = re.compile(r"^(0[12]\d|0[3-9]\d{2})-?([1-9]\d{6,7})$")
_SERVICE = re.compile(r"^([48]00)-?(\d{3})-?(\d{4})$")


def parse_phone(text: str) -> str:
    compact = re.sub(r"[\s()（）]", "", text).removeprefix("+86")
    if _MOBILE.match(compact):
        return compact
    m = _LANDLINE.match(compact)
    if m:
        return f"{m.group(1)}-{m.group(2)}"
    m = _SERVICE.match(compact)
    if m:
        return "-".join(m.groups())
    raise FieldError("请填写 11 位手机号，或带区号的座机（如 0571-12345678），或 400 服务电话")


def parse_number(text: str) -> Decimal:
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise FieldError("请填写数字，例如 3 或 2.5") from None
    if not value.is_finite():
        raise FieldError("请填写数字，例如 3 或 2.5")
    return value


def parse_money(text: str) -> Decimal:
    cleaned = text.replace(",", "").replace("，", "").removeprefix("¥").removeprefix("￥").removesuffix("元")
    if not re.fullmatch(r"\d{1,9}(\.\d{1,2})?", cleaned.strip()):
        raise FieldError("请填写金额（元），最多两位小数，例如 1280.00")
    return Decimal(cleaned.strip()).quantize(Decimal("0.01"))


_BUILDING = re.compile(r"^(?P<b>\d+)\s*(?:栋|幢|号楼|座)\s*(?:(?P<u>\d+)\s*单元)?$")


def parse_building(text: str, community: Community | None) -> str:
    if community is None:
        raise FieldError("还没有配置小区（snippets/communities/），无法核对楼栋")
    m = _BUILDING.match(text)
    names = "、".join(b.name for b in community.buildings)
    if not m:
        raise FieldError(f"请写楼栋（和单元），例如 3栋 或 3栋1单元；{community.name}有：{names}")
    building = next((b for b in community.buildings if b.name == f"{m.group('b')}栋"), None)
    if building is None:
        raise FieldError(f"{community.name}没有 {m.group('b')}栋；现有楼栋：{names}")
    if m.group("u") is None:
        return building.name
    unit = f"{m.group('u')}单元"
    if unit not in building.units:
        raise FieldError(f"{building.name}没有{unit}；该楼有：{'、'.join(building.units)}")
    return f"{building.name}{unit}"

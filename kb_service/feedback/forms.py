"""What a resident (or the page widget, or a staff member) submits, checked field by field.

`parse_submission` turns a JSON object or a form into a Submission, or raises one
ValidationFailed listing every field problem in Chinese. Personal data (name, phone) is kept only
when the consent box is ticked; without it, those fields are dropped, never stored.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from kb_service.content import fields as F
from kb_service.content.model import FeedbackConfig
from kb_service.errors import KBError, ValidationFailed

LIMITS = {"content": 2000, "location": 100, "contact_name": 50, "contact_phone": 30, "page": 300,
          "idempotency_key": 100, "category": 32}
HONEYPOT = "website"        # hidden in the form; people leave it empty, form-filling bots do not
TRUE = {"true", "1", "on", "yes", "y", "是"}
FALSE = {"false", "0", "off", "no", "n", "否", ""}
KNOWN = {"type", "content", "category", "location", "contact_name", "contact_phone", "consent",
         "ratings", "page", "helpful", "idempotency_key", HONEYPOT}
RECORD_FIELDS = {"occurred_at": 40, "place": 100, "emotion": 32, "cause": 2000, "proposed": 2000}


@dataclass
class Submission:
    type: str
    source: str
    content: str = ""
    category: str | None = None
    location: str | None = None
    page: str | None = None
    helpful: bool | None = None
    consent: bool = False
    contact_name: str | None = None
    contact_phone: str | None = None
    ratings: dict[str, int] = field(default_factory=dict)
    idempotency_key: str | None = None
    record: dict[str, str] | None = None


def from_form(form: Any) -> dict[str, Any]:
    """A posted HTML form -> the same shape as the JSON body (ratings as `ratings.service` etc.)."""
    data: dict[str, Any] = {}
    ratings: dict[str, Any] = {}
    record: dict[str, Any] = {}
    for key, value in form.multi_items():
        if not isinstance(value, str):
            raise KBError(f"不接受上传文件（字段 {key}）", field=key)
        if key.startswith("ratings."):
            if value != "":
                ratings[key.removeprefix("ratings.")] = value
        elif key.startswith("record."):
            record[key.removeprefix("record.")] = value
        else:
            data[key] = value
    if ratings:
        data["ratings"] = ratings
    if record:
        data["record"] = record
    return data


def parse_submission(data: dict[str, Any], config: FeedbackConfig, *, source: str = "resident") -> Submission:
    errors: list[dict[str, str]] = []

    def bad(name: str, message: str) -> None:
        errors.append({"field": name, "message": message})

    if data.get(HONEYPOT):
        raise KBError("表单里有一个应留空的隐藏字段被填写了；如果您是真人，请刷新页面后重新提交",
                      field=HONEYPOT)
    allowed = KNOWN | ({"record"} if source == "staff" else set())
    for key in sorted(set(data) - allowed):
        bad(str(key)[:50], f"未知字段 {str(key)[:50]!r}；可用字段：{', '.join(sorted(allowed - {HONEYPOT}))}")

    kind = data.get("type")
    types = [t for t in config.types if source != "staff" or t != "page"]
    if kind in (None, ""):
        # Said to a person at the form: the page widget's own type is not one of their choices.
        bad("type", "请选择反馈类型：" + "、".join(config.types[t].label for t in types if t != "page"))
    elif kind not in types:
        bad("type", f"反馈类型只能是：{choices({t: config.types[t].label for t in types})}")
        kind = None

    def text(name: str, *, required: bool = False, multiline: bool = False) -> str | None:
        raw = data.get(name)
        if raw is None or raw == "":
            if required:
                bad(name, "必填，请写上具体内容")
            return None
        if not isinstance(raw, str):
            bad(name, "应为文字")
            return None
        value = raw.replace("\r\n", "\n").strip()
        if not multiline:
            value = " ".join(value.split())
        if "\x00" in value or _CONTROL.search(value):
            bad(name, "含有不可见的控制字符，请删除后重新填写")
            return None
        if len(value) > LIMITS[name]:
            bad(name, f"最多 {LIMITS[name]} 个字，现在是 {len(value)} 个")
            return None
        if required and not value:
            bad(name, "必填，请写上具体内容")
        return value or None

    helpful = _bool(data.get("helpful"), "helpful", bad) if "helpful" in data else None
    content = text("content", required=kind != "page", multiline=True) or ""
    page = text("page")
    if kind == "page":
        if not page:
            bad("page", "页面反馈需要 page：所反馈页面的地址，例如 /handbook/01-service-awareness/")
        elif not page.startswith("/") or "//" in page:
            bad("page", "page 应为本站页面的路径，以 / 开头，例如 /residents/fees/")
        if helpful is None:
            bad("helpful", "页面反馈需要 helpful：true（有帮助）或 false（没帮助）")
    elif page is not None or "helpful" in data:
        if page is not None:
            bad("page", "page 只用于 type 为 page 的页面反馈")
        if "helpful" in data:
            bad("helpful", "helpful 只用于 type 为 page 的页面反馈")

    category = text("category")
    if category is not None and category not in config.categories:
        bad("category", f"未知的分类 {category!r}；可选：{choices(config.categories)}")
    location = text("location")
    consent = _bool(data.get("consent", False), "consent", bad)
    name = text("contact_name")
    phone = text("contact_phone")
    if phone is not None:
        try:
            phone = F.parse_phone(phone)
        except F.FieldError as exc:
            bad("contact_phone", str(exc))
    if (name or phone) and consent is not True:
        # Without consent the contact details are simply not kept; say so in the answer.
        name = phone = None

    ratings: dict[str, int] = {}
    raw_ratings = data.get("ratings")
    if raw_ratings not in (None, "", {}):
        if not isinstance(raw_ratings, dict):
            bad("ratings", f"ratings 应为对象，例如 {{\"service\": 5}}；维度：{choices(config.ratings)}")
        else:
            for key, value in raw_ratings.items():
                if key not in config.ratings:
                    bad(f"ratings.{str(key)[:30]}", f"未知的评分维度；可选：{choices(config.ratings)}")
                    continue
                score = _rating(value)
                if score is None:
                    bad(f"ratings.{key}", f"{config.ratings[key]}评分应为 1 到 5 的整数")
                else:
                    ratings[key] = score

    key = text("idempotency_key")
    record = _record(data.get("record"), config, bad) if source == "staff" else None
    if errors:
        raise ValidationFailed(errors)
    return Submission(type=kind, source="page" if kind == "page" else source, content=content,
                      category=category, location=location, page=page, helpful=helpful,
                      consent=bool(consent), contact_name=name, contact_phone=phone, ratings=ratings,
                      idempotency_key=key, record=record)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def choices(mapping: dict[str, str]) -> str:
    """`id（名称）、id（名称）`: the accepted values in an error message."""
    return "、".join(f"{k}（{v}）" for k, v in mapping.items())


def _bool(value: Any, name: str, bad) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
        return value.strip().lower() in TRUE
    bad(name, f"{name} 应为 true 或 false")
    return None


def _rating(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,3}", value.strip()):
        value = int(value.strip())
    if isinstance(value, int) and 1 <= value <= 5:
        return value
    return None


def _record(raw: Any, config: FeedbackConfig, bad) -> dict[str, str] | None:
    """The standard complaint record a staff member fills in at intake."""
    if raw in (None, "", {}):
        return None
    if not isinstance(raw, dict):
        bad("record", "record 应为对象：occurred_at、place、emotion、cause、proposed")
        return None
    out: dict[str, str] = {}
    for key, value in raw.items():
        if key not in RECORD_FIELDS:
            bad(f"record.{str(key)[:30]}", f"未知字段；可用：{', '.join(RECORD_FIELDS)}")
            continue
        if value in (None, ""):
            continue
        if not isinstance(value, str):
            bad(f"record.{key}", "应为文字")
            continue
        value = value.strip()
        if len(value) > RECORD_FIELDS[key]:
            bad(f"record.{key}", f"最多 {RECORD_FIELDS[key]} 个字")
            continue
        if key == "emotion" and value not in config.emotions:
            bad("record.emotion", f"情绪状态只能是：{choices(config.emotions)}")
            continue
        if key == "occurred_at":
            try:
                value = F.parse_datetime(value, dt.date.today()).isoformat(timespec="minutes")
            except F.FieldError as exc:
                bad("record.occurred_at", str(exc))
                continue
        out[key] = value
    return out or None


def mask_phone(phone: str | None) -> str | None:
    """138****1234 for mobiles; landlines keep area code and last 4 digits."""
    if not phone:
        return phone
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


# Mobiles as people type them: 13812345678, 138-1234-5678, 138 1234 5678, +86 138..., 86-138...,
# full-width digits too (normalised by NFKC first); landlines 010-12345678, (0755) 1234 5678.
_SEP = r"[\s\-.·－—]{0,3}"
_PHONE_IN_TEXT = re.compile(rf"(?<![0-9])(?:\+?86{_SEP})?(1[3-9][0-9]){_SEP}[0-9]{{4}}{_SEP}([0-9]{{4}})(?![0-9])")
_LANDLINE_IN_TEXT = re.compile(rf"(?<![0-9])\(?(0[1-9][0-9]{{1,2}})\)?{_SEP}[0-9]{{3,4}}{_SEP}([0-9]{{4}})(?![0-9])")


def mask_text(text: str) -> str:
    """Phone numbers typed into free text are masked too, wherever the text is shown in a list."""
    if not text:
        return text
    text = _FULLWIDTH_DIGITS.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    text = _PHONE_IN_TEXT.sub(r"\1****\2", text)
    return _LANDLINE_IN_TEXT.sub(r"\1-****\2", text)


_FULLWIDTH_DIGITS = re.compile(r"[０-９＋（）]+")


def mask_name(name: str | None) -> str | None:
    """王女士 -> 王**: enough to greet the person on the phone, not to identify them in a list."""
    if not name:
        return name
    return name[0] + "*" * min(len(name) - 1, 4) if len(name) > 1 else "*"


def mask_location(location: str | None) -> str | None:
    """3栋2单元1202 -> 3栋2单元****: the building stays (for triage), the door number goes."""
    if not location:
        return location
    return re.sub(r"[0-9０-９]{3,}(?=[^0-9０-９]*$)", "****", location) if re.search(r"[0-9０-９]{3,}", location) \
        else location[:2] + "*" * min(max(len(location) - 2, 0), 4)

"""What a resident (or the page widget, or a staff member) submits, checked field by field.

`parse_submission` turns a JSON object or a form into a Submission, or raises one
ValidationFailed listing every field problem in Chinese. Personal data (name, phone) is kept only
when the consent box is ticked; without it, those fields are dropped, never stored.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Any

from kb_service.content.model import FeedbackConfig
from kb_service.errors import KBError
from kb_service.feedback.fields_spec import HONEYPOT, INTAKE, MISSING, SUBMISSION, Errors, check, choices, clean

__all__ = ["HONEYPOT", "Submission", "choices", "from_form", "mask_phone", "mask_text", "parse_submission"]


SCRIPT_ID = re.compile(r"^[a-z]+\.[a-z0-9-]{1,56}$")


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
    script_id: str | None = None
    tier: str | None = None
    community: str | None = None            # set by feedback.community.parse (checked against the content)


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
    """Check a resident's (or a staff intake's) submission field by field against the form spec;
    every problem at once in one ValidationFailed."""
    if data.get(HONEYPOT):
        raise KBError("表单里有一个应留空的隐藏字段被填写了；如果您是真人，请刷新页面后重新提交",
                      field=HONEYPOT)
    form = INTAKE if source == "staff" else SUBMISSION
    errors = Errors()
    # type, content, page and helpful depend on each other: checked below.
    values = clean(form, data, config, errors, skip=frozenset({"type", "content", "page", "helpful"}))

    # Said to a person at the form: the page widget's own type is not one of their choices.
    people = {k: v.label for k, v in config.types.items() if k != "page"}
    allowed = people if source == "staff" else {k: v.label for k, v in config.types.items()}
    if data.get("type") in (None, ""):
        errors.add("type", "请选择反馈类型：" + "、".join(people.values()))
        kind = None
    else:
        kind = check(form["type"], data["type"], config, errors, mapping=allowed)
        kind = None if kind is MISSING else kind

    helpful = check(form["helpful"], data.get("helpful", MISSING), config, errors, html=True) \
        if "helpful" in data else MISSING
    content = check(form["content"] if kind != "page" else _optional(form["content"]),
                    data.get("content", MISSING), config, errors)
    page = check(form["page"], data.get("page", MISSING), config, errors)
    if kind == "page":
        if page is MISSING:
            errors.add("page", "页面反馈需要 page：所反馈页面的地址，例如 /handbook/01-service-awareness/")
        elif not page.startswith("/") or "//" in page:
            errors.add("page", "page 应为本站页面的路径，以 / 开头，例如 /residents/fees/")
        if helpful is MISSING:
            errors.add("helpful", "页面反馈需要 helpful：true（有帮助）或 false（没帮助）")
    else:
        if page is not MISSING:
            errors.add("page", "page 只用于 type 为 page 的页面反馈")
        if "helpful" in data:
            errors.add("helpful", "helpful 只用于 type 为 page 的页面反馈")
    script_id, tier = values.get("script_id"), values.get("tier")
    if script_id is not None and not SCRIPT_ID.match(script_id):
        errors.add("script_id", "script_id 应为话术 id，例如 complaint.intake")
    tiers = config.types[kind].tiers if kind in config.types else {}
    if tier is not None and tier not in tiers:
        errors.add("tier", f"报修档位只能是：{choices({k: s.name for k, s in tiers.items()})}" if tiers
                   else "只有报修（repair）有档位 tier")
    errors.raise_if_any()

    consent = values.get("consent", False)
    name, phone = values.get("contact_name"), values.get("contact_phone")
    if not consent:
        # Without consent the contact details are simply not kept; say so in the answer.
        name = phone = None
    return Submission(type=kind, source="page" if kind == "page" else source, content=content if content is not MISSING else "",
                      category=values.get("category"), location=values.get("location"),
                      page=None if page is MISSING else page, helpful=None if helpful is MISSING else helpful,
                      consent=consent, contact_name=name, contact_phone=phone, ratings=values.get("ratings", {}),
                      idempotency_key=values.get("idempotency_key"), record=values.get("record"),
                      script_id=script_id, tier=tier)


def _optional(f):
    return replace(f, required=False)


def mask_phone(phone: str | None) -> str | None:
    """138****1234 for mobiles; landlines keep area code and last 4 digits."""
    if not phone:
        return phone
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


# A mobile number however it is typed: 13812345678, 138-1234-5678, 138 1234 5678, +86 138…
_PHONE_IN_TEXT = re.compile(r"(?<![\d+])(?:(?:\+|00)?86[\s-]?)?(1[3-9]\d)[\s-]?\d{4}[\s-]?(\d{4})(?!\d)")
# A mainland ID-card number (18 characters, the last may be X), kept: first 3 and last 2.
_ID_IN_TEXT = re.compile(r"(?<![\dA-Za-z])(\d{3})\d{13}(\d[\dXx])(?![\dA-Za-z])")
# A landline with its area code: 0571-12345678, 010 8765 4321.
_LANDLINE_IN_TEXT = re.compile(r"(?<!\d)(0\d{2,3})[\s-]?\d{3,4}[\s-]?(\d{4})(?!\d)")


_FULLWIDTH_DIGITS = re.compile(r"[０-９＋（）]+")


def mask_text(text: str) -> str:
    """Phone and ID-card numbers typed into free text are masked too, wherever the text is shown
    in a list or exported (full-width digits read as ASCII first)."""
    if not text:
        return text
    text = _FULLWIDTH_DIGITS.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    text = _ID_IN_TEXT.sub(r"\1*************\2", text)
    text = _PHONE_IN_TEXT.sub(r"\1****\2", text)
    return _LANDLINE_IN_TEXT.sub(r"\1-****\2", text)


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

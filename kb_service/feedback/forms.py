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

__all__ = ["HONEYPOT", "Submission", "choices", "find_numbers", "from_form", "mask_phone", "mask_text",
           "parse_submission"]


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
    community: str | None = None            # set by feedback.communities.parse (checked against the content)


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


# -- personal numbers in free text ----------------------------------------------------------------
# One finder for every place that masks or refuses personal numbers (lists, exports, the gap log,
# notices). Numbers are typed in many ways: 138-1234-5678, 138.1234.5678, 138  1234  5678,
# full-width １３８－１２３４－５６７８, with invisible characters pasted inside, (0571)87654321,
# an ID number in groups. So: invisible characters go, full-width digits and separators read as
# ASCII, and up to three separators may stand between any two digits.

_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u206a-\u206f\ufeff]")
_WIDE = re.compile("[\uff08\uff09\uff0b\uff0d\uff0e\uff10-\uff19\uff38\uff58\u3000\u2010-\u2015\u2212\u00b7\u30fb]")
_WIDE_MAP = {"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
             "\u2212": "-", "\u00b7": ".", "\u30fb": ".", "\u3000": " "}
_SEP = r"[ \t.\-/]{0,3}"
_D = r"\d"
PERSONAL_NUMBERS = [
    # (kind, pattern): an 18-character ID (the last may be X), a mobile (with +86), a landline
    # with its area code (in brackets or not), a 400/800 number.
    ("id", re.compile(rf"(?<![\d])\d(?:{_SEP}\d){{16}}{_SEP}[\dXx](?![\d])")),
    ("mobile", re.compile(rf"(?<![\d+])(?:(?:\+|00)86{_SEP})?1{_SEP}[3-9](?:{_SEP}{_D}){{9}}(?!\d)")),
    ("landline", re.compile(rf"(?<!\d)\(?0\d{{2,3}}\)?{_SEP}\d(?:{_SEP}\d){{6,7}}(?!\d)")),
    ("service", re.compile(rf"(?<!\d)[48]00{_SEP}\d(?:{_SEP}\d){{6}}(?!\d)")),
]


def _char(c: str) -> str:
    return _WIDE_MAP.get(c) or unicodedata.normalize("NFKC", c) if _WIDE.fullmatch(c) else c


def readable(text: str) -> str:
    """`text` with invisible characters removed and full-width digits and separators as ASCII
    (Chinese punctuation is left alone): what the number patterns are matched against."""
    return "".join(_char(c) for c in _INVISIBLE.sub("", text))


def _positions(text: str) -> list[int]:
    """For each character of readable(text), its index in `text` (one more at the end)."""
    at = [i for i, c in enumerate(text) if not _INVISIBLE.fullmatch(c)]
    return at + [len(text)]


def find_numbers(text: str) -> list[tuple[str, str, tuple[int, int]]]:
    """Every personal number in `readable(text)`: (kind, its digits, its span there), longest kinds
    first, never overlapping."""
    text = readable(text)
    found: list[tuple[str, str, tuple[int, int]]] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in PERSONAL_NUMBERS:
        for m in pattern.finditer(text):
            if any(m.start() < b and a < m.end() for a, b in taken):
                continue
            digits = re.sub(r"[^\dXx]", "", m.group())
            if kind == "mobile" and len(digits) > 11:
                digits = digits[-11:]                   # without +86 / 0086
            found.append((kind, digits, m.span()))
            taken.append(m.span())
    return sorted(found, key=lambda f: f[2])


def _masked(kind: str, digits: str) -> str:
    if kind == "id":
        return digits[:3] + "*" * 13 + digits[-2:]
    if kind == "landline":
        return digits[:-8 if len(digits) >= 11 else -7] + "-****" + digits[-4:]
    return digits[:3] + "****" + digits[-4:]


def mask_text(text: str) -> str:
    """Phone and ID-card numbers typed into free text are masked, wherever the text is shown in
    a list, exported or kept (the gap log); see find_numbers for the spellings covered. Text
    around the numbers is left exactly as typed."""
    if not text:
        return text
    at = _positions(text)
    out, last = [], 0
    for kind, digits, (a, b) in find_numbers(text):
        if kind == "service":
            continue                                     # a company's 400/800 line is not personal
        out.append(text[last:at[a]])
        out.append(_masked(kind, digits))
        last = at[b - 1] + 1
    out.append(text[last:])
    return "".join(out)


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

"""Template filling: validate typed fields, compute the derived ones, substitute into a channel.

Substitution is a single regex pass over `{name}` of declared fields: values are inserted as
text and never interpreted, so `{0.__class__}`, `{{7*7}}` or `${x}` typed by a user stay literal.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
from dataclasses import dataclass, field
from typing import Any

from kb_service.content import fields as F
from kb_service.content.model import Community, Corpus, Template, Tone
from kb_service.errors import NotFound, ValidationFailed
from kb_service.times import add_months, past, weekday

PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")
SMS_SINGLE = 70
SMS_PART = 67
DOCUMENT_PARTS = ("title", "body", "signature", "date")


@dataclass
class Rendered:
    channel: str
    text: str
    parts: dict[str, str] | None
    values: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    @property
    def length(self) -> int:
        return len(self.text)

    @property
    def segments(self) -> int:
        return sms_segments(self.text)


def sms_segments(text: str) -> int:
    n = len(text)
    return 1 if n <= SMS_SINGLE else math.ceil(n / SMS_PART)


def find(corpus: Corpus, template_id: str) -> Template:
    template = corpus.templates.get(template_id)
    if template is None:
        raise NotFound(f"没有 id 为 {template_id!r} 的模板", id=template_id)
    return template


def examples(template: Template) -> dict[str, str]:
    return {f["name"]: f["example"] for f in template.fields if "example" in f and "computed" not in f}


def resolve(template: Template, raw: dict[str, Any], corpus: Corpus, *, now: dt.datetime,
            community: Community | None = None) -> dict[str, Any]:
    """Raw input -> typed values for every field (computed ones included); 422 lists every problem.
    Buildings are checked against `community` and its settings fill the computed fields (hotline,
    office, short name); without one, the default community."""
    today = now.date()
    community = community or corpus.default_community
    values: dict[str, Any] = {}
    errors: list[dict[str, str]] = []
    declared = {f["name"] for f in template.fields}
    for name in sorted(set(raw) - declared):
        errors.append({"field": name, "message": f"模板没有这个字段：{name}"})
    for f in template.fields:
        if "computed" in f:
            continue
        value = raw.get(f["name"])
        if value is None or (isinstance(value, str) and not value.strip()):
            if f.get("required"):
                errors.append({"field": f["name"], "message": f"请填写{f['label']}" +
                               (f"，例如 {f['example']}" if f.get("example") else "")})
            continue
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            errors.append({"field": f["name"], "message": f"{f['label']}应为文字"})
            continue
        try:
            values[f["name"]] = F.parse(f, value, community=community, today=today)
        except F.FieldError as exc:
            errors.append({"field": f["name"], "message": f"{f['label']}：{exc}"})
    if errors:
        raise ValidationFailed(errors)
    for f in template.fields:
        spec = f.get("computed")
        if spec is None:
            continue
        if spec["source"] == "setting":
            values[f["name"]] = (community.setting(spec["key"], corpus.site) if community is not None
                                 else getattr(corpus.site, spec["key"], None))
        elif spec["source"] == "today":
            values[f["name"]] = today
        elif spec["source"] == "standard":
            base = values.get(spec.get("from", ""), now)
            if isinstance(base, F.TimeRange):
                base = base.end
            if isinstance(base, dt.date) and not isinstance(base, dt.datetime):
                base = dt.datetime.combine(base, dt.time(0, 0))
            values[f["name"]] = corpus.standards[spec["key"]].deadline(base)
    return values


def render(template: Template, channel: str, raw: dict[str, Any], corpus: Corpus, *,
           now: dt.datetime, tone: "Tone | None" = None, community: Community | None = None) -> Rendered:
    if channel not in template.channels:
        raise ValidationFailed(
            [{"field": "channel", "message": "可选渠道：" + "、".join(template.channels)}],
            message=f"模板 {template.id} 没有 {channel!r} 渠道")
    values = resolve(template, raw, corpus, now=now, community=community)
    types = {f["name"]: f["type"] for f in template.fields}
    shown = {name: F.show(types[name], v, today=now.date()) for name, v in values.items()}
    empty: set[str] = set()
    spec = template.channels[channel]
    if isinstance(spec, str):
        text, parts = fill(spec, shown, empty), None
    else:
        parts = {p: fill(spec.get(p, ""), shown, empty) for p in DOCUMENT_PARTS}
        text = "\n\n".join(v for v in (parts["title"], parts["body"].rstrip(),
                                       parts["signature"], parts["date"]) if v)
    result = Rendered(channel, text, parts, {k: F.iso(v) for k, v in values.items()})
    labels = {f["name"]: f["label"] for f in template.fields}
    result.warnings.extend(f"“{labels[n]}”未填写，相关文字已留空" for n in sorted(empty))
    if channel == "sms" and result.segments > 1:
        result.warnings.append(f"短信 {result.length} 字，超过 {SMS_SINGLE} 字，将按 {result.segments} 条计费")
    result.warnings.extend(timing_warnings(template, values, corpus))
    result.warnings.extend(past_warnings(template, values, shown, now))
    if tone is not None:
        free = {n: str(raw.get(n, "")) for n, t in types.items() if t in ("text", "multiline")}
        result.warnings.extend(tone.check_fields(free, labels))
    return result


def past_warnings(template: Template, values: dict[str, Any], shown: dict[str, str], now: dt.datetime) -> list[str]:
    """A time range (停水、停电、施工的时间) already over in Beijing time is accepted, but said: a
    notice about work that has ended is usually a typo (12月1日 for 1月12日) or an old draft. Single
    dates and times are often rightly past (when a complaint came in, when something was found)."""
    out = []
    for f in template.fields:
        value = values.get(f["name"])
        if f["type"] == "timerange" and value is not None and past(value, now):
            out.append(f"“{f['label']}”已经结束（{shown[f['name']]}），请核对日期")
        elif f["type"] == "timerange" and value is not None and past(value.start, now):
            out.append(f"“{f['label']}”已经开始（{shown[f['name']]}），通知发出时请说明")
    return out


def timing_warnings(template: Template, values: dict[str, Any], corpus: Corpus) -> list[str]:
    """Dates that come too early for a rule of the template (`after:`), e.g. a new fee standard
    that applies less than one month after it was posted."""
    labels = {f["name"]: f["label"] for f in template.fields}
    out = []
    for f in template.fields:
        rule = f.get("after")
        value, base = values.get(f["name"]), values.get(rule["field"]) if rule else None
        if not rule or not isinstance(value, dt.date) or not isinstance(base, dt.date):
            continue
        earliest = add_months(base, rule["months"])
        day = value.date() if isinstance(value, dt.datetime) else value
        if day < (earliest.date() if isinstance(earliest, dt.datetime) else earliest):
            law = corpus.laws.get(rule.get("law", ""))
            why = f"（{law.text}）" if law else ""
            out.append(f"“{labels[f['name']]}”应不早于“{labels[rule['field']]}”之后 {rule['months']} 个月"
                       f"，即 {earliest.month}月{earliest.day}日（{weekday(earliest)}）或更晚{why}")
    return out


def fill(text: str, shown: dict[str, str], empty: set[str]) -> str:
    """Substitute declared fields; a line whose every placeholder is empty is dropped."""
    lines = []
    for line in text.splitlines(keepends=True):
        names = PLACEHOLDER.findall(line)
        missing = [n for n in names if not shown.get(n)]
        if names and len(missing) == len(names):
            continue
        empty.update(missing)
        lines.append(PLACEHOLDER.sub(lambda m: shown.get(m.group(1), ""), line))
    return "".join(lines).strip("\n") if "\n" in text else "".join(lines)


def to_html(rendered: Rendered) -> str:
    """HTML for a rendered notice: every character of filled text is escaped."""
    return html.escape(rendered.text).replace("\n", "<br>\n")

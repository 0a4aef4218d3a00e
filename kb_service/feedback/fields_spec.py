"""Every form of the feedback log, declared once: what a resident submits, the complaint record a
staff member fills in at intake, and a staff change to an entry (PATCH) with its improvement
action.

Each field says its name, kind, length limit, where its choices come from and whether it is
required. From these declarations come: the checks with their Chinese messages (`clean`, one
error collector for all forms), the `maxlength` attributes of the resident form, the JSON
schemas of the OpenAPI document, and a test that every limit fits its database column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kb_service.content.fields import FieldError, parse_datetime, parse_phone
from kb_service.content.model import FeedbackConfig
from kb_service.errors import ValidationFailed
from kb_service.feedback.contact import CONTACTED
from kb_service.inputs import MAX_ID, Body, Day, Invalid
from kb_service.times import local_today

STATUSES = {"received": "已受理", "triaged": "已分派", "in_progress": "处理中",
            "resolved": "已解决", "followed_up": "已回访", "closed": "已关闭"}
ACTION_KINDS = {"script": "话术", "template": "模板", "page": "页面", "process": "流程"}
HONEYPOT = "website"        # hidden in the form; people leave it empty, form-filling bots do not
TRUE = {"true", "1", "on", "yes", "y", "是"}
FALSE = {"false", "0", "off", "no", "n", "否", ""}
# A merge-request link: http(s), a host name, and nothing that Markdown, HTML or an attribute list
# could read as syntax (the probe's `https://x/pr/3)![x](x){:onerror=...}` must not pass).
PR_URL = re.compile(r"^https?://[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(?::[0-9]{1,5})?"
                    r"(?:/[A-Za-z0-9._~%/+=&?#:@,;$-]*)?$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Kinds: what a value is and how it is checked.
TEXT, MULTILINE, CHOICE, BOOL, RATING, RATINGS, PHONE, DATETIME, DATE, URL, INT, OBJECT, DECLARED = (
    "text", "multiline", "choice", "bool", "rating", "ratings", "phone", "datetime", "date", "url", "int", "object",
    "declared")


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    label: str
    limit: int | None = None        # characters, after trimming
    choices: str | None = None      # "types", "categories", "emotions" (snippets/feedback.yaml), "statuses", "action_kinds"
    required: bool = False
    column: str | None = None       # "table.column" the value is stored in (a test checks the sizes match)
    stored_limit: int | None = None # longest value after normalising (phone numbers), when shorter than `limit`
    hint: str = ""                  # what to write: shown in error messages and the API description
    form: Form | None = None        # kind OBJECT: the nested form
    body: Body | None = None        # kind DECLARED: a nested object declared with kb_service.inputs

    def mapping(self, config: FeedbackConfig) -> dict[str, str]:
        """The accepted values of a CHOICE field (or the dimensions of RATINGS): id -> 名称."""
        if self.choices == "types":
            return {k: v.label for k, v in config.types.items()}
        if self.choices == "statuses":
            return STATUSES
        if self.choices == "action_kinds":
            return ACTION_KINDS
        return getattr(config, self.choices)


@dataclass(frozen=True)
class Form:
    name: str
    fields: tuple[Field, ...]
    partial: bool = False     # a change (PATCH): a field sent must have a value; a field not sent is left alone
    html: bool = False        # also posted as an HTML form: true/false and numbers may arrive as text
    by_name: dict[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "by_name", {f.name: f for f in self.fields})

    def __getitem__(self, name: str) -> Field:
        return self.by_name[name]

    def names(self) -> list[str]:
        return [f.name for f in self.fields]


# -- the forms ----------------------------------------------------------------------------------

RECORD = Form("record", (
    Field("occurred_at", DATETIME, "发生时间", 40, hint="例如 2026-12-01 09:30 或 今天 14:00"),
    Field("place", TEXT, "发生地点", 100),
    Field("emotion", CHOICE, "情绪状态", 32, choices="emotions"),
    Field("cause", MULTILINE, "原因分析", 2000),
    Field("proposed", MULTILINE, "拟处理方式", 2000),
), html=True)

SUBMISSION = Form("submission", (
    Field("type", CHOICE, "反馈类型", choices="types", required=True, column="entries.type"),
    Field("content", MULTILINE, "具体内容", 2000, required=True, column="entries.content",
          hint="请写上具体内容"),
    Field("category", CHOICE, "分类", 32, choices="categories", column="entries.category"),
    Field("location", TEXT, "位置", 100, column="entries.location", hint="楼栋 / 单元 / 位置"),
    Field("contact_name", TEXT, "称呼", 50, column="entries.contact_name"),
    Field("contact_phone", PHONE, "电话", 30, column="entries.contact_phone", stored_limit=13,
          hint="11 位手机号，或带区号的座机（如 0571-12345678），或 400 服务电话"),
    Field("consent", BOOL, "同意联系", column="entries.consent", hint="同意保存称呼和电话，用于就这次反馈联系"),
    Field("ratings", RATINGS, "满意度评分", choices="ratings", hint="各维度 1 到 5 分"),
    Field("page", TEXT, "页面", 300, column="entries.page", hint="所反馈页面的路径，以 / 开头（type 为 page 时）"),
    Field("helpful", BOOL, "是否有帮助", column="entries.helpful", hint="type 为 page 时：true 有帮助，false 没帮助"),
    Field("idempotency_key", TEXT, "幂等键", 100, column="entries.idempotency_key",
          hint="重复提交同一个键只登记一次"),
    Field(HONEYPOT, TEXT, "请留空", 200, hint="防机器人字段，必须留空"),
), html=True)

# A staff intake is a submission plus the complaint record.
INTAKE = Form("intake", SUBMISSION.fields + (
    Field("record", OBJECT, "投诉记录", column="entries.record", form=RECORD),
    Field("script_id", TEXT, "所用话术", 64, column="entries.script_id", hint="例如 complaint.intake"),
    Field("tier", TEXT, "报修档位", 16, column="entries.tier", hint="只用于报修：snippets/feedback.yaml 中该类型的 tiers"),
), html=True)

ACTION = Form("action", (
    Field("what", MULTILINE, "措施内容", 500, required=True, column="actions.what", hint="写明要改什么"),
    Field("kind", CHOICE, "措施类型", choices="action_kinds", required=True, column="actions.target_kind"),
    Field("target", TEXT, "改动对象", 200, column="actions.target", hint="话术 id、页面路径或流程名称"),
    Field("owner", TEXT, "措施负责人", 50, required=True, column="actions.owner", hint="写明负责人"),
    Field("due", DATE, "完成期限", column="actions.due", hint="例如 2026-12-31"),
    Field("public", BOOL, "是否公开", column="actions.public", hint="是否在“你说我改”页面公开"),
    Field("pr_url", URL, "合并请求链接", 300, column="actions.pr_url", hint="http(s) 开头的合并请求链接"),
))

ACTION_DONE = Form("action_done", (
    Field("id", INT, "完成的措施", required=True, hint="改进措施的编号"),
    Field("pr_url", URL, "合并请求链接", 300, column="actions.pr_url", hint="http(s) 开头的合并请求链接"),
))

PATCH = Form("patch", (
    Field("status", CHOICE, "状态", choices="statuses", column="entries.status"),
    Field("owner", TEXT, "负责人", 50, column="entries.owner"),
    Field("category", CHOICE, "分类", 32, choices="categories", column="entries.category"),
    Field("note", MULTILINE, "备注", 2000, column="events.note"),
    Field("satisfied", BOOL, "回访是否满意", hint="只在 status 为 followed_up（回访）时填写"),
    Field("action", OBJECT, "改进措施", form=ACTION),
    Field("action_done", OBJECT, "完成的措施", form=ACTION_DONE),
    Field("publish", MULTILINE, "公开摘要", 500, column="entries.public_summary"),
    Field("reply", MULTILINE, "给业主的答复", 2000, column="entries.resident_reply",
          hint="业主在“查询进度”页看到的答复，只给这位业主看；不会公开"),
    Field("contacted", DECLARED, "已联系业主", body=CONTACTED,
          hint="真正联系上业主时填写：首次联系满足答复时限（分派不算答复）"),
    Field("claim", BOOL, "涉及损害或赔偿主张", column="entries.claim",
          hint="true：联系方式在办结前和诉讼时效内不会被 kb purge 删除"),
), partial=True)

FORMS = (SUBMISSION, RECORD, INTAKE, ACTION, ACTION_DONE, PATCH)


def limits(form: Form) -> dict[str, int]:
    """name -> length limit, for the fields that have one (the HTML maxlength attributes)."""
    return {f.name: f.limit for f in form.fields if f.limit is not None}


def labels(form: Form, config: FeedbackConfig | None = None, prefix: str = "") -> dict[str, str]:
    """Error-list labels: field path -> Chinese label (nested forms too; rating dimensions when
    the config is given)."""
    out = {}
    for f in form.fields:
        out[prefix + f.name] = f.label
        if f.kind == OBJECT:
            out.update(labels(f.form, config, f"{prefix}{f.name}."))
        elif f.kind == RATINGS and config is not None:
            out.update({f"{prefix}{f.name}.{k}": f"{v}评分" for k, v in f.mapping(config).items()})
    return out


# -- checking -------------------------------------------------------------------------------------

class Errors:
    """The one error collector: every problem of a form at once, raised as one ValidationFailed."""

    def __init__(self):
        self.items: list[dict[str, str]] = []

    def add(self, name: str, message: str) -> None:
        self.items.append({"field": name, "message": message})

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise ValidationFailed(self.items)


MISSING = object()


def choices(mapping: dict[str, str]) -> str:
    """`id（名称）、id（名称）`: the accepted values in an error message."""
    return "、".join(f"{k}（{v}）" for k, v in mapping.items())


def blank(value: Any) -> bool:
    return value is None or value == "" or value == {}


def clean(form: Form, data: dict[str, Any], config: FeedbackConfig, errors: Errors, *,
          prefix: str = "", skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Check every field of `data` against `form`; return the clean values of the fields that
    were given. Problems go to `errors` (field paths like `action.owner`), never raised here.
    Fields in `skip` are left for the caller to check (cross-field rules)."""
    out: dict[str, Any] = {}
    names = form.names()
    for key in sorted(set(data) - set(names), key=str):
        errors.add(prefix + str(key)[:50], f"未知字段 {str(key)[:50]!r}；可用：{', '.join(n for n in names if n != HONEYPOT)}")
    for f in form.fields:
        if f.name in skip:
            continue
        raw = data.get(f.name, MISSING)
        value = check(f, raw, config, errors, prefix=prefix, partial=form.partial, html=form.html)
        if value is not MISSING:
            out[f.name] = value
    return out


def check(f: Field, raw: Any, config: FeedbackConfig, errors: Errors, *, prefix: str = "",
          partial: bool = False, html: bool = False, mapping: dict[str, str] | None = None) -> Any:
    """One field's clean value, or MISSING when it was not given (or was wrong: see `errors`)."""
    path = prefix + f.name

    def bad(message: str, at: str = path) -> Any:
        errors.add(at, message)
        return MISSING

    if raw is MISSING or raw is None or (not partial and blank(raw)):
        if f.required:
            if f.kind == CHOICE:
                return bad(f"请选择{f.label}：{'、'.join((mapping or f.mapping(config)).values())}")
            return bad(f"必填，{f.hint or '请写上' + f.label}")
        return MISSING
    if f.kind in (TEXT, MULTILINE, PHONE, DATETIME):
        value = text(f, raw, bad, partial=partial)
        if value is MISSING:
            return MISSING
        if f.kind == PHONE:
            try:
                return parse_phone(value)
            except FieldError as exc:
                return bad(str(exc))
        if f.kind == DATETIME:
            try:
                return parse_datetime(value, local_today()).isoformat(timespec="minutes")
            except FieldError as exc:
                return bad(str(exc))
        return value
    if f.kind == CHOICE:
        mapping = mapping or f.mapping(config)
        if not isinstance(raw, str) or raw not in mapping:
            return bad(f"未知的{f.label} {str(raw)[:50]!r}；可选：{choices(mapping)}")
        return raw
    if f.kind == BOOL:
        if isinstance(raw, bool):
            return raw
        if html and isinstance(raw, str) and raw.strip().lower() in TRUE | FALSE:
            return raw.strip().lower() in TRUE
        return bad(f"{f.name} 应为 true 或 false" + (f"（{f.hint}）" if f.hint else ""))
    if f.kind == RATINGS:
        return ratings(f, raw, config, bad, path)
    if f.kind == DATE:
        try:
            return Day(f.name).parse(raw)
        except Invalid as exc:
            return bad(exc.message)
    if f.kind == URL:
        if not isinstance(raw, str) or len(raw) > f.limit or not PR_URL.match(raw):
            return bad(f"{f.name} 应为{f.hint}")
        return raw
    if f.kind == INT:
        if not isinstance(raw, int) or isinstance(raw, bool) or not 0 < raw <= MAX_ID:
            return bad(f"{f.name} 应为整数（{f.hint}）")
        return raw
    if f.kind == OBJECT:
        if not isinstance(raw, dict):
            return bad(f"{f.name} 应为对象：{'、'.join(f.form.names())}")
        sub = Errors()
        value = clean(f.form, raw, config, sub, prefix=path + ".")
        errors.items += sub.items
        return MISSING if sub else (value or MISSING)
    if f.kind == DECLARED:
        if not isinstance(raw, dict):
            return bad(f"{f.name} 应为对象：{'、'.join(i.name for i in f.body.inputs)}")
        try:
            return f.body.read(raw)
        except ValidationFailed as exc:
            for e in exc.errors:
                errors.add(f"{path}.{e['field']}", e["message"])
            return MISSING
    raise AssertionError(f"unknown field kind {f.kind}")


def text(f: Field, raw: Any, bad, *, partial: bool) -> Any:
    """Trimmed text (single-line kinds with runs of white space made one space) within the limit."""
    if not isinstance(raw, str):
        return bad("应为文字")
    value = raw.replace("\r\n", "\n").strip()
    if f.kind != MULTILINE:
        value = " ".join(value.split())
    if _CONTROL.search(value):
        return bad("含有不可见的控制字符，请删除后重新填写")
    if f.limit is not None and len(value) > f.limit:
        return bad(f"最多 {f.limit} 个字，现在是 {len(value)} 个")
    if not value:
        if f.required:
            return bad(f"必填，{f.hint or '请写上' + f.label}")
        if partial:
            return bad("应为非空文字")
        return MISSING
    return value


def rating(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdecimal() and value.strip().isascii():
        value = int(value.strip())
    if isinstance(value, int) and 1 <= value <= 5:
        return value
    return None


def ratings(f: Field, raw: Any, config: FeedbackConfig, bad, path: str) -> Any:
    dims = f.mapping(config)
    if not isinstance(raw, dict):
        return bad(f"{f.name} 应为对象，例如 {{\"service\": 5}}；维度：{choices(dims)}")
    out: dict[str, int] = {}
    for key, value in raw.items():
        if key not in dims:
            bad(f"未知的评分维度；可选：{choices(dims)}", f"{path}.{str(key)[:30]}")
            continue
        score = rating(value)
        if score is None:
            bad(f"{dims[key]}评分应为 1 到 5 的整数", f"{path}.{key}")
        else:
            out[key] = score
    return out


def from_html(form: Form, data: dict[str, Any], rename: dict[str, str] | None = None) -> dict[str, Any]:
    """A page's HTML form fields -> the JSON body of `form` (text trimmed, check boxes as booleans,
    numbers as integers). Empty optional fields are left out; empty required ones stay, as "", so
    the check names them. `rename`: JSON name -> the HTML input's name where they differ."""
    out: dict[str, Any] = {}
    for f in form.fields:
        raw = data.get((rename or {}).get(f.name, f.name))
        if f.kind == BOOL:
            out[f.name] = isinstance(raw, str) and raw.strip().lower() in TRUE
        elif f.kind == CHOICE:
            if raw not in (None, "") or f.required:
                out[f.name] = raw
        elif f.kind == INT:
            ok = isinstance(raw, str) and raw.isdecimal() and raw.isascii() and len(raw) < 10
            out[f.name] = int(raw) if ok else None
        else:
            value = raw.strip() if isinstance(raw, str) else ""
            if value or f.required:
                out[f.name] = value
    return out


# -- JSON Schema (for the OpenAPI document) -------------------------------------------------------

def schema(form: Form, config: FeedbackConfig, *, omit: frozenset[str] = frozenset()) -> dict:
    """The JSON Schema of a form's JSON body."""
    props = {f.name: field_schema(f, config) for f in form.fields if f.name not in omit}
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    required = [f.name for f in form.fields if f.required and f.name not in omit]
    if required:
        out["required"] = required
    return out


def field_schema(f: Field, config: FeedbackConfig) -> dict:
    description = f.label + (f"：{f.hint}" if f.hint else "")
    if f.kind in (TEXT, MULTILINE, PHONE, DATETIME):
        s: dict[str, Any] = {"type": "string", "maxLength": f.limit}
    elif f.kind == CHOICE:
        mapping = f.mapping(config)
        s = {"type": "string", "enum": list(mapping)}
        description += "；" + choices(mapping)
    elif f.kind == BOOL:
        s = {"type": "boolean"}
    elif f.kind == RATINGS:
        s = {"type": "object", "additionalProperties": False,
             "properties": {k: {"type": "integer", "minimum": 1, "maximum": 5, "description": v}
                            for k, v in f.mapping(config).items()}}
    elif f.kind == DATE:
        s = Day(f.name).schema()
    elif f.kind == URL:
        s = {"type": "string", "maxLength": f.limit, "pattern": PR_URL.pattern}
    elif f.kind == INT:
        s = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    elif f.kind == DECLARED:
        s = f.body.schema()
    else:
        s = schema(f.form, config)
    return {**s, "description": description}

"""Every value a client sends, declared once as a typed input (the way MkDocs' `config_options`
declare a config): each class knows its check, its message in Chinese, its OpenAPI schema and its
HTML attributes, so the handler, the document and the form cannot disagree.

The bounds here are the ones the rest of the service relies on: ids fit the database's 32-bit
integer (PostgreSQL answers "integer out of range" above it), times lie between 2000 and 2099 (year
1 or 9999 overflows as soon as the Beijing offset or a deadline is added), and text carries no NUL
or other control character (PostgreSQL refuses NUL in text, and none of them is something a person
typed on purpose).

A query string or path goes through `Query.read` (the first problem is a 400 naming the field, or a
404 for an id in the path); a JSON body through `Body.read` (every problem at once, 422).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kb_service import times
from kb_service.errors import KBError, NotFound, ValidationFailed

MAX_ID = 2**31 - 1                   # PostgreSQL `integer`: a larger id is simply unknown
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
NO_CONTROL = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"     # CONTROL, as a JSON Schema pattern
TRUE = ("true", "1", "on", "yes", "y", "是")
FALSE = ("false", "0", "off", "no", "n", "否")
Schema = dict[str, Any]


class Invalid(ValueError):
    """A value that does not pass its input's check; the message says what to send instead."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def choices_text(mapping: Mapping[str, str]) -> str:
    """`id（名称）、id（名称）`: the accepted values in a message or a description."""
    return "、".join(f"{k}（{v}）" if v != k else k for k, v in mapping.items())


@dataclass(frozen=True)
class Input:
    """One value a client sends. `parse` takes what arrived (JSON value or query text) and returns
    the clean value or raises Invalid; absence (None, "") is handled by `read`."""

    name: str
    label: str = ""
    hint: str = ""
    required: bool = False
    default: Any = None

    def read(self, raw: Any, ctx: Any = None) -> Any:
        if raw is None or (isinstance(raw, str) and raw.strip() == ""):
            if self.required:
                raise Invalid(f"必填：{self.hint or '请写上' + (self.label or self.name)}")
            return self.default
        return self.parse(raw, ctx)

    def parse(self, raw: Any, ctx: Any = None) -> Any:
        raise NotImplementedError

    def schema(self, ctx: Any = None) -> Schema:
        raise NotImplementedError

    def describe(self) -> str:
        return (self.label or self.name) + (f"：{self.hint}" if self.hint else "")

    def html(self, ctx: Any = None) -> dict[str, str]:
        """The attributes of the HTML <input> for this value."""
        return {"name": self.name, **({"required": ""} if self.required else {})}


@dataclass(frozen=True)
class Text(Input):
    """Trimmed text within `limit` characters; single-line text has its runs of white space made
    one space. No control characters (tab and newline are fine)."""

    limit: int = 200
    multiline: bool = False

    def parse(self, raw: Any, ctx: Any = None) -> str | None:
        if not isinstance(raw, str):
            raise Invalid(f"{self.name} 应为文字")
        value = raw.replace("\r\n", "\n").strip()
        if not self.multiline:
            value = " ".join(value.split())
        if CONTROL.search(value):
            raise Invalid("含有不可见的控制字符，请删除后重新填写")
        if len(value) > self.limit:
            raise Invalid(f"最多 {self.limit} 个字，现在是 {len(value)} 个")
        return value or self.default

    def schema(self, ctx: Any = None) -> Schema:
        return {"type": "string", "maxLength": self.limit, "pattern": NO_CONTROL}

    def html(self, ctx: Any = None) -> dict[str, str]:
        return {**super().html(ctx), "maxlength": str(self.limit)}


@dataclass(frozen=True)
class Integer(Input):
    """A whole number from lo to hi: a JSON integer, or ASCII digits in a query string or path
    (`str.isdigit` would accept "²", which int() refuses)."""

    lo: int = 0
    hi: int = MAX_ID

    def parse(self, raw: Any, ctx: Any = None) -> int:
        if isinstance(raw, str) and re.fullmatch(r"-?[0-9]{1,12}", raw):
            raw = int(raw)
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise Invalid(f"{self.name} 应为整数" + (f"（{self.hint}）" if self.hint else ""))
        if not self.lo <= raw <= self.hi:
            raise Invalid(f"{self.name} 应在 {self.lo} 到 {self.hi} 之间")
        return raw

    def schema(self, ctx: Any = None) -> Schema:
        return {"type": "integer", "minimum": self.lo, "maximum": self.hi}

    def html(self, ctx: Any = None) -> dict[str, str]:
        return {**super().html(ctx), "type": "number", "min": str(self.lo), "max": str(self.hi)}


@dataclass(frozen=True)
class Id(Integer):
    """A row's id: 1 to the database's integer maximum."""

    lo: int = 1
    hi: int = MAX_ID

    def parse(self, raw: Any, ctx: Any = None) -> int:
        try:
            return super().parse(raw, ctx)
        except Invalid:
            raise Invalid(f"{self.name} 应为编号（1 到 {self.hi} 的整数）") from None


@dataclass(frozen=True)
class IdList(Input):
    """`3,5,8`: ids separated by commas (a dashboard figure's entries)."""

    most: int = 1000

    def parse(self, raw: Any, ctx: Any = None) -> list[int]:
        message = f"{self.name} 应为逗号分隔的编号（整数），最多 {self.most} 个"
        if not isinstance(raw, str):
            raise Invalid(message)
        parts = raw.split(",")
        if len(parts) > self.most:
            raise Invalid(message)
        try:
            return [Id(self.name).parse(p) for p in parts]
        except Invalid:
            raise Invalid(message) from None

    def schema(self, ctx: Any = None) -> Schema:
        # Documented up to 9 digits an id (a regular expression cannot say "at most MAX_ID"); empty is
        # "no filter" (an HTML form sends the empty field).
        return {"type": "string", "pattern": "^([1-9][0-9]{0,8}(,[1-9][0-9]{0,8})*)?$"}


@dataclass(frozen=True)
class Choice(Input):
    """One of a set of ids; `options` is the mapping id -> 名称, or a function of the context
    (the loaded content) that returns it."""

    options: Mapping[str, str] | Callable[[Any], Mapping[str, str]] = field(default_factory=dict)

    def mapping(self, ctx: Any = None) -> Mapping[str, str]:
        return self.options(ctx) if callable(self.options) else self.options

    def parse(self, raw: Any, ctx: Any = None) -> str:
        mapping = self.mapping(ctx)
        if not isinstance(raw, str) or raw not in mapping:
            shown = choices_text(mapping) if mapping else "（没有可选的值）"
            raise Invalid(f"{self.name} 只能是：{shown}")
        return raw

    def schema(self, ctx: Any = None) -> Schema:
        return {"type": "string", "enum": list(self.mapping(ctx))}


@dataclass(frozen=True)
class Flag(Input):
    """true or false: a JSON boolean, or true/false (1/0, yes/no, 是/否) as text."""

    def parse(self, raw: Any, ctx: Any = None) -> bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in TRUE + FALSE:
            return raw.strip().lower() in TRUE
        raise Invalid(f"{self.name} 只能是 true 或 false")

    def schema(self, ctx: Any = None) -> Schema:
        return {"type": "boolean"}


@dataclass(frozen=True)
class Overdue(Flag):
    """The list's overdue filter: true or false (either deadline), or one deadline by name
    (feedback/deadlines.py MEASURES: response 超答复时限, result 超处理时限)."""

    measures: tuple[str, ...] = ("response", "result")

    def parse(self, raw: Any, ctx: Any = None) -> bool | str:
        if isinstance(raw, str) and raw.strip() in self.measures:
            return raw.strip()
        try:
            return super().parse(raw, ctx)
        except Invalid:
            raise Invalid(f"{self.name} 只能是 true、false、{'、'.join(self.measures)}") from None

    def schema(self, ctx: Any = None) -> Schema:
        return {"type": "string", "enum": [*TRUE, *FALSE, *self.measures]}


@dataclass(frozen=True)
class Day(Input):
    """A calendar date, 2026-12-31, within times.EARLIEST..times.LATEST."""

    def parse(self, raw: Any, ctx: Any = None) -> dt.date:
        try:
            return times.parse_day(raw)
        except ValueError:
            raise Invalid(f"{self.name} 应为 {times.EARLIEST.year} 到 {times.LATEST.year} 年之间的日期，例如 2026-12-31") from None

    def schema(self, ctx: Any = None) -> Schema:
        return {"type": "string", "format": "date", "pattern": times.DAY_PATTERN}

    def html(self, ctx: Any = None) -> dict[str, str]:
        return {**super().html(ctx), "type": "date", "min": times.EARLIEST.isoformat(),
                "max": times.LATEST.isoformat()}


@dataclass(frozen=True)
class Moment(Input):
    """A time as staff type it, in Beijing time (`2026-12-01`, `2026-12-01 08:00`,
    `2026-12-01T08:00`), or ISO with Z or an offset -> naive UTC. A bare date is
    the start of that day, or its last minute with `end_of_day`."""

    end_of_day: bool = False

    def parse(self, raw: Any, ctx: Any = None) -> dt.datetime:
        try:
            return times.parse_local(raw, end_of_day=self.end_of_day)
        except ValueError:
            raise Invalid(f"{self.label or self.name}应为 {times.EARLIEST.year} 到 {times.LATEST.year} 年之间的"
                          "日期或时间，例如 2026-12-01 或 2026-12-01 08:00") from None

    def schema(self, ctx: Any = None) -> Schema:
        return {"type": "string", "maxLength": 40, "pattern": times.MOMENT_PATTERN}

    def html(self, ctx: Any = None) -> dict[str, str]:
        return {**super().html(ctx), "maxlength": "40"}


# -- groups: a query string, a path, a JSON body ------------------------------------------------------

@dataclass(frozen=True)
class Query:
    """The parameters of a query string (or a path). Unknown parameters are ignored (browsers and
    proxies add their own); the first wrong one is a 400 naming it."""

    inputs: tuple[Input, ...]
    where: str = "query"

    def read(self, data: Mapping[str, Any], ctx: Any = None) -> dict[str, Any]:
        out = {}
        for i in self.inputs:
            try:
                out[i.name] = i.read(data.get(i.name), ctx)
            except Invalid as exc:
                if self.where == "path":
                    raise NotFound(f"没有这个编号：{str(data.get(i.name))[:20]!r}；{exc.message}",
                                   id=str(data.get(i.name))[:20]) from None
                raise KBError(exc.message, field=i.name) from None
        return out

    def parameters(self, ctx: Any = None) -> list[Schema]:
        """The OpenAPI `parameters` of these inputs. An optional choice may be sent empty, meaning
        "not given" (what an HTML form's empty <select> sends)."""
        out = []
        for i in self.inputs:
            schema = i.schema(ctx)
            if self.where == "query" and not i.required and "enum" in schema:
                schema = {**schema, "enum": [*schema["enum"], ""]}
            out.append({"name": i.name, "in": self.where, "required": self.where == "path" or i.required,
                        "description": i.describe(), "schema": schema})
        return out

    def __add__(self, other: Query) -> Query:
        return Query(self.inputs + other.inputs, self.where)


@dataclass(frozen=True)
class Body:
    """A JSON object body: unknown keys and every wrong value reported at once (422)."""

    inputs: tuple[Input, ...]
    extra: tuple[str, ...] = ()       # keys a page's form adds (csrf, op) that are read elsewhere

    def read(self, data: Mapping[str, Any], ctx: Any = None) -> dict[str, Any]:
        """The clean values, or every problem at once as a ValidationFailed."""
        errors: list[dict[str, str]] = []
        out = self.check(data, ctx, errors)
        if errors:
            raise ValidationFailed(errors)
        return out

    def check(self, data: Mapping[str, Any], ctx: Any, errors: list[dict[str, str]]) -> dict[str, Any]:
        """The clean values of the inputs that passed; the problems are added to `errors` (for a
        caller with rules of its own across fields)."""
        names = [i.name for i in self.inputs]
        for key in sorted(set(data) - set(names) - set(self.extra), key=str):
            errors.append({"field": str(key)[:50], "message": f"未知字段；可用：{', '.join(names)}"})
        out = {}
        for i in self.inputs:
            try:
                out[i.name] = i.read(data.get(i.name), ctx)
            except Invalid as exc:
                errors.append({"field": i.name, "message": exc.message})
        return out

    def schema(self, ctx: Any = None, *, required: bool | tuple[str, ...] = True,
               only: tuple[str, ...] | None = None) -> Schema:
        """The JSON Schema; `required` False or the names to require instead of the declared ones,
        `only` the inputs an operation takes."""
        chosen = [i for i in self.inputs if only is None or i.name in only]
        out: Schema = {"type": "object", "additionalProperties": False,
                       "properties": {i.name: {**i.schema(ctx), "description": i.describe()} for i in chosen}}
        names = list(required) if isinstance(required, tuple) else [i.name for i in chosen if i.required]
        if required and names:
            out["required"] = names
        return out


def path_id(request, name: str = "id") -> int:
    """The id in a route's path; anything but an id in the database's range is a 404."""
    return Query((Id(name),), where="path").read(request.path_params)[name]

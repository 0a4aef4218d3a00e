"""The content model: standards, site settings, snippets (scripts and templates), tone, the
feedback settings and the Corpus that holds them. Plain data classes, no I/O (see load.py)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from kb_service.content.markup import expand_inline
from kb_service.content.yamldoc import Problem
from kb_service.times import add_months

UNIT_TEXT = {"minute": "分钟", "hour": "小时", "day": "天", "month": "个月"}
MEASURE_TEXT = {"response": "响应", "completion": "办结", "report": "报告", "retention": "保存"}
KIND_DIRS = {"script": "scripts", "template": "templates"}
KIND_TEXT = {"script": "话术", "template": "模板", "page": "手册"}
TYPE_TEXT = {"text": "单行文字", "multiline": "多行文字", "date": "日期", "datetime": "日期时间",
             "timerange": "时间段", "phone": "电话", "number": "数字", "money": "金额（元）",
             "choice": "选项", "building": "楼栋/单元"}
CHANNEL_TEXT = {"sms": "短信", "wechat": "微信群", "notice": "张贴通知", "letter": "书面信函"}
SOURCE_TEXT = {"setting": "公司与小区设置", "standard": "服务标准", "today": "当天日期"}
STANDARD_REF = re.compile(r"\{([a-z]+\.[a-z0-9-]+)\}")
# Every text of a snippet where `{<standard id>}` and `[[std:..]]` / `[[law:..]]` are filled in: the
# API, the site pages and the search index expand exactly these (Corpus.expand), and the linter
# checks exactly these (checks.placeholder_problems).
SNIPPET_TEXT = ("summary", "applies_when")
STEP_TEXT = ("say", "do", "note")
AVOID_TEXT = ("instead", "why")


def placeholder_texts(data: dict[str, Any]) -> Iterator[tuple[list, str]]:
    """(path, text) of each text field of one snippet that may hold a placeholder."""
    for key in SNIPPET_TEXT:
        if isinstance(data.get(key), str):
            yield [key], data[key]
    for list_key, keys in (("steps", STEP_TEXT), ("avoid", AVOID_TEXT)):
        items = data.get(list_key)
        for i, item in enumerate(items if isinstance(items, list) else []):
            for key in keys:
                if isinstance(item, dict) and isinstance(item.get(key), str):
                    yield [list_key, i, key], item[key]


@dataclass(frozen=True)
class Standard:
    id: str
    name: str
    category: str
    measure: str
    duration: int
    unit: str
    applies_to: str
    description: str

    @property
    def text(self) -> str:
        return f"{self.duration}{UNIT_TEXT[self.unit]}"

    def deadline(self, start: dt.datetime) -> dt.datetime:
        if self.unit == "month":
            return add_months(start, self.duration)
        return start + dt.timedelta(**{f"{self.unit}s": self.duration})

    def before(self, end: dt.datetime) -> dt.datetime:
        """The start whose deadline is `end`: `duration` back from it (for retention cut-offs)."""
        if self.unit == "month":
            return add_months(end, -self.duration)
        return end - dt.timedelta(**{f"{self.unit}s": self.duration})

    def to_json(self) -> dict:
        return {"id": self.id, "name": self.name, "duration": self.duration, "unit": self.unit,
                "text": self.text, "measure": self.measure, "applies_to": self.applies_to}


@dataclass(frozen=True)
class Law:
    """One legal reference in snippets/laws.yaml, cited as `[[law:<id>]]`."""
    id: str
    law: str
    short: str
    summary: str
    for_staff: str
    article: int | None = None

    @property
    def text(self) -> str:
        return f"《{self.short}》第{self.article}条" if self.article else f"《{self.short}》"

    def to_json(self) -> dict:
        return {"id": self.id, "law": self.law, "article": self.article, "text": self.text,
                "summary": self.summary, "for_staff": self.for_staff}


@dataclass(frozen=True)
class Building:
    name: str
    units: tuple[str, ...]


@dataclass(frozen=True)
class Site:
    """Company-wide settings (site.yaml). Everything that belongs to one community is in Community."""
    company_name: str
    company_short: str
    hotline: str
    categories: dict[str, str]
    fee_disclosure: tuple[str, ...] = ()
    default_community: str | None = None

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "Site":
        """site.yaml (already schema-checked, as plain data) -> Site."""
        return cls(
            company_name=data["company_name"],
            company_short=data["company_short"],
            hotline=data["hotline"],
            categories=dict(data["categories"]),
            fee_disclosure=tuple(data.get("fee_disclosure", ())),
            default_community=data.get("default_community"),
        )


@dataclass(frozen=True)
class Community:
    """One community (小区, a project of the company): snippets/communities/<id>.yaml."""
    id: str
    name: str
    address: str
    households: int
    hotline: str
    office_place: str
    office_hours: str
    buildings: tuple[Building, ...]
    fees: dict[str, Any]                       # effective_date, basis, price_hotline, items, parking
    public_revenue: tuple[dict[str, Any], ...]
    company_short: str | None = None
    example: bool = False
    path: str = ""

    @classmethod
    def from_data(cls, data: dict[str, Any], path: str = "") -> "Community":
        return cls(
            id=data["id"], name=data["name"], address=data["address"], households=data["households"],
            hotline=data["hotline"], office_place=data["office"]["place"], office_hours=data["office"]["hours"],
            buildings=tuple(Building(b["name"], tuple(b["units"])) for b in data["buildings"]),
            fees=dict(data["fees"]), public_revenue=tuple(data["public_revenue"]),
            company_short=data.get("company_short"), example=bool(data.get("example", False)), path=path,
        )

    @property
    def url(self) -> str:
        """The community's landing page on the site."""
        return f"/communities/{self.id}/"

    @property
    def label(self) -> str:
        """The name as residents read it; example data says so."""
        return f"{self.name}（示例）" if self.example else self.name

    def setting(self, key: str, site: Site) -> str | None:
        """A template's `computed: {source: setting, key: ...}` value for this community."""
        return {"company_name": site.company_name, "company_short": self.company_short or site.company_short,
                "hotline": self.hotline, "estate_name": self.name, "office_place": self.office_place,
                "office_hours": self.office_hours, "address": self.address,
                "company_hotline": site.hotline}.get(key)


@dataclass(frozen=True)
class FeedbackType:
    id: str
    label: str
    response: Standard | None
    result: Standard | None
    tiers: dict[str, Standard] = field(default_factory=dict)   # repair: tier -> on-site deadline


@dataclass(frozen=True)
class FeedbackConfig:
    """snippets/feedback.yaml: what residents can send and which commitments apply to it."""
    types: dict[str, FeedbackType]
    categories: dict[str, str]
    ratings: dict[str, str]
    emotions: dict[str, str]
    retention: Standard
    claim_retention: Standard | None = None
    csi_min_ratings: int = 5      # fewer ratings than this: no CSI figure, no point on a chart

    @classmethod
    def from_data(cls, data: dict[str, Any], standards: dict[str, Standard]) -> "FeedbackConfig":
        types = {tid: FeedbackType(tid, spec["label"], standards.get(spec.get("response", "")),
                                   standards.get(spec.get("result", "")),
                                   {k: standards[v] for k, v in (spec.get("tiers") or {}).items() if v in standards})
                 for tid, spec in data["types"].items()}
        return cls(types, dict(data["categories"]), dict(data["ratings"]), dict(data["emotions"]),
                   standards[data["retention"]], standards.get(data.get("claim_retention", "")),
                   data.get("csi_min_ratings", 5))


SETTING_KEYS = ("company_name", "company_short", "hotline", "estate_name", "office_place", "office_hours",
                "address", "company_hotline")


@dataclass
class Snippet:
    id: str
    kind: str
    title: str
    category: str
    tags: list[str]
    aliases: list[str]
    summary: str
    applies_when: str
    related: list[str]
    owner: str
    reviewed: str
    path: str
    data: dict[str, Any] = field(repr=False)

    @property
    def url(self) -> str:
        return f"/{KIND_DIRS[self.kind]}/{self.id}/"

    @property
    def src_uri(self) -> str:
        return f"{KIND_DIRS[self.kind]}/{self.id}.md"


@dataclass
class Script(Snippet):
    steps: list[dict[str, str]] = field(default_factory=list)
    avoid: list[dict[str, str]] = field(default_factory=list)
    commitments: list[str] = field(default_factory=list)
    callers_say: list[str] = field(default_factory=list)   # what callers say, in their own words


@dataclass
class Template(Snippet):
    fields: list[dict[str, Any]] = field(default_factory=list)
    channels: dict[str, Any] = field(default_factory=dict)

    @property
    def channel_names(self) -> list[str]:
        return list(self.channels)


def make_snippet(data: dict[str, Any], path: str) -> Snippet:
    common = {k: data[k] for k in ("id", "kind", "title", "category", "tags", "aliases", "summary",
                                    "applies_when", "related", "owner", "reviewed")}
    if data["kind"] == "script":
        return Script(**common, path=path, data=data, steps=data["steps"], avoid=data["avoid"],
                      commitments=data["commitments"], callers_say=list(data.get("callers_say") or []))
    return Template(**common, path=path, data=data, fields=data["fields"], channels=data["channels"])


@dataclass
class Corpus:
    root: Path
    site: Site
    standards: dict[str, Standard]
    snippets: dict[str, Snippet]
    tone: Any = None
    feedback: "FeedbackConfig | None" = None
    warnings: list[Problem] = field(default_factory=list)
    laws: dict[str, Law] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict, repr=False)   # the plain data it came from
    communities: dict[str, Community] = field(default_factory=dict)    # id -> community, in id order

    @property
    def default_community(self) -> Community | None:
        """site.yaml's default_community, else the first by id: old entries and unscoped fills use it."""
        if self.site.default_community in self.communities:
            return self.communities[self.site.default_community]
        return next(iter(self.communities.values()), None)

    @property
    def single_community(self) -> bool:
        """One community configured: no selector anywhere, the community is implied."""
        return len(self.communities) <= 1

    def community(self, community_id: str | None) -> Community | None:
        """The named community, or the default one when no id is given; None for an unknown id."""
        if not community_id:
            return self.default_community
        return self.communities.get(community_id)

    @property
    def scripts(self) -> dict[str, Script]:
        return {k: v for k, v in self.snippets.items() if isinstance(v, Script)}

    @property
    def templates(self) -> dict[str, Template]:
        return {k: v for k, v in self.snippets.items() if isinstance(v, Template)}

    def expand(self, text: str) -> str:
        """Content text as people read it: `{complaint.response}` and `[[std:..]]` become the
        commitment ("24小时"), `[[law:..]]` the legal reference ("《民法典》第944条")."""
        text = STANDARD_REF.sub(lambda m: self.standards[m.group(1)].text
                                if m.group(1) in self.standards else m.group(0), text)
        return expand_inline(text, self.standards, self.laws)


@dataclass
class Tone:
    """Phrases the tone check flags, loaded from snippets/tone.yaml."""
    vague: list[str]
    blaming: list[str]

    def check_fields(self, values: dict[str, str], labels: dict[str, str]) -> list[str]:
        warnings = []
        for name, text in values.items():
            for phrase in self.vague:
                if phrase in text:
                    warnings.append(f"“{labels[name]}”里的“{phrase}”不够具体，请写明时间或具体单位")
            for phrase in self.blaming:
                if phrase in text:
                    warnings.append(f"“{labels[name]}”里的“{phrase}”有指责或推诿的意思，请换一种说法")
        return warnings

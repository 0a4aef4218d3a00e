"""Content loading: snippets/ (site settings, standards, scripts, templates) into one Corpus.

The linter, the MkDocs hooks and the service all call `load_corpus`, so there is one reading of
the content and one set of rules (checks.py) behind all three.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import yamldoc
from .errors import ContentError
from .yamldoc import Problem, YamlDoc

UNIT_TEXT = {"minute": "分钟", "hour": "小时", "day": "天", "month": "个月"}
MEASURE_TEXT = {"response": "响应", "completion": "办结", "report": "报告", "retention": "保存"}
KIND_DIRS = {"script": "scripts", "template": "templates"}
KIND_TEXT = {"script": "话术", "template": "模板", "page": "手册"}
STANDARD_REF = re.compile(r"\{([a-z]+\.[a-z0-9-]+)\}")


def add_months(value: dt.datetime, months: int) -> dt.datetime:
    """`value` moved by whole calendar months (negative: back), the day clamped to the month's length."""
    year, month = divmod(value.year * 12 + value.month - 1 + months, 12)
    return value.replace(year=year, month=month + 1, day=min(value.day, calendar.monthrange(year, month + 1)[1]))


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

    def to_json(self) -> dict:
        return {"id": self.id, "name": self.name, "duration": self.duration, "unit": self.unit,
                "text": self.text, "measure": self.measure, "applies_to": self.applies_to}


@dataclass(frozen=True)
class Building:
    name: str
    units: tuple[str, ...]


@dataclass(frozen=True)
class Site:
    company_name: str
    company_short: str
    hotline: str
    estate_name: str
    buildings: tuple[Building, ...]
    categories: dict[str, str]

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "Site":
        """site.yaml (already schema-checked, as plain data) -> Site."""
        return cls(
            company_name=data["company_name"],
            company_short=data["company_short"],
            hotline=data["hotline"],
            estate_name=data["estate"]["name"],
            buildings=tuple(Building(b["name"], tuple(b["units"])) for b in data["estate"]["buildings"]),
            categories=dict(data["categories"]),
        )

    def setting(self, key: str) -> str | None:
        return {"company_name": self.company_name, "company_short": self.company_short,
                "hotline": self.hotline, "estate_name": self.estate_name}.get(key)


@dataclass(frozen=True)
class FeedbackType:
    id: str
    label: str
    response: Standard | None
    result: Standard | None


@dataclass(frozen=True)
class FeedbackConfig:
    """snippets/feedback.yaml: what residents can send and which commitments apply to it."""
    types: dict[str, FeedbackType]
    categories: dict[str, str]
    ratings: dict[str, str]
    emotions: dict[str, str]
    retention: Standard

    @classmethod
    def from_data(cls, data: dict[str, Any], standards: dict[str, Standard]) -> "FeedbackConfig":
        types = {tid: FeedbackType(tid, spec["label"], standards.get(spec.get("response", "")),
                                   standards.get(spec.get("result", "")))
                 for tid, spec in data["types"].items()}
        return cls(types, dict(data["categories"]), dict(data["ratings"]), dict(data["emotions"]),
                   standards[data["retention"]])


SETTING_KEYS = ("company_name", "company_short", "hotline", "estate_name")


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


@dataclass
class Template(Snippet):
    fields: list[dict[str, Any]] = field(default_factory=list)
    channels: dict[str, Any] = field(default_factory=dict)

    @property
    def channel_names(self) -> list[str]:
        return list(self.channels)


@dataclass
class Corpus:
    root: Path
    site: Site
    standards: dict[str, Standard]
    snippets: dict[str, Snippet]
    fees: dict[str, Any] = field(default_factory=dict)
    tone: Any = None
    feedback: "FeedbackConfig | None" = None
    warnings: list[Problem] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict, repr=False)   # the plain data it came from

    @property
    def scripts(self) -> dict[str, Script]:
        return {k: v for k, v in self.snippets.items() if isinstance(v, Script)}

    @property
    def templates(self) -> dict[str, Template]:
        return {k: v for k, v in self.snippets.items() if isinstance(v, Template)}

    def expand_standards(self, text: str) -> str:
        """`{complaint.response}` in script text -> `24小时`, from the standards file."""
        return STANDARD_REF.sub(lambda m: self.standards[m.group(1)].text
                                if m.group(1) in self.standards else m.group(0), text)


# ---------------------------------------------------------------------------------------------

def snippet_files(snippets_dir: Path) -> list[Path]:
    return sorted((snippets_dir / "scripts").glob("*.yaml")) + sorted(
        (snippets_dir / "templates").glob("*.yaml"))


def load_documents(snippets_dir: Path, root: Path | None = None) -> dict[str, Any]:
    """Every YAML file of the content, parsed with positions (no validation yet)."""
    root = root or snippets_dir.parent

    def one(name: str) -> YamlDoc:
        path = snippets_dir / name
        if not path.exists():
            disp = yamldoc._display(path, root)
            return YamlDoc(path, disp, None, [Problem(disp, 1, 1, f"缺少文件 {name}")])
        return yamldoc.load(path, root)

    return {
        "site": one("site.yaml"),
        "standards": one("standards.yaml"),
        "tone": one("tone.yaml"),
        "feedback": one("feedback.yaml"),
        "fees": one("fees.yaml") if (snippets_dir / "fees.yaml").exists() else None,
        "snippets": [yamldoc.load(p, root) for p in snippet_files(snippets_dir)],
    }


def load_corpus(snippets_dir: Path, *, today: dt.date | None = None) -> tuple[Corpus | None, list[Problem]]:
    """Load and check everything. Returns (corpus or None when there are errors, all problems)."""
    from .checks import check_documents

    docs = load_documents(snippets_dir)
    problems = check_documents(docs, snippets_dir, today=today)
    if any(p.severity == "error" for p in problems):
        return None, problems
    plain = {k: (yamldoc.to_plain(v.data) if isinstance(v, YamlDoc) else v) for k, v in docs.items()
             if k != "snippets"}
    plain["fees"] = plain["fees"] or {}
    plain["snippets"] = [{"path": doc.display, "data": yamldoc.to_plain(doc.data)} for doc in docs["snippets"]]
    corpus = corpus_from_plain(snippets_dir.parent, plain)
    corpus.warnings = [p for p in problems if p.severity != "error"]
    return corpus, problems


def corpus_from_plain(root: Path, plain: dict[str, Any]) -> Corpus:
    """Checked content as plain data (see load_corpus) -> Corpus. Also used for the snapshot that
    `kb build` stores beside the index, so the service starts without re-parsing the YAML."""
    from .filling import Tone

    standards = {s["id"]: Standard(**s) for s in plain["standards"]["standards"]}
    snippets = {item["data"]["id"]: make_snippet(item["data"], item["path"]) for item in plain["snippets"]}
    return Corpus(root, Site.from_data(plain["site"]), standards, snippets, plain["fees"],
                  Tone(**plain["tone"]), feedback=FeedbackConfig.from_data(plain["feedback"], standards),
                  source=plain)


def require_corpus(snippets_dir: Path) -> Corpus:
    corpus, problems = load_corpus(snippets_dir)
    if corpus is None:
        errors = [p for p in problems if p.severity == "error"]
        raise ContentError(f"内容检查发现 {len(errors)} 个错误，请先运行 kb lint 查看并修正", errors)
    return corpus


def make_snippet(data: dict[str, Any], path: str) -> Snippet:
    common = {k: data[k] for k in ("id", "kind", "title", "category", "tags", "aliases", "summary",
                                    "applies_when", "related", "owner", "reviewed")}
    if data["kind"] == "script":
        return Script(**common, path=path, data=data, steps=data["steps"], avoid=data["avoid"],
                      commitments=data["commitments"])
    return Template(**common, path=path, data=data, fields=data["fields"], channels=data["channels"])

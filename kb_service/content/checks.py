"""The rules content must follow: the JSON Schema files plus what a schema cannot express.

Every rule reports a Problem at the line and column of the offending value, so `kb lint`,
`kb build` and the service all point an editor at the same place.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, Callable, Hashable, Iterator

from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from jsonschema.exceptions import ValidationError

from kb_service.content import fields as F
from kb_service.content.filling import (
    DOCUMENT_PARTS,
    PLACEHOLDER,
    SMS_SINGLE,
    examples,
    render,
)
from kb_service.content.editor_schema import FILE as ID_SCHEMA_FILE
from kb_service.content.editor_schema import ID_DEFS
from kb_service.content.hints import choice_list, did_you_mean, suggest
from kb_service.content import lawrefs
from kb_service.content.markup import inline_refs
from kb_service.content.model import (
    KIND_DIRS,
    SETTING_KEYS,
    STANDARD_REF,
    Community,
    Corpus,
    Site,
    Standard,
    make_snippet,
    placeholder_texts,
)
from kb_service.content import yamldoc
from kb_service.content.yamldoc import BAD_COLON, COLON_MESSAGE, Problem, YamlDoc, to_plain
from kb_service.errors import ValidationFailed

SCHEMA_FILES = {"site": "site.schema.json", "standards": "standards.schema.json",
                "tone": "tone.schema.json", "community": "community.schema.json",
                "feedback": "feedback.schema.json", "snippet": "snippet.schema.json",
                "laws": "laws.schema.json"}
TYPE_TEXT = {"string": "文字", "array": "列表", "object": "键值表", "integer": "整数",
             "number": "数字", "boolean": "true/false", "null": "空值"}
REVIEW_MAX_AGE = dt.timedelta(days=365)


@cache
def validator(schema_dir: Path, name: str) -> Draft202012Validator:
    schema = json.loads((schema_dir / SCHEMA_FILES[name]).read_text(encoding="utf-8"))
    # ids.schema.json (editor_schema.py) lists ids for the editor's completion only: the checks
    # below report unknown ids with the nearest ones, so here every id is allowed.
    ids = DRAFT202012.create_resource({"$defs": {name: {} for name in ID_DEFS}})
    return Draft202012Validator(schema, registry=Registry().with_resource(ID_SCHEMA_FILE, ids))


def check_documents(docs: dict[str, Any], snippets_dir: Path, *, today: dt.date | None = None) -> list[Problem]:
    today = today or dt.date.today()
    schema_dir = snippets_dir / "schema"
    problems: list[Problem] = []
    for name in ("site", "standards", "tone", "feedback", "laws"):
        doc = docs.get(name)
        if doc is not None:
            problems += doc.problems or list(schema_problems(doc, validator(schema_dir, name)))
    for doc in docs["snippets"]:
        problems += doc.problems or list(schema_problems(doc, validator(schema_dir, "snippet")))
    for doc in docs.get("communities", []):
        problems += doc.problems or list(schema_problems(doc, validator(schema_dir, "community")))
    if any(p.severity == "error" for p in problems):
        # Cross-file rules need every file to have the right shape first.
        return sorted(set(problems))

    site = Site.from_data(to_plain(docs["site"].data))
    problems += check_communities(docs.get("communities", []), docs["site"], snippets_dir)
    communities = sorted((Community.from_data(to_plain(d.data), d.display) for d in docs.get("communities", [])),
                         key=lambda c: c.id)
    default = next((c for c in communities if c.id == site.default_community), communities[0] if communities else None)
    standards = {s["id"]: s for s in to_plain(docs["standards"].data)["standards"]}
    tone = to_plain(docs["tone"].data)
    cause = duplicates(docs["standards"], ["standards"], "承诺")
    if cause:
        # Every script, template and setting naming that commitment would fail too: report the
        # cause alone (with any other file's own errors), its consequences after it is fixed.
        return sorted(set(problems + cause))
    laws = law_ids(docs)
    entries = to_plain(docs["laws"].data)["laws"] if docs.get("laws") is not None else []
    refs = {"std": set(standards), "law": laws}
    # Every file but laws.yaml: a law named there in plain text would escape the 法规依据 page.
    for name in ("standards", "site", "tone", "feedback"):
        if docs.get(name) is not None:
            problems += check_references(docs[name], refs, entries)
    for doc in docs.get("communities", []):
        problems += check_references(doc, refs, entries)
    if docs.get("laws") is not None:
        problems += duplicates(docs["laws"], ["laws"], "法规")
    problems += check_feedback(docs["feedback"], standards)
    ids = Counter(doc.data["id"] for doc in docs["snippets"])
    files: dict[str, list[YamlDoc]] = {}
    for doc in docs["snippets"]:
        files.setdefault(doc.data["id"], []).append(doc)
    for doc in docs["snippets"]:
        problems += check_snippet(doc, site=site, standards=standards, tone=tone, ids=ids, files=files,
                                  snippets_dir=snippets_dir, today=today, community=default)
        problems += check_references(doc, refs, entries)
    return sorted(set(problems))


def law_ids(docs: dict[str, Any]) -> set[str]:
    return {item["id"] for item in docs["laws"].data["laws"]} if docs.get("laws") is not None else set()


# -- schema -----------------------------------------------------------------------------------

def load_settings_file(snippets_dir: Path, name: str, schema: str) -> tuple[YamlDoc | None, Any, list[Problem]]:
    """A settings file of snippets/ (lookup.yaml, danger.yaml) read with positions and checked
    against its JSON Schema in snippets/schema/: the document (for positions in messages) and its
    plain data, or (None, None) with the problems that stop it."""
    doc = yamldoc.load(snippets_dir / name, snippets_dir.parent)
    if doc.problems:
        return None, None, doc.problems
    validator = Draft202012Validator(json.loads((snippets_dir / "schema" / schema).read_text(encoding="utf-8")))
    problems = list(schema_problems(doc, validator))
    return (None, None, problems) if problems else (doc, to_plain(doc.data), [])


_CHECKED: dict[tuple, Any] = {}


def checked_once(snippets_dir: Path, name: str, schema: str, depends: Hashable, make: Callable[[], Any]) -> Any:
    """make(), the checked form of the settings file snippets/<name> (a lexicon), made once per
    process for the same bytes of the file and of its schema and the same `depends` (what else it
    is checked against). Every open of the search (each in-process client, the preview after each
    edit) checked both lexicons again: about half of Services.open. Not cached when the file
    changed while it was being checked; keyed on bytes, not times, so an edit is never missed."""
    def inputs() -> tuple[bytes, bytes] | None:
        try:
            return (hashlib.sha1((snippets_dir / name).read_bytes()).digest(),
                    hashlib.sha1((snippets_dir / "schema" / schema).read_bytes()).digest())
        except OSError:
            return None
    key = (name, inputs(), depends)
    if key in _CHECKED:
        return _CHECKED[key]
    made = make()
    if inputs() == key[1]:
        if len(_CHECKED) > 32:
            _CHECKED.clear()
        _CHECKED[key] = made
    return made


def schema_problems(doc: YamlDoc, validator: Draft202012Validator) -> Iterator[Problem]:
    plain = to_plain(doc.data)
    if plain is None:
        yield doc.problem([], "文件是空的")
        return
    for error in validator.iter_errors(plain):
        yield from explain(doc, error)


# A schema bound broken -> what the message says after the field's name.
BOUNDS = {"minLength": "至少 {} 个字符", "maxLength": "最多 {} 个字符", "minItems": "至少要有 {} 项",
          "maxItems": "最多要有 {} 项", "minProperties": "至少要有 {} 项", "minimum": "不能小于 {}",
          "maximum": "不能大于 {}"}


def explain(doc: YamlDoc, error: ValidationError) -> Iterator[Problem]:
    path = list(error.absolute_path)
    v = error.validator
    if v in ("anyOf", "oneOf", "allOf") and error.context:
        # report the most specific sub-error (the deepest path)
        best = max(error.context, key=lambda e: len(e.absolute_path))
        if v == "anyOf" and error.schema.get("anyOf") and all(
                "required" in s for s in error.schema["anyOf"]):
            need = " 或 ".join(s["required"][0] for s in error.schema["anyOf"])
            yield doc.problem(path, f"至少要有 {need} 其中一项")
            return
        yield from explain(doc, best)
        return
    if v == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        for key in sorted(set(error.instance) - set(allowed)):
            guess = did_you_mean(str(key), allowed)
            hint = f"（{guess}允许的键：{', '.join(allowed)}）" if allowed else ""
            yield doc.problem(path + [key], f"未知的键 {key!r}{hint}", on_key=True)
        return
    if v == "false" or (error.schema is False):
        yield doc.problem(path, f"键 {path[-1]!r} 不适用于这种内容", on_key=True)
        return
    if v == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        strangers = [k for k in error.instance if k not in error.schema.get("properties", {})]
        if isinstance(error.instance, dict) and did_you_mean(missing, strangers):
            return   # a misspelled key: its own message says "是不是 <missing>？"
        yield item_problem(doc, path, f"缺少必填的键 {missing!r}")
        return
    if v == "type" and isinstance(error.instance, str) and BAD_COLON.match(error.instance):
        # `- say：您好` parses as the text "say：您好" where a mapping was expected
        m = BAD_COLON.match(error.instance)
        what = "后面是全角冒号“：”" if m.group(3) == "：" else "的冒号后面缺少空格"
        yield doc.problem_at(path, m.start(3), f"键 {m.group(2)} {what}：{COLON_MESSAGE}")
        return
    if v == "type":
        want = error.validator_value
        want = "或".join(TYPE_TEXT.get(w, w) for w in want) if isinstance(want, list) else TYPE_TEXT.get(want, want)
        got = TYPE_TEXT.get(_json_type(error.instance), _json_type(error.instance))
        yield doc.problem(path, f"{_name(path)}应为{want}，实际是{got}")
        return
    if v == "enum":
        yield doc.problem(path, f"{_name(path)}只能是：{', '.join(map(str, error.validator_value))}")
        return
    if v == "const":
        yield doc.problem(path, f"{_name(path)}只能是 {error.validator_value!r}")
        return
    if v == "pattern":
        yield doc.problem(path, f"{_name(path)}格式不对：{error.instance!r}（应匹配 {error.validator_value}）")
        return
    if v in BOUNDS:
        yield doc.problem(path, _name(path) + BOUNDS[v].format(error.validator_value))
        return
    yield doc.problem(path, f"{_name(path)}不符合格式：{error.message}")


def item_problem(doc: YamlDoc, path: list, message: str) -> Problem:
    """A problem about a whole mapping (a missing key): at its first key, so an editor lands on the
    item (`- say: ...`), not at 1:1 or on the list above it."""
    node = doc.data
    for key in path:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return doc.problem(path, message)
    if isinstance(node, dict) and node:
        return doc.problem(list(path) + [next(iter(node))], message, on_key=True)
    return doc.problem(path, message)


def _name(path: list) -> str:
    keys = [str(p) for p in path if not isinstance(p, int)]
    return f"{keys[-1]} " if keys else ""


# bool before int: True is an int to Python, a boolean to JSON.
JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (list, "array"), (dict, "object"))


def _json_type(value: Any) -> str:
    return next((name for kind, name in JSON_TYPES if isinstance(value, kind)), "null")


def duplicates(doc: YamlDoc, path: list, what: str) -> list[Problem]:
    items = doc.data
    for key in path:
        items = items[key]
    seen: dict[str, int] = {}
    out = []
    for i, item in enumerate(items):
        if item["id"] in seen:
            first = doc.where(path + [seen[item["id"]], "id"])[0]
            out.append(doc.problem(path + [i, "id"], f"{what} id 重复：{item['id']} 已在第 {first} 行使用"
                                                     f"（第 {seen[item['id']] + 1} 项）：请给这一项一个新的 id"))
        seen.setdefault(item["id"], i)
    return out


def check_feedback(doc: YamlDoc, standards: dict) -> list[Problem]:
    """Every deadline the feedback settings name must be a commitment in standards.yaml."""
    out = []
    for tid, spec in doc.data["types"].items():
        for key in ("response", "result"):
            if key in spec and spec[key] not in standards:
                out.append(doc.problem(["types", tid, key], f"standards.yaml 中没有承诺 {spec[key]!r}"
                                                            f"{suggest(spec[key], standards)}"))
        for tier, sid in (spec.get("tiers") or {}).items():
            if sid not in standards:
                out.append(doc.problem(["types", tid, "tiers", tier], f"standards.yaml 中没有承诺 {sid!r}"
                                                                      f"{suggest(sid, standards)}"))
    for key in ("retention", "claim_retention"):
        ret = doc.data.get(key)
        if ret is None:
            continue
        if ret not in standards:
            out.append(doc.problem([key], f"standards.yaml 中没有承诺 {ret!r}{suggest(ret, standards)}"))
        elif standards[ret]["measure"] != "retention":
            out.append(doc.problem([key], f"{ret!r} 不是保存期（measure 应为 retention）"))
    return out


# -- communities ----------------------------------------------------------------------------

def check_communities(docs: list[YamlDoc], site_doc: YamlDoc, snippets_dir: Path) -> list[Problem]:
    """At least one community; id = file name; names, buildings, units, fee and parking ids unique;
    site.yaml's default_community names one of them."""
    out: list[Problem] = []
    if not docs:
        folder = yamldoc.display_path(snippets_dir / "communities", snippets_dir.parent)
        return [Problem(folder, 1, 1, "至少要有一个小区：在 snippets/communities/ 下建一个 <小区编号>.yaml"
                                      "（格式见 schema/community.schema.json）")]
    names: dict[str, str] = {}
    for doc in docs:
        data = doc.data
        if doc.path.stem != data["id"]:
            out.append(doc.problem(["id"], f"小区编号 {data['id']!r} 与文件名 {doc.path.name!r} 不一致，"
                                           f"文件应命名为 {data['id']}.yaml"))
        if data["name"] in names:
            out.append(doc.problem(["name"], f"小区名称 {data['name']} 与 {names[data['name']]} 重复：业主按名称找自己的小区"))
        names.setdefault(data["name"], doc.display)
        seen: dict[str, int] = {}
        for i, building in enumerate(data["buildings"]):
            if building["name"] in seen:
                out.append(doc.problem(["buildings", i, "name"], f"楼栋 {building['name']} 重复（第 {seen[building['name']] + 1} 项已有）"))
            seen.setdefault(building["name"], i)
            units = Counter(building["units"])
            for j, unit in enumerate(building["units"]):
                if units[unit] > 1:
                    out.append(doc.problem(["buildings", i, "units", j], f"{building['name']}的 {unit} 重复"))
        out += duplicates(doc, ["fees", "items"], "收费项目")
        out += duplicates(doc, ["fees", "parking"], "车位")
        for i, period in enumerate(data["public_revenue"]):
            for j, entry in enumerate(period["entries"]):
                if Decimal(entry["costs"]) > Decimal(entry["income"]):
                    out.append(doc.problem(["public_revenue", i, "entries", j, "costs"],
                                           f"{entry['source']}的成本 {entry['costs']} 大于收入 {entry['income']}，请核对",
                                           severity="warning"))
    default = site_doc.data.get("default_community")
    ids = sorted(doc.data["id"] for doc in docs)
    if default is not None and default not in ids:
        out.append(site_doc.problem(["default_community"], f"default_community {default!r} 不是已配置的小区；"
                                                           f"可选：{', '.join(ids)}"))
    return out


# -- snippets ---------------------------------------------------------------------------------

REF_FILES = {"std": ("standards.yaml", "承诺"), "law": ("laws.yaml", "法规")}


def strings(data: Any, path: list | None = None) -> Iterator[tuple[list, str]]:
    """Every text value in a YAML document with its path (for doc.problem)."""
    path = path or []
    if isinstance(data, str):
        yield path, data
    elif isinstance(data, dict):
        for k, v in data.items():
            yield from strings(v, path + [k])
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from strings(v, path + [i])


def check_references(doc: YamlDoc, refs: dict[str, set[str]], laws: list | None = None) -> list[Problem]:
    """`[[std:..]]` / `[[law:..]]` must name known ids; law titles and article numbers are never
    typed by hand (`laws`: the entries of laws.yaml, to name the id to write instead)."""
    out = []
    for path, text in strings(doc.data):
        offset = 0
        for line in text.split("\n"):
            for m in inline_refs(line):
                kind, rid = m.group(1), m.group(2).strip()
                if rid not in refs[kind]:
                    file, what = REF_FILES[kind]
                    out.append(doc.problem(path, f"[[{kind}:{rid}]] 不是 {file} 中的{what} id"
                                                 f"（可用：{', '.join(sorted(refs[kind])) or '无'}）"))
            for mention in lawrefs.mentions(line):
                out.append(doc.problem_at(path, offset + mention.start, lawrefs.message(mention, laws or []),
                                          severity=lawrefs.SEVERITY))
            offset += len(line) + 1
    return out


def check_snippet(doc: YamlDoc, *, site: Site, standards: dict, tone: dict, ids: Counter,
                  files: dict[str, list[YamlDoc]], snippets_dir: Path, today: dt.date,
                  community: Community | None = None) -> list[Problem]:
    data = doc.data
    out: list[Problem] = []
    sid, kind = data["id"], data["kind"]
    owner = next((d for d in files.get(sid, []) if d is not doc and d.path.stem == sid), None)
    if owner is not None and doc.path.stem != sid:
        # A copied file whose id was not changed: renaming the copy would clash; give it a new id.
        out.append(doc.problem(["id"], f"这个 id 已被 {owner.display} 使用：请给新文件一个新的 id，并让文件名与 id 一致"))
    elif ids[sid] > 1 and doc.path.stem != sid:
        others = ", ".join(d.display for d in files[sid] if d is not doc)
        out.append(doc.problem(["id"], f"id 重复：{sid} 也在 {others} 中使用：请给这个文件一个新的 id，并让文件名与 id 一致"))
    elif doc.path.stem != sid:
        out.append(doc.problem(["id"], f"id {sid!r} 与文件名 {doc.path.name!r} 不一致，文件应命名为 {sid}.yaml"))
    if doc.path.parent.name != KIND_DIRS[kind]:
        out.append(doc.problem(["kind"], f"kind 为 {kind} 的内容应放在 snippets/{KIND_DIRS[kind]}/ 下"))
    if data["category"] not in site.categories:
        out.append(doc.problem(["category"], f"未知的分类 {data['category']!r}；可选：{', '.join(site.categories)}"
                                             + (f"（{did_you_mean(data['category'], site.categories)}）"
                                                if did_you_mean(data['category'], site.categories) else "")))
    elif sid.split(".")[0] != data["category"]:
        out.append(doc.problem(["category"], f"分类 {data['category']!r} 应与 id 前缀 {sid.split('.')[0]!r} 一致"))
    for i, rel in enumerate(data["related"]):
        if rel not in ids:
            out.append(doc.problem(["related", i], f"related 指向不存在的 id：{rel}{suggest(rel, ids)}"))
        elif rel == sid:
            out.append(doc.problem(["related", i], "related 不能指向自己"))
    reviewed = dt.date.fromisoformat(to_plain(data["reviewed"]))
    if reviewed > today:
        out.append(doc.problem(["reviewed"], f"审核日期 {reviewed} 在未来"))
    elif today - reviewed > REVIEW_MAX_AGE:
        out.append(doc.problem(["reviewed"], f"审核日期 {reviewed} 已超过一年，请重新审核内容并更新日期",
                               severity="warning"))
    out += placeholder_problems(doc, standards, data["commitments"] if kind == "script" else None)
    if kind == "script":
        out += check_script(doc, standards, tone)
    else:
        out += check_template(doc, site, standards, today, community)
    return out


def placeholder_problems(doc: YamlDoc, standards: dict, commitments: list | None) -> list[Problem]:
    """`{<standard id>}` in every text that is filled in (model.placeholder_texts), at the line
    and column of the placeholder itself."""
    out = []
    for path, text in placeholder_texts(doc.data):
        for m in STANDARD_REF.finditer(text):
            ref = m.group(1)
            if ref not in standards:
                out.append(doc.problem_at(path, m.start(), f"{{{ref}}} 不是 standards.yaml 中的承诺 id"
                                                           f"{suggest(ref, standards)}"))
            elif commitments is not None and ref not in commitments:
                out.append(doc.problem_at(path, m.start(), f"用到了 {{{ref}}}，请把 {ref} 也列入 commitments"))
    return out


def check_script(doc: YamlDoc, standards: dict, tone: dict) -> list[Problem]:
    data, out = doc.data, []
    commitments = list(data["commitments"])
    for i, sid in enumerate(commitments):
        if sid not in standards:
            out.append(doc.problem(["commitments", i], f"standards.yaml 中没有承诺 {sid!r}{suggest(sid, standards)}"))
    own = [a["phrase"] for a in data["avoid"]]
    for i, step in enumerate(data["steps"]):
        for key in ("say", "do", "note"):
            text = step.get(key)
            if not text:
                continue
            if key == "say":
                for phrase in own:
                    if phrase in text:
                        out.append(doc.problem(["steps", i, key], f"“说”里出现了本话术禁用的说法“{phrase}”"))
                for phrase in tone["vague"] + tone["blaming"]:
                    if phrase in text:
                        out.append(doc.problem(["steps", i, key], f"“说”里出现了禁用词“{phrase}”（见 snippets/tone.yaml）"))
    return out


def check_template(doc: YamlDoc, site: Site, standards: dict, today: dt.date,
                   community: Community | None = None) -> list[Problem]:
    """`community` (the default one) is where building examples must exist and settings come from."""
    data, out = doc.data, []
    fields = data["fields"]
    names = Counter(f["name"] for f in fields)
    by_name = {f["name"]: f for f in fields}
    for i, f in enumerate(fields):
        if names[f["name"]] > 1:
            out.append(doc.problem(["fields", i, "name"], f"字段名重复：{f['name']}"))
        spec = f.get("computed")
        if f["type"] == "choice" and not f.get("choices"):
            out.append(doc.problem(["fields", i, "type"], "choice 类型的字段需要 choices 列表"))
        if f.get("choices") and f["type"] != "choice":
            out.append(doc.problem(["fields", i, "choices"], "只有 choice 类型的字段可以有 choices"))
        rule = f.get("after")
        if rule:
            base = by_name.get(rule["field"])
            if f["type"] not in ("date", "datetime") or base is None or base["type"] not in ("date", "datetime"):
                out.append(doc.problem(["fields", i, "after"], "after 只能用在日期字段上，并指向本模板的另一个日期字段"))
        if spec is None:
            if "example" not in f:
                out.append(doc.problem(["fields", i], f"字段 {f['name']} 缺少 example（示例值）"))
            else:
                try:
                    F.parse(to_plain(f), to_plain(f["example"]), community=community, today=today)
                except F.FieldError as exc:
                    out.append(doc.problem(["fields", i, "example"], f"示例值不符合 {f['type']} 类型：{exc}"))
            if "help" not in f:
                out.append(doc.problem(["fields", i], f"字段 {f['name']} 缺少 help（填写说明）", severity="warning"))
            continue
        src = spec["source"]
        if src == "setting" and spec.get("key") not in SETTING_KEYS:
            out.append(doc.problem(["fields", i, "computed"], f"computed.key 应为公司或小区设置之一：{', '.join(SETTING_KEYS)}"))
        if src == "standard":
            if spec.get("key") not in standards:
                out.append(doc.problem(["fields", i, "computed"], f"standards.yaml 中没有承诺 {spec.get('key')!r}"
                                                                  f"{suggest(str(spec.get('key')), standards)}"))
            base = by_name.get(spec.get("from", ""))
            if "from" in spec and (base is None or base["type"] not in ("date", "datetime", "timerange")):
                out.append(doc.problem(["fields", i, "computed"], f"computed.from 应指向本模板的日期/时间字段，而不是 {spec['from']!r}"))

    used: set[str] = set()
    for channel, spec in data["channels"].items():
        parts = [(channel, spec)] if isinstance(spec, str) else [((channel, p), spec.get(p, "")) for p in DOCUMENT_PARTS]
        for where, text in parts:
            keys = ["channels"] + (list(where) if isinstance(where, tuple) else [where])
            for m in PLACEHOLDER.finditer(text or ""):
                name = m.group(1)
                used.add(name)
                if name not in by_name:
                    guess = did_you_mean(name, by_name)
                    out.append(doc.problem_at(keys, m.start(), f"占位符 {{{name}}} 不是已声明的字段（{guess}"
                                                               f"已声明：{choice_list(by_name)}）"))
    for i, f in enumerate(fields):
        if f.get("required") and f["name"] not in used:
            out.append(doc.problem(["fields", i, "name"], f"必填字段 {f['name']} 没有在任何渠道的文字里用到"))
    if data["category"] == "notice" and "notice" not in data["channels"]:
        out.append(doc.problem(["channels"], "通知类模板需要 notice（打印张贴）渠道"))
    if not out:
        out += sms_length(doc, site, standards, today, community)
    return out


def sms_length(doc: YamlDoc, site: Site, standards: dict, today: dt.date,
               community: Community | None = None) -> list[Problem]:
    """Fill the SMS with the declared examples (in the default community); one message is at most
    70 characters."""
    template = make_snippet(to_plain(doc.data), doc.display)
    corpus = Corpus(doc.path.parent.parent, site, {k: Standard(**v) for k, v in standards.items()},
                    {template.id: template}, communities={community.id: community} if community else {})
    now = dt.datetime.combine(today, dt.time(9, 0))
    try:
        result = render(template, "sms", examples(template), corpus, now=now)
    except ValidationFailed as exc:
        return [doc.problem(["fields"], "用示例值填写失败：" + "；".join(e["message"] for e in exc.errors))]
    if result.length > SMS_SINGLE:
        return [doc.problem(["channels", "sms"], f"短信用示例值填写后有 {result.length} 字，超过一条短信的 {SMS_SINGLE} 字")]
    return []

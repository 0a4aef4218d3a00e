"""snippets/lookup.yaml: what the lookup page offers when no script answers (the general
fallbacks) and when a caller counts as calling again (the repeat window and script).

Checked by `kb lint` (schema, and every id must be a script) and loaded by the service."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


from kb_service.content.checks import load_settings_file
from kb_service.content.yamldoc import Problem

FILE = "lookup.yaml"
SCHEMA = "lookup.schema.json"


@dataclass(frozen=True)
class LookupConfig:
    fallbacks: tuple[str, ...]
    repeat_window_days: int
    repeat_script: str
    by_category: dict = field(default_factory=dict)   # script category -> {type, category, tier}
    by_script: dict = field(default_factory=dict)     # script id -> {type, category, tier}

    def prefill(self, script_id: str) -> dict:
        """Type, category and repair tier for a record started from this script."""
        out = dict(self.by_category.get(script_id.split(".")[0], {}))
        out.update(self.by_script.get(script_id, {}))
        return {k: v for k, v in out.items() if v is not None}


DEFAULT = LookupConfig(("complaint.intake", "complaint.out-of-scope"), 30, "complaint.repeat")


def check(snippets_dir: Path, script_ids: set[str] | None,
          feedback: dict | None = None) -> tuple[LookupConfig | None, list[Problem]]:
    """The configuration and its problems; (DEFAULT, []) when the file does not exist."""
    if not (snippets_dir / FILE).exists():
        return DEFAULT, []
    doc, data, problems = load_settings_file(snippets_dir, FILE, SCHEMA)
    if doc is None:
        return None, problems
    if script_ids is not None:
        for i, sid in enumerate(data["fallbacks"]):
            if sid not in script_ids:
                problems.append(doc.problem(["fallbacks", i], f"{sid} 不是话术 id（snippets/scripts/ 里没有）"))
        if data["repeat"]["script"] not in script_ids:
            problems.append(doc.problem(["repeat", "script"],
                                        f"{data['repeat']['script']} 不是话术 id（snippets/scripts/ 里没有）"))
    record = data.get("record") or {}
    for section in ("by_category", "by_script"):
        for key, pre in (record.get(section) or {}).items():
            if section == "by_script" and script_ids is not None and key not in script_ids:
                problems.append(doc.problem(["record", section, key], f"{key} 不是话术 id", on_key=True))
            if feedback is None:
                continue
            types = feedback.get("types", {})
            if "type" in pre and pre["type"] not in types:
                problems.append(doc.problem(["record", section, key, "type"],
                                            f"feedback.yaml 中没有反馈类型 {pre['type']!r}"))
            if "category" in pre and pre["category"] not in feedback.get("categories", {}):
                problems.append(doc.problem(["record", section, key, "category"],
                                            f"feedback.yaml 中没有分类 {pre['category']!r}"))
            if pre.get("tier") is not None:
                tiers = {t: spec.get("tiers") or {} for t, spec in types.items()}
                if not any(pre["tier"] in v for v in tiers.values()):
                    problems.append(doc.problem(["record", section, key, "tier"],
                                                f"feedback.yaml 中没有报修档位 {pre['tier']!r}"))
    if problems:
        return None, problems
    return LookupConfig(tuple(data["fallbacks"]), data["repeat"]["window_days"], data["repeat"]["script"],
                        dict(record.get("by_category") or {}), dict(record.get("by_script") or {})), []


def load(snippets_dir: Path, script_ids: set[str], feedback: dict | None = None) -> LookupConfig:
    """The checked configuration; DEFAULT when the file has problems (kb lint reports them)."""
    config, _ = check(snippets_dir, script_ids, feedback)
    return config or DEFAULT

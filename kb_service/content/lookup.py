"""snippets/lookup.yaml: what the lookup page offers when no script answers (the general
fallbacks) and when a caller counts as calling again (the repeat window and script).

Checked by `kb lint` (schema, and every id must be a script) and loaded by the service."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from jsonschema import Draft202012Validator

from kb_service.content import yamldoc
from kb_service.content.checks import schema_problems
from kb_service.content.yamldoc import Problem

FILE = "lookup.yaml"
SCHEMA = "lookup.schema.json"


@dataclass(frozen=True)
class LookupConfig:
    fallbacks: tuple[str, ...]
    repeat_window_days: int
    repeat_script: str


DEFAULT = LookupConfig(("complaint.intake", "complaint.out-of-scope"), 30, "complaint.repeat")


def check(snippets_dir: Path, script_ids: set[str] | None) -> tuple[LookupConfig | None, list[Problem]]:
    """The configuration and its problems; (DEFAULT, []) when the file does not exist."""
    path = snippets_dir / FILE
    if not path.exists():
        return DEFAULT, []
    doc = yamldoc.load(path, snippets_dir.parent)
    if doc.problems:
        return None, doc.problems
    validator = Draft202012Validator(json.loads((snippets_dir / "schema" / SCHEMA).read_text(encoding="utf-8")))
    problems = list(schema_problems(doc, validator))
    if problems:
        return None, problems
    data = yamldoc.to_plain(doc.data)
    if script_ids is not None:
        for i, sid in enumerate(data["fallbacks"]):
            if sid not in script_ids:
                problems.append(doc.problem(["fallbacks", i], f"{sid} 不是话术 id（snippets/scripts/ 里没有）"))
        if data["repeat"]["script"] not in script_ids:
            problems.append(doc.problem(["repeat", "script"],
                                        f"{data['repeat']['script']} 不是话术 id（snippets/scripts/ 里没有）"))
    if problems:
        return None, problems
    return LookupConfig(tuple(data["fallbacks"]), data["repeat"]["window_days"], data["repeat"]["script"]), []


def load(snippets_dir: Path, script_ids: set[str]) -> LookupConfig:
    """The checked configuration; DEFAULT when the file has problems (kb lint reports them)."""
    config, _ = check(snippets_dir, script_ids)
    return config or DEFAULT

"""Labels in the site's own search results: a staff script reads "员工话术 · 电梯困人安抚", a
template "模板 · 停水通知", so a resident who searches 停水 sees at a glance which result is
written for them (resident pages also rank first: their front matter boosts them, and script and
template pages are boosted down, see pages.SNIPPET_SEARCH).

Applied to the index the builder wrote (Material: search/search_index.json; Zensical:
search.json), after it ran, because neither builder lets a page's search title differ from its
title. Idempotent: a preview's partial rebuild merges fresh entries into a labelled index.
"""

from __future__ import annotations

import json
from pathlib import Path

LABELS = {"scripts/": "员工话术 · ", "templates/": "模板 · "}
INDEXES = (Path("search") / "search_index.json", Path("search.json"))


def label(title: str, location: str) -> str:
    where = location.lstrip("/")
    if "#" in where:        # a section: shown under its page, which carries the label
        return title
    for prefix, text in LABELS.items():
        if where.startswith(prefix) and where != prefix and not title.startswith(text):
            return text + title
    return title


def label_search_index(site_dir: Path) -> int:
    """Prefix the titles of script and template entries; returns how many were labelled."""
    changed = 0
    for rel in INDEXES:
        path = site_dir / rel
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        docs = data.get("docs") if isinstance(data, dict) else None
        if docs is None and isinstance(data, dict):
            docs = data.get("items")
        before = changed
        for doc in docs or []:
            if not isinstance(doc, dict) or not isinstance(doc.get("title"), str):
                continue
            new = label(doc["title"], str(doc.get("location", "")))
            if new != doc["title"]:
                doc["title"], changed = new, changed + 1
        if changed > before:
            # the form Material writes (site/incremental.py compares a partial and a full build)
            path.write_text(json.dumps(data, separators=(",", ":"), default=str), encoding="utf-8")
    return changed

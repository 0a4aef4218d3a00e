"""Content as JSON for the API: a script with its steps, phrases to avoid and commitments; the
template list, one template's fields, and a rendered result."""

from __future__ import annotations

import html

from kb_service.content.filling import Rendered
from kb_service.content.model import (
    AVOID_TEXT,
    STEP_TEXT,
    CHANNEL_TEXT,
    SOURCE_TEXT,
    Community,
    TYPE_TEXT,
    Corpus,
    Script,
    Template,
)


def structured(corpus: Corpus, script: Script) -> dict:
    return {
        "id": script.id,
        "kind": "script",
        "title": script.title,
        "category": script.category,
        "category_name": corpus.site.categories[script.category],
        "url": script.url,
        "summary": corpus.expand(script.summary),
        "applies_when": corpus.expand(script.applies_when),
        "steps": [{k: corpus.expand(v) if k in STEP_TEXT else v for k, v in step.items()} for step in script.steps],
        "avoid": [{k: corpus.expand(v) if k in AVOID_TEXT else v for k, v in a.items()} for a in script.avoid],
        "commitments": [corpus.standards[sid].to_json() for sid in script.commitments],
        "related": [{"id": r, "title": corpus.snippets[r].title, "kind": corpus.snippets[r].kind,
                     "url": corpus.snippets[r].url} for r in script.related],
        "tags": script.tags,
        "aliases": script.aliases,
        "owner": script.owner,
        "reviewed": script.reviewed,
    }
def summary(corpus: Corpus, t: Template) -> dict:
    return {"id": t.id, "title": t.title, "category": t.category,
            "category_name": corpus.site.categories[t.category], "channels": t.channel_names,
            "summary": corpus.expand(t.summary), "aliases": t.aliases, "url": t.url}


def detail(corpus: Corpus, t: Template, community: Community | None = None) -> dict:
    """One template's fields; building choices are those of `community` (default: the default one)."""
    community = community or corpus.default_community
    fields = []
    for f in t.fields:
        item = {"name": f["name"], "label": f["label"], "type": f["type"], "type_name": TYPE_TEXT[f["type"]],
                "required": bool(f.get("required")) and "computed" not in f, "help": f.get("help", ""),
                "example": f.get("example", ""), "computed": "computed" in f}
        if f.get("choices"):
            item["choices"] = f["choices"]
        if "max_length" in f:
            item["max_length"] = f["max_length"]
        if f["type"] == "building":
            item["choices"] = [b.name + u for b in community.buildings for u in ("",) + b.units] if community else []
        if "computed" in f:
            spec = f["computed"]
            source = SOURCE_TEXT[spec["source"]]
            if spec["source"] == "standard":
                s = corpus.standards[spec["key"]]
                source += f"：{s.name}（{s.text}）"
            elif spec["source"] == "setting" and community is not None:
                source += f"：{community.setting(spec['key'], corpus.site)}"
            item["computed_from"] = source
        fields.append(item)
    return {**summary(corpus, t), "applies_when": corpus.expand(t.applies_when), "fields": fields,
            "community": community.id if community else None,
            "channel_names": {c: CHANNEL_TEXT[c] for c in t.channel_names}}


def rendered(r: Rendered) -> dict:
    body = {"channel": r.channel, "text": r.text, "length": r.length, "warnings": r.warnings,
            "values": r.values}
    if r.channel == "sms":
        body["segments"] = r.segments
    if r.parts is not None:
        body["parts"] = r.parts
    return body


def result_entry(corpus: Corpus, sid: str) -> dict | None:
    """A search result entry for a script or template the search did not list (the colleagues'
    choice, search/picks.py): its summary as the snippet, escaped like the search's."""
    s = corpus.snippets.get(sid)
    if s is None:
        return None
    return {"id": s.id, "kind": s.kind, "title": s.title, "url": s.url,
            "snippet": html.escape(corpus.expand(s.summary)), "score": 0.0}

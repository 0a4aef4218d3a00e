"""A script as structured JSON for the lookup page: steps, phrases to avoid, commitments."""

from __future__ import annotations

from .content import Corpus, Script


def structured(corpus: Corpus, script: Script) -> dict:
    return {
        "id": script.id,
        "kind": "script",
        "title": script.title,
        "category": script.category,
        "category_name": corpus.site.categories[script.category],
        "url": script.url,
        "summary": script.summary,
        "applies_when": script.applies_when,
        "steps": [{k: corpus.expand_standards(v) for k, v in step.items()} for step in script.steps],
        "avoid": [dict(a) for a in script.avoid],
        "commitments": [corpus.standards[sid].to_json() for sid in script.commitments],
        "related": [{"id": r, "title": corpus.snippets[r].title, "kind": corpus.snippets[r].kind,
                     "url": corpus.snippets[r].url} for r in script.related],
        "tags": script.tags,
        "aliases": script.aliases,
        "owner": script.owner,
        "reviewed": script.reviewed,
    }

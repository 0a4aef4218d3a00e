"""snippets/schema/ids.schema.json: the ids an editor may pick (categories, commitments, scripts
and templates, laws), generated from the content so VS Code's YAML extension completes them.

snippet.schema.json refers to it for `category`, `commitments[]` and `related[]`. The linter
skips what these lists say (they are marked `x-kb-generated`): checks.py reports the same
mistakes with the nearest ids, and a list that is one edit behind must not fail a check.
Written by `kb build`, `kb lint` and the preview after each rebuild, only when it changes.
"""

from __future__ import annotations

import json
from pathlib import Path

from kb_service.content.model import Corpus

FILE = "ids.schema.json"
MARK = "x-kb-generated"
ID_DEFS = ("category", "standard_id", "snippet_id", "law_id")


def id_schema(corpus: Corpus) -> dict:
    def choice(items: dict[str, str], description: str) -> dict:
        if not items:
            return {MARK: True, "type": "string", "description": description}
        keys = sorted(items)
        return {MARK: True, "enum": keys, "description": description,
                "enumDescriptions": [items[k] for k in keys],
                "markdownEnumDescriptions": [items[k] for k in keys]}

    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": FILE,
        "title": "可选的编号（自动生成）",
        "description": "由 kb build、kb lint 和 make preview 按 snippets/ 的内容生成，供编辑器补全；不要手改。",
        "$defs": {
            "category": choice(corpus.site.categories, "site.yaml 中的分类"),
            "standard_id": choice({s.id: f"{s.name}（{s.text}）" for s in corpus.standards.values()},
                                  "standards.yaml 中的承诺 id"),
            "snippet_id": choice({s.id: s.title for s in corpus.snippets.values()}, "话术或模板的 id"),
            "law_id": choice({law.id: law.text for law in corpus.laws.values()}, "laws.yaml 中的法规 id，引用写 [[law:<id>]]"),
        },
    }


def write_id_schema(corpus: Corpus, schema_dir: Path) -> bool:
    """Write the file if its content changed; True when written."""
    text = json.dumps(id_schema(corpus), ensure_ascii=False, indent=2) + "\n"
    path = schema_dir / FILE
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except OSError:
        pass
    path.write_text(text, encoding="utf-8")
    return True

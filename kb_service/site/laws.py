"""The generated 法规依据 page: every entry of snippets/laws.yaml with every place that cites it,
so a compliance reviewer reads all legal claims of the knowledge base in one place."""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from pathlib import Path

from kb_service.content.checks import strings
from kb_service.content.markup import CODE_SPAN, cell, esc, inline_refs
from kb_service.content.model import KIND_TEXT, Corpus

URI = "laws/index.md"
STEP_KEYS = {"say": "说", "do": "做", "note": "提示"}


def anchor(law_id: str) -> str:
    return "law-" + re.sub(r"[^a-z0-9]+", "-", law_id)


def citations(corpus: Corpus, docs_dir: Path | None = None) -> dict[str, list[tuple[str, str, str]]]:
    """law id -> [(link target uri, where, the citing text)], snippets first, then pages."""
    found: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for snippet in sorted(corpus.snippets.values(), key=lambda s: s.id):
        for path, text in strings(snippet.data):
            for line in text.split("\n"):
                for m in inline_refs(line, "law"):
                    found[m.group(2).strip()].append(
                        (snippet.src_uri, f"{KIND_TEXT[snippet.kind]}“{snippet.title}” · {where(path)}", line))
    docs_dir = docs_dir or corpus.root / "docs"
    for page in sorted(docs_dir.rglob("*.md")) if docs_dir.is_dir() else []:
        rel = page.relative_to(docs_dir).as_posix()
        text = page.read_text(encoding="utf-8")
        h1 = re.search(r"^# (.+)$", text, re.MULTILINE)
        title = h1.group(1).strip() if h1 else rel
        fenced = False
        for lineno, line in enumerate(text.splitlines(), 1):
            if line.lstrip().startswith(("```", "~~~")):
                fenced = not fenced
            if fenced:
                continue
            for m in inline_refs(line, "law"):
                found[m.group(2).strip()].append((rel, f"页面“{title}” · 第 {lineno} 行", line))
    return found


def where(path: list) -> str:
    """A YAML path as an editor reads it: `steps[2].note` -> `第 3 步 · 提示`."""
    if len(path) >= 3 and path[0] == "steps":
        return f"第 {path[1] + 1} 步 · {STEP_KEYS.get(path[2], path[2])}"
    if len(path) >= 2 and path[0] == "avoid":
        return f"不要说 第 {path[1] + 1} 条"
    if path and path[0] == "channels":
        return "渠道 " + " · ".join(str(p) for p in path[1:])
    return ".".join(str(p) for p in path)


# A link in the quoted sentence keeps its words only: its target is relative to the citing page,
# not to this one (and the row already links to the page).
LINK = re.compile(r"!?\[([^\]\n]*)\]\([^)\n]*\)")


def plain(line: str, corpus: Corpus) -> str:
    """The citing sentence as it reads on the site, shortened, escaped for a Markdown table."""
    text = CODE_SPAN.sub(lambda m: m.group(0).strip("`"), corpus.expand(line.strip().lstrip("-#>| ")))
    text = LINK.sub(lambda m: m.group(1), text)
    return cell(text if len(text) <= 120 else text[:118] + "……")


def laws_page(corpus: Corpus, docs_dir: Path | None = None) -> str:
    cited = citations(corpus, docs_dir)
    out = ["# 法规依据", "",
           "知识库里所有引用法律法规的地方都集中在这里：每一条写明它说了什么、对一线员工意味着什么，"
           "以及哪些话术、模板和页面引用了它。条文的摘要是本公司用自己的话写的，不是条文原文；"
           "需要原文时请查阅官方发布的文本。", "",
           "引用只能写 `[[law:<id>]]`（数据在 `snippets/laws.yaml`），`kb lint` 拒绝手打的法规名称和条号，"
           "所以这一页列出的就是全部法律表述。对情绪激动的业主不要引用法条，法条写在员工提示里。", ""]
    for law in corpus.laws.values():
        out += [f'## {esc(law.text)} {{#{anchor(law.id)}}}', "",
                f"- **全称**：《{esc(law.law)}》" + (f"第 {law.article} 条" if law.article else ""),
                f"- **说的是**：{esc(law.summary)}",
                f"- **对员工意味着**：{esc(law.for_staff)}",
                f"- **引用 id**：`{law.id}`", ""]
        rows = cited.get(law.id, [])
        if not rows:
            out += ["目前没有话术、模板或页面引用这一条。", ""]
            continue
        out += [f"引用它的地方（{len(rows)} 处）：", "", "| 位置 | 原文 |", "| --- | --- |"]
        for uri, place, line in rows:
            link = posixpath.relpath(uri, posixpath.dirname(URI))
            out.append(f"| [{cell(place)}]({link}) | {plain(line, corpus)} |")
        out.append("")
    unknown = sorted(set(cited) - set(corpus.laws))
    if unknown:  # kb lint fails on these; listed so a plain `mkdocs build` shows them too
        out += ["## 未知的引用", "", "、".join(f"`{esc(u)}`" for u in unknown), ""]
    return "\n".join(out)

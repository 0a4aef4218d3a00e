"""`kb lint`: every problem in snippets/ and docs/ as `path:line:col: message`."""

from __future__ import annotations

from pathlib import Path

from kb_service.content import danger, intents, lawrefs, lookup, outside, yamldoc
from kb_service.content.load import load_corpus
from kb_service.content.markup import BLOCK, BLOCK_NAMES, SNIPPET_LINK, inline_refs
from kb_service.content.yamldoc import Problem
from kb_service.settings import Settings


def lint(settings: Settings) -> list[Problem]:
    corpus, problems = load_corpus(settings.snippets_dir)
    known = set(corpus.snippets) if corpus else None
    refs = {"std": set(corpus.standards), "law": set(corpus.laws)} if corpus else None
    problems = problems + lookup.check(
        settings.snippets_dir, set(corpus.scripts) if corpus else None,
        corpus.source.get("feedback") if corpus else None)[1]
    problems = problems + danger.check(settings.snippets_dir, corpus.scripts if corpus else None)[1]
    problems = problems + outside.check(settings.snippets_dir, corpus.snippets if corpus else None)[1]
    problems = problems + intents.check(settings.snippets_dir, corpus.scripts if corpus else None)[1]
    laws = law_entries(settings.snippets_dir)
    return sorted(set(problems + check_docs(settings.docs_dir, settings.project_dir, known, refs, laws)))


def law_entries(snippets_dir: Path) -> list[dict]:
    """laws.yaml's entries, read on their own: a mistake in some script must not stop the message
    about a hand-typed law in a page from naming the id to write."""
    path = snippets_dir / "laws.yaml"
    doc = yamldoc.load(path) if path.exists() else None
    data = yamldoc.to_plain(doc.data) if doc is not None and not doc.problems else None
    items = data.get("laws") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return []
    return [e for e in items if isinstance(e, dict) and {"id", "law", "short"} <= set(e)]


REF_FILES = {"std": ("standards.yaml", "承诺"), "law": ("laws.yaml", "法规")}
FENCES = ("```", "~~~")


def check_docs(docs_dir: Path, root: Path, known_ids: set[str] | None,
               refs: dict[str, set[str]] | None = None, laws: list[dict] | None = None) -> list[Problem]:
    """Links, inline references and data blocks in docs/; `laws` (laws.yaml's entries) lets the
    message for a hand-typed law name the id to write."""
    out = []
    for path in sorted(docs_dir.rglob("*.md")):
        display = path.relative_to(root).as_posix()
        in_fence = False
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.lstrip().startswith(FENCES):
                in_fence = not in_fence
            if in_fence:
                continue   # code examples in the editors' guide show the syntax itself
            if known_ids is not None:
                for m in SNIPPET_LINK.finditer(line):
                    if m.group(1) not in known_ids:
                        out.append(Problem(display, lineno, m.start() + 3,
                                           f"链接 snippet:{m.group(1)} 指向不存在的话术或模板"))
            if refs is not None:
                for m in inline_refs(line):
                    kind, rid = m.group(1), m.group(2).strip()
                    if rid not in refs[kind]:
                        file, what = REF_FILES[kind]
                        out.append(Problem(display, lineno, m.start() + 1,
                                           f"[[{kind}:{rid}]] 不是 {file} 中的{what} id"
                                           f"（可用：{', '.join(sorted(refs[kind]))}）"))
            for mention in lawrefs.mentions(line):
                out.append(Problem(display, lineno, mention.start + 1, lawrefs.message(mention, laws or []),
                                   severity=lawrefs.SEVERITY))
            m = BLOCK.match(line)
            if m and m.group(1) not in BLOCK_NAMES:
                out.append(Problem(display, lineno, 1, f"未知的数据块 kb:{m.group(1)}（可用：{', '.join(BLOCK_NAMES)}）"))
    return out

"""`kb lint`: every problem in snippets/ and docs/ as `path:line:col: message`."""

from __future__ import annotations

from pathlib import Path

from .content import load_corpus
from .settings import Settings
from .yamldoc import Problem



def lint(settings: Settings) -> list[Problem]:
    corpus, problems = load_corpus(settings.snippets_dir)
    known = set(corpus.snippets) if corpus else None
    standards = set(corpus.standards) if corpus else None
    return sorted(set(problems + check_docs(settings.docs_dir, settings.project_dir, known, standards)))


def check_docs(docs_dir: Path, root: Path, known_ids: set[str] | None,
               standard_ids: set[str] | None = None) -> list[Problem]:
    from .pages import BLOCK, BLOCKS, SNIPPET_LINK, standard_refs

    out = []
    for path in sorted(docs_dir.rglob("*.md")):
        display = path.relative_to(root).as_posix()
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if known_ids is not None:
                for m in SNIPPET_LINK.finditer(line):
                    if m.group(1) not in known_ids:
                        out.append(Problem(display, lineno, m.start() + 3,
                                           f"链接 snippet:{m.group(1)} 指向不存在的话术或模板"))
            if standard_ids is not None:
                for m in standard_refs(line):
                    if m.group(1).strip() not in standard_ids:
                        out.append(Problem(display, lineno, m.start() + 1,
                                           f"[[std:{m.group(1).strip()}]] 不是 standards.yaml 中的承诺 id"
                                           f"（可用：{', '.join(sorted(standard_ids))}）"))
            m = BLOCK.match(line)
            if m and m.group(1) not in BLOCKS:
                out.append(Problem(display, lineno, 1, f"未知的数据块 kb:{m.group(1)}（可用：{', '.join(BLOCKS)}）"))
    return out

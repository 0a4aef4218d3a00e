"""MkDocs plugin `kb`: generate snippet pages, resolve `snippet:<id>` links, fill data blocks
and `[[std:<id>]]` service commitments.

Registered as an entry point, so any content checkout can use it with `plugins: [kb]`. Logic
lives in pages.py and content.py; this file only adapts them to MkDocs events. A warning logged
here fails `mkdocs build --strict`.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files, InclusionLevel
from mkdocs.structure.nav import Navigation, Section
from mkdocs.structure.pages import Page

from kb_service.content.markup import BLOCK, SNIPPET_LINK, expand_inline
from kb_service.site import pages, phones, public_log
from kb_service.content.model import Corpus
from kb_service.content.load import load_corpus

log = logging.getLogger("mkdocs.plugins.kb")




class KBPlugin(BasePlugin):
    corpus: Corpus | None = None
    # Set by `kb build` (build.build_site) from Settings; a plain `mkdocs build` has no data.
    public_log_path: Path | None = None

    def on_config(self, config, **kwargs):
        self.corpus = load_snippets(config)
        return config

    def on_files(self, files: Files, config, **kwargs):
        return add_generated_pages(self.corpus, files, config)

    def on_nav(self, nav: Navigation, config, files: Files, **kwargs):
        return add_generated_nav(self.corpus, nav, files)

    def on_page_markdown(self, markdown: str, page, config, files, **kwargs):
        return rewrite_markdown(self.corpus, markdown, page.file.src_uri, self.sources())

    def sources(self) -> dict:
        return {"public-log": public_log.load(self.public_log_path)}


def load_snippets(config) -> Corpus:
    snippets = Path(config.config_file_path).resolve().parent / "snippets"
    corpus, problems = load_corpus(snippets)
    for problem in problems:
        if problem.severity != "error":
            log.info(str(problem))
    if corpus is None:
        errors = "\n".join(str(p) for p in problems if p.severity == "error")
        raise PluginError(f"snippets/ 内容有错误，请运行 kb lint：\n{errors}")
    return corpus


def add_generated_pages(corpus: Corpus, files: Files, config) -> Files:
    now = dt.datetime.combine(dt.date.today(), dt.time(9, 0))
    for uri, markdown in pages.generated_pages(corpus, now=now).items():
        if files.get_file_from_path(uri) is not None:
            raise PluginError(f"docs/{uri} 与自动生成的页面同名：请删除该文件，它由 snippets/ 生成")
        # INCLUDED: MkDocs excludes a folder named templates/ by default.
        files.append(File.generated(config, uri, content=markdown, inclusion=InclusionLevel.INCLUDED))
    return files


def add_generated_nav(corpus: Corpus, nav: Navigation, files: Files) -> Navigation:
    """Hang the generated pages under their index pages in the navigation, so every page is reachable.

    mkdocs.yml lists only the index pages (`scripts/index.md`, ...); here each becomes a section
    whose index is that page, followed by the pages generated from snippets/: scripts and templates
    grouped by category, then the category pages. The list comes from the data, not from mkdocs.yml.
    """
    def page(uri: str) -> Page | None:
        file = files.get_file_from_path(uri)
        return file.page if file is not None else None

    listed = {id(p) for p in _walk(nav.items) if isinstance(p, Page)}

    def unlisted(uris: list[str]) -> list[Page]:
        found = [page(u) for u in uris]
        return [p for p in found if p is not None and id(p) not in listed]

    children: dict[str, list] = {}
    for kind, index in (("script", "scripts/index.md"), ("template", "templates/index.md")):
        sections = []
        for cat, name in corpus.site.categories.items():
            items = unlisted([s.src_uri for s in sorted(corpus.snippets.values(), key=lambda s: s.id)
                              if s.kind == kind and s.category == cat])
            if items:
                sections.append(Section(name, items))
        children[index] = sections
    used = {s.category for s in corpus.snippets.values()}
    children["categories/index.md"] = unlisted([pages.category_uri(c) for c in corpus.site.categories if c in used])

    def expand(items: list) -> list:
        out = []
        for item in items:
            if isinstance(item, Section):
                item.children = expand(item.children)
            elif isinstance(item, Page) and children.get(item.file.src_uri):
                item = Section(item.title, [item, *children[item.file.src_uri]])
            out.append(item)
        return out

    nav.items = expand(nav.items)
    nav.pages = [p for p in _walk(nav.items) if isinstance(p, Page)]
    for prev, cur in zip([None, *nav.pages], nav.pages):
        cur.previous_page = prev
        if prev is not None:
            prev.next_page = cur
    if nav.pages:
        nav.pages[-1].next_page = None
    _set_parents(nav.items, None)
    return nav


def _walk(items: list):
    for item in items:
        yield item
        if isinstance(item, Section):
            yield from _walk(item.children)


def _set_parents(items: list, parent: Section | None) -> None:
    for item in items:
        item.parent = parent
        if isinstance(item, Section):
            _set_parents(item.children, item)


def rewrite_markdown(corpus: Corpus, markdown: str, src: str, sources: dict | None = None) -> str:
    def snippet_link(match: re.Match) -> str:
        sid, anchor = match.group(1), match.group(2) or ""
        target = corpus.snippets.get(sid)
        if target is None:
            log.warning(f"docs/{src}: 链接 snippet:{sid} 指向不存在的话术或模板")
            return match.group(0)
        return f"]({pages.link(src, target.src_uri)}{anchor})"

    def block(match: re.Match) -> str:
        name = match.group(1)
        if name not in pages.BLOCKS:
            log.warning(f"docs/{src}: 未知的数据块 kb:{name}（可用：{', '.join(pages.BLOCKS)}）")
            return match.group(0)
        return pages.BLOCKS[name](corpus, sources)

    def unknown(line: int, col: int, kind: str, rid: str) -> None:
        log.warning(f"docs/{src}:{line}:{col}: [[{kind}:{rid}]] 不是已知的 id（运行 kb lint 查看）")

    markdown = expand_inline(markdown, corpus.standards, corpus.laws, unknown)
    if phones.applies(src):
        markdown = phones.link_phones(markdown, corpus.site.hotline)
    return BLOCK.sub(block, SNIPPET_LINK.sub(snippet_link, markdown))

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

from kb_service import pages
from kb_service.content import Corpus, load_corpus

log = logging.getLogger("mkdocs.plugins.kb")




class KBPlugin(BasePlugin):
    corpus: Corpus | None = None

    def on_config(self, config, **kwargs):
        self.corpus = load_snippets(config)
        return config

    def on_files(self, files: Files, config, **kwargs):
        return add_generated_pages(self.corpus, files, config)

    def on_page_markdown(self, markdown: str, page, config, files, **kwargs):
        return rewrite_markdown(self.corpus, markdown, page.file.src_uri)


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


def rewrite_markdown(corpus: Corpus, markdown: str, src: str) -> str:
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
        return pages.BLOCKS[name](corpus)

    def unknown_standard(line: int, col: int, sid: str) -> None:
        log.warning(f"docs/{src}: [[std:{sid}]] 不是 standards.yaml 中的承诺 id（运行 kb lint 查看行列）")

    markdown = pages.expand_standards_inline(markdown, corpus.standards, unknown_standard)
    return pages.BLOCK.sub(block, pages.SNIPPET_LINK.sub(snippet_link, markdown))

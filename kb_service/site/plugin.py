"""MkDocs plugin `kb`: a thin adapter over site/generate.py, so a plain `mkdocs build` or
`mkdocs serve` on the repository (an editor's live preview) shows the same pages as `kb build`.

`kb build` does not use it: it stages the complete Markdown tree first and removes this plugin
from the staged configuration, so any builder (MkDocs, Zensical) renders the same pages. A
warning logged here fails `mkdocs build --strict`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files, InclusionLevel

from kb_service.content.load import load_corpus
from kb_service.content.model import Corpus
from kb_service.site import generate, pages, public_log

log = logging.getLogger("mkdocs.plugins.kb")


class KBPlugin(BasePlugin):
    corpus: Corpus | None = None
    generated: dict[str, str] = {}
    public_log_path: Path | None = None  # a plain `mkdocs build` has no exported log

    def on_config(self, config, **kwargs):
        self.corpus = load_snippets(config)
        self.generated = pages.generated_pages(self.corpus, now=generate.generation_time())
        if config.nav:
            config.nav = generate.full_nav(self.corpus, config.nav, self.generated)
        return config

    def on_files(self, files: Files, config, **kwargs):
        for uri, markdown in self.generated.items():
            if files.get_file_from_path(uri) is not None:
                raise PluginError(f"docs/{uri} 与自动生成的页面同名：请删除该文件，它由 snippets/ 生成")
            # INCLUDED: MkDocs excludes a folder named templates/ by default.
            files.append(File.generated(config, uri, content=markdown, inclusion=InclusionLevel.INCLUDED))
        return files

    def on_page_markdown(self, markdown: str, page, config, files, **kwargs):
        sources = {"public-log": public_log.load(self.public_log_path)}
        return generate.rewrite_markdown(self.corpus, markdown, page.file.src_uri, sources,
                                         lambda problem: log.warning(str(problem)))


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

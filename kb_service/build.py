"""`kb build`: check content, build the site (strict, with MkDocs or Zensical) and the search index.

A fingerprint of every input is stored next to the output, so `kb serve` rebuilds only what is
stale and a second start is fast.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from kb_service.content.editor_schema import FILE as ID_SCHEMA_FILE
from kb_service.content.editor_schema import write_id_schema
from kb_service.content.load import corpus_from_plain, require_corpus
from kb_service.content.model import Corpus
from kb_service.settings import Settings
from kb_service.site import engines, generate, public_log

STAMP = ".kb-build.json"
SNAPSHOT = "corpus.json"      # the checked content as plain data, written with the index
INPUT_GLOBS = ("mkdocs.yml", "docs/**/*", "snippets/**/*", "overrides/**/*", "kb_service/**/*.py", "kb_service/**/*.html")


@dataclass
class BuildReport:
    site_built: bool
    index_built: bool
    seconds: float
    pages: int = 0
    documents: int = 0
    engine: str = ""

    def summary(self) -> str:
        parts = []
        parts.append(f"站点已构建（{self.engine}，{self.pages} 个页面）" if self.site_built else "站点无变化，跳过构建")
        parts.append(f"检索索引已构建（{self.documents} 条）" if self.index_built else "检索索引无变化")
        return "，".join(parts) + f"，用时 {self.seconds:.1f} 秒"


def fingerprint(settings: Settings, *, site: bool = False) -> str:
    """Content and code; for the site also the exported improvement log that one page shows and
    the builder that renders it."""
    root = settings.project_dir
    paths = [p for pattern in INPUT_GLOBS for p in sorted(root.glob(pattern))]
    if site:
        paths.append(settings.public_log_path)
    digest = hashlib.sha256()
    if site:
        digest.update(f"engine:{settings.site_engine}\n".encode())
    for path in paths:
        # ids.schema.json is written by the build itself (editor completion), not an input
        if path.is_file() and "__pycache__" not in path.parts and path.name != ID_SCHEMA_FILE:
            stat = path.stat()
            digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _stamp_ok(directory: Path, fp: str) -> bool:
    try:
        return json.loads((directory / STAMP).read_text())["fingerprint"] == fp
    except (OSError, ValueError, KeyError):
        return False


def _write_stamp(directory: Path, fp: str, **extra) -> None:
    (directory / STAMP).write_text(json.dumps({"fingerprint": fp, "built_at": time.time(), **extra}))


def build(settings: Settings, *, force: bool = True) -> BuildReport:
    started = time.perf_counter()
    fp, fp_site = fingerprint(settings), fingerprint(settings, site=True)
    site_stale = force or not _stamp_ok(settings.site_dir, fp_site) or not (settings.site_dir / "index.html").exists()
    index_stale = force or not _stamp_ok(settings.index_dir, fp)
    if not (site_stale or index_stale):
        # Both outputs were built, after a full check, from exactly these inputs: nothing to do.
        return BuildReport(False, False, time.perf_counter() - started)
    corpus = require_corpus(settings.snippets_dir)  # raises ContentError with every problem
    if write_id_schema(corpus, settings.snippets_dir / "schema"):   # ids for the editors' completion
        # snippets/ is an input: stamp what is there now, or the next start rebuilds everything
        fp, fp_site = fingerprint(settings), fingerprint(settings, site=True)
    site_built = index_built = False
    pages = documents = 0
    if site_stale:
        pages = build_site(settings, corpus)
        _write_stamp(settings.site_dir, fp_site, pages=pages, engine=settings.site_engine)
        site_built = True
    if index_stale:
        from kb_service.search import (
            engine as search,  # heavy imports only when the index is really rebuilt
        )

        settings.index_dir.mkdir(parents=True, exist_ok=True)
        documents = search.build_index(corpus, settings.docs_dir, settings.index_dir)
        (settings.index_dir / SNAPSHOT).write_text(json.dumps(corpus.source, ensure_ascii=False), encoding="utf-8")
        _write_stamp(settings.index_dir, fp, documents=documents)
        index_built = True
    return BuildReport(site_built, index_built, time.perf_counter() - started, pages, documents, settings.site_engine)


def load_content(settings: Settings) -> Corpus:
    """The checked content: from the snapshot `kb build` stored when nothing changed since
    (no YAML parsing, a fast start), else loaded and checked from snippets/."""
    if _stamp_ok(settings.index_dir, fingerprint(settings)):
        try:
            plain = json.loads((settings.index_dir / SNAPSHOT).read_text(encoding="utf-8"))
            return corpus_from_plain(settings.project_dir, plain)
        except (OSError, ValueError, KeyError, TypeError):
            pass  # an older or damaged build: fall back to the content itself
    return require_corpus(settings.snippets_dir)


def build_site(settings: Settings, corpus: Corpus | None = None, *, engine: str | None = None) -> int:
    """Stage the complete Markdown project (site/generate.py), render it with the chosen builder
    (strict), then put the result in place of the served site. Returns the number of pages."""
    engine = engine or settings.site_engine
    engines.check(engine)
    corpus = corpus or require_corpus(settings.snippets_dir)
    sources = {"public-log": public_log.load(settings.public_log_path)}
    staged = generate.stage(settings.project_dir, settings.staged_dir, corpus, sources)
    if staged.output.exists():
        shutil.rmtree(staged.output)
    engines.run(engine, staged)
    _publish(staged.output, settings.site_dir)
    return sum(1 for _ in settings.site_dir.rglob("index.html"))


def _publish(output: Path, site_dir: Path) -> None:
    """Replace site_dir by the freshly built output (two renames: never a half-written site)."""
    old = site_dir.with_name(site_dir.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if site_dir.exists():
        os.replace(site_dir, old)
    try:
        os.replace(output, site_dir)
    except OSError:  # another file system: copy instead
        shutil.copytree(output, site_dir)
        shutil.rmtree(output)
    shutil.rmtree(old, ignore_errors=True)

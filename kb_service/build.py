"""`kb build`: check content, build the MkDocs site (strict) and the search index.

A fingerprint of every input is stored next to the output, so `kb serve` rebuilds only what is
stale and a second start is fast.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from kb_service.content.editor_schema import FILE as ID_SCHEMA_FILE
from kb_service.content.editor_schema import write_id_schema
from kb_service.content.load import corpus_from_plain, require_corpus
from kb_service.content.model import Corpus
from kb_service.errors import ContentError
from kb_service.settings import Settings

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

    def summary(self) -> str:
        parts = []
        parts.append(f"站点已构建（{self.pages} 个页面）" if self.site_built else "站点无变化，跳过构建")
        parts.append(f"检索索引已构建（{self.documents} 条）" if self.index_built else "检索索引无变化")
        return "，".join(parts) + f"，用时 {self.seconds:.1f} 秒"


def fingerprint(settings: Settings, *, site: bool = False) -> str:
    """Content and code; for the site also the exported improvement log that one page shows."""
    root = settings.project_dir
    paths = [p for pattern in INPUT_GLOBS for p in sorted(root.glob(pattern))]
    if site:
        paths.append(settings.public_log_path)
    digest = hashlib.sha256()
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
    write_id_schema(corpus, settings.snippets_dir / "schema")   # ids for the editors' completion
    site_built = index_built = False
    pages = documents = 0
    if site_stale:
        pages = build_site(settings)
        _write_stamp(settings.site_dir, fp_site, pages=pages)
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
    return BuildReport(site_built, index_built, time.perf_counter() - started, pages, documents)


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


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def build_site(settings: Settings) -> int:
    """mkdocs build --strict, in-process. Any warning fails the build with the warnings listed."""
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")  # keep the build output clean
    from mkdocs.commands.build import build as mkdocs_build
    from mkdocs.config import load_config
    from mkdocs.exceptions import Abort, ConfigurationError, PluginError

    collect = _Collect()
    mkdocs_log = logging.getLogger("mkdocs")
    mkdocs_log.addHandler(collect)
    mkdocs_log.propagate = False  # our own handler reports; no duplicate stderr lines
    try:
        with _chdir(settings.project_dir), _quiet_jieba():
            config = load_config(config_file=str(settings.project_dir / "mkdocs.yml"),
                                 strict=True, site_dir=str(settings.site_dir))
            if "kb" in config.plugins:
                config.plugins["kb"].public_log_path = settings.public_log_path
            mkdocs_build(config)
    except (Abort, ConfigurationError, PluginError) as exc:
        detail = collect.messages or [str(exc)]
        raise ContentError("站点构建失败：\n" + "\n".join(detail)) from None
    finally:
        mkdocs_log.removeHandler(collect)
        mkdocs_log.propagate = True
    return sum(1 for _ in settings.site_dir.rglob("index.html"))


@contextlib.contextmanager
def _chdir(path: Path):
    # Material resolves search.jieba_dict_user against the working directory.
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


@contextlib.contextmanager
def _quiet_jieba():
    try:
        import jieba
        jieba.setLogLevel(logging.WARNING)
    except ImportError:  # pragma: no cover - jieba is a dependency
        pass
    yield

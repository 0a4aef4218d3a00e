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
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .content import require_corpus
from .errors import ContentError
from .settings import Settings

STAMP = ".kb-build.json"
INPUT_GLOBS = ("mkdocs.yml", "docs/**/*", "snippets/**/*", "kb_service/*.py")


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


def fingerprint(project_dir: Path) -> str:
    digest = hashlib.sha256()
    for pattern in INPUT_GLOBS:
        for path in sorted(project_dir.glob(pattern)):
            if path.is_file() and "__pycache__" not in path.parts:
                stat = path.stat()
                digest.update(f"{path.relative_to(project_dir)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
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
    fp = fingerprint(settings.project_dir)
    site_stale = force or not _stamp_ok(settings.site_dir, fp) or not (settings.site_dir / "index.html").exists()
    index_stale = force or not _stamp_ok(settings.index_dir, fp)
    if not (site_stale or index_stale):
        # Both outputs were built, after a full check, from exactly these inputs: nothing to do.
        # (The service still loads, and so checks, the content once when it opens.)
        return BuildReport(False, False, time.perf_counter() - started)
    corpus = require_corpus(settings.snippets_dir)  # raises ContentError with every problem
    site_built = index_built = False
    pages = documents = 0
    if site_stale:
        pages = build_site(settings)
        _write_stamp(settings.site_dir, fp, pages=pages)
        site_built = True
    if index_stale:
        from . import search  # heavy imports only when the index is really rebuilt

        settings.index_dir.mkdir(parents=True, exist_ok=True)
        documents = search.build_index(corpus, settings.docs_dir, settings.index_dir)
        _write_stamp(settings.index_dir, fp, documents=documents)
        index_built = True
    return BuildReport(site_built, index_built, time.perf_counter() - started, pages, documents)


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

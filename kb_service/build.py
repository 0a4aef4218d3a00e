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

from kb_service.content import danger
from kb_service.content.editor_schema import FILE as ID_SCHEMA_FILE
from kb_service.content.editor_schema import write_id_schema
from kb_service.content.load import corpus_from_plain, require_corpus
from kb_service.content.model import Corpus
from kb_service.errors import ContentError
from kb_service.settings import Settings
from kb_service.site import engines, generate, incremental, public_log
from kb_service.site.precompress import precompress
from kb_service.site.search_labels import label_search_index

STAMP = ".kb-build.json"
SNAPSHOT = "corpus.json"      # the checked content as plain data, written with the index
CODE_GLOBS = ("kb_service/**/*.py", "kb_service/**/*.html")
INPUT_GLOBS = ("mkdocs.yml", "docs/**/*", "snippets/**/*", "overrides/**/*", *CODE_GLOBS)


@dataclass
class BuildReport:
    site_built: bool
    index_built: bool
    seconds: float
    pages: int = 0
    documents: int = 0
    engine: str = ""
    rendered: list[str] | None = None   # the pages a content-only update re-rendered; None: all of them

    def summary(self) -> str:
        parts = []
        if not self.site_built:
            parts.append("站点无变化，跳过构建")
        elif self.rendered is not None:
            parts.append(f"站点已更新（{self.engine}，重新生成 {len(self.rendered)} 个页面，共 {self.pages} 个）")
        else:
            parts.append(f"站点已构建（{self.engine}，{self.pages} 个页面）")
        parts.append(f"检索索引已构建（{self.documents} 条）" if self.index_built else "检索索引无变化")
        return "，".join(parts) + f"，用时 {self.seconds:.1f} 秒"


def fingerprint(settings: Settings, *, site: bool = False, globs: tuple[str, ...] = INPUT_GLOBS) -> str:
    """Content and code; for the site also the exported improvement log that one page shows and
    the builder that renders it."""
    root = settings.project_dir
    # Named relative to the project (the exported log by its own name), so a project moved or
    # copied with its build (times kept, as cp -a and shutil.copytree do) is not rebuilt.
    paths = [(p, p.relative_to(root).as_posix()) for pattern in globs for p in sorted(root.glob(pattern))]
    if site:
        paths.append((settings.public_log_path, "public-log"))
    digest = hashlib.sha256()
    if site:
        digest.update(f"engine:{settings.site_engine}\n".encode())
    for path, name in paths:
        # ids.schema.json is written by the build itself (editor completion), not an input
        if path.is_file() and "__pycache__" not in path.parts and path.name != ID_SCHEMA_FILE:
            stat = path.stat()
            digest.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _stamp_ok(directory: Path, fp: str, key: str = "fingerprint") -> bool:
    try:
        return json.loads((directory / STAMP).read_text())[key] == fp
    except (OSError, ValueError, KeyError, TypeError):
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
    # The service would ignore a broken danger lexicon (no emergency put first): refuse to build.
    _, problems = danger.check(settings.snippets_dir, corpus.scripts)
    if problems:
        raise ContentError(f"紧急情况词表 snippets/danger.yaml 有 {len(problems)} 个错误，请先运行 kb lint 查看并修正",
                           problems)
    if write_id_schema(corpus, settings.snippets_dir / "schema"):   # ids for the editors' completion
        # snippets/ is an input: stamp what is there now, or the next start rebuilds everything
        fp, fp_site = fingerprint(settings), fingerprint(settings, site=True)
    site_built = index_built = False
    pages = documents = 0
    rendered = None
    if site_stale:
        # Only content or the exported log changed since a build by the same code and builder
        # (kb export-log, kb serve after an edit): re-render the pages whose staged Markdown
        # changed, as the preview does; update_site itself builds everything when that could
        # differ from a full build. `kb build` (force) always builds everything.
        code = fingerprint(settings, globs=CODE_GLOBS)
        if not force and can_update_site(settings, code):
            update = update_site(settings, corpus)
            rendered = update.pages if update.mode != "full" else None
            pages = sum(1 for _ in settings.site_dir.rglob("index.html"))
        else:
            pages = build_site(settings, corpus)
        _write_stamp(settings.site_dir, fp_site, code=code, pages=pages, engine=settings.site_engine)
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
    return BuildReport(site_built, index_built, time.perf_counter() - started, pages, documents, settings.site_engine,
                       rendered)


def can_update_site(settings: Settings, code: str) -> bool:
    """Whether the served site was built by this code (`code`: the fingerprint of CODE_GLOBS), so
    that what a content change needs is update_site's re-rendering of its pages."""
    return _stamp_ok(settings.site_dir, code, "code") and (settings.site_dir / "index.html").exists()


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
    """Stage the complete Markdown project (site/generate.py), render all of it with the chosen
    builder (strict), then put the result in place of the served site. Returns the number of pages."""
    engine = engine or settings.site_engine
    engines.check(engine)
    staged = _stage(settings, corpus or require_corpus(settings.snippets_dir))
    _full_build(engine, staged)
    _finish(staged.output)
    _publish(staged.output, settings.site_dir)
    return sum(1 for _ in settings.site_dir.rglob("index.html"))


@dataclass
class SiteUpdate:
    mode: str                    # "pages": a dirty build of `pages`; "full"; "none": nothing changed
    pages: list[str]             # the pages re-rendered by a dirty build (paths under docs/)
    reason: str = ""             # why a full build


def update_site(settings: Settings, corpus: Corpus) -> SiteUpdate:
    """The preview's rebuild (kb serve --reload): stage, then re-render only the pages whose staged
    Markdown changed (MkDocs' dirty build, site/incremental.py), or everything when the navigation
    may have changed or there is no previous output to build on; then copy what changed into the
    served site. `build` comes here when only content changed; `kb build` always builds everything."""
    engine = settings.site_engine
    engines.check(engine)
    staged = _stage(settings, corpus)
    reason = incremental.full_build_reason(staged, engine)
    if reason is None:
        if not staged.changed:
            return SiteUpdate("none", [])
        pages = engines.run_dirty(staged)
        if pages is not None:
            _finish(staged.output)
            _mirror(staged.output, settings.site_dir)
            return SiteUpdate("pages", pages)
        reason = "页面标题或页首设置有变化，导航要跟着变"
    _full_build(engine, staged)
    _finish(staged.output)
    _mirror(staged.output, settings.site_dir)
    return SiteUpdate("full", [], reason)


def _stage(settings: Settings, corpus: Corpus) -> generate.Staged:
    sources = {"public-log": public_log.load(settings.public_log_path)}
    return generate.stage(settings.project_dir, settings.staged_dir, corpus, sources)


def _full_build(engine: str, staged: generate.Staged) -> None:
    if staged.output.exists():
        shutil.rmtree(staged.output)   # nothing left over from a page that no longer exists
    engines.run(engine, staged)


def _finish(output: Path) -> None:
    """After the builder: label staff results in the site search, gzip the text files once."""
    label_search_index(output)
    precompress(output)


def _publish(output: Path, site_dir: Path) -> None:
    """Replace site_dir by a copy of the freshly built output (two renames: never a half-written
    site). The output stays where it is: the preview's dirty builds re-render pages into it."""
    new, old = site_dir.with_name(site_dir.name + ".new"), site_dir.with_name(site_dir.name + ".old")
    for leftover in (new, old):
        shutil.rmtree(leftover, ignore_errors=True)
    shutil.copytree(output, new)     # copy2: file times kept, which _mirror compares
    if site_dir.exists():
        os.replace(site_dir, old)
    os.replace(new, site_dir)
    shutil.rmtree(old, ignore_errors=True)


def _mirror(output: Path, site_dir: Path) -> None:
    """Make site_dir a copy of output by copying only the files whose size or time differ (after a
    dirty build: the re-rendered pages, the search index, the sitemap), each through a rename so
    a page is never served half-written, and removing what output does not have. The dot-files at
    the top (kb build's stamp, STAMP) are not the builder's: they stay. Its fingerprint no longer
    matches the edited inputs, so the next `kb serve` updates the site again (build, not force)."""
    site_dir.mkdir(parents=True, exist_ok=True)
    wanted: set[Path] = set()
    for src in output.rglob("*"):
        if not src.is_file():
            continue
        rel = src.relative_to(output)
        wanted.add(rel)
        dst = site_dir / rel
        if _same_file(src, dst):
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        part = dst.with_name(f".{dst.name}.part")   # a dot-file: never served (SiteFiles)
        shutil.copy2(src, part)
        os.replace(part, dst)
    for path in sorted(site_dir.rglob("*"), reverse=True):
        rel = path.relative_to(site_dir)
        ours = path.parent == site_dir and path.name.startswith(".")
        if path.is_file() and rel not in wanted and not ours:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def _same_file(a: Path, b: Path) -> bool:
    try:
        sa, sb = a.stat(), b.stat()
    except OSError:
        return False
    return sa.st_size == sb.st_size and sa.st_mtime_ns == sb.st_mtime_ns

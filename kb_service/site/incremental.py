"""What the preview (`kb serve --reload`) needs to rebuild only the pages an edit changed.

MkDocs' dirty build (`mkdocs serve --dirty`) renders a page only when its source is newer than
its output, and staging (site/generate.py) rewrites only the staged files whose bytes changed, so
an edit re-renders the pages it shows up on: a script's page, every page quoting an edited
standard, a chapter. What a dirty build alone gets wrong, and what is done about it here:

- Pages it skips are not read, so their titles and front matter (which the navigation of every
  page shows) are missing: they are read here, and given the titles the previous build rendered
  (kept in the staged folder's output state, `.kb-output.json`).
- Material's search plugin then indexes only the re-rendered pages: their sections replace theirs
  in the previous index, in place, so the index is the one a full build writes.
- The navigation itself (pages added or removed, mkdocs.yml, the theme overrides, a page's title
  or front matter) is on every page: such a change needs a full build (`full_build_reason`
  before building, `DirtyBuild.nav_changed` after).
- The build warns that it is dirty, which fails a strict build: that one warning is dropped.

The production build (`kb build`) is always a full build; it leaves its output in the staged
folder, so the preview's first edit is already a dirty one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

import jinja2

from kb_service.site.generate import DOCS, Staged

STATE = ".kb-output.json"     # in the staged folder: which builder wrote site/, and its pages
SEARCH_INDEX = Path("search") / "search_index.json"


# -- the output state ---------------------------------------------------------------------------

def read_state(staged: Staged) -> dict | None:
    """What the last successful build left in staged.output, or None (no build, or one that failed
    or was interrupted: the state is removed before a build starts)."""
    try:
        state = json.loads((staged.root / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and (staged.output / "index.html").exists() else None


def clear_state(staged: Staged) -> None:
    with contextlib.suppress(FileNotFoundError):
        (staged.root / STATE).unlink()


def write_state(staged: Staged, engine: str, pages: dict[str, list] | None = None) -> None:
    """`pages`: src uri -> [title, front matter] as the build rendered them (MkDocs only)."""
    state = {"engine": engine, "pages": pages or {}}
    (staged.root / STATE).write_text(json.dumps(state, ensure_ascii=False, default=str), encoding="utf-8")


# -- deciding ----------------------------------------------------------------------------------

def full_build_reason(staged: Staged, engine: str) -> str | None:
    """Why this staging needs a full build, or None when a dirty build of the changed pages gives
    the same site. Checked before building; a title or front matter that changed is found while
    building (DirtyBuild.nav_changed)."""
    state = read_state(staged)
    if engine != "mkdocs":
        return f"{engine} 每次完整构建"
    if state is None or state.get("engine") != "mkdocs":
        return "上次没有可续用的构建结果"
    for rel in staged.removed:
        return f"删除了 {rel}"     # its output would stay behind; a removed page leaves the navigation
    for rel, previous in staged.changed.items():
        if not rel.startswith(f"{DOCS}/"):
            return f"{rel} 有变化（配置、主题或词典）"
        if previous is None and rel.endswith(".md"):
            return f"新页面 {rel}"
    known = state.get("pages") or {}
    for uri in staged.pages:
        if uri not in known:
            return f"上次构建没有 {uri}"
    return None


def changed_pages(staged: Staged) -> set[str]:
    """Every changed file under docs/, as MkDocs names it (src uri: "handbook/x.md")."""
    prefix = f"{DOCS}/"
    return {rel[len(prefix):] for rel in staged.changed if rel.startswith(prefix)}


# -- the plugin added to MkDocs for a dirty build ------------------------------------------------

class DirtyBuild:
    """Added to the loaded configuration's plugins (never to mkdocs.yml). In a full build it only
    records each page's title and front matter; in a dirty build it also does what the module
    docstring lists."""

    def __init__(self, *, dirty: bool, changed: set[str] = frozenset(), known: dict | None = None):
        self.dirty = dirty
        self.changed = changed            # src uris of the changed files under docs/
        self.known = known or {}          # src uri -> [title, front matter] from the last build
        self.pages: dict[str, list] = {}  # the same, for the pages this build rendered
        self.rebuilt: set[str] = set()    # their URLs ("handbook/x/")
        self.previous_index: dict | None = None
        # A rebuilt page's title or front matter differs from the last build's: every page's
        # navigation shows them, so a full build must follow.
        self.nav_changed: list[str] = []
        self.finished = False             # the build got to its end (its output is complete)

    def on_files(self, files, config):
        if self.dirty:
            # A page is rebuilt when its output is older than its source: a save within the same
            # timestamp tick as the last build would look unchanged, so the outputs go first.
            for file in files:
                if file.src_uri in self.changed:
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(file.abs_dest_path)
            self.previous_index = _read_json(Path(config.site_dir) / SEARCH_INDEX)
        return files

    def on_env(self, env, config, files):
        env.bytecode_cache = COMPILED_TEMPLATES
        if self.dirty:
            for file in files.documentation_pages():
                page = file.page
                if page is not None and page.markdown is None:      # skipped: not modified
                    page.read_source(config)                        # its front matter
                    if file.src_uri in self.known:
                        page.title = self.known[file.src_uri][0]    # the title as rendered
        return env

    def on_page_context(self, context, page, config, nav):
        entry = [page.title, _plain(page.meta)]
        if self.dirty and self.known.get(page.file.src_uri) != entry:
            self.nav_changed.append(page.file.src_uri)
        self.pages[page.file.src_uri] = entry
        self.rebuilt.add(page.url)
        return context

    def on_post_build(self, config):
        if self.dirty:
            path = Path(config.site_dir) / SEARCH_INDEX
            new = _read_json(path)
            if new is not None and self.previous_index is not None:
                merged = merge_search_index(self.previous_index, new, self.rebuilt)
                # the form Material writes, so a full build's file and this one compare equal
                path.write_text(json.dumps(merged, separators=(",", ":"), default=str), encoding="utf-8")
        self.finished = True

    # after Material's search plugin has written its (partial) index
    on_post_build.mkdocs_priority = -100


class _CompiledTemplates(jinja2.BytecodeCache):
    """The theme's templates compiled once per process: MkDocs makes a new Jinja environment for
    every build, and compiling Material's templates again was about a third of a one-page
    rebuild. Jinja checks each entry against its template's source, so an edited override is
    compiled anew."""

    def __init__(self):
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        code = self.compiled.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = _CompiledTemplates()


def merge_search_index(previous: dict, new: dict, rebuilt: set[str]) -> dict:
    """The index of a full build from the previous one and the rebuilt pages' sections: each
    rebuilt page's sections take the place of its old ones (the order of a full build), sections of
    a page the previous index did not have go last."""
    fresh: dict[str, list] = {}
    for doc in new.get("docs", []):
        fresh.setdefault(_page_url(doc), []).append(doc)
    docs = []
    for doc in previous.get("docs", []):
        url = _page_url(doc)
        if url in rebuilt:
            docs.extend(fresh.pop(url, []))     # the first old section: all new ones; later: none
        else:
            docs.append(doc)
    for rest in fresh.values():
        docs.extend(rest)
    return {**new, "docs": docs}


def _page_url(doc: dict) -> str:
    return str(doc.get("location", "")).split("#", 1)[0]


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _plain(meta: dict) -> dict:
    """Front matter as it compares after a round trip through the state file (dates as text)."""
    return json.loads(json.dumps(meta or {}, ensure_ascii=False, default=str))


class DropDirtyWarning(logging.Filter):
    """MkDocs warns on every dirty build ("inaccurate navigation"); strict mode would fail on it.
    This module is what keeps the navigation accurate, so the warning is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("A 'dirty' build is being performed")


def warm() -> None:
    """Import the builder and load jieba's dictionary (Material's search segments with it) once,
    ahead of the first edit, instead of during it."""
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    import mkdocs.commands.build  # noqa: F401
    import material.plugins.search.plugin  # noqa: F401
    try:
        import jieba
        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
    except ImportError:  # pragma: no cover - jieba is a dependency
        pass

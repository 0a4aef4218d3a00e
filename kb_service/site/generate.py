"""The staged site: everything a site builder needs, written as plain Markdown before it runs.

`stage()` writes a complete project into one folder (`KB_DATA_DIR/staged` for `kb build`):

- `docs/`: the hand-written pages with `snippet:` links, data blocks (`<!-- kb:... -->`) and
  inline values (`[[std:..]]`, `[[law:..]]`) expanded, the assets copied as they are, and every
  page generated from snippets/ (scripts, templates, categories, tags);
- `mkdocs.yml`: the project's configuration with the full navigation computed from the data, the
  `kb` plugin removed and paths pointing into the staged folder;
- `overrides/`: the theme overrides.

Any builder that reads `mkdocs.yml` (MkDocs with Material, Zensical) renders that folder as it is:
no builder plugin is involved. A reference that points nowhere is a `Problem` (file:line:col), and
`stage()` raises `ContentError` with all of them before a builder ever runs.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from kb_service.content.markup import BLOCK, SNIPPET_LINK, expand_inline
from kb_service.content.model import Corpus
from kb_service.content.yamldoc import Problem, round_trip
from kb_service.errors import ContentError
from kb_service.site import pages, phones
from kb_service.times import local_today

CONFIG = "mkdocs.yml"
DOCS = "docs"
OVERRIDES = "overrides"
OUTPUT = "site"


@dataclass
class Staged:
    root: Path
    config: Path
    pages: list[str]      # every Markdown page, as a path under docs/ ("scripts/x.md")
    # What this staging changed, by path under root ("docs/scripts/x.md", "mkdocs.yml"): the
    # previous bytes of each file it rewrote (None: the file is new), and the files it removed.
    # Unchanged files are not touched, so a builder that keeps its output (the preview) can
    # rebuild only the pages these name.
    changed: dict[str, bytes | None] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)

    @property
    def output(self) -> Path:
        """Where a builder writes the site (inside root: Zensical requires it)."""
        return self.root / OUTPUT


def generation_time() -> dt.datetime:
    """The moment the template examples are computed for: 09:00 today (Beijing)."""
    return dt.datetime.combine(local_today(), dt.time(9, 0))


def stage(project_dir: Path, dest: Path, corpus: Corpus, sources: dict | None = None,
          *, now: dt.datetime | None = None) -> Staged:
    """Write the staged project for `project_dir` into `dest`; files already there with the same
    bytes are left untouched (their times too, so a builder's own cache stays valid)."""
    now = now or generation_time()
    docs = project_dir / DOCS
    problems: list[Problem] = []
    written: dict[str, bytes] = {}
    for path in sorted(docs.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(docs).as_posix()
        if path.suffix == ".md":
            text = rewrite_markdown(corpus, path.read_text(encoding="utf-8"), rel, sources, problems.append)
            written[rel] = text.encode("utf-8")
        else:
            written[rel] = path.read_bytes()
    generated = pages.generated_pages(corpus, now=now)
    for uri, markdown in generated.items():
        if uri in written:
            problems.append(Problem(f"{DOCS}/{uri}", 1, 1, "与自动生成的页面同名：请删除该文件，它由 snippets/ 生成"))
            continue
        written[uri] = rewrite_markdown(corpus, markdown, uri, sources, problems.append).encode("utf-8")
    if problems:
        raise ContentError(f"站点内容有 {len(problems)} 个问题，构建前已停止：\n" + "\n".join(map(str, problems)))

    staged = Staged(dest, dest / CONFIG, sorted(uri for uri in written if uri.endswith(".md")))
    _sync(dest, DOCS, written, staged)
    overrides = {p.relative_to(project_dir / OVERRIDES).as_posix(): p.read_bytes()
                 for p in sorted((project_dir / OVERRIDES).rglob("*")) if p.is_file()}
    _sync(dest, OVERRIDES, overrides, staged)
    text, extra = staged_config(project_dir, corpus, generated)
    for rel, data in {**extra, CONFIG: text.encode("utf-8")}.items():
        _stage_file(dest, rel, data, staged)
    return staged


# -- Markdown -----------------------------------------------------------------------------------

def rewrite_markdown(corpus: Corpus, markdown: str, src: str, sources: dict | None,
                     problem: Callable[[Problem], None]) -> str:
    """`snippet:` links to relative page links, inline values to their text, data blocks to
    Markdown. What points nowhere is reported through `problem` and left as typed."""
    path = f"{DOCS}/{src}"

    def where(text: str, offset: int) -> tuple[int, int]:
        line = text.count("\n", 0, offset) + 1
        return line, offset - (text.rfind("\n", 0, offset) + 1) + 1

    def snippet_link(match: re.Match) -> str:
        sid, anchor = match.group(1), match.group(2) or ""
        target = corpus.snippets.get(sid)
        if target is None:
            line, col = where(markdown, match.start() + 2)
            problem(Problem(path, line, col, f"链接 snippet:{sid} 指向不存在的话术或模板"))
            return match.group(0)
        return f"]({pages.link(src, target.src_uri)}{anchor})"

    def unknown(line: int, col: int, kind: str, rid: str) -> None:
        problem(Problem(path, line, col, f"[[{kind}:{rid}]] 不是已知的 id（运行 kb lint 查看）"))

    text = SNIPPET_LINK.sub(snippet_link, markdown)
    text = expand_inline(text, corpus.standards, corpus.laws, unknown)
    if phones.applies(src):   # residents' pages: the hotline and emergency numbers are tappable
        text = phones.link_phones(text, corpus.site.hotline)

    def block(match: re.Match) -> str:
        name = match.group(1)
        if name not in pages.BLOCKS:
            line, col = where(text, match.start())
            problem(Problem(path, line, col, f"未知的数据块 kb:{name}（可用：{', '.join(pages.BLOCKS)}）"))
            return match.group(0)
        return pages.BLOCKS[name](corpus, {**(sources or {}), "src": src})

    return BLOCK.sub(block, text)


# -- configuration and navigation ---------------------------------------------------------------

def staged_config(project_dir: Path, corpus: Corpus, generated: dict[str, str]) -> tuple[str, dict[str, bytes]]:
    """The project's mkdocs.yml for the staged folder: comments, tags (`!ENV`, `!!python/...`) and
    every theme setting kept; the navigation completed from the data; no `kb` plugin. Also the
    files outside docs/ that the configuration names (relative path -> bytes)."""
    yaml = round_trip()
    extra: dict[str, bytes] = {}
    config = yaml.load((project_dir / CONFIG).read_text(encoding="utf-8"))
    config["docs_dir"] = DOCS
    config["site_dir"] = OUTPUT
    # MkDocs leaves out a folder named templates/ unless told otherwise; it holds our templates.
    config["exclude_docs"] = "!/templates/\n"
    theme = config.get("theme") or {}
    if theme.get("custom_dir"):
        theme["custom_dir"] = OVERRIDES
    plugins = []
    for plugin in config.get("plugins") or []:
        name = plugin if isinstance(plugin, str) else next(iter(plugin))
        if name == "kb":
            continue  # generation happened here, before the builder
        if name == "search" and not isinstance(plugin, str) and (plugin["search"] or {}).get("jieba_dict_user"):
            # Material reads it relative to the working directory: the builder runs in the staged
            # folder, so the dictionary goes there, under the same name.
            rel = plugin["search"]["jieba_dict_user"]
            extra[rel] = (project_dir / rel).read_bytes()
        plugins.append(plugin)
    config["plugins"] = plugins
    if config.get("nav"):
        config["nav"] = full_nav(corpus, config["nav"], generated)
    out = io.StringIO()
    yaml.dump(config, out)
    return ("# Generated by `kb build` from the project's mkdocs.yml: do not edit, it is rewritten.\n"
            + out.getvalue()), extra


def full_nav(corpus: Corpus, nav: list, generated: dict[str, str]) -> list:
    """mkdocs.yml lists only the index pages (`scripts/index.md`, ...): each becomes a section
    whose index is that page, followed by the pages generated from snippets/ (scripts and
    templates grouped by category, then the category pages). The lists come from the data."""
    listed = set(_nav_pages(nav))

    def unlisted(uris) -> list[str]:
        return [u for u in uris if u in generated and u not in listed]

    children: dict[str, list] = {}
    for kind, index in (("script", "scripts/index.md"), ("template", "templates/index.md")):
        sections = []
        for cat, name in corpus.site.categories.items():
            items = unlisted(s.src_uri for s in sorted(corpus.snippets.values(), key=lambda s: s.id)
                             if s.kind == kind and s.category == cat)
            if items:
                sections.append({name: items})
        children[index] = sections
    used = {s.category for s in corpus.snippets.values()}
    children["categories/index.md"] = unlisted(pages.category_uri(c) for c in corpus.site.categories if c in used)

    def expand(items: list) -> list:
        out = []
        for item in items:
            if isinstance(item, str) and children.get(item):
                item = {_title(generated.get(item, "")) or item: [item, *children[item]]}
            elif isinstance(item, dict):
                (title, value), = item.items()
                if isinstance(value, list):
                    item = {title: expand(value)}
                elif isinstance(value, str) and children.get(value):
                    item = {title: [value, *children[value]]}
            out.append(item)
        return out

    return expand(list(nav))


def nav_pages(config_text: str) -> list[str]:
    """Every page the navigation of a (staged) mkdocs.yml lists, in order."""
    return list(_nav_pages(round_trip().load(config_text).get("nav") or []))


def _nav_pages(items):
    """The Markdown pages a nav lists; links (`/notices/`, `https://...`) are not pages."""
    for item in items:
        if isinstance(item, str):
            if _is_page(item):
                yield item
        elif isinstance(item, dict):
            for value in item.values():
                if isinstance(value, str):
                    if _is_page(value):
                        yield value
                elif isinstance(value, list):
                    yield from _nav_pages(value)


def _is_page(target: str) -> bool:
    return not target.startswith("/") and "://" not in target


def _title(markdown: str) -> str:
    first = markdown.split("\n", 1)[0]
    return first[2:].strip() if first.startswith("# ") else ""


# -- files ----------------------------------------------------------------------------------------

def _stage_file(root: Path, rel: str, data: bytes, staged: Staged) -> None:
    """Write root/rel unless it already holds exactly `data`: an unchanged file keeps its time
    (MkDocs' dirty build compares it with the page's output) and is not reported as changed."""
    path = root / rel
    try:
        previous: bytes | None = path.read_bytes()
    except OSError:
        previous = None
    if previous == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    staged.changed[rel] = previous


def _sync(root: Path, folder: str, files: dict[str, bytes], staged: Staged) -> None:
    """Make root/folder hold exactly `files` (path under folder -> bytes)."""
    for rel, data in files.items():
        _stage_file(root, f"{folder}/{rel}", data, staged)
    base = root / folder
    base.mkdir(parents=True, exist_ok=True)
    for path in sorted(base.rglob("*"), reverse=True):
        rel = path.relative_to(base).as_posix()
        if path.is_file() and rel not in files:
            path.unlink()
            staged.removed.append(f"{folder}/{rel}")
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()

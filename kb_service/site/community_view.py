"""Community pages at request time: the page's Markdown (site/communities.py) rendered with the
site's Markdown extensions into the shell MkDocs built for that kind of page.

The shell carries the theme, navigation, search and assets with URLs relative to its own depth,
which is the depth of every community's page of that kind, so one shell serves all communities.
Rendering one page takes a few milliseconds; an edited community file is served on the next
request instead of after a site build (bench/README.md has the figures).
"""

from __future__ import annotations

import re
from pathlib import Path

import markdown
from pymdownx.slugs import slugify

from kb_service.content.markup import BLOCK, esc
from kb_service.content.model import Corpus
from kb_service.site import communities, pages

EXTENSIONS = ["tables", "attr_list", "md_in_html", "admonition", "toc"]
EXTENSION_CONFIGS = {"toc": {"permalink": True, "slugify": slugify(case="lower")}}
_SHELL_H1 = re.compile(r"<h1[^>]*>\s*" + communities.TITLE + r".*?</h1>", re.S)


def shell_path(site_dir: Path, uri: str) -> Path:
    """The built shell for the page at `uri` (communities/index.md or communities/<id>/<page>.md)."""
    if uri == communities.INDEX:
        return site_dir / "communities" / "index.html"
    page = uri.rsplit("/", 1)[-1].removesuffix(".md")
    folder = site_dir / "communities" / communities.SHELL
    return folder / "index.html" if page == "index" else folder / page / "index.html"


def to_html(corpus: Corpus, uri: str, text: str) -> str:
    """Markdown -> HTML, with the data blocks a community page uses (the preset feedback form)."""
    text = BLOCK.sub(lambda m: pages.BLOCKS[m.group(1)](corpus, {"src": uri}), text)
    return markdown.markdown(text, extensions=EXTENSIONS, extension_configs=EXTENSION_CONFIGS)


def render(corpus: Corpus, uri: str, shell: str, site_name: str = "") -> str | None:
    """The full HTML page for `uri`, or None when no community page has that address."""
    found = communities.page_markdown(corpus, uri)
    if found is None:
        return None
    title, text = found
    body = to_html(corpus, uri, text)
    html = _SHELL_H1.sub("", shell, count=1)
    html = html.replace(communities.SLOT, body, 1)
    return html.replace(communities.TITLE, esc(title))

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
from kb_service.site import communities, pages, phones

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
    """Markdown -> HTML, with the data blocks a community page uses (the preset feedback form);
    the service centres' numbers, the company's and the emergency numbers are tel: links."""
    own = communities.community_of(uri, corpus)
    numbers = [own.hotline] if own is not None else [c.hotline for c in corpus.communities.values()]
    text = phones.link_phones(text, [*numbers, corpus.site.hotline])
    text = BLOCK.sub(lambda m: pages.BLOCKS[m.group(1)](corpus, {"src": uri}), text)
    return markdown.markdown(text, extensions=EXTENSIONS, extension_configs=EXTENSION_CONFIGS)


def render(corpus: Corpus, uri: str, shell: str) -> str | None:
    """The full HTML page for `uri`, or None when no community page has that address."""
    found = communities.page_markdown(corpus, uri)
    if found is None:
        return None
    title, text = found
    body = to_html(corpus, uri, text)
    html = _SHELL_H1.sub("", shell, count=1)
    html = html.replace(communities.SLOT, body, 1)
    own = communities.community_of(uri, corpus)
    if own is not None:   # its own canonical URL (search engines would fold every community into one)
        html = html.replace(f"/communities/{communities.SHELL}/", f"/communities/{own.id}/")
    html = _DESCRIPTION.sub(lambda _: f'<meta name="description" content="{esc(description(corpus, uri))}">', html, count=1)
    return html.replace(communities.TITLE, esc(title))


_DESCRIPTION = re.compile(r'<meta name="description" content="[^"]*">')
DESCRIPTIONS = {
    "index": "{name}：物业服务中心地址、电话和办公时间，小区公告，收费公示和公共收益。",
    "fees": "{name}收费公示：每项费用的标准、怎么算、对应哪些服务，附物业费计算器。",
    "revenue": "{name}公共收益：广告、停车等公共部分的收入、支出和归属。",
    "feedback": "{name}反馈与投诉：在线提交，拿到编号和查询码，随时查看处理进度。",
}


def description(corpus: Corpus, uri: str) -> str:
    """The page's meta description (what a search engine or a shared link shows)."""
    own = communities.community_of(uri, corpus)
    if own is None:
        return "找到您住的小区：各小区的服务中心电话、收费公示、公共收益和反馈入口。"
    page = uri.rsplit("/", 1)[-1].removesuffix(".md")
    return DESCRIPTIONS.get(page, DESCRIPTIONS["index"]).format(name=own.name)

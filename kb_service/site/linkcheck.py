"""Internal link check of a built site: every `href`/`src` that stays on the site must lead to a
file of the build or to a page the service renders (notices, community pages, staff pages).

A strict build already refuses broken links between Markdown pages; this catches what it cannot
see: links written in HTML blocks, theme overrides, generated data blocks and assets."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

SITE_ROOT = "http://site.invalid/"   # a stand-in origin: only the path of a link matters here


@dataclass(frozen=True, order=True)
class BrokenLink:
    page: str     # the page's path inside the site, e.g. residents/fees/index.html
    line: int
    target: str

    def __str__(self) -> str:
        return f"site/{self.page}:{self.line}: 链接指向不存在的页面或文件：{self.target}"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.found.append((self.getpos()[0], value))


def route_patterns(paths: list[str]) -> list[re.Pattern[str]]:
    """Starlette route paths (`/notices/{id}/`) as patterns; `{x:path}` spans slashes."""
    out = []
    for path in paths:
        pattern = re.sub(r"\{[^}:]+:path\}", ".*", path)
        pattern = re.sub(r"\{[^}]+\}", "[^/]+", pattern)
        out.append(re.compile(pattern + "$"))
    return out


def exists(site_dir: Path, path: str) -> bool:
    target = site_dir / path.lstrip("/")
    if path.endswith("/"):
        return (target / "index.html").is_file()
    return target.is_file() or (target / "index.html").is_file()


def check_site(site_dir: Path, service_routes: list[str]) -> list[BrokenLink]:
    """Every internal link of every HTML page under `site_dir` that leads nowhere."""
    served = route_patterns(service_routes)
    broken = []
    for page in sorted(site_dir.rglob("*.html")):
        rel = page.relative_to(site_dir).as_posix()
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8"))
        base = urljoin(SITE_ROOT, rel)
        for line, link in parser.found:
            url = urlsplit(urljoin(base, link))
            if f"{url.scheme}://{url.netloc}/" != SITE_ROOT:
                continue   # tel:, mailto:, data:, and outside hosts are not this check's business
            path = unquote(url.path)
            if exists(site_dir, path) or any(p.match(path) for p in served):
                continue
            broken.append(BrokenLink(rel, line, link))
    return sorted(set(broken))

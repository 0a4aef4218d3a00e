"""The resident pages of each community, rendered per request (site/community_view.py) into the
shells the site build made, from the communities the service holds now (kept fresh by
services.CommunityWatcher). An unknown community or page gets the site's own 404 page.

When the water goes off, hundreds of households open the same few pages within minutes: a page is
rendered (and gzip-compressed) once per content version and kept; its ETag names the content
version (the site build and the community files) and the page, so a revisit is a 304 that
renders nothing, and an edited fee changes the ETag at once.
"""

from __future__ import annotations

import gzip
import hashlib
from collections import OrderedDict
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from kb_service.site import communities, community_view
from kb_service.web.middleware.compression import accepts_gzip
from kb_service.web.middleware.headers import build_stamp, site_page
from kb_service.web.services import services

HEADERS = {"Cache-Control": "no-cache"}
KEEP = 2000         # rendered pages kept (about 15 KB each compressed and plain): 500 communities x 4


@dataclass(frozen=True)
class Rendered:
    etag: str
    html: bytes
    gzipped: bytes


def _cache_of(request: Request) -> OrderedDict[tuple[str, str], Rendered]:
    """This app's rendered pages (one cache per app: tests run several apps in one process)."""
    cache = getattr(request.app.state, "community_pages", None)
    if cache is None:
        cache = request.app.state.community_pages = OrderedDict()
    return cache


async def index(request: Request) -> Response:
    return _serve(request, communities.INDEX)


async def page(request: Request) -> Response:
    cid = request.path_params["id"]
    name = request.path_params.get("page", "index")
    return _serve(request, communities.page_uri(cid, name))


async def add_slash(request: Request) -> Response:
    return RedirectResponse(request.url.path + "/", status_code=301)


def content_version(request: Request) -> str:
    svc = services(request)
    watcher = svc.watcher.version if svc.watcher is not None else ""
    return f"{build_stamp(svc.settings.site_dir)}:{watcher}"


def etag_for(version: str, uri: str) -> str:
    return '"' + hashlib.sha1(f"{version}|{uri}".encode()).hexdigest()[:24] + '"'


def _serve(request: Request, uri: str) -> Response:
    site_page(request.scope)      # the built site's shell, with its theme's scripts and policy
    version = content_version(request)
    etag = etag_for(version, uri)
    if etag in _if_none_match(request) and _exists(request, uri):
        return Response(status_code=304, headers={**HEADERS, "ETag": etag})
    _cache = _cache_of(request)
    found = _cache.get((version, uri))
    if found is None:
        html = _render(request, uri)
        if html is None:
            return _not_found(request)
        body = html.encode("utf-8")
        found = Rendered(etag, body, gzip.compress(body, compresslevel=6, mtime=0))
        _cache[(version, uri)] = found
        while len(_cache) > KEEP:
            _cache.popitem(last=False)
    else:
        _cache.move_to_end((version, uri))
    headers = {**HEADERS, "ETag": found.etag, "Vary": "Accept-Encoding"}
    if _accepts_gzip(request):
        return Response(found.gzipped, media_type="text/html; charset=utf-8",
                        headers={**headers, "Content-Encoding": "gzip"})
    return Response(found.html, media_type="text/html; charset=utf-8", headers=headers)


def _exists(request: Request, uri: str) -> bool:
    """Whether `uri` names a community page, without rendering it (a 304 after a restart)."""
    if uri == communities.INDEX:
        return True
    parts = uri.split("/")
    return (len(parts) == 3 and parts[1] in services(request).corpus.communities
            and parts[2].removesuffix(".md") in communities.PAGES)


def _if_none_match(request: Request) -> set[str]:
    raw = request.headers.get("if-none-match", "")
    return {tag.strip().removeprefix("W/") for tag in raw.split(",") if tag.strip()}


def _accepts_gzip(request: Request) -> bool:
    return accepts_gzip(request.headers.get("accept-encoding", ""))


def _render(request: Request, uri: str) -> str | None:
    svc = services(request)
    try:
        shell = community_view.shell_path(svc.settings.site_dir, uri).read_text(encoding="utf-8")
    except OSError:
        return None
    return community_view.render(svc.corpus, uri, shell)


def _not_found(request: Request) -> Response:
    missing = services(request).settings.site_dir / "404.html"
    body = missing.read_text(encoding="utf-8") if missing.exists() else "没有这个页面"
    return HTMLResponse(body, status_code=404)

"""The resident pages of each community, rendered per request (site/community_view.py) into the
shells the site build made, from the communities the service holds now (kept fresh by
services.CommunityWatcher). An unknown community or page gets the site's own 404 page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from kb_service.site import communities, community_view
from kb_service.web.headers import site_page
from kb_service.web.services import services

HEADERS = {"Cache-Control": "no-cache"}


async def index(request: Request) -> Response:
    return _render(request, communities.INDEX)


async def page(request: Request) -> Response:
    cid = request.path_params["id"]
    name = request.path_params.get("page", "index")
    return _render(request, communities.page_uri(cid, name))


async def add_slash(request: Request) -> Response:
    return RedirectResponse(request.url.path + "/", status_code=301)


def _render(request: Request, uri: str) -> Response:
    svc = services(request)
    site_page(request.scope)      # the built site's shell, with its theme's scripts
    site_dir = svc.settings.site_dir
    try:
        shell = community_view.shell_path(site_dir, uri).read_text(encoding="utf-8")
    except OSError:
        shell = None
    html = community_view.render(svc.corpus, uri, shell) if shell is not None else None
    if html is None:
        missing = site_dir / "404.html"
        body = missing.read_text(encoding="utf-8") if missing.exists() else "没有这个页面"
        return HTMLResponse(body, status_code=404)
    return HTMLResponse(html, headers=HEADERS)

"""Application wiring: routes, middleware, error handlers, lifespan. Logic lives elsewhere."""

from __future__ import annotations

import contextlib
import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from . import api
from .errors import KBError
from .settings import Settings

log = logging.getLogger("kb_service")


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        app.state.services = api.Services.open(settings)
        try:
            yield
        finally:
            app.state.services.close()

    api_routes = [
        Route("/health", api.health),
        Route("/search", api.search),
        Route("/scripts/{id}", api.script),
        Route("/templates", api.templates),
        Route("/templates/{id}", api.template),
        Route("/templates/{id}/render", api.render_template, methods=["POST"]),
        Route("/{path:path}", api.not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    ]
    routes = [
        Mount("/api", routes=api_routes),
        Mount("/", app=SiteFiles(directory=settings.site_dir, html=True, check_dir=False), name="site"),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={KBError: kb_error, HTTPException: http_error, Exception: server_error},
        lifespan=lifespan,
    )
    app.state.settings = settings
    return app


class SiteFiles(StaticFiles):
    """The built MkDocs site; unknown paths get the site's own 404 page."""


async def kb_error(request: Request, exc: KBError) -> JSONResponse:
    return JSONResponse(exc.to_json(), status_code=exc.status_code)


async def http_error(request: Request, exc: HTTPException):
    if request.url.path.startswith("/api/") or request.url.path == "/api":
        return JSONResponse({"error": exc.detail or "请求无效"}, status_code=exc.status_code,
                            headers=exc.headers)
    from starlette.responses import PlainTextResponse
    return PlainTextResponse(str(exc.detail), status_code=exc.status_code, headers=exc.headers)


async def server_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"error": "服务器内部错误，请稍后重试；如持续出现请联系管理员"}, status_code=500)

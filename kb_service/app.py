"""Application wiring: routes, middleware, error handlers, lifespan. Logic lives elsewhere."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from . import api, staff_views
from .errors import KBError
from .settings import Settings

log = logging.getLogger("kb_service")


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        app.state.services = services = api.Services.open(settings)
        flusher = asyncio.create_task(flush_gaps(services))
        try:
            yield
        finally:
            flusher.cancel()
            services.close()

    api_routes = [
        Route("/health", api.health),
        Route("/search", api.search),
        Route("/scripts/{id}", api.script),
        Route("/templates", api.templates),
        Route("/templates/{id}", api.template),
        Route("/templates/{id}/render", api.render_template, methods=["POST"]),
        Route("/feedback", api.submit_feedback, methods=["POST"]),
        Route("/improvement-log", api.improvement_log),
        Route("/improvement-log", api.staff_intake, methods=["POST"]),
        Route("/improvement-log/gaps", api.content_gaps),
        Route("/improvement-log/export.csv", staff_views.api_export_csv),
        Route("/improvement-log/stats", staff_views.api_stats),
        Route("/improvement-log/{id}", api.improvement_entry),
        Route("/improvement-log/{id}", api.update_entry, methods=["PATCH"]),
        Route("/{path:path}", api.not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    ]
    routes = [
        Mount("/api", routes=api_routes),
        *staff_views.routes,        # only its own /staff/... paths; the rest of /staff/ is the site's
        Mount("/", app=SiteFiles(directory=settings.site_dir, html=True, check_dir=False), name="site"),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={KBError: kb_error, HTTPException: http_error, Exception: server_error},
        lifespan=lifespan,
    )
    app.state.settings = settings
    return app


async def flush_gaps(services: api.Services, every: float = 5.0) -> None:
    from starlette.concurrency import run_in_threadpool

    while True:
        await asyncio.sleep(every)
        try:
            await run_in_threadpool(services.gaps.flush)
        except Exception:  # a database hiccup must not stop the loop; the next flush retries
            log.exception("could not record search gaps")


class SiteFiles(StaticFiles):
    """The built MkDocs site; unknown paths get the site's own 404 page."""


async def kb_error(request: Request, exc: KBError) -> JSONResponse:
    headers = {"Retry-After": str(exc.extra["retry_after"])} if "retry_after" in exc.extra else None
    if exc.status_code == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="kb-staff"'}
    return JSONResponse(exc.to_json(), status_code=exc.status_code, headers=headers)


async def http_error(request: Request, exc: HTTPException):
    if request.url.path.startswith("/api/") or request.url.path == "/api":
        return JSONResponse({"error": exc.detail or "请求无效"}, status_code=exc.status_code,
                            headers=exc.headers)
    from starlette.responses import PlainTextResponse
    return PlainTextResponse(str(exc.detail), status_code=exc.status_code, headers=exc.headers)


async def server_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"error": "服务器内部错误，请稍后重试；如持续出现请联系管理员"}, status_code=500)

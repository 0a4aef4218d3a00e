"""Application wiring: the route table, middleware, error handlers, lifespan. Logic lives elsewhere."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from kb_service.errors import KBError
from kb_service.settings import Settings
from kb_service.web import access, api, public_pages
from kb_service.web.headers import SecurityHeaders, SiteFiles
from kb_service.web.requestlog import RequestLog
from kb_service.web.timeouts import BodyTimeout
from kb_service.web import staff_pages as staff
from kb_service.web.services import Services

log = logging.getLogger("kb_service")


def routes(settings: Settings) -> list:
    """Every route of the service in one table: the JSON API, the staff pages, then the site."""
    return [
        Mount("/api", routes=[
            Route("/health", api.health),
            Route("/ready", api.ready),
            Route("/search", api.search),
            Route("/scripts/{id}", api.script),
            Route("/templates", api.templates),
            Route("/templates/{id}", api.template),
            Route("/templates/{id}/render", api.render_template, methods=["POST"]),
            Route("/feedback", api.submit_feedback, methods=["POST"]),
            Route("/improvement-log", api.improvement_log),
            Route("/improvement-log", api.staff_intake, methods=["POST"]),
            Route("/improvement-log/gaps", api.content_gaps),
            Route("/improvement-log/export.csv", api.export_csv),
            Route("/improvement-log/stats", api.stats),
            Route("/improvement-log/{id}", api.improvement_entry),
            Route("/improvement-log/{id}", api.update_entry, methods=["PATCH"]),
            Route("/{path:path}", api.not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ]),
        # The built site has /staff/ (员工专区), /staff/lookup/ and /staff/fill/: the service takes
        # only these full paths under /staff/ and leaves everything else there to the site.
        # 你说我改: the built page with its log part rendered from the shared database per request.
        Route("/residents/changes/", public_pages.changes),
        Route("/residents/changes/index.html", public_pages.changes),
        Route("/staff/login", staff.login_form),
        Route("/staff/login", staff.login, methods=["POST"]),
        Route("/staff/logout", staff.logout, methods=["POST"]),
        Route("/staff/entries", staff.list_redirect),
        Route(staff.LIST, staff.entry_list),
        Route("/staff/entries/{id}", staff.entry_detail),
        Route("/staff/entries/{id}", staff.entry_update, methods=["POST"]),
        Route("/staff/intake", staff.intake_form),
        Route("/staff/intake", staff.intake, methods=["POST"]),
        Route("/staff/export.csv", staff.export),
        Route("/staff/dashboard", staff.dashboard),
        Route("/staff/gaps", staff.gaps),
        Mount("/", app=SiteFiles(directory=settings.site_dir, html=True, check_dir=False), name="site"),
    ]


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        app.state.services = services = Services.open(settings)
        flusher = asyncio.create_task(flush_gaps(services))
        try:
            yield
        finally:
            flusher.cancel()
            services.close()

    app = Starlette(
        routes=routes(settings),
        middleware=middleware(settings),
        exception_handlers={KBError: kb_error, HTTPException: http_error, Exception: server_error},
        lifespan=lifespan,
    )
    app.state.settings = settings
    return app


def middleware(settings: Settings) -> list[Middleware]:
    """Outermost first: the request log, security headers on every response, the real client address (trusted
    proxies only), then who is staff."""
    stack = [Middleware(RequestLog, target=settings.request_log), Middleware(SecurityHeaders, site_dir=settings.site_dir), Middleware(BodyTimeout)]
    if settings.trusted_proxies:
        stack.append(Middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies)))
    stack.append(Middleware(AuthenticationMiddleware, backend=access.StaffBackend(), on_error=access.on_auth_error))
    return stack


async def flush_gaps(services: Services, every: float = 5.0) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await run_in_threadpool(services.gaps.flush)
        except Exception:  # a database hiccup must not stop the loop; the next flush retries
            log.exception("could not record search gaps")


async def kb_error(request: Request, exc: KBError) -> JSONResponse:
    headers = {"Retry-After": str(exc.extra["retry_after"])} if "retry_after" in exc.extra else None
    if exc.status_code == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="kb-staff"'}
    return JSONResponse(exc.to_json(), status_code=exc.status_code, headers=headers)


async def http_error(request: Request, exc: HTTPException):
    if request.url.path.startswith("/api/") or request.url.path == "/api":
        return JSONResponse({"error": exc.detail or "请求无效"}, status_code=exc.status_code,
                            headers=exc.headers)
    return PlainTextResponse(str(exc.detail), status_code=exc.status_code, headers=exc.headers)


async def server_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"error": "服务器内部错误，请稍后重试；如持续出现请联系管理员"}, status_code=500)

"""Application wiring: the route table, middleware, error handlers, lifespan. Logic lives elsewhere."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import ClientDisconnect
from starlette.routing import Mount, Route
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from kb_service.errors import KBError
from kb_service.settings import Settings
from kb_service.web import access, error_pages, openapi, unavailable
from kb_service.web.api import api, calls
from kb_service.web.middleware.compression import Compression
from kb_service.web.middleware.headers import SecurityHeaders, SiteFiles
from kb_service.web.middleware.requestlog import RequestLog
from kb_service.web.middleware.timeouts import BodyTimeout
from kb_service.web.pages import community_pages, notices, public_pages, resident_pages, site_search, staff_pages
from kb_service.web.pages.preview import InjectReloadScript, Preview, build_status, reload_script
from kb_service.web.services import Services

log = logging.getLogger("kb_service")


def routes(settings: Settings, *, preview: bool = False) -> list:
    """Every route of the service in one table: the JSON API, the staff pages, then the site."""
    preview_routes = [Route("/build-status", build_status), Route("/preview.js", reload_script)] if preview else []
    return [
        Mount("/api", routes=[
            *preview_routes,
            Route("/health", api.health),
            Route("/communities", api.community_list),
            Route("/ready", api.ready),
            Route("/search", api.search),
            Route("/lookup", calls.lookup_settings),
            Route("/lookup/picks", calls.record_pick, methods=["POST"]),
            Route("/staff/session", calls.staff_session),
            Route("/scripts/{id}", api.script),
            Route("/templates", api.template_list),
            Route("/templates/{id}", api.template),
            Route("/templates/{id}/render", api.render_template, methods=["POST"]),
            Route("/feedback", api.submit_feedback, methods=["POST"]),
            Route("/feedback/status", resident_pages.feedback_status, methods=["POST"]),
            Route("/feedback/comment", resident_pages.page_comment, methods=["POST"]),
            Route("/notices", notices.api_list),
            Route("/notices", notices.api_publish, methods=["POST"]),
            Route("/notices/{id}", notices.api_get),
            Route("/notices/{id}", notices.api_correct, methods=["PATCH"]),
            Route("/notices/{id}", notices.api_withdraw, methods=["DELETE"]),
            Route("/improvement-log", api.improvement_log),
            Route("/improvement-log", api.staff_intake, methods=["POST"]),
            Route("/improvement-log/gaps", api.content_gaps),
            Route("/improvement-log/export.csv", api.export_csv),
            Route("/improvement-log/stats", api.stats),
            Route("/improvement-log/{id}", api.improvement_entry),
            Route("/improvement-log/{id}", api.update_entry, methods=["PATCH"]),
            Route("/openapi.json", openapi.openapi_json),
            Route("/docs", openapi.api_docs),
            Route("/{path:path}", api.not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ]),
        # The built site has /staff/ (员工专区), /staff/lookup/ and /staff/fill/: the service takes
        # only these full paths under /staff/ and leaves everything else there to the site.
        # 你说我改: the built page with its log part rendered from the shared database per request.
        Route("/residents/changes/", public_pages.changes),
        Route("/residents/changes/index.html", public_pages.changes),
        Route("/staff/login", staff_pages.login_form),
        Route("/staff/login", staff_pages.login, methods=["POST"]),
        Route("/staff/logout", staff_pages.logout, methods=["POST"]),
        Route("/staff/entries", staff_pages.list_redirect),
        Route(staff_pages.LIST, staff_pages.entry_list),
        Route("/staff/entries/{id}", staff_pages.entry_detail),
        Route("/staff/entries/{id}", staff_pages.entry_update, methods=["POST"]),
        Route("/staff/intake", staff_pages.intake_form),
        Route("/staff/intake", staff_pages.intake, methods=["POST"]),
        Route("/staff/export.csv", staff_pages.export),
        Route("/staff/dashboard", staff_pages.dashboard),
        Route("/staff/gaps", staff_pages.gaps),
        # Community pages are rendered per request into the shells the site build made.
        Route("/communities/", community_pages.index),
        Route("/communities/{id}", community_pages.add_slash),
        Route("/communities/{id}/", community_pages.page),
        Route("/communities/{id}/{page}", community_pages.add_slash),
        Route("/communities/{id}/{page}/", community_pages.page),
        Route("/staff/notices", notices.slash),
        Route("/staff/notices/", notices.staff_board),
        Route("/staff/notices/", notices.staff_publish, methods=["POST"]),
        Route("/staff/notices/{id}", notices.staff_notice),
        Route("/staff/notices/{id}", notices.staff_change, methods=["POST"]),
        # The resident's progress page (POST /api/feedback/status redirects to ?ref=<reference>)
        Route("/residents/status/", resident_pages.view),
        Route("/residents/status/", resident_pages.view_action, methods=["POST"]),
        # 小区公告: rendered from the database at request time, so every node shows the same board
        Route("/notices", notices.slash),
        Route("/notices/", notices.board_page),
        Route("/notices/{id}", notices.slash),
        Route("/notices/{id}/", notices.notice_page),
        Route("/notices/{id}/print", notices.print_page),
        # the site search's index, with the current notices in it (web/pages/site_search.py)
        Route("/search/search_index.json", site_search.index),
        Route("/search.json", site_search.zensical_index),       # Zensical's
        Mount("/", app=SiteFiles(directory=settings.site_dir, html=True, check_dir=False), name="site"),
    ]


def create_app(settings: Settings | None = None, *, preview: bool = False) -> Starlette:
    """`preview`: follow edits (kb serve --reload): rebuild, reload the content, refresh pages."""
    settings = settings or Settings.from_env()
    watcher = Preview(settings) if preview else None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        app.state.services = services = Services.open(settings)
        # What a worker loads at start (content, index, postings: some 450,000 objects the collector
        # tracks) lives as long as the worker: kept out of the collector's full passes, each of which
        # walked all of it, a stall of 80 ms or more for the request that set it off (bench/gc_pause.py).
        gc.freeze()
        flusher = asyncio.create_task(flush_gaps(services))
        if watcher is not None:
            watcher.start(services)
        community_watcher = asyncio.create_task(watch_communities(services))
        try:
            yield
        finally:
            flusher.cancel()
            if watcher is not None:
                watcher.stop()
            community_watcher.cancel()
            services.close()
            gc.unfreeze()

    app = Starlette(
        routes=routes(settings, preview=preview),
        middleware=middleware(settings, preview=preview),
        exception_handlers={KBError: error_pages.kb_error, HTTPException: error_pages.http_error,
                            Exception: error_pages.server_error,
                            ClientDisconnect: unavailable.client_abort,
                            **{cls: unavailable.database_down for cls in unavailable.DOWN}},
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.preview = watcher
    return app


def middleware(settings: Settings, *, preview: bool = False) -> list[Middleware]:
    """Outermost first: the request log, compression (web/middleware/compression.py), security headers on every
    response, the real client address (trusted proxies only), then who is staff; in preview mode the
    page-reload script."""
    stack = [Middleware(RequestLog, target=settings.request_log), Middleware(Compression),
             Middleware(SecurityHeaders, site_dir=settings.site_dir), Middleware(BodyTimeout)]
    if preview:
        stack.append(Middleware(InjectReloadScript))
    if settings.trusted_proxies:
        stack.append(Middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies)))
    stack.append(Middleware(AuthenticationMiddleware, backend=access.StaffBackend(), on_error=access.on_auth_error))
    return stack


async def flush_gaps(services: Services, every: float = 5.0) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await run_in_threadpool(services.gaps.flush)
            await run_in_threadpool(services.picks.reload_if_due)
        except Exception:  # a database hiccup must not stop the loop; the next flush retries
            log.exception("could not record search gaps")


async def watch_communities(services: Services, every: float = 1.0) -> None:
    """An edited community file is served within about a second (web/services.CommunityWatcher)."""
    try:
        await run_in_threadpool(services.watcher.prime)
    except Exception:
        log.exception("could not read the communities")
    while True:
        await asyncio.sleep(every)
        try:
            await run_in_threadpool(services.watcher.refresh)
        except Exception:  # a half-written file or a disk hiccup: try again next time
            log.exception("could not reload the communities")



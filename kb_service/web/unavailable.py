"""When the database is down or cannot write (PostgreSQL stopped, SQLite locked past its busy
timeout, a full disk): 503 with Retry-After and a message in Chinese that says plainly that
nothing was saved and to try again, never a 500. The feedback form's page keeps what the
resident typed, so nothing has to be written twice. A client that goes away in the middle of
sending its body is logged as a client abort (499, as nginx does), not as a server error."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from kb_service.web import error_pages

log = logging.getLogger("kb_service")

RETRY_AFTER = 10
# What the database driver raises when it cannot be reached or cannot write; SQLAlchemy's pool
# timeout too (every connection stuck waiting on a database that does not answer).
DOWN = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)
SAFE = ("GET", "HEAD", "OPTIONS")
# SQLite reports a missing table as an OperationalError too: that is a bug (500), not an outage.
SQLITE_OUTAGES = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_FULL", "SQLITE_IOERR", "SQLITE_CANTOPEN",
                  "SQLITE_READONLY", "SQLITE_PROTOCOL", "SQLITE_NOMEM")


def is_down(exc: Exception) -> bool:
    """Whether a database error means "cannot be reached or cannot write now" (try again later)."""
    if isinstance(exc, (sa.exc.InterfaceError, sa.exc.TimeoutError)):
        return True
    if not isinstance(exc, sa.exc.OperationalError):
        return False
    name = getattr(exc.orig, "sqlite_errorname", None)
    if name is not None:
        return name.startswith(SQLITE_OUTAGES)
    return True          # PostgreSQL: OperationalError is the connection or the server going away


def message(method: str) -> str:
    if method in SAFE:
        return f"数据库暂时无法使用，请约 {RETRY_AFTER} 秒后刷新重试；如果一直这样，请拨打物业服务电话。"
    return (f"数据库暂时无法使用：这次提交的内容没有保存。请约 {RETRY_AFTER} 秒后再提交一次；"
            "如果一直这样，请拨打物业服务电话。")


def headers() -> dict[str, str]:
    return {"Retry-After": str(RETRY_AFTER), "Cache-Control": "no-store"}


async def database_down(request: Request, exc: Exception) -> Response:
    if not is_down(exc):
        return await error_pages.server_error(request, exc)
    # The statement's parameters are never in the message (engines use hide_parameters).
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path,
                type(getattr(exc, "orig", exc)).__name__)
    return response(request)


def response(request) -> Response:
    """The 503 itself: an HTML page on staff pages and for browsers, JSON elsewhere."""
    text = message(request.method if hasattr(request, "method") else request.scope["method"])
    if request.url.path.startswith("/staff/") or error_pages.wants_page(request):
        return error_pages.page(request, 503, text, headers())
    return JSONResponse({"error": text, "saved": False}, status_code=503, headers=headers())


async def client_abort(request: Request, exc: ClientDisconnect) -> Response:
    log.info("client closed the connection before sending the whole body: %s %s", request.method, request.url.path)
    return Response(status_code=499)

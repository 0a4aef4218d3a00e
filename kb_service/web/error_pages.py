"""What a refused or failed request answers: JSON for the API and for programs, a page in the
site's words for a person's browser on any other address (a staff page in the staff look), so a
mistyped link or a stale bookmark never shows raw JSON to a resident."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from kb_service.errors import KBError
from kb_service.site import templates

log = logging.getLogger("kb_service")
SERVER_ERROR = "服务器内部错误，请稍后重试；如持续出现请联系管理员"
TITLES = {400: "请求有误", 401: "需要登录", 403: "操作被拒绝", 404: "没有找到", 405: "不能这样访问", 409: "现在不能这样做",
          413: "内容太多", 415: "格式不对", 422: "请补全后再提交", 429: "太频繁了", 500: "出错了",
          503: "数据库暂时无法使用"}


def wants_page(request) -> bool:
    """A person's browser asking for a page, not the API or a program (which get JSON)."""
    path = request.url.path
    return not (path == "/api" or path.startswith("/api/")) and "text/html" in request.headers.get("accept", "")


def page(request, status_code: int, text: str, headers: dict | None = None) -> Response:
    svc = getattr(request.app.state, "services", None)
    site = svc.corpus.site if svc else None
    title = TITLES.get(status_code, "请求有误")
    if request.url.path.startswith("/staff/"):
        html = templates.render("staff_message.html", site=site, staff_name=None, csrf="", title=title, text=text)
    elif site is not None:
        html = templates.render("message.html", site=site, title=title, text=text)
    else:       # still starting: no content loaded to name the company
        return PlainTextResponse(f"{title}：{text}", status_code=status_code, headers=headers)
    return HTMLResponse(html, status_code=status_code, headers=headers)


async def kb_error(request: Request, exc: KBError) -> Response:
    headers = {"Retry-After": str(exc.extra["retry_after"])} if "retry_after" in exc.extra else None
    if exc.status_code == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="kb-staff"'}
    if wants_page(request):
        return page(request, exc.status_code, exc.message, headers)
    return JSONResponse(exc.to_json(), status_code=exc.status_code, headers=headers)


async def http_error(request: Request, exc: HTTPException) -> Response:
    if request.url.path.startswith("/api/") or request.url.path == "/api":
        return JSONResponse({"error": exc.detail or "请求无效"}, status_code=exc.status_code,
                            headers=exc.headers)
    return PlainTextResponse(str(exc.detail), status_code=exc.status_code, headers=exc.headers)


async def server_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    if wants_page(request):
        return page(request, 500, SERVER_ERROR)
    return JSONResponse({"error": SERVER_ERROR}, status_code=500)

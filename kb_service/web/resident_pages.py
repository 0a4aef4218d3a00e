"""Residents' progress look-up: `POST /api/feedback/status` (JSON, or a plain form from the site's
查询进度 page, answered with an HTML page) and the page widget's comment after its vote.

The logic is in feedback/status.py; here: the per-address request rate (in memory, per process,
on top of the failure limits kept in the database), parsing, and JSON or HTML out.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from kb_service.errors import KBError, ValidationFailed
from kb_service.feedback import status as progress
from kb_service.web import params
from kb_service.web import templates as views
from kb_service.web.guards import RateLimiter, check_same_origin
from kb_service.web.services import services

# Every look-up (right or wrong) per client address per minute, per process: a flood guard (each
# check costs a 10 ms hash), not a lock-out. High enough that the households behind one carrier
# NAT never meet it together; guessing is limited per reference (feedback/status.py).
LOOKUPS_PER_MINUTE = 60
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
            "Content-Security-Policy": views.CSP}
FLOOD = "同一网络（同一 IP）的查询太频繁：每分钟最多 {limit} 次，请 {retry} 秒后再试"
TITLES = {404: "没有查到", 422: "请补全后再查询", 429: "查询太频繁", 409: "现在不能这样做", 413: "内容太多",
          415: "格式不对", 403: "操作被拒绝"}


def _limiter(request: Request) -> RateLimiter:
    state = request.app.state
    if not hasattr(state, "status_limiter"):
        state.status_limiter = RateLimiter(LOOKUPS_PER_MINUTE, message=FLOOD)
    return state.status_limiter


async def feedback_status(request: Request) -> Response:
    svc = services(request)
    wants_html = False
    try:
        check_same_origin(request.headers, str(request.base_url))
        data, from_form = await params.read_submission(request)
        wants_html = from_form and "text/html" in request.headers.get("accept", "")
        address = params.client_address(request)
        _limiter(request).hit(address)
        query = progress.parse_query(data)
        if query.action == "not_satisfied":
            result = await run_in_threadpool(lambda: progress.not_satisfied(svc.store, query, address, clock=svc.limits.clock))
            notice = "已收到：这条反馈已重新回到“处理中”，负责团队会继续处理。"
        else:
            result = await run_in_threadpool(lambda: progress.look_up(svc.store, query, address, clock=svc.limits.clock))
            notice = None
    except KBError as exc:
        if not wants_html:
            raise
        errors = exc.errors if isinstance(exc, ValidationFailed) else []
        html = views.render("status_result.html", site=svc.corpus.site, s=None, q=None, notice=None,
                            title=TITLES.get(exc.status_code, "请求有误"), text=exc.message, errors=errors)
        headers = dict(NO_STORE)
        if "retry_after" in exc.extra:
            headers["Retry-After"] = str(exc.extra["retry_after"])
        return HTMLResponse(html, status_code=exc.status_code, headers=headers)
    if wants_html:
        return HTMLResponse(views.render("status_result.html", site=svc.corpus.site, s=result, q=query,
                                         notice=notice), headers=NO_STORE)
    return JSONResponse(result, headers={"Cache-Control": "no-store"})


async def page_comment(request: Request) -> JSONResponse:
    """POST /api/feedback/comment {reference, access_code, comment}: the comment after a page vote."""
    svc = services(request)
    check_same_origin(request.headers, str(request.base_url))
    address = params.client_address(request)
    _limiter(request).hit(address)
    query = progress.parse_query(await params.read_json(request))
    return JSONResponse(await run_in_threadpool(lambda: progress.add_page_comment(svc.store, query, address,
                                                                                clock=svc.limits.clock)))

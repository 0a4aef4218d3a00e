"""Residents' progress look-up: `POST /api/feedback/status` (JSON, or a plain form from the site's
查询进度 page, answered with an HTML page) and the page widget's comment after its vote.

The logic is in feedback/status.py; here: the per-address request rate (in memory, per process,
on top of the failure limits kept in the database), parsing, and JSON or HTML out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from urllib.parse import quote

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from kb_service.db import service_secret
from kb_service.errors import KBError, NotFound, ValidationFailed
from kb_service.feedback import status
from kb_service.inputs import Body
from kb_service.web import params
from kb_service.web.api import queries
from kb_service.site import templates
from kb_service.web.middleware.guards import RateLimiter, check_same_origin
from kb_service.web.middleware.headers import site_page
from kb_service.web.services import services

# Every look-up (right or wrong) per client address per minute, per process: a flood guard (each
# check costs a 10 ms hash), not a lock-out. High enough that the households behind one carrier
# NAT never meet it together; guessing is limited per reference (feedback/status.py).
LOOKUPS_PER_MINUTE = 60
FLOOD = "同一网络（同一 IP）的查询太频繁：每分钟最多 {limit} 次，请 {retry} 秒后再试"
NO_STORE = {"Cache-Control": "no-store"}
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
    values: dict = {}
    query = None
    try:
        check_same_origin(request.headers, str(request.base_url))
        data, from_form = await params.read_submission(request)
        wants_html = from_form and "text/html" in request.headers.get("accept", "")
        values = {k: data.get(k) for k in ("reference", "access_code", "phone_last4") if isinstance(data.get(k), str)}
        address = params.client_address(request)
        _limiter(request).hit(address)
        query = status.parse_query(data)
        if query.action == "not_satisfied":
            result = await run_in_threadpool(
                lambda: status.not_satisfied(svc.store, query, address, clock=svc.limits.clock))
        else:
            result = await run_in_threadpool(
                lambda: status.look_up(svc.store, query, address, clock=svc.limits.clock))
    except KBError as exc:
        if not wants_html:
            raise
        if query is not None and isinstance(exc, (NotFound, status.TooManyAttempts)):
            # POST, then a page again: reload, back and a bookmark show this answer (tries left
            # counted afresh) and never send the code a second time.
            return RedirectResponse(view_url(query.reference) + f"&wrong={query.method}", status_code=303,
                                    headers=PAGE_HEADERS)
        headers = dict(PAGE_HEADERS)
        if "retry_after" in exc.extra:
            headers["Retry-After"] = str(exc.extra["retry_after"])
        site_page(request.scope)      # the site's own status page: its theme's scripts and policy
        html = status_page(svc, error=exc.message, title=TITLES.get(exc.status_code, "请求有误"), values=values,
                           errors=exc.errors if isinstance(exc, ValidationFailed) else [],
                           tries_left=getattr(exc, "tries_left", None))
        return HTMLResponse(html, status_code=exc.status_code, headers=headers)
    if wants_html:
        # POST, then a page of the site that survives reload, back and a bookmark: its address
        # carries the reference only; this device may see it for VIEW_DAYS (a signed cookie).
        ok = "&ok=reopened" if query.action == "not_satisfied" else ""
        return _to_view(request, svc, result["reference"], ok)
    return JSONResponse(result, headers={"Cache-Control": "no-store"})


# -- the status page (/residents/status/<reference>/) ---------------------------------------------------

VIEW_COOKIE = "kb_status"
VIEW_DAYS = 30
VIEW_KEEP = 5                      # references one device remembers
PAGE_HEADERS = {"Cache-Control": "no-store"}   # security headers come from the middleware (web/middleware/headers.py)
COMMENT = Body(tuple(i for i in status.QUERY.inputs if i.name == "comment"))
USED_UP = ("这个编号的查询错误次数太多，为防止他人猜测查询码，暂时不能再查（最长约 1 小时，用电话后四位查询时更久）。"
           "请核对编号和查询码后稍后再试；着急的话请拨打物业服务电话查询。")
NOTICES = {"reopened": "已收到：这条反馈已重新回到“处理中”，负责团队会继续处理。"}
STATUS_DONE = queries.done(NOTICES)


def _sign(svc, reference: str, expiry: int) -> str:
    key = service_secret(svc.store.engine, "status-view")
    digest = hmac.new(key, f"{reference}.{expiry}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def _views(svc, cookie: str | None, now: int) -> dict[str, int]:
    """reference -> expiry for the valid entries of the cookie."""
    out = {}
    for part in (cookie or "").split("|")[:VIEW_KEEP]:
        ref, _, rest = part.partition(".")
        expiry, _, sig = rest.partition(".")
        if status.REFERENCE.match(ref) and expiry.isdecimal() and int(expiry) > now \
                and hmac.compare_digest(sig, _sign(svc, ref, int(expiry))):
            out[ref] = int(expiry)
    return out


def view_url(reference: str) -> str:
    """The page of one look-up: the site's 查询进度 page itself (same depth, so the built page's
    relative links hold), with the reference, never the code, in the address."""
    return f"/residents/status/?ref={quote(reference, safe='')}"


def _to_view(request: Request, svc, reference: str, ok: str = "") -> Response:
    now = int(time.time())
    views_ = _views(svc, request.cookies.get(VIEW_COOKIE), now)
    views_.pop(reference, None)
    views_[reference] = now + VIEW_DAYS * 86400
    value = "|".join(f"{r}.{e}.{_sign(svc, r, e)}" for r, e in list(views_.items())[-VIEW_KEEP:])
    response = RedirectResponse(view_url(reference) + ok, status_code=303, headers=PAGE_HEADERS)
    response.set_cookie(VIEW_COOKIE, value, max_age=VIEW_DAYS * 86400, path="/residents/status/", httponly=True,
                        samesite="lax", secure=request.url.scheme == "https")
    return response


def status_page(svc, *, s: dict | None = None, values: dict | None = None, **context) -> str:
    """The site's 查询进度 page with the result or the error in place of its form (the page as
    built, so it has the site's menu and look)."""
    part = templates.render("status_part.html", s=s, v=values or {}, hotline=svc.corpus.site.hotline,
                            **{"error": None, "title": None, "errors": [], "tries_left": None, "notice": None, **context})
    try:
        shell = (svc.settings.site_dir / "residents" / "status" / "index.html").read_text(encoding="utf-8")
    except OSError:
        shell = ""
    form = re.search(r'<form[^>]*id="kb-status-form".*?</form>', shell, re.S)
    if form is None:     # no built site: the service's own plain page
        return templates.render("status_result.html", site=svc.corpus.site, title=context.get("title") or "查询进度",
                                part=Markup(part))
    return shell[:form.start()] + part + shell[form.end():]


async def view(request: Request) -> Response:
    """GET /residents/status/?ref=<reference>: the progress, for a device that looked it up
    before; otherwise the form with the reference filled in. Without ?ref= the page as built."""
    site_page(request.scope)
    svc = services(request)
    asked = (queries.STATUS_VIEW + STATUS_DONE).read(request.query_params)
    reference = asked["ref"].replace(" ", "").upper()
    if not reference:
        try:
            shell = (svc.settings.site_dir / "residents" / "status" / "index.html").read_text(encoding="utf-8")
        except OSError:
            shell = status_page(svc)
        return HTMLResponse(shell, headers={"Cache-Control": "no-cache"})
    wrong = asked["wrong"]
    if wrong is not None:      # after a wrong try (feedback_status above)
        query = status.Query(reference, "" if wrong == "code" else None, "" if wrong == "phone" else None)
        left = await run_in_threadpool(lambda: status.tries_left(svc.store.engine, query, params.client_address(request),
                                                                 now=svc.limits.clock()))
        error, title = (status.NOT_FOUND, TITLES[404]) if left else (USED_UP, TITLES[429])
        html = status_page(svc, values={"reference": reference}, error=error, title=title, tries_left=left or None)
        return HTMLResponse(html, headers=PAGE_HEADERS)
    allowed = reference in _views(svc, request.cookies.get(VIEW_COOKIE), int(time.time()))
    row = await run_in_threadpool(status.row_for, svc.store.engine, reference) if allowed else None
    if row is None:
        html = status_page(svc, values={"reference": reference if status.REFERENCE.match(reference) else ""},
                           notice="请填写查询码（或手机号后四位）查看这条反馈的进度。")
        return HTMLResponse(html, headers=PAGE_HEADERS)
    result = await run_in_threadpool(status.public_status, svc.store, row)
    notice = NOTICES.get(asked["ok"])
    return HTMLResponse(status_page(svc, s=result, notice=notice), headers=PAGE_HEADERS)


async def view_action(request: Request) -> Response:
    """POST /residents/status/?ref=<reference>: "not satisfied" from the status page (the signed
    cookie proves the device looked the entry up with its code)."""
    site_page(request.scope)
    svc = services(request)
    check_same_origin(request.headers, str(request.base_url))
    reference = queries.STATUS_VIEW.read(request.query_params)["ref"].replace(" ", "").upper()
    data, _ = await params.read_submission(request)
    back = RedirectResponse(view_url(reference) if reference else "/residents/status/", status_code=303,
                            headers=PAGE_HEADERS)
    if reference not in _views(svc, request.cookies.get(VIEW_COOKIE), int(time.time())):
        return back
    # the comment is the progress query's declared input (its limit, no control characters): 422
    comment = COMMENT.read({"comment": data.get("comment")})["comment"]
    row = await run_in_threadpool(status.row_for, svc.store.engine, reference)
    if row is None or data.get("action") != "not_satisfied":
        return back
    try:
        await run_in_threadpool(lambda: status.reopen(svc.store, row, comment))
    except KBError as exc:
        result = await run_in_threadpool(status.public_status, svc.store, row)
        return HTMLResponse(status_page(svc, s=result, error=exc.message, title=TITLES.get(exc.status_code, "请求有误")),
                            status_code=exc.status_code, headers=PAGE_HEADERS)
    return RedirectResponse(view_url(reference) + "&ok=reopened", status_code=303, headers=PAGE_HEADERS)


async def page_comment(request: Request) -> JSONResponse:
    """POST /api/feedback/comment {reference, access_code, comment}: the comment after a page vote."""
    svc = services(request)
    check_same_origin(request.headers, str(request.base_url))
    address = params.client_address(request)
    _limiter(request).hit(address)
    query = status.parse_query(await params.read_json(request))
    return JSONResponse(await run_in_threadpool(lambda: status.add_page_comment(svc.store, query, address,
                                                                                clock=svc.limits.clock)))

"""The 小区公告 board over HTTP: the staff API (bearer token), the public pages rendered from the
database at request time (/notices/, /notices/{id}/, /notices/{id}/print), and the staff pages
(/staff/notices/) that publish, correct and withdraw with a session.
"""

from __future__ import annotations

import gzip
import hashlib
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from kb_service import inputs
from kb_service.errors import KBError, NotFound, ValidationFailed
from kb_service.feedback import notices
from kb_service.times import naive_utc, utcnow
from kb_service.web import access, params
from kb_service.web.api import queries
from kb_service.web.pages import site_search
from kb_service.web.middleware.compression import accepts_gzip
from kb_service.site import templates
from kb_service.web.services import services
from kb_service.web.pages.staff_pages import page as staff_html
from kb_service.web.pages.staff_pages import see_other, staff_page

PUBLIC = {"Cache-Control": "no-cache"}
LABELS = {"title": "标题", "body": "正文", "community": "小区", "valid_from": "生效时间", "valid_until": "截止时间",
          "reason": "更正原因", "withdraw_reason": "撤回原因"}
BOARD_DONE = queries.done({"published": "已发布", "withdrawn": "已撤回", "corrected": "已更正"})
NOTICE_DONE = queries.done({"published": "已发布：把下面的链接发到业主群即可", "corrected": "已更正"})


def notice_id(request: Request) -> int:
    return inputs.path_id(request)


COMMUNITY = inputs.Query((inputs.Choice("community", "小区", "只看这个小区和全公司的公告", options=notices.communities),))


def _community(request: Request) -> str | None:
    return COMMUNITY.read(request.query_params, services(request).corpus)["community"]


# -- API ----------------------------------------------------------------------------------------------

async def api_list(request: Request) -> JSONResponse:
    """Public: the board as JSON (the home page's current notices come from here)."""
    svc = services(request)
    data = await run_in_threadpool(lambda: notices.board(svc.store.engine, community=_community(request)))
    return JSONResponse(named(data, notices.communities(svc.corpus)), headers={"Cache-Control": "no-cache"})


def named(data: dict, names: dict[str, str]) -> dict:
    """Each notice with the name of its community ("全部小区" for company-wide ones), so every
    list says whose notice it is."""
    for items in data.values():
        for n in items:
            n["community_name"] = names.get(n["community"], n["community"]) if n["community"] else ALL
    return data


ALL = "全部小区"


async def api_get(request: Request) -> JSONResponse:
    svc = services(request)
    nid = notice_id(request)
    return JSONResponse(await run_in_threadpool(lambda: notices.get(svc.store.engine, nid)))


@access.requires("log:read")
async def api_publish(request: Request) -> JSONResponse:
    actor = request.user.name
    svc = services(request)
    draft = notices.parse_draft(await params.read_json(request), svc.corpus)
    access.check_community(request, draft.community)
    nid = await run_in_threadpool(lambda: notices.publish(svc.store.engine, draft, actor=actor))
    _changed(request)
    return JSONResponse({"id": nid, "url": f"/notices/{nid}/", "warnings": list(draft.warnings)}, status_code=201)


@access.requires("log:read")
async def api_correct(request: Request) -> JSONResponse:
    actor = request.user.name
    svc = services(request)
    nid = notice_id(request)
    body = await params.read_json(request)
    current = await run_in_threadpool(lambda: _current(svc, nid))
    access.check_community(request, current["community"])
    draft = notices.parse_draft(body, svc.corpus, partial=current)
    access.check_community(request, draft.community)
    await run_in_threadpool(lambda: notices.correct(svc.store.engine, nid, draft, actor=actor))
    _changed(request)
    out = await run_in_threadpool(lambda: notices.get(svc.store.engine, nid, staff=True))
    return JSONResponse({**out, "warnings": list(draft.warnings)})


@access.requires("log:read")
async def api_withdraw(request: Request) -> JSONResponse:
    actor = request.user.name
    svc = services(request)
    nid = notice_id(request)
    access.check_community(request, (await run_in_threadpool(lambda: _current(svc, nid)))["community"])
    # The reason residents see: {"reason": "..."} (optional, for callers that send no body).
    sent = request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers
    body = await params.read_json(request) if sent else {}
    reason = notices.WITHDRAWAL.read(body if isinstance(body, dict) else {"reason": body})["reason"]
    await run_in_threadpool(lambda: notices.withdraw(svc.store.engine, nid, actor=actor, reason=reason))
    _changed(request)
    return JSONResponse({"id": nid, "withdrawn": True})


def _current(svc, nid: int) -> dict:
    """The notice's stored values, as parse_draft's `partial` for a correction."""
    got = notices.get(svc.store.engine, nid, staff=True)
    return {"title": got["title"], "body": got["body"], "community": got["community"], "template": got["template"],
            "valid_from": _naive(got["valid_from"]), "valid_until": _naive(got["valid_until"])}


def _naive(value: str | None):
    """An ISO UTC time from notices.get back to naive UTC."""
    return naive_utc(value) if value else None


# -- public pages ---------------------------------------------------------------------------------------

# The board is what a whole community opens when the water goes off: rendered (and gzipped) at
# most once per FRESH seconds per worker and community, at once again after a change made through
# this worker; other workers show a change within FRESH seconds. An ETag makes a revisit a 304.
FRESH = 5.0


def _changed(request: Request) -> None:
    """A notice was published, corrected or withdrawn through this worker."""
    site_search.forget(request)
    request.app.state.notice_boards = {}


async def board_page(request: Request) -> Response:
    svc = services(request)
    try:
        community = _community(request)
    except KBError:
        community = None
    boards = getattr(request.app.state, "notice_boards", None)
    if boards is None:
        boards = request.app.state.notice_boards = {}
    now = time.monotonic()
    cached = boards.get(community)
    if cached is None or now - cached[0] > FRESH:
        names = notices.communities(svc.corpus)
        data = named(await run_in_threadpool(lambda: notices.board(svc.store.engine, community=community)), names)
        html = templates.render("notice_board.html", site=svc.corpus.site, b=data, communities=names,
                                community=community, now=utcnow(), hotline=hotline_for(svc.corpus, community))
        body = html.encode("utf-8")
        etag = '"' + hashlib.sha1(body).hexdigest()[:24] + '"'
        cached = boards[community] = (now, etag, body, gzip.compress(body, compresslevel=6, mtime=0))
    _, etag, body, gzipped = cached
    headers = {**PUBLIC, "ETag": etag, "Vary": "Accept-Encoding"}
    if etag in [t.strip().removeprefix("W/") for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    if accepts_gzip(request.headers.get("accept-encoding", "")):
        return Response(gzipped, media_type="text/html; charset=utf-8", headers={**headers, "Content-Encoding": "gzip"})
    return Response(body, media_type="text/html; charset=utf-8", headers=headers)


async def notice_page(request: Request) -> Response:
    return await _one(request, "notice.html")


async def print_page(request: Request) -> Response:
    return await _one(request, "notice_print.html")


async def _one(request: Request, template: str) -> Response:
    svc = services(request)
    try:
        nid = notice_id(request)
        n = await run_in_threadpool(lambda: notices.get(svc.store.engine, nid))
    except NotFound:
        html = templates.render("notice.html", site=svc.corpus.site, n=None, communities={})
        return HTMLResponse(html, status_code=404, headers=PUBLIC)
    html = templates.render(template, site=svc.corpus.site, n=n, communities=notices.communities(svc.corpus),
                            hotline=hotline_for(svc.corpus, n.get("community")), numbers=shown_numbers(svc.corpus))
    return HTMLResponse(html, headers=PUBLIC)


def shown_numbers(corpus) -> set[str]:
    """The service numbers as written (notices.hotlines has their digits): tel: links in notice texts."""
    return {corpus.site.hotline, *(c.hotline for c in corpus.communities.values())}


def hotline_for(corpus, community: str | None) -> str:
    """The number a resident of `community` calls: its service centre's, else the company's."""
    c = corpus.communities.get(community) if community else None
    return c.hotline if c is not None else corpus.site.hotline


async def slash(request: Request) -> Response:
    return see_other(request.url.path + "/")


# -- staff pages ------------------------------------------------------------------------------------------

def _staff_board(request: Request, sess: dict, *, values: dict | None = None, errors: list | None = None,
                 ok: str | None = None, status_code: int = 200) -> Response:
    svc = services(request)
    own = access.own_community(request)
    # A community's account sees the board its residents see (its own and company-wide notices)
    # and publishes only for its own community.
    data = notices.board(svc.store.engine, community=own, staff=True)
    return staff_html(request, "staff_notices.html", status_code=status_code, sess=sess, b=data, v=values or {},
                      errors=errors or [], labels=LABELS, ok=ok, own=own,
                      communities=access.offered_communities(request, notices.communities(svc.corpus)))


@staff_page()
async def staff_board(request: Request, sess: dict) -> Response:
    ok = queries.done_message(BOARD_DONE, request.query_params)
    return await run_in_threadpool(lambda: _staff_board(request, sess, ok=ok))


@staff_page(post=True)
async def staff_publish(request: Request, sess: dict, form: dict) -> Response:
    svc = services(request)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        draft = notices.parse_draft(_strip_empty(form), svc.corpus)
        access.check_community(request, draft.community)
    except ValidationFailed as exc:
        errors = exc.errors
        return await run_in_threadpool(lambda: _staff_board(request, sess, values=values, errors=errors,
                                                            status_code=422))
    nid = await run_in_threadpool(lambda: notices.publish(svc.store.engine, draft, actor=sess["name"]))
    _changed(request)
    return see_other(f"/staff/notices/{nid}?ok=published")


@staff_page()
async def staff_notice(request: Request, sess: dict) -> Response:
    ok = queries.done_message(NOTICE_DONE, request.query_params)
    return await _staff_notice(request, sess, ok=ok)


async def _staff_notice(request: Request, sess: dict, *, ok=None, errors=None, values=None, status_code=200):
    svc = services(request)
    nid = notice_id(request)
    n = await run_in_threadpool(lambda: notices.get(svc.store.engine, nid, staff=True))
    _not_another_community(request, n)
    return staff_html(request, "staff_notice.html", status_code=status_code, sess=sess, n=n, ok=ok,
                      errors=errors or [], labels=LABELS, v=values or {},
                      public_url=str(request.base_url).rstrip("/") + n["url"])


@staff_page(post=True)
async def staff_change(request: Request, sess: dict, form: dict) -> Response:
    svc = services(request)
    nid = notice_id(request)
    current = await run_in_threadpool(lambda: _current(svc, nid))
    _not_another_community(request, current)
    access.check_community(request, current["community"])
    if form.get("op") == "withdraw":
        reason = form.get("reason") if isinstance(form.get("reason"), str) else ""
        if not reason.strip():
            errors = [{"field": "withdraw_reason", "message": "请写撤回原因：业主会在公告上看到它（例如：停水取消，供水正常）"}]
            return await _staff_notice(request, sess, errors=errors, values={"withdraw_reason": ""}, status_code=422)
        try:
            await run_in_threadpool(lambda: notices.withdraw(svc.store.engine, nid, actor=sess["name"], reason=reason))
            _changed(request)
        except ValidationFailed as exc:
            errors = [{**e, "field": "withdraw_reason"} for e in exc.errors]
            return await _staff_notice(request, sess, errors=errors, values={"withdraw_reason": reason},
                                       status_code=422)
        return see_other("/staff/notices/?ok=withdrawn")
    try:
        data = {k: v for k, v in _strip_empty(form).items() if k != "op"}
        if "valid_until" not in data:
            data["valid_until"] = None
        draft = notices.parse_draft(data, svc.corpus, partial=current)
        access.check_community(request, draft.community)
        await run_in_threadpool(lambda: notices.correct(svc.store.engine, nid, draft, actor=sess["name"]))
        _changed(request)
    except ValidationFailed as exc:
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        return await _staff_notice(request, sess, errors=exc.errors, values=values, status_code=422)
    return see_other(f"/staff/notices/{nid}?ok=corrected")


def _not_another_community(request: Request, notice: dict) -> None:
    """Another community's notice is not there for a community's account (404, as for entries:
    its staff page shows publisher names and history). Company-wide notices it may read."""
    own = access.own_community(request)
    if own is not None and notice.get("community") not in (None, own):
        raise NotFound(f"没有编号为 {notice_id(request)} 的公告")


def _strip_empty(form: dict) -> dict:
    return {k: v for k, v in form.items() if not (isinstance(v, str) and v.strip() == "" and k not in ("valid_until",))}

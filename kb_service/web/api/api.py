"""HTTP endpoints: parse the request, call a plain function, shape the JSON. No logic here."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from kb_service.content import filling
from kb_service.content.model import Corpus
from kb_service.errors import NotFound, ValidationFailed
from kb_service.feedback import community as communities
from kb_service.feedback import fields_spec
from kb_service.feedback import reports
from kb_service.feedback import status
from kb_service.search import picks
from kb_service.site import templates
from kb_service.times import local_now, local_time, utcnow
from kb_service import inputs
from kb_service.web import access, params, unavailable
from kb_service.web.api import calls, queries, readiness, serializers
from kb_service.web.middleware.guards import check_same_origin
from kb_service.web.services import services


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> JSONResponse:
    """200 once the content, the search index and the database answer; 503 (with the reason) before."""
    svc = getattr(request.app.state, "services", None)
    if svc is None:
        return JSONResponse({"status": "starting", "error": "服务正在启动"}, status_code=503)
    problem = await run_in_threadpool(readiness.problem, svc)
    if problem:
        return JSONResponse({"status": "unavailable", "error": problem}, status_code=503,
                            headers={"Retry-After": "5"})
    return JSONResponse({"status": "ready"})


async def search(request: Request) -> JSONResponse:
    asked = queries.SEARCH.read(request.query_params)
    query, kind = asked["q"], asked["kind"]
    svc = services(request)
    result = svc.searcher.search(query, limit=asked["limit"], kind=kind)
    if svc.picks is not None and kind in (None, "script") and query.strip():
        chosen = svc.picks.lookup(query)
        if chosen is not None:
            result = picks.apply(result, chosen, found=serializers.result_entry(svc.corpus, chosen))
    return JSONResponse(result)


async def script(request: Request) -> JSONResponse:
    svc = services(request)
    sid = request.path_params["id"]
    found = svc.corpus.scripts.get(sid)
    if found is None:
        raise NotFound(f"没有 id 为 {sid!r} 的话术", id=sid)
    return JSONResponse(serializers.structured(svc.corpus, found))


async def not_found(request: Request) -> JSONResponse:
    return JSONResponse({"error": f"没有这个接口：{request.method} {request.url.path}",
                         "hint": "可用接口见 README 的“HTTP 接口”一节"}, status_code=404)


# -- templates --------------------------------------------------------------------------------

async def template_list(request: Request) -> JSONResponse:
    corpus = services(request).corpus
    return JSONResponse({"templates": [serializers.summary(corpus, t) for t in corpus.templates.values()]})


async def template(request: Request) -> JSONResponse:
    corpus = services(request).corpus
    found = filling.find(corpus, request.path_params["id"])
    community = corpus.community(queries.COMMUNITY.read(request.query_params, corpus)["community"])
    return JSONResponse(serializers.detail(corpus, found, community))


async def render_template(request: Request) -> JSONResponse:
    corpus = services(request).corpus
    found = filling.find(corpus, request.path_params["id"])
    data = await params.read_json(request)
    channel = data.get("channel", "sms")
    raw = data.get("fields", {})
    if not isinstance(channel, str):
        raise ValidationFailed([{"field": "channel", "message": "channel 应为文字"}])
    if not isinstance(raw, dict):
        raise ValidationFailed([{"field": "fields", "message": "fields 应为 JSON 对象：字段名 → 填写的值"}])
    community_id, errors = communities.pick(data.get("community"), corpus, required=False)
    if errors:
        raise ValidationFailed(errors)
    community = corpus.community(community_id)
    result = filling.render(found, channel, raw, corpus, now=local_now(), tone=corpus.tone, community=community)
    if community_id is None and not corpus.single_community:
        result.warnings.append(f"没有选择小区，楼栋和服务电话按默认小区“{community.name}”填写")
    body = serializers.rendered(result)
    body["community"] = community.id if community else None
    return JSONResponse(body)


# -- feedback -----------------------------------------------------------------------------------

async def submit_feedback(request: Request) -> Response:
    svc = services(request)
    check_same_origin(request.headers, str(request.base_url))
    data, from_form = await params.read_submission(request)
    wants_html = from_form and "text/html" in request.headers.get("accept", "")
    try:
        return await store_feedback(request, svc, data, wants_html)
    except unavailable.DOWN as exc:
        if not wants_html or not unavailable.is_down(exc):
            raise
        # The plain form (no JavaScript): the page says nothing was saved and keeps what was typed.
        return HTMLResponse(feedback_result(svc.corpus, unsaved=data, message=unavailable.message("POST")),
                            status_code=503, headers=unavailable.headers())


async def store_feedback(request: Request, svc, data: dict, wants_html: bool) -> Response:
    svc.limiter.hit(params.client_address(request))
    try:
        sub = communities.parse(data, svc.corpus)
    except ValidationFailed as exc:
        if wants_html:
            return HTMLResponse(feedback_result(svc.corpus, errors=exc.errors), status_code=422)
        raise
    # The same idempotency key always gives the same code, so every replay (even concurrent
    # ones) shows a code that works.
    code = await run_in_threadpool(status.code_for_key, svc.store.engine, sub.idempotency_key)
    access_hash = await run_in_threadpool(status.hash_code, code)
    entry, created = await run_in_threadpool(lambda: svc.store.submit(sub, access_hash=access_hash))
    if not created:
        await run_in_threadpool(status.adopt_code, svc.store.engine, entry["id"], code)
    reply = {"id": entry["id"], "reference": entry["reference"], "access_code": code, "status": entry["status"],
             "type": entry["type"], "respond_by": entry["respond_by"], "resolve_by": entry["resolve_by"],
             "message": feedback_message(svc.corpus, entry), "replayed": not created,
             "contact_stored": entry["contact_phone"] is not None or entry["contact_name"] is not None}
    if wants_html:
        return HTMLResponse(feedback_result(svc.corpus, reply=reply), status_code=201,
                            headers={"Cache-Control": "no-store"})
    return JSONResponse(reply, status_code=201, headers={"Cache-Control": "no-store"})


def feedback_result(corpus: Corpus, *, reply: dict | None = None, errors: list | None = None,
                    unsaved: dict | None = None, message: str | None = None) -> str:
    """The answer page of the plain feedback form: the reference and code, the fields to fix, or
    (database down) what the resident typed, in a form that sends it again."""
    kept = None
    if unsaved is not None:
        kept = [(k, v) for k, v in unsaved.items() if isinstance(v, str) and k not in ("content", "website")]
        kept += [(f"ratings.{k}", str(v)) for k, v in (unsaved.get("ratings") or {}).items()]
        kept += [(f"record.{k}", str(v)) for k, v in (unsaved.get("record") or {}).items()]
    return templates.render("feedback_result.html", reply=reply, errors=errors or [], unsaved=unsaved, kept=kept,
                            message=message, site=corpus.site, kinds=corpus.feedback.types,
                            labels={**fields_spec.labels(fields_spec.SUBMISSION, corpus.feedback), "community": "小区"})


def feedback_message(corpus: Corpus, entry: dict) -> str:
    kind = corpus.feedback.types[entry["type"]]
    if kind.response is None:
        return "谢谢您的反馈，我们会据此改进页面内容。"
    due = local_time(entry["respond_by"])
    return (f"已收到您的{kind.label}，编号 {entry['reference']}。我们会在 {kind.response.text}内"
            f"（{due} 前）答复您。")


# -- improvement log (staff) --------------------------------------------------------------------

@access.requires("log:read")
async def improvement_log(request: Request) -> JSONResponse:
    svc = services(request)
    filters = queries.log_filters(request, svc.corpus)
    page = queries.PAGING.read(request.query_params)
    limit, offset = page["limit"], page["offset"]
    phone = queries.CALLER.read(request.query_params)["phone"]
    if phone:
        return JSONResponse(await calls.caller_history(request, phone, limit, offset))
    total, rows = await run_in_threadpool(lambda: svc.store.list(**filters, limit=limit, offset=offset))
    return JSONResponse({"total": total, "limit": limit, "offset": offset, "entries": rows})


@access.requires("log:write")
async def staff_intake(request: Request) -> JSONResponse:
    """A complaint or other feedback taken by staff (phone, front desk) with the complaint record."""
    actor = request.user.name
    svc = services(request)
    sub = communities.parse(access.with_own_community(request, await params.read_json(request)), svc.corpus,
                            source="staff")
    access.check_community(request, sub.community)
    if sub.script_id is not None and sub.script_id not in svc.corpus.scripts:
        raise ValidationFailed([{"field": "script_id", "message": f"没有 id 为 {sub.script_id} 的话术"}])
    entry, created = await run_in_threadpool(lambda: svc.store.submit(sub, actor=actor))
    return JSONResponse({**entry, "replayed": not created}, status_code=201)


@access.requires("log:read")
async def improvement_entry(request: Request) -> JSONResponse:
    entry_id = inputs.path_id(request)
    return JSONResponse(access.check_entry(request, await run_in_threadpool(services(request).store.get, entry_id)))


@access.requires("log:read")
async def update_entry(request: Request) -> JSONResponse:
    entry_id = inputs.path_id(request)
    body = await params.read_json(request)
    actor = access.check_scopes(request, *access.patch_scopes(body)).name
    store = services(request).store
    entry = await run_in_threadpool(store.get, entry_id)
    access.check_entry(request, entry)
    await run_in_threadpool(access.check_patch, request, store, entry, body)
    return JSONResponse(await run_in_threadpool(lambda: store.update(entry_id, body, actor=actor)))


@access.requires("gaps")
async def content_gaps(request: Request) -> JSONResponse:
    svc = services(request)
    await run_in_threadpool(svc.gaps.flush)
    limit = queries.GAPS.read(request.query_params)["limit"]
    return JSONResponse({"gaps": await run_in_threadpool(lambda: svc.store.gaps(limit=limit))})


@access.requires("dashboard")
async def export_csv(request: Request) -> Response:
    svc = services(request)
    filters = queries.log_filters(request, svc.corpus)
    return csv_response(await run_in_threadpool(
        lambda: reports.export_csv(svc.store, filters, community_names=community_names(svc.corpus))))


def community_names(corpus: Corpus) -> dict[str, str]:
    """id -> the name staff know a community by (for the CSV)."""
    return {c.id: c.label for c in corpus.communities.values()}


def csv_response(text: str) -> Response:
    """The CSV export (reports.export_csv starts it with a BOM so Excel reads UTF-8)."""
    name = f"improvement-log-{local_now():%Y%m%d-%H%M}.csv"
    return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@access.requires("dashboard")
async def stats(request: Request) -> JSONResponse:
    svc = services(request)
    community = access.community_filter(request, queries.COMMUNITY.read(request.query_params, svc.corpus)["community"])
    return JSONResponse(await run_in_threadpool(lambda: reports.dashboard(svc.store, now=utcnow(), community=community)),
                        headers={"Cache-Control": "no-store"})


async def community_list(request: Request) -> JSONResponse:
    """The configured communities: id, name, the landing page on the site (and whether the data is
    an example), for the fill page, the forms and outside clients."""
    corpus = services(request).corpus
    return JSONResponse({"communities": [
        {"id": c.id, "name": c.name, "url": c.url, "label": c.label, "example": c.example,
         "households": c.households, "hotline": c.hotline} for c in corpus.communities.values()],
        "default": corpus.default_community.id if corpus.default_community else None})

"""The HTTP API described as OpenAPI 3.1, generated from the live route table and the form specs.

Paths and methods come from the routes under /api in web/app.py; request bodies from
feedback/fields_spec (the same declarations the service checks with); choices (types, categories,
template and script ids, channels) from the loaded content; whether it needs a staff token from the
endpoint's own guard (access.requires). What a route cannot say about itself (a summary, its query
parameters, the shape of its answer) is in OPERATIONS below, keyed by endpoint: a route without an entry there fails the document (and the
test), so the two cannot drift apart silently.

Served at /api/openapi.json; /api/docs renders the same document as a page for integrators.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import BaseRoute, Mount, Route

from kb_service.content.model import CHANNEL_TEXT, Corpus
from kb_service.feedback import fields_spec
from kb_service.feedback import notices as board
from kb_service.feedback import status as progress     # `status` is a response code here
from kb_service import inputs
from kb_service.web.api import api, calls, queries
from kb_service.web.pages import notices, resident_pages
from kb_service.web.pages import preview
from kb_service.site import templates
from kb_service.web.services import services

Schema = dict[str, Any]


def nullable(kind: str | list[str]) -> Schema:
    return {"type": [*([kind] if isinstance(kind, str) else kind), "null"]}


STRING = {"type": "string"}
ERROR: Schema = {
    "type": "object", "required": ["error"],
    "properties": {
        "error": {"type": "string", "description": "给人看的中文说明"},
        "errors": {"type": "array", "description": "逐字段的问题（422）",
                   "items": {"type": "object", "required": ["field", "message"],
                             "properties": {"field": STRING, "message": STRING}}},
    },
}
ENTRY: Schema = {
    "type": "object", "additionalProperties": False,
    "required": ["id", "reference", "type", "status", "created_at", "overdue"],
    "properties": {
        "id": {"type": "integer"}, "reference": STRING, "type": STRING, "type_label": STRING,
        "source": STRING, "status": {"type": "string", "enum": list(fields_spec.STATUSES)}, "status_label": STRING,
        "category": nullable("string"), "category_label": nullable("string"),
        "location": nullable("string"), "content": STRING, "page": nullable("string"),
        "helpful": nullable("boolean"), "consent": {"type": "boolean"},
        "contact_name": nullable("string"), "contact_phone": nullable("string"),
        "ratings": {"type": "object", "additionalProperties": {"type": "integer"}},
        "record": nullable("object"), "owner": nullable("string"),
        "script_id": nullable("string"), "tier": nullable("string"), "community": nullable("string"),
        "claim": {"type": "boolean", "description": "涉及损害或赔偿主张：联系方式在办结前不会被删除"},
        "created_at": STRING, "respond_by": nullable("string"), "resolve_by": nullable("string"),
        "responded_at": nullable("string"), "resolved_at": nullable("string"), "closed_at": nullable("string"),
        "overdue": {"type": "boolean"}, "overdue_kind": nullable("string"),
        "overdue_kinds": {"type": "array", "items": {"type": "string", "enum": ["response", "result"]}},
        "public_summary": nullable("string"), "resident_reply": nullable("string"), "purged": {"type": "boolean"},
    },
}
EVENT: Schema = {
    "type": "object", "additionalProperties": False, "required": ["id", "at", "actor", "kind"],
    "properties": {"id": {"type": "integer"}, "at": STRING, "actor": STRING, "kind": STRING,
                   "from_status": nullable("string"), "to_status": nullable("string"), "note": nullable("string"),
                   "data": nullable("object")}}
ACTION: Schema = {
    "type": "object", "additionalProperties": False, "required": ["id", "what", "kind", "owner", "done"],
    "properties": {"id": {"type": "integer"}, "what": STRING, "kind": STRING, "target": nullable("string"),
                   "owner": STRING, "due": nullable("string"), "public": {"type": "boolean"},
                   "pr_url": nullable("string"), "created_at": STRING, "created_by": STRING,
                   "done_at": nullable("string"), "done": {"type": "boolean"}}}
ENTRY_FULL: Schema = {
    **ENTRY,
    "required": [*ENTRY["required"], "events", "actions", "transitions"],
    "properties": {
        **ENTRY["properties"],
        "events": {"type": "array", "items": EVENT},
        "actions": {"type": "array", "items": ACTION},
        "transitions": {"type": "array", "items": {"type": "string", "enum": list(fields_spec.STATUSES)}},
    },
}


@dataclass(frozen=True)
class Param:
    name: str
    description: str
    schema: Callable[[Corpus], Schema]
    where: str = "query"


@dataclass(frozen=True)
class Op:
    summary: str
    tag: str
    response: Callable[[Corpus], Schema] | Schema = lambda corpus: STRING
    status: int = 200
    params: inputs.Query | tuple[Param | inputs.Query, ...] = ()
    body: Callable[[Corpus], Schema] | None = None
    form_body: Callable[[Corpus], Schema] | None = None   # also accepted as an HTML form post, answered
                                                          # with a page when the browser asks for HTML
    media: str = "application/json"
    description: str = ""
    redirect: str = ""     # a browser's form post answered with 303 to a page: what that page is


def _const(schema: Schema) -> Callable[[Corpus], Schema]:
    return lambda corpus: schema


ENTRY_ID = inputs.Query((inputs.Id("id", "条目编号"),), where="path")


def _search(corpus: Corpus) -> Schema:
    return {"type": "object", "required": ["query", "total", "took_ms", "results"],
            "properties": {"query": STRING, "total": {"type": "integer"}, "took_ms": {"type": "number"},
                           "match": {"type": "string", "enum": ["strong", "weak", "none"]},
                           "results": {"type": "array", "items": {
                               "type": "object", "required": ["id", "kind", "title", "url"],
                               "properties": {"id": STRING, "kind": {"type": "string", "enum": ["script", "template", "page"]},
                                              "title": STRING, "url": STRING, "snippet": STRING,
                                              "emergency": {"type": "boolean", "description": "紧急情况（snippets/danger.yaml）：排第一"},
                                              "first_action": {"type": "string", "description": "紧急话术的第一步"},
                                              "colleagues": {"type": "boolean", "description": "同事常选"}}}}}}


def _render_body(corpus: Corpus) -> Schema:
    channels = sorted({c for t in corpus.templates.values() for c in t.channel_names})
    return {"type": "object", "properties": {
        "channel": {"type": "string", "enum": channels, "default": "sms",
                    "description": "渠道：" + fields_spec.choices({c: CHANNEL_TEXT.get(c, c) for c in channels})},
        "fields": {"type": "object", "additionalProperties": {"type": "string"},
                   "description": "字段名 → 填写的值（字段见 GET /api/templates/{id}）"}}}


def _submission_form(corpus: Corpus) -> Schema:
    """The same submission as an HTML form: flat names, ratings as `ratings.<维度>`."""
    body = fields_spec.schema(fields_spec.SUBMISSION, corpus.feedback, omit=frozenset({fields_spec.HONEYPOT}))
    props = dict(body["properties"])
    ratings = props.pop("ratings")
    props.update({f"ratings.{k}": {"type": "string", "enum": ["", "1", "2", "3", "4", "5"], **v}
                  for k, v in ratings["properties"].items()})
    for name in ("consent", "helpful"):
        props[name] = {"type": "string", "enum": ["true", "false"], "description": props[name]["description"]}
    return {**body, "properties": props}


FEEDBACK_REPLY = {"type": "object", "required": ["id", "reference", "status", "type"],
                  "properties": {"id": {"type": "integer"}, "reference": STRING, "status": STRING, "type": STRING,
                                 "respond_by": nullable("string"), "resolve_by": nullable("string"),
                                 "message": STRING, "replayed": {"type": "boolean"},
                                 "contact_stored": {"type": "boolean"}}}
TEMPLATE_SUMMARY = {"type": "object", "required": ["id", "title", "channels"],
                    "properties": {"id": STRING, "title": STRING, "channels": {"type": "array", "items": STRING}}}


def _ids(kind: str) -> Callable[[Corpus], Schema]:
    return lambda corpus: {"type": "string", "enum": sorted(getattr(corpus, kind))}


OPERATIONS: dict[Callable, dict[str, Op]] = {
    api.health: {"GET": Op("服务是否在运行", "服务", {"type": "object", "required": ["status"],
                                                "properties": {"status": {"const": "ok"}}})},
    api.search: {"GET": Op("检索话术、模板和页面", "检索", _search, params=queries.SEARCH)},
    api.script: {"GET": Op("一条话术的结构化内容（步骤、不要这样说、服务承诺）", "话术", {
        "type": "object", "required": ["id", "kind", "title", "steps"],
        "properties": {"id": STRING, "kind": {"const": "script"}, "title": STRING,
                       "steps": {"type": "array", "items": {"type": "object"}},
                       "avoid": {"type": "array"}, "commitments": {"type": "array"}}},
        params=(Param("id", "话术 id（scenarios.tsv）", _ids("scripts"), "path"),))},
    api.template_list: {"GET": Op("模板列表", "模板", {"type": "object", "required": ["templates"],
                                               "properties": {"templates": {"type": "array", "items": TEMPLATE_SUMMARY}}})},
    api.template: {"GET": Op("一个模板的字段和渠道", "模板", {
        **TEMPLATE_SUMMARY, "required": ["id", "title", "channels", "fields"],
        "properties": {**TEMPLATE_SUMMARY["properties"], "fields": {"type": "array", "items": {
            "type": "object", "required": ["name", "label", "type", "required"],
            "properties": {"name": STRING, "label": STRING, "type": STRING, "required": {"type": "boolean"},
                           "example": STRING}}}}},
        params=(Param("id", "模板 id", _ids("templates"), "path"),))},
    api.render_template: {"POST": Op("用字段值填写模板，得到某个渠道的文字", "模板", {
        "type": "object", "required": ["text", "channel", "warnings"],
        "properties": {"text": STRING, "channel": STRING, "length": {"type": "integer"},
                       "warnings": {"type": "array", "items": STRING}}},
        params=(Param("id", "模板 id", _ids("templates"), "path"),), body=_render_body)},
    api.submit_feedback: {"POST": Op(
        "业主提交反馈（投诉、建议、表扬、咨询，或页面是否有帮助）", "反馈", FEEDBACK_REPLY, status=201,
        body=lambda corpus: fields_spec.schema(fields_spec.SUBMISSION, corpus.feedback, omit=frozenset({fields_spec.HONEYPOT})),
        form_body=_submission_form,
        description="重复提交相同的 idempotency_key 返回第一次登记的条目（replayed: true）。"
                    "只有 consent 为 true 时才保存称呼和电话。同一网络（客户端 IP）每分钟的提交次数有限（429）。")},
    api.improvement_log: {"GET": Op("改进日志：条目列表（新的在前，电话打码）", "改进日志", {
        "type": "object", "required": ["total", "limit", "offset", "entries"],
        "properties": {"total": {"type": "integer"}, "limit": {"type": "integer"}, "offset": {"type": "integer"},
                       "entries": {"type": "array", "items": ENTRY}}},
        params=queries.LOG_FILTERS + queries.PAGING + queries.CALLER)},
    api.staff_intake: {"POST": Op("员工登记反馈（电话、前台），可附投诉记录", "改进日志",
                                  {**ENTRY, "properties": {**ENTRY["properties"], "replayed": {"type": "boolean"}}},
                                  status=201,
                                  body=lambda corpus: fields_spec.schema(fields_spec.INTAKE, corpus.feedback,
                                                                         omit=frozenset({fields_spec.HONEYPOT})))},
    api.content_gaps: {"GET": Op("没有检索结果或结果不可靠的查询（内容缺口）", "改进日志", {
        "type": "object", "required": ["gaps"], "properties": {"gaps": {"type": "array", "items": {
            "type": "object", "required": ["query", "count"],
            "properties": {"query": STRING, "count": {"type": "integer"}, "last_at": nullable("string"),
                           "zero_results": {"type": "boolean"}}}}}}, params=queries.GAPS)},
    api.export_csv: {"GET": Op("改进日志导出为 CSV（UTF-8 带 BOM，Excel 可直接打开）", "改进日志", STRING, params=queries.LOG_FILTERS, media="text/csv")},
    api.stats: {"GET": Op("看板数据：每周反馈量、状态分布、满意度指数", "改进日志", {"type": "object"},
                          params=queries.COMMUNITY)},
    api.improvement_entry: {"GET": Op("一个条目及其完整历史和改进措施", "改进日志", ENTRY_FULL,
                                      params=(ENTRY_ID,))},
    api.update_entry: {"PATCH": Op(
        "修改一个条目：状态流转、负责人、分类、备注、改进措施、公开摘要", "改进日志", ENTRY_FULL,
        params=(ENTRY_ID,), body=lambda corpus: fields_spec.schema(fields_spec.PATCH, corpus.feedback),
        description="状态只能按 received → triaged → in_progress → resolved → followed_up → closed 流转，"
                    "回访不满意时 followed_up → in_progress；其他跳转是 409。")},
}


def _status_query(*names: str) -> Callable[[Corpus], Schema]:
    return _const(progress.QUERY.schema(required=("reference",), only=names))


def _notice_body(required: bool) -> Callable[[Corpus], Schema]:
    return lambda corpus: board.DRAFT.schema(corpus, required=required)


NOTICE = {"type": "object", "required": ["id", "url", "state", "title"],
          "properties": {"id": {"type": "integer"}, "url": STRING, "state": STRING, "state_label": STRING,
                         "community": nullable("string"), "title": STRING, "body": nullable("string"),
                         "valid_from": nullable("string"), "valid_until": nullable("string"),
                         "published_at": STRING, "updated_at": STRING, "corrected": {"type": "boolean"},
                         "withdrawn_at": nullable("string")}}
NOTICE_ID = inputs.Query((inputs.Id("id", "公告编号"),), where="path")
PUBLIC_STATUS = {"type": "object", "required": ["reference", "status"],
                 "properties": {"reference": STRING, "status": STRING}}

OPERATIONS.update({
    api.ready: {"GET": Op("服务是否可以接请求（内容、检索索引、数据库都已就绪）", "服务", {
        "type": "object", "required": ["status"], "properties": {"status": {"type": "string"}, "error": STRING}},
        description="还没就绪时是 503，带 Retry-After 和原因。")},
    api.community_list: {"GET": Op("本站设置的小区", "小区", {
        "type": "object", "required": ["communities"],
        "properties": {"default": nullable("string"), "communities": {"type": "array", "items": {
            "type": "object", "required": ["id", "name"],
            "properties": {"id": STRING, "name": STRING, "url": STRING, "label": STRING,
                           "example": {"type": "boolean"}, "households": nullable("integer"),
                           "hotline": nullable("string")}}}}})},
    calls.lookup_settings: {"GET": Op("接电话页面的设置：兜底话术、重复来电窗口、登记用的类型和分类", "检索",
                                      {"type": "object", "required": ["fallbacks", "repeat", "record"]})},
    calls.record_pick: {"POST": Op("记下接线员从话术速查打开了哪条结果（同事常选、内容缺口页用）", "检索", {
        "type": "object", "required": ["recorded", "query"],
        "properties": {"recorded": {"type": "boolean"}, "query": STRING}}, status=201,
        body=queries.PICK.schema,
        description="查询先打码（电话、证件号）并去掉自我介绍再保存，保存 90 天。")},
    calls.staff_session: {"GET": Op("当前登录的员工和写操作要带的 CSRF 令牌", "员工", {
        "type": "object", "required": ["name", "role", "csrf"],
        "properties": {"name": STRING, "role": STRING, "csrf": STRING, "login": STRING}},
        description="只认登录后的会话 Cookie；没有登录是 401。")},
    resident_pages.feedback_status: {"POST": Op(
        "业主用编号加查询码（或留电话的后四位）查进度；也可以表示对处理结果不满意", "反馈", PUBLIC_STATUS,
        body=_status_query("reference", "access_code", "phone_last4", "action"),
        form_body=_status_query("reference", "access_code", "phone_last4", "action"),
        description="编号和查询码对不上是 404；失败次数太多是 429（带 Retry-After）。",
        redirect="浏览器的表单提交查到以后，转到本站的进度页（/residents/status/?ref=编号；查询码不进地址）")},
    resident_pages.page_comment: {"POST": Op("页面投票之后补一句意见", "反馈", {
        "type": "object", "required": ["reference", "comment_saved"],
        "properties": {"reference": STRING, "comment_saved": {"type": "boolean"}}},
        body=_status_query("reference", "access_code", "comment"))},
    notices.api_list: {"GET": Op("小区公告：当前的和已过期的", "公告", {
        "type": "object", "required": ["current", "archive"],
        "properties": {"current": {"type": "array", "items": NOTICE}, "archive": {"type": "array", "items": NOTICE}}},
        params=notices.COMMUNITY)},
    notices.api_get: {"GET": Op("一条公告及其更正记录", "公告", NOTICE, params=(NOTICE_ID,))},
    notices.api_publish: {"POST": Op("发布公告", "公告", {
        "type": "object", "required": ["id", "url", "warnings"],
        "properties": {"id": {"type": "integer"}, "url": STRING, "warnings": {"type": "array", "items": STRING}}},
        status=201, body=_notice_body(True))},
    notices.api_correct: {"PATCH": Op("更正公告（写明原因，旧版本保留）", "公告", NOTICE,
                                      params=(NOTICE_ID,), body=_notice_body(False))},
    notices.api_withdraw: {"DELETE": Op("撤回公告", "公告", {
        "type": "object", "required": ["id", "withdrawn"],
        "properties": {"id": {"type": "integer"}, "withdrawn": {"type": "boolean"}}}, params=(NOTICE_ID,),
        body=lambda corpus: board.WITHDRAWAL.schema(corpus, required=False))},
})
# The preview's own endpoints (kb serve --reload) are for the editor's browser, not integrators.
HIDDEN = {api.not_found, preview.build_status, preview.script}


def api_routes(routes: list[BaseRoute], prefix: str = "") -> list[tuple[str, Route]]:
    """(full path, route) for every route under /api, in table order."""
    out = []
    for r in routes:
        if isinstance(r, Mount) and r.path == "/api":
            out += [(prefix + r.path + sub.path, sub) for sub in r.routes if isinstance(sub, Route)]
    return out


def document(routes: list[BaseRoute], corpus: Corpus) -> dict:
    paths: dict[str, dict] = {}
    for path, route in api_routes(routes):
        if route.endpoint in HIDDEN:
            continue
        ops = OPERATIONS.get(route.endpoint)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            if ops is None or method not in ops:
                raise LookupError(f"{method} {path}: 没有在 web/openapi.py 的 OPERATIONS 里描述")
            paths.setdefault(path, {})[method.lower()] = operation(ops[method], corpus, method, path,
                                                                     staff=hasattr(route.endpoint, "required_scope"))
    link_created(paths)
    return {
        "openapi": "3.1.0",
        "info": {"title": f"{corpus.site.company_short} 物业沟通知识库 API", "version": "1",
                 "description": "检索话术与模板、填写模板、提交反馈，以及员工使用的改进日志。"
                                "所有 4xx 答复都是 JSON：{\"error\": \"...\"}，422 另有逐字段的 errors。"},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR, "Entry": ENTRY, "EntryFull": ENTRY_FULL},
            "securitySchemes": {"staffToken": {"type": "http", "scheme": "bearer",
                                               "description": "员工令牌（KB_STAFF_TOKENS 或 kb staff add）"}},
        },
    }


def link_created(paths: dict[str, dict]) -> None:
    """OpenAPI links from a POST that creates something (its answer has the new `id`) to the
    operations on `<path>/{id}`: a client, and schemathesis' stateful phase, can follow them."""
    for path, ops in paths.items():
        post, item = ops.get("post"), paths.get(path + "/{id}")
        if post is None or item is None:
            continue
        for status, answer in post["responses"].items():
            schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
            if status.startswith("2") and "id" in schema.get("required", []):
                answer["links"] = {
                    op["operationId"]: {"operationId": op["operationId"],
                                                       "parameters": {"id": "$response.body#/id"}}
                    for op in item.values()}


def operation(op: Op, corpus: Corpus, method: str, path: str, *, staff: bool = False) -> dict:
    """`staff`: the endpoint is guarded by access.requires (it needs a token or a signed-in session)."""
    response = op.response(corpus) if callable(op.response) else op.response
    page = {"text/html": {"schema": STRING}} if op.form_body is not None else {}
    out: dict[str, Any] = {
        "operationId": f"{method.lower()}_{path.removeprefix('/api/').replace('/', '_').replace('{', '').replace('}', '').replace('.', '_').replace('-', '_')}",
        "summary": op.summary, "tags": [op.tag],
        "responses": {
            str(op.status): {"description": "成功", "content": {op.media: {"schema": response}, **page}},
            "4XX": {"description": "请求有误（JSON 说明原因）", "content": {"application/json": {"schema": ERROR}, **page}},
        },
    }
    if op.redirect:
        out["responses"]["303"] = {"description": op.redirect, "headers": {"Location": {"schema": STRING}}}
    if op.description:
        out["description"] = op.description
    params = parameters(op.params, corpus)
    if params:
        out["parameters"] = params
    if op.body is not None:
        content = {"application/json": {"schema": op.body(corpus)}}
        if op.form_body is not None:
            content["application/x-www-form-urlencoded"] = {"schema": op.form_body(corpus)}
        out["requestBody"] = {"required": True, "content": content}
    if staff:
        out["security"] = [{"staffToken": []}]
    return out


def parameters(declared: inputs.Query | tuple[Param | inputs.Query, ...], corpus: Corpus) -> list[Schema]:
    """An operation's parameters: declared inputs (the handler reads the same declarations), or a
    Param for what is not a checked input (an id of the loaded content)."""
    out: list[Schema] = []
    for p in (declared,) if isinstance(declared, inputs.Query) else declared:
        if isinstance(p, inputs.Query):
            out += p.parameters(corpus)
        else:
            out.append({"name": p.name, "in": p.where, "required": p.where == "path", "description": p.description,
                        "schema": p.schema(corpus)})
    return out


# -- endpoints ------------------------------------------------------------------------------------

async def openapi_json(request: Request) -> JSONResponse:
    return JSONResponse(document(request.app.routes, services(request).corpus))


async def api_docs(request: Request) -> HTMLResponse:
    corpus = services(request).corpus
    doc = document(request.app.routes, corpus)
    html = templates.render("api_docs.html", site=corpus.site, doc=doc, methods=_method_rows(doc))
    return HTMLResponse(html)


def _method_rows(doc: dict) -> list[dict]:
    """The document as rows for the page: one per operation, its fields flattened."""
    rows = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            content = op.get("requestBody", {}).get("content", {})
            body = content.get("application/json", {}).get("schema")
            ok = next(k for k in op["responses"] if k != "4XX")
            rows.append({"method": method.upper(), "path": path, "summary": op["summary"], "anchor": op["operationId"],
                         "description": op.get("description", ""), "staff": "security" in op,
                         "params": op.get("parameters", []), "body": _fields(body) if body else [],
                         "form": "application/x-www-form-urlencoded" in content,
                         "ok": ok, "ok_media": next(iter(op["responses"][ok]["content"]))})
    return rows


def _fields(schema: Schema, prefix: str = "") -> list[dict]:
    required = set(schema.get("required", []))
    out = []
    for name, s in schema.get("properties", {}).items():
        kind = s.get("type", "")
        detail = []
        if "enum" in s and str(s["enum"][0]) not in s.get("description", ""):
            detail.append("可选：" + "、".join(map(str, s["enum"])))
        if "maxLength" in s:
            detail.append(f"最多 {s['maxLength']} 字")
        if "minimum" in s and "maximum" in s:
            detail.append(f"{s['minimum']}–{s['maximum']}")
        out.append({"name": prefix + name, "type": kind if isinstance(kind, str) else " | ".join(kind),
                    "required": name in required, "description": s.get("description", ""), "detail": "；".join(detail)})
        if kind == "object" and "properties" in s:
            out += _fields(s, f"{prefix}{name}.")
    return out


OPERATIONS[openapi_json] = {"GET": Op("本文档（OpenAPI 3.1）", "服务", {"type": "object", "required": ["openapi", "paths"]})}
OPERATIONS[api_docs] = {"GET": Op("本文档的网页版", "服务", STRING, media="text/html")}

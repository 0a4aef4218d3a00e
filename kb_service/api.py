"""HTTP endpoints: parse the request, call a plain function, shape the JSON. No logic here."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from starlette.requests import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, JSONResponse, Response

from . import db, feedback, filling, scripts_view, staff, templates_view, views
from .content import Corpus
from .db import utcnow
from .errors import KBError, NotFound, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from .guards import RateLimiter, check_same_origin
from .improvement_log import MAX_LIMIT, STATUSES, Store
from .settings import Settings


@dataclass
class Services:
    settings: Settings
    corpus: Corpus
    searcher: object
    store: Store
    limiter: RateLimiter
    gaps: GapBuffer

    @classmethod
    def open(cls, settings: Settings) -> "Services":
        from .build import load_content
        from .search import Searcher

        corpus = load_content(settings)
        engine = db.connect(settings.database_url)
        store = Store(engine, corpus.feedback)
        gaps = GapBuffer(store)
        searcher = Searcher.open(settings.index_dir, corpus)
        searcher.gap_sink = gaps.add
        return cls(settings, corpus, searcher, store, RateLimiter(settings.feedback_rate_limit), gaps)

    def close(self) -> None:
        self.gaps.flush()
        self.searcher.close()
        self.store.engine.dispose()


class GapBuffer:
    """Zero-result and low-confidence queries, written to the database in batches so that a
    search never waits for a disk write. A crash loses at most one flush interval of them."""

    def __init__(self, store: Store):
        self.store = store
        self._pending: list[tuple] = []
        self._lock = threading.Lock()

    def add(self, query: str, total: int, top: float | None) -> None:
        with self._lock:
            if len(self._pending) < 10_000:
                self._pending.append((query, total, top, utcnow()))

    def flush(self) -> int:
        with self._lock:
            batch, self._pending = self._pending, []
        self.store.record_gaps(batch)
        return len(batch)


def services(request: Request) -> Services:
    return request.app.state.services


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def search(request: Request) -> JSONResponse:
    params = request.query_params
    limit = _int_param(params.get("limit"), "limit", default=10, lo=1, hi=50)
    kind = params.get("kind") or None
    if kind not in (None, "script", "template", "page"):
        raise KBError("kind 只能是 script、template 或 page", field="kind")
    query = params.get("q", "")
    if len(query) > 200:
        raise KBError("查询太长：最多 200 个字符", field="q")
    result = services(request).searcher.search(query, limit=limit, kind=kind)
    return JSONResponse(result)


async def script(request: Request) -> JSONResponse:
    svc = services(request)
    sid = request.path_params["id"]
    found = svc.corpus.scripts.get(sid)
    if found is None:
        raise NotFound(f"没有 id 为 {sid!r} 的话术", id=sid)
    return JSONResponse(scripts_view.structured(svc.corpus, found))


async def not_found(request: Request) -> JSONResponse:
    return JSONResponse({"error": f"没有这个接口：{request.method} {request.url.path}",
                         "hint": "可用接口见 README 的“HTTP 接口”一节"}, status_code=404)


def _int_param(raw: str | None, name: str, *, default: int, lo: int, hi: int) -> int:
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise KBError(f"{name} 应为整数", field=name) from None
    if not lo <= value <= hi:
        raise KBError(f"{name} 应在 {lo} 到 {hi} 之间", field=name)
    return value


# -- templates --------------------------------------------------------------------------------

MAX_JSON_BODY = 64 * 1024


async def read_body(request: Request, limit: int = MAX_JSON_BODY) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"请求体太大：最多 {limit // 1024} KB")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"请求体太大：最多 {limit // 1024} KB")
    return body


async def read_json(request: Request) -> dict:
    """A JSON object body, with a size limit; anything else is a clear 4xx."""
    import json

    body = await read_body(request)
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise KBError("请求体不是有效的 JSON") from None
    if not _encodable(data):
        raise KBError("请求体含有无效的 Unicode 字符（单独的代理项），请检查输入内容")
    if not isinstance(data, dict):
        raise KBError("请求体应为 JSON 对象，例如 {\"channel\": \"sms\", \"fields\": {...}}")
    return data


def _encodable(value) -> bool:
    """JSON may carry lone surrogates (\\ud800) that no UTF-8 store or response can hold."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_encodable(k) and _encodable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_encodable(v) for v in value)
    return True


async def templates(request: Request) -> JSONResponse:
    corpus = services(request).corpus
    return JSONResponse({"templates": [templates_view.summary(corpus, t) for t in corpus.templates.values()]})


async def template(request: Request) -> JSONResponse:
    corpus = services(request).corpus
    return JSONResponse(templates_view.detail(corpus, filling.find(corpus, request.path_params["id"])))


async def render_template(request: Request) -> JSONResponse:
    corpus = services(request).corpus
    found = filling.find(corpus, request.path_params["id"])
    data = await read_json(request)
    channel = data.get("channel", "sms")
    raw = data.get("fields", {})
    if not isinstance(channel, str):
        raise ValidationFailed([{"field": "channel", "message": "channel 应为文字"}])
    if not isinstance(raw, dict):
        raise ValidationFailed([{"field": "fields", "message": "fields 应为 JSON 对象：字段名 → 填写的值"}])
    result = filling.render(found, channel, raw, corpus, now=now(), tone=corpus.tone)
    return JSONResponse(templates_view.rendered(result))


def now():
    import datetime as dt

    return dt.datetime.now().replace(second=0, microsecond=0)


# -- feedback -----------------------------------------------------------------------------------

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def read_submission(request: Request) -> tuple[dict, bool]:
    """(fields, came from a plain HTML form). JSON and form bodies share one size limit."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype in FORM_TYPES:
        body = await read_body(request)
        from starlette.requests import Request as Req

        async def replay():
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            form = await Req(request.scope, replay).form(max_files=0, max_fields=40, max_part_size=MAX_JSON_BODY)
        except Exception:  # malformed multipart: python-multipart raises several kinds
            raise KBError("表单格式无法解析，请从本站页面重新提交") from None
        return feedback.from_form(form), True
    if ctype not in ("application/json", ""):
        raise UnsupportedMediaType(f"不支持的内容类型 {ctype}：请用 application/json 或表单提交")
    return await read_json(request), False


async def submit_feedback(request: Request) -> Response:
    svc = services(request)
    check_same_origin(request.headers, str(request.base_url))
    svc.limiter.hit(client_address(request))
    data, from_form = await read_submission(request)
    wants_html = from_form and "text/html" in request.headers.get("accept", "")
    try:
        sub = feedback.parse_submission(data, svc.corpus.feedback)
    except ValidationFailed as exc:
        if wants_html:
            return HTMLResponse(views.feedback_result(svc.corpus, errors=exc.errors), status_code=422)
        raise
    entry, created = await run_in_threadpool(svc.store.submit, sub)
    reply = {"id": entry["id"], "reference": entry["reference"], "status": entry["status"],
             "type": entry["type"], "respond_by": entry["respond_by"], "resolve_by": entry["resolve_by"],
             "message": feedback_message(svc.corpus, entry), "replayed": not created,
             "contact_stored": entry["contact_phone"] is not None or entry["contact_name"] is not None}
    if wants_html:
        return HTMLResponse(views.feedback_result(svc.corpus, reply=reply), status_code=201)
    return JSONResponse(reply, status_code=201)


def feedback_message(corpus: Corpus, entry: dict) -> str:
    kind = corpus.feedback.types[entry["type"]]
    if kind.response is None:
        return "谢谢您的反馈，我们会据此改进页面内容。"
    due = views.local_time(entry["respond_by"])
    return (f"已收到您的{kind.label}，编号 {entry['reference']}。我们会在 {kind.response.text}内"
            f"（{due} 前）答复您。")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# -- improvement log (staff) --------------------------------------------------------------------

def require_staff(request: Request) -> str:
    return staff.bearer_staff(services(request).settings, request.headers.get("authorization"))


def log_filters(params, corpus: Corpus) -> dict:
    status = params.get("status") or None
    if status is not None and status not in STATUSES:
        raise KBError(f"status 只能是：{', '.join(STATUSES)}", field="status")
    kind = params.get("type") or None
    if kind is not None and kind not in corpus.feedback.types:
        raise KBError(f"type 只能是：{', '.join(corpus.feedback.types)}", field="type")
    category = params.get("category") or None
    if category is not None and category not in corpus.feedback.categories:
        raise KBError(f"category 只能是：{', '.join(corpus.feedback.categories)}", field="category")
    overdue = params.get("overdue")
    if overdue in (None, ""):
        overdue = None
    elif overdue.lower() in ("true", "1", "yes"):
        overdue = True
    elif overdue.lower() in ("false", "0", "no"):
        overdue = False
    else:
        raise KBError("overdue 只能是 true 或 false", field="overdue")
    return {"status": status, "type": kind, "category": category, "overdue": overdue}


async def improvement_log(request: Request) -> JSONResponse:
    require_staff(request)
    svc = services(request)
    params = request.query_params
    filters = log_filters(params, svc.corpus)
    limit = _int_param(params.get("limit"), "limit", default=50, lo=1, hi=MAX_LIMIT)
    offset = _int_param(params.get("offset"), "offset", default=0, lo=0, hi=10**9)
    total, rows = await run_in_threadpool(lambda: svc.store.list(**filters, limit=limit, offset=offset))
    return JSONResponse({"total": total, "limit": limit, "offset": offset, "entries": rows})


async def staff_intake(request: Request) -> JSONResponse:
    """A complaint or other feedback taken by staff (phone, front desk) with the complaint record."""
    actor = require_staff(request)
    svc = services(request)
    sub = feedback.parse_submission(await read_json(request), svc.corpus.feedback, source="staff")
    entry, created = await run_in_threadpool(lambda: svc.store.submit(sub, actor=actor))
    return JSONResponse({**entry, "replayed": not created}, status_code=201)


def _entry_id(request: Request) -> int:
    raw = request.path_params["id"]
    if not raw.isdigit() or len(raw) > 12:
        raise NotFound(f"没有编号为 {raw[:20]!r} 的条目；编号是整数", id=raw[:20])
    return int(raw)


async def improvement_entry(request: Request) -> JSONResponse:
    require_staff(request)
    entry_id = _entry_id(request)
    return JSONResponse(await run_in_threadpool(services(request).store.get, entry_id))


async def update_entry(request: Request) -> JSONResponse:
    actor = require_staff(request)
    entry_id = _entry_id(request)
    body = await read_json(request)
    store = services(request).store
    return JSONResponse(await run_in_threadpool(lambda: store.update(entry_id, body, actor=actor)))


async def content_gaps(request: Request) -> JSONResponse:
    require_staff(request)
    svc = services(request)
    await run_in_threadpool(svc.gaps.flush)
    limit = _int_param(request.query_params.get("limit"), "limit", default=100, lo=1, hi=1000)
    return JSONResponse({"gaps": await run_in_threadpool(lambda: svc.store.gaps(limit=limit))})

"""HTTP endpoints: parse the request, call a plain function, shape the JSON. No logic here."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse

from . import filling, scripts_view, templates_view
from .content import Corpus, require_corpus
from .errors import KBError, NotFound, PayloadTooLarge, ValidationFailed
from .settings import Settings


@dataclass
class Services:
    settings: Settings
    corpus: Corpus
    searcher: object

    @classmethod
    def open(cls, settings: Settings) -> "Services":
        from .search import Searcher

        corpus = require_corpus(settings.snippets_dir)
        return cls(settings, corpus, Searcher.open(settings.index_dir, corpus))

    def close(self) -> None:
        self.searcher.close()


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


async def read_json(request: Request) -> dict:
    """A JSON object body, with a size limit; anything else is a clear 4xx."""
    import json

    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_JSON_BODY:
        raise PayloadTooLarge(f"请求体太大：最多 {MAX_JSON_BODY // 1024} KB")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BODY:
            raise PayloadTooLarge(f"请求体太大：最多 {MAX_JSON_BODY // 1024} KB")
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise KBError("请求体不是有效的 JSON") from None
    if not isinstance(data, dict):
        raise KBError("请求体应为 JSON 对象，例如 {\"channel\": \"sms\", \"fields\": {...}}")
    return data


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

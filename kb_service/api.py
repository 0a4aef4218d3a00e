"""HTTP endpoints: parse the request, call a plain function, shape the JSON. No logic here."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse

from . import scripts_view
from .content import Corpus, require_corpus
from .errors import KBError, NotFound
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

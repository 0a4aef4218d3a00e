"""The mid-call screen's own endpoints: the lookup settings (general fallbacks, repeat window)
and, for staff, the caller's history by phone. See snippets/lookup.yaml."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from kb_service.content import lookup
from kb_service.content.model import Corpus
from kb_service.web.services import services


def config(request: Request) -> lookup.LookupConfig:
    state = request.app.state
    found = getattr(state, "lookup_config", None)
    if found is None:
        corpus = services(request).corpus
        found = state.lookup_config = lookup.load(corpus.root / "snippets", set(corpus.scripts))
    return found


def script_ref(corpus: Corpus, sid: str) -> dict:
    s = corpus.scripts[sid]
    return {"id": s.id, "title": s.title, "url": s.url, "summary": s.summary}


async def lookup_settings(request: Request) -> JSONResponse:
    """GET /api/lookup: what the lookup page offers when no script answers."""
    corpus = services(request).corpus
    cfg = config(request)
    return JSONResponse({
        "fallbacks": [script_ref(corpus, sid) for sid in cfg.fallbacks if sid in corpus.scripts],
        "repeat": {"window_days": cfg.repeat_window_days,
                   "script": script_ref(corpus, cfg.repeat_script) if cfg.repeat_script in corpus.scripts else None},
    }, headers={"Cache-Control": "no-cache"})

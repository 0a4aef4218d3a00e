"""The mid-call screen's own endpoints: the lookup settings (general fallbacks, repeat window)
and, for staff, the caller's history by phone. See snippets/lookup.yaml."""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from kb_service.content import lookup
from kb_service.content.model import Corpus
from kb_service.errors import KBError, Unauthorized
from kb_service.feedback import history
from kb_service.web.api import queries
from kb_service.web import access, params
from kb_service.web.services import services

CSRF_HEADER = "x-csrf-token"
log = logging.getLogger("kb_service.calls")


def config(request: Request) -> lookup.LookupConfig:
    state = request.app.state
    found = getattr(state, "lookup_config", None)
    if found is None:
        corpus = services(request).corpus
        found = state.lookup_config = lookup.load(corpus.root / "snippets", set(corpus.scripts),
                                                  corpus.source.get("feedback"))
    return found


def script_ref(corpus: Corpus, sid: str) -> dict:
    s = corpus.scripts[sid]
    return {"id": s.id, "title": s.title, "url": s.url, "summary": s.summary}


async def lookup_settings(request: Request) -> JSONResponse:
    """GET /api/lookup: what the lookup page offers when no script answers."""
    corpus = services(request).corpus
    cfg = config(request)
    fb = corpus.feedback
    return JSONResponse({
        "fallbacks": [script_ref(corpus, sid) for sid in cfg.fallbacks if sid in corpus.scripts],
        "repeat": {"window_days": cfg.repeat_window_days,
                   "script": script_ref(corpus, cfg.repeat_script) if cfg.repeat_script in corpus.scripts else None},
        "record": {
            "types": [{"id": t.id, "label": t.label,
                       "response": t.response.to_json() if t.response else None,
                       "result": t.result.to_json() if t.result else None,
                       "tiers": [{**s.to_json(), "standard": s.id, "id": k} for k, s in t.tiers.items()]}
                      for t in fb.types.values() if t.id != "page"],
            "categories": [{"id": k, "label": v} for k, v in fb.categories.items()],
            "emotions": [{"id": k, "label": v} for k, v in fb.emotions.items()],
            "prefill": {sid: cfg.prefill(sid) for sid in corpus.scripts},
        },
        # the record panel's 小区 selector (a community's account is offered only its own, see
        # /api/staff/session); empty with one community, which the service then implies
        "communities": [] if corpus.single_community else
        [{"id": c.id, "label": c.label} for c in corpus.communities.values()],
    }, headers={"Cache-Control": "no-cache"})


async def caller_history(request: Request, phone: str, limit: int, offset: int) -> dict:
    """GET /api/improvement-log?phone=: one caller's entries (phones masked) and the categories
    they called about within the repeat window. Logged without the number."""
    actor = request.user.name          # the caller (api.improvement_log) checked the scope
    if len(phone) > 40 or len(history.normalize_phone(phone)) < 7:
        raise KBError("phone 应为电话号码（至少 7 位数字），例如 13812345678", field="phone")
    svc = services(request)
    cfg = config(request)
    community = access.own_community(request)
    total, rows = await run_in_threadpool(
        lambda: history.by_phone(svc.store, phone, limit=limit, offset=offset, community=community))
    log.info("caller history looked up by %s: %d entries", actor, total)
    return {"total": total, "limit": limit, "offset": offset, "entries": rows,
            "repeat": {"window_days": cfg.repeat_window_days,
                       "categories": history.recent_categories(rows, cfg.repeat_window_days),
                       "script": script_ref(svc.corpus, cfg.repeat_script)
                       if cfg.repeat_script in svc.corpus.scripts else None}}


# -- staff session for the API ------------------------------------------------------------------

async def staff_session(request: Request) -> JSONResponse:
    """GET /api/staff/session: the signed-in staff member and the CSRF token for API writes;
    401 without a live session (the page then sends the person to /staff/login and back)."""
    user = request.user
    if not user.is_authenticated or getattr(user, "via", "") != "session":
        raise Unauthorized("需要登录：请先在 /staff/login 登录")
    return JSONResponse({"name": user.name, "role": user.role, "csrf": user.csrf, "login": access.LOGIN,
                         "community": getattr(user, "community", None)},
                        headers={"Cache-Control": "no-store"})




@access.requires("staff")
async def record_pick(request: Request) -> JSONResponse:
    """POST /api/lookup/picks {query, id, match}: an agent opened this result from the lookup.

    Kept masked and without the caller's self-introduction (services.pick_query), PICKS_DAYS
    days; /staff/gaps shows them and the lookup may put a frequent choice first (同事常选)."""
    pick = queries.PICK.read(await params.read_json(request), services(request).corpus)
    kept = await run_in_threadpool(services(request).picks.record, pick["query"], pick["id"], pick["match"])
    return JSONResponse({"recorded": bool(kept), "query": kept}, status_code=201)

"""Pages residents see that change at run time, served from the shared database on every node.

The 你说我改 page (docs/residents/changes.md) is built once per node like any other page; its
`kb:public-log` block is marked with LIVE_START/LIVE_END comments (site/public_log.py). Here the
built page is read and the marked part replaced, at request time, by HTML rendered from the
improvement log (feedback/public_log.snapshot): every node behind the proxy shows the same
figures, whatever its own site folder holds. Snapshots are kept SNAPSHOT_TTL seconds per process.
"""

from __future__ import annotations

import re
import threading
import time

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from kb_service.feedback import public_log
from kb_service.site.public_log import LIVE_END, LIVE_START, csi_chart
from kb_service.site import templates
from kb_service.web.middleware.headers import site_page
from kb_service.web.services import services

PAGE = "residents/changes/index.html"
SNAPSHOT_TTL = 10.0
KINDS = {"script": "话术", "template": "模板", "page": "页面", "process": "流程"}
_cache: dict[int, tuple[float, dict]] = {}
_lock = threading.Lock()


def snapshot(svc) -> dict:
    key = id(svc)
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
    if hit and now - hit[0] < SNAPSHOT_TTL:
        return hit[1]
    data = public_log.snapshot(svc.store)
    with _lock:
        _cache.clear()
        _cache[key] = (now, data)
    return data


def fragment(data: dict) -> str:
    has_any = data["changes"] or data["summaries"] or any(sum(v.values()) for v in data["volume"].values())
    if not has_any:
        return templates.render("public_log_live.html", data=None)
    months = [m for m in data["months"] if sum(data["volume"][m].values())] or data["months"][-1:]
    return templates.render("public_log_live.html", data=data, months=months, kinds=KINDS,
                            chart=Markup(csi_chart(data, data["dimensions"])))


async def changes(request: Request) -> Response:
    site_page(request.scope)      # the built page with its theme's inline scripts: the site's policy
    svc = services(request)
    try:
        built = (svc.settings.site_dir / PAGE).read_text(encoding="utf-8")
    except OSError:
        return HTMLResponse("页面还没有构建，请运行 kb build", status_code=404)
    pattern = re.compile(re.escape(LIVE_START) + ".*?" + re.escape(LIVE_END), re.S)
    if not pattern.search(built):
        return HTMLResponse(built)
    data = await run_in_threadpool(snapshot, svc)
    live = LIVE_START + fragment(data) + LIVE_END
    return HTMLResponse(pattern.sub(lambda _m: live, built, count=1), headers={"Cache-Control": "no-cache"})

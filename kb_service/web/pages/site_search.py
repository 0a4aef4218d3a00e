"""The site's own search index (Material: /search/search_index.json) with the current notices in
it: a resident who searches 停水 on the day of an outage finds the outage notice first.

The notices live in the database and change without a site build, so the service serves the
built index with one entry per current notice put in front (boost 5: above the resident pages'
3 and the staff scripts' 0.1). The notice text is cut into words with U+200B between them, as
Material's build does with jieba, so its word-prefix search finds them. The merged index is made
at most once per `FRESH` seconds per worker and per site build, gzip-compressed once, and carries
an ETag, so a page view that revalidates it costs a 304.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
import time

import rjieba
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from kb_service.feedback import notices
from kb_service.web.middleware.compression import accepts_gzip
from kb_service.web.middleware.headers import SiteFiles, site_page
from kb_service.web.services import services

FRESH = 10.0          # seconds a worker reuses the notices it read (the contract: on the site within 30 s)
BOOST = 5
LABEL = "小区公告"
SEP = "\u200b"

_lock = threading.Lock()


def _state_of(request: Request) -> dict:
    """This app's cache (one per app: tests run several apps in one process)."""
    state = getattr(request.app.state, "site_search", None)
    if state is None:
        state = {"checked": -1e9, "notices": [], "answer": None}
        request.app.state.site_search = state
    return state


def forget(request: Request) -> None:
    """A notice was published, corrected or withdrawn here: this worker reads the board again on
    the next request (the other workers within FRESH seconds)."""
    _state_of(request)["checked"] = -1e9


def segmented(text: str) -> str:
    """Words joined by U+200B (invisible), spaces and line breaks kept as they were."""
    return " ".join(SEP.join(w for w in rjieba.cut(part) if w.strip()) for part in text.split())


def notice_docs(items: list[dict], names: dict[str, str]) -> list[dict]:
    docs = []
    for n in items:
        whose = names.get(n["community"], n["community"]) if n["community"] else "全部小区"
        # the title is cut into words too, as the builder does: a title match is what ranks first
        docs.append({"location": n["url"].lstrip("/"), "title": segmented(f"{LABEL} · {whose} · {n['title']}"),
                     "text": segmented(n.get("body") or ""), "boost": BOOST})
    return docs


def merged(index: dict, docs: list[dict]) -> dict:
    return {**index, "docs": docs + list(index.get("docs", []))}


async def index(request: Request) -> Response:
    site_page(request.scope)      # a file of the built site (with the notices added): the site's policy
    svc = services(request)
    path = svc.settings.site_dir / INDEX
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        raise HTTPException(status_code=404) from None
    _state = _state_of(request)
    now = time.monotonic()
    if now - _state["checked"] > FRESH:
        current = (await run_in_threadpool(lambda: notices.board(svc.store.engine)))["current"]
        _state["notices"], _state["checked"] = current, now
    current = _state["notices"]
    if not current:              # nothing to add: the built file as it is (pre-compressed, ranges)
        return await _site_files(request).get_response(INDEX, request.scope)
    key = hashlib.sha1(json.dumps([stamp, [(n["id"], n["updated_at"], n["state"]) for n in current]])
                       .encode()).hexdigest()[:24]
    answer = _state["answer"]
    if answer is None or answer[0] != key:
        answer = await run_in_threadpool(lambda: _build(_state, path, key, current, notices.communities(svc.corpus)))
    etag = f'"{key}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if etag in [t.strip().removeprefix("W/") for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    if accepts_gzip(request.headers.get("accept-encoding", "")):
        return Response(answer[2], media_type="application/json", headers={**headers, "Content-Encoding": "gzip"})
    return Response(answer[1], media_type="application/json", headers=headers)


INDEX = "search/search_index.json"


def _site_files(request: Request) -> SiteFiles:
    files = getattr(request.app.state, "site_search_files", None)
    if files is None:
        files = request.app.state.site_search_files = SiteFiles(directory=services(request).settings.site_dir,
                                                                check_dir=False)
    return files


def _build(_state: dict, path, key: str, current: list[dict], names: dict[str, str]) -> tuple[str, bytes, bytes]:
    with _lock:
        answer = _state["answer"]
        if answer is not None and answer[0] == key:
            return answer
        data = merged(json.loads(path.read_text(encoding="utf-8")), notice_docs(current, names))
        body = json.dumps(data, separators=(",", ":"), default=str).encode("utf-8")
        answer = (key, body, gzip.compress(body, compresslevel=6, mtime=0))
        _state["answer"] = answer
        return answer

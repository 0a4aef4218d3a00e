"""The site's own search index (Material: /search/search_index.json; Zensical: /search.json) with
the current notices in it: a resident who searches 停水 on the day of an outage finds the outage
notice first.

The notices live in the database and change without a site build, so the service serves the
built index with one entry per current notice put in front (boost 5: above the resident pages'
3 and the staff scripts' 0.1). The notice text is cut into words with U+200B between them, as
Material's build does with jieba, so its word-prefix search finds them. The merged index is made
at most once per `FRESH` seconds per worker and per site build, gzip-compressed once, and carries
an ETag, so a page view that revalidates it costs a 304.

Zensical's search (0.0.73, "Disco") has no per-page boost: it ranks by the field that matched
(title, then path, then text) and where in it, so a staff template titled 模板 · 停水通知 would
always come before a notice that says 6栋停水. Its index therefore carries the notices first and,
for anyone not signed in as staff, leaves the staff scripts and templates out (staff signed in on
this site get them, labelled; 话术速查 is their tool). Disco cuts Chinese into words in the
browser (Intl.Segmenter), so its notice entries are plain text.
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
        state = {"checked": -1e9, "notices": [], "answers": {}}   # (index, staff) -> answer
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


def zensical_docs(items: list[dict], names: dict[str, str]) -> list[dict]:
    docs = []
    for n in items:
        whose = names.get(n["community"], n["community"]) if n["community"] else "全部小区"
        docs.append({"location": n["url"].lstrip("/"), "level": 1, "title": f"{LABEL} · {whose} · {n['title']}",
                     "text": n.get("body") or "", "path": [LABEL, whose], "tags": []})
    return docs


STAFF_ONLY = ("scripts/", "templates/")


def merged(index: dict, docs: list[dict]) -> dict:
    return {**index, "docs": docs + list(index.get("docs", []))}


def merged_zensical(index: dict, docs: list[dict], staff: bool) -> dict:
    items = [i for i in index.get("items", []) if staff or not str(i.get("location", "")).startswith(STAFF_ONLY)]
    return {**index, "items": docs + items}


async def index(request: Request) -> Response:
    """Material's index, with the current notices."""
    return await _serve(request, INDEX, None)


async def zensical_index(request: Request) -> Response:
    """Zensical's index, with the current notices; staff scripts and templates only for staff."""
    return await _serve(request, ZENSICAL_INDEX, bool(request.user.is_authenticated))


async def _serve(request: Request, rel: str, staff: bool | None) -> Response:
    site_page(request.scope)      # a file of the built site (with the notices added): the site's policy
    svc = services(request)
    path = svc.settings.site_dir / rel
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
    if not current and staff is not False:    # nothing to add or leave out: the built file as it is
        return await _site_files(request).get_response(rel, request.scope)
    key = hashlib.sha1(json.dumps([rel, staff, stamp, [(n["id"], n["updated_at"], n["state"]) for n in current]])
                       .encode()).hexdigest()[:24]
    answers = _state["answers"]
    answer = answers.get((rel, staff))
    if answer is None or answer[0] != key:
        answer = await run_in_threadpool(
            lambda: _build(_state, (rel, staff), path, key, current, notices.communities(svc.corpus)))
    etag = f'"{key}"'
    # Zensical's differs for staff: a shared cache keys it by the session cookie too
    headers = {"ETag": etag, "Cache-Control": "no-cache",
               "Vary": "Accept-Encoding" if staff is None else "Accept-Encoding, Cookie"}
    if etag in [t.strip().removeprefix("W/") for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    if accepts_gzip(request.headers.get("accept-encoding", "")):
        return Response(answer[2], media_type="application/json", headers={**headers, "Content-Encoding": "gzip"})
    return Response(answer[1], media_type="application/json", headers=headers)


INDEX = "search/search_index.json"
ZENSICAL_INDEX = "search.json"


def _site_files(request: Request) -> SiteFiles:
    files = getattr(request.app.state, "site_search_files", None)
    if files is None:
        files = request.app.state.site_search_files = SiteFiles(directory=services(request).settings.site_dir,
                                                                check_dir=False)
    return files


def _build(_state: dict, which: tuple[str, bool | None], path, key: str, current: list[dict],
           names: dict[str, str]) -> tuple[str, bytes, bytes]:
    with _lock:
        answer = _state["answers"].get(which)
        if answer is not None and answer[0] == key:
            return answer
        built = json.loads(path.read_text(encoding="utf-8"))
        if which[1] is None:
            data = merged(built, notice_docs(current, names))
        else:
            data = merged_zensical(built, zensical_docs(current, names), staff=which[1])
        body = json.dumps(data, separators=(",", ":"), default=str).encode("utf-8")
        answer = (key, body, gzip.compress(body, compresslevel=6, mtime=0))
        _state["answers"][which] = answer
        return answer

"""`kb serve --reload`: the preview follows every saved edit, as `mkdocs serve` does.

A thread polls the content files' stats (docs/, snippets/, overrides/, mkdocs.yml; no extra
dependency, a few hundred files take about a millisecond). After a change it checks the content,
swaps the service's corpus (API values follow at once), rebuilds the site and bumps the build
version; then it rebuilds the search index and swaps the searcher. Every HTML page the service
sends in this mode loads /api/preview.js (same origin, no inline script, so the pages' CSP holds),
which long-polls /api/build-status and reloads the page when the version changes, or shows the
lint problems when the content has errors. Nothing here runs without --reload.

The site is rebuilt incrementally (build.update_site): only the pages whose staged Markdown
changed are rendered again, unless the navigation changed. The search index is rebuilt in a
worker process at low priority: its ~5 s of CPU would otherwise hold this process's GIL while the
page reloads and while the next edit is built.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import multiprocessing
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kb_service.build import update_site
from kb_service.content.editor_schema import FILE as ID_SCHEMA_FILE
from kb_service.content.editor_schema import write_id_schema
from kb_service.content.load import require_corpus
from kb_service.errors import ContentError, NotFound
from kb_service.search.engine import Searcher, build_index
from kb_service.settings import Settings
from kb_service.site import incremental
from kb_service.web.api import queries

log = logging.getLogger("kb_service.preview")

WATCHED = ("mkdocs.yml", "docs", "snippets", "overrides")
POLL_SECONDS = 0.2
WAIT_SECONDS = 20.0          # how long /api/build-status holds a request when nothing changes
INDEX_NICENESS = 10          # the index worker yields the CPU to the service and the site build
SCRIPT_PATH = Path(__file__).parent.parent / "html" / "preview.js"
SCRIPT_TAG = b'<script src="/api/preview.js" defer></script>'


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """relative path -> (mtime_ns, size) of every watched file."""
    out: dict[str, tuple[int, int]] = {}

    def walk(path: str) -> None:
        try:
            entries = list(os.scandir(path))
        except OSError:
            return
        for entry in entries:
            if entry.name.startswith(".") or entry.name in ("__pycache__", ID_SCHEMA_FILE):
                continue
            if entry.is_dir(follow_symlinks=False):
                walk(entry.path)
            elif entry.is_file():
                st = entry.stat()
                out[os.path.relpath(entry.path, root)] = (st.st_mtime_ns, st.st_size)

    for name in WATCHED:
        path = root / name
        if path.is_dir():
            walk(str(path))
        elif path.is_file():
            st = path.stat()
            out[name] = (st.st_mtime_ns, st.st_size)
    return out


def changed_files(before: dict, after: dict) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


@dataclass
class BuildStatus:
    version: int = 0          # bumped after each site rebuild: the page reloads
    epoch: int = 0            # bumped on every change of this status: long polls return
    state: str = "ok"         # ok | building | error
    ready: bool = False       # warmed up: the rebuilds after this are the quick ones
    problems: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    seconds: float | None = None        # save seen -> site rebuilt
    index_seconds: float | None = None  # then -> searcher swapped
    mode: str = ""            # how the site was rebuilt: pages (only the changed ones) | full | none
    pages: list[str] = field(default_factory=list)   # the pages rendered again (mode "pages")
    reason: str = ""          # why a full build

    def to_json(self) -> dict:
        return {"version": self.version, "epoch": self.epoch, "state": self.state, "ready": self.ready,
                "problems": self.problems,
                "changed": self.changed, "seconds": self.seconds, "index_seconds": self.index_seconds,
                "mode": self.mode, "pages": self.pages, "reason": self.reason}


class Preview:
    """The watcher thread and the build status it publishes."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.status = BuildStatus()
        self.services = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._indexer: threading.Thread | None = None
        self._lock = threading.Lock()
        self._index_event = threading.Event()
        self._index_wanted: tuple | None = None
        self._pool = None     # the index worker process, started with the first index rebuild

    def start(self, services) -> None:
        self.services = services
        self._thread = threading.Thread(target=self._run, name="kb-preview", daemon=True)
        self._thread.start()
        self._indexer = threading.Thread(target=self._index_loop, name="kb-preview-index", daemon=True)
        self._indexer.start()

    def stop(self) -> None:
        self._stop.set()
        if self._pool is not None:
            self._pool.terminate()      # an index build in flight is of no use any more
        for thread in (self._thread, self._indexer):
            if thread is not None:
                thread.join(timeout=5)

    def _publish(self, **changes) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(self.status, key, value)
            self.status.epoch += 1

    def _run(self) -> None:
        root = self.settings.project_dir
        last = snapshot(root)     # before the warm-up: an edit saved during it is still seen
        self._warm()
        self._publish(ready=True)
        while not self._stop.wait(POLL_SECONDS):
            now = snapshot(root)
            if now == last:
                continue
            seen = time.perf_counter()
            # an editor's save can be several writes: wait until the files hold still
            while not self._stop.wait(0.05):
                settled = snapshot(root)
                if settled == now:
                    break
                now = settled
            changed, last = changed_files(last, now), now
            try:
                self.rebuild(changed, seen)
            except Exception:   # the preview must outlive any one bad build
                log.exception("preview rebuild failed")
                self._publish(state="error", problems=["预览重建失败，请看 kb serve 的终端输出"])

    def _warm(self) -> None:
        """Before the first edit: load what a rebuild needs, and bring the staged output up to date
        (nothing to do after `kb serve`'s own build; a full build when it found the site current
        but the staged output gone, or written by another builder)."""
        if self.settings.site_engine != "mkdocs":
            return      # Zensical rebuilds everything on each edit (with its own cache)
        try:
            incremental.warm()
            update_site(self.settings, require_corpus(self.settings.snippets_dir))
        except Exception:   # the first edit builds it again, and reports what is wrong
            log.exception("preview warm-up failed")

    def rebuild(self, changed: list[str], seen: float | None = None) -> None:
        seen = seen or time.perf_counter()
        self._publish(state="building", changed=changed, problems=[])
        try:
            corpus = require_corpus(self.settings.snippets_dir)
            write_id_schema(corpus, self.settings.snippets_dir / "schema")   # new ids complete at once
            services = self.services
            if services is not None:
                services.corpus = corpus               # API values follow at once
                services.store.config = corpus.feedback
            update = update_site(self.settings, corpus)
        except ContentError as exc:
            problems = [str(p) for p in exc.problems] or exc.message.splitlines()
            self._publish(state="error", problems=problems)
            return
        site_done = time.perf_counter()
        self._publish(state="ok", version=self.status.version + 1, seconds=round(site_done - seen, 3),
                      mode=update.mode, pages=update.pages, reason=update.reason)
        how = {"pages": f"重新渲染 {len(update.pages)} 个页面", "none": "页面没有变化"}.get(
            update.mode, f"完整构建：{update.reason}")
        log.warning("kb preview: 已重建（%s；%s），用时 %.1f 秒", "、".join(changed[:3]), how, site_done - seen)
        # The search index last, in its own thread: the page has reloaded already, search follows
        # a moment later, and the next save does not wait for it.
        with self._lock:
            self._index_wanted = (corpus, site_done)
        self._index_event.set()

    def _index_loop(self) -> None:
        generation = 0
        while not self._stop.is_set():
            if not self._index_event.wait(0.5):
                continue
            self._index_event.clear()
            with self._lock:
                wanted, self._index_wanted = self._index_wanted, None
            if wanted is None:
                continue
            corpus, since = wanted
            generation += 1
            # A fresh folder each time: searches in flight keep reading the previous one.
            target = self.settings.data_dir / "preview-index" / str(generation)
            try:
                shutil.rmtree(target, ignore_errors=True)
                if not self._build_index(corpus, target):
                    return
                if self.services is not None:
                    searcher = Searcher.open(target, corpus)
                    searcher.gap_sink = self.services.gaps.add
                    self.services.searcher = searcher
                shutil.rmtree(self.settings.data_dir / "preview-index" / str(generation - 2), ignore_errors=True)
                self._publish(index_seconds=round(time.perf_counter() - since, 3))
            except Exception:   # search keeps the previous index
                log.exception("preview index rebuild failed")

    def _build_index(self, corpus, target: Path) -> bool:
        """search.engine.build_index in the worker process (kept for the next edit: its imports and
        jieba's dictionary stay loaded); the service only opens the result. False: stopped first."""
        if self._pool is None:
            # spawn: a fork of this threaded process could inherit a lock held by another thread
            context = multiprocessing.get_context("spawn")
            self._pool = context.Pool(1, initializer=os.nice, initargs=(INDEX_NICENESS,))
        pending = self._pool.apply_async(build_index, (corpus, self.settings.docs_dir, target))
        while not pending.ready():
            # stop() terminates the pool, and a terminated pool never answers: do not wait for it
            if self._stop.wait(0.1):
                return False
        pending.get()
        return True


# -- HTTP: the status, the script, and the tag in every page ----------------------------------

def preview_of(request: Request) -> Preview:
    preview = getattr(request.app.state, "preview", None)
    if preview is None:
        raise NotFound("预览模式未开启：用 make preview 或 kb serve --reload 启动")
    return preview


async def build_status(request: Request) -> JSONResponse:
    """The build status; `?epoch=N` waits (up to 20 s) until it differs from N."""
    preview = preview_of(request)
    epoch = queries.PREVIEW.read(request.query_params)["epoch"]
    if epoch is not None:
        deadline = time.monotonic() + WAIT_SECONDS
        while preview.status.epoch == epoch and time.monotonic() < deadline:
            if await request.is_disconnected():
                break   # the page is gone: a server stopping would otherwise wait for this answer
            await asyncio.sleep(0.05)
    return JSONResponse(preview.status.to_json(), headers={"Cache-Control": "no-store"})


async def script(request: Request) -> Response:
    preview_of(request)
    return Response(SCRIPT_PATH.read_bytes(), media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "no-store"})


class InjectReloadScript:
    """ASGI middleware (preview only): HTML responses get the reload script before </body>.
    Pages that come gzipped already (the build's .gz copies of site files, community pages and
    notices compressed once per version) are unpacked first; the Compression middleware outside
    this one packs the page again."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        start: dict | None = None
        chunks: list[bytes] = []

        async def wrapped(message):
            nonlocal start
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers") or [])
                if message["status"] == 200 and headers.get(b"content-type", b"").startswith(b"text/html") \
                        and headers.get(b"content-encoding", b"").lower() in (b"", b"gzip"):
                    start = message
                    return
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                body = b"".join(chunks)
                packed = dict(start["headers"]).get(b"content-encoding", b"").lower() == b"gzip"
                if packed:
                    body = gzip.decompress(body)
                if SCRIPT_TAG not in body:
                    at = body.rfind(b"</body>")
                    body = body[:at] + SCRIPT_TAG + body[at:] if at >= 0 else body + SCRIPT_TAG
                headers = [(k, v) for k, v in start["headers"]
                           if k.lower() not in (b"content-length", b"etag", b"last-modified", b"cache-control",
                                                b"content-encoding")]
                headers.append((b"content-length", str(len(body)).encode()))
                headers.append((b"cache-control", b"no-store"))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, wrapped)

"""What the running service holds: settings, the content, the searcher, the store, limiters.

Opened once in the app's lifespan; endpoints reach it through `services(request)`.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from starlette.requests import Request

from kb_service import db
from kb_service.build import load_content
from kb_service.content.load import community_files, load_communities
from kb_service.content.model import Corpus
from kb_service.feedback.forms import mask_text
from kb_service.feedback.store import Store
from kb_service.search.picks import PickBook
from kb_service.search import textproc
from kb_service.search.engine import Searcher
from kb_service.settings import Settings
from kb_service.times import utcnow
from kb_service.staff.limits import SharedLimiter


@dataclass
class Services:
    settings: Settings
    corpus: Corpus
    searcher: object
    store: Store
    limiter: FeedbackLimit
    gaps: GapBuffer
    limits: SharedLimiter
    watcher: "CommunityWatcher | None" = field(default=None)
    picks: "PickHints | None" = field(default=None)

    @classmethod
    def open(cls, settings: Settings) -> "Services":
        corpus = load_content(settings)
        engine = db.connect(settings.database_url)
        store = Store(engine, corpus.feedback)
        if corpus.default_community is not None:
            store.adopt_entries(corpus.default_community.id)
        gaps = GapBuffer(store)
        searcher = Searcher.open(settings.index_dir, corpus)
        searcher.gap_sink = gaps.add
        limits = SharedLimiter(engine)
        return cls(settings, corpus, searcher, store, FeedbackLimit(limits, settings.feedback_rate_limit), gaps,
                   limits, CommunityWatcher(corpus, settings.snippets_dir), PickHints.open(store))

    def close(self) -> None:
        self.gaps.flush()
        self.searcher.close()
        self.store.engine.dispose()


class FeedbackLimit:
    """Public form posts per client address per minute, counted in the shared database."""

    def __init__(self, limits: SharedLimiter, per_minute: int):
        self.limits, self.per_minute = limits, per_minute

    def hit(self, address: str) -> None:
        self.limits.hit(f"feedback:{address}", self.per_minute, 60,
                        "提交太频繁：同一网络（同一 IP）每分钟最多 {limit} 次，请 {retry} 秒后再试")


class GapBuffer:
    """Zero-result and low-confidence queries, written to the database in batches so that a
    search never waits for a disk write. A crash loses at most one flush interval of them."""

    def __init__(self, store: Store):
        self.store = store
        self._pending: list[tuple] = []
        self._lock = threading.Lock()

    def add(self, query: str, total: int, top: float | None) -> None:
        # what the caller said about themselves (我姓张, a phone number, half typed) is not kept
        query = pick_query(query)
        if not query:       # nothing but that: nothing to learn from, nothing to keep
            return
        with self._lock:
            if len(self._pending) < 10_000:
                self._pending.append((query, total, top, utcnow()))

    def flush(self) -> int:
        with self._lock:
            batch, self._pending = self._pending, []
        self.store.record_gaps(batch)
        return len(batch)


def pick_query(query: str) -> str:
    """A lookup query as it may be kept: greetings, self-introductions, names (我姓王, 我是王女士)
    and phone numbers left out (textproc.without_preamble: "" when that is all there is),
    addresses (3栋1201) too, then any other phone or ID number masked (feedback/forms.mask_text),
    and long numbers still being typed."""
    kept = mask_text(textproc.without_preamble(textproc.normalize(query).strip()))
    kept = re.sub(r"\s+", " ", _ADDRESS.sub(" ", kept)).strip() or kept   # 3栋1201: where, not what
    # a number still being typed (1390000111) is not a whole phone number yet: mask it all the same
    return _LONG_DIGITS.sub(lambda m: m.group()[:3] + "*" * (len(m.group()) - 3), kept)[:200]


_LONG_DIGITS = re.compile(r"\d{6,}")   # longer than a door number (1201, 12030)
# 3栋1201, 5号楼2单元1202室, 12层: a whole address, however many parts it has
_ADDRESS = re.compile(r"(?:\d+(?:号楼|栋|幢|座|单元|室|层|楼|号|户))+\d*(?:室|号|户)?")


class PickHints:
    """What agents opened from the lookup: recorded in the store, counted in memory (PickBook)
    so a search never waits for the database; other workers' picks arrive with `reload`."""

    RELOAD_SECONDS = 60.0

    @classmethod
    def open(cls, store: Store) -> "PickHints":
        hints = cls(store)
        hints.reload()
        return hints

    def __init__(self, store: Store):
        self.store = store
        self.book = PickBook()
        self.loaded_at = 0.0
        self._lock = threading.Lock()

    def reload(self) -> None:
        book = PickBook()
        for query, chosen, n in self.store.pick_counts():
            book.add(query, chosen, n)
        with self._lock:
            self.book, self.loaded_at = book, time.monotonic()

    def reload_if_due(self) -> None:
        if time.monotonic() - self.loaded_at >= self.RELOAD_SECONDS:
            self.reload()

    def record(self, query: str, chosen: str, match: str) -> str:
        kept = pick_query(query)
        if kept:
            self.store.record_pick(kept, chosen, match)
            with self._lock:
                self.book.add(kept, chosen)
        return kept

    def lookup(self, query: str) -> str | None:
        return self.book.lookup(query)


log = logging.getLogger("kb_service")


class CommunityWatcher:
    """Keeps corpus.communities in step with snippets/communities/ while the service runs, so an
    edited fee or a new community is served within seconds, without a site build. `refresh`
    (called every second by the app) compares the files' mtimes and sizes; on a change only the
    communities are checked again (same rules as kb lint), and they replace the served ones only
    when clean; otherwise the problems are logged and the last good version stays."""

    def __init__(self, corpus: Corpus, snippets_dir: Path):
        self.corpus = corpus
        self.snippets_dir = snippets_dir
        self.cache: dict = {}
        self.problems: list = []
        self.reloaded_at: float | None = None
        self._stamp = self._scan()
        self.version = self._version(self._stamp)
        self._lock = threading.Lock()

    def _scan(self) -> tuple:
        paths = community_files(self.snippets_dir) + [self.snippets_dir / "site.yaml"]
        out = []
        for path in paths:
            try:
                stat = path.stat()
            except OSError:
                continue
            out.append((path.name, stat.st_mtime_ns, stat.st_size))
        return tuple(out)

    @staticmethod
    def _version(stamp: tuple) -> str:
        """The served communities' version: the same on every worker that read the same files, so
        a page's ETag (web/pages/community_pages.py) holds whichever worker answers."""
        return hashlib.sha1(repr(stamp).encode()).hexdigest()[:16]

    def prime(self) -> None:
        """Read every community file once (in the background at start-up), so that the first
        edit re-reads only the edited file."""
        with self._lock:
            load_communities(self.snippets_dir, self.cache)

    def refresh(self) -> bool:
        """Reload when a file changed; True when new communities are being served."""
        with self._lock:
            stamp = self._scan()
            if stamp == self._stamp:
                return False
            found, problems = load_communities(self.snippets_dir, self.cache)
            self._stamp = stamp
            self.problems = [p for p in problems if p.severity == "error"]
            if found is None:
                log.warning("小区文件有错误，仍按上一版提供（运行 kb lint 查看）：%s",
                            "; ".join(str(p) for p in self.problems[:5]))
                return False
            self.corpus.communities = found
            self.version = self._version(stamp)
            self.reloaded_at = time.time()
            return True


def services(request: Request) -> Services:
    return request.app.state.services

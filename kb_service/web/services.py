"""What the running service holds: settings, the content, the searcher, the store, limiters.

Opened once in the app's lifespan; endpoints reach it through `services(request)`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from starlette.requests import Request

from kb_service import db
from kb_service.build import load_content
from kb_service.content.model import Corpus
from kb_service.feedback.store import Store
from kb_service.search.engine import Searcher
from kb_service.settings import Settings
from kb_service.times import utcnow
from kb_service.web.guards import RateLimiter


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
        corpus = load_content(settings)
        engine = db.connect(settings.database_url)
        store = Store(engine, corpus.feedback)
        if corpus.default_community is not None:
            store.adopt_entries(corpus.default_community.id)
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

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
from kb_service.web.limits import SharedLimiter


@dataclass
class Services:
    settings: Settings
    corpus: Corpus
    searcher: object
    store: Store
    limiter: FeedbackLimit
    gaps: GapBuffer
    limits: SharedLimiter

    @classmethod
    def open(cls, settings: Settings) -> "Services":
        corpus = load_content(settings)
        engine = db.connect(settings.database_url)
        store = Store(engine, corpus.feedback)
        gaps = GapBuffer(store)
        searcher = Searcher.open(settings.index_dir, corpus)
        searcher.gap_sink = gaps.add
        limits = SharedLimiter(engine)
        return cls(settings, corpus, searcher, store, FeedbackLimit(limits, settings.feedback_rate_limit), gaps,
                   limits)

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
                        "提交太频繁：每个地址每分钟最多 {limit} 次，请 {retry} 秒后再试")


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

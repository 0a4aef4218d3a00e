"""Rate limits and lock-outs counted in the database, so every worker and every node shares them.

A counter per (name, window start), and the usual sliding-window estimate: this window's count
plus the previous window's, weighted by how much of it still lies within the last `window`
seconds (so a burst across a window boundary is still seen). One upsert per hit on SQLite and
PostgreSQL alike; old windows are swept now and then. Keys are built from the real client address (see
web/proxies.py), never from a header a client can set.
"""

from __future__ import annotations

import datetime as dt
import random
import time

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from kb_service.db import give_back, rate_counters, reading, take
from kb_service.errors import TooManyRequests
from kb_service.times import utcnow


class SharedLimiter:
    def __init__(self, engine: Engine, *, clock=time.time):
        self.engine = engine
        self.clock = clock
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        self._insert = dialect.insert

    def _bucket(self, window: int) -> tuple[int, int, float]:
        """(window start, seconds until it ends, weight of the previous window)."""
        now = self.clock()
        start = int(now // window * window)
        return start, max(1, int(start + window - now) + 1), 1 - (now - start) / window

    def _estimate(self, conn, name: str, window: int, current: int | None = None) -> float:
        start, _, weight = self._bucket(window)
        rows = dict(conn.execute(sa.select(rate_counters.c.bucket, rate_counters.c.count).where(
            rate_counters.c.name == name[:200], rate_counters.c.bucket.in_([start, start - window]))).all())
        now_count = rows.get(start, 0) if current is None else current
        return now_count + rows.get(start - window, 0) * weight

    def add(self, name: str, window: int, amount: int = 1) -> float:
        """Count one hit for `name`; returns the sliding-window count including it."""
        start, _, _ = self._bucket(window)
        stmt = self._insert(rate_counters).values(
            name=name[:200], bucket=start, count=amount,
            expires_at=utcnow() + dt.timedelta(seconds=2 * window + 1))
        stmt = stmt.on_conflict_do_update(index_elements=["name", "bucket"],
                                          set_={"count": rate_counters.c.count + amount})
        with self.engine.begin() as conn:
            count = conn.execute(stmt.returning(rate_counters.c.count)).scalar_one()
            estimate = self._estimate(conn, name, window, count)
            if random.random() < 0.01:
                conn.execute(rate_counters.delete().where(rate_counters.c.expires_at < utcnow()))
        return estimate

    def count(self, name: str, window: int) -> float:
        with reading(self.engine) as conn:
            return self._estimate(conn, name, window)

    def retry_after(self, window: int) -> int:
        return self._bucket(window)[1]

    def hit(self, name: str, limit: int, window: int, message: str) -> None:
        """Count a hit; over `limit` in this window -> 429 with Retry-After (0 = unlimited)."""
        if limit <= 0:
            return
        if self.add(name, window) > limit:
            retry = self.retry_after(window)
            raise TooManyRequests(message.format(limit=limit, retry=retry), retry_after=retry)

    def check(self, name: str, limit: int, window: int, message: str) -> None:
        """Refuse if `name` already reached `limit` in this window, without counting."""
        if limit > 0 and self.count(name, window) >= limit:
            retry = self.retry_after(window)
            raise TooManyRequests(message.format(limit=limit, retry=retry), retry_after=retry)

    def reserve(self, name: str, limit: int, window: int, message: str) -> None:
        """Count an attempt BEFORE it is checked, in the same database step as the limit check
        (db.take), so concurrent attempts cannot all slip in under the limit; 429 when it is
        used up (and then nothing is counted). `release` hands the count back for a right one."""
        refused = take(self.engine, [(name, limit, window)], now=self.clock())
        if refused is not None:
            raise TooManyRequests(message.format(limit=limit, retry=refused[1]), retry_after=refused[1])

    def release(self, name: str, window: int) -> None:
        give_back(self.engine, [(name, window)], now=self.clock())

    def clear(self, name: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(rate_counters.delete().where(rate_counters.c.name == name[:200]))

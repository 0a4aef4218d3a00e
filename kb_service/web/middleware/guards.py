"""Abuse limits for the public forms: per-address rate limit and the same-origin check."""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

from kb_service.errors import KBError, TooManyRequests


class CrossOrigin(KBError):
    status_code = 403


class RateLimiter:
    """At most `per_minute` hits per key in any sliding 60-second window (0 = unlimited).

    Kept in memory per process: with several service processes behind a proxy each process
    enforces the limit on its own, which only makes it looser by that factor.
    """

    MESSAGE = "提交太频繁：同一网络（同一 IP）每分钟最多 {limit} 次，请 {retry} 秒后再试"

    def __init__(self, per_minute: int, *, clock=time.monotonic, message: str = MESSAGE):
        self.per_minute = per_minute
        self.message = message
        self.clock = clock
        self._hits: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        self._last_sweep = clock()

    def hit(self, key: str) -> None:
        if self.per_minute <= 0:
            return
        now = self.clock()
        with self._lock:
            if now - self._last_sweep > 60:
                self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - 60}
                self._last_sweep = now
            recent = [t for t in self._hits.get(key, ()) if t > now - 60]
            if len(recent) >= self.per_minute:
                retry = max(1, int(recent[0] + 60 - now) + 1)
                self._hits[key] = recent
                raise TooManyRequests(self.message.format(limit=self.per_minute, retry=retry),
                                      retry_after=retry)
            recent.append(now)
            self._hits[key] = recent


def check_same_origin(headers, host_url: str) -> None:
    """Refuse form posts that a browser marks as coming from another site.

    Browsers send Origin (and Sec-Fetch-Site) with every POST; clients that send neither (curl,
    scripts, the bench) are not browsers and cannot carry a resident's cookies, so they pass.
    """
    site = headers.get("sec-fetch-site")
    if site == "cross-site":
        raise CrossOrigin("拒绝来自其他网站的表单提交；请在本站页面上填写")
    origin = headers.get("origin")
    if origin is None:
        return
    if origin == "null":
        raise CrossOrigin("拒绝来源不明的表单提交（Origin: null）；请在本站页面上填写")
    # Host only: behind a TLS-terminating proxy the scheme seen here differs from the browser's.
    if urlsplit(origin).netloc != urlsplit(host_url).netloc:
        raise CrossOrigin("拒绝来自其他网站的表单提交；请在本站页面上填写")

"""One JSON line per request, and an X-Request-ID on every response (the client's own when it
sends a sane one, else a new one).

Lines go to KB_REQUEST_LOG: by default KB_DATA_DIR/requests.log (owner-only, reopened when
logrotate moves it), `-` for standard error (journald), `off` for nowhere; and to any handler
attached to the `kb_service.requests` logger. Not to standard output or error by default: a
process whose output nobody reads (a pipe) must never block on its log.

A line holds time (UTC), request id, method, path, the names of query parameters (never their
values: a search or a filter can hold a phone number or a name), status and duration. Never a
header, cookie, token, body or client address.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qsl

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kb_service.db import private_file
from kb_service.times import iso, utcnow

log = logging.getLogger("kb_service.requests")
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
# Path segments that are not ids or fixed words are shown as ":value" (a mistyped URL can hold anything).
SEGMENT = re.compile(r"[A-Za-z0-9._~-]{0,80}")


_handlers: dict[str, logging.Handler] = {}


def open_handler(target: str) -> logging.Handler | None:
    """One handler per destination per process, kept open (logging closes it at exit)."""
    if target == "off":
        return None
    if target not in _handlers:
        if target == "-":
            _handlers[target] = logging.StreamHandler(sys.stderr)
        else:
            private_file(Path(target))
            _handlers[target] = logging.handlers.WatchedFileHandler(target, encoding="utf-8")
    return _handlers[target]


LONG_NUMBER = re.compile(r"[0-9]{7,}")      # a phone number or an id card typed into a URL


def clean_path(path: str) -> str:
    return "/".join(p if SEGMENT.fullmatch(p) and not LONG_NUMBER.search(p) else ":value"
                    for p in path.split("/"))[:300]


class RequestLog:
    def __init__(self, app: ASGIApp, target: str = "off"):
        self.app = app
        self.handler = open_handler(target)
        log.setLevel(logging.INFO)
        log.propagate = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            query = sorted({k for k, _ in parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                                                       keep_blank_values=True)})
            line = json.dumps({
                "time": iso(utcnow()), "request_id": request_id, "method": scope["method"],
                "path": clean_path(scope["path"]), "query": [k[:40] for k in query[:20]], "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1)}, ensure_ascii=False)
            log.info(line)
            if self.handler is not None:
                self.handler.emit(logging.makeLogRecord({"msg": line, "levelno": logging.INFO,
                                                         "levelname": "INFO", "name": log.name}))

"""Slow clients: a request body that stops arriving is answered 408 instead of holding a worker.

Idle keep-alive connections, oversized headers and the number of connections served at once are
uvicorn's settings (cli.SERVER_LIMITS); headers sent slowly are the reverse proxy's job
(nginx client_header_timeout, see the deployment guide).
"""

from __future__ import annotations

import asyncio
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kb_service.errors import KBError


class RequestTimeout(KBError):
    status_code = 408


class BodyTimeout:
    """The whole request body must arrive within `seconds` of the request's start (issue 29: the
    limit was per chunk, so one byte every 10 s kept a request open for ever). Once the body is
    complete, receive() is passed through untouched (it then only reports a disconnect)."""

    def __init__(self, app: ASGIApp, seconds: float = 15.0, *, clock=time.monotonic):
        self.app = app
        self.seconds = seconds
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = self.clock() + self.seconds
        done = False

        async def timed_receive() -> Message:
            nonlocal done
            if done:
                return await receive()
            late = RequestTimeout(f"请求体在 {self.seconds:.0f} 秒内没有传完，连接已放弃；请重新提交")
            remaining = deadline - self.clock()
            if remaining <= 0:
                raise late
            try:
                message = await asyncio.wait_for(receive(), remaining)
            except asyncio.TimeoutError:
                raise late from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                done = True
            return message

        await self.app(scope, timed_receive, send)

"""Slow clients: a request body that stops arriving is answered 408 instead of holding a worker.

Idle keep-alive connections, oversized headers and the number of connections served at once are
uvicorn's settings (cli.SERVER_LIMITS); headers sent slowly are the reverse proxy's job
(nginx client_header_timeout, see the deployment guide).
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kb_service.errors import KBError


class RequestTimeout(KBError):
    status_code = 408


class BodyTimeout:
    def __init__(self, app: ASGIApp, seconds: float = 15.0):
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def timed_receive() -> Message:
            try:
                return await asyncio.wait_for(receive(), self.seconds)
            except asyncio.TimeoutError:
                raise RequestTimeout(f"请求体在 {self.seconds:.0f} 秒内没有传完，连接已放弃；请重新提交") from None

        await self.app(scope, timed_receive, send)

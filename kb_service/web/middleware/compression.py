"""gzip for everything a browser may cache or a phone downloads, never for the staff's own pages.

Residents' phones fetch the site (the 2 MB search index above all) on slow mobile networks, so
the service compresses its answers itself rather than relying on a proxy that may not. Level 6, as
nginx uses: Starlette's default 9 costs four times the CPU for 4 % fewer bytes. Range answers stay
uncompressed (Starlette's GZipMiddleware leaves 206 alone).

Not compressed: the service's staff pages and the staff session endpoint. They carry the CSRF token
in the same body as text echoed from the request (a search box, a form sent back with its errors)
and are sent with the staff cookie, which is what a compression side channel (BREACH) needs. The
cookie is SameSite=Strict, so another site cannot have it sent; this is the second layer. One
rule for the whole /staff/ prefix, so the site's own staff pages there (话术速查, 模板填写; no
token in them) go uncompressed too: about 70 KB more on a staff member's first visit.
"""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

UNCOMPRESSED = ("/staff/", "/api/staff/")


def accepts_gzip(header: str) -> bool:
    """True when the Accept-Encoding header allows gzip (`gzip`, `*`, and not `q=0`)."""
    for part in header.lower().split(","):
        coding, _, params = part.partition(";")
        if coding.strip() in ("gzip", "*"):
            q = params.replace(" ", "").removeprefix("q=")
            try:
                return not params.strip() or float(q) > 0
            except ValueError:
                return True
    return False


def compressible(path: str) -> bool:
    return not path.startswith(UNCOMPRESSED) and path not in ("/staff", "/api/staff")


class Compression(GZipMiddleware):
    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app, minimum_size=1024, compresslevel=6)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not compressible(scope["path"]):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

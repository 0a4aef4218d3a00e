"""Headers on every response, the static site included: a Content-Security-Policy, nosniff,
no framing, no caching of staff data, and redirects that never echo the Host header.

The site's CSP allows scripts from this origin only, plus the exact inline scripts the theme
writes into every page (MkDocs Material keeps a few tiny ones in its HTML), by SHA-256 hash,
collected from the built site at start-up. Inline event handlers (onclick=...) are never allowed.
Everything else the service renders (its pages, the API) gets the stricter SERVICE_CSP: no inline
script or style at all. This middleware is the only place the policy is written; a handler that
serves a page of the built site marks the request with `site_page` instead.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>(.*?)</script>", re.S)
# Service pages load nothing but this site's own files.
SERVICE_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SITE_PAGE = "kb.site_page"      # scope key: this response is a page of the built site (its theme's CSP)
SITE_CSP = ("default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'self'")


def inline_script_hashes(site_dir: Path, limit: int = 2000) -> list[str]:
    """'sha256-...' for each distinct inline script in the built pages (the theme's own)."""
    found: set[str] = set()
    for i, page in enumerate(sorted(site_dir.rglob("*.html")) if site_dir.is_dir() else []):
        if i >= limit:
            break
        for body in INLINE_SCRIPT.findall(page.read_bytes()):
            found.add("'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'")
    return sorted(found)


def site_csp(site_dir: Path) -> str:
    hashes = inline_script_hashes(site_dir)
    return SITE_CSP.format(hashes="".join(" " + h for h in hashes))


class SecurityHeaders:
    """Pure ASGI middleware (streams pass through untouched)."""

    def __init__(self, app: ASGIApp, site_dir: Path):
        self.app = app
        self.site_dir = site_dir
        self.csp: str | None = None
        self._stamp: float | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        stamp = build_stamp(self.site_dir)
        if self.csp is None or stamp != self._stamp:     # the site was rebuilt: its pages may differ
            self.csp, self._stamp = site_csp(self.site_dir), stamp
        path = scope["path"]
        private = path.startswith("/api/") or path.startswith("/staff/") or path in ("/api", "/staff")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", self.csp if scope.get(SITE_PAGE) else SERVICE_CSP)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "same-origin")
                if private:
                    headers.setdefault("Cache-Control", "no-store")
                location = headers.get("location")
                if location and location.startswith(("http://", "https://", "//")):
                    headers["location"] = relative(location)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def site_page(scope: Scope) -> None:
    """Mark a response as a page of the built site: the middleware gives it the site's CSP."""
    scope[SITE_PAGE] = True


def build_stamp(site_dir: Path) -> float | None:
    try:
        return (site_dir / ".kb-build.json").stat().st_mtime
    except OSError:
        return None


def relative(location: str) -> str:
    """Our redirects stay on this site: drop scheme and host (which came from the Host header)."""
    parts = urlsplit(location)
    path = "/" + parts.path.lstrip("/")
    return path + (f"?{parts.query}" if parts.query else "")


# The theme's bundles carry a content hash in their names (bundle.a5f9d56c.min.js): a new version
# is a new name, so a browser may keep these for a year without asking again.
HASHED_ASSET = re.compile(r"\.[0-9a-f]{8,}\.min\.(?:js|css)$")


def site_cache_control(path: str) -> str:
    """Hashed theme bundles: cached for good. Everything else (pages, our scripts, the search
    index): `no-cache`, i.e. kept but checked with its ETag on every use, so a content update or an
    upgrade is seen at once (a 304 costs a few hundred bytes); without a header, browsers guess a
    lifetime from Last-Modified and may show a days-old page."""
    return "public, max-age=31536000, immutable" if HASHED_ASSET.search(path) else "no-cache"


class SiteFiles(StaticFiles):
    """The built site, minus dot-files (the build marker /.kb-build.json, editors' leftovers)."""

    async def get_response(self, path: str, scope: Scope):
        site_page(scope)
        if any(part.startswith(".") and part not in (".", "..") for part in re.split(r"[/\\]", path)):
            raise HTTPException(status_code=404)
        response = await super().get_response(path, scope)
        if isinstance(response, RedirectResponse):
            response.headers["location"] = relative(response.headers["location"])
        elif response.status_code in (200, 206, 304):
            response.headers.setdefault("Cache-Control", site_cache_control(path))
        return response

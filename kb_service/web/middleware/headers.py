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
import functools
import hashlib
import mimetypes
import os
import re
import stat
from email.utils import formatdate
from pathlib import Path
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kb_service.web.middleware.compression import accepts_gzip

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


@functools.lru_cache(maxsize=16)
def _built_site_csp(site_dir: Path, stamp: float) -> str:
    """site_csp of one build: an app made again for the same build (workers, restarts within one
    process, the tests' many apps) reads its pages once, not once per app."""
    return site_csp(site_dir)


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
            csp = site_csp(self.site_dir) if stamp is None else _built_site_csp(self.site_dir, stamp)
            self.csp, self._stamp = csp, stamp
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
    """The built site, minus dot-files (the build marker /.kb-build.json, editors' leftovers).
    A browser that accepts gzip gets the copy the build compressed (site/precompress.py): no
    compression per request."""

    # Pages, our scripts and styles (and their .gz copies) are read once and kept while their
    # file is unchanged (checked with one stat per request): a page a whole community opens at
    # once costs no thread hops for file reads. Big files (the search index, mermaid) and ranges
    # take the ordinary way.
    MEMORY_LIMIT = 512 * 1024

    def _from_memory(self, path: str, scope: Scope) -> Response | None:
        if scope.get("method") != "GET":
            return None
        request_headers = Headers(scope=scope)
        if "range" in request_headers:
            return None
        # StaticFiles hands over a normalised path ("residents/fees", "." for the root): a URL
        # ending in "/" is a folder's index.html (without the "/", the ordinary way redirects)
        if scope["path"].endswith("/"):
            rel = "index.html" if path in ("", ".") else path.rstrip("/") + "/index.html"
        else:
            rel = path
        if not rel.endswith((".html", ".js", ".css", ".svg", ".ico", ".xml")):
            return None
        paths = self.__dict__.setdefault("_paths", {})
        full = paths.get(rel)
        try:
            if full is not None:             # resolved before (realpath costs a dozen syscalls)
                st = os.stat(full)
            else:
                full, st = self.lookup_path(rel)
                if st is not None and len(paths) < 20000:
                    paths[rel] = full
        except (OSError, ValueError):        # gone, too long, a null byte: the ordinary way answers
            paths.pop(rel, None)
            return None
        if st is None or not stat.S_ISREG(st.st_mode) or st.st_size > self.MEMORY_LIMIT:
            return None
        gz = _precompressed(full, st) if accepts_gzip(request_headers.get("accept-encoding", "")) else None
        source, source_stat = gz if gz is not None else (full, st)
        memory = self.__dict__.setdefault("_memory", {})
        key = (source, source_stat.st_mtime_ns, source_stat.st_size)
        body = memory.get(key)
        if body is None:
            try:
                body = Path(source).read_bytes()
            except OSError:
                return None
            if len(memory) > 4000:
                memory.clear()
            memory[key] = body
        etag = '"' + hashlib.md5(f"{source_stat.st_mtime}-{source_stat.st_size}".encode(), usedforsecurity=False).hexdigest() + '"'
        headers = {"ETag": etag, "Cache-Control": site_cache_control(rel),
                   "Last-Modified": formatdate(source_stat.st_mtime, usegmt=True)}
        if gz is not None or _precompressed(full, st) is not None:
            headers["Vary"] = "Accept-Encoding"
        if gz is not None:
            headers["Content-Encoding"] = "gzip"
        if self.is_not_modified(Headers(headers=headers), request_headers):
            return NotModifiedResponse(Headers(headers=headers))
        media_type = mimetypes.guess_type(rel)[0] or "text/plain"
        return Response(body, media_type=media_type, headers=headers)

    def file_response(self, full_path, stat_result: os.stat_result, scope: Scope, status_code: int = 200) -> Response:
        request_headers = Headers(scope=scope)
        gz = _precompressed(full_path, stat_result) if status_code == 200 else None
        if gz is not None and "range" not in request_headers \
                and accepts_gzip(request_headers.get("accept-encoding", "")):
            media_type = mimetypes.guess_type(str(full_path))[0] or "text/plain"
            response = FileResponse(gz[0], stat_result=gz[1], media_type=media_type,
                                    headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
            if self.is_not_modified(response.headers, request_headers):
                return NotModifiedResponse(response.headers)
            return response
        response = super().file_response(full_path, stat_result, scope, status_code)
        if gz is not None:
            response.headers["Vary"] = "Accept-Encoding"
        return response

    async def get_response(self, path: str, scope: Scope):
        site_page(scope)
        if any(part.startswith(".") and part not in (".", "..") for part in re.split(r"[/\\]", path)):
            raise HTTPException(status_code=404)
        response = self._from_memory(path, scope)
        if response is not None:
            return response
        response = await super().get_response(path, scope)
        if isinstance(response, RedirectResponse):
            response.headers["location"] = relative(response.headers["location"])
        elif response.status_code in (200, 206, 304):
            response.headers.setdefault("Cache-Control", site_cache_control(path))
        return response


def _precompressed(full_path, stat_result: os.stat_result) -> tuple[str, os.stat_result] | None:
    """The build's gzip copy of a file, if there is one at least as new as the file."""
    gz = f"{full_path}.gz"
    try:
        gz_stat = os.stat(gz)
    except OSError:
        return None
    return (gz, gz_stat) if gz_stat.st_mtime_ns >= stat_result.st_mtime_ns else None

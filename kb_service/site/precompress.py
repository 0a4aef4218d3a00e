"""gzip copies of the built site's text files, made once at build time (`page.html.gz` beside
`page.html`), so the service sends them to browsers that accept gzip instead of compressing the
same bytes again on every request (web/middleware/headers.SiteFiles).

A copy is made only where it saves something (files of 1 KB or more) and only when it is missing
or older than its file, so the preview's partial rebuilds recompress just the pages they changed.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

SUFFIXES = (".html", ".js", ".css", ".json", ".xml", ".svg", ".txt", ".map", ".ico")
MINIMUM = 1024


def wanted(path: Path) -> bool:
    return path.suffix in SUFFIXES and not path.name.startswith(".")


def precompress(directory: Path) -> int:
    """Write the missing or stale .gz copies under `directory`; returns how many were written."""
    written = 0
    for path in directory.rglob("*"):
        if not path.is_file() or not wanted(path):
            continue
        target = path.with_name(path.name + ".gz")
        stat = path.stat()
        if stat.st_size < MINIMUM:
            continue
        try:
            if target.stat().st_mtime_ns >= stat.st_mtime_ns:
                continue
        except OSError:
            pass
        data = gzip.compress(path.read_bytes(), compresslevel=9, mtime=0)
        part = target.with_name(f".{target.name}.part")
        part.write_bytes(data)
        os.replace(part, target)
        written += 1
    return written

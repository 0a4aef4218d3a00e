"""What every bench script needs: a free local port, a `kb serve` to measure, and percentiles.
The scripts run as `python bench/<name>.py`, so this folder is on their import path."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], p: float) -> float:
    """The p-th percentile by nearest rank (p in 0-100)."""
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


@contextlib.contextmanager
def kb_serve(root: Path, env: dict | None = None, ready: str = "/api/ready",
             timeout: float = 60) -> Iterator[tuple[str, subprocess.Popen]]:
    """`kb serve` on the project in `root` on a free port, once `ready` answers 200: (its base URL,
    its process, for CPU readings). Request logging is off (it would be measured too)."""
    port = free_port()
    env = {**os.environ, "KB_REQUEST_LOG": "off", "NO_MKDOCS_2_WARNING": "1", **(env or {})}
    server = subprocess.Popen([sys.executable, "-m", "kb_service.cli", "serve", "--port", str(port)], cwd=root,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(base + ready) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"kb serve did not answer {ready} within {timeout:g} s") from None
                time.sleep(0.1)
        yield base, server
    finally:
        server.terminate()
        server.wait(timeout=10)

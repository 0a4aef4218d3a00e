"""What every bench script needs: a free local port for the server it starts, and percentiles.
The scripts run as `python bench/<name>.py`, so this folder is on their import path."""

from __future__ import annotations

import socket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], p: float) -> float:
    """The p-th percentile by nearest rank (p in 0-100)."""
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]

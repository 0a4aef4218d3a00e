"""How many answers per second the pages a whole community opens at once get, next to /api/health,
in the same run: one `kb serve` worker, 8 clients on keep-alive connections, gzip accepted as
phones send it (and, with --plain, without).

    .venv/bin/python bench/pages.py [--seconds 2] [--rounds 5] [--plain]

Needs a built site (`kb build`). Targets are measured in interleaved rounds (each round visits
every target in a new random order), so a neighbour's load on a shared machine falls on all of
them alike; the median rate per target and its ratio to health's rate are printed, with the
answer size. The client is a few lines of asyncio on raw sockets: cheap enough that the server,
not the client, is what is measured (check with the CPU columns: server and client CPU seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
import urllib.request
from pathlib import Path

from measure import kb_serve

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb_service.content.load import require_corpus  # noqa: E402


async def one_client(host: str, port: int, request: bytes, until: float, counts: list, sizes: list) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < until:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            status = int(head.split(b" ", 2)[1])
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length)
            if status not in (200, 304):
                raise RuntimeError(f"{status}: {body[:200]!r}")
            counts[0] += 1
            sizes.append(len(body))
    finally:
        writer.close()


async def rate(host: str, port: int, path: str, seconds: float, clients: int, gzip: bool,
               extra: str = "") -> tuple[float, int]:
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: bench\r\n"
               + ("Accept-Encoding: gzip, deflate, br\r\n" if gzip else "") + extra + "\r\n").encode()
    counts, sizes = [0], []
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(*(one_client(host, port, request, until, counts, sizes) for _ in range(clients)))
    return counts[0] / (time.perf_counter() - started), (sizes[0] if sizes else 0)


def etag(url: str, gzip: bool) -> str:
    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"} if gzip else {})
    with urllib.request.urlopen(req) as r:
        return r.headers.get("ETag", "")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--plain", action="store_true", help="also measure without Accept-Encoding")
    args = ap.parse_args()
    corpus = require_corpus(ROOT / "snippets")
    cid = corpus.default_community.id
    with kb_serve(ROOT, {"KB_FEEDBACK_RATE_LIMIT": "0"}) as (base, server):
        port = int(base.rsplit(":", 1)[1])
        community = f"/communities/{cid}/fees/"
        targets = {"/api/health": "", community: "", "/residents/fees/": "", "/notices/": ""}
        modes = [True, False] if args.plain else [True]
        rows = {}
        for gz in modes:
            tag = etag(base + community, gz)
            named = {**{(t, ""): "" for t in targets}, (community, "304"): f"If-None-Match: {tag}\r\n"}
            results: dict = {key: [] for key in named}
            size: dict = {}
            cpu0 = _cpu(server.pid)
            for _ in range(args.rounds):
                order = list(named)
                random.shuffle(order)
                for key in order:
                    r, s = asyncio.run(rate("127.0.0.1", port, key[0], args.seconds, args.clients, gz, named[key]))
                    results[key].append(r)
                    size[key] = s
            rows[gz] = (results, size, _cpu(server.pid) - cpu0)
        for gz, (results, size, cpu) in rows.items():
            health = statistics.median(results[("/api/health", "")])
            print(f"\n{'gzip accepted' if gz else 'no Accept-Encoding'}: {args.clients} clients, one worker, "
                  f"{args.rounds} interleaved rounds of {args.seconds:g} s, server CPU {cpu:.1f} s")
            print("| page | answers/s (median) | min-max | of health | bytes |")
            print("| --- | ---: | ---: | ---: | ---: |")
            for key, values in results.items():
                name = key[0] + (" (revisit, If-None-Match → 304)" if key[1] else "")
                med = statistics.median(values)
                print(f"| `{name}` | {med:,.0f} | {min(values):,.0f}-{max(values):,.0f} | {med / health:.0%} | {size[key]:,} |")
        print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


def _cpu(pid: int) -> float:
    """User + system CPU seconds of the server process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()

"""Search latency against a real uvicorn server, with /api/health in the same run as a baseline.

    .venv/bin/python bench/search.py [--requests 600] [--queries generated|calls|keywords] [--levels 1]

Starts `kb serve` on a free port (one worker), waits for readiness (reports the time), then at
1, 8 and 32 concurrent clients sends unique search queries (no query repeats within the run, so
no cache can hide the cost) and the same number of health requests. Prints p50/p95/p99 and
throughput, the search/health p95 ratio, and the server's peak resident memory (VmHWM).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb_service.content.load import require_corpus  # noqa: E402
from kb_service.search import textproc  # noqa: E402
from measure import free_port, pct  # noqa: E402


def queries(n: int) -> list[str]:
    """Unique, staff-like queries built from the content: words, alias pairs, pinyin, initials."""
    corpus = require_corpus(ROOT / "snippets")
    words = set()
    for s in corpus.snippets.values():
        words.update([s.title, *s.aliases, *s.tags])
    words = sorted(w for w in words if len(w) >= 2)
    rng = random.Random(7)
    out: list[str] = []
    seen: set[str] = set()
    forms = [
        lambda w: w,
        lambda w: "".join(textproc.syllables(w)),
        lambda w: "".join(textproc.initials(textproc.syllables(w))),
        lambda w: w + "怎么办",
        lambda w: "业主说" + w,
    ]
    for w, form in itertools.product(words, forms):
        q = form(w)
        if q and q not in seen:
            seen.add(q)
            out.append(q)
    while len(out) < n:
        q = rng.choice(words) + rng.choice(words)
        if q not in seen:
            seen.add(q)
            out.append(q)
    rng.shuffle(out)
    return out[:n]


COMMON = ["停水", "物业费", "投诉", "停电", "噪音", "漏水", "电梯", "停车", "装修", "门禁卡", "快递", "发票",
          "垃圾", "保安", "维修", "宠物", "车位", "暖气", "绿化", "监控"]


def keyword_queries(n: int) -> list[str]:
    """1 to 3 common keywords at once, as agents type them (停水 物业费 投诉)."""
    rng = random.Random(11)
    out = []
    while len(out) < n:
        out.append(" ".join(rng.sample(COMMON, rng.randint(1, 3))))
    return out


def call_queries(n: int) -> list[str]:
    """The phrasings of bench/queries/ (both halves), repeated in a shuffled order."""
    rows = [line.split("\t")[0] for name in ("calls-dev.tsv", "calls-heldout.tsv")
            for line in (ROOT / "bench/queries" / name).read_text(encoding="utf-8").splitlines()[1:] if line.strip()]
    rng = random.Random(13)
    out: list[str] = []
    while len(out) < n:
        rng.shuffle(rows)
        out += rows
    return out[:n]


async def run(url: str, paths: list[str], concurrency: int) -> tuple[list[float], float]:
    latencies: list[float] = []
    queue = list(reversed(paths))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        async def worker():
            while queue:
                path = queue.pop()
                t0 = time.perf_counter()
                r = await client.get(path)
                latencies.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200, (path, r.status_code)
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, len(latencies) / elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=600, help="requests per endpoint per round and concurrency level")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved health/search rounds per level (median)")
    ap.add_argument("--levels", default="1,8,32", help="concurrency levels, comma-separated")
    ap.add_argument("--queries", choices=("generated", "calls", "keywords"), default="generated",
                    help="generated: unique staff-like queries; calls: the phrasings of bench/queries/; "
                         "keywords: 1-3 common keywords at once")
    ap.add_argument("--no-build", action="store_true", help="use the index and site already built")
    args = ap.parse_args()
    levels = tuple(int(x) for x in args.levels.split(","))
    make = {"generated": queries, "calls": call_queries, "keywords": keyword_queries}[args.queries]
    qs = make(args.requests * len(levels) * args.rounds)
    port = free_port()
    env = {**os.environ, "KB_FEEDBACK_RATE_LIMIT": "0"}
    if not args.no_build:
        subprocess.run([sys.executable, "-m", "kb_service.cli", "build"], cwd=ROOT, env=env, check=True,
                       capture_output=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "kb_service.cli", "serve", "--port", str(port)], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            if httpx.get(url + "/api/health", timeout=0.5).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.02)
    ready = time.perf_counter() - t0
    load = os.getloadavg()
    print(f"server ready in {ready:.2f} s (kb serve with a built index, one worker); "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          f"({'quiet' if load[0] < 1.5 else 'NOT quiet: compare ratios only'})\n")
    print(f"Each level: {args.rounds} interleaved rounds (health, then search with unseen queries); "
          "p50/p95 of the median round by ratio.\n")
    print("| concurrency | endpoint | p50 ms | p95 ms | p99 ms | req/s | search p95 / health p95 (rounds) |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    try:
        offset = 0
        for c in levels:
            rounds = []
            asyncio.run(run(url, ["/api/health"] * 50, c))  # warm-up connections
            for _ in range(args.rounds):
                chunk = qs[offset:offset + args.requests]
                offset += args.requests
                search_paths = [f"/api/search?q={httpx.QueryParams({'q': q})['q']}&limit=10" for q in chunk]
                h_lat, h_rps = asyncio.run(run(url, ["/api/health"] * args.requests, c))
                s_lat, s_rps = asyncio.run(run(url, search_paths, c))
                rounds.append((pct(s_lat, 95) / pct(h_lat, 95), h_lat, h_rps, s_lat, s_rps))
            rounds.sort(key=lambda r: r[0])
            ratio, h_lat, h_rps, s_lat, s_rps = rounds[len(rounds) // 2]
            each = ", ".join(f"{r[0]:.2f}" for r in rounds)
            print(f"| {c} | health | {pct(h_lat, 50):.2f} | {pct(h_lat, 95):.2f} | {pct(h_lat, 99):.2f} | {h_rps:.0f} | |")
            print(f"| {c} | search | {pct(s_lat, 50):.2f} | {pct(s_lat, 95):.2f} | {pct(s_lat, 99):.2f} | {s_rps:.0f} "
                  f"| **{ratio:.2f}** ({each}) |")
        status = Path(f"/proc/{proc.pid}/status").read_text()
        hwm = next(line for line in status.splitlines() if line.startswith("VmHWM"))
        print(f"\nserver peak memory: {hwm.split(':')[1].strip()}; {offset} unique search queries")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()

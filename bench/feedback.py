"""Feedback durability and throughput against a real `kb serve` (one uvicorn worker).

    .venv/bin/python bench/feedback.py [--burst 500] [--kill-after 3] [--database-url URL]

1. Burst: N submissions sent at once (N concurrent connections), each with its own idempotency
   key, then every one of them sent again (a client retry). Checks that exactly N entries exist,
   one per key, and reports accepted submissions per second for the first pass. Then 10 s of
   sustained load on 32 keep-alive connections (accepted/s).
2. Crash: 32 clients submit continuously; after --kill-after seconds the server gets SIGKILL.
   It is restarted on the same database; every submission that had been acknowledged with 201
   must be there (by id and key), and SQLite's integrity check must pass.
Default database: a fresh SQLite file in a temporary KB_DATA_DIR.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from measure import free_port

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-staff-token-0001"


class Server:
    def __init__(self, data_dir: Path, database_url: str | None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "KB_PROJECT_DIR": str(ROOT), "KB_DATA_DIR": str(data_dir),
               "KB_FEEDBACK_RATE_LIMIT": "0", "KB_STAFF_TOKENS": f"bench:{TOKEN}"}
        if database_url:
            env["KB_DATABASE_URL"] = database_url
        self.proc = subprocess.Popen([sys.executable, "-m", "kb_service.cli", "serve", "--port", str(self.port)],
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"kb serve exited: {self.proc.stderr.read().decode()}")
            try:
                if httpx.get(self.url + "/api/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise SystemExit("kb serve did not start")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


def body(key: str, n: int) -> dict:
    return {"type": "suggestion", "content": f"压测第 {n} 条：希望在 2 栋门口加装照明", "category": "facilities",
            "ratings": {"service": 1 + n % 5}, "idempotency_key": key}


class Conn:
    """A bare keep-alive HTTP/1.1 connection: the load generator must cost far less CPU than the
    server it measures (httpx spends several ms of CPU per request, on the same two cores)."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def post_json(self, path: str, payload: dict) -> tuple[int, dict]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, json.loads(await self.reader.readexactly(length))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def burst(url: str, n: int) -> tuple[float, dict[str, int]]:
    """n submissions at once on n connections; then all of them again (a retry of each)."""
    host, port = url.removeprefix("http://").split(":")
    keys = [f"burst-{uuid.uuid4().hex}" for _ in range(n)]
    conns = [Conn(host, int(port)) for _ in range(n)]

    async def one(i: int) -> tuple[str, int]:
        status, reply = await conns[i].post_json("/api/feedback", body(keys[i], i))
        assert status == 201, reply
        return keys[i], reply["id"]

    started = time.perf_counter()
    first = dict(await asyncio.gather(*(one(i) for i in range(n))))
    elapsed = time.perf_counter() - started
    again = dict(await asyncio.gather(*(one(i) for i in range(n))))
    for c in conns:
        c.close()
    assert first == again, "a retried key returned a different entry"
    return n / elapsed, first


async def sustained(url: str, seconds: float, clients: int = 32) -> float:
    """Accepted submissions per second with `clients` connections posting back to back."""
    host, port = url.removeprefix("http://").split(":")
    done = 0
    stop = time.perf_counter() + seconds

    async def worker(w: int) -> None:
        nonlocal done
        conn = Conn(host, int(port))
        n = 0
        while time.perf_counter() < stop:
            status, _ = await conn.post_json("/api/feedback", body(f"sustained-{w}-{n}-{uuid.uuid4().hex[:6]}", n))
            assert status == 201
            done += 1
            n += 1
        conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(clients)))
    return done / (time.perf_counter() - started)


async def load_until_killed(server: Server, kill_after: float, clients: int = 32) -> tuple[dict[str, int], int]:
    acked: dict[str, int] = {}
    sent = 0
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=10) as client:
        async def worker(w: int) -> None:
            nonlocal sent
            n = 0
            while not stop.is_set():
                key = f"crash-{w}-{n}-{uuid.uuid4().hex[:8]}"
                sent += 1
                try:
                    r = await client.post("/api/feedback", json=body(key, n))
                except httpx.HTTPError:
                    return          # the server is gone
                if r.status_code == 201:
                    acked[key] = r.json()["id"]
                n += 1

        async def killer() -> None:
            await asyncio.sleep(kill_after)
            server.kill()
            stop.set()

        await asyncio.gather(killer(), *(worker(w) for w in range(clients)))
    return acked, sent


def stored(url: str) -> dict[str, int]:
    """Every entry's idempotency key -> id, read through the staff API."""
    r = httpx.get(url + "/api/improvement-log", params={"limit": 100000},
                  headers={"authorization": f"Bearer {TOKEN}"}, timeout=120)
    r.raise_for_status()
    ids = {e["id"] for e in r.json()["entries"]}
    return {"total": r.json()["total"], "ids": ids}


def integrity(data_dir: Path, database_url: str | None) -> str:
    sys.path.insert(0, str(ROOT))
    from kb_service import db

    engine = db.connect(database_url or f"sqlite:///{data_dir / 'kb.sqlite3'}")
    try:
        return db.integrity_check(engine)
    finally:
        engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--burst", type=int, default=500)
    ap.add_argument("--kill-after", type=float, default=3.0)
    ap.add_argument("--database-url", help="default: a fresh SQLite file; PostgreSQL: use an empty schema")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="kb-bench-") as tmp:
        data = Path(tmp)
        # Reuse the project's built index so the server starts at once.
        index = ROOT / "var" / "index"
        if index.exists():
            os.symlink(index, data / "index")
        server = Server(data, args.database_url)
        rate, keys = asyncio.run(burst(server.url, args.burst))
        after = stored(server.url)
        exactly_once = after["total"] == args.burst and set(keys.values()) == after["ids"]
        print(f"burst: {args.burst} concurrent submissions, {rate:.0f} accepted/s; "
              f"after retrying all: {after['total']} entries, exactly once: {exactly_once}")
        steady = asyncio.run(sustained(server.url, 10))
        burst_and_steady = stored(server.url)["total"]
        print(f"sustained: 32 connections for 10 s, {steady:.0f} accepted/s")

        acked, sent = asyncio.run(load_until_killed(server, args.kill_after))
        print(f"crash: SIGKILL after {args.kill_after:.1f} s of load: {sent} sent, {len(acked)} acknowledged")
        server = Server(data, args.database_url)
        after = stored(server.url)
        missing = set(acked.values()) - after["ids"]
        server.stop()
        check = integrity(data, args.database_url)
        print(f"restart: {after['total']} entries stored ({burst_and_steady} before + "
              f"{after['total'] - burst_and_steady} from the crash run); acknowledged but missing: {len(missing)}; "
              f"integrity_check: {check}")
        if not exactly_once or missing or check != "ok":
            raise SystemExit(1)


if __name__ == "__main__":
    main()

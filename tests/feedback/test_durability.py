"""An acknowledged submission survives SIGKILL; concurrent retries are stored exactly once.

Runs a real `kb serve` process on SQLite (bench/feedback.py does the same at 500 concurrent
submissions and reports throughput).
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from conftest import STAFF, STAFF_TOKEN, Server
from kb_service import db

ACKED = 50              # acknowledged submissions before the SIGKILL (16 writers still in flight)
LOAD_DEADLINE = 300     # seconds; generous for a loaded two-core machine, never waited for when healthy
HTTP_TIMEOUT = 60       # per request, for the same reason (a timeout would end a worker early)


def body(key: str) -> dict:
    return {"type": "suggestion", "content": "耐久性测试", "idempotency_key": key}


def stored_ids(url: str) -> set[int]:
    r = httpx.get(url + "/api/improvement-log", params={"limit": 100000}, headers=STAFF, timeout=HTTP_TIMEOUT)
    return {e["id"] for e in r.json()["entries"]}


def test_sigkill_mid_load_loses_no_acknowledged_entry(built_project, tmp_path):
    env = {"KB_STAFF_TOKENS": f"tester:{STAFF_TOKEN}",
           "KB_DATABASE_URL": f"sqlite:///{tmp_path / 'kb.sqlite3'}"}
    server = Server(built_project, built_project / "var", env).wait()
    keys = [f"burst-{uuid.uuid4().hex}" for _ in range(100)]
    with httpx.Client(base_url=server.url, timeout=HTTP_TIMEOUT, limits=httpx.Limits(max_connections=50)) as client:
        def post(key):
            return client.post("/api/feedback", json=body(key)).json()["id"]

        with ThreadPoolExecutor(50) as pool:
            first = list(pool.map(post, keys))
            again = list(pool.map(post, keys))      # every request retried: no new entries
    assert first == again and len(set(first)) == 100
    assert stored_ids(server.url) == set(first)

    acked: dict[str, int] = {}
    stop = threading.Event()
    enough = threading.Event()      # set once ACKED acknowledgements are in (or every worker quit)
    running = [16]
    lock = threading.Lock()

    def worker(w: int) -> None:
        try:
            with httpx.Client(base_url=server.url, timeout=HTTP_TIMEOUT) as client:
                n = 0
                while not stop.is_set():
                    key = f"load-{w}-{n}"
                    try:
                        r = client.post("/api/feedback", json=body(key))
                    except httpx.HTTPError:
                        return
                    if r.status_code == 201:
                        with lock:
                            acked[key] = r.json()["id"]
                            if len(acked) >= ACKED:
                                enough.set()
                    n += 1
        finally:
            with lock:
                running[0] -= 1
                if not running[0]:
                    enough.set()

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(16)]
    for t in threads:
        t.start()
    # no fixed poll: kill as soon as the condition holds; the deadline only bounds a broken run
    enough.wait(timeout=LOAD_DEADLINE)
    server.kill()
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) >= ACKED, f"{len(acked)} acknowledged within {LOAD_DEADLINE} s"

    restarted = Server(built_project, built_project / "var", env).wait()
    try:
        after = stored_ids(restarted.url)
    finally:
        restarted.stop()
    assert set(acked.values()) <= after
    assert set(first) <= after
    engine = db.connect(env["KB_DATABASE_URL"])
    try:
        assert db.integrity_check(engine) == "ok"
    finally:
        engine.dispose()

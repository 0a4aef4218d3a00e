"""Issue 29 probe: residents' data and access against a determined outsider, on a real `kb serve`.

    .venv/bin/python bench/privacy_probe.py [--database-url URL]

Starts `kb serve` on a fresh KB_DATA_DIR (SQLite unless --database-url), trusting 127.0.0.1 as
a proxy so that X-Forwarded-For can stand for other client networks, and prints one line per
finding of issue 29 with what the service answers now. Exit 1 if any answer is not the fixed one.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from feedback import ROOT, TOKEN, Server  # noqa: E402

STAFF = {"authorization": f"Bearer {TOKEN}"}
results: list[tuple[bool, str]] = []


def say(ok: bool, text: str) -> None:
    results.append((ok, text))
    print(("OK   " if ok else "FAIL ") + text, flush=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database-url")
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp(prefix="kb-probe-"))
    os.environ["KB_TRUSTED_PROXIES"] = "127.0.0.1"
    server = Server(data, args.database_url)
    url = server.url
    env = {**os.environ, "KB_PROJECT_DIR": str(ROOT), "KB_DATA_DIR": str(data),
           **({"KB_DATABASE_URL": args.database_url} if args.database_url else {})}
    try:
        c = httpx.Client(base_url=url, timeout=60)
        net = lambda ip: {"x-forwarded-for": ip}
        complaint = {"type": "complaint", "content": "漏水，电话 138.1234.5678，身份证 330102 19900101 1234", "category": "repair",
                     "location": "3栋2单元1202", "contact_name": "王女士", "contact_phone": "13812345678", "consent": True,
                     "record": None}
        complaint.pop("record")
        community = c.get("/api/communities").json()["communities"][0]["id"]
        complaint["community"] = community
        first = c.post("/api/feedback", json=complaint).json()
        assert "reference" in first, first
        ref, code = first["reference"], first["access_code"]
        say(len(code.replace("-", "")) == 12, f"access code has 12 symbols (60 bits): {len(code.replace('-', ''))}")

        # lockouts
        for _ in range(10):
            c.post("/api/feedback/status", json={"reference": ref, "access_code": "2222-2222-2222"}, headers=net("203.0.113.1"))
        own = c.post("/api/feedback/status", json={"reference": ref, "access_code": code}, headers=net("198.51.100.9"))
        say(own.status_code == 200, f"10 wrong codes from another network, owner's right code: {own.status_code}")
        same = c.post("/api/feedback/status", json={"reference": ref, "access_code": code}, headers=net("203.0.113.1"))
        wait = int(same.headers.get("retry-after", "0"))
        say(same.status_code == 429 and wait <= 7200, f"the guessing network: {same.status_code}, Retry-After {wait} s (was 86400)")
        for i in range(40):
            c.post("/api/feedback/status", json={"reference": f"FB20200101-AAA{'23456789'[i % 8]}{'ABCDE'[i % 5]}",
                                                 "access_code": "2222-2222-2222"}, headers=net("100.64.0.1"))
        nat = c.post("/api/feedback/status", json={"reference": ref, "access_code": code}, headers=net("100.64.0.1"))
        say(nat.status_code == 200, f"after 40 failures from a NAT address, its household's own look-up: {nat.status_code}")
        for _ in range(5):
            c.post("/api/feedback/status", json={"reference": ref, "phone_last4": "0000"}, headers=net("192.0.2.5"))
        phone = c.post("/api/feedback/status", json={"reference": ref, "phone_last4": "5678"}, headers=net("192.0.2.6"))
        by_code = c.post("/api/feedback/status", json={"reference": ref, "access_code": code}, headers=net("192.0.2.6"))
        say(phone.status_code == 429 and int(phone.headers["retry-after"]) <= 7 * 86400 and by_code.status_code == 200,
            f"5 wrong phone endings: phone method {phone.status_code} (Retry-After {phone.headers.get('retry-after')} s, "
            f"was 30 days), code {by_code.status_code}")

        # atomic limits
        other = c.post("/api/feedback", json={"type": "suggestion", "content": "多装路灯", "community": community}).json()
        with ThreadPoolExecutor(60) as pool:
            codes = list(pool.map(lambda _: httpx.post(url + "/api/feedback/status", timeout=60, headers=net("203.0.113.50"),
                                                       json={"reference": other["reference"],
                                                             "access_code": "2222-2222-2222"}).status_code, range(60)))
        say(codes.count(404) <= 10, f"60 concurrent wrong codes: checked {codes.count(404)} times (limit 10; was 19)")
        with ThreadPoolExecutor(100) as pool:
            codes = list(pool.map(lambda i: httpx.get(url + "/api/improvement-log", timeout=60,
                                                      headers={"authorization": f"Bearer wrong-{i}", **net("203.0.113.60")}
                                                      ).status_code, range(100)))
        say(codes.count(401) <= 20, f"100 concurrent bad bearer tokens: checked {codes.count(401)} times (limit 20; was 36)")
        body = {"type": "suggestion", "content": "重放测试", "idempotency_key": "probe-replay-1", "community": community}
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: httpx.post(url + "/api/feedback", json=body, timeout=60).json(), range(8)))
        shown = {a["access_code"] for a in answers}
        works = [c.post("/api/feedback/status", json={"reference": answers[0]["reference"], "access_code": s},
                        headers=net("198.51.100.77")).status_code for s in shown]
        say(len(shown) == 1 and works == [200], f"8 concurrent replays: {len(shown)} distinct code(s), working: {works}")

        # personal data
        c.get("/api/search", params={"q": "王女士 13812345678 身份证330102199001011234"})
        time.sleep(6)            # the gap log is written every 5 s
        gaps = c.get("/api/improvement-log/gaps", headers=STAFF).text
        say("13812345678" not in gaps and "330102199001011234" not in gaps, "search gap log masked before storing")
        listed = c.get("/api/improvement-log", headers=STAFF).json()["entries"]
        text = str([e for e in listed if e["reference"] == ref])
        say("1234.5678" not in text and "19900101" not in text and "1202" not in text,
            "list API: 138.1234.5678, grouped ID number and the room masked")

        # scopes
        def staff(name: str, role: str, *extra: str) -> str:
            done = subprocess.run([sys.executable, "-m", "kb_service.cli", "staff", "add", name, "--role", role, *extra],
                                  env=env, capture_output=True, text=True, check=True)
            return done.stdout.strip().splitlines()[-1].split()[-1]
        editor = {"authorization": "Bearer " + staff("probe-editor", "editor")}
        agent = {"authorization": "Bearer " + staff("probe-agent", "agent")}
        r = c.patch(f"/api/improvement-log/{first['id']}", headers=editor,
                    json={"action": {"what": "补话术", "kind": "script", "owner": "编辑部"}, "contacted": {"how": "phone"}})
        say(r.status_code == 403, f"editor PATCH action + contacted: {r.status_code}")
        r = c.patch(f"/api/improvement-log/{first['id']}", headers=agent, json={"owner": "随便写的人"})
        say(r.status_code == 422, f"agent sets an owner who is no account: {r.status_code}")
        r = c.patch(f"/api/improvement-log/{first['id']}", headers=agent,
                    json={"contacted": {"how": "phone", "at": "2020-01-01 09:00"}})
        say(r.status_code == 422, f"contacted.at before the entry existed: {r.status_code}")

        # robustness
        started = time.monotonic()
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"POST /api/feedback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n")
        answer = b""
        s.settimeout(1)
        while time.monotonic() - started < 40 and not answer:
            try:
                s.sendall(b" ")
                answer = s.recv(100)
            except socket.timeout:
                time.sleep(4)
            except OSError:
                break
        took = time.monotonic() - started
        s.close()
        say(took < 25, f"1 byte every ~5 s: the request ended after {took:.0f} s (limit 15 s for the whole body)")
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"POST /api/feedback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"ty")
        s.close()
        time.sleep(1)
        mode = oct(data.stat().st_mode & 0o777)
        say(mode == "0o700", f"KB_DATA_DIR mode {mode}")
    finally:
        server.stop()
        log = server.proc.stderr.read().decode(errors="replace")
        say("unhandled error" not in log, "no unhandled error in the server log (client abort mid-body included)")
    bad = [t for ok, t in results if not ok]
    print(f"\n{len(results) - len(bad)}/{len(results)} as fixed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

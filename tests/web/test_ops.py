"""Running it (issue 17): JSON request logs without personal data, X-Request-ID, /api/ready,
`kb backup` under write load and `kb restore`, the live 你说我改 page."""

from __future__ import annotations

import io
import json
import logging
import re
import sqlite3
import threading

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from conftest import POSTGRES_URL, STAFF, STAFF_TOKEN, _create_schema, _schema_url, kb, need_postgres, settings_for
from kb_service.web.app import create_app


@pytest.fixture
def log_lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("kb_service.requests")
    logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)


def test_request_log_lines_and_request_id(db_client, log_lines):
    r = db_client.get("/api/search?q=13812345678 王秀英&limit=3", headers={"x-request-id": "abc-123-xyz"})
    assert r.headers["x-request-id"] == "abc-123-xyz"
    generated = db_client.get("/api/health").headers["x-request-id"]
    assert len(generated) >= 16
    db_client.post("/api/feedback", json={"type": "complaint", "content": "电话 13812345678", "contact_name": "王秀英",
                                          "contact_phone": "13812345678", "consent": True})
    db_client.get("/api/improvement-log/13812345678", headers=STAFF)
    db_client.post("/staff/login", data={"token": STAFF_TOKEN}, follow_redirects=False)
    lines = log_lines()
    assert {"time", "request_id", "method", "path", "status", "duration_ms"} <= set(lines[0])
    first = next(line for line in lines if line["request_id"] == "abc-123-xyz")
    assert first["path"] == "/api/search" and first["query"] == ["limit", "q"] and first["status"] == 200
    text = json.dumps(lines, ensure_ascii=False)
    for secret in ("13812345678", "王秀英", STAFF_TOKEN, "kb_staff"):
        assert secret not in text, secret


def test_ready_is_200_with_a_usable_database_and_503_without(built_project):
    need_postgres()
    admin = sa.create_engine(POSTGRES_URL)
    schema = _create_schema(admin, "kbready")
    s = settings_for(built_project, built_project / "var", KB_DATABASE_URL=_schema_url(schema))
    app = create_app(s)
    assert TestClient(app).get("/api/ready").status_code == 503        # before start-up
    try:
        with TestClient(app) as c:
            assert c.get("/api/ready").json() == {"status": "ready"}
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
            r = c.get("/api/ready")
            assert r.status_code == 503 and "数据库" in r.json()["error"]
            assert c.get("/api/health").status_code == 200
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.dispose()


def test_backup_under_write_load_and_restore(built_project, tmp_path):
    data = tmp_path / "var"
    url = f"sqlite:///{data / 'kb.sqlite3'}"
    s = settings_for(built_project, built_project / "var", KB_DATABASE_URL=url)
    env = {"KB_PROJECT_DIR": str(built_project), "KB_DATA_DIR": str(data), "KB_DATABASE_URL": url}
    stop, first = threading.Event(), threading.Event()
    written = []
    with TestClient(create_app(s)) as c:
        def writer():
            while not stop.is_set():
                try:
                    r = c.post("/api/feedback", json={"type": "suggestion", "content": f"建议 {len(written)}"})
                    written.append(r.status_code)
                    first.set()
                except Exception as exc:  # reported by the assertion below, not lost in a thread
                    written.append(repr(exc)[:200])

        threads = [threading.Thread(target=writer) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            # the first copy is taken under load, not before the writers' first commit (a busy
            # machine starts the threads late)
            assert first.wait(30), "no feedback was written"
            copies = []
            for i in range(3):
                done = kb("backup", str(tmp_path / f"b{i}.sqlite3"), env=env)
                assert done.returncode == 0, done.stderr
                copies.append(tmp_path / f"b{i}.sqlite3")
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert set(written) == {201} and len(written) > 20, {w for w in written if w != 201}
        live = c.get("/api/improvement-log?limit=1", headers=STAFF)
    counts = []
    for path in copies:
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        counts.append(conn.execute("SELECT count(*) FROM entries").fetchone()[0])
        conn.close()
    assert counts == sorted(counts) and 0 < counts[0] and counts[-1] <= len(written)
    # Restore the first copy: the database goes back to that many entries; the old one is kept.
    restored = kb("restore", str(copies[0]), env=env)
    assert restored.returncode == 0, restored.stderr
    conn = sqlite3.connect(data / "kb.sqlite3")
    assert conn.execute("SELECT count(*) FROM entries").fetchone()[0] == counts[0]
    conn.close()
    assert list(data.glob("kb.sqlite3.before-restore-*"))
    assert live.status_code in (200, 401)
    bad = tmp_path / "not-a-db.sqlite3"
    bad.write_bytes(b"nonsense" * 100)
    assert kb("restore", str(bad), env=env).returncode == 2
    assert kb("backup", str(tmp_path / "x"), env={**env, "KB_DATABASE_URL": POSTGRES_URL}).returncode == 2


def test_public_page_is_rendered_live_and_escaped(db_client):
    entry = db_client.post("/api/improvement-log", json={"type": "complaint", "content": "x"}, headers=STAFF).json()
    text = "<img src=x onerror=alert(1)> [点我](javascript:alert(1)){:onclick=alert(1)}"
    assert db_client.patch(f"/api/improvement-log/{entry['id']}", json={"publish": text}, headers=STAFF).status_code == 200
    assert db_client.patch(f"/api/improvement-log/{entry['id']}", headers=STAFF, json={
        "action": {"what": "改话术<script>", "kind": "script", "owner": "编辑", "public": True,
                   "pr_url": "https://git.example/kb/pull/9"}}).status_code == 200
    detail = db_client.get(f"/api/improvement-log/{entry['id']}", headers=STAFF).json()
    action_id = detail["actions"][0]["id"]
    db_client.patch(f"/api/improvement-log/{entry['id']}", json={"action_done": {"id": action_id}}, headers=STAFF)
    from kb_service.web.pages import public_pages

    public_pages._cache.clear()
    page = db_client.get("/residents/changes/")
    assert page.status_code == 200
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text and "<img src=x" not in page.text
    assert 'href="https://git.example/kb/pull/9"' in page.text and "改话术&lt;script&gt;" in page.text
    live = page.text.split("kb-live:public-log")[1]
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", live) and "{:onclick=alert(1)}" in live    # text, not markup

"""Several workers and several nodes on one PostgreSQL (issue 17): limits, lock-outs and sessions
are shared, and the 你说我改 page shows the same database on every node."""

from __future__ import annotations

import uuid

import httpx
import pytest
import sqlalchemy as sa

from conftest import Server, kb, postgres_schema, with_index

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_url():
    with postgres_schema("kbcluster") as url:
        yield url


@pytest.fixture(scope="module")
def nodes(built_project, pg_url, tmp_path_factory):
    """Two `kb serve` processes, each with its own data folder (index, logs), one PostgreSQL."""
    env = {"KB_DATABASE_URL": pg_url, "KB_FEEDBACK_RATE_LIMIT": "4"}
    a = Server(built_project, with_index(built_project, tmp_path_factory.mktemp("node-a")), env)
    b = Server(built_project, with_index(built_project, tmp_path_factory.mktemp("node-b")), env)
    a.wait(120), b.wait(120)
    yield a, b
    a.stop(), b.stop()


def secret_for(built_project, pg_url, tmp_path, name, role):
    done = kb("staff", "add", name, "--role", role,
              env={"KB_PROJECT_DIR": str(built_project), "KB_DATA_DIR": str(tmp_path), "KB_DATABASE_URL": pg_url})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1].split()[-1]


def test_session_limit_and_public_page_are_shared_between_nodes(nodes, built_project, pg_url, tmp_path):
    a, b = nodes
    secret = secret_for(built_project, pg_url, tmp_path, "node-sup", "supervisor")
    # A session made on node A works on node B.
    r = httpx.post(a.url + "/staff/login", data={"token": secret}, follow_redirects=False)
    assert r.status_code == 303
    cookie = {"kb_staff": r.cookies["kb_staff"]}
    assert httpx.get(b.url + "/staff/entries/", cookies=cookie).status_code == 200
    # The form limit (4 a minute per address) counts both nodes together.
    body = {"type": "suggestion", "content": "多装几个路灯"}
    codes = [httpx.post(n.url + "/api/feedback", json=body).status_code for n in (a, b, a, b, a, b)]
    assert sorted(codes) == [201] * 4 + [429] * 2, codes
    # The 你说我改 page: a summary published through node A shows on node B, read from the database.
    bearer = {"authorization": f"Bearer {secret}"}
    entry = httpx.post(a.url + "/api/improvement-log", json={"type": "complaint", "content": "路灯坏了"},
                       headers=bearer).json()["id"]
    text = f"北区路灯已全部更换（{uuid.uuid4().hex[:6]}）"
    assert httpx.patch(a.url + f"/api/improvement-log/{entry}", json={"publish": text},
                       headers=bearer).status_code == 200
    page = httpx.get(b.url + "/residents/changes/")
    assert page.status_code == 200 and text in page.text
    assert "content-security-policy" in page.headers and "<script>alert" not in page.text


def test_two_workers_share_limits_and_sessions(built_project, pg_url, tmp_path):
    secret = secret_for(built_project, pg_url, tmp_path, "worker-agent", "agent")
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:      # the nodes test used this address's budget in the same schema
        conn.exec_driver_sql("DELETE FROM rate_counters")
    engine.dispose()
    server = Server(built_project, with_index(built_project, tmp_path / "var"),
                    {"KB_DATABASE_URL": pg_url, "KB_FEEDBACK_RATE_LIMIT": "5"},
                    args=("--workers", "2")).wait(120, probe="/api/ready")
    url = server.url
    try:
        # Fresh connections land on either worker; the limit is one for both.
        codes = [httpx.post(url + "/api/feedback", json={"type": "praise", "content": f"好{i}"},
                            headers={"connection": "close"}).status_code for i in range(12)]
        assert codes.count(201) == 5 and codes.count(429) == 7, codes
        r = httpx.post(url + "/staff/login", data={"token": secret}, follow_redirects=False)
        cookie = {"kb_staff": r.cookies["kb_staff"]}
        pages = [httpx.get(url + "/staff/entries/", cookies=cookie, headers={"connection": "close"}).status_code
                 for _ in range(10)]
        assert pages == [200] * 10
        assert httpx.get(url + "/staff/dashboard", cookies=cookie).status_code == 403   # an agent
    finally:
        server.stop()

"""The probe's findings (issue 17), each reproduced and answered: strict links, headers on every
response, no 500 for Unicode digits or deep JSON, idempotency replays, masking, caching,
error-list size, redirects, the build marker, file permissions, search-gap retention."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
import datetime as dt
import json
import re
import stat
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from conftest import STAFF, STAFF_TOKEN, settings_for
from kb_service.db import search_gaps
from kb_service.feedback import store as store_module
from kb_service.web.app import create_app
from kb_service.web.middleware.compression import compressible
from kb_service.web.middleware.timeouts import BodyTimeout

PROBE_LINK = "https://git.example/pr/3)![x](x){:onerror=alert(document.domain)}"
UNICODE_DIGITS = ["²", "①", "٣", "５", "১", "𝟘", "Ⅻ", "½"]


def entry(c) -> int:
    r = c.post("/api/improvement-log", json={"type": "complaint", "content": "楼道灯坏了"}, headers=STAFF)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_probe_pr_link_is_refused(db_client):
    eid = entry(db_client)
    r = db_client.patch(f"/api/improvement-log/{eid}", headers=STAFF, json={
        "action": {"what": "改话术", "kind": "script", "owner": "编辑", "public": True, "pr_url": PROBE_LINK}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "action.pr_url"
    for bad in ("javascript:alert(1)", "https://a.b/x y", 'https://x/"><img src=x>', "https://u@h/x", "ftp://h/x"):
        r = db_client.patch(f"/api/improvement-log/{eid}", headers=STAFF, json={
            "action": {"what": "x", "kind": "page", "owner": "y", "pr_url": bad}})
        assert r.status_code == 422, bad
    ok = db_client.patch(f"/api/improvement-log/{eid}", headers=STAFF, json={
        "action": {"what": "x", "kind": "page", "owner": "y", "pr_url": "https://git.example/org/kb/pull/3"}})
    assert ok.status_code == 200


def test_every_response_carries_the_security_headers(client):
    for path in ("/", "/residents/fees/", "/api/health", "/api/nope", "/no-such-page/", "/staff/login"):
        r = client.get(path)
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert "frame-ancestors 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"


def test_built_pages_have_no_inline_event_handlers(built_project):
    handler = re.compile(rb"<[^>]+\son[a-z]+\s*=", re.I)
    pages = [p for p in (built_project / "site").rglob("*.html") if handler.search(p.read_bytes())]
    assert pages == []


def test_probe_500s_are_clear_4xx(db_client):
    for body in ({"type": "praise", "content": "好", "ratings": {"service": "²"}},
                 {"type": "praise", "content": "好", "ratings": {"service": "①"}}):
        assert db_client.post("/api/feedback", json=body).status_code == 422
    form = urlencode({"type": "praise", "content": "好", "ratings.service": "²"})
    r = db_client.post("/api/feedback", content=form, headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 422
    deep = "[" * 500 + "]" * 500
    for path in ("/api/feedback", "/api/templates/x/render", "/api/improvement-log"):
        r = db_client.post(path, content='{"a": ' + deep + "}", headers={"content-type": "application/json", **STAFF})
        assert r.status_code in (400, 404), (path, r.status_code)
        assert r.json()["error"]
    for digit in UNICODE_DIGITS:
        assert db_client.get(f"/api/improvement-log/{digit}", headers=STAFF).status_code == 404
    assert db_client.get("/api/improvement-log/①", headers=STAFF).status_code == 404


def test_probe_500s_on_staff_pages(db_client):
    eid = entry(db_client)
    r = db_client.post("/staff/login", data={"token": STAFF_TOKEN}, follow_redirects=False)
    assert r.status_code == 303
    page = db_client.get(f"/staff/entries/{eid}")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    for digit in UNICODE_DIGITS:
        assert db_client.get(f"/staff/entries/{digit}").status_code == 404
        r = db_client.post(f"/staff/entries/{eid}", data={"csrf": csrf, "op": "action_done", "action_id": digit})
        assert r.status_code == 422, r.text[:200]


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.sampled_from(UNICODE_DIGITS + list("0123456789")), min_size=1, max_size=6),
       st.integers(1, 400))
def test_fuzz_unicode_digits_and_nesting(client, digits, depth):
    r = client.post("/api/feedback", json={"type": "praise", "content": "好", "ratings": {"service": digits}})
    assert r.status_code in (201, 422)
    nested = json.dumps({"type": "praise", "content": "x", "ratings": json.loads("[" * depth + "]" * depth)})
    r = client.post("/api/feedback", content=nested, headers={"content-type": "application/json"})
    assert r.status_code in (400, 422) and r.json()["error"]
    assert client.get(f"/api/improvement-log/{digits}", headers=STAFF).status_code in (401, 404)


def test_idempotency_replay_with_other_content_reveals_nothing(db_client):
    first = db_client.post("/api/feedback", json={"type": "complaint", "content": "噪音扰民", "idempotency_key": "k-1234"})
    assert first.status_code == 201
    same = db_client.post("/api/feedback", json={"type": "complaint", "content": "噪音扰民", "idempotency_key": "k-1234"})
    assert same.status_code == 201 and same.json()["reference"] == first.json()["reference"]
    other = db_client.post("/api/feedback", json={"type": "suggestion", "content": "别的", "idempotency_key": "k-1234"})
    assert other.status_code == 409
    assert first.json()["reference"] not in other.text and "respond_by" not in other.text


PHONES = ["13812345678", "138-1234-5678", "138 1234 5678", "+8613812345678", "+86 138 1234 5678", "１３８１２３４５６７８"]


def test_personal_data_masked_in_list_and_csv(db_client):
    body = {"type": "complaint", "content": "请回电 " + "，".join(PHONES), "contact_name": "王秀英",
            "location": "3栋2单元1202", "contact_phone": "13812345678", "consent": True}
    assert db_client.post("/api/feedback", json=body).status_code == 201
    listed = db_client.get("/api/improvement-log", headers=STAFF).json()["entries"][0]
    assert listed["contact_name"] == "王**" and "1202" not in listed["location"]
    assert "1234" not in listed["content"].replace("1234 5678", "") or "****" in listed["content"]
    assert not re.search(r"1234[\s-]?5678", listed["content"]) and "１２３４" not in listed["content"]
    csv = db_client.get("/api/improvement-log/export.csv", headers=STAFF).text
    assert "王秀英" not in csv and not re.search(r"1234[\s-]?5678", csv)
    full = db_client.get(f"/api/improvement-log/{listed['id']}", headers=STAFF)
    assert full.json()["contact_name"] == "王秀英" and full.headers["cache-control"] == "no-store"


def test_no_store_on_staff_json_and_feedback_result_pages(db_client):
    assert db_client.get("/api/improvement-log", headers=STAFF).headers["cache-control"] == "no-store"
    r = db_client.post("/api/feedback", data={"type": "suggestion", "content": "多种树"}, headers={"accept": "text/html"})
    assert r.status_code == 201 and r.headers["cache-control"] == "no-store"


def test_site_is_compressed_and_revalidated_and_hashed_bundles_are_kept(client, built_project):
    """Residents' phones: the 2 MB search index crosses the network gzipped; pages and our own
    scripts are checked on every use (an update is seen at once), the theme's hashed bundles never."""
    index = (built_project / "site" / "search" / "search_index.json").read_bytes()
    gz = client.get("/search/search_index.json", headers={"accept-encoding": "gzip"})
    assert gz.headers["content-encoding"] == "gzip" and "Accept-Encoding" in gz.headers["vary"]
    assert gz.num_bytes_downloaded < len(index) / 4 and gz.content == index
    assert gz.headers["cache-control"] == "no-cache"
    plain = client.get("/search/search_index.json", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == index
    part = client.get("/search/search_index.json", headers={"accept-encoding": "gzip", "range": "bytes=0-99"})
    assert part.status_code == 206 and "content-encoding" not in part.headers and part.content == index[:100]
    again = client.get("/search/search_index.json", headers={"if-none-match": gz.headers["etag"]})
    assert again.status_code == 304 and again.headers["cache-control"] == "no-cache"

    page = client.get("/residents/", headers={"accept-encoding": "gzip"})
    assert page.headers["content-encoding"] == "gzip" and page.headers["cache-control"] == "no-cache"
    bundle = next((built_project / "site" / "assets" / "javascripts").glob("bundle.*.min.js")).name
    assert client.get(f"/assets/javascripts/{bundle}").headers["cache-control"] == "public, max-age=31536000, immutable"
    assert client.get("/assets/javascripts/kbcore.js").headers["cache-control"] == "no-cache"
    # the API is compressed too, and staff data keeps no-store
    spec = client.get("/api/openapi.json", headers={"accept-encoding": "gzip"})
    assert spec.headers["content-encoding"] == "gzip" and spec.json()["openapi"].startswith("3.1")
    assert client.get("/api/improvement-log").headers["cache-control"] == "no-store"


def test_staff_pages_with_the_csrf_token_are_not_compressed(db_client):
    """A staff page holds the CSRF token next to text echoed from the request, under the staff
    cookie: compressing it would let response sizes leak the token (BREACH)."""
    assert db_client.post("/staff/login", data={"token": STAFF_TOKEN}, follow_redirects=False).status_code == 303
    for i in range(3):
        db_client.post("/api/feedback", json={"type": "suggestion", "content": f"第{i}条建议：" + "多种树" * 100})
    listing = db_client.get("/staff/entries/?q=csrf", headers={"accept-encoding": "gzip"})
    assert listing.status_code == 200 and 'name="csrf" value="' in listing.text and 'value="csrf"' in listing.text
    assert len(listing.content) > 1024 and "content-encoding" not in listing.headers
    assert "content-encoding" not in db_client.get("/staff/intake", headers={"accept-encoding": "gzip"}).headers
    # the staff session answer is smaller than what gets compressed: the rule itself covers it
    assert not compressible("/api/staff/session") and not compressible("/staff/entries/1")
    assert compressible("/api/search") and compressible("/residents/")


def test_error_list_is_capped(client):
    body = {f"unknown_{i}": 1 for i in range(6000)}
    r = client.post("/api/feedback", content=json.dumps(body)[:60000].rsplit(",", 1)[0] + "}",
                    headers={"content-type": "application/json"})
    assert r.status_code == 422 and len(r.content) < 20_000
    assert "未列出" in r.json()["errors"][-1]["message"]


def test_redirects_do_not_reflect_the_host_header(client):
    for path in ("/residents", "/staff/entries", "/handbook"):
        r = client.get(path, headers={"host": "evil.example"}, follow_redirects=False)
        assert r.status_code in (303, 307) and r.headers["location"].startswith("/"), (path, r.headers["location"])
        assert "evil" not in r.headers["location"]


def test_build_marker_and_dot_files_are_not_served(client, built_project):
    assert (built_project / "site" / ".kb-build.json").exists()
    assert client.get("/.kb-build.json").status_code == 404


def test_data_dir_and_database_are_owner_only(built_project, tmp_path):
    data = tmp_path / "fresh"
    s = settings_for(built_project, built_project / "var", KB_DATABASE_URL=f"sqlite:///{data / 'kb.sqlite3'}")
    with TestClient(create_app(s)) as c:
        assert c.post("/api/feedback", json={"type": "suggestion", "content": "x"}).status_code == 201
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for f in data.glob("kb.sqlite3*"):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f


def test_search_gaps_are_aged_and_capped(db_client, monkeypatch):
    store = db_client.app.state.services.store
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    store.record_gaps([("旧的查询", 0, None, now - dt.timedelta(days=store_module.GAPS_DAYS + 1))])
    store.record_gaps([("新的查询", 0, None, now)])
    assert [g for g in store.gaps(limit=100) if "旧的" in str(g)] == []
    monkeypatch.setattr(store_module, "GAPS_MAX", 5)
    store.record_gaps([(f"q{i}", 0, None, now) for i in range(12)])
    with store.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(search_gaps)) == 5


def test_a_stalled_request_body_gets_408():
    async def echo(request):
        return JSONResponse({"n": len(await request.body())})

    app = BodyTimeout(Starlette(routes=[Route("/", echo, methods=["POST"])]), seconds=0.2)

    async def run():
        sent = []
        calls = iter([{"type": "http.request", "body": b"a", "more_body": True}])

        async def receive():
            try:
                return next(calls)
            except StopIteration:
                await asyncio.sleep(5)

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b"",
                 "http_version": "1.1", "scheme": "http", "server": ("t", 80), "client": ("c", 1), "root_path": ""}
        with pytest.raises(Exception) as info:
            await app(scope, receive, send)
        return info.value

    with ThreadPoolExecutor(1) as pool:          # its own event loop, whatever runs in this thread
        exc = pool.submit(asyncio.run, run()).result()
    assert getattr(exc, "status_code", None) == 408


def test_the_security_headers_are_written_in_the_middleware_only(client):
    """Service pages and the API get the strict policy, pages of the built site (community pages
    included) the theme's; no handler restates a header the middleware sets."""
    from pathlib import Path

    from kb_service.web.middleware import headers

    for path in ("/staff/login", "/api/docs", "/notices/", "/api/health"):
        assert client.get(path).headers["content-security-policy"] == headers.SERVICE_CSP, path
    community = next(iter(client.app.state.services.corpus.communities))
    for path in ("/", f"/communities/{community}/"):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-security-policy"].startswith("default-src 'self'; script-src 'self'"), path
        assert r.headers["content-security-policy"] != headers.SERVICE_CSP
    web = Path(headers.__file__).parent.parent
    restated = [p.name for p in web.rglob("*.py") if p.name != "headers.py"
                and re.search(r"Content-Security-Policy|nosniff|Referrer-Policy", p.read_text(encoding="utf-8"))]
    assert restated == []

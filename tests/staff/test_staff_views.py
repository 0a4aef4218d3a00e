"""Staff pages (/staff/), the reports behind them and their API twins, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import re

from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from conftest import STAFF, STAFF_TOKEN
from kb_service.feedback import reports
from kb_service.site import svg
from kb_service.web import access
from kb_service.web.app import create_app
from kb_service.times import utcnow
from kb_service.feedback.forms import parse_submission
from kb_service.feedback.store import Store

PHONE = "13912345678"
MASKED = "139****5678"
XSS = "<script>alert(1)</script>"


# -- helpers ------------------------------------------------------------------------------------------

def login(client: TestClient) -> str:
    """Log in through the form; returns the session's CSRF token as the pages carry it."""
    r = client.post("/staff/login", data={"token": STAFF_TOKEN}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = client.get("/staff/entries/")
    assert page.status_code == 200
    return csrf_of(page.text)


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "page has no CSRF field"
    return m.group(1)


def submit(client: TestClient, **body) -> int:
    body.setdefault("type", "complaint")
    body.setdefault("content", "楼上装修噪音")
    r = client.post("/api/feedback", json=body)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def entry(client: TestClient, entry_id: int) -> dict:
    r = client.get(f"/api/improvement-log/{entry_id}", headers=STAFF)
    assert r.status_code == 200
    return r.json()


def change(client: TestClient, entry_id: int, csrf: str, follow: bool = False, **form):
    return client.post(f"/staff/entries/{entry_id}", data={"csrf": csrf, **form}, follow_redirects=follow)


def store_of(client: TestClient) -> Store:
    return client.app.state.services.store


# -- login, session, CSRF, origin ---------------------------------------------------------------------------

def test_wrong_token_fails_and_sets_no_cookie(db_client):
    r = db_client.post("/staff/login", data={"token": "not-the-token"}, follow_redirects=False)
    assert r.status_code == 401
    assert "令牌不正确" in r.text
    assert "set-cookie" not in r.headers
    assert db_client.get("/staff/entries/", follow_redirects=False).status_code == 303


def test_right_token_sets_a_strict_session_cookie(db_client):
    r = db_client.post("/staff/login", data={"token": STAFF_TOKEN}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/staff/entries/"
    cookie = r.headers["set-cookie"]
    assert re.match(r"kb_staff=[\w-]{40,};", cookie)
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=strict" in lowered and "path=/;" in lowered
    assert "secure" not in lowered          # plain http in the test client
    page = db_client.get("/staff/entries/")
    assert page.status_code == 200 and "改进日志" in page.text and "tester" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_cookie_is_secure_over_https(db_client):
    r = db_client.post("https://testserver/staff/login", data={"token": STAFF_TOKEN}, follow_redirects=False)
    assert r.status_code == 303
    assert "secure" in r.headers["set-cookie"].lower()


def test_login_returns_to_the_page_asked_for_but_never_elsewhere(db_client):
    r = db_client.get("/staff/dashboard", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/staff/login?next=%2Fstaff%2Fdashboard"
    r = db_client.post("/staff/login", data={"token": STAFF_TOKEN, "next": "/staff/dashboard"}, follow_redirects=False)
    assert r.headers["location"] == "/staff/dashboard"
    r = db_client.post("/staff/login", data={"token": STAFF_TOKEN, "next": "https://evil.example/"}, follow_redirects=False)
    assert r.headers["location"] == "/staff/entries/"


def test_sign_in_returns_only_to_our_own_pages():
    assert access.on_site("/staff/dashboard?community=a") == "/staff/dashboard?community=a"
    assert access.on_site("/scripts/x/") == "/scripts/x/"
    for elsewhere in ("https://evil.example/", "//evil.example/staff/", "/staff/\\evil.example", "/api/x",
                      "/staff/" + "a" * 600, "", None):
        assert access.on_site(elsewhere) == access.HOME


def test_every_staff_page_is_guarded_and_every_guarded_api_answers_401(db_client):
    """Every /staff/ page but signing in and out carries access.requires; every API endpoint that
    carries it asks an anonymous client for a token (401 + WWW-Authenticate), whatever the method."""
    routes = [r for r in db_client.app.routes if isinstance(r, Route)]
    api = [(("/api" + r.path), r) for m in db_client.app.routes if isinstance(m, Mount) and m.path == "/api"
           for r in m.routes if isinstance(r, Route)]
    open_pages = {"/staff/login", "/staff/logout", "/staff/entries", "/staff/notices"}
    assert [r.path for r in routes if r.path.startswith("/staff/") and r.path not in open_pages
            and not hasattr(r.endpoint, "required_scope")] == []
    guarded = [(path, r) for path, r in api if hasattr(r.endpoint, "required_scope")]
    assert len(guarded) >= 10
    for path, r in guarded:
        for method in r.methods - {"HEAD"}:
            answer = db_client.request(method, path.replace("{id}", "1"), json={})
            assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Bearer"), (method, path)


def test_pages_require_login(db_client):
    entry_id = submit(db_client)
    for path in ("/staff/entries/", f"/staff/entries/{entry_id}", "/staff/intake", "/staff/export.csv",
                 "/staff/dashboard", "/staff/gaps"):
        r = db_client.get(path, follow_redirects=False)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/staff/login?next=")
    r = db_client.post(f"/staff/entries/{entry_id}", data={"op": "status", "status": "triaged", "csrf": "x"})
    assert r.status_code == 403
    assert entry(db_client, entry_id)["status"] == "received"
    assert db_client.get("/staff/entries", follow_redirects=False).headers["location"] == "/staff/entries/"


def test_site_pages_under_staff_are_still_the_sites(db_client):
    # The built site owns /staff/ (员工专区), /staff/lookup/ and /staff/fill/; no login needed there.
    for path, text in (("/staff/", "员工专区"), ("/staff/lookup/", "话术速查"), ("/staff/fill/", "模板填写")):
        r = db_client.get(path, follow_redirects=False)
        assert r.status_code == 200 and text in r.text, path
    assert db_client.get("/staff/no-such-page/").status_code == 404


def test_logout_ends_the_session(db_client):
    csrf = login(db_client)
    r = db_client.post("/staff/logout", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/staff/login"
    assert db_client.get("/staff/entries/", follow_redirects=False).status_code == 303


def test_missing_or_wrong_csrf_is_refused_and_changes_nothing(db_client):
    entry_id = submit(db_client)
    login(db_client)
    r = db_client.post(f"/staff/entries/{entry_id}", data={"op": "status", "status": "triaged"})
    assert r.status_code == 403 and "CSRF" in r.text
    r = change(db_client, entry_id, "forged-token", op="owner", owner="张三")
    assert r.status_code == 403
    e = entry(db_client, entry_id)
    assert e["status"] == "received" and e["owner"] is None and len(e["events"]) == 1


def test_cross_origin_post_is_refused(db_client):
    entry_id = submit(db_client)
    csrf = login(db_client)
    r = db_client.post(f"/staff/entries/{entry_id}", data={"csrf": csrf, "op": "status", "status": "triaged",
                                                          "owner": "tester"},
                       headers={"origin": "http://evil.example"})
    assert r.status_code == 403
    assert entry(db_client, entry_id)["status"] == "received"
    r = db_client.post("/staff/login", data={"token": STAFF_TOKEN}, headers={"origin": "http://evil.example"},
                       follow_redirects=False)
    assert r.status_code == 403 and "set-cookie" not in r.headers
    # The same request from our own origin goes through.
    r = db_client.post(f"/staff/entries/{entry_id}", data={"csrf": csrf, "op": "status", "status": "triaged",
                                                          "owner": "tester"},
                       headers={"origin": "http://testserver"}, follow_redirects=False)
    assert r.status_code == 303
    assert entry(db_client, entry_id)["status"] == "triaged"


def test_staff_area_closed_without_tokens(app_settings):
    settings = dataclasses.replace(app_settings, staff_tokens={})
    with TestClient(create_app(settings)) as client:
        for path in ("/staff/entries/", "/staff/login", "/staff/dashboard"):
            r = client.get(path, follow_redirects=False)
            assert r.status_code == 403 and "员工区未开启" in r.text, path
        r = client.post("/staff/login", data={"token": STAFF_TOKEN}, follow_redirects=False)
        assert r.status_code == 403 and "set-cookie" not in r.headers


# -- the lifecycle through the forms ----------------------------------------------------------------------

def test_full_lifecycle_through_the_forms(db_client):
    entry_id = submit(db_client, category="noise")
    csrf = login(db_client)
    page = db_client.get(f"/staff/entries/{entry_id}")
    assert 'name="status" value="triaged"' in page.text
    assert 'name="status" value="closed"' not in page.text       # only allowed transitions offered

    r = change(db_client, entry_id, csrf, op="owner", owner="tester")
    assert r.status_code == 303 and r.headers["location"] == f"/staff/entries/{entry_id}?ok=owner"
    for target in ("triaged", "in_progress"):
        assert change(db_client, entry_id, csrf, op="status", status=target, note=f"到 {target}",
                      owner="tester").status_code == 303
    r = change(db_client, entry_id, csrf, follow=True, op="action", what="补充装修噪音话术", kind="script",
               target="noise-decoration", owner="李四", due="2026-12-31", public="on")
    assert r.status_code == 200 and "改进措施已添加" in r.text and "补充装修噪音话术" in r.text
    action_id = entry(db_client, entry_id)["actions"][0]["id"]
    assert change(db_client, entry_id, csrf, op="status", status="resolved").status_code == 303
    # Not satisfied at follow-up: closing is refused, back to work.
    assert change(db_client, entry_id, csrf, op="status", status="followed_up", satisfied="no").status_code == 303
    r = change(db_client, entry_id, csrf, op="status", status="closed")
    assert r.status_code == 409 and "不满意" in r.text
    for target, extra in (("in_progress", {}), ("resolved", {}), ("followed_up", {"satisfied": "yes"})):
        assert change(db_client, entry_id, csrf, op="status", status=target, **extra).status_code == 303
    r = change(db_client, entry_id, csrf, op="action_done", action_id=str(action_id),
               pr_url="https://git.example/kb/pull/7")
    assert r.status_code == 303
    r = change(db_client, entry_id, csrf, op="publish", publish="已补充装修噪音的沟通话术")
    assert r.status_code == 303
    r = change(db_client, entry_id, csrf, follow=True, op="status", status="closed", note="业主满意")
    assert r.status_code == 200 and "状态已更新" in r.text

    e = entry(db_client, entry_id)
    assert e["status"] == "closed" and e["owner"] == "tester" and e["closed_at"]
    assert e["public_summary"] == "已补充装修噪音的沟通话术"
    assert e["actions"][0]["done"] and e["actions"][0]["pr_url"] == "https://git.example/kb/pull/7"
    assert e["actions"][0]["public"] is True and e["actions"][0]["due"] == "2026-12-31"
    statuses = [(ev["from_status"], ev["to_status"]) for ev in e["events"] if ev["kind"] == "status"]
    assert statuses == [("received", "triaged"), ("triaged", "in_progress"), ("in_progress", "resolved"),
                        ("resolved", "followed_up"), ("followed_up", "in_progress"), ("in_progress", "resolved"),
                        ("resolved", "followed_up"), ("followed_up", "closed")]
    assert all(ev["actor"] == "tester" for ev in e["events"][1:])
    satisfied = [ev["data"]["satisfied"] for ev in e["events"] if ev["to_status"] == "followed_up"]
    assert satisfied == [False, True]

    page = db_client.get(f"/staff/entries/{entry_id}").text
    assert page.count("状态变更") == 8
    assert "（业主不满意）" in page and "（业主满意）" in page and "业主满意" in page
    assert 'href="https://git.example/kb/pull/7"' in page
    assert "此条目已关闭" in page and 'name="op" value="status"' not in page


def test_forbidden_transition_shows_409_and_changes_nothing(db_client):
    entry_id = submit(db_client)
    csrf = login(db_client)
    r = change(db_client, entry_id, csrf, op="status", status="closed")
    assert r.status_code == 409
    assert "不能从 received（已受理）变为 closed（已关闭）" in r.text
    assert "<h1>" in r.text and "处理记录" in r.text                  # the detail page, not a crash
    e = entry(db_client, entry_id)
    assert e["status"] == "received" and len(e["events"]) == 1


def test_invalid_form_values_show_422_on_the_page(db_client):
    entry_id = submit(db_client)
    csrf = login(db_client)
    r = change(db_client, entry_id, csrf, op="action", what="改流程", kind="rocket", owner="李四", due="明年")
    assert r.status_code == 422
    assert "措施类型" in r.text and "完成期限" in r.text
    r = change(db_client, entry_id, csrf, op="status", status="followed_up")
    assert r.status_code == 422 and "回访时业主是否满意" in r.text
    r = change(db_client, entry_id, csrf, op="owner", owner="   ")
    assert r.status_code == 422
    assert change(db_client, entry_id, csrf, op="launch").status_code == 400
    assert change(db_client, 999999, csrf, op="owner", owner="王工").status_code == 404
    assert len(entry(db_client, entry_id)["events"]) == 1


# -- what the pages show ------------------------------------------------------------------------------------

def test_list_masks_the_phone_and_detail_shows_it(db_client):
    entry_id = submit(db_client, consent=True, contact_phone=PHONE, content="请回电 13800001111 谢谢")
    login(db_client)
    listing = db_client.get("/staff/entries/").text
    assert MASKED in listing and PHONE not in listing
    assert "138****1111" in listing and "13800001111" not in listing
    detail = db_client.get(f"/staff/entries/{entry_id}").text
    assert PHONE in detail and f'href="tel:{PHONE}"' in detail


def test_list_filters_overdue_and_paginates(db_client):
    store = store_of(db_client)
    config = store.config
    old = utcnow() - dt.timedelta(days=10)
    late_id = store.submit(parse_submission({"type": "complaint", "content": "很久以前的投诉", "category": "repair"},
                                            config), now=old)[0]["id"]
    fresh_id = submit(db_client, type="suggestion", content="新建议", category="parking")
    login(db_client)
    listing = db_client.get("/staff/entries/").text
    row = re.search(rf'<tr class="([^"]*)">\s*<td><a href="/staff/entries/{late_id}"', listing)
    assert row and row.group(1) == "kb-overdue-row"
    assert re.search(rf'<tr class="">\s*<td><a href="/staff/entries/{fresh_id}"', listing)
    only_late = db_client.get("/staff/entries/?overdue=true").text
    assert f"/staff/entries/{late_id}" in only_late and f"/staff/entries/{fresh_id}" not in only_late
    by_category = db_client.get("/staff/entries/?category=parking").text
    assert f"/staff/entries/{fresh_id}" in by_category and f"/staff/entries/{late_id}" not in by_category
    assert db_client.get("/staff/entries/?status=bogus").status_code == 400
    for i in range(51):
        store.submit(parse_submission({"type": "praise", "content": f"表扬 {i}"}, config))
    first = db_client.get("/staff/entries/?type=praise").text
    assert "共 51 条" in first and "第 1 / 2 页" in first and 'href="/staff/entries/?type=praise&amp;page=2"' in first
    second = db_client.get("/staff/entries/?type=praise&page=2").text
    assert len(re.findall(r'<a href="/staff/entries/\d+">', second)) == 1


def test_feedback_content_is_escaped(db_client):
    entry_id = submit(db_client, content=XSS, consent=True, contact_name="<b>王</b>", contact_phone=PHONE)
    login(db_client)
    for path in ("/staff/entries/", f"/staff/entries/{entry_id}"):
        html = db_client.get(path).text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
        assert XSS not in html, path
    assert "&lt;b&gt;王&lt;/b&gt;" in db_client.get(f"/staff/entries/{entry_id}").text


# -- CSV ----------------------------------------------------------------------------------------------------

def test_csv_export_has_bom_masks_phones_and_neutralises_formulas(db_client):
    submit(db_client, consent=True, contact_phone=PHONE, content='=HYPERLINK("http://evil.example","点我")',
           category="fees")
    submit(db_client, content="-2+3 再打 13800001111")
    submit(db_client, type="suggestion", content="@SUM(A1) 建议")
    login(db_client)
    r = db_client.get("/staff/export.csv")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"].startswith('attachment; filename="improvement-log-')
    assert r.content.startswith(b"\xef\xbb\xbf")
    text = r.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(reports.CSV_COLUMNS)
    assert len(rows) == 4
    by_content = {row[-1]: row for row in rows[1:]}
    assert by_content["'=HYPERLINK(\"http://evil.example\",\"点我\")"][10] == MASKED
    assert by_content["'=HYPERLINK(\"http://evil.example\",\"点我\")"][4] == "收费"
    assert "'-2+3 再打 138****1111" in by_content
    assert "'@SUM(A1) 建议" in by_content
    assert PHONE not in text and "13800001111" not in text

    # Filters as on the list; the bearer-token twin returns the same file.
    only = list(csv.reader(io.StringIO(db_client.get("/staff/export.csv?type=suggestion").content.decode("utf-8-sig"))))
    assert len(only) == 2 and only[1][2] == "建议"
    api = db_client.get("/api/improvement-log/export.csv?type=suggestion", headers=STAFF)
    assert api.status_code == 200 and api.content.startswith(b"\xef\xbb\xbf")
    assert list(csv.reader(io.StringIO(api.content.decode("utf-8-sig"))))[1:] == only[1:]
    # The session cookie is the other way in; without it or a token the export is refused.
    db_client.cookies.clear()
    assert db_client.get("/api/improvement-log/export.csv").status_code == 401


def test_safe_cell():
    assert reports.safe_cell("=1+1") == "'=1+1"
    assert reports.safe_cell("+86 138") == "'+86 138"
    assert reports.safe_cell("-") == "'-"
    assert reports.safe_cell("@x") == "'@x"
    assert reports.safe_cell("正常内容 = 1") == "正常内容 = 1"
    assert reports.safe_cell(None) == ""


# -- reports and dashboard ------------------------------------------------------------------------------------

def test_csi_maps_one_to_five_onto_zero_to_hundred():
    assert reports.csi(1) == 0.0
    assert reports.csi(5) == 100.0
    assert reports.csi(3) == 50.0
    assert reports.csi(4.5) == 87.5
    assert reports.csi(14 / 3) == 91.7        # mean 4.667
    assert reports.csi(3.5) == 62.5


NOW = dt.datetime(2026, 11, 25, 4, 0)       # Wednesday 12:00 Beijing, ISO week 2026-W48


def _put(store: Store, when: dt.datetime, ratings: dict | None = None, **body) -> int:
    body.setdefault("content", "内容")
    if ratings:
        body["ratings"] = ratings
    return store.submit(parse_submission(body, store.config), now=when)[0]["id"]


def test_dashboard_values_from_known_data(db_client):
    store = store_of(db_client)
    a = _put(store, dt.datetime(2026, 11, 25, 3, 0), {"service": 5, "communication": 4}, type="complaint", category="noise")
    b = _put(store, dt.datetime(2026, 11, 22, 15, 59), {"service": 3}, type="complaint", category="noise")  # Sun 23:59 Beijing
    c = _put(store, dt.datetime(2026, 11, 22, 16, 0), {"service": 4}, type="suggestion", category="parking")  # Mon 00:00
    _put(store, dt.datetime(2026, 10, 31, 17, 0), {"care": 5}, type="praise")            # 1 Nov 01:00 Beijing
    _put(store, dt.datetime(2026, 10, 31, 15, 0), {"service": 1, "price": 2}, type="inquiry")  # 31 Oct 23:00
    _put(store, dt.datetime(2026, 6, 1, 2, 0), {"service": 2}, type="complaint", category="repair")
    _put(store, dt.datetime(2025, 11, 15, 2, 0), {"service": 5}, type="complaint")    # older than 12 months
    h = [_put(store, dt.datetime(2026, 8, 20, 2, 0), {"service": s}, type="praise") for s in (4, 5, 5)]
    store.update(b, {"status": "triaged"}, actor="t", now=dt.datetime(2026, 11, 23, 1, 0))
    for step in ({"status": "triaged"}, {"status": "in_progress"}, {"status": "resolved"},
                 {"status": "followed_up", "satisfied": True}, {"status": "closed"}):
        store.update(h[0], step, actor="t", now=dt.datetime(2026, 8, 21, 2, 0))
    config = store.config
    assert config.types["suggestion"].response.deadline(dt.datetime(2026, 11, 22, 16, 0)) < NOW  # c is late
    assert config.types["complaint"].response.deadline(dt.datetime(2026, 11, 25, 3, 0)) > NOW    # a is not
    assert config.types["complaint"].result.deadline(dt.datetime(2026, 11, 22, 15, 59)) > NOW    # b is not

    d = reports.dashboard(store, now=NOW)
    assert len(d["weeks"]) == 12 and d["weeks"][0] == "2026-W37" and d["weeks"][-1] == "2026-W48"
    w = {label: i for i, label in enumerate(d["weeks"])}
    vt = {k: v["counts"] for k, v in d["volume_by_type"].items()}
    assert sum(vt["complaint"]) == 2 and vt["complaint"][w["2026-W48"]] == 1 and vt["complaint"][w["2026-W47"]] == 1
    assert vt["suggestion"][w["2026-W48"]] == 1 and sum(vt["suggestion"]) == 1
    assert vt["praise"][w["2026-W44"]] == 1 and sum(vt["praise"]) == 1
    assert vt["inquiry"][w["2026-W44"]] == 1 and sum(vt["inquiry"]) == 1
    assert sum(vt["page"]) == 0
    vc = {k: v["counts"] for k, v in d["volume_by_category"].items()}
    assert set(vc) == {"noise", "parking", ""}
    assert vc["noise"][w["2026-W47"]] == 1 and vc["noise"][w["2026-W48"]] == 1
    assert vc[""][w["2026-W44"]] == 2 and d["volume_by_category"][""]["label"] == "未分类"
    assert d["overdue_open"] == 8                     # c, praise, inquiry, June, 2025, three of h (triage is no answer)
    counts = {k: v["count"] for k, v in d["status_counts"].items()}
    assert counts == {"received": 8, "triaged": 1, "in_progress": 0, "resolved": 0, "followed_up": 0, "closed": 1}
    assert d["total"] == 10

    s = d["csi"]
    assert s["months"][0] == "2025-12" and s["months"][-1] == "2026-11" and len(s["months"]) == 12
    m = {label: i for i, label in enumerate(s["months"])}
    service = s["dimensions"]["service"]
    assert service["csi"][m["2026-11"]] == 75.0 and service["n"][m["2026-11"]] == 3     # 5, 3, 4
    assert service["csi"][m["2026-10"]] == 0.0 and service["n"][m["2026-10"]] == 1       # 1
    assert service["csi"][m["2026-08"]] == 91.7 and service["n"][m["2026-08"]] == 3      # 4, 5, 5
    assert service["csi"][m["2026-06"]] == 25.0
    assert service["csi"][m["2026-07"]] is None and service["n"][m["2026-07"]] == 0
    assert sum(service["n"]) == 8                                                        # 2025-11 left out
    assert s["dimensions"]["communication"]["csi"][m["2026-11"]] == 75.0
    assert s["dimensions"]["care"]["csi"][m["2026-11"]] == 100.0
    assert s["dimensions"]["price"]["csi"][m["2026-10"]] == 25.0
    assert all(v is None for v in s["dimensions"]["management"]["csi"])
    assert s["dimensions"]["care"]["label"] == "情感关怀"

    # The public-safe aggregates: counts and scores only.
    volume = reports.volume_by_month(store, now=NOW)
    vm = {label: i for i, label in enumerate(volume["months"])}
    assert volume["types"]["complaint"]["counts"][vm["2026-11"]] == 2
    assert volume["types"]["praise"]["counts"][vm["2026-08"]] == 3
    assert volume["types"]["inquiry"]["counts"][vm["2026-10"]] == 1
    assert reports.csi_by_month(store, months=3, now=NOW)["months"] == ["2026-09", "2026-10", "2026-11"]
    blob = repr(volume) + repr(reports.csi_by_month(store, now=NOW))
    assert "内容" not in blob and "FB" not in blob
    assert a and c


def test_dashboard_page_draws_the_submitted_data(db_client):
    submit(db_client, ratings={"service": 5}, category="noise")
    submit(db_client, ratings={"service": 2}, category="noise")
    submit(db_client, type="suggestion", content="<b>建议</b>", category="parking")
    login(db_client)
    r = db_client.get("/staff/dashboard")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    html = r.text
    assert html.count("<svg") >= 3 and "<script" not in html
    assert "http://www.w3.org/2000/svg" in html and "https://" not in html
    week = db_client.get("/api/improvement-log/stats", headers=STAFF).json()["week_labels"][-1]   # 11月23日–29日
    month = reports.month_starts(utcnow())[-1][0]
    assert f"<title>{week} 投诉：2</title>" in html
    assert f"<title>{week} 建议：1</title>" in html
    assert f"<title>{week} 噪音：2</title>" in html
    minimum = db_client.app.state.services.corpus.feedback.csi_min_ratings
    if minimum <= 2:
        assert f"<title>{month} 服务：62.5</title>" in html            # (5 + 2) / 2 = 3.5 -> 62.5
        assert f'data-dim="service" data-month="{month}">62.5（2）</td>' in html
    else:                                                              # too few ratings: no point, sample size shown
        assert f"<title>{month} 服务：" not in html
        assert f'data-dim="service" data-month="{month}">—（2，不足 {minimum} 条）</td>' in html
    assert re.search(r'data-status="received">3<', html)
    assert "CSI = (平均分 − 1) ÷ 4 × 100" in html

    stats = db_client.get("/api/improvement-log/stats", headers=STAFF)
    assert stats.status_code == 200
    assert stats.json()["volume_by_type"]["complaint"]["counts"][-1] == 2
    assert stats.json()["csi"]["dimensions"]["service"]["csi"][-1] == 62.5
    db_client.cookies.clear()  # signed out: neither the session cookie nor a token
    assert db_client.get("/api/improvement-log/stats").status_code == 401


def test_svg_escapes_every_label():
    out = svg.bar_chart(["<w1>", "w2"], [("<script>x</script>", [1, 2]), ("a&b", [0, 3])], title='"t"<')
    assert "<script>" not in out and "&lt;script&gt;x&lt;/script&gt;" in out
    assert "&lt;w1&gt;" in out and "a&amp;b" in out and "&#34;t&#34;&lt;" in out
    assert out.count("<rect") == 2 + 3              # two legend squares, three non-zero bars
    line = svg.line_chart(["m1", "m2", "m3"], [("<x>", [50.0, None, 75.0])], title="csi", top=100)
    assert "&lt;x&gt;" in line and "<polyline" not in line and line.count("<circle") == 2


# -- intake, gaps -----------------------------------------------------------------------------------------------

def test_intake_creates_a_staff_entry_with_its_record(db_client):
    login(db_client)
    form = db_client.get("/staff/intake")
    assert form.status_code == 200
    assert 'name="record.emotion"' in form.text and "愤怒" in form.text and 'value="page"' not in form.text
    csrf, key = csrf_of(form.text), re.search(r'name="idempotency_key" value="([^"]+)"', form.text).group(1)
    data = {"csrf": csrf, "idempotency_key": key, "type": "complaint", "category": "elevator",
            "content": "电梯三天两次困人", "record.occurred_at": "2026-11-20T14:30", "record.place": "3 号楼电梯",
            "record.emotion": "angry", "record.cause": "维保不到位", "record.proposed": "约维保单位全面检查",
            "contact_phone": PHONE, "consent": "on"}
    r = db_client.post("/staff/intake", data=data, follow_redirects=False)
    assert r.status_code == 303
    entry_id = int(re.fullmatch(r"/staff/entries/(\d+)\?ok=created", r.headers["location"]).group(1))
    e = entry(db_client, entry_id)
    assert e["source"] == "staff" and e["type"] == "complaint" and e["category"] == "elevator"
    assert e["record"] == {"occurred_at": "2026-11-20T14:30", "place": "3 号楼电梯", "emotion": "angry",
                           "cause": "维保不到位", "proposed": "约维保单位全面检查"}
    assert e["contact_phone"] == PHONE and e["contact_name"] is None
    assert e["events"][0]["actor"] == "tester" and e["events"][0]["data"] == {"source": "staff"}
    page = db_client.get(r.headers["location"]).text
    assert "已登记" in page and "愤怒" in page and "约维保单位全面检查" in page
    # A double submit (same idempotency key) does not create a second entry.
    again = db_client.post("/staff/intake", data=data, follow_redirects=False)
    assert again.headers["location"] == r.headers["location"]


def test_intake_errors_keep_what_was_typed(db_client):
    csrf = login(db_client)
    r = db_client.post("/staff/intake", data={"csrf": csrf, "type": "complaint", "content": "",
                                               "record.place": "地下车库", "record.emotion": "furious"})
    assert r.status_code == 422
    assert "投诉内容" in r.text and "情绪状态" in r.text
    assert 'value="地下车库"' in r.text
    assert db_client.get("/api/improvement-log", headers=STAFF).json()["total"] == 0
    assert db_client.post("/staff/intake", data={"type": "complaint", "content": "x"}).status_code == 403


def test_gaps_page_lists_a_zero_result_query(db_client):
    assert db_client.get("/api/search", params={"q": "zzzzqqqq"}).json()["total"] == 0
    login(db_client)
    html = db_client.get("/staff/gaps").text
    row = re.search(r'<td class="kb-query">zzzzqqqq</td><td>(\d+)</td>.*?</tr>', html, re.S)
    assert row and row.group(1) == "1" and "无结果" in row.group(0)

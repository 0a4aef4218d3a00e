"""Feedback submissions and the improvement log, through the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from conftest import STAFF
from kb_service import db
from kb_service.times import utcnow
from kb_service.feedback.store import TRANSITIONS, Store

COMPLAINT = {"type": "complaint", "content": "3栋电梯这周坏了两次，老人上下楼很不方便", "category": "elevator",
             "location": "3栋2单元", "contact_name": "王女士", "contact_phone": "138 1234 5678",
             "consent": True, "ratings": {"service": 2, "communication": 3}}


def submit(client, body=None, **kw):
    return client.post("/api/feedback", json=body if body is not None else COMPLAINT, **kw)


def services(client):
    return client.app.state.services


# -- submissions --------------------------------------------------------------------------------

def test_complaint_gets_reference_and_deadlines_from_standards(db_client):
    r = submit(db_client)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["reference"].startswith("FB") and isinstance(body["id"], int)
    created = dt.datetime.fromisoformat(db_client.get(f"/api/improvement-log/{body['id']}", headers=STAFF)
                                        .json()["created_at"].replace("Z", "+00:00"))
    respond_by = dt.datetime.fromisoformat(body["respond_by"].replace("Z", "+00:00"))
    resolve_by = dt.datetime.fromisoformat(body["resolve_by"].replace("Z", "+00:00"))
    kind = services(db_client).corpus.feedback.types["complaint"]   # feedback.yaml names the standards
    assert respond_by == kind.response.deadline(created)
    assert resolve_by == kind.result.deadline(created)
    assert kind.response.text in body["message"]


def test_entry_is_durable_and_complete(db_client, app_settings):
    entry_id = submit(db_client).json()["id"]
    engine = sa.create_engine(app_settings.database_url)
    with engine.connect() as conn:
        row = conn.execute(sa.select(db.entries).where(db.entries.c.id == entry_id)).mappings().one()
        created = conn.execute(sa.select(db.events).where(db.events.c.entry_id == entry_id)).mappings().all()
    engine.dispose()
    assert row["contact_phone"] == "13812345678" and row["contact_name"] == "王女士"
    assert row["rating_service"] == 2 and row["rating_care"] is None
    assert [e["kind"] for e in created] == ["created"]


def test_form_encoded_post_gets_json_for_api_clients(db_client):
    r = db_client.post("/api/feedback", data={"type": "suggestion", "content": "希望增加快递柜",
                                              "ratings.service": "4", "consent": "on"})
    assert r.status_code == 201 and r.headers["content-type"].startswith("application/json")
    entry = db_client.get(f"/api/improvement-log/{r.json()['id']}", headers=STAFF).json()
    assert entry["ratings"] == {"service": 4} and entry["consent"] is True


def test_browser_form_post_gets_html_result_page(db_client):
    r = db_client.post("/api/feedback", data={"type": "praise", "content": "保安<b>小李</b>很负责"},
                       headers={"accept": "text/html,application/xhtml+xml"})
    assert r.status_code == 201 and r.headers["content-type"].startswith("text/html")
    assert "反馈已收到" in r.text and "FB" in r.text
    bad = db_client.post("/api/feedback", data={"type": "praise", "content": ""},
                         headers={"accept": "text/html"})
    assert bad.status_code == 422 and "请修改后再提交" in bad.text and "内容" in bad.text


def test_contact_details_dropped_without_consent(db_client):
    body = {**COMPLAINT, "consent": False}
    entry_id = submit(db_client, body).json()["id"]
    entry = db_client.get(f"/api/improvement-log/{entry_id}", headers=STAFF).json()
    assert entry["contact_phone"] is None and entry["contact_name"] is None


@pytest.mark.parametrize("body, field", [
    ({"content": "没有类型"}, "type"),
    ({"type": "complaint"}, "content"),
    ({"type": "complaint", "content": "   "}, "content"),
    ({"type": "complaint", "content": "x" * 2001}, "content"),
    ({"type": "complaint", "content": "ok", "category": "weather"}, "category"),
    ({"type": "complaint", "content": "ok", "contact_phone": "12345", "consent": True}, "contact_phone"),
    ({"type": "complaint", "content": "ok", "ratings": {"service": 6}}, "ratings.service"),
    ({"type": "complaint", "content": "ok", "ratings": {"service": True}}, "ratings.service"),
    ({"type": "complaint", "content": "ok", "ratings": {"mood": 3}}, "ratings.mood"),
    ({"type": "complaint", "content": "ok", "ratings": [5]}, "ratings"),
    ({"type": "complaint", "content": "ok", "consent": "maybe"}, "consent"),
    ({"type": "complaint", "content": "ok", "admin": True}, "admin"),
    ({"type": "page", "helpful": True}, "page"),
    ({"type": "page", "page": "/residents/fees/"}, "helpful"),
    ({"type": "page", "page": "https://evil.example/", "helpful": False}, "page"),
    ({"type": "complaint", "content": "ok", "helpful": True}, "helpful"),
])
def test_bad_fields_are_422_with_the_field_named(db_client, body, field):
    r = submit(db_client, body)
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["errors"]]
    assert db_client.get("/api/improvement-log", headers=STAFF).json()["total"] == 0


def test_page_feedback(db_client):
    yes = submit(db_client, {"type": "page", "page": "/handbook/", "helpful": True})
    no = submit(db_client, {"type": "page", "page": "/residents/fees/", "helpful": False, "content": "没写停车费"})
    assert yes.status_code == no.status_code == 201
    entries = db_client.get("/api/improvement-log?type=page", headers=STAFF).json()["entries"]
    assert {(e["page"], e["helpful"]) for e in entries} == {("/handbook/", True), ("/residents/fees/", False)}
    assert all(e["respond_by"] is None for e in entries)


@pytest.mark.parametrize("body, status", [
    (b"{not json", 400), (b"[1, 2]", 400), (b"x" * (65 * 1024), 413),
])
def test_malformed_bodies(db_client, body, status):
    r = db_client.post("/api/feedback", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status and r.json()["error"]


def test_unsupported_content_type_and_honeypot(db_client):
    assert db_client.post("/api/feedback", content=b"hi", headers={"content-type": "text/plain"}).status_code == 415
    r = db_client.post("/api/feedback", data={"type": "suggestion", "content": "买药", "website": "http://spam"})
    assert r.status_code == 400 and r.json()["field"] == "website"
    assert db_client.get("/api/improvement-log", headers=STAFF).json()["total"] == 0


def test_cross_site_form_post_is_refused(db_client):
    r = db_client.post("/api/feedback", data={"type": "suggestion", "content": "x"},
                       headers={"origin": "http://evil.example"})
    assert r.status_code == 403
    r = db_client.post("/api/feedback", data={"type": "suggestion", "content": "x"},
                       headers={"sec-fetch-site": "cross-site"})
    assert r.status_code == 403
    ok = db_client.post("/api/feedback", data={"type": "suggestion", "content": "x"},
                        headers={"origin": "http://testserver", "sec-fetch-site": "same-origin"})
    assert ok.status_code == 201


def test_idempotency_key_returns_first_entry(db_client):
    body = {**COMPLAINT, "idempotency_key": "form-7d1c2b"}
    first, again = submit(db_client, body), submit(db_client, body)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again.json()["replayed"] is True
    assert db_client.get("/api/improvement-log", headers=STAFF).json()["total"] == 1


def test_concurrent_retries_with_one_key_store_once(db_client):
    body = {**COMPLAINT, "idempotency_key": "double-click"}
    with ThreadPoolExecutor(8) as pool:
        ids = {r.json()["id"] for r in pool.map(lambda _: submit(db_client, body), range(16))}
    assert len(ids) == 1
    assert db_client.get("/api/improvement-log", headers=STAFF).json()["total"] == 1


def test_rate_limit_per_address(built_project, tmp_path):
    from starlette.testclient import TestClient

    from conftest import settings_for
    from kb_service.web.app import create_app

    from kb_service.web.middleware.guards import RateLimiter

    s = settings_for(built_project, built_project / "var", KB_FEEDBACK_RATE_LIMIT="3",
                     KB_DATABASE_URL=f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    with TestClient(create_app(s)) as c:
        # the limiter on a clock the test moves (a slow machine never slides the window)
        clock = [1000.0]
        services = c.app.state.services
        services.limiter = RateLimiter(services.limiter.per_minute, clock=lambda: clock[0])
        codes = []
        for i in range(5):
            codes.append(submit(c, {"type": "suggestion", "content": f"第{i}条"}).status_code)
            clock[0] += 1
        assert codes == [201, 201, 201, 429, 429]
        r = submit(c, {"type": "suggestion", "content": "再来"})
        assert int(r.headers["retry-after"]) >= 1 and "每分钟最多 3 次" in r.json()["error"]
        assert int(r.headers["retry-after"]) == 60 - 5 + 1     # the first hit leaves the window then
        clock[0] += 54                                          # 59 s after the first hit: still full
        assert submit(c, {"type": "suggestion", "content": "还在窗口内"}).status_code == 429
        clock[0] += 1                                           # 60 s after: it has left the window
        assert submit(c, {"type": "suggestion", "content": "一分钟后"}).status_code == 201


# -- staff API ----------------------------------------------------------------------------------

def test_staff_endpoints_need_a_valid_token(db_client):
    entry_id = submit(db_client).json()["id"]
    for method, path in [("get", "/api/improvement-log"), ("get", f"/api/improvement-log/{entry_id}"),
                         ("patch", f"/api/improvement-log/{entry_id}"), ("get", "/api/improvement-log/gaps")]:
        for headers in ({}, {"authorization": "Bearer wrong-token-xyz"}, {"authorization": "Basic abc"}):
            r = getattr(db_client, method)(path, headers=headers)
            assert r.status_code == 401, (method, path, headers)
            assert r.json()["error"]


def test_list_filters_and_masking(db_client):
    submit(db_client)
    submit(db_client, {"type": "suggestion", "content": "请在 13900001111 旁边装灯", "category": "facilities"})
    data = db_client.get("/api/improvement-log", headers=STAFF).json()
    assert data["total"] == 2
    assert [e["type"] for e in data["entries"]] == ["suggestion", "complaint"]   # newest first
    complaint = data["entries"][1]
    assert complaint["contact_phone"] == "138****5678"
    assert "139****1111" in data["entries"][0]["content"]
    detail = db_client.get(f"/api/improvement-log/{complaint['id']}", headers=STAFF).json()
    assert detail["contact_phone"] == "13812345678"
    assert db_client.get("/api/improvement-log?type=suggestion", headers=STAFF).json()["total"] == 1
    assert db_client.get("/api/improvement-log?category=elevator", headers=STAFF).json()["total"] == 1
    assert db_client.get("/api/improvement-log?status=received&limit=100000", headers=STAFF).json()["total"] == 2
    assert db_client.get("/api/improvement-log?overdue=true", headers=STAFF).json()["total"] == 0
    page = db_client.get("/api/improvement-log?limit=1&offset=1", headers=STAFF).json()
    assert page["total"] == 2 and [e["type"] for e in page["entries"]] == ["complaint"]
    for bad in ("status=done", "type=x", "overdue=maybe", "limit=0", "limit=100001", "offset=-1"):
        r = db_client.get(f"/api/improvement-log?{bad}", headers=STAFF)
        assert r.status_code == 400 and r.json()["error"], bad


def test_overdue_uses_standards_deadlines(db_client):
    store: Store = services(db_client).store
    from kb_service.feedback.forms import parse_submission

    kind = store.config.types["complaint"]
    start = db.utcnow()
    # between the two deadlines, whatever standards.yaml says they are: response late, result not yet
    respond, resolve = kind.response.deadline(start) - start, kind.result.deadline(start) - start
    assert respond < resolve
    past = start - (respond + resolve) / 2
    entry, _ = store.submit(parse_submission(COMPLAINT, store.config), now=past)
    late = db_client.get("/api/improvement-log?overdue=true", headers=STAFF).json()
    assert [e["id"] for e in late["entries"]] == [entry["id"]]
    assert late["entries"][0]["overdue_kind"] == "response"
    db_client.patch(f"/api/improvement-log/{entry['id']}", headers=STAFF, json={"status": "triaged", "owner": "李工"})
    # triage is not an answer: only actually contacting the resident meets the response deadline
    assert db_client.get("/api/improvement-log?overdue=true", headers=STAFF).json()["total"] == 1
    db_client.patch(f"/api/improvement-log/{entry['id']}", headers=STAFF, json={"contacted": {"how": "phone"}})
    assert db_client.get("/api/improvement-log?overdue=true", headers=STAFF).json()["total"] == 0
    assert db_client.get("/api/improvement-log?overdue=false", headers=STAFF).json()["total"] == 1


def test_full_lifecycle_with_reopen_and_history(db_client):
    entry_id = submit(db_client).json()["id"]
    path = f"/api/improvement-log/{entry_id}"

    def patch(**body):
        r = db_client.patch(path, headers=STAFF, json=body)
        assert r.status_code == 200, r.text
        return r.json()

    patch(status="triaged", owner="李工", category="elevator", note="转工程部")
    assert patch(contacted={"how": "phone"})["responded_at"]
    patch(status="in_progress")
    patch(status="resolved", note="更换了门机板")
    reopened = patch(status="followed_up", satisfied=False, note="业主说还有异响")
    assert reopened["status"] == "followed_up"
    assert db_client.patch(path, headers=STAFF, json={"status": "closed"}).status_code == 409
    patch(status="in_progress")
    patch(status="resolved")
    patch(status="followed_up", satisfied=True)
    final = patch(status="closed")
    assert final["status"] == "closed" and final["closed_at"]
    moves = [(e["from_status"], e["to_status"]) for e in final["events"] if e["kind"] == "status"]
    assert moves == [("received", "triaged"), ("triaged", "in_progress"), ("in_progress", "resolved"),
                     ("resolved", "followed_up"), ("followed_up", "in_progress"), ("in_progress", "resolved"),
                     ("resolved", "followed_up"), ("followed_up", "closed")]
    assert all(e["actor"] == "tester" for e in final["events"][1:])
    assert final["events"][0]["kind"] == "created" and final["responded_at"]
    assert final["transitions"] == []


@pytest.mark.parametrize("start", list(TRANSITIONS))
def test_every_forbidden_transition_is_409_and_changes_nothing(db_client, start):
    entry_id = submit(db_client).json()["id"]
    path = f"/api/improvement-log/{entry_id}"
    route = {"received": [], "triaged": ["triaged"], "in_progress": ["triaged", "in_progress"],
             "resolved": ["triaged", "in_progress", "resolved"],
             "followed_up": ["triaged", "in_progress", "resolved", "followed_up"],
             "closed": ["triaged", "in_progress", "resolved", "followed_up", "closed"]}[start]
    for status in route:
        assert db_client.patch(path, headers=STAFF, json={"status": status, "owner": "李工"}).status_code == 200
    before = db_client.get(path, headers=STAFF).json()
    for target in TRANSITIONS:
        if target in TRANSITIONS[start]:
            continue
        r = db_client.patch(path, headers=STAFF, json={"status": target, "note": "不该记下"})
        assert r.status_code == 409, (start, target)
        assert r.json()["error"] and r.json()["allowed"] == sorted(TRANSITIONS[start])
    assert db_client.get(path, headers=STAFF).json() == before


def test_actions_and_publication(db_client):
    entry_id = submit(db_client).json()["id"]
    path = f"/api/improvement-log/{entry_id}"
    r = db_client.patch(path, headers=STAFF, json={"action": {
        "what": "电梯故障话术补充预计修复时间", "kind": "script", "target": "emergency.elevator-entrapment",
        "owner": "内容组", "due": "2026-12-31", "public": True}})
    assert r.status_code == 200, r.text
    action = r.json()["actions"][0]
    assert action["done"] is False and action["due"] == "2026-12-31"
    r = db_client.patch(path, headers=STAFF, json={"action_done": {"id": action["id"], "pr_url": "https://git.example/kb/pull/42"},
                                                  "publish": "电梯维修通知现在会写明预计修复时间"})
    body = r.json()
    assert body["actions"][0]["done"] and body["actions"][0]["pr_url"].endswith("/42")
    assert body["public_summary"] == "电梯维修通知现在会写明预计修复时间"
    assert [e["kind"] for e in body["events"]][-2:] == ["publish", "action_done"]
    again = db_client.patch(path, headers=STAFF, json={"action_done": {"id": action["id"]}})
    assert again.status_code == 409


@pytest.mark.parametrize("body, field", [
    ({}, "status"), ({"status": "archived"}, "status"), ({"owner": ""}, "owner"),
    ({"satisfied": True}, "satisfied"), ({"action": {"what": "x"}}, "action.kind"),
    ({"action": {"what": "x", "kind": "page", "owner": "a", "due": "明年"}}, "action.due"),
    ({"action": {"what": "x", "kind": "page", "owner": "a", "pr_url": "javascript:alert(1)"}}, "action.pr_url"),
    ({"action_done": {"id": "1"}}, "action_done"), ({"action_done": {"id": 999}}, "action_done.id"),
    ({"category": "weather"}, "category"), ({"colour": "red"}, "colour"),
])
def test_bad_patches_are_422(db_client, body, field):
    entry_id = submit(db_client).json()["id"]
    r = db_client.patch(f"/api/improvement-log/{entry_id}", headers=STAFF, json=body)
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["errors"]]


def test_unknown_entry_is_404(db_client):
    for path in ("/api/improvement-log/999", "/api/improvement-log/abc"):
        assert db_client.get(path, headers=STAFF).status_code == 404
    assert db_client.patch("/api/improvement-log/999", headers=STAFF, json={"status": "triaged"}).status_code == 404


def test_staff_intake_with_complaint_record(db_client):
    r = db_client.post("/api/improvement-log", headers=STAFF, json={
        "type": "complaint", "content": "楼上装修噪音，晚上十点还在施工", "category": "noise", "location": "2栋",
        "record": {"occurred_at": "2026-11-20 22:10", "place": "2栋1单元", "emotion": "angry",
                   "cause": "装修队不了解施工时间规定", "proposed": "今天内上门告知施工时间"}})
    assert r.status_code == 201, r.text
    entry = db_client.get(f"/api/improvement-log/{r.json()['id']}", headers=STAFF).json()
    assert entry["source"] == "staff" and entry["record"]["emotion"] == "angry"
    assert entry["record"]["occurred_at"] == "2026-11-20T22:10"
    assert entry["events"][0]["actor"] == "tester"
    bad = db_client.post("/api/improvement-log", headers=STAFF, json={
        "type": "complaint", "content": "x", "record": {"emotion": "furious"}})
    assert bad.status_code == 422
    assert db_client.post("/api/improvement-log", json={"type": "complaint", "content": "x"}).status_code == 401
    # residents cannot send a staff record through the public form
    assert submit(db_client, {"type": "complaint", "content": "x", "record": {"cause": "y"}}).status_code == 422


def test_zero_result_searches_become_content_gaps(db_client):
    for q in ("qqzzxxkkvv", "qqzzxxkkvv", "停水"):
        assert db_client.get("/api/search", params={"q": q}).status_code == 200
    gaps = db_client.get("/api/improvement-log/gaps", headers=STAFF).json()["gaps"]
    assert gaps[0]["query"] == "qqzzxxkkvv" and gaps[0]["count"] == 2
    assert "停水" not in [g["query"] for g in gaps]


# -- store --------------------------------------------------------------------------------------

@pytest.mark.fresh_schema
def test_migrated_schema_matches_declared_tables(database_url):
    engine = db.connect(database_url)
    again = db.connect(database_url)          # a second start finds nothing to migrate
    try:
        assert db.migrate(again) == [] and db.schema_version(engine) == db.MIGRATIONS[-1][0]
        inspector = sa.inspect(engine)
        for table in db.metadata.sorted_tables:
            assert {c["name"] for c in inspector.get_columns(table.name)} == set(table.c.keys())
    finally:
        engine.dispose()
        again.dispose()


def test_sqlite_pragmas(tmp_path):
    engine = db.connect(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2   # FULL
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(db.events.insert().values(entry_id=12345, at=utcnow(), actor="x", kind="note"))
    engine.dispose()


def test_unusable_database_url_is_a_usage_error(tmp_path):
    from kb_service.errors import UsageError

    for url in ("mysql://x@localhost/db", "sqlite://", "nonsense"):
        with pytest.raises(UsageError):
            db.connect(url)
    with pytest.raises(UsageError, match="无法连接数据库"):
        db.connect("postgresql+psycopg://nobody@127.0.0.1:1/none")


def test_purge_removes_personal_data_only_from_old_entries(db_client):
    store: Store = services(db_client).store
    from kb_service.feedback.forms import parse_submission

    old, _ = store.submit(parse_submission(COMPLAINT, store.config), now=utcnow() - dt.timedelta(days=200))
    new = submit(db_client).json()
    counts = store.purge(utcnow() - dt.timedelta(days=183))
    assert counts == {"entries": 1, "names": 1, "phones": 1, "locations": 1, "kept_claims": 0, "texts": 0, "gaps": 0}
    purged = db_client.get(f"/api/improvement-log/{old['id']}", headers=STAFF).json()
    kept = db_client.get(f"/api/improvement-log/{new['id']}", headers=STAFF).json()
    assert purged["contact_phone"] is None and purged["location"] is None and purged["purged"]
    assert purged["content"] == COMPLAINT["content"] and purged["events"][-1]["kind"] == "purge"
    assert kept["contact_phone"] == "13812345678"
    assert store.purge(utcnow() - dt.timedelta(days=183))["entries"] == 0


def test_purge_keeps_contact_details_of_claims_while_open_and_for_the_limitation_period(db_client):
    store: Store = services(db_client).store
    from kb_service.feedback.forms import parse_submission

    corpus = services(db_client).corpus
    limit = corpus.feedback.claim_retention          # from standards.yaml, never typed here
    long_ago = limit.before(utcnow()) - dt.timedelta(days=30)
    made = {}
    for name in ("plain", "open_claim", "recent_claim", "old_claim"):
        made[name], _ = store.submit(parse_submission(COMPLAINT, store.config), now=long_ago - dt.timedelta(days=400))
    for name in ("open_claim", "recent_claim", "old_claim"):
        patched = db_client.patch(f"/api/improvement-log/{made[name]['id']}", json={"claim": True}, headers=STAFF)
        assert patched.status_code == 200 and patched.json()["claim"] is True
    with store.engine.begin() as conn:   # closed recently / closed before the limitation period
        conn.execute(db.entries.update().where(db.entries.c.id == made["recent_claim"]["id"])
                     .values(status="closed", closed_at=utcnow() - dt.timedelta(days=10)))
        conn.execute(db.entries.update().where(db.entries.c.id == made["old_claim"]["id"])
                     .values(status="closed", closed_at=long_ago))
    counts = store.purge(utcnow() - dt.timedelta(days=183), claims_closed_before=limit.before(utcnow()))
    assert counts["entries"] == 2 and counts["kept_claims"] == 2
    phone = {n: db_client.get(f"/api/improvement-log/{e['id']}", headers=STAFF).json()["contact_phone"]
             for n, e in made.items()}
    assert phone == {"plain": None, "open_claim": "13812345678", "recent_claim": "13812345678", "old_claim": None}
    bad = db_client.patch(f"/api/improvement-log/{made['plain']['id']}", json={"claim": "yes"}, headers=STAFF)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "claim"


def test_kb_purge_command(built_project, tmp_path):
    from conftest import kb
    from kb_service.build import load_content
    from kb_service.feedback.forms import parse_submission
    from kb_service.settings import Settings

    url = f"sqlite:///{tmp_path / 'kb.sqlite3'}"
    env = {"KB_PROJECT_DIR": str(built_project), "KB_DATA_DIR": str(built_project / "var"), "KB_DATABASE_URL": url}
    corpus = load_content(Settings.from_env(env))
    engine = db.connect(url)
    store = Store(engine, corpus.feedback)
    for days in (400, 200, 10):
        store.submit(parse_submission(COMPLAINT, store.config), now=utcnow() - dt.timedelta(days=days))
    dry = kb("purge", "--dry-run", env=env)
    assert dry.returncode == 0 and "2 条反馈" in dry.stdout and "将删除" in dry.stdout
    assert store.list()[1][0]["contact_phone"] is not None
    too_short = kb("purge", env={**env, "KB_RETENTION_MONTHS": "3"})
    assert too_short.returncode == 2 and corpus.feedback.retention.text in too_short.stderr
    done = kb("purge", env={**env, "KB_RETENTION_MONTHS": "12"})
    assert done.returncode == 0 and "1 条反馈" in done.stdout and "电话 1 个" in done.stdout
    done = kb("purge", env=env)
    assert "1 条反馈" in done.stdout
    phones = [e["contact_phone"] for e in store.list(limit=10)[1]]
    assert phones == ["138****5678", None, None]
    engine.dispose()


@pytest.mark.fresh_schema
def test_a_failing_database_logs_no_personal_data(app_settings, caplog):
    from starlette.testclient import TestClient

    from kb_service.web.app import create_app

    with TestClient(create_app(app_settings), raise_server_exceptions=False) as client:
        engine = sa.create_engine(app_settings.database_url)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE events"))      # every insert of an entry now fails
        engine.dispose()
        with caplog.at_level("DEBUG"):
            r = submit(client, {**COMPLAINT, "contact_phone": "13987654321", "contact_name": "钱多多"})
    assert r.status_code == 500 and "稍后重试" in r.json()["error"]
    assert "unhandled error" in caplog.text
    for secret in ("13987654321", "钱多多", "3栋2单元"):
        assert secret not in caplog.text


def test_concurrent_transitions_on_one_entry_apply_once(db_client):
    entry_id = submit(db_client).json()["id"]
    path = f"/api/improvement-log/{entry_id}"
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: db_client.patch(path, headers=STAFF, json={"status": "triaged"}).status_code,
                              range(8)))
    assert sorted(codes) == [200] + [409] * 7
    events = db_client.get(path, headers=STAFF).json()["events"]
    assert [e["to_status"] for e in events if e["kind"] == "status"] == ["triaged"]

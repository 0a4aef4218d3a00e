"""The desk's day in the two-community set-up (binjiang, yangguang), on SQLite and PostgreSQL, with a
company-wide and a community-bound account: recording a call with its community and repair tier
(API and /staff/intake), one answer for promises and overdue in the list, the dashboard and the CSV,
calendar months, and what the staff pages offer whom."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from starlette.testclient import TestClient

from kb_service.content.load import load_corpus
from kb_service.feedback import communities
from kb_service.feedback import deadlines, insights, reports
from kb_service.times import BEIJING, utcnow
from kb_service.staff import accounts

from conftest import STAFF, STAFF_TOKEN

NOW = utcnow().replace(microsecond=0)
MINUTE = dt.timedelta(minutes=1)
BINJIANG, YANGGUANG = "binjiang", "yangguang"


@pytest.fixture(scope="module")
def corpus(multi_project):
    c = load_corpus(multi_project / "snippets")[0]
    assert {BINJIANG, YANGGUANG} <= set(c.communities)
    return c


@pytest.fixture
def app(multi_app):
    return multi_app


def bearer(secret: str) -> dict:
    return {"authorization": f"Bearer {secret}"}


@pytest.fixture
def people(app):
    """小刘 (agent, binjiang), 老周 (supervisor, binjiang), 小王 (agent, company-wide)."""
    engine = app.app.state.services.store.engine
    return {"liu": accounts.add(engine, "小刘", "agent", community=BINJIANG),
            "zhou": accounts.add(engine, "老周", "supervisor", community=BINJIANG),
            "wang": accounts.add(engine, "小王", "agent")}


def call(**extra) -> dict:
    return {"type": "repair", "content": "厨房水管爆了，水往外喷", "consent": False,
            "record": {"place": "3栋1单元", "proposed": "马上派维修工"}, **extra}


# -- recording a call ------------------------------------------------------------------------------

def test_a_bound_account_records_without_naming_its_community(app, people):
    r = app.post("/api/improvement-log", json=call(tier="urgent"), headers=bearer(people["liu"]))
    assert r.status_code == 201, r.text
    assert r.json()["community"] == BINJIANG and re.fullmatch(r"FB\d{8}-[A-Z2-9]{5}", r.json()["reference"])
    refused = app.post("/api/improvement-log", json=call(community=YANGGUANG), headers=bearer(people["liu"]))
    assert refused.status_code == 403 and BINJIANG in refused.json()["error"]


def test_a_company_wide_account_names_the_community(app, people):
    missing = app.post("/api/improvement-log", json=call(), headers=bearer(people["wang"]))
    assert missing.status_code == 422 and "小区" in missing.text
    r = app.post("/api/improvement-log", json=call(community=YANGGUANG), headers=bearer(people["wang"]))
    assert r.status_code == 201 and r.json()["community"] == YANGGUANG


def test_the_panel_learns_the_communities_and_the_accounts_own(app, people):
    body = app.get("/api/lookup").json()
    assert [c["id"] for c in body["communities"]] == [BINJIANG, YANGGUANG]
    assert body["record"]["prefill"]["repair.urgent"]["tier"] == "urgent"
    assert body["record"]["prefill"]["repair.intake"]["tier"] == "ordinary"
    repair = next(t for t in body["record"]["types"] if t["id"] == "repair")
    assert {t["id"]: t["text"] for t in repair["tiers"]}["urgent"] == "30分钟"
    for who, own in (("liu", BINJIANG), ("wang", None)):
        with TestClient(app.app) as c:
            assert c.post("/staff/login", data={"token": people[who]}, follow_redirects=False).status_code == 303
            assert c.get("/api/staff/session").json()["community"] == own


def test_an_urgent_repair_gets_its_tiers_deadline(app, people, corpus):
    """The urgent tier's own on-site time (30 minutes in the shipped standards), not the ordinary one."""
    tiers = corpus.feedback.types["repair"].tiers
    entry = app.post("/api/improvement-log", json=call(tier="urgent"), headers=bearer(people["liu"])).json()
    created, due = (dt.datetime.fromisoformat(entry[k].replace("Z", "")) for k in ("created_at", "respond_by"))
    assert due == tiers["urgent"].deadline(created)
    ordinary = app.post("/api/improvement-log", json=call(), headers=bearer(people["liu"])).json()
    created, due = (dt.datetime.fromisoformat(ordinary[k].replace("Z", "")) for k in ("created_at", "respond_by"))
    assert due == tiers["ordinary"].deadline(created) and tiers["ordinary"].deadline(created) != tiers["urgent"].deadline(created)


def login(app, secret: str) -> str:
    """Sign in through the form; the CSRF token of the session."""
    assert app.post("/staff/login", data={"token": secret}, follow_redirects=False).status_code == 303
    return re.search(r'name="csrf" value="([^"]+)"', app.get("/staff/intake").text).group(1)


def test_intake_page_carries_community_and_tier(people, app):
    with TestClient(app.app) as c:
        csrf = login(c, people["liu"])
        html_page = c.get("/staff/intake").text
        select = re.search(r'<select name="community".*?</select>', html_page, re.S).group(0)
        assert re.findall(r'<option value="(\w*)"', select) == [BINJIANG] and "selected" in select
        tiers = re.search(r'<select name="tier">.*?</select>', html_page, re.S).group(0)
        assert re.findall(r'<option value="(\w*)"', tiers) == ["", "emergency", "urgent", "ordinary"]
        assert "30分钟内上门" in tiers
        # the form posts no community for a bound account: the server fills it in
        r = c.post("/staff/intake", data={"csrf": csrf, "type": "repair", "tier": "urgent", "content": "电梯停运",
                                          "idempotency_key": "intake-liu-1"}, follow_redirects=False)
        assert r.status_code == 303, r.text
        entry = app.get(r.headers["location"].split("?")[0].replace("/staff/entries/", "/api/improvement-log/"),
                        headers=STAFF).json()
        assert (entry["community"], entry["tier"]) == (BINJIANG, "urgent")
        # a tier on a complaint is dropped, not an error
        r = c.post("/staff/intake", data={"csrf": csrf, "type": "complaint", "tier": "urgent", "content": "保安态度差",
                                          "idempotency_key": "intake-liu-2"}, follow_redirects=False)
        assert r.status_code == 303
    with TestClient(app.app) as c:
        login(c, people["wang"])
        page = c.get(f"/staff/intake?community={YANGGUANG}").text
        select = re.search(r'<select name="community".*?</select>', page, re.S).group(0)
        assert re.findall(r'<option value="(\w*)"', select) == ["", BINJIANG, YANGGUANG]
        assert re.search(rf'<option value="{YANGGUANG}" selected>', select)
        assert "<option value=\"\">请选择小区" in c.get("/staff/intake").text


def test_nav_and_login_page(app, people):
    assert "KB_STAFF_TOKENS" not in app.get("/staff/login").text
    with TestClient(app.app) as c:
        login(c, people["liu"])
        page = c.get("/staff/entries/").text
        assert 'href="/staff/dashboard"' not in page and 'href="/staff/gaps"' not in page
        assert c.get("/staff/dashboard").status_code == 403
    with TestClient(app.app) as c:
        login(c, people["zhou"])
        assert 'href="/staff/dashboard"' in c.get("/staff/entries/").text


# -- one answer for promises and overdue -------------------------------------------------------------

def put(store, corpus, community, at, *, type="repair", tier=None, content="测试"):
    data = {"type": type, "content": content, "community": community}
    if tier:
        data["tier"] = tier
    entry, _ = store.submit(communities.parse(data, corpus, source="staff"), now=at)
    return entry["id"]


def contact(store, entry_id, at):
    store.update(entry_id, {"status": "triaged", "owner": "tester"}, actor="tester", now=at)
    store.update(entry_id, {"contacted": {"how": "phone", "at": (at + BEIJING).strftime("%Y-%m-%dT%H:%M")}},
                 actor="tester", now=at)


@pytest.fixture
def scene(app, corpus):
    """binjiang: an urgent repair 40 minutes old (past its 30 minutes), an ordinary one 40 minutes old
    (within its 2 hours), an emergency 20 minutes old (past 15), a complaint 3 days old never answered
    (past both deadlines), a complaint answered but not resolved for 10 days (past the result one);
    yangguang: an ordinary repair 3 hours old."""
    store = app.app.state.services.store
    ids = {
        "urgent": put(store, corpus, BINJIANG, NOW - 40 * MINUTE, tier="urgent"),
        "ordinary": put(store, corpus, BINJIANG, NOW - 40 * MINUTE, tier="ordinary"),
        "emergency": put(store, corpus, BINJIANG, NOW - 20 * MINUTE, tier="emergency"),
        "silent": put(store, corpus, BINJIANG, NOW - dt.timedelta(days=3), type="complaint"),
        "slow": put(store, corpus, BINJIANG, NOW - dt.timedelta(days=10), type="complaint"),
        "yang": put(store, corpus, YANGGUANG, NOW - dt.timedelta(hours=3)),
    }
    contact(store, ids["slow"], NOW - dt.timedelta(days=10) + MINUTE)
    return ids


def listed(app, query: str, headers=STAFF) -> set[int]:
    return {e["id"] for e in app.get(f"/api/improvement-log?limit=1000&{query}", headers=headers).json()["entries"]}


def csv_rows(app, query: str = "", headers=STAFF) -> list[dict]:
    text = app.get(f"/api/improvement-log/export.csv?{query}", headers=headers).content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_list_dashboard_promises_and_csv_agree(app, corpus, scene):
    store = app.app.state.services.store
    response = listed(app, "overdue=response")
    result = listed(app, "overdue=result")
    either = listed(app, "overdue=true")
    assert response == {scene["urgent"], scene["emergency"], scene["silent"], scene["yang"]}
    assert result == {scene["silent"], scene["slow"]}
    assert either == response | result and scene["ordinary"] not in either
    assert listed(app, "overdue=false") & either == set()

    d = reports.dashboard(store, now=utcnow())
    assert d["overdue_open"] == len(either)
    assert d["overdue_by_measure"] == {"response": len(response), "result": len(result)}
    p = insights.promises(store, window=insights.window(30, utcnow()))
    assert p["overdue_now"] == {"response": len(response), "result": len(result)}
    tiers = {t["id"]: t for t in p["tiers"]}
    repair = corpus.feedback.types["repair"]
    # each entry against its own tier; a row for the 30-minute tier
    assert tiers[repair.tiers["urgent"].id]["overdue_now"] == [scene["urgent"]]
    assert tiers[repair.tiers["emergency"].id]["overdue_now"] == [scene["emergency"]]
    assert set(tiers[repair.tiers["ordinary"].id]["pending"]) >= {scene["ordinary"]}
    assert scene["urgent"] not in tiers[repair.tiers["ordinary"].id]["late"] + tiers[repair.tiers["ordinary"].id]["pending"]
    assert tiers[repair.tiers["urgent"].id]["label"] == "紧急报修上门（30分钟）"

    rows = csv_rows(app)
    late = {r["编号"]: r["超时"] for r in rows}
    assert sum("超答复时限" in v for v in late.values()) == len(response)
    assert sum("超处理时限" in v for v in late.values()) == len(result)
    assert sum(bool(v) for v in late.values()) == len(either)
    assert {r["小区"] for r in rows} == {corpus.communities[BINJIANG].label, corpus.communities[YANGGUANG].label}

    # the staff pages show the same figures
    with TestClient(app.app) as c:
        c.post("/staff/login", data={"token": STAFF_TOKEN})
        html = c.get("/staff/dashboard").text
        assert re.search(rf'id="overdue-open">{len(either)}<', html)
        assert re.search(rf'id="overdue-response">{len(response)}<', html)
        assert re.search(rf'id="overdue-result">{len(result)}<', html)
        listing = c.get("/staff/entries/?overdue=response").text
        assert listing.count('data-late="response"') == len(response)


def test_a_bound_supervisor_sees_the_same_figures_for_its_community(app, corpus, people, scene):
    zhou = bearer(people["zhou"])
    response, result = listed(app, "overdue=response", zhou), listed(app, "overdue=result", zhou)
    assert scene["yang"] not in response and response == {scene["urgent"], scene["emergency"], scene["silent"]}
    stats = app.get("/api/improvement-log/stats", headers=zhou).json()
    assert stats["overdue_by_measure"] == {"response": len(response), "result": len(result)}
    rows = csv_rows(app, headers=zhou)
    assert {r["小区"] for r in rows} == {corpus.communities[BINJIANG].label}
    with TestClient(app.app) as c:
        login(c, people["zhou"])
        html = c.get("/staff/dashboard").text
        assert re.search(rf'id="overdue-response">{len(response)}<', html)
        urgent_row = re.search(r'<tr data-tier="repair.urgent-arrival">(.*?)</tr>', html, re.S).group(1)
        assert re.search(r'class="kb-overdue-now"><a class="kb-overdue" href="/staff/entries/\?ids=\d+">1</a>', urgent_row)


def test_calendar_months_beside_rolling_windows(app, corpus):
    store = app.app.state.services.store
    now = utcnow()
    this_month = insights.month_start(now)
    last_month = insights.month_start(now, 1)
    a = put(store, corpus, BINJIANG, this_month + MINUTE, type="complaint")
    b = put(store, corpus, BINJIANG, last_month + MINUTE, type="complaint")
    c = put(store, corpus, BINJIANG, this_month - MINUTE, type="complaint")      # last minute of last month
    complaint = corpus.feedback.types["complaint"].response.id

    def ids(period):
        t = next(t for t in insights.promises(store, window=insights.window(period, now))["tiers"] if t["id"] == complaint)
        return set(t["met"] + t["late"] + t["pending"])
    assert ids("month") == {a}
    assert ids("last-month") == {b, c}
    assert (this_month + BEIJING).day == 1 and (this_month + BEIJING).hour == 0
    with TestClient(app.app) as client:
        client.post("/staff/login", data={"token": STAFF_TOKEN})
        page = client.get("/staff/dashboard?days=last-month").text
        assert '<option value="last-month" selected>上月</option>' in page and "上月提交的反馈" in page
        assert '<option value="month">本月</option>' in page


def test_deadlines_late_now_is_the_sql_filter(app, corpus, scene):
    """The Python predicate and the SQL one used by the list are the same rule."""
    store = app.app.state.services.store
    now = utcnow()
    total, rows = store.list(limit=1000, now=now)
    for measure in deadlines.MEASURES:
        _, filtered = store.list(overdue=measure, limit=1000, now=now)
        assert {r["id"] for r in filtered} == {r["id"] for r in rows if measure in r["overdue_kinds"]}


def test_intake_presets_the_community_from_the_callers_history(app, people):
    first = app.post("/api/improvement-log", json=call(community=YANGGUANG, consent=True, contact_phone="13700002222"),
                     headers=bearer(people["wang"]))
    assert first.status_code == 201
    with TestClient(app.app) as c:
        csrf = login(c, people["wang"])
        r = c.post("/staff/intake", data={"csrf": csrf, "type": "complaint", "content": "又漏水了", "consent": "on",
                                          "contact_phone": "137 0000 2222", "idempotency_key": "intake-wang-1"})
        assert r.status_code == 422
        assert re.search(rf'<option value="{YANGGUANG}" selected>', r.text) and "上次来电预选" in r.text

"""The record panel's API on SQLite and PostgreSQL: script id and repair tier on staff intake,
the staff session cookie with a CSRF header, caller history by phone with the repeat window."""

from __future__ import annotations

import datetime as dt

import pytest
from ruamel.yaml import YAML

from tests.conftest import ROOT, STAFF

yaml = YAML(typ="safe", pure=True)
FEEDBACK = yaml.load((ROOT / "snippets/feedback.yaml").read_text(encoding="utf-8"))
STANDARDS = {s["id"]: s for s in yaml.load((ROOT / "snippets/standards.yaml").read_text(encoding="utf-8"))["standards"]}
LOOKUP = yaml.load((ROOT / "snippets/lookup.yaml").read_text(encoding="utf-8"))


def duration(sid: str) -> dt.timedelta:
    s = STANDARDS[sid]
    return dt.timedelta(**{f"{s['unit']}s": s["duration"]})


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def intake(client, headers=STAFF, **body):
    return client.post("/api/improvement-log", json={"type": "complaint", "content": "楼道灯坏了一周", **body},
                       headers=headers)


def test_staff_intake_keeps_the_script_used(db_client):
    r = intake(db_client, script_id="complaint.cleaning", category="cleaning",
               record={"place": "3号楼", "emotion": "unhappy", "cause": "保洁漏扫", "proposed": "今天补扫"})
    assert r.status_code == 201, r.text
    entry = db_client.get(f"/api/improvement-log/{r.json()['id']}", headers=STAFF).json()
    assert entry["script_id"] == "complaint.cleaning" and entry["record"]["place"] == "3号楼"
    listed = db_client.get("/api/improvement-log", headers=STAFF).json()["entries"][0]
    assert listed["script_id"] == "complaint.cleaning"
    bad = intake(db_client, script_id="complaint.no-such-script")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "script_id"


def test_repair_tiers_set_the_on_site_deadline(db_client):
    tiers = FEEDBACK["types"]["repair"]["tiers"]
    for tier, sid in tiers.items():
        e = intake(db_client, type="repair", tier=tier, category="repair", content="厨房水管爆了").json()
        assert e["type"] == "repair" and e["tier"] == tier
        assert at(e["respond_by"]) - at(e["created_at"]) == duration(sid)
    plain = intake(db_client, type="repair", content="门把手松了").json()
    assert at(plain["respond_by"]) - at(plain["created_at"]) == duration(FEEDBACK["types"]["repair"]["response"])
    wrong = intake(db_client, tier="urgent")
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "tier"
    unknown = intake(db_client, type="repair", tier="whenever")
    assert unknown.status_code == 422 and "档位" in unknown.json()["errors"][0]["message"]


def test_session_cookie_works_for_the_api_with_a_csrf_header(db_client):
    assert db_client.get("/api/staff/session").status_code == 401
    r = db_client.post("/staff/login", data={"token": "test-staff-token-0001"}, follow_redirects=False)
    assert r.status_code == 303
    sess = db_client.get("/api/staff/session").json()
    assert sess["name"] == "tester" and sess["csrf"]
    assert db_client.get("/api/improvement-log").status_code == 200      # reading: the cookie is enough
    no_csrf = intake(db_client, headers={})
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.json()["error"]
    wrong = intake(db_client, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    ok = intake(db_client, headers={"X-CSRF-Token": sess["csrf"]})
    assert ok.status_code == 201
    entry = db_client.get(f"/api/improvement-log/{ok.json()['id']}").json()
    assert entry["events"][0]["actor"] == "tester"
    foreign = intake(db_client, headers={"X-CSRF-Token": sess["csrf"], "Origin": "http://evil.example"})
    assert foreign.status_code == 403
    # Public writes stay public for a signed-in browser: without the header the cookie is ignored.
    template = db_client.get("/api/templates").json()["templates"][0]["id"]
    filled = db_client.post(f"/api/templates/{template}/render", json={"fields": {}})
    assert filled.status_code in (200, 422), filled.text
    assert "CSRF" not in filled.text


def test_caller_history_by_phone_in_any_format(db_client, caplog):
    window = LOOKUP["repeat"]["window_days"]
    first = intake(db_client, category="noise", content="楼上装修吵", consent=True, contact_phone="13812345678").json()
    intake(db_client, category="parking", content="车位被占", consent=True, contact_phone="+86 138 1234 5678")
    intake(db_client, category="noise", content="别人家的事", consent=True, contact_phone="13912345678")
    for typed in ("138-1234-5678", "138 1234 5678", "+8613812345678", "13812345678"):
        body = db_client.get("/api/improvement-log", params={"phone": typed}, headers=STAFF).json()
        assert body["total"] == 2, typed
        assert {e["category"] for e in body["entries"]} == {"noise", "parking"}
        assert all("****" in e["contact_phone"] for e in body["entries"])
        assert body["repeat"]["window_days"] == window
        assert set(body["repeat"]["categories"]) == {"noise", "parking"}
        assert body["repeat"]["script"]["id"] == LOOKUP["repeat"]["script"]
    assert first["reference"] in [e["reference"] for e in body["entries"]]
    assert "13812345678" not in caplog.text and "5678" not in caplog.text
    assert db_client.get("/api/improvement-log", params={"phone": "12"}, headers=STAFF).status_code == 400
    assert db_client.get("/api/improvement-log", params={"phone": "13812345678"}).status_code == 401
    none = db_client.get("/api/improvement-log", params={"phone": "13700000000"}, headers=STAFF).json()
    assert none["total"] == 0 and none["repeat"]["categories"] == []


def test_lookup_settings_give_the_record_panel_its_choices(client):
    rec = client.get("/api/lookup").json()["record"]
    types = {t["id"]: t for t in rec["types"]}
    assert "repair" in types and "page" not in types
    assert [t["id"] for t in types["repair"]["tiers"]] == list(FEEDBACK["types"]["repair"]["tiers"])
    assert types["complaint"]["response"]["id"] == FEEDBACK["types"]["complaint"]["response"]
    for sid, pre in LOOKUP["record"]["by_script"].items():
        assert {k: v for k, v in pre.items() if v is not None}.items() <= rec["prefill"][sid].items()


@pytest.mark.parametrize("body, field", [
    ({"script_id": 5}, "script_id"),
    ({"script_id": "../etc"}, "script_id"),
    ({"tier": ["urgent"], "type": "repair"}, "tier"),
])
def test_bad_record_fields_are_clear_422s(db_client, body, field):
    r = intake(db_client, **body)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == field

"""Record fixes: numbers typed in free text masked in the list and the CSV."""

from __future__ import annotations

import datetime as dt

import pytest

from kb_service.feedback.forms import mask_text
from tests.conftest import STAFF


@pytest.mark.parametrize("typed, shown", [
    ("电话13812345678", "电话138****5678"),
    ("138-1234-5678 找我", "138****5678 找我"),
    ("打 138 1234 5678", "打 138****5678"),
    ("+8613812345678", "138****5678"),
    ("身份证110101199003074518", "身份证110*************18"),
    ("证件 11010119900307451X 号", "证件 110*************1X 号"),
    ("座机0571-87654321", "座机0571-****4321"),
])
def test_numbers_in_free_text_are_masked(typed, shown):
    assert mask_text(typed) == shown


@pytest.mark.parametrize("kept", ["2026-11-27 9:00-15:00", "金额 1380 元", "3号楼2单元301", "工单 20261127"])
def test_other_numbers_are_left_alone(kept):
    assert mask_text(kept) == kept


def test_list_and_csv_mask_numbers_in_content_and_record(db_client):
    r = db_client.post("/api/improvement-log", headers=STAFF, json={
        "type": "complaint", "content": "业主 138-1234-5678，身份证110101199003074518",
        "record": {"cause": "回电 138 1234 5678"}})
    assert r.status_code == 201
    listed = db_client.get("/api/improvement-log", headers=STAFF).json()["entries"][0]
    assert "1234-5678" not in listed["content"] and "199003074518" not in listed["content"]
    assert "1234 5678" not in listed["record"]["cause"]
    csv = db_client.get("/api/improvement-log/export.csv", headers=STAFF).text
    assert "1234-5678" not in csv and "199003074518" not in csv
    full = db_client.get(f"/api/improvement-log/{r.json()['id']}", headers=STAFF).json()
    assert "138-1234-5678" in full["content"]          # the entry itself keeps what was typed


def new_complaint(client) -> dict:
    r = client.post("/api/improvement-log", headers=STAFF, json={"type": "complaint", "content": "电梯异响"})
    assert r.status_code == 201
    return r.json()


def test_triage_never_leaves_an_entry_without_owner_nor_marks_it_answered(db_client):
    e = new_complaint(db_client)
    triaged = db_client.patch(f"/api/improvement-log/{e['id']}", headers=STAFF, json={"status": "triaged"}).json()
    assert triaged["status"] == "triaged" and triaged["owner"] == "tester"
    assert triaged["responded_at"] is None            # nobody has called the resident yet
    other = new_complaint(db_client)
    named = db_client.patch(f"/api/improvement-log/{other['id']}", headers=STAFF,
                            json={"status": "triaged", "owner": "维修班"}).json()
    assert named["owner"] == "维修班"


def test_contacting_the_resident_meets_the_response_deadline(db_client):
    e = new_complaint(db_client)
    url = f"/api/improvement-log/{e['id']}"
    db_client.patch(url, headers=STAFF, json={"status": "triaged"})
    done = db_client.patch(url, headers=STAFF, json={"contacted": {"how": "phone", "at": ""}}).json()
    assert done["responded_at"] is not None
    assert done["events"][-1]["kind"] == "contacted" and done["events"][-1]["data"]["how"] == "phone"
    first = done["responded_at"]
    again = db_client.patch(url, headers=STAFF, json={"contacted": {"how": "visit"}}).json()
    assert again["responded_at"] == first             # the first contact is the one that counts
    for bad, field in (({"how": "telepathy"}, "contacted.how"), ({"how": "phone", "at": "明天"}, "contacted.at"),
                       ({"how": "phone", "at": "2999-01-01T10:00"}, "contacted.at"), ("phone", "contacted")):
        r = db_client.patch(url, headers=STAFF, json={"contacted": bad})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field


def test_contact_time_is_read_as_beijing_time(db_client):
    e = new_complaint(db_client)
    url = f"/api/improvement-log/{e['id']}"
    # not before the entry existed (privacy branch's rule), so the entry's own minute, typed in Beijing time
    created = dt.datetime.fromisoformat(e["created_at"].removesuffix("Z")).replace(second=0)
    typed = (created + dt.timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M")
    done = db_client.patch(url, headers=STAFF, json={"contacted": {"how": "phone", "at": typed}}).json()
    assert done["responded_at"] == created.isoformat(timespec="seconds") + "Z"
    early = db_client.patch(url, headers=STAFF, json={"contacted": {"how": "phone", "at": "2020-01-02T09:30"}})
    assert early.status_code == 422 and early.json()["errors"][0]["field"] == "contacted.at"


def test_entry_page_assigns_from_the_staff_list_and_records_the_contact(db_client):
    import re

    e = new_complaint(db_client)
    assert db_client.post("/staff/login", data={"token": "test-staff-token-0001"}, follow_redirects=False).status_code == 303
    page = db_client.get(f"/staff/entries/{e['id']}").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert '<select name="owner" required>' in page and "尚未联系业主" in page
    url = f"/staff/entries/{e['id']}"
    missing = db_client.post(url, data={"csrf": csrf, "op": "status", "status": "triaged"}, follow_redirects=False)
    assert missing.status_code == 422 and "负责人" in missing.text
    stranger = db_client.post(url, data={"csrf": csrf, "op": "status", "status": "triaged", "owner": "路人甲"},
                              follow_redirects=False)
    assert stranger.status_code == 422 and "员工名单" in stranger.text
    ok = db_client.post(url, data={"csrf": csrf, "op": "status", "status": "triaged", "owner": "tester"},
                        follow_redirects=False)
    assert ok.status_code == 303
    entry = db_client.get(f"/api/improvement-log/{e['id']}", headers=STAFF).json()
    assert entry["owner"] == "tester" and entry["responded_at"] is None
    done = db_client.post(url, data={"csrf": csrf, "op": "contacted", "how": "phone", "at": ""}, follow_redirects=False)
    assert done.status_code == 303
    assert db_client.get(f"/api/improvement-log/{e['id']}", headers=STAFF).json()["responded_at"]
    assert "已联系业主" in db_client.get(url).text


def test_staff_list_searches_reference_room_and_phone_and_keeps_page_feedback_apart(db_client):
    import re

    a = db_client.post("/api/improvement-log", headers=STAFF, json={
        "type": "complaint", "content": "漏水", "location": "3号楼2单元301", "consent": True,
        "contact_phone": "13812345678"}).json()
    b = db_client.post("/api/improvement-log", headers=STAFF, json={
        "type": "repair", "content": "门坏了", "location": "5号楼101"}).json()
    db_client.post("/api/feedback", json={"type": "page", "page": "/residents/fees/", "helpful": False})
    db_client.post("/staff/login", data={"token": "test-staff-token-0001"}, follow_redirects=False)

    def refs(**params) -> set[str]:
        html = db_client.get("/staff/entries/", params=params).text
        return set(re.findall(r"FB\d{8}-[0-9A-Z]{5}", html))

    everything = refs()
    assert {a["reference"], b["reference"]} <= everything and len(everything) == 2   # no page feedback
    assert len(refs(type="page")) == 1
    assert refs(q=a["reference"].lower()) == {a["reference"]}
    assert refs(q=b["reference"][-5:]) == {b["reference"]}
    assert refs(q="301") == {a["reference"]}
    assert refs(q="5号楼") == {b["reference"]}
    for typed in ("138-1234-5678", "+86 138 1234 5678", "5678"):
        assert refs(q=typed) == {a["reference"]}, typed
    assert refs(q="不存在的东西") == set()

"""Record fixes: numbers typed in free text masked in the list and the CSV."""

from __future__ import annotations

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

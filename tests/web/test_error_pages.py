"""A person's browser that sends a wrong parameter gets a page in the site's words, a program the
JSON error; the pages' parameters go through their declarations (web/api/queries.py)."""

from __future__ import annotations

import pytest

from conftest import STAFF_TOKEN

PAGE = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.mark.parametrize("url, field", [
    ("/residents/status/?ref=FB%00X", "ref"),
    ("/residents/status/?ref=FB20261201-ABCDE&wrong=everything", "wrong"),
    ("/residents/status/?ref=FB20261201-ABCDE&ok=hacked", "ok"),
])
def test_resident_page_parameters_are_declared_and_refused_in_words(db_client, url, field):
    page = db_client.get(url, headers=PAGE)
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    assert "请求有误" in page.text and "返回首页" in page.text and '{"error"' not in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    program = db_client.get(url)
    assert program.status_code == 400 and program.json()["field"] == field


def test_staff_page_parameters_are_declared(db_client):
    db_client.post("/staff/login", data={"token": STAFF_TOKEN}, follow_redirects=False)
    for url, field in (("/staff/dashboard?days=5000", "days"), ("/staff/intake?community=nowhere", "community"),
                       ("/staff/entries/1?ok=%3Cscript%3E", "ok"), ("/staff/notices/?ok=x", "ok"),
                       ("/staff/login?next=%00", "next")):
        page = db_client.get(url, headers=PAGE)      # staff pages answer in the staff look, always
        assert page.status_code == 400 and "kb-message" in page.text, (url, page.text)
        assert f"{field} " in page.text or "控制字符" in page.text, (url, page.text)
        assert "<script>" not in page.text
    assert db_client.get("/staff/dashboard?days=90", headers=PAGE).status_code == 200
    assert db_client.get("/staff/dashboard?days=last-month", headers=PAGE).status_code == 200


def test_an_error_on_a_page_is_a_page_for_a_browser(db_client):
    r = db_client.get("/notices/2147483648/", headers=PAGE)
    assert r.status_code == 404 and "全部公告" in r.text and r.headers["content-type"].startswith("text/html")
    r = db_client.get("/notices/?community=nowhere", headers=PAGE)    # an old bookmark: every notice
    assert r.status_code == 200 and "公告" in r.text
    assert db_client.get("/api/notices/2147483648", headers=PAGE).json()["error"]     # the API: JSON always

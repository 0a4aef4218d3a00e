"""The staff pages in Chromium: log in with a token, find a resident's complaint, work it to closed."""

from __future__ import annotations

import httpx
import pytest

from conftest import STAFF_TOKEN, Server

pytestmark = pytest.mark.browser


@pytest.fixture
def staff_server(built_project, tmp_path):
    srv = Server(built_project, built_project / "var", {
        "KB_STAFF_TOKENS": f"tester:{STAFF_TOKEN}", "KB_DATABASE_URL": f"sqlite:///{tmp_path / 'kb.sqlite3'}"}).wait()
    yield srv
    srv.stop()


def test_staff_work_a_complaint_to_closed_in_the_browser(staff_server, page):
    url = staff_server.url
    entry = httpx.post(url + "/api/feedback", json={
        "type": "complaint", "content": "<b>车库</b>灯坏了一周", "category": "parking",
        "contact_phone": "13812345678", "consent": True}).json()

    page.goto(url + "/staff/entries/")
    assert page.url.startswith(url + "/staff/login")
    page.fill("#token", "wrong-token-123")
    page.click("button[type=submit]")
    assert "令牌不正确" in page.content()
    page.fill("#token", STAFF_TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/staff/entries/")
    row = page.locator(f"a:has-text('{entry['reference']}')")
    assert row.count() == 1
    assert "138****5678" in page.content() and "13812345678" not in page.content()
    assert page.locator("text=<b>车库</b>灯坏了一周").count() == 1      # shown as text, not markup

    row.click()
    page.wait_for_url(f"{url}/staff/entries/{entry['id']}")
    assert "13812345678" in page.content()                             # full number only here
    # assigning is one action with an owner picked from the staff list
    assign = page.locator("form:has(button:has-text('改为“已分派”'))")
    assert assign.locator("select[name=owner] option").all_inner_texts() == ["tester"]
    assign.locator("select[name=owner]").select_option("tester")
    assign.locator("button").click()
    page.wait_for_load_state()
    assert "尚未联系业主" in page.content()
    contacted = page.locator("#kb-contacted")
    contacted.locator("select[name=how]").select_option("phone")
    contacted.locator("button").click()
    page.wait_for_load_state()
    assert "已联系业主" in page.content() and "尚未联系业主" not in page.content()
    for target in ("处理中", "已解决"):
        page.click(f"button:has-text('改为“{target}”')")
        page.wait_for_load_state()
    follow = page.locator("form:has(button:has-text('改为“已回访”'))")
    follow.locator("input[name=satisfied][value=yes]").check()
    follow.locator("button").click()
    page.wait_for_load_state()
    page.click("button:has-text('改为“已关闭”')")
    page.wait_for_load_state()
    assert "此条目已关闭" in page.content()

    stored = httpx.get(f"{url}/api/improvement-log/{entry['id']}",
                       headers={"authorization": f"Bearer {STAFF_TOKEN}"}).json()
    assert stored["status"] == "closed" and stored["owner"] == "tester" and stored["responded_at"]
    assert [e["to_status"] for e in stored["events"] if e["kind"] == "status"] == [
        "triaged", "in_progress", "resolved", "followed_up", "closed"]
    assert all(e["actor"] == "tester" for e in stored["events"][1:])

    page.goto(url + "/staff/dashboard")
    assert page.locator("svg.kb-chart").count() >= 2

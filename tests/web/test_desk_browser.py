"""The desk in Chromium, two communities (binjiang, yangguang): the F2 record panel for a company-wide
account (login round trip, Material's search kept shut, community from the caller's history) and
for 小刘 who is bound to binjiang (community fixed, urgent tier from the script); template filling
published as a notice for its community until the end of the outage; the dashboard's overdue
figures as the list counts them."""

from __future__ import annotations

import datetime as dt
import re

import httpx
import pytest
from playwright.sync_api import expect

from kb_service import db
from kb_service.content.load import load_corpus
from kb_service.feedback import community as communities
from kb_service.feedback.store import Store
from kb_service.times import local_today, utcnow
from kb_service.staff import accounts

from conftest import open_script, sign_in, staff_server

pytestmark = pytest.mark.browser

TOKEN = "desk-company-wide-0001"
BINJIANG, YANGGUANG = "binjiang", "yangguang"


@pytest.fixture(scope="module")
def desk(multi_project, tmp_path_factory):
    srv = staff_server(multi_project, tmp_path_factory.mktemp("desk"), f"前台小王:{TOKEN}")
    engine = db.connect(srv.env["KB_DATABASE_URL"])
    srv.secrets = {"liu": accounts.add(engine, "小刘", "agent", community=BINJIANG),
                   "zhou": accounts.add(engine, "老周", "supervisor", community=BINJIANG)}
    srv.store = Store(engine, load_corpus(multi_project / "snippets")[0].feedback)
    srv.corpus = load_corpus(multi_project / "snippets")[0]
    yield srv
    engine.dispose()
    srv.stop()


def bearer(secret: str) -> dict:
    return {"authorization": f"Bearer {secret}"}


def entry_by_reference(srv, reference: str) -> dict:
    listed = httpx.get(srv.url + "/api/improvement-log?limit=1000", headers=bearer(TOKEN), timeout=10).json()["entries"]
    found = next(e for e in listed if e["reference"] == reference)
    return httpx.get(f"{srv.url}/api/improvement-log/{found['id']}", headers=bearer(TOKEN), timeout=10).json()


def test_company_wide_agent_records_a_call_through_the_login_round_trip(page, desk):
    open_script(page, desk.url, "装修太吵了", "complaint.noise")
    page.keyboard.press("F2")
    panel = page.locator("#kb-call")
    expect(panel).to_be_visible(timeout=5000)
    community = panel.locator("[name=community]")
    options = community.locator("option")
    expect(options).to_have_count(3)                          # 请选择小区, binjiang, yangguang
    assert community.input_value() == ""                      # nothing to go by: the agent chooses
    page.keyboard.type("13900001111")
    page.check("#kb-call [name=consent]")
    page.fill("#kb-call [name=content]", "楼上装修到晚上十点")
    page.locator("#kb-call [name=proposed]").fill("今晚派保安劝停")
    page.locator("#kb-call [name=proposed]").press("Enter")
    expect(page.locator("#kb-call-status")).to_contain_text("请先选择小区")
    community.select_option(YANGGUANG)
    page.locator("#kb-call [name=proposed]").press("Enter")

    # not signed in: to the login page and back to ?q=…#kb-call, where Material's search stays shut
    page.wait_for_url("**/staff/login?next=*", timeout=10000)
    page.fill("#token", TOKEN)
    page.keyboard.press("Enter")
    page.wait_for_url("**/staff/lookup/**", timeout=10000)
    expect(page.locator("#kb-call [name=proposed]")).to_be_focused(timeout=10000)
    assert page.evaluate("document.getElementById('__search').checked") is False
    assert page.locator("#kb-lookup-q").input_value() == "装修太吵了"
    assert page.locator("#kb-call [name=community]").input_value() == YANGGUANG
    page.keyboard.type("，明早回访")
    assert page.locator("input.md-search__input").input_value() == ""
    assert page.locator("#kb-call [name=proposed]").input_value() == "今晚派保安劝停，明早回访"
    page.keyboard.press("Enter")
    reference = page.locator("#kb-call-reference")
    expect(reference).to_have_text(re.compile(r"^FB\d{8}-[A-Z2-9]{5}$"), timeout=10000)
    saved = reference.inner_text()
    entry = entry_by_reference(desk, saved)
    assert entry["community"] == YANGGUANG and entry["record"]["proposed"] == "今晚派保安劝停，明早回访"

    # the same caller again: the community comes from their history
    page.locator("#kb-call [name=cause]").focus()       # the edited field's change event after saving
    assert page.evaluate("sessionStorage.getItem('kb-call-draft')") is None
    open_script(page, desk.url, "装修太吵了", "complaint.noise")
    page.keyboard.press("F2")
    expect(page.locator("#kb-call [name=content]")).to_have_value("")
    page.keyboard.type("139 0000 1111")
    expect(page.locator("#kb-call-history")).to_contain_text(saved, timeout=10000)
    expect(page.locator("#kb-call [name=community]")).to_have_value(YANGGUANG)


def test_bound_agent_records_an_urgent_repair_for_binjiang(page, desk):
    sign_in(page, desk.url, desk.secrets["liu"])
    page.goto(desk.url + "/scripts/repair.urgent/")
    page.locator("#kb-call-open").wait_for(timeout=10000)
    page.keyboard.press("F2")
    panel = page.locator("#kb-call")
    expect(panel).to_be_visible(timeout=5000)
    community = panel.locator("[name=community]")
    expect(community.locator("option")).to_have_count(1, timeout=5000)     # fixed: only the own community
    assert community.input_value() == BINJIANG
    assert panel.locator("[name=type]").input_value() == "repair"
    assert panel.locator("[name=tier]").input_value() == "urgent"
    expect(page.locator("#kb-call-deadlines")).to_contain_text("紧急报修上门：30分钟内")
    page.fill("#kb-call [name=location]", "5栋")
    page.fill("#kb-call [name=content]", "5栋电梯停运，老人下不了楼")
    page.locator("#kb-call [name=proposed]").fill("派维修工和电梯维保")
    page.locator("#kb-call [name=proposed]").press("Enter")
    reference = page.locator("#kb-call-reference")
    expect(reference).to_have_text(re.compile(r"^FB\d{8}-[A-Z2-9]{5}$"), timeout=10000)
    entry = entry_by_reference(desk, reference.inner_text())
    assert (entry["community"], entry["tier"], entry["type"]) == (BINJIANG, "urgent", "repair")
    created, due = (dt.datetime.fromisoformat(entry[k].replace("Z", "")) for k in ("created_at", "respond_by"))
    assert due - created == dt.timedelta(minutes=30)
    # the agent's nav has no 统计
    page.goto(desk.url + "/staff/entries/")
    expect(page.locator(".kb-staff-nav")).to_be_visible()
    expect(page.locator(".kb-staff-nav a[href='/staff/dashboard']")).to_have_count(0)


def test_fill_and_publish_carries_community_and_end_of_outage(page, desk):
    sign_in(page, desk.url, desk.secrets["zhou"], "/staff/notices/")
    page.goto(desk.url + "/staff/fill/?id=notice.water-outage")
    select = page.locator("#kb-fill-community")
    expect(select).to_be_visible(timeout=15000)
    select.select_option(BINJIANG)
    page.locator("#kb-fill-example").click()
    page.locator("#kb-fill-f-area").select_option(index=1)          # a building of binjiang
    page.fill("#kb-fill-f-period", "明天 8:00 至 18:00")
    tomorrow = local_today() + dt.timedelta(days=1)
    expect(page.locator("#kb-fill-parsed-period")).to_contain_text(tomorrow.isoformat(), timeout=10000)
    expect(page.locator("#kb-fill-publish")).to_have_attribute("data-valid-until", f"{tomorrow} 18:00")
    page.locator("#kb-fill-publish").click()
    page.wait_for_url(re.compile(r"/staff/notices/$"))
    expect(page.locator("#kb-notice-community")).to_have_value(BINJIANG)
    expect(page.locator("#kb-notice-valid-until")).to_have_value(f"{tomorrow}T18:00")
    page.locator("#kb-notice-title").fill("滨江花园停水通知（桌面测试）")
    page.locator("#kb-notice-form button[type=submit]").click()
    expect(page.locator(".kb-ok")).to_contain_text("已发布")
    mine = httpx.get(desk.url + f"/api/notices?community={BINJIANG}", timeout=10).json()
    other = httpx.get(desk.url + f"/api/notices?community={YANGGUANG}", timeout=10).json()
    notice = next(n for n in mine["current"] if n["title"] == "滨江花园停水通知（桌面测试）")
    assert notice["community"] == BINJIANG
    assert all(n["title"] != notice["title"] for n in other["current"] + other["archive"])
    # current until the water is back: 18:00 Beijing is 10:00 UTC
    assert notice["valid_until"] == f"{tomorrow}T10:00:00Z"


def test_dashboard_counts_each_entry_against_its_own_tier(page, desk):
    corpus, store = desk.corpus, desk.store
    forty = utcnow() - dt.timedelta(minutes=40)
    sub = communities.parse({"type": "repair", "tier": "urgent", "content": "楼道水管爆裂", "community": BINJIANG},
                            corpus, source="staff")
    urgent, _ = store.submit(sub, now=forty)
    sign_in(page, desk.url, desk.secrets["zhou"], "/staff/dashboard")
    zhou = bearer(desk.secrets["zhou"])
    response = httpx.get(desk.url + "/api/improvement-log?overdue=response&limit=1000", headers=zhou, timeout=10).json()
    result = httpx.get(desk.url + "/api/improvement-log?overdue=result&limit=1000", headers=zhou, timeout=10).json()
    assert urgent["id"] in {e["id"] for e in response["entries"]}
    expect(page.locator("#overdue-response")).to_have_text(str(response["total"]))
    expect(page.locator("#overdue-result")).to_have_text(str(result["total"]))
    row = page.locator("#promises-table tr[data-tier='repair.urgent-arrival']")
    expect(row).to_contain_text("紧急报修上门（30分钟）")
    expect(row.locator(".kb-overdue-now")).to_have_text("1")
    ordinary = page.locator("#promises-table tr[data-tier='repair.arrival'] .kb-overdue-now")
    expect(ordinary).to_have_text("0")
    # the tile leads to the list, which shows the same number
    page.locator("a:has(#overdue-response)").click()
    page.wait_for_url("**overdue=response**")
    expect(page.locator("table.kb-log tbody tr")).to_have_count(response["total"])
    page.goto(desk.url + "/staff/dashboard?days=month")
    expect(page.locator("select[name=days]")).to_have_value("month")
    expect(page.locator("#promises h2")).to_contain_text("本月提交的反馈")

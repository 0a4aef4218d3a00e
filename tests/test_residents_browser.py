"""Residents on a phone (390x844) in Chromium against one real `kb serve`: every resident page fits
the screen, touch targets are 44 px, submit -> check status -> not satisfied -> reopened, the
notice board (publish from the fill page -> visible -> withdraw), and axe-core on the resident and
staff pages (no critical or serious violation). Screenshots go to KB_SCREENSHOTS (default
/tmp/kb-screenshots) for a person to look at."""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from conftest import STAFF, STAFF_TOKEN, Server, fees_page, local_only_page, settle, wants_site_search, with_index

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
SHOTS = Path(os.environ["KB_SCREENSHOTS"]) if os.environ.get("KB_SCREENSHOTS") else None
RESIDENT_PAGES = ["/", "/residents/", "/residents/standards/", "/residents/fees/", "/residents/repair/",
                  "/residents/complaint/", "/residents/feedback/", "/residents/status/", "/residents/changes/",
                  "/notices/"]
STAFF_PAGES = ["/staff/entries/", "/staff/intake", "/staff/dashboard", "/staff/gaps", "/staff/notices/", "/staff/login"]


@pytest.fixture(scope="module")
def srv(built_project, tmp_path_factory):
    data = with_index(built_project, tmp_path_factory.mktemp("residents") / "var")
    server = Server(built_project, data, env={"KB_STAFF_TOKENS": f"tester:{STAFF_TOKEN}", "KB_DATABASE_URL": ""}).wait()
    # one notice and one entry, so the board, a notice page and the staff list have content
    r = httpx.post(server.url + "/api/notices", headers=STAFF, timeout=10, json={
        "title": "5栋电梯维保通知", "body": "12月3日 9:00-11:00 5栋电梯维保，请走楼梯或使用相邻单元电梯。",
        "valid_until": "2099-12-31"})
    assert r.status_code == 201, r.text
    server.notice_url = r.json()["url"]
    yield server
    server.stop()


@pytest.fixture
def phone(browser, request):
    # Playwright's wait_for_function evaluates strings, which the site's CSP refuses; the CSP
    # itself is asserted in tests/test_hardening.py and tests/test_roles_browser.py.
    yield from local_only_page(browser, bypass_csp=True, site_search=wants_site_search(request), **PHONE)


def shot(page, name: str) -> None:
    """A screenshot to look at, when KB_SCREENSHOTS names a folder (make test takes none)."""
    if SHOTS is None:
        return
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def overflow(page) -> int:
    """How far the page scrolls sideways (0 when it fits)."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def login(page, srv, next_path="/staff/entries/"):
    page.goto(srv.url + "/staff/login?next=" + next_path)
    page.fill("#token", STAFF_TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(re.escape(next_path)))


# -- layout ---------------------------------------------------------------------------------------------

def fits_a_phone(page, path: str) -> None:
    """No sideways scroll at 390 px; a screenshot to look at when KB_SCREENSHOTS is set."""
    assert overflow(page) <= 0, f"{path} scrolls sideways by {overflow(page)} px"
    shot(page, "phone" + (path.strip("/").replace("/", "-") or "-home"))


def test_wide_tables_scroll_in_their_own_focusable_box_with_the_first_column_fixed(phone, srv):
    phone.goto(fees_page(srv.url))
    wrap = phone.locator(".md-typeset__scrollwrap").first
    expect(wrap).to_have_attribute("tabindex", "0")
    assert wrap.evaluate("w => w.scrollWidth > w.clientWidth"), "the fee table should be wider than a phone"
    first, second = wrap.locator("td").nth(0), wrap.locator("td").nth(1)
    before = second.bounding_box()["x"]
    wrap.evaluate("w => { w.scrollLeft = 200; }")
    assert second.bounding_box()["x"] < before - 150, "the table scrolled inside its box"
    left = wrap.bounding_box()["x"]
    assert left - 1 <= first.bounding_box()["x"] <= left + 1, "the first column stays at the box's left edge"


def test_touch_targets_are_44px(phone, srv):
    phone.goto(srv.url + "/residents/feedback/")
    small = phone.evaluate("""() => [...document.querySelectorAll(
        '#kb-feedback-form .kb-fb-choice, #kb-feedback-form button, #kb-feedback-form input:not([type=hidden]):not([type=radio]):not([type=checkbox]), #kb-feedback-form select, .md-feedback__icon')]
        .filter(e => e.offsetParent !== null && !e.closest('.kb-fb-hp'))
        .map(e => [e.className || e.name || e.tagName, Math.round(e.getBoundingClientRect().height)])
        .filter(([_, h]) => h < 44)""")
    assert small == [], small
    phone.goto(fees_page(srv.url))
    fields = phone.evaluate("""() => [...document.querySelectorAll('#kb-fee-calculator input, #kb-fee-calculator select')]
        .map(e => Math.round(e.getBoundingClientRect().height))""")
    assert fields and min(fields) >= 44, fields
    # 没有车位 counts no spaces
    phone.locator("select[name=parking]").select_option(index=0)
    expect(phone.locator("input[name=spaces]")).to_have_value("0")


def test_hotline_and_emergency_numbers_are_tappable(phone, srv):
    hotline = httpx.get(srv.url + "/api/templates", timeout=10)  # the service is up
    assert hotline.status_code == 200
    phone.goto(srv.url + "/residents/standards/")
    assert phone.locator("a[href='tel:119']").count() >= 1
    phone.goto(srv.url + "/residents/feedback/")
    assert phone.locator("a[href^='tel:']").count() >= 1
    # the heading after the standards table is a heading, not a table row
    phone.goto(srv.url + "/residents/standards/")
    expect(phone.locator("h3", has_text="从什么时候开始计时")).to_have_count(1)


# -- check my request -----------------------------------------------------------------------------------

def test_submit_check_status_not_satisfied_reopened(phone, srv):
    phone.goto(srv.url + "/residents/feedback/")
    form = phone.locator("#kb-feedback-form")
    expect(form.locator("input[name=idempotency_key]")).not_to_have_value("", timeout=15000)
    form.get_by_label("投诉", exact=True).check()
    form.locator("select[name=category]").select_option(label="维修")
    form.locator("textarea[name=content]").fill("地库B区的灯坏了一周，晚上很黑。")
    form.locator("input[name=contact_phone]").fill("13812345678")
    form.locator("#kb-fb-submit").click()
    # a phone without consent: asked before anything is sent
    ask = phone.locator("#kb-fb-consent-ask")
    expect(ask).to_be_visible()
    expect(ask).to_contain_text("要我们联系您吗")
    shot(phone, "flow-1-consent-question")
    phone.locator("#kb-fb-consent-yes").click()
    reference = phone.locator("#kb-fb-reference")
    expect(reference).to_be_visible(timeout=15000)
    ref, code = reference.inner_text(), phone.locator("#kb-fb-access-code").inner_text()
    expect(phone.locator("#kb-fb-result")).to_contain_text("查询进度")
    expect(phone.locator("#kb-fb-result")).to_contain_text("（周")
    shot(phone, "flow-2-result")
    assert overflow(phone) <= 0
    phone.reload()
    expect(phone.locator("#kb-fb-reference")).to_have_text(ref, timeout=15000)   # kept across a reload

    entry = next(e for e in httpx.get(srv.url + "/api/improvement-log", headers=STAFF, timeout=10).json()["entries"]
                 if e["reference"] == ref)
    assert entry["consent"] is True
    for status in ("triaged", "in_progress", "resolved"):
        r = httpx.patch(srv.url + f"/api/improvement-log/{entry['id']}", json={"status": status}, headers=STAFF, timeout=10)
        assert r.status_code == 200, r.text

    phone.goto(srv.url + "/residents/status/")
    phone.fill("#kb-st-reference", ref)
    phone.fill("#kb-st-code", code)
    phone.locator("#kb-status-form button[type=submit]").click()
    expect(phone.locator("#kb-current-status")).to_have_text("已解决")
    expect(phone.locator("#kb-timeline li")).to_have_count(4)
    assert "13812345678" not in phone.content()
    assert overflow(phone) <= 0
    shot(phone, "flow-3-status")
    phone.fill("#kb-ns-comment", "灯还是不亮")
    phone.locator("#kb-not-satisfied button[type=submit]").click()
    expect(phone.locator("#kb-current-status")).to_have_text("处理中")
    shot(phone, "flow-4-reopened")
    detail = httpx.get(srv.url + f"/api/improvement-log/{entry['id']}", headers=STAFF, timeout=10).json()
    assert detail["status"] == "in_progress"


def test_status_lookup_works_without_javascript(browser, srv):
    r = httpx.post(srv.url + "/api/feedback", json={"type": "suggestion", "content": "希望增加快递柜"}, timeout=10).json()
    for page in local_only_page(browser, java_script_enabled=False, **PHONE):
        page.goto(srv.url + "/residents/status/")
        page.fill("#kb-st-reference", r["reference"])
        page.fill("#kb-st-code", r["access_code"])
        page.locator("#kb-status-form button[type=submit]").click()
        expect(page.locator("#kb-current-status")).to_have_text("已受理")


def test_page_feedback_not_helpful_is_sent_at_once(phone, srv):
    phone.goto(srv.url + "/residents/repair/")
    widget = phone.locator("form.md-feedback")
    expect(widget).to_be_visible(timeout=15000)
    widget.locator("button[data-md-value='0']").click()
    expect(widget.locator(".kb-pf-status")).to_contain_text("已记下", timeout=15000)
    votes = [e for e in httpx.get(srv.url + "/api/improvement-log", params={"type": "page"}, headers=STAFF,
                                  timeout=10).json()["entries"] if e["page"] == "/residents/repair/"]
    assert votes and votes[0]["helpful"] is False and votes[0]["content"] == ""
    widget.locator("textarea.kb-pf-comment").fill("没说清楚周末能不能上门")
    widget.locator(".kb-pf-send").click()
    expect(widget.locator(".kb-pf-status")).to_contain_text("补充说明已发送")
    entry = httpx.get(srv.url + f"/api/improvement-log/{votes[0]['id']}", headers=STAFF, timeout=10).json()
    assert entry["content"] == "没说清楚周末能不能上门"


# -- notices ----------------------------------------------------------------------------------------------

def test_publish_from_fill_page_visible_then_withdrawn(phone, srv):
    login(phone, srv, "/staff/notices/")
    phone.goto(srv.url + "/staff/fill/")
    phone.locator("#kb-fill-filter").fill("停水")
    phone.locator("#kb-fill-list li:not([hidden]) button").first.click()
    phone.locator("#kb-fill-example").click()
    expect(phone.locator("#kb-fill-print-open")).to_be_enabled(timeout=15000)
    phone.locator("#kb-fill-publish").click()
    phone.wait_for_url(re.compile(r"/staff/notices/$"))
    title = phone.locator("#kb-notice-title")
    expect(title).not_to_have_value("")
    expect(phone.locator("#kb-notice-body")).not_to_have_value("")
    title.fill("停水通知（浏览器测试）")
    phone.locator("#kb-notice-form button[type=submit]").click()
    expect(phone.locator(".kb-ok")).to_contain_text("已发布")
    public = phone.locator("#kb-public-url").get_attribute("href")
    shot(phone, "notice-1-staff-published")

    phone.goto(srv.url + "/")
    expect(phone.locator(".kb-home-notices")).to_contain_text("停水通知（浏览器测试）", timeout=15000)
    shot(phone, "notice-2-home")
    phone.goto(srv.url + public)
    expect(phone.locator("#kb-notice-state")).to_have_text("有效")
    assert overflow(phone) <= 0
    shot(phone, "notice-3-public")

    phone.goto(srv.url + "/staff/notices/" + public.strip("/").split("/")[1])
    phone.locator("#kb-withdraw").click()
    expect(phone.locator(".kb-ok")).to_contain_text("已撤回")
    phone.goto(srv.url + "/notices/")
    expect(phone.locator("body")).not_to_contain_text("停水通知（浏览器测试）")
    phone.goto(srv.url + public)
    expect(phone.locator("#kb-notice-state")).to_have_text("已撤回")


# -- accessibility ---------------------------------------------------------------------------------------

def axe_violations(page) -> list[dict]:
    from axe_playwright_python.sync_playwright import Axe

    return Axe().run(page).response["violations"]


MODERATE: dict[str, set[str]] = {}


@pytest.mark.parametrize("path", RESIDENT_PAGES + ["notice", "status-result"] + STAFF_PAGES)
def test_fits_a_phone_and_axe_finds_no_critical_or_serious(phone, srv, path):
    if path in STAFF_PAGES and path != "/staff/login":
        login(phone, srv, path)
    if path == "notice":
        path = srv.notice_url
    if path == "status-result":
        r = httpx.post(srv.url + "/api/feedback", json={"type": "inquiry", "content": "电梯年检什么时候"}, timeout=10).json()
        phone.goto(srv.url + "/residents/status/")
        phone.fill("#kb-st-reference", r["reference"])
        phone.fill("#kb-st-code", r["access_code"])
        phone.locator("#kb-status-form button[type=submit]").click()
        expect(phone.locator("#kb-current-status")).to_be_visible()
    else:
        phone.goto(srv.url + path)
    settle(phone)
    if path not in STAFF_PAGES:
        fits_a_phone(phone, path)  # every resident page, in the same visit as its accessibility check
    violations = axe_violations(phone)
    bad = [(v["id"], v["impact"], len(v["nodes"]), v["nodes"][0]["target"]) for v in violations
           if v["impact"] in ("critical", "serious")]
    for v in violations:
        if v["impact"] not in ("critical", "serious"):
            MODERATE.setdefault(v["id"], set()).add(path)
    if MODERATE:
        print("moderate/minor:", {k: sorted(v) for k, v in MODERATE.items()})
    assert bad == [], bad


@pytest.mark.site_search
def test_site_search_answers_residents_with_resident_pages_first(phone, srv):
    phone.set_viewport_size({"width": 1280, "height": 900})
    phone.goto(srv.url + "/")
    phone.keyboard.press("/")
    box = phone.locator("input.md-search__input")
    box.fill("报修多久上门")
    box.press("End")
    phone.locator(".md-search-result__item").first.wait_for(timeout=15000)
    hrefs = phone.locator("a.md-search-result__link").evaluate_all("els => els.map(a => new URL(a.href).pathname)")
    assert hrefs and hrefs[0].startswith("/residents/"), hrefs[:5]
    assert "/residents/standards/" in hrefs[:3] or "/residents/repair/" in hrefs[:3], hrefs[:5]

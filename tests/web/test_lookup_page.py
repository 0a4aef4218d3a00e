"""话术速查 page (docs/staff/lookup.md + assets/javascripts/lookup.js), driven with the keyboard only."""

from __future__ import annotations

import httpx
import pytest

from conftest import LOOKUP_OPTIONS, lookup_ready

pytestmark = pytest.mark.browser



def option_ids(page) -> list[str]:
    return page.locator(LOOKUP_OPTIONS).evaluate_all("els => els.map(e => e.dataset.id)")


def wait_for_results(page, timeout: float = 10000) -> list[str]:
    page.locator(LOOKUP_OPTIONS).first.wait_for(timeout=timeout)
    return option_ids(page)


def test_colloquial_query_open_script_and_copy_with_keyboard(clipboard_page, server):
    page = clipboard_page
    script_id = "complaint.water-leak-neighbor"
    script = httpx.get(f"{server.url}/api/scripts/{script_id}", timeout=10).json()
    says = [step["say"] for step in script["steps"] if step.get("say")]

    lookup_ready(page, server.url)

    page.keyboard.type("楼上漏水到我家")
    page.wait_for_function(
        f"Array.from(document.querySelectorAll('{LOOKUP_OPTIONS}')).slice(0, 2).some(e => e.dataset.id === '{script_id}')",
        timeout=10000)
    ids = option_ids(page)
    assert script_id in ids[:2], ids
    # the first result is highlighted; move down to ours, then open it
    for _ in range(ids.index(script_id)):
        page.keyboard.press("ArrowDown")
    selected = page.locator(f"{LOOKUP_OPTIONS}[aria-selected=true]")
    assert selected.get_attribute("data-id") == script_id
    assert page.evaluate("document.activeElement.id") == "kb-lookup-q"  # never left the box
    page.keyboard.press("Enter")

    detail = page.locator("#kb-lookup-detail")
    rows = detail.locator(".kb-lookup-say")
    rows.first.wait_for(timeout=10000)
    assert detail.locator("h2").inner_text() == script["title"]
    assert rows.count() == len(says)
    assert [t.strip() for t in detail.locator(".kb-lookup-say .kb-say-text").all_inner_texts()] == says
    assert "不要说" in detail.inner_text() and "打开完整页面" in detail.inner_text()
    # focus went to the first say line
    assert page.evaluate("document.activeElement.dataset.sayIndex") == "0"

    page.keyboard.press("c")
    page.wait_for_function("document.getElementById('kb-lookup-status').textContent.includes('已复制')", timeout=5000)
    assert page.evaluate("navigator.clipboard.readText()") == says[0]

    # J moves to the next line, Ctrl+C copies it (nothing is selected on the page)
    page.keyboard.press("j")
    assert page.evaluate("document.activeElement.dataset.sayIndex") == "1"
    page.keyboard.press("Control+c")
    page.wait_for_function(f"navigator.clipboard.readText().then(t => t === {says[1]!r})", timeout=5000)
    page.keyboard.press("k")
    assert page.evaluate("document.activeElement.dataset.sayIndex") == "0"

    # Esc returns to the search box
    page.keyboard.press("Escape")
    assert page.evaluate("document.activeElement.id") == "kb-lookup-q"


def test_pinyin_query(page, server):
    lookup_ready(page, server.url)
    page.keyboard.type("diantikunren")
    page.wait_for_function(
        f"(document.querySelector('{LOOKUP_OPTIONS}') || {{dataset: {{}}}}).dataset.id === 'emergency.elevator-entrapment'",
        timeout=10000)
    first = page.locator(LOOKUP_OPTIONS).first
    assert "电梯困人" in first.inner_text()
    assert first.locator(".kb-lookup-kind").inner_text() == "话术"


def test_slash_focuses_lookup_not_material_search(page, server):
    lookup_ready(page, server.url)
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "kb-lookup-q"
    assert page.input_value("#kb-lookup-q") == ""  # the "/" was not typed
    assert not page.evaluate("document.querySelector('[data-md-toggle=search]').checked")


def test_zero_results_and_empty_input(page, server):
    lookup_ready(page, server.url)
    page.keyboard.type("qqqqxxxxzzzz")
    status = page.locator("#kb-lookup-status")
    page.wait_for_function("document.getElementById('kb-lookup-status').textContent.includes('没有找到')",
                           timeout=10000)
    assert "换个说法试试" in status.inner_text()
    # nothing specific: only the general fallbacks of snippets/lookup.yaml are offered
    assert page.locator(f"{LOOKUP_OPTIONS}:not([data-general])").count() == 0
    page.fill("#kb-lookup-q", "停水")
    wait_for_results(page)
    page.fill("#kb-lookup-q", "")
    page.wait_for_function(f"document.querySelectorAll('{LOOKUP_OPTIONS}').length === 0", timeout=5000)


@pytest.mark.parametrize("failure", ["abort", "http503"])
def test_service_unreachable_shows_message(page, server, failure):
    if failure == "abort":
        page.route("**/api/search**", lambda route: route.abort())
    else:
        page.route("**/api/search**", lambda route: route.fulfill(
            status=503, content_type="application/json", body='{"error": "down"}'))
    lookup_ready(page, server.url)
    page.keyboard.type("停水")
    page.wait_for_function("document.getElementById('kb-lookup-status').textContent.includes('检索服务暂时连不上')",
                           timeout=10000)
    status = page.locator("#kb-lookup-status")
    assert status.inner_text().strip() == "检索服务暂时连不上。请直接浏览话术库，或稍后再试。"
    assert status.locator("a").get_attribute("href") == "/scripts/"
    assert "正在检索" not in status.inner_text()

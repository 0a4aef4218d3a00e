"""The lookup page's honest state (match weak/none), ordering of answers, and the gaps page."""

from __future__ import annotations

import json

import httpx
import pytest
from ruamel.yaml import YAML

from tests.conftest import ROOT, STAFF

from conftest import LOOKUP_OPTIONS, lookup_ready



def fallbacks() -> list[str]:
    return YAML(typ="safe", pure=True).load((ROOT / "snippets/lookup.yaml").read_text(encoding="utf-8"))["fallbacks"]


def option_ids(page) -> list[str]:
    return page.locator(LOOKUP_OPTIONS).evaluate_all("els => els.map(e => e.dataset.id)")


def test_lookup_settings_api(client):
    body = client.get("/api/lookup").json()
    assert [f["id"] for f in body["fallbacks"]] == fallbacks()
    assert all(f["title"] and f["url"] for f in body["fallbacks"])
    assert body["repeat"]["window_days"] >= 1 and body["repeat"]["script"]["id"]


def test_gaps_page_counts_weak_queries_and_links_to_the_lookup(db_client):
    for _ in range(3):
        assert db_client.get("/api/search", params={"q": "孩子在小区摔倒了"}).json()["match"] != "strong"
    db_client.get("/api/search", params={"q": "电梯困人"})
    gaps = db_client.get("/api/improvement-log/gaps", headers=STAFF).json()["gaps"]
    by_query = {g["query"]: g["count"] for g in gaps}
    assert by_query["孩子在小区摔倒了"] == 3 and "电梯困人" not in by_query


@pytest.mark.browser
def test_no_answer_says_no_script_and_offers_the_fallbacks_first(page, server):
    lookup_ready(page, server.url)
    page.keyboard.type("附近有什么好吃的饭店")
    page.wait_for_function("document.getElementById('kb-lookup-results').dataset.query === '附近有什么好吃的饭店'",
                           timeout=10000)
    assert "没有专门的话术" in page.locator("#kb-lookup-nomatch").inner_text()
    ids = option_ids(page)
    assert ids[:len(fallbacks())] == fallbacks()
    assert "没有专门的话术" in page.locator("#kb-lookup-status").inner_text()
    # a weak answer (issue 23): the search's best answer first, marked, the general scripts after it
    page.keyboard.press("Escape")
    page.keyboard.type("孩子在小区摔倒了")
    page.wait_for_function("document.getElementById('kb-lookup-results').dataset.query === '孩子在小区摔倒了'",
                           timeout=10000)
    answer = httpx.get(server.url + "/api/search", params={"q": "孩子在小区摔倒了", "limit": 8}, timeout=10).json()
    assert answer["match"] == "weak"
    ids = option_ids(page)
    assert ids[0] == answer["results"][0]["id"] and "可能相关，请核对" in page.locator(LOOKUP_OPTIONS).first.inner_text()
    assert len(ids) == len(set(ids))
    general = page.locator(LOOKUP_OPTIONS).evaluate_all("els => els.map(e => e.dataset.general === '1')")
    assert all(general[general.index(True):]) and general.index(True) > 0
    # a query with a specific answer: no such notice, the answer first
    page.keyboard.press("Escape")
    page.keyboard.type("电梯困人")
    page.wait_for_function(f"document.querySelector('{LOOKUP_OPTIONS}') && "
                           f"document.querySelector('{LOOKUP_OPTIONS}').dataset.id === 'emergency.elevator-entrapment'",
                           timeout=10000)
    assert page.locator("#kb-lookup-nomatch").count() == 0


@pytest.mark.browser
def test_a_slow_answer_to_an_older_query_never_replaces_a_newer_one(page, server):
    held = []

    def hold(route):
        if "q=%E5%81%9C%E6%B0%B4" in route.request.url:  # 停水: keep it waiting
            held.append(route)
        else:
            route.continue_()

    page.route("**/api/search?*", hold)
    lookup_ready(page, server.url)
    page.keyboard.type("停水")
    page.wait_for_function("true", timeout=1000)
    for _ in range(50):
        if held:
            break
        page.wait_for_timeout(20)
    assert held, "the 停水 request never went out"
    page.keyboard.press("Escape")
    page.keyboard.type("电梯困人")
    page.wait_for_function(f"document.querySelector('{LOOKUP_OPTIONS}') && "
                           f"document.querySelector('{LOOKUP_OPTIONS}').dataset.id === 'emergency.elevator-entrapment'",
                           timeout=10000)
    stale = {"query": "停水", "total": 1, "took_ms": 0, "match": "strong",
             "results": [{"id": "notice.water-outage", "kind": "template", "title": "停水通知",
                          "url": "/templates/notice.water-outage/", "snippet": "停水"}]}
    for route in held:
        try:
            route.fulfill(status=200, content_type="application/json", body=json.dumps(stale))
        except Exception:  # the page aborted it already: also fine
            pass
    page.wait_for_timeout(300)
    assert option_ids(page)[0] == "emergency.elevator-entrapment"
    assert page.locator("#kb-lookup-q").input_value() == "电梯困人"
    # the server never saw a problem
    assert httpx.get(server.url + "/api/health", timeout=5).status_code == 200

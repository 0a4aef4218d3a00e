"""Several communities in Chromium: a resident finds their community, sends feedback from its page
(preset to it), staff filter the list by it, and the fill page asks for the community once."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from kb_service.content.load import load_corpus

from conftest import STAFF_TOKEN, Server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def multi_server(multi_project, tmp_path_factory):
    data = tmp_path_factory.mktemp("multi-db")
    srv = Server(multi_project, multi_project / "var", {
        "KB_STAFF_TOKENS": f"tester:{STAFF_TOKEN}", "KB_DATABASE_URL": f"sqlite:///{data / 'kb.sqlite3'}"}).wait()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def chosen(multi_project):
    """A community that is not the default one, so presetting really matters."""
    corpus = load_corpus(multi_project / "snippets")[0]
    return next(c for c in corpus.communities.values() if c.id != corpus.default_community.id)


def test_resident_feedback_from_a_community_page_and_staff_filter(multi_server, chosen, page):
    url = multi_server.url
    page.goto(url + "/communities/")
    page.click(f"article a:has-text('{chosen.label}')")
    expect(page.locator("article h1")).to_contain_text(chosen.label)
    expect(page.locator("article")).to_contain_text(chosen.hotline)
    page.click("article .kb-community-nav a:has-text('反馈与投诉')")
    form = page.locator("#kb-feedback-form")
    expect(form).to_be_visible()
    assert form.locator("input[name=community]").input_value() == chosen.id
    assert form.locator("select[name=community]").count() == 0
    form.locator("input[name=type][value=complaint]").check()
    form.locator("textarea[name=content]").fill("地库入口的减速带松了，开车经过很响")
    form.locator("#kb-fb-submit").click()
    result = page.locator("#kb-fb-result")
    expect(result).to_be_visible(timeout=15000)
    reference = page.locator("#kb-fb-reference").inner_text()

    listing = httpx.get(f"{url}/api/improvement-log?community={chosen.id}",
                        headers={"authorization": f"Bearer {STAFF_TOKEN}"}).json()
    assert [e["community"] for e in listing["entries"]] == [chosen.id]
    assert listing["entries"][0]["reference"] == reference

    page.goto(url + "/staff/entries/")
    page.fill("#token", STAFF_TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/staff/entries/")
    page.select_option("select[name=community]", chosen.id)
    page.click("form.kb-filters button[type=submit]")
    page.wait_for_url(f"**community={chosen.id}**")
    expect(page.locator("table.kb-log tbody tr")).to_have_count(1)
    expect(page.locator("table.kb-log")).to_contain_text(chosen.label)


def test_fill_page_asks_for_the_community_once(multi_server, chosen, page):
    page.goto(multi_server.url + "/staff/fill/?id=notice.water-outage")
    select = page.locator("#kb-fill-community")
    expect(select).to_be_visible(timeout=15000)
    select.select_option(chosen.id)
    area = page.locator("#kb-fill-f-area option")
    expected = {b.name + u for b in chosen.buildings for u in ("",) + b.units}
    expect(area).to_have_count(len(expected) + 1)
    page.reload()
    expect(page.locator("#kb-fill-community")).to_have_value(chosen.id, timeout=15000)
    expect(page.locator("#kb-fill-f-area option")).to_have_count(len(expected) + 1)
    assert set(page.locator("#kb-fill-f-area option").all_inner_texts()[1:]) == expected
    expect(page.locator("#kb-fill-f-hotline")).to_contain_text(chosen.hotline)


@pytest.mark.parametrize("how", ["remembered", "picked"])
def test_the_community_wins_over_a_template_asked_for_before_it(multi_server, chosen, page, how):
    """The template and the communities load side by side: a template asked for before the
    community was known (remembered from last time, or picked while the template was on its way)
    must not show the default community's buildings."""
    page.goto(multi_server.url + "/staff/fill/")
    page.evaluate("id => localStorage.setItem('kb-fill-community', id)", chosen.id if how == "remembered" else "")
    held = {"communities": [], "template": []}

    def hold(kind):
        # The first request of each kind waits for the test; later ones go straight through.
        def handler(route):
            if held[kind] or (kind == "communities" and how == "picked"):
                route.continue_()
            else:
                held[kind].append(route)
        return handler

    page.route("**/api/communities", hold("communities"))
    page.route(lambda url: "/api/templates/notice.water-outage" in url, hold("template"))
    with page.expect_request(lambda r: "/api/templates/notice.water-outage" in r.url) as first:
        page.goto(multi_server.url + "/staff/fill/?id=notice.water-outage")
    assert "community=" not in first.value.url     # asked before the community was known
    if how == "remembered":
        held["communities"][0].continue_()
    else:
        expect(page.locator("#kb-fill-community")).to_be_visible(timeout=15000)
        page.locator("#kb-fill-community").select_option(chosen.id)
    expect(page.locator("#kb-fill-community")).to_have_value(chosen.id, timeout=15000)
    held["template"][0].continue_()
    expected = {b.name + u for b in chosen.buildings for u in ("",) + b.units}
    expect(page.locator("#kb-fill-f-area option")).to_have_count(len(expected) + 1)
    assert set(page.locator("#kb-fill-f-area option").all_inner_texts()[1:]) == expected

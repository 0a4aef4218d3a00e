import http.server
import re
import threading
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from conftest import CONTENT_ROOT, local_only_page
from kb_service.content.load import load_corpus

pytestmark = [pytest.mark.browser, pytest.mark.site_search]   # the tests of the site's own search


def search(page, term: str):
    """Type `term` into Material's search box; returns the result items once they appear."""
    page.keyboard.press("/")  # Material focuses the search box on "/"
    box = page.locator("input.md-search__input")
    box.fill(term)
    box.press("End")  # Material searches on key-up; fill() sends none
    results = page.locator(".md-search-result__item")
    results.first.wait_for(timeout=15000)
    return results


def test_home_title_and_chinese_search(page, server):
    page.goto(server.url + "/")
    assert page.title() == "物业沟通知识库"
    search(page, "首问负责制")
    titles = [t.replace("\u200b", "") for t in page.locator(".md-search-result__article").all_inner_texts()]
    assert any("首问负责制" in t for t in titles), titles


# Each term occurs in exactly one handbook chapter and nowhere else in docs/ or snippets/ (checked below).
CHAPTER_TERMS = [
    ("单向沟通", "handbook/02-communication.md", "第二章"),
    ("信息管理系统", "handbook/05-information.md", "第五章"),
    ("机器人", "handbook/08-trends.md", "第八章"),
]


@pytest.mark.parametrize("term,chapter,heading", CHAPTER_TERMS, ids=[c[1].split("/")[1] for c in CHAPTER_TERMS])
def test_search_finds_a_term_in_its_chapter_and_opens_it(page, server, term, chapter, heading):
    chapters = sorted((CONTENT_ROOT / "docs" / "handbook").glob("*.md"))
    holders = [p.relative_to(CONTENT_ROOT / "docs").as_posix() for p in chapters if term in p.read_text(encoding="utf-8")]
    assert holders == [chapter], holders  # the term really is in this chapter and in no other
    elsewhere = [p for p in (CONTENT_ROOT / "snippets").rglob("*.yaml") if term in p.read_text(encoding="utf-8")]
    assert elsewhere == [], elsewhere     # nor in a script or template that would outrank the chapter

    page.goto(server.url + "/")
    results = search(page, term)
    assert results.count() >= 1
    url = "/" + chapter.removesuffix(".md") + "/"
    links = page.locator("a.md-search-result__link")
    paths = [urlsplit(h).path for h in links.evaluate_all("els => els.map(a => a.href)")]
    assert url in paths, paths
    with page.expect_navigation(url=lambda u: urlsplit(u).path == url):
        links.nth(paths.index(url)).click()
    # navigation.instant swaps the content in place: let Playwright wait for the new article
    expect(page.locator("article h1")).to_have_text(re.compile("^" + heading))
    expect(page.locator("article")).to_contain_text(term)


def test_fee_calculator(page, server):
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    community = load_corpus(CONTENT_ROOT / "snippets")[0].default_community
    page.goto(server.url + community.url + "fees/")
    form = page.locator("#kb-fee-calculator")
    form.locator("select[name=item]").select_option(index=0)
    price = form.locator("select[name=item]").input_value()
    form.locator("input[name=area]").fill("100")
    form.locator("input[name=months]").fill("12")
    form.locator("select[name=parking]").select_option(index=0)  # 没有车位
    out = form.locator("output").inner_text()
    expected = f"{float(price) * 100 * 12:,.2f}"
    assert f"合计 {expected} 元" in out, out
    form.locator("input[name=area]").fill("")
    assert "请填写计费面积" in form.locator("output").inner_text()
    assert errors == []


def test_print_stylesheet_hides_navigation(page, server):
    page.goto(server.url + "/residents/standards/")
    page.emulate_media(media="print")
    assert not page.locator(".md-header").is_visible()
    assert not page.locator(".md-sidebar--primary").is_visible()
    assert page.locator("article table").first.is_visible()


# -- the shared pages themselves (tests/conftest.py _PAGES) -----------------------------------------

def _handed_out(browser, **options):
    """A page from local_only_page and the generator to hand it back with."""
    given = local_only_page(browser, **options)
    return next(given), given


def _hand_back(given) -> None:
    with pytest.raises(StopIteration):
        next(given)


def test_a_page_handed_to_the_next_test_holds_nothing_of_the_last(browser, server):
    pg, given = _handed_out(browser, bypass_csp=True)
    size = pg.viewport_size
    pg.goto(server.url + "/")
    pg.evaluate("() => { localStorage.setItem('k', '1'); sessionStorage.setItem('k', '1'); document.cookie = 'c=1; path=/'; }")
    pg.on("dialog", lambda d: d.accept())
    pg.route("**/api/health", lambda route: route.abort())
    pg.set_viewport_size({"width": 333, "height": 444})
    pg.emulate_media(media="print")
    _hand_back(given)

    again, given = _handed_out(browser, bypass_csp=True)
    assert again is pg, "the same page, not a new renderer"
    again.goto(server.url + "/")
    assert again.evaluate("() => [localStorage.getItem('k'), sessionStorage.getItem('k'), document.cookie]") == [None, None, ""]
    assert again.evaluate("() => matchMedia('print').matches") is False and again.viewport_size == size
    assert again._impl_obj.listeners("dialog") == []
    assert again.goto(server.url + "/api/health").ok        # the test's route is gone
    _hand_back(given)


def test_a_page_that_cannot_be_put_back_is_not_handed_out_again(browser, server):
    """The test stopped a server it used and went on elsewhere: that origin's storage cannot be
    cleared any more, so the page goes."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    pg, given = _handed_out(browser, bypass_csp=True, viewport={"width": 400, "height": 700})
    pg.goto(f"http://127.0.0.1:{httpd.server_address[1]}/")
    httpd.shutdown()
    httpd.server_close()
    pg.goto(server.url + "/api/health")
    _hand_back(given)

    fresh, given = _handed_out(browser, bypass_csp=True, viewport={"width": 400, "height": 700})
    assert fresh is not pg and pg.is_closed()
    _hand_back(given)

import pytest

pytestmark = pytest.mark.browser


def test_home_title_and_chinese_search(page, server):
    page.goto(server.url + "/")
    assert page.title() == "物业沟通知识库"
    page.keyboard.press("/")  # Material focuses the search box on "/"
    box = page.locator("input.md-search__input")
    box.fill("首问负责制")
    box.press("End")  # Material searches on key-up; fill() sends none
    results = page.locator(".md-search-result__item")
    results.first.wait_for(timeout=15000)
    titles = [t.replace("\u200b", "") for t in page.locator(".md-search-result__article").all_inner_texts()]
    assert any("首问负责制" in t for t in titles), titles

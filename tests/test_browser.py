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


def test_fee_calculator(page, server):
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + "/residents/fees/")
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

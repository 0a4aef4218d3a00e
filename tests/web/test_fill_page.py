"""The staff template-filling page (/staff/fill/) in a real browser against the real service."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

WATER = "notice.water-outage"
GOOD_PERIOD = "2026-12-01 08:00 至 2026-12-01 18:00"
BAD_PERIOD = "2026-12-01 18:00 至 2026-12-01 08:00"


def open_water_outage(page, server):
    page.goto(server.url + f"/staff/fill/?id={WATER}")
    expect(page.locator("#kb-fill-f-period")).to_be_visible(timeout=15000)
    expect(page.locator("#kb-fill-title")).to_have_text("停水通知")


def test_pick_template_from_filtered_list(page, server):
    page.goto(server.url + "/staff/fill/")
    items = page.locator("#kb-fill-list li:not([hidden]) button")
    expect(items.first).to_be_visible(timeout=15000)
    page.locator("#kb-fill-filter").fill("断水")  # an alias of the water-outage notice
    expect(items).to_have_count(1)
    items.first.click()
    expect(page.locator("#kb-fill-title")).to_have_text("停水通知")
    assert f"id={WATER}" in page.url
    assert page.locator("#kb-fill-form select#kb-fill-f-area option").count() > 1
    expect(page.locator("#kb-fill-f-today")).to_contain_text("自动：")


def test_fill_validate_copy_and_print(clipboard_page, server):
    page = clipboard_page
    open_water_outage(page, server)
    page.select_option("#kb-fill-f-area", "3栋1单元")
    page.select_option("#kb-fill-f-reason", "供水管网维修")
    page.fill("#kb-fill-f-supply", "小区东门岗亭旁设临时取水点")
    page.fill("#kb-fill-f-period", BAD_PERIOD)

    error = page.locator("#kb-fill-err-period")
    expect(error).to_contain_text("结束时间必须晚于开始时间")
    expect(page.locator("#kb-fill-f-period")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#kb-fill-print-open")).to_be_disabled()

    page.fill("#kb-fill-f-period", GOOD_PERIOD)
    expect(error).to_be_hidden()
    expect(page.locator("#kb-fill-f-period")).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("#kb-fill-parsed-period")).to_have_text(
        "识别为 2026-12-01（周二） 08:00 至 18:00")

    sms = page.locator("#kb-fill-preview-sms")
    expect(sms).to_contain_text("3栋1单元")
    expect(sms).to_contain_text("供水管网维修")
    sms_text = sms.evaluate("node => node.textContent")
    counter = page.locator("#kb-fill-count-sms")
    expect(counter).to_contain_text(f"字数 {len(sms_text)}")
    expect(counter).to_contain_text("条数 1")
    expect(page.locator("#kb-fill-preview-wechat")).to_contain_text("3栋1单元")
    expect(page.locator("#kb-fill-preview-notice")).to_contain_text("小区东门岗亭旁设临时取水点")

    page.click("#kb-fill-copy-sms")
    expect(page.locator("#kb-fill-copy-sms")).to_have_text("已复制")
    assert page.evaluate("navigator.clipboard.readText()") == sms_text

    page.click("#kb-fill-print-open")
    expect(page.locator("#kb-fill-sheet-title")).to_have_text("停水通知")
    expect(page.locator("#kb-fill-sheet-title")).to_be_visible()
    expect(page.locator("body")).to_have_class("kb-print-mode")
    expect(page.locator(".md-header")).to_be_hidden()
    expect(page.locator(".md-sidebar--primary")).to_be_hidden()
    expect(page.locator("#kb-fill-form")).to_be_hidden()
    expect(page.locator("#kb-fill-sheet-body")).to_contain_text("3栋1单元")
    expect(page.locator("#kb-fill-sheet-signature")).to_have_css("text-align", "right")
    expect(page.locator("#kb-fill-sheet-title")).to_have_css("text-align", "center")

    page.click("#kb-fill-print-back")
    expect(page.locator(".md-header")).to_be_visible()
    expect(page.locator("#kb-fill-print")).to_be_hidden()


def test_examples_fill_every_field(page, server):
    open_water_outage(page, server)
    page.click("#kb-fill-example")
    expect(page.locator("#kb-fill-preview-sms")).to_contain_text("二次供水水箱清洗")
    expect(page.locator("#kb-fill-f-period")).to_have_value(GOOD_PERIOD)
    expect(page.locator("#kb-fill-parsed-company")).to_contain_text("当前：")
    expect(page.locator("#kb-fill-print-open")).to_be_enabled()


def test_typed_markup_is_shown_literally(page, server):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    open_water_outage(page, server)
    page.click("#kb-fill-example")
    payload = "<script>alert(1)</script>"
    page.fill("#kb-fill-f-supply", payload)
    notice = page.locator("#kb-fill-preview-notice")
    expect(notice).to_contain_text(payload)
    assert payload in notice.evaluate("node => node.textContent")
    assert notice.locator("script").count() == 0
    page.click("#kb-fill-print-open")
    expect(page.locator("#kb-fill-sheet-body")).to_contain_text(payload)
    assert page.locator("#kb-fill-sheet script").count() == 0
    assert dialogs == []


def test_unknown_template_id_says_so(page, server):
    page.goto(server.url + "/staff/fill/?id=notice.no-such-thing")
    expect(page.locator("#kb-fill-status")).to_contain_text("没有找到模板", timeout=15000)

"""The 反馈与投诉 form (/residents/feedback/) and the page-feedback widget, in Chromium against a
real `kb serve` (one per module, its own database); what each test stored is checked through the
staff API."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
import pytest

from kb_service.feedback.forms import mask_location
from playwright.sync_api import expect

from conftest import STAFF, STAFF_TOKEN, Server, local_only_page, with_index
from kb_service.content.load import load_corpus

pytestmark = pytest.mark.browser

FORM = "/residents/feedback/"
HANDBOOK = "/handbook/03-complaints/"
XSS = "<img src=x onerror=alert(1)>"
REFERENCE = re.compile(r"\S+")


@pytest.fixture(scope="module")
def module_server(built_project, tmp_path_factory):
    """One `kb serve` for the module, on its own data dir: its own SQLite database, a copy of the
    built search index (fresh browser contexts are cheap, server starts are not)."""
    data = with_index(built_project, tmp_path_factory.mktemp("feedback-page") / "var")
    server = Server(built_project, data, env={"KB_STAFF_TOKENS": f"tester:{STAFF_TOKEN}",
                                              "KB_DATABASE_URL": ""}).wait()
    yield server
    server.stop()


@dataclass(frozen=True)
class ServerView:
    """The module's server as one test sees it: `entries()` lists only what this test stored."""
    url: str
    since: int      # the newest entry id before the test


@pytest.fixture
def srv(module_server):
    stored = entries(ServerView(module_server.url, 0))
    return ServerView(module_server.url, max((e["id"] for e in stored), default=0))


@pytest.fixture
def dialogs(page):
    """Any alert/confirm a page opens is recorded (and dismissed); a test asserts there were none."""
    seen: list[str] = []

    def on_dialog(dialog):
        seen.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return seen


@pytest.fixture
def page_errors(page):
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


@pytest.fixture
def nojs_page(browser):
    yield from local_only_page(browser, java_script_enabled=False)


def entries(srv, **params) -> list[dict]:
    """What this test stored (newest first), read through the staff API."""
    r = httpx.get(srv.url + "/api/improvement-log", params={"limit": 200, **params}, headers=STAFF, timeout=10)
    assert r.status_code == 200, r.text
    return [e for e in r.json()["entries"] if e["id"] > srv.since]


def open_form(page, srv):
    page.goto(srv.url + FORM)
    form = page.locator("#kb-feedback-form")
    expect(form).to_be_visible(timeout=15000)
    # feedback.js has bound the form once it filled the idempotency key
    expect(form.locator("input[name=idempotency_key]")).not_to_have_value("", timeout=15000)
    return form


def fill(form, *, kind="投诉", category="噪音", location="3栋1单元", content="楼上每天深夜有噪音，影响休息。"):
    form.get_by_label(kind, exact=True).check()
    if category:
        form.locator("select[name=category]").select_option(label=category)
    if location:
        form.locator("input[name=location]").fill(location)
    form.locator("textarea[name=content]").fill(content)


# -- with JavaScript --------------------------------------------------------------------------

def test_js_submit_with_consent_shows_reference_and_stores_masked_phone(page, srv, page_errors):
    form = open_form(page, srv)
    fill(form)
    form.locator("input[name='ratings.service'][value='4']").check()
    form.locator("input[name='ratings.care'][value='2']").check()
    form.locator("input[name=contact_name]").fill("王女士")
    form.locator("input[name=contact_phone]").fill("13812345678")
    form.locator("input[name=consent]").check()
    key = form.locator("input[name=idempotency_key]").input_value()
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", key), key

    page.locator("#kb-fb-submit").click()
    reference = page.locator("#kb-fb-reference")
    expect(reference).to_be_visible(timeout=15000)
    ref = reference.inner_text().strip()
    assert REFERENCE.fullmatch(ref)
    result = page.locator("#kb-fb-result")
    expect(result).to_contain_text("已收到您的投诉")
    expect(result.locator("h2")).to_have_text("提交成功")
    expect(page.locator("#kb-fb-respond-by")).to_contain_text(re.compile(r"\d{4}年\d{2}月\d{2}日（周[一二三四五六日]）\d{2}:\d{2} 前"))
    expect(form).to_be_hidden()
    expect(result).not_to_contain_text("没有留下联系方式")

    found = [e for e in entries(srv) if e["reference"] == ref]
    assert len(found) == 1
    entry = found[0]
    assert entry["type"] == "complaint" and entry["category"] == "noise" and entry["location"] == mask_location("3栋1单元")
    assert entry["consent"] is True and entry["contact_name"] == "王**"      # lists mask name and door
    assert entry["contact_phone"] == "138****5678"
    assert entry["ratings"] == {"service": 4, "care": 2}
    # the staff detail view has the full number
    detail = httpx.get(srv.url + f"/api/improvement-log/{entry['id']}", headers=STAFF, timeout=10).json()
    assert detail["contact_phone"] == "13812345678"
    assert len(entries(srv)) == 1
    assert page_errors == []


def test_js_double_click_stores_one_entry(page, srv):
    form = open_form(page, srv)
    fill(form, kind="建议", category=None, location=None, content="建议在东门加一个快递柜。")
    page.locator("#kb-fb-submit").dblclick()
    expect(page.locator("#kb-fb-reference")).to_be_visible(timeout=15000)
    assert len(entries(srv)) == 1

    # a second submission: two submits in the same instant still send it once
    page.get_by_role("button", name="再提交一条").click()
    fill(form, kind="建议", category=None, location=None, content="建议夜间照明延长到 23 点。")
    page.evaluate("() => { const f = document.getElementById('kb-feedback-form'); f.requestSubmit(); f.requestSubmit(); }")
    expect(page.locator("#kb-fb-reference")).to_be_visible(timeout=15000)
    stored = entries(srv)
    assert len(stored) == 2 and len({e["reference"] for e in stored}) == 2


def test_js_retry_after_unreachable_keeps_key_and_stores_once(page, srv):
    """The service is unreachable for the first attempt: a clear message; the retry (same key)
    is stored once, even when the first attempt had in fact arrived."""
    form = open_form(page, srv)
    fill(form, kind="咨询", category="收费", location=None, content="车位费可以按季度交吗？")
    key = form.locator("input[name=idempotency_key]").input_value()
    calls = {"n": 0}

    def lose_answer(route):
        calls["n"] += 1
        route.fetch()     # the service stores the entry...
        route.abort()     # ...but the answer never reaches the browser

    page.route("**/api/feedback", lose_answer)
    page.locator("#kb-fb-submit").click()
    status = page.locator("#kb-fb-status")
    expect(status).to_contain_text("无法连接反馈服务", timeout=15000)
    listing = httpx.get(srv.url + "/api/communities", timeout=10).json()
    if len(listing["communities"]) == 1:    # one community: its service centre is the number to call
        expect(status).to_contain_text(listing["communities"][0]["hotline"])
    expect(page.locator("#kb-fb-submit")).to_be_enabled()
    assert len(entries(srv)) == 1

    page.unroute("**/api/feedback")
    page.locator("#kb-fb-submit").click()
    expect(page.locator("#kb-fb-reference")).to_be_visible(timeout=15000)
    assert form.locator("input[name=idempotency_key]").input_value() != key  # next submission: new key
    stored = entries(srv)
    assert len(stored) == 1 and calls["n"] == 1
    assert page.locator("#kb-fb-reference").inner_text().strip() == stored[0]["reference"]


def test_js_button_disabled_while_sending(page, srv):
    form = open_form(page, srv)
    fill(form, kind="表扬", category=None, location=None, content="保安小李很负责。")
    held = []
    page.route("**/api/feedback", lambda route: held.append(route))
    page.locator("#kb-fb-submit").click()
    expect(page.locator("#kb-fb-submit")).to_be_disabled()
    expect(page.locator("#kb-fb-status")).to_contain_text("正在提交")
    assert len(held) == 1
    held[0].continue_()
    expect(page.locator("#kb-fb-reference")).to_be_visible(timeout=15000)


def test_js_empty_description_shows_error_next_to_field(page, srv, page_errors):
    form = open_form(page, srv)
    fill(form, content="   ")
    page.locator("#kb-fb-submit").click()
    error = page.locator("#kb-fb-err-content")
    expect(error).to_be_visible(timeout=15000)
    expect(error).to_contain_text("必填")
    content = form.locator("textarea[name=content]")
    expect(content).to_have_attribute("aria-invalid", "true")
    expect(content).to_be_focused()
    # the message sits right after the field it is about
    assert content.evaluate("n => n.nextElementSibling.id") == "kb-fb-err-content"
    expect(page.locator("#kb-fb-status")).to_contain_text("1 处需要修改")
    expect(page.locator("#kb-fb-result")).to_be_hidden()
    assert entries(srv) == []

    # no type chosen either: both errors, each at its own field
    page.reload()
    form = open_form(page, srv)
    page.locator("#kb-fb-submit").click()
    expect(page.locator("#kb-fb-err-type")).to_contain_text("请选择反馈类型")
    expect(page.locator("#kb-fb-err-content")).to_be_visible()
    # typing clears that field's message
    form.locator("textarea[name=content]").fill("电梯按钮失灵")
    expect(page.locator("#kb-fb-err-content")).to_be_hidden()
    assert entries(srv) == []
    assert page_errors == []


def test_js_without_consent_phone_is_not_stored(page, srv):
    form = open_form(page, srv)
    fill(form)
    form.locator("input[name=contact_name]").fill("李先生")
    form.locator("input[name=contact_phone]").fill("13900001111")
    sent = []
    page.on("request", lambda r: sent.append(r.post_data) if r.url.endswith("/api/feedback") else None)
    page.locator("#kb-fb-submit").click()
    # a phone typed without consent: asked first; "no" submits without it
    expect(page.locator("#kb-fb-consent-ask")).to_contain_text("没有同意联系")
    assert sent == []
    page.locator("#kb-fb-consent-no").click()
    expect(page.locator("#kb-fb-reference")).to_be_visible(timeout=15000)
    expect(page.locator("#kb-fb-result")).to_contain_text("没有留下联系方式")
    assert sent and "13900001111" not in sent[0] and "李先生" not in sent[0]  # never left the browser
    [entry] = entries(srv)
    assert entry["consent"] is False
    assert entry["contact_phone"] is None and entry["contact_name"] is None


def test_js_xss_is_shown_literally(page, srv, dialogs):
    form = open_form(page, srv)
    fill(form, kind="建议", content=XSS)
    page.locator("#kb-fb-submit").click()
    expect(page.locator("#kb-fb-reference")).to_be_visible(timeout=15000)
    expect(page.locator("#kb-fb-echo")).to_have_text(XSS)
    assert page.locator("#kb-fb-result img").count() == 0
    [entry] = entries(srv)
    assert entry["content"] == XSS

    # an error message that repeats the input (an unknown category) is shown literally too
    page.get_by_role("button", name="再提交一条").click()
    form.get_by_label("咨询", exact=True).check()
    form.locator("textarea[name=content]").fill("问一下")
    form.locator("select[name=category]").evaluate("(s, v) => { s.options[1].value = v; s.selectedIndex = 1; }", XSS)
    page.locator("#kb-fb-submit").click()
    error = page.locator("#kb-fb-err-category")
    expect(error).to_contain_text(XSS, timeout=15000)
    assert page.locator("#kb-feedback-form img").count() == 0
    page.wait_for_timeout(300)
    assert dialogs == []
    assert len(entries(srv)) == 1


def test_static_files_give_a_clear_message(browser, built_project):
    """Site opened as files (no service): the form says it cannot reach the service."""
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto((built_project / "site" / "residents" / "feedback" / "index.html").as_uri())
    form = page.locator("#kb-feedback-form")
    expect(form.locator("input[name=idempotency_key]")).not_to_have_value("", timeout=15000)
    fill(form)
    page.locator("#kb-fb-submit").click()
    expect(page.locator("#kb-fb-status")).to_contain_text("无法连接反馈服务", timeout=15000)
    expect(page.locator("#kb-fb-status")).to_contain_text("直接打开的网页文件")
    expect(page.locator("#kb-fb-submit")).to_be_enabled()
    context.close()


# -- without JavaScript -----------------------------------------------------------------------

def test_nojs_form_post_lands_on_result_page(nojs_page, srv):
    page = nojs_page
    page.goto(srv.url + FORM)
    form = page.locator("#kb-feedback-form")
    assert form.locator("input[name=idempotency_key]").input_value() == ""
    expect(page.locator("form.md-feedback")).to_be_hidden()  # the page widget needs JavaScript
    fill(form, content="地下车库B区的灯坏了三盏。")
    form.locator("input[name='ratings.price'][value='3']").check()
    form.locator("input[name=contact_phone]").fill("13812345678")  # typed, but no consent
    with page.expect_navigation():
        page.locator("#kb-fb-submit").click()
    assert page.url == srv.url + "/api/feedback"
    expect(page.locator("h1")).to_have_text("反馈已收到")
    ref = page.locator("#kb-reference").inner_text().strip()
    expect(page.locator("body")).to_contain_text("答复时限")
    [entry] = entries(srv)
    assert entry["reference"] == ref and entry["type"] == "complaint"
    assert entry["contact_phone"] is None and entry["consent"] is False
    assert entry["ratings"] == {"price": 3}


def test_nojs_xss_and_errors_on_result_page(nojs_page, srv):
    page = nojs_page
    page.goto(srv.url + FORM)
    form = page.locator("#kb-feedback-form")
    fill(form, kind="建议", content=XSS, category=None)
    # an unknown category, so that the service repeats the input in its error page
    form.locator("select[name=category]").evaluate("(s, v) => { s.options[1].value = v; s.selectedIndex = 1; }", XSS)
    with page.expect_navigation():
        page.locator("#kb-fb-submit").click()
    expect(page.locator("h1")).to_have_text("请修改后再提交")
    expect(page.locator(".kb-errors")).to_contain_text(XSS)
    assert page.locator("main img").count() == 0
    assert entries(srv) == []


# -- the page-feedback widget -----------------------------------------------------------------

def open_widget(page, srv, path=HANDBOOK):
    page.goto(srv.url + path)
    widget = page.locator("form.md-feedback")
    expect(widget).to_be_visible(timeout=15000)
    expect(widget).to_contain_text("这一页对您有帮助吗？")
    return widget


def test_widget_no_with_comment(page, srv, page_errors):
    widget = open_widget(page, srv)
    sent = []
    page.on("request", lambda r: sent.append(r) if r.method == "POST" else None)
    widget.locator("button[data-md-value='0']").click()
    comment = widget.locator("textarea.kb-pf-comment")
    expect(comment).to_be_visible()
    expect(comment).to_be_focused()
    # the vote is stored at once (leaving the page now keeps it); the comment joins it after
    expect(widget.locator(".kb-pf-status")).to_contain_text("已记下", timeout=15000)
    assert [r.url for r in sent] == [srv.url + "/api/feedback"]
    comment.fill("没说清楚投诉多久能有结果。")
    widget.locator("button.kb-pf-send").click()
    expect(widget.locator(".kb-pf-status")).to_have_text("补充说明已发送，谢谢！", timeout=15000)
    expect(comment).to_be_hidden()
    assert [r.url for r in sent] == [srv.url + "/api/feedback", srv.url + "/api/feedback/comment"]
    [entry] = entries(srv, type="page")
    assert entry["page"] == HANDBOOK and entry["helpful"] is False
    assert entry["content"] == "没说清楚投诉多久能有结果。"
    assert entry["source"] == "page"
    assert page_errors == []


def test_widget_yes_and_empty_no(page, srv):
    widget = open_widget(page, srv)
    widget.locator("button[data-md-value='1']").click()
    expect(widget.locator(".kb-pf-status")).to_have_text("已发送，谢谢！", timeout=15000)
    expect(widget.locator("button[data-md-value='1']")).to_be_disabled()
    [entry] = entries(srv, type="page")
    assert entry["page"] == HANDBOOK and entry["helpful"] is True and entry["content"] == ""

    widget = open_widget(page, srv, "/residents/fees/")
    widget.locator("button[data-md-value='0']").click()  # stored at once; the comment is optional
    expect(widget.locator(".kb-pf-status")).to_contain_text("已记下", timeout=15000)
    latest = entries(srv, type="page")[0]
    assert latest["page"] == "/residents/fees/" and latest["helpful"] is False


def test_widget_comment_is_literal(page, srv, dialogs):
    widget = open_widget(page, srv)
    widget.locator("button[data-md-value='0']").click()
    expect(widget.locator(".kb-pf-status")).to_contain_text("已记下", timeout=15000)
    widget.locator("textarea.kb-pf-comment").fill(XSS)
    widget.locator("button.kb-pf-send").click()
    expect(widget.locator(".kb-pf-status")).to_have_text("补充说明已发送，谢谢！", timeout=15000)
    [entry] = entries(srv, type="page")
    assert entry["content"] == XSS
    page.wait_for_timeout(300)
    assert dialogs == []


def test_widget_after_instant_navigation(page, srv):
    """Material swaps the page without reloading: the widget on the new page posts the new path."""
    open_widget(page, srv, "/residents/")
    page.locator("article a[href$='standards/']").first.click()
    expect(page).to_have_url(re.compile(r"/residents/standards/$"))
    widget = page.locator("form.md-feedback")
    expect(widget).to_be_visible(timeout=15000)
    widget.locator("button[data-md-value='1']").click()
    expect(widget.locator(".kb-pf-status")).to_have_text("已发送，谢谢！", timeout=15000)
    [entry] = entries(srv, type="page")
    assert entry["page"] == "/residents/standards/"


def test_pages_load_nothing_from_other_hosts(page, srv, built_project):
    """The widget needs an analytics provider; the custom one must not bring Google Analytics
    or anything else from another host (the `page` fixture fails on any outside request)."""
    paths = ["/", HANDBOOK, FORM, "/residents/fees/", "/staff/lookup/", "/scripts/complaint.intake/"]
    for path in paths:
        page.goto(srv.url + path)
        expect(page.locator("form.md-feedback")).to_be_visible(timeout=15000)
        assert page.evaluate("typeof window.gtag === 'undefined' && typeof window.dataLayer === 'undefined'")
    for html_file in (built_project / "site").rglob("*.html"):
        html = html_file.read_text(encoding="utf-8")
        assert "googletagmanager" not in html and "gtag(" not in html, html_file


# -- the form follows the data ----------------------------------------------------------------

def test_form_choices_come_from_feedback_yaml(built_project):
    corpus, _ = load_corpus(built_project / "snippets")
    fb = corpus.feedback
    html = (built_project / "site" / "residents" / "feedback" / "index.html").read_text(encoding="utf-8")
    assert "kb:feedback-form" not in html
    form = html[html.index('id="kb-feedback-form"'):html.index("</form>", html.index('id="kb-feedback-form"'))]
    assert 'method="post"' in form and 'action="/api/feedback"' in form
    for tid, kind in fb.types.items():
        if tid == "page":  # the widget under every page, not a choice in the form
            assert f'value="{tid}"' not in form
            continue
        assert f'name="type" value="{tid}"' in form and kind.label in form
        if kind.response:
            assert kind.response.text in form
    for cid, label in fb.categories.items():
        assert f'<option value="{cid}">{label}</option>' in form
    for rid, label in fb.ratings.items():
        assert label in form
        for score in range(1, 6):
            assert f'name="ratings.{rid}" value="{score}"' in form
    assert fb.retention.text in form  # how long contact details are kept, from standards.yaml
    hp = re.search(r'<div class="kb-fb-hp" aria-hidden="true">.*?</div>', form).group(0)
    assert 'name="website"' in hp and 'tabindex="-1"' in hp and 'autocomplete="off"' in hp
    assert 'name="idempotency_key" value=""' in form

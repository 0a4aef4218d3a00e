"""The same site from either builder: `kb build --engine mkdocs|zensical` on one staged tree.

The MkDocs side is the session's `built_project` (the default engine); the Zensical side is one
copy of the content built once for this module. Both are compared file by file, then driven in
Chromium through a real `kb serve` each."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from conftest import STAFF, STAFF_TOKEN, Server, copy_project, kb, local_only_page, lookup_ready, settings_for, settle
from kb_service.content.load import load_corpus
from kb_service.errors import ContentError, UsageError
from kb_service.settings import Settings

ENGINES = ("mkdocs", "zensical")


def page_list(site) -> set[str]:
    """Every HTML page a builder wrote (its own assets and search files left out)."""
    return {p.relative_to(site).as_posix() for p in site.rglob("*.html")
            if p.relative_to(site).parts[0] != "assets"}


def sitemap(site) -> set[str]:
    return set(re.findall(r"<loc>([^<]+)</loc>", (site / "sitemap.xml").read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def projects(built_project, zensical_project):
    return {"mkdocs": built_project, "zensical": zensical_project}


# -- the two trees ------------------------------------------------------------------------------

def test_both_engines_write_the_same_pages_and_urls(projects):
    mk, zen = (projects[e] / "site" for e in ENGINES)
    pages = page_list(mk)
    corpus, _ = load_corpus(projects["mkdocs"] / "snippets")
    assert len(pages) > len(corpus.snippets)
    assert page_list(zen) == pages
    assert sitemap(zen) == sitemap(mk)
    for snippet in corpus.snippets.values():
        html = (zen / snippet.url.strip("/") / "index.html").read_text(encoding="utf-8")
        assert snippet.id in html


@pytest.mark.parametrize("engine", ENGINES)
def test_data_blocks_and_inline_values_are_expanded(projects, engine):
    site = projects[engine] / "site"
    corpus, _ = load_corpus(projects[engine] / "snippets")
    from kb_service.site.pages import for_residents

    standards = (site / "residents" / "standards" / "index.html").read_text(encoding="utf-8")
    staff = (site / "staff" / "index.html").read_text(encoding="utf-8")
    for s in corpus.standards.values():
        assert s.text in staff and (s.text in standards or not for_residents(s)), s.id
    for page in site.rglob("*.html"):
        if page.relative_to(site).parts[0] == "editors":
            continue  # the editors' guide shows the syntax itself
        html = page.read_text(encoding="utf-8")
        assert "<!-- kb:" not in html and "snippet:" not in html and "[[std:" not in html, page


SEARCH_FILES = {"mkdocs": ("search/search_index.json", "docs"), "zensical": ("search.json", "items")}


@pytest.mark.parametrize("engine", ENGINES)
def test_tag_and_category_listings_stay_out_of_the_site_search(projects, engine):
    """They repeat every summary once per tag or category: built, linked, but not searched, so a
    script's own page is what the search shows (and phones download a fifth less)."""
    site = projects[engine] / "site"
    name, key = SEARCH_FILES[engine]
    locations = {d["location"].split("#")[0] for d in json.loads((site / name).read_text(encoding="utf-8"))[key]}
    corpus, _ = load_corpus(projects[engine] / "snippets")
    listed = {"tags/", "categories/", *(f"categories/{c}/" for c in {s.category for s in corpus.snippets.values()})}
    assert all((site / uri / "index.html").is_file() for uri in listed)
    assert not locations & listed, locations & listed
    assert all(s.url.lstrip("/") in locations for s in corpus.snippets.values())


def test_staged_tree_is_plain_markdown_for_any_builder(projects):
    staged = projects["zensical"] / "var" / "staged"
    config = (staged / "mkdocs.yml").read_text(encoding="utf-8")
    assert "- kb\n" not in config  # no builder plugin: everything is already in docs/
    from kb_service.site.generate import nav_pages

    corpus, _ = load_corpus(projects["zensical"] / "snippets")
    listed = set(nav_pages(config))
    assert {s.src_uri for s in corpus.snippets.values()} <= listed
    for uri in listed:
        assert (staged / "docs" / uri).is_file(), uri


@pytest.mark.parametrize("engine", ENGINES)
def test_shared_script_comes_before_the_page_scripts(projects, engine):
    """kbcore.js (window.KB) runs before every page script that uses it, in either builder's pages."""
    ours = {p.name for p in (projects[engine] / "docs" / "assets" / "javascripts").glob("*.js")}
    html = (projects[engine] / "site" / "index.html").read_text(encoding="utf-8")
    loaded = [s.rsplit("/", 1)[-1] for s in re.findall(r'<script[^>]*\bsrc="([^"]+\.js)"', html)]
    loaded = [name for name in loaded if name in ours]
    # search-on-use.js goes before the theme's bundle (tests/site/test_javascript.py), and uses no KB
    assert loaded.pop(0) == "search-on-use.js", loaded
    assert loaded[0] == "kbcore.js" and {"staff-loader.js", "feedback.js"} <= set(loaded), loaded
    # the staff tools' scripts come through staff-loader.js, on their pages only
    assert not {"lookup.js", "callrecord.js", "fill.js"} & set(loaded), loaded


@pytest.mark.parametrize("engine", ENGINES)
def test_unknown_references_fail_before_the_builder_with_file_and_line(tmp_path, engine):
    pytest.importorskip(engine)
    from kb_service.build import build_site

    project = copy_project(tmp_path / "p")
    page = project / "docs" / "residents" / "repair.md"
    lines = page.read_text(encoding="utf-8").splitlines()
    lines += ["", "见[这条话术](snippet:no.such-script)。", "师傅 [[std:repair.nope]]内上门。"]
    page.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ContentError) as err:
        build_site(settings_for(project, project / "var"), engine=engine)
    message = str(err.value)
    n = len(lines)
    assert f"docs/residents/repair.md:{n - 1}:" in message and "no.such-script" in message
    assert f"docs/residents/repair.md:{n}:" in message and "repair.nope" in message


def test_engine_setting_and_option(tmp_path):
    with pytest.raises(UsageError):
        Settings.from_env({"KB_PROJECT_DIR": str(tmp_path), "KB_SITE_ENGINE": "hugo"})
    assert Settings.from_env({"KB_PROJECT_DIR": str(tmp_path)}).site_engine == "mkdocs"
    result = kb("build", "--engine", "hugo", env={"KB_PROJECT_DIR": str(tmp_path), "KB_DATA_DIR": str(tmp_path / "v")})
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_serve_rebuilds_only_when_the_engine_or_content_changes(zensical_project):
    from kb_service.build import build

    settings = settings_for(zensical_project, zensical_project / "var", KB_SITE_ENGINE="zensical")
    report = build(settings, force=False)
    assert not report.site_built and not report.index_built


# -- in Chromium, through `kb serve` --------------------------------------------------------------

@pytest.fixture(scope="module")
def servers(projects, tmp_path_factory):
    """One `kb serve` per engine on its built site and index (nothing stale, so nothing is rebuilt),
    each with its own database."""
    started = {}
    for engine, project in projects.items():
        db = tmp_path_factory.mktemp(f"db-{engine}") / "kb.sqlite3"
        started[engine] = Server(project, project / "var", env={
            "KB_SITE_ENGINE": engine, "KB_STAFF_TOKENS": f"tester:{STAFF_TOKEN}", "KB_DATABASE_URL": f"sqlite:///{db}"})
    for server in started.values():
        server.wait()
    yield started
    for server in started.values():
        server.stop()


@pytest.fixture
def errors(page):
    seen: list[str] = []
    page.on("pageerror", lambda e: seen.append(str(e)))
    return seen


@pytest.mark.browser
@pytest.mark.parametrize("engine", ENGINES)
def test_home_and_navigation(page, servers, engine, errors):
    srv = servers[engine]
    page.goto(srv.url + "/")
    # Material titles the home page with the site name alone; Zensical puts "首页 - " before it
    assert page.title().endswith("物业沟通知识库")
    expect(page.locator("article h1").first).to_be_visible()
    hrefs = page.locator("a").evaluate_all("els => els.map(a => a.getAttribute('href'))")
    assert any(h and "scripts/" in h for h in hrefs), hrefs
    assert errors == []


@pytest.mark.browser
@pytest.mark.parametrize("engine", ENGINES)
def test_script_page_copy_buttons(browser, projects, servers, engine):
    srv = servers[engine]
    corpus, _ = load_corpus(projects[engine] / "snippets")
    script = next(s for s in sorted(corpus.snippets.values(), key=lambda s: s.id) if s.kind == "script")
    for pg in local_only_page(browser, permissions=["clipboard-read", "clipboard-write"]):
        pg.goto(srv.url + script.url)
        expect(pg.locator("article h1")).to_contain_text(script.title)
        button = pg.locator("button.kb-copy").first
        text = button.get_attribute("data-copy")
        button.click()
        expect(button).to_have_class(re.compile("kb-copied"))
        assert pg.evaluate("navigator.clipboard.readText()") == text


@pytest.mark.browser
@pytest.mark.parametrize("engine", ENGINES)
def test_standards_and_fees_pages(page, projects, servers, engine, errors):
    srv = servers[engine]
    corpus, _ = load_corpus(projects[engine] / "snippets")
    page.goto(srv.url + "/residents/standards/")
    first = next(iter(corpus.standards.values()))
    expect(page.locator("article table").first).to_contain_text("级别")    # the three levels first
    table = page.locator("article table", has_text=first.name).first
    expect(table).to_be_visible()
    expect(table).to_contain_text(first.name)
    expect(table).to_contain_text(first.text)
    page.emulate_media(media="print")  # print styles: the page without navigation
    assert not page.locator(".md-header").is_visible()
    assert not page.locator(".md-sidebar--primary").is_visible()
    assert table.is_visible()
    page.emulate_media(media="screen")

    page.goto(srv.url + corpus.default_community.url + "fees/")  # each community's fees page has the calculator
    form = page.locator("#kb-fee-calculator")
    price = form.locator("select[name=item]").input_value()
    form.locator("input[name=area]").fill("100")
    form.locator("input[name=months]").fill("12")
    form.locator("select[name=parking]").select_option(index=0)
    expect(form.locator("output")).to_contain_text(f"合计 {float(price) * 100 * 12:,.2f} 元")
    assert errors == []


@pytest.mark.browser
@pytest.mark.parametrize("engine", ENGINES)
def test_mermaid_renders_from_the_vendored_copy(page, servers, engine):
    loaded: list[str] = []
    page.on("request", lambda r: loaded.append(r.url) if "mermaid.min.js" in r.url else None)
    page.goto(servers[engine].url + "/residents/")
    page.wait_for_load_state("load")
    assert loaded == [], "a page without a diagram does not load the diagram library"
    page.goto(servers[engine].url + "/handbook/03-complaints/")
    # Both themes swap <pre class="mermaid"> for a <div class="mermaid"> holding the diagram in a
    # closed shadow root: the code block is gone and the diagram takes room.
    diagram = page.locator("div.mermaid").first
    expect(diagram).to_be_visible(timeout=20000)
    page.wait_for_function("document.querySelector('div.mermaid').getBoundingClientRect().height > 100", timeout=20000)
    assert page.locator("pre.mermaid").count() == 0
    assert [u.split("/assets/", 1)[1] for u in loaded] == ["vendor/mermaid/mermaid.min.js"]


@pytest.mark.browser
@pytest.mark.parametrize("engine", ENGINES)
def test_feedback_form_and_page_widget(page, servers, engine, errors):
    srv = servers[engine]
    page.goto(srv.url + "/residents/feedback/")
    form = page.locator("#kb-feedback-form")
    expect(form.locator("input[name=idempotency_key]")).not_to_have_value("", timeout=15000)
    form.locator("input[name=type]").first.check()
    community = form.locator("select[name=community]")
    if community.count():  # the company-wide form asks which community (one community: no question)
        community.select_option(index=1)
    form.locator("textarea[name=content]").fill(f"{engine} 构建的站点提交的测试反馈")
    page.locator("#kb-fb-submit").click()
    expect(page.locator("#kb-fb-reference")).to_be_visible(timeout=15000)
    reference = page.locator("#kb-fb-reference").inner_text().strip()

    page.goto(srv.url + "/handbook/03-complaints/")
    widget = page.locator("form.md-feedback")
    expect(widget).to_be_visible(timeout=15000)
    expect(widget).to_contain_text("这一页对您有帮助吗？")
    widget.locator("button[data-md-value='1']").click()
    expect(widget.locator(".kb-pf-status")).to_have_text("已发送，谢谢！", timeout=15000)

    log = httpx.get(srv.url + "/api/improvement-log", params={"limit": 100}, headers=STAFF, timeout=10).json()["entries"]
    assert reference in {e["reference"] for e in log}
    assert any(e["type"] == "page" and e["page"] == "/handbook/03-complaints/" for e in log)
    assert errors == []


@pytest.mark.browser
@pytest.mark.parametrize("engine", ENGINES)
def test_lookup_page_talks_to_the_service(page, servers, engine):
    srv = servers[engine]
    lookup_ready(page, srv.url)
    page.keyboard.type("电梯困人")
    options = page.locator("#kb-lookup-results [role=option]")
    options.first.wait_for(timeout=10000)
    ids = options.evaluate_all("els => els.map(e => e.dataset.id)")
    first = httpx.get(srv.url + "/api/search", params={"q": "电梯困人"}, timeout=10).json()["results"][0]
    assert ids[0] == first["id"]
    page.keyboard.press("Enter")  # opens the first result in place, from /api/scripts/{id}
    expect(page.locator("#kb-lookup-detail h2")).to_have_text(first["title"], timeout=10000)


PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
# what Zensical's search dialog (an open shadow root under <body>) shows: its status line, its
# field's words, and (path, title) of each result
ZENSICAL_RESULTS = """() => {
  const host = [...document.querySelectorAll('body > div')].find(e => e.shadowRoot && e.shadowRoot.querySelector('dialog'));
  const root = host.shadowRoot, input = root.querySelector('input');
  return {status: root.querySelector('[role=status]').textContent, placeholder: input.placeholder,
          labels: [...root.querySelectorAll('[aria-label]')].map(e => e.getAttribute('aria-label')),
          results: [...root.querySelectorAll('a[role=option]')].map(a => [new URL(a.href).pathname, a.querySelector('h2').textContent])};
}"""


@pytest.mark.browser
def test_zensical_search_speaks_chinese_and_answers_residents_first(browser, servers):
    """On a phone, Zensical's search dialog says its words in Chinese (search-zh.js), finds a
    current notice first (the service adds the notices to /search.json) and, for residents, puts
    no staff script or template before a resident page; signed-in staff still find them."""
    srv = servers["zensical"]
    made = httpx.post(srv.url + "/api/notices", headers=STAFF, timeout=10, json={
        "title": "6栋停水通知", "body": "12月9日 9:00-15:00 6栋停水检修，请提前储水。", "valid_until": "2099-12-31"})
    assert made.status_code == 201, made.text
    for pg in local_only_page(browser, bypass_csp=True, **PHONE):    # wait_for_function evaluates a string
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        for query in ("停水", "物业费怎么算", "电梯坏了", "如何报修"):
            pg.goto(srv.url + "/residents/")
            pg.locator("label[for=__search]").first.click()
            box = pg.locator("dialog input").first         # Playwright's CSS goes into the open shadow root
            expect(box).to_be_focused()     # typed before the dialog has focus, keys go nowhere (a busy CI)
            box.press_sequentially(query)
            pg.wait_for_function("() => { try { return /^找到 [0-9]+ 个结果$/.test((" + ZENSICAL_RESULTS + ")().status) }"
                                 " catch (e) { return false } }", timeout=30000)
            seen = pg.evaluate(ZENSICAL_RESULTS)
            assert seen["placeholder"] == "搜索" and "关闭搜索" in seen["labels"], seen
            assert not [w for w in seen["labels"] if re.search("[A-Za-z]{3}", w)], seen["labels"]
            paths = [p for p, _ in seen["results"]]
            assert paths and not paths[0].startswith(("/scripts/", "/templates/", "/staff/")), (query, seen["results"][:5])
            assert not [p for p in paths if p.startswith(("/scripts/", "/templates/"))], (query, paths)
            if query == "停水":
                assert seen["results"][0] == [made.json()["url"], "小区公告 · 全部小区 · 6栋停水通知"], seen["results"][:3]
        assert errors == []
    public = httpx.get(srv.url + "/search.json", timeout=10)
    staff = httpx.get(srv.url + "/search.json", headers=STAFF, timeout=10)
    assert "Cookie" in public.headers["vary"] and public.headers["etag"] != staff.headers["etag"]
    staff_titles = [i["title"] for i in staff.json()["items"]
                    if i["location"].startswith(("scripts/", "templates/")) and "#" not in i["location"]
                    and i["location"] not in ("scripts/", "templates/")]
    assert staff_titles and all(t.startswith(("员工话术 · ", "模板 · ")) for t in staff_titles), staff_titles[:5]
    assert staff.json()["items"][0]["location"] == made.json()["url"].lstrip("/")


@pytest.mark.browser
@pytest.mark.parametrize("engine", ENGINES)
def test_the_search_index_loads_when_the_reader_opens_the_search(browser, servers, engine):
    """A page view does not download the site's search index (300 kB compressed; building it took
    half a page view's CPU): search-on-use.js holds it back until the reader opens the search, in
    either builder's pages; then the search answers as before."""
    srv = servers[engine]
    index = {"mkdocs": "/search/search_index.json", "zensical": "/search.json"}[engine]
    for pg in local_only_page(browser, site_search=True, **PHONE):
        asked: list[str] = []
        pg.on("request", lambda r: urlsplit(r.url).path == index and asked.append(r.url))
        pg.goto(srv.url + "/residents/")
        settle(pg)
        pg.locator("main a").first.focus()      # reading the page: no search yet
        assert asked == [], "the search index was fetched before anyone searched"
        with pg.expect_request(lambda r: urlsplit(r.url).path == index):
            pg.locator("label[for=__search]").first.click()
        if engine == "mkdocs":
            pg.locator("input.md-search__input").press_sequentially("停水")
            expect(pg.locator(".md-search-result__item").first).to_be_visible(timeout=30000)
        else:
            box = pg.locator("dialog input").first
            expect(box).to_be_focused()
            box.press_sequentially("停水")
            expect(pg.locator("dialog a[role=option]").first).to_be_visible(timeout=30000)


def test_zensical_strict_warning_fails_the_build_and_names_the_page(tmp_path):
    pytest.importorskip("zensical")
    from kb_service.build import build_site

    project = copy_project(tmp_path / "p")
    page = project / "docs" / "residents" / "repair.md"
    page.write_text(page.read_text(encoding="utf-8") + "\n见[不存在的页面](no-such-page.md)。\n", encoding="utf-8")
    with pytest.raises(ContentError) as err:
        build_site(settings_for(project, project / "var"), engine="zensical")
    message = str(err.value)
    assert "docs/residents/repair.md" in message and "no-such-page.md" in message, message
    assert "Traceback" not in message

"""The page scripts share one module, docs/assets/javascripts/kbcore.js (window.KB): the site root,
the API address, the DOM builder, fetch + JSON, copying and page views live there once. These
checks fail when a page script grows its own copy again, or hard-codes the API at the host's root
(which breaks a site served under a sub-path); the browser test serves the site under /kb/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kb_service.content.yamldoc import round_trip

from conftest import lookup_ready

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "docs" / "assets" / "javascripts"
TEMPLATES = ROOT / "kb_service" / "web" / "html"
CORE = "assets/javascripts/kbcore.js"
# Loaded by overrides/main.html before the theme's own bundle, which must find it in place: it holds
# back the search index until the reader opens the search (docs/assets/javascripts/search-on-use.js).
BEFORE_THEME = "search-on-use.js"

# What only kbcore.js may do, in the code of a page script (comments left out).
PRIVATE_COPIES = {
    r"\bfunction\s+el\s*\(": "its own el(): use KB.el",
    r"\bfunction\s+clear\s*\(": "its own clear(): use KB.clear",
    r"\bfetch\s*\(": "fetch() of its own: use KB.getJSON / KB.sendJSON",
    r"""["'`]/api/""": "an API address at the host's root: use KB.api(...)",
    r"\bcurrentScript\b": "its own site root: use KB.root / KB.url / KB.path",
    r"__config": "its own site root: use KB.root / KB.url / KB.path",
    r"\bdocument\$": "its own page-view binding: use KB.onPage",
    r"DOMContentLoaded": "its own page-view binding: use KB.onPage",
    r"navigator\.clipboard|execCommand": "its own clipboard code: use KB.copyText",
}


def extra_javascript() -> list[str]:
    config = round_trip().load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    return [str(entry["path"] if isinstance(entry, dict) else entry) for entry in config["extra_javascript"]]


def loaded_by_staff_loader() -> list[str]:
    """The staff tools' scripts staff-loader.js adds on the pages that have their tools."""
    source = (ROOT / "docs" / "assets" / "javascripts" / "staff-loader.js").read_text(encoding="utf-8")
    return [f"assets/javascripts/{name}" for name in re.findall(r'\["([a-z-]+\.js)"', source)]


def page_scripts() -> list[str]:
    listed = [s for s in extra_javascript() if s.startswith("assets/javascripts/") and s != CORE]
    return listed + loaded_by_staff_loader()


def code(path: Path) -> str:
    """The script without its comments (they may well name /api/ or document$)."""
    text = re.sub(r"/\*.*?\*/", "", path.read_text(encoding="utf-8"), flags=re.S)
    return "\n".join(re.sub(r"(^|\s)//.*$", "", line) for line in text.splitlines())


def test_shared_module_is_loaded_before_every_page_script():
    listed = extra_javascript()
    assert CORE in listed, "mkdocs.yml: extra_javascript must list " + CORE
    first = listed.index(CORE)
    assert all(s.startswith("assets/vendor/") for s in listed[:first]), listed[:first]
    assert page_scripts(), "no page scripts listed"
    for script in page_scripts():
        assert (ROOT / "docs" / script).is_file(), script


def test_staff_scripts_are_not_listed_for_every_page():
    """Residents' pages do not download the staff tools (fill, lookup, callrecord)."""
    staff = loaded_by_staff_loader()
    assert {Path(s).name for s in staff} == {"fill.js", "lookup.js", "callrecord.js"}
    assert not set(staff) & set(extra_javascript())
    for script in staff:
        assert (ROOT / "docs" / script).is_file(), script


def test_every_script_in_the_folder_is_listed_or_standalone():
    """A script added to the folder either runs on the site (listed after kbcore.js) or on the
    service's own pages; either way whoever loads it, loads kbcore.js first if it uses KB."""
    listed = {Path(s).name for s in extra_javascript() + loaded_by_staff_loader()}
    templates = "\n".join(p.read_text(encoding="utf-8") for p in TEMPLATES.glob("*.html"))
    theme = (ROOT / "overrides" / "main.html").read_text(encoding="utf-8")
    for path in SCRIPTS.glob("*.js"):
        assert (path.name in listed or f"/assets/javascripts/{path.name}" in templates
                or f"'assets/javascripts/{path.name}'" in theme), path.name
    assert "KB." not in code(SCRIPTS / BEFORE_THEME), "it runs before kbcore.js"


@pytest.mark.parametrize("script", page_scripts() + ["assets/javascripts/service.js"])
def test_page_script_keeps_no_private_copy(script):
    source = code(ROOT / "docs" / script)
    found = [why for pattern, why in PRIVATE_COPIES.items() if re.search(pattern, source)]
    assert not found, f"{script}: " + "; ".join(found)
    assert "innerHTML" not in source or script.endswith("lookup.js"), f"{script}: innerHTML (use KB.el, textContent)"


def test_shared_module_exposes_one_namespace():
    source = code(SCRIPTS / "kbcore.js")
    assert "window.KB = Object.freeze(" in source
    for name in ("root", "url", "path", "api", "el", "clear", "getJSON", "sendJSON", "copyText", "onPage"):
        assert re.search(rf"\b{name}: {name}\b", source), name
    assert "innerHTML" not in source and "insertAdjacentHTML" not in source
    assert not re.search(r"https?://", source), "no outside hosts"


def test_service_pages_load_the_shared_module_before_scripts_that_use_it():
    uses_kb = {p.name for p in SCRIPTS.glob("*.js") if p.name != "kbcore.js" and "KB." in code(p)}
    for template in TEMPLATES.glob("*.html"):
        loaded = re.findall(r'<script[^>]*\bsrc="/assets/javascripts/([^"]+)"', template.read_text(encoding="utf-8"))
        for i, name in enumerate(loaded):
            if name in uses_kb:
                assert "kbcore.js" in loaded[:i], f"{template.name}: {name} needs kbcore.js loaded before it"


def test_built_pages_load_the_shared_module_first(built_project):
    html = (built_project / "site" / "index.html").read_text(encoding="utf-8")
    srcs = re.findall(r'<script[^>]*\bsrc="([^"]*assets/javascripts/[^"]+\.js)"', html)
    ours = {p.name for p in SCRIPTS.glob("*.js")}
    names = [Path(s).name for s in srcs if Path(s).name in ours]   # the theme's bundle is left out
    bundle = next(i for i, s in enumerate(srcs) if Path(s).name.startswith("bundle."))
    assert Path(srcs[0]).name == BEFORE_THEME and bundle == 1, srcs
    names.remove(BEFORE_THEME)
    assert names and names[0] == "kbcore.js", names
    staff = {Path(s).name for s in loaded_by_staff_loader()}
    assert set(Path(s).name for s in page_scripts()) - staff <= set(names)
    assert not staff & set(names), "the staff tools' scripts are not on a resident page"


# -- in Chromium, the site served under a sub-path -------------------------------------------------

PREFIX = "/kb"


@pytest.mark.browser
def test_lookup_and_call_record_work_under_a_sub_path(page, server):
    """https://host/kb/ in front of `kb serve`: every request the pages make stays under /kb/
    (a request to the host's /api/... is refused here and fails the test)."""
    stray: list[str] = []

    def proxy(route):
        path = route.request.url[len(server.url):]
        if path == PREFIX or path.startswith(PREFIX + "/"):
            route.fulfill(response=route.fetch(url=server.url + (path[len(PREFIX):] or "/")))
        else:
            stray.append(path)
            route.abort()

    page.route(server.url + "/**", proxy)
    page.goto(server.url + PREFIX + "/staff/lookup/")
    assert page.evaluate("KB.root") == server.url + PREFIX + "/"
    assert page.evaluate("KB.api('search')") == server.url + PREFIX + "/api/search"

    lookup_ready(page)
    page.keyboard.type("停水")
    option = page.locator("#kb-lookup-results [role=option]").first
    option.wait_for(timeout=10000)
    assert option.locator("a.kb-lookup-hit").get_attribute("href").startswith(PREFIX + "/")
    script_id = option.get_attribute("data-id")
    page.keyboard.press("Enter")
    page.locator("#kb-lookup-detail .kb-lookup-say").first.wait_for(timeout=10000)
    assert script_id in page.locator("#kb-lookup-detail").inner_text()
    # callrecord.js read the record settings from /kb/api/lookup and added its panel
    page.locator("#kb-call-open").wait_for(timeout=10000)
    assert not stray, f"requests outside {PREFIX}/: {stray}"

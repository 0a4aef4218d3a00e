"""`kb serve --reload` (make preview): an edit shows up in the open page without a manual reload,
and the API's values follow; outside preview mode none of it is there."""

from __future__ import annotations

import time

import httpx
import pytest
from starlette.testclient import TestClient

from kb_service.content.load import load_corpus
from kb_service.web.pages import preview
from kb_service.web.app import create_app

from conftest import Server, copy_built, copy_project, set_duration, settings_for

BUILD_TIMEOUT = 240   # seconds; a loaded two-core machine needs most of it for the first build


def test_snapshot_sees_edits_in_every_watched_place(tmp_path):
    project = copy_project(tmp_path / "p")
    before = preview.snapshot(project)
    assert "mkdocs.yml" in before and any(k.startswith("docs/") for k in before)
    assert any(k.startswith("snippets/scripts/") for k in before) and any(k.startswith("overrides/") for k in before)
    (project / "docs" / "index.md").write_text("# 新首页\n", encoding="utf-8")
    (project / "snippets" / "scripts" / "new.yaml").write_text("id: x\n", encoding="utf-8")
    assert preview.changed_files(before, preview.snapshot(project)) == ["docs/index.md", "snippets/scripts/new.yaml"]


def test_preview_mode_only(built_project, tmp_path):
    base = dict(KB_DATABASE_URL=f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    s = settings_for(built_project, built_project / "var", **base)
    with TestClient(create_app(s)) as plain:
        assert preview.SCRIPT_TAG.decode() not in plain.get("/").text
        r = plain.get("/api/build-status")
        assert r.status_code == 404 and r.json()["error"]
    with TestClient(create_app(s, preview=True)) as live:
        home = live.get("/")
        assert home.status_code == 200 and home.text.count(preview.SCRIPT_TAG.decode()) == 1
        assert "etag" not in home.headers and home.headers["cache-control"] == "no-store"
        js = live.get("/api/preview.js")
        assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
        status = live.get("/api/build-status").json()
        assert status["version"] == 0 and status["state"] == "ok"
        assert live.get("/api/build-status?epoch=x").json()["field"] == "epoch"   # declared: a number or nothing
        assert preview.SCRIPT_TAG.decode() not in live.get("/api/health").text


@pytest.fixture
def live_server(built_project, tmp_path):
    project = copy_built("project", tmp_path / "p")   # built: the server starts without a build
    server = Server(project, project / "var", args=("--reload",)).wait(BUILD_TIMEOUT)
    # Edits start once the preview is warm (an edit during the warm-up is built by it, and the
    # rebuild the edit then causes finds nothing left to do: mode "none").
    status = httpx.get(server.url + "/api/build-status").json()
    while not status["ready"]:
        status = httpx.get(f"{server.url}/api/build-status?epoch={status['epoch']}", timeout=60).json()
    try:
        yield project, server.url
    finally:
        server.stop()


def _edit_script(project) -> tuple[str, str]:
    corpus, _ = load_corpus(project / "snippets")
    first = corpus.scripts["complaint.intake"].steps[0]["say"]
    path = project / "snippets" / "scripts" / "complaint.intake.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(first, first + "预览跟随测试", 1), encoding="utf-8")
    return "/scripts/complaint.intake/", "预览跟随测试"


def _edit_standard(project) -> tuple[str, str]:
    corpus, _ = load_corpus(project / "snippets")
    set_duration(project, "complaint.response", corpus.standards["complaint.response"].duration * 2 + 1)
    edited, _ = load_corpus(project / "snippets")
    return "/scripts/complaint.intake/", edited.standards["complaint.response"].text


def _edit_chapter(project) -> tuple[str, str]:
    path = project / "docs" / "handbook" / "03-complaints.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n预览跟随测试段落。\n", encoding="utf-8")
    return "/handbook/03-complaints/", "预览跟随测试段落"


def test_page_follows_an_edit_without_a_manual_reload(live_server, page):
    """Edit a script, a standard in standards.yaml and a handbook chapter: each time the open page
    shows the new text by itself (the page is not reloaded by the test), only the pages the edit
    shows up on are rendered again, and the API answers with the new values too."""
    project, url = live_server
    pages = {"script": "scripts/complaint.intake.md", "standard": "residents/complaint.md",
             "chapter": "handbook/03-complaints.md"}
    for name, edit in (("script", _edit_script), ("standard", _edit_standard), ("chapter", _edit_chapter)):
        where = {"chapter": "/handbook/03-complaints/"}.get(name, "/scripts/complaint.intake/")
        with page.expect_response(lambda r: "/api/build-status" in r.url):   # the preview script runs
            page.goto(url + where)
        page.evaluate("window.kbMarker = 'not reloaded yet'")
        saved = time.monotonic()
        shown_on, new_text = edit(project)
        assert shown_on == where
        page.wait_for_function("t => !!document.body && document.body.innerText.includes(t)", arg=new_text,
                               timeout=BUILD_TIMEOUT * 1000)
        visible = time.monotonic() - saved
        assert page.evaluate("window.kbMarker === undefined"), name     # the page reloaded itself
        status = httpx.get(url + "/api/build-status").json()
        assert status["state"] == "ok" and status["mode"] == "pages", (name, status)
        assert pages[name] in status["pages"] and "index.md" not in status["pages"], (name, status)
        print(f"{name}: save-to-visible {visible:.2f} s (rebuild {status['seconds']} s, {len(status['pages'])} pages)")
        if name == "standard":
            body = httpx.get(url + "/api/scripts/complaint.intake").json()
            assert {c["id"]: c["text"] for c in body["commitments"]}["complaint.response"] == new_text
            assert new_text in body["avoid"][0]["instead"] or new_text in str(body["steps"])
    assert status["version"] >= 3

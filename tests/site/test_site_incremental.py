"""The preview's incremental site build (build.update_site, site/incremental.py): an edit re-renders
only the pages it shows up on, and the site is then the one a full build writes, byte for byte;
what changes the navigation is a full build."""

from __future__ import annotations

import json

from kb_service.build import build_site, update_site
from kb_service.content.load import require_corpus
from kb_service.site import incremental
from kb_service.site.generate import Staged

from conftest import copy_built, set_duration, settings_for


def _files(folder) -> dict[str, bytes]:
    """The builder's files (not kb build's stamp, a dot-file at the top that the preview keeps)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not (p.parent == folder and p.name.startswith("."))}


def test_edits_rebuild_only_their_pages_and_give_the_full_build(built_project, tmp_path):
    project = copy_built("project", tmp_path / "p")
    settings = settings_for(project, project / "var")
    # kb build leaves its output and what it rendered in the staged folder: the base to build on
    state = incremental.read_state(Staged(settings.staged_dir, settings.staged_dir / "mkdocs.yml", []))
    assert state["engine"] == "mkdocs" and state["pages"]["handbook/03-complaints.md"][0]

    def update():
        return update_site(settings, require_corpus(settings.snippets_dir))

    assert update().mode == "none"          # kb build's output is the base: nothing to do

    chapter = project / "docs" / "handbook" / "03-complaints.md"
    chapter.write_text(chapter.read_text(encoding="utf-8") + "\n预览增量测试段落。\n", encoding="utf-8")
    done = update()
    assert (done.mode, done.pages) == ("pages", ["handbook/03-complaints.md"])
    assert "预览增量测试段落" in (settings.site_dir / "handbook" / "03-complaints" / "index.html").read_text(encoding="utf-8")

    script = project / "snippets" / "scripts" / "complaint.intake.yaml"
    corpus = require_corpus(settings.snippets_dir)
    first = corpus.scripts["complaint.intake"].steps[0]["say"]
    script.write_text(script.read_text(encoding="utf-8").replace(first, first + "增量测试话术", 1), encoding="utf-8")
    done = update()
    assert (done.mode, done.pages) == ("pages", ["scripts/complaint.intake.md"])

    sid = "complaint.response"
    set_duration(project, sid, corpus.standards[sid].duration * 2 + 1)
    done = update()
    assert done.mode == "pages" and {"residents/complaint.md", "handbook/03-complaints.md"} <= set(done.pages)
    assert "index.md" not in done.pages
    new_text = require_corpus(settings.snippets_dir).standards[sid].text
    assert new_text in (settings.site_dir / "residents" / "complaint" / "index.html").read_text(encoding="utf-8")

    # The same inputs built from scratch: every file the same, the search index included.
    incremental_site = _files(settings.site_dir)
    build_site(settings)
    full_site = _files(settings.site_dir)
    assert sorted(incremental_site) == sorted(full_site)
    assert [name for name in full_site if incremental_site[name] != full_site[name]] == []

    # A new title is in other pages' navigation (its section's pages, the neighbours' footer), and a
    # page removed leaves the navigation too: one full build (test_full_build_reason has each
    # reason on its own), the new title everywhere and the removed page's output gone.
    text = chapter.read_text(encoding="utf-8")
    title = text.splitlines()[0]
    chapter.write_text(text.replace(title, title + "（修订）", 1), encoding="utf-8")
    (project / "docs" / "editors" / "deploy.md").unlink()
    mkdocs_yml = project / "mkdocs.yml"
    mkdocs_yml.write_text(mkdocs_yml.read_text(encoding="utf-8").replace("      - 部署与运维: editors/deploy.md\n", ""),
                          encoding="utf-8")
    done = update()
    assert done.mode == "full" and done.reason
    nav = (settings.site_dir / "handbook" / "index.html").read_text(encoding="utf-8")
    assert title[2:] + "（修订）" in nav
    assert not (settings.site_dir / "editors" / "deploy").exists()


def test_full_build_reason(tmp_path):
    staged = Staged(tmp_path, tmp_path / "mkdocs.yml", ["index.md", "a.md"])
    assert incremental.full_build_reason(staged, "mkdocs")            # no previous output
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<html></html>")
    incremental.write_state(staged, "mkdocs", {"index.md": ["首页", {}], "a.md": ["甲", {}]})
    assert incremental.full_build_reason(staged, "mkdocs") is None
    assert incremental.full_build_reason(staged, "zensical")          # Zensical: always full
    staged.changed = {"docs/a.md": b"# old\n", "docs/assets/x.css": None}
    assert incremental.full_build_reason(staged, "mkdocs") is None    # a page edited, an asset added
    for changed, removed in (({"mkdocs.yml": b""}, []), ({"overrides/main.html": b""}, []),
                             ({"docs/b.md": None}, []), ({}, ["docs/assets/x.css"])):
        staged.changed, staged.removed = changed, removed
        assert incremental.full_build_reason(staged, "mkdocs"), (changed, removed)
    staged.changed, staged.removed, staged.pages = {}, [], ["index.md", "a.md", "c.md"]
    assert incremental.full_build_reason(staged, "mkdocs")            # a page the last build did not have
    incremental.clear_state(staged)
    staged.pages = ["index.md", "a.md"]
    assert incremental.full_build_reason(staged, "mkdocs")            # a failed build leaves no state


def test_search_index_sections_of_rebuilt_pages_replace_theirs_in_place():
    def doc(location, text):
        return {"location": location, "title": location, "text": text}

    previous = {"config": {"lang": ["zh"]}, "docs": [
        doc("", "首页"), doc("#x", "首页 x"), doc("a/", "旧 a"), doc("a/#1", "旧 a1"), doc("a/#2", "旧 a2"),
        doc("ab/", "ab"), doc("b/", "b")]}
    new = {"config": {"lang": ["zh"], "separator": "s"}, "docs": [doc("a/", "新 a"), doc("a/#3", "新 a3"), doc("", "新首页")]}
    merged = incremental.merge_search_index(previous, new, {"a/", ""})
    assert [d["text"] for d in merged["docs"]] == ["新首页", "新 a", "新 a3", "ab", "b"]
    assert merged["config"] == new["config"]
    added = incremental.merge_search_index(previous, {"config": {}, "docs": [doc("c/", "c")]}, {"c/"})
    assert [d["location"] for d in added["docs"]][-1] == "c/" and len(added["docs"]) == 8
    json.dumps(merged)

"""`kb build` / the build step of `kb serve`: rebuild only what is stale."""

import json

import pytest

from kb_service import build as build_module
from kb_service.errors import ContentError

from conftest import copy_built, settings_for


def test_fresh_build_is_not_loaded_or_checked_again(built_project, monkeypatch):
    """With both stamps matching the inputs, the start-up build step does no content work
    (the service loads the content once itself); a stale output still gets the full check."""
    def no_content(*args, **kwargs):
        raise ContentError("content loaded")

    monkeypatch.setattr(build_module, "require_corpus", no_content)
    settings = settings_for(built_project, built_project / "var")
    report = build_module.build(settings, force=False)
    assert not report.site_built and not report.index_built
    with pytest.raises(ContentError):
        build_module.build(settings, force=True)


def test_a_content_change_renders_only_its_pages_and_a_code_change_everything(built_project, tmp_path):
    """`kb serve`'s build step after an edit (not `kb build`): the pages the edit shows up on, as
    the preview renders them; a site built by other code (its stamp's `code`) is built again whole."""
    project = copy_built("project", tmp_path / "p")
    settings = settings_for(project, project / "var")
    chapter = project / "docs" / "handbook" / "03-complaints.md"
    chapter.write_text(chapter.read_text(encoding="utf-8") + "\n启动时增量构建段落。\n", encoding="utf-8")
    report = build_module.build(settings, force=False)
    assert report.site_built and report.rendered == ["handbook/03-complaints.md"], report.summary()
    assert "重新生成 1 个页面" in report.summary()
    assert "启动时增量构建段落" in (settings.site_dir / "handbook" / "03-complaints" / "index.html").read_text(encoding="utf-8")
    assert not build_module.build(settings, force=False).site_built    # stamped: nothing left stale

    stamp = settings.site_dir / build_module.STAMP
    stamp.write_text(json.dumps({**json.loads(stamp.read_text()), "code": "another version"}))
    chapter.write_text(chapter.read_text(encoding="utf-8") + "\n第二段。\n", encoding="utf-8")
    report = build_module.build(settings, force=False)
    assert report.site_built and report.rendered is None and "站点已构建" in report.summary()
    assert report.pages == sum(1 for _ in settings.site_dir.rglob("index.html"))

"""`kb build` / the build step of `kb serve`: rebuild only what is stale."""


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


def test_only_a_site_this_code_built_is_updated_page_by_page(built_project, tmp_path):
    """`kb serve`'s build step after a content change re-renders only the pages it shows up on
    (kb export-log: tests/feedback/test_public_log.py), but only on a site this code built."""
    project = copy_built("project", tmp_path / "p")
    settings = settings_for(project, project / "var")
    code = build_module.fingerprint(settings, globs=build_module.CODE_GLOBS)
    assert build_module.can_update_site(settings, code)               # kb build stamped it
    assert not build_module.can_update_site(settings, code + "0")     # the next version of kb_service
    (settings.site_dir / "index.html").unlink()
    assert not build_module.can_update_site(settings, code)

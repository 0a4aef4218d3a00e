"""`kb build` / the build step of `kb serve`: rebuild only what is stale."""

import pytest

from kb_service import build as build_module
from kb_service.errors import ContentError

from conftest import settings_for


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

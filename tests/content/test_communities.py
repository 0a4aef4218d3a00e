"""Communities as data: snippets/communities/<id>.yaml loaded, checked at path:line:col, formatted,
and the pages generated from them (one community: no selector anywhere)."""

from __future__ import annotations

import datetime as dt
import shutil
from functools import cache
from pathlib import Path

import pytest

from kb_service.content import filling
from kb_service.content.fmt import format_files
from kb_service.content.lint import lint
from kb_service.content.load import load_corpus
from kb_service.errors import ValidationFailed
from kb_service.site import communities as pages_for
from kb_service.site import community_view
from kb_service.site import pages

from conftest import ROOT, copy_project, keep_one_community, settings_for


@pytest.fixture
def project(tmp_path) -> Path:
    return copy_project(tmp_path / "p")


def problems(project: Path) -> list[str]:
    return [str(p) for p in lint(settings_for(project, project / "var"))]


def edit(path: Path, old: str, new: str) -> int:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return line


@cache
def shipped():
    """The repository's content, loaded when a test first asks: at import it cost every pytest
    process (the controller and each worker) seconds of YAML parsing while collecting."""
    corpus, problems = load_corpus(ROOT / "snippets")
    assert corpus is not None, problems
    return corpus


# -- data -----------------------------------------------------------------------------------------

def test_shipped_communities_are_marked_examples():
    assert len(shipped().communities) >= 2
    for c in shipped().communities.values():
        assert c.example and c.label.endswith("（示例）")
        assert c.households > 0 and c.buildings and c.fees["items"]
        assert c.url == f"/communities/{c.id}/"
    assert shipped().default_community.id == (shipped().site.default_community or min(shipped().communities))
    assert not shipped().single_community


def test_company_wide_settings_stay_in_site_yaml():
    assert not (ROOT / "snippets" / "fees.yaml").exists()
    assert shipped().site.fee_disclosure and shipped().site.company_short


def test_unknown_key_and_wrong_id_are_reported_at_their_place(project):
    path = project / "snippets" / "communities" / f"{shipped().default_community.id}.yaml"
    line = edit(path, "households:", "flats: 3\nhouseholds:")
    found = problems(project)
    assert any(p.startswith(f"snippets/communities/{path.name}:{line}:1: 未知的键 'flats'") for p in found), found


def test_cross_file_rules(project):
    c = shipped().default_community
    path = project / "snippets" / "communities" / f"{c.id}.yaml"
    building = c.buildings[0].name
    line = edit(path, f"id: {c.id}\n", "id: other-id\n")
    edit(path, f"  - name: {c.buildings[1].name}\n", f"  - name: {building}\n")
    found = problems(project)
    assert any(p.startswith(f"snippets/communities/{path.name}:{line}:5: 小区编号 'other-id' 与文件名") for p in found), found
    assert any(f"楼栋 {building} 重复" in p for p in found), found


def test_default_community_must_exist(project):
    edit(project / "snippets" / "site.yaml", f"default_community: {shipped().site.default_community}",
         "default_community: nowhere")
    assert any(p.startswith("snippets/site.yaml:") and "default_community 'nowhere'" in p for p in problems(project))


def test_no_community_at_all_is_an_error(project):
    shutil.rmtree(project / "snippets" / "communities")
    (project / "snippets" / "communities").mkdir()
    edit(project / "snippets" / "site.yaml", f"default_community: {shipped().site.default_community}\n", "")
    assert any(p.startswith("snippets/communities:1:1: 至少要有一个小区") for p in problems(project))


def test_fmt_orders_community_files_and_keeps_comments(project):
    path = project / "snippets" / "communities" / f"{shipped().default_community.id}.yaml"
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    households = next(line for line in lines if line.startswith("households:"))
    lines.remove(households)
    lines.append("# 注释要保留\n" + households)
    path.write_text("".join(lines), encoding="utf-8")
    assert format_files(project / "snippets", check=True) == [path]    # of every file, only this one
    communities = {p.resolve() for p in path.parent.glob("*.yaml")}
    assert format_files(project / "snippets", only=communities) == [path]
    after = path.read_text(encoding="utf-8")
    assert after.index("households:") < after.index("buildings:") and "# 注释要保留" in after
    corpus, found = load_corpus(project / "snippets")
    assert corpus is not None and corpus.communities == shipped().communities
    assert format_files(project / "snippets", only=communities) == []


# -- template filling knows the community ---------------------------------------------------------

def _building_template():
    return next(t for t in shipped().templates.values() if any(f["type"] == "building" for f in t.fields))


def test_buildings_validate_against_the_chosen_community():
    template = _building_template()
    field = next(f for f in template.fields if f["type"] == "building")
    a, b = sorted(shipped().communities.values(), key=lambda c: len(c.buildings))[:2]
    only_b = next(x.name for x in b.buildings if x.name not in {y.name for y in a.buildings})
    raw = {**filling.examples(template), field["name"]: only_b}
    now = dt.datetime(2026, 12, 1, 9, 0)
    filling.resolve(template, raw, shipped(), now=now, community=b)
    with pytest.raises(ValidationFailed) as exc:
        filling.resolve(template, raw, shipped(), now=now, community=a)
    assert a.name in exc.value.errors[0]["message"]


def test_computed_settings_come_from_the_community():
    template = next(t for t in shipped().templates.values()
                    if any(f.get("computed", {}).get("key") == "hotline" for f in t.fields))
    name = next(f["name"] for f in template.fields if f.get("computed", {}).get("key") == "hotline")
    for c in shipped().communities.values():
        raw = {**filling.examples(template)}
        for f in template.fields:
            if f["type"] == "building" and "computed" not in f:
                raw[f["name"]] = c.buildings[0].name
        values = filling.resolve(template, raw, shipped(), now=dt.datetime(2026, 12, 1, 9), community=c)
        assert values[name] == c.hotline


# -- pages ------------------------------------------------------------------------------------------

def render(corpus, uri):
    title, text = pages_for.page_markdown(corpus, uri)
    return title, community_view.to_html(corpus, uri, text)


def test_every_community_gets_its_pages():
    shells = pages.generated_pages(shipped(), now=dt.datetime(2026, 12, 1, 9))
    assert pages_for.INDEX in shells and pages_for.SLOT in shells[pages_for.INDEX]
    assert not any(f"communities/{cid}/" in uri for uri in shells for cid in shipped().communities)
    _, index = render(shipped(), pages_for.INDEX)
    for c in shipped().communities.values():
        assert c.name in index and c.url in index
        for page in pages_for.PAGES:
            assert pages_for.page_uri(pages_for.SHELL, page) in shells
            assert pages_for.page_markdown(shipped(), pages_for.page_uri(c, page)) is not None
        _, fees = render(shipped(), pages_for.page_uri(c, "fees"))
        assert c.fees["items"][0]["unit_price"] in fees and 'id="kb-fee-calculator"' in fees
        assert shipped().site.fee_disclosure[0] in fees and "<table>" in fees
        title, landing = render(shipped(), pages_for.page_uri(c))
        assert title == c.label and c.hotline in landing and c.office_hours in landing and "全公司统一" in landing
        _, form = render(shipped(), pages_for.page_uri(c, "feedback"))
        assert f'name="community" value="{c.id}"' in form
    assert pages_for.page_markdown(shipped(), "communities/atlantis/fees.md") is None
    assert pages_for.page_markdown(shipped(), pages_for.page_uri(shipped().default_community, "nope")) is None


def test_feedback_form_is_preset_on_a_community_page_and_asks_elsewhere():
    c = shipped().default_community
    preset = pages.feedback_form(shipped(), {"src": pages_for.page_uri(c, "feedback")})
    assert f'name="community" value="{c.id}"' in preset and "<select" not in preset.split('id="kb-fb-type"')[0]
    general = pages.feedback_form(shipped(), {"src": "residents/feedback.md"})
    assert 'name="community" required' in general
    for other in shipped().communities.values():
        assert f'value="{other.id}"' in general


def test_one_community_means_no_selector_anywhere(project):
    keep = keep_one_community(project)
    corpus, _ = load_corpus(project / "snippets")
    assert corpus.single_community and list(corpus.communities) == [keep]
    for src in ("residents/feedback.md", pages_for.page_uri(keep, "feedback")):
        assert 'name="community"' not in pages.feedback_form(corpus, {"src": src})
    assert "其他小区" not in render(corpus, pages_for.page_uri(keep))[1]
    assert "<table" not in render(corpus, pages_for.INDEX)[1]

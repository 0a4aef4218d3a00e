import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest

from kb_service.content.load import load_corpus

from conftest import CONTENT_ROOT, copy_project, set_duration, settings_for

CSV_SCENARIOS = "scenarios.tsv"


def test_every_snippet_has_a_page(built_project):
    corpus, _ = load_corpus(built_project / "snippets")
    for snippet in corpus.snippets.values():
        page = built_project / "site" / snippet.url.strip("/") / "index.html"
        assert page.exists(), snippet.id
        html = page.read_text(encoding="utf-8")
        assert snippet.id in html  # staff quote the id in tickets


def test_no_request_to_outside_hosts(built_project):
    pattern = re.compile(r'<(?:script|link|img|iframe)[^>]+(?:src|href)="(https?:)?//(?!127\.0\.0\.1)[^"]+"')
    for page in (built_project / "site").rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert not pattern.search(html), page
        assert "fonts.googleapis" not in html and "fonts.gstatic" not in html, page


def test_mermaid_is_served_locally_and_only_loaded_for_a_diagram(built_project):
    site = built_project / "site"
    html = (site / "handbook" / "03-complaints" / "index.html").read_text(encoding="utf-8")
    assert 'class="mermaid"' in html
    # Pages carry the stand-in that loads the vendored copy when a diagram is drawn
    # (tests/site/test_site_engines.py draws one), not the 3.5 MB library itself.
    assert "assets/javascripts/mermaid-lazy.js" in html and "mermaid.min.js" not in html
    assert "assets/vendor/mermaid/mermaid.min.js" in (site / "assets" / "javascripts" / "mermaid-lazy.js").read_text()
    assert (site / "assets" / "vendor" / "mermaid" / "mermaid.min.js").stat().st_size > 1_000_000


def test_handbook_links_to_scripts_resolve(built_project):
    html = (built_project / "site" / "handbook" / "03-complaints" / "index.html").read_text(encoding="utf-8")
    assert "snippet:" not in html
    assert "../../scripts/complaint.intake/" in html


def test_standards_page_is_rendered_from_data(built_project):
    corpus, _ = load_corpus(built_project / "snippets")
    from kb_service.site.pages import for_residents

    html = (built_project / "site" / "residents" / "standards" / "index.html").read_text(encoding="utf-8")
    staff = (built_project / "site" / "staff" / "index.html").read_text(encoding="utf-8")
    for s in corpus.standards.values():
        assert s.name in staff and s.text in staff, s.id       # the full table, on the staff page
        if for_residents(s):
            assert s.name in html and s.text in html, s.id
        else:                                                  # record-keeping periods: staff only
            assert s.name not in html, s.id
    assert any(not for_residents(s) for s in corpus.standards.values())
    assert "kb:standards" not in html and "kb:standards" not in staff
    # residents read the three-level repair table first, then the other commitments
    assert html.index("报修和紧急情况分三级") < html.index(next(iter(corpus.standards.values())).name + "</td>")


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def test_resident_pages_take_commitments_from_standards_yaml(tmp_path):
    """Change standards.yaml, stage again: every `[[std:<id>]]` of the hand-written pages says the
    new number and the old one is gone (the numbers are read from the content, never typed here).
    The values are expanded in the staged Markdown that any builder renders as it is (see
    test_site_engines.py), so the builder itself is not run here."""
    from kb_service.site.generate import DOCS, stage

    project = copy_project(tmp_path / "p")
    before, _ = load_corpus(project / "snippets")
    ids = ("complaint.response", "complaint.reply", "repair.arrival")
    for sid in ids:
        set_duration(project, sid, before.standards[sid].duration + 1)
    after, _ = load_corpus(project / "snippets")
    staged = stage(project, settings_for(project, project / "var").staged_dir, after)
    pages = {"residents/complaint.md": ("complaint.response", "complaint.reply"),
             "residents/repair.md": ("repair.arrival",), "handbook/03-complaints.md": ("complaint.response", "complaint.reply")}
    for src, used in pages.items():
        markdown = (project / "docs" / src).read_text(encoding="utf-8")
        text = _text((staged.root / DOCS / src).read_text(encoding="utf-8"))
        assert "[[std:" not in text, src
        for sid in used:
            refs = markdown.count(f"[[std:{sid}]]")
            assert refs, (src, sid)   # the page still cites it (else pick another page here)
            assert text.count(after.standards[sid].text) >= refs, (src, sid)
            old = before.standards[sid].text
            if not any(s.text == old for s in after.standards.values()):
                assert old not in text, (src, sid)


def test_staging_again_rewrites_only_what_changed(tmp_path):
    """Staging writes a file only when its bytes change: the others keep their times (MkDocs'
    dirty build, used by the preview, re-renders a page only when its source is newer than its
    output), and the Staged result names what changed. A standard's new value changes every page
    that quotes it and nothing else."""
    import os

    from kb_service.site.generate import stage

    project = copy_project(tmp_path / "p")
    dest = settings_for(project, project / "var").staged_dir
    corpus, _ = load_corpus(project / "snippets")
    first = stage(project, dest, corpus)
    assert "mkdocs.yml" in first.changed and first.changed["docs/index.md"] is None and not first.removed
    old = 1_000_000_000_000_000_000        # 2001, in ns: anything rewritten gets a newer time
    files = [p for p in dest.rglob("*") if p.is_file()]
    for path in files:
        os.utime(path, ns=(old, old))

    def rewritten() -> set[str]:
        return {p.relative_to(dest).as_posix() for p in files if p.stat().st_mtime_ns != old}

    again = stage(project, dest, corpus)
    assert again.changed == {} and again.removed == [] and rewritten() == set()

    chapter = project / "docs" / "handbook" / "03-complaints.md"
    before = (dest / "docs" / "handbook" / "03-complaints.md").read_bytes()
    chapter.write_text(chapter.read_text(encoding="utf-8") + "\n新加的一段。\n", encoding="utf-8")
    edited = stage(project, dest, corpus)
    assert edited.changed == {"docs/handbook/03-complaints.md": before}
    assert rewritten() == {"docs/handbook/03-complaints.md"}

    sid = "complaint.response"
    set_duration(project, sid, corpus.standards[sid].duration + 1)
    after, _ = load_corpus(project / "snippets")
    quoting = {rel for rel in first.changed if rel.endswith(".md")
               and corpus.standards[sid].text in (dest / rel).read_text(encoding="utf-8")}
    by_standard = stage(project, dest, after)
    assert "docs/residents/complaint.md" in by_standard.changed and "docs/index.md" not in by_standard.changed
    assert set(by_standard.changed) <= quoting
    assert rewritten() == set(by_standard.changed) | {"docs/handbook/03-complaints.md"}

    chapter.unlink()
    assert stage(project, dest, after).removed == ["docs/handbook/03-complaints.md"]


def test_no_hand_typed_commitments_in_pages():
    """Commitment numbers on hand-written pages come from standards.yaml via [[std:<id>]].

    The editors' guide is left out (it shows typed numbers as examples of what not to write), and
    so is residents/feedback.md (being rewritten separately)."""
    from kb_service.content.model import UNIT_TEXT

    corpus, _ = load_corpus(CONTENT_ROOT / "snippets")
    typed = re.compile("|".join(sorted({rf"(?<!\d){s.duration}\s*{UNIT_TEXT[s.unit]}"
                                        for s in corpus.standards.values()})))
    docs = CONTENT_ROOT / "docs"
    pages = [p for p in docs.rglob("*.md") if p.relative_to(docs).parts[0] != "editors"
             and p.relative_to(docs).as_posix() != "residents/feedback.md"]
    assert any(p.name == "repair.md" for p in pages)
    for page in pages:
        for lineno, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            assert not typed.search(line), f"{page.relative_to(CONTENT_ROOT)}:{lineno}: {line}"


def test_unknown_standard_fails_the_strict_build(tmp_path):
    from kb_service.build import build_site
    from kb_service.errors import ContentError

    project = copy_project(tmp_path / "p")
    page = project / "docs" / "residents" / "repair.md"
    page.write_text(page.read_text(encoding="utf-8") + "\n师傅 [[std:repair.nope]]内上门。\n", encoding="utf-8")
    with pytest.raises(ContentError) as err:
        build_site(settings_for(project, project / "var"))
    assert "repair.nope" in str(err.value)


class _PrimaryNavLinks(HTMLParser):
    """hrefs of the links inside Material's primary (left) navigation."""

    def __init__(self):
        super().__init__()
        self.depth = 0  # nesting of <nav> elements inside the primary nav
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "nav" and (self.depth or "md-nav--primary" in (attrs.get("class") or "").split()):
            self.depth += 1
        elif tag == "a" and self.depth and attrs.get("href"):
            self.hrefs.append(attrs["href"])

    def handle_endtag(self, tag):
        if tag == "nav" and self.depth:
            self.depth -= 1


def test_every_page_is_reachable_from_the_navigation(built_project):
    """Clicking through the primary navigation from the home page reaches every page (each page
    carries only its own section's items: navigation.prune)."""
    site = built_project / "site"
    reachable, todo = set(), ["index.html"]
    while todo:
        page = todo.pop()
        if page in reachable or not (site / page).is_file():
            continue
        reachable.add(page)
        parser = _PrimaryNavLinks()
        parser.feed((site / page).read_text(encoding="utf-8"))
        for href in parser.hrefs:
            path = urlsplit(urljoin("http://site/" + page, href)).path.removeprefix("/")
            todo.append(path + "index.html" if path.endswith("/") or not path else path)
    built = {p.relative_to(site).as_posix() for p in site.rglob("*.html")
             if p.name != "404.html" and p.relative_to(site).parts[0] not in ("search", "assets")
             and p.relative_to(site).parts[:2] != ("communities", "_shell")}   # shells the service fills
    corpus, _ = load_corpus(built_project / "snippets")
    assert len(built) > len(corpus.snippets)  # generated pages are among them
    assert built - reachable == set()

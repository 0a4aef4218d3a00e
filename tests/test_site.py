import re

from kb_service.content import load_corpus

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


def test_mermaid_is_served_locally(built_project):
    html = (built_project / "site" / "handbook" / "03-complaints" / "index.html").read_text(encoding="utf-8")
    assert 'class="mermaid"' in html
    assert "assets/vendor/mermaid/mermaid.min.js" in html


def test_handbook_links_to_scripts_resolve(built_project):
    html = (built_project / "site" / "handbook" / "03-complaints" / "index.html").read_text(encoding="utf-8")
    assert "snippet:" not in html
    assert "../../scripts/complaint.intake/" in html


def test_standards_page_is_rendered_from_data(built_project):
    html = (built_project / "site" / "residents" / "standards" / "index.html").read_text(encoding="utf-8")
    assert "投诉首次响应" in html and "24小时" in html
    assert "kb:standards" not in html

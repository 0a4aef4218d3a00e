"""Rules of the corpus that a compliance reviewer would otherwise check by reading: commitments
by tier, legal references only through laws.yaml, and the 法规依据 page listing every citation."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from conftest import ROOT, copy_project
from kb_service.content.load import load_corpus
from kb_service.site.laws import citations, laws_page


@pytest.fixture(scope="module")
def corpus():
    c, problems = load_corpus(ROOT / "snippets")
    assert c is not None, problems
    return c


def texts(snippet) -> str:
    return "\n".join(str(v) for step in snippet.data.get("steps", []) for v in step.values())


def test_the_first_response_standard_is_never_promised_as_an_arrival_time(corpus):
    # emergency.first-response is the deadline of the first notice to residents; going on site
    # has its own tiers (emergency.on-site, repair.urgent-arrival, repair.arrival).
    for s in corpus.scripts.values():
        assert not re.search(r"\{emergency\.first-response\}内?(到场|上门|赶到)", texts(s)), s.id


def test_emergencies_promise_the_emergency_tier(corpus):
    for sid in ("emergency.elevator-entrapment", "emergency.fire", "emergency.gas-leak"):
        script = corpus.scripts[sid]
        assert "emergency.on-site" in script.commitments, sid
        assert "{repair.arrival}" not in texts(script), sid


def test_a_dripping_ceiling_is_an_urgent_repair(corpus):
    script = corpus.scripts["complaint.water-leak-neighbor"]
    assert "{repair.urgent-arrival}" in texts(script)
    say = " ".join(step.get("say", "") for step in script.steps)
    assert "{repair.arrival}" not in say


def test_repair_intake_promises_by_tier(corpus):
    script = corpus.scripts["repair.intake"]
    assert {"emergency.on-site", "repair.urgent-arrival", "repair.arrival"} <= set(script.commitments)


def test_tiers_are_ordered_as_their_names_say(corpus):
    start = dt.datetime(2026, 1, 1)

    def span(sid):
        return corpus.standards[sid].deadline(start) - start
    assert span("emergency.on-site") <= span("repair.urgent-arrival") < span("repair.arrival")


def test_every_law_citation_is_known_and_listed_on_the_laws_page(corpus):
    found = citations(corpus, ROOT / "docs")
    assert found and set(found) <= set(corpus.laws)
    page = laws_page(corpus, ROOT / "docs")
    for law in corpus.laws.values():
        assert law.text in page
    assert sum(len(v) for v in found.values()) >= 20


def lint_messages(project) -> list[str]:
    from kb_service.content.lint import lint
    from kb_service.settings import Settings

    settings = Settings(project_dir=project, data_dir=project / "var", database_url="sqlite://")
    return [str(p) for p in lint(settings)]


def test_hand_typed_article_numbers_and_unknown_law_ids_are_errors(tmp_path):
    project = copy_project(tmp_path / "p")
    path = project / "snippets" / "scripts" / "fee.refuse-to-pay.yaml"
    text = path.read_text(encoding="utf-8")
    first_say = text.index("  - say: ")
    text = text[:first_say] + "  - say: 按照民法典第944条，您应当交费。\n  - say: 见 [[law:civil-code.9999]]。\n" + text[first_say:]
    path.write_text(text, encoding="utf-8")
    line = text[:first_say].count("\n") + 1
    page = project / "docs" / "residents" / "fees.md"
    page.write_text(page.read_text(encoding="utf-8") + "\n依据《物业管理条例》第三十五条。\n", encoding="utf-8")
    messages = lint_messages(project)
    assert any(m.startswith(f"snippets/scripts/fee.refuse-to-pay.yaml:{line}:") and "不要手打条号“第944条”" in m
               for m in messages), messages
    assert any(m.startswith(f"snippets/scripts/fee.refuse-to-pay.yaml:{line + 1}:")
               and "[[law:civil-code.9999]] 不是 laws.yaml 中的法规 id" in m for m in messages), messages
    assert any(m.startswith("docs/residents/fees.md:") and "第三十五条" in m for m in messages), messages

"""Issue 23 (rank23): a caller whose purpose is a process (compensation, a 12345 threat, a repair that
never came) names a topic in passing; snippets/intents.yaml puts the process's script first, and a
topic call that only says 赔 or 几回 in passing keeps its topic's script. The lexicon's lint."""

from __future__ import annotations

from kb_service.content import intents
from kb_service.content.load import require_corpus
from kb_service.search import textproc

from conftest import ROOT, lint_problems_of, project_with_snippets_file

PURPOSE = [("你们修下水道把我家瓷砖敲碎了两块 这个钱谁出", "complaint.compensation-request"),
           ("我上个月就报了阳台漏水 说好礼拜三来 到现在都没人来修", "repair.delay-apology"),
           ("垃圾站臭了一个夏天 再不管我就打12345", "complaint.escalation-threat")]
# a topic call with a process word in passing
TOPIC = [("楼下非说是我家漏的水 要我赔他家天花板", "complaint.water-leak-neighbor"),
         ("这个电梯一个月坏了三回了", "complaint.elevator-frequent-failure")]


def test_the_lexicon_reads_purposes_not_topics():
    corpus = require_corpus(ROOT / "snippets")
    lexicon, problems = intents.check(ROOT / "snippets", corpus.scripts)
    assert problems == []
    for query, sid in PURPOSE:
        assert sid in lexicon.said(textproc.normalize(query).replace(" ", "")), query
    for query, sid in TOPIC:
        assert not lexicon.said(textproc.normalize(query).replace(" ", "")), query


def test_the_purpose_outranks_the_topic_named_in_passing(searcher, monkeypatch):
    for query, sid in PURPOSE + TOPIC:
        r = searcher.search(query, limit=8)
        assert r["match"] != "none" and r["results"][0]["id"] == sid, (query, r["match"], r["results"][:2])
    # the lexicon is what decides: without it the garbage's own words come first, and the compensation
    # demand (what it is about named in no script's words) is told none
    monkeypatch.setattr(searcher, "intents", intents.EMPTY)
    assert searcher.search(PURPOSE[2][0], limit=8)["results"][0]["id"] == "complaint.garbage"
    assert searcher.search(PURPOSE[0][0], limit=8)["match"] == "none"


def test_lint_reports_an_emergency_an_unknown_script_and_a_bad_pattern(tmp_path):
    project = project_with_snippets_file(tmp_path / "p", "intents.yaml", (
        "intents:\n"
        "  - scripts: [emergency.fire]\n"
        "    words: [着火]\n"
        "  - scripts: [complaint.no-such-script]\n"
        "    words: [赔多少]\n"
        "  - scripts: [complaint.repeat]\n"
        "    words: ['第(']\n"))
    mine = lint_problems_of(project, "intents.yaml")
    assert any(p.startswith("snippets/intents.yaml:2:") and "紧急话术" in p for p in mine), mine
    assert any(p.startswith("snippets/intents.yaml:4:") and "没有 id" in p for p in mine), mine
    assert any(p.startswith("snippets/intents.yaml:7:") and "不是有效的正则表达式" in p for p in mine), mine
    assert len(mine) == 3, mine
    corpus = require_corpus(project / "snippets")
    assert intents.load(project / "snippets", corpus.scripts) is intents.EMPTY

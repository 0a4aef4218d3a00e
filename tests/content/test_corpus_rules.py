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
    for sid in ("emergency.elevator-entrapment", "emergency.fire", "emergency.gas-leak",
                "emergency.public-order", "emergency.falling-object"):
        script = corpus.scripts[sid]
        assert "emergency.guard-arrival" in script.commitments, sid
        assert "{emergency.guard-arrival}" in texts(script), sid
        assert "{repair.arrival}" not in texts(script), sid


GUARD = re.compile(r"保安|秩序维护员")


def clauses(text: str) -> list[str]:
    return [p for p in re.split(r"[。；！？，：\n]", text) if p]


def test_no_script_promises_the_outer_limit_for_the_guards_arrival(corpus):
    # The guard on duty is there within emergency.guard-arrival; emergency.on-site is the outer
    # limit for the people who take over. A clause about the guard never names the outer limit,
    # and no script types the number itself.
    outer = corpus.standards["emergency.on-site"].text     # "15分钟"
    for s in corpus.scripts.values():
        every = "\n".join([texts(s)] + [a.get("instead", "") for a in s.avoid])
        for clause in clauses(every):
            if GUARD.search(clause):
                assert "{emergency.on-site}" not in clause, (s.id, clause)
        assert outer not in every, (s.id, outer)


def test_the_trapped_passenger_hears_the_guards_time(corpus):
    script = corpus.scripts["emergency.elevator-entrapment"]
    said = [step["say"] for step in script.steps if "say" in step]
    assert any("{emergency.guard-arrival}" in say for say in said)
    assert not any("{emergency.on-site}" in say for say in said)


def test_every_complaint_tells_the_caller_a_time(corpus):
    for s in corpus.scripts.values():
        if s.category != "complaint":
            continue
        said = " ".join(step.get("say", "") for step in s.steps)
        assert re.search(r"\{[a-z]+\.[a-z0-9-]+\}", said), s.id


def test_the_formal_demand_uses_the_demand_letter(corpus):
    script = corpus.scripts["fee.collection-legal-steps"]
    assert "reply.payment-demand-letter" in texts(script)
    assert "“欠费提醒”模板" not in texts(script)


def test_a_dripping_ceiling_is_an_urgent_repair(corpus):
    script = corpus.scripts["complaint.water-leak-neighbor"]
    assert "{repair.urgent-arrival}" in texts(script)
    assert "两天" not in texts(script)   # no time that is not a commitment
    say = " ".join(step.get("say", "") for step in script.steps)
    assert "{repair.arrival}" not in say


def test_repair_intake_promises_by_tier(corpus):
    script = corpus.scripts["repair.intake"]
    assert {"emergency.on-site", "repair.urgent-arrival", "repair.arrival"} <= set(script.commitments)


def test_tiers_are_ordered_as_their_names_say(corpus):
    start = dt.datetime(2026, 1, 1)

    def span(sid):
        return corpus.standards[sid].deadline(start) - start
    assert span("emergency.guard-arrival") < span("emergency.on-site") <= span("repair.urgent-arrival") < span("repair.arrival")


def test_every_law_citation_is_known_and_listed_on_the_laws_page(corpus):
    found = citations(corpus, ROOT / "docs")
    assert found and set(found) <= set(corpus.laws)
    page = laws_page(corpus, ROOT / "docs")
    for law in corpus.laws.values():
        assert law.text in page
    assert sum(len(v) for v in found.values()) >= 20


def test_a_quoted_citation_keeps_the_words_of_its_links_only(corpus, tmp_path):
    # The laws page quotes the citing sentence; a relative link in it would point nowhere there.
    docs = tmp_path / "docs" / "handbook"
    docs.mkdir(parents=True)
    (docs / "x.md").write_text("# 第八章\n\n要遵守[[law:pipl]]，见[第五章](05-information.md)。\n", encoding="utf-8")
    page = laws_page(corpus, tmp_path / "docs")
    assert "见第五章。" in page and "05-information.md" not in page


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


def test_a_law_typed_in_plain_text_is_an_error_that_names_its_id(tmp_path):
    # 《民法典》第280条 in a script's text: the message points at the 《 and names the id to write.
    project = copy_project(tmp_path / "p")
    path = project / "snippets" / "scripts" / "inquiry.owners-assembly.yaml"
    text = path.read_text(encoding="utf-8")
    at = text.index("  - say: ")
    said = "  - say: 按照《民法典》第280条，决定对业主有约束力。\n"
    path.write_text(text[:at] + said + text[at:], encoding="utf-8")
    line, col = text[:at].count("\n") + 1, len("  - say: 按照") + 1
    page = project / "docs" / "residents" / "fees.md"
    page_lines = page.read_text(encoding="utf-8").count("\n")
    page.write_text(page.read_text(encoding="utf-8")
                    + "\n收费要按《物业服务收费明码标价规定》公示，投诉依《住宅装修管理法》处理。\n", encoding="utf-8")
    messages = lint_messages(project)
    assert (f"snippets/scripts/inquiry.owners-assembly.yaml:{line}:{col}: "
            "不要手打条号“《民法典》第280条”：请写 [[law:civil-code.280]]") in messages, messages
    assert any(m.startswith(f"docs/residents/fees.md:{page_lines + 2}:5: ")
               and "“《物业服务收费明码标价规定》”：请写 [[law:fee-posting-rules]]" in m for m in messages), messages
    # a law laws.yaml does not have: the message says to add the entry first
    assert any(m.startswith(f"docs/residents/fees.md:{page_lines + 2}:") and "《住宅装修管理法》" in m
               and "laws.yaml 中没有这部法规" in m for m in messages), messages


def test_a_law_named_in_a_community_file_is_found_too(tmp_path):
    project = copy_project(tmp_path / "p")
    path = next((project / "snippets" / "communities").glob("*.yaml"))
    text = path.read_text(encoding="utf-8")
    old = "\n  basis: "
    at = text.index(old) + len(old)
    path.write_text(text[:at] + "依《中华人民共和国民法典》第九百四十四条，" + text[at:], encoding="utf-8")
    line = text[:at].count("\n") + 1
    messages = lint_messages(project)
    assert any(m.startswith(f"snippets/communities/{path.name}:{line}:{len('  basis: ') + 2}: ")
               and "[[law:civil-code.944]]" in m for m in messages), messages


@pytest.mark.parametrize("text, found", [
    ("《民法典》第280条", ["《民法典》第280条"]),
    ("依照民法典第二百八十条", ["第二百八十条"]),
    ("《中华人民共和国个人信息保护法》要求单独同意", ["《中华人民共和国个人信息保护法》"]),
    ("见第3条", ["第3条"]),
    ("按消防法第八条", ["第八条"]),
    ("按《管理规约》第五条和《物业服务合同》第12条", []),     # the owners' rules and a contract are not laws
    ("发出第一条通报", []),                                      # "the first notice" is ordinary Chinese
    ("合同第五条约定", []),
    ("写法：`《民法典》第280条` 不要这样写", []),               # the syntax shown in inline code
    ("[[law:civil-code.280]]", []),
])
def test_what_counts_as_a_hand_typed_law(text, found):
    from kb_service.content import lawrefs

    assert [m.text for m in lawrefs.mentions(text)] == found


def test_article_numbers_in_chinese_are_read_as_numbers():
    from kb_service.content.lawrefs import number

    assert [number(n) for n in ("280", "二百八十", "九百四十四", "十", "一千二百五十四", "【条号】")] == [
        280, 280, 944, 10, 1254, "【条号】"]


def test_apologies_before_a_check_are_for_the_feeling(corpus):
    # "让您受了委屈" already says a colleague was wrong; before anything is checked the apology is
    # for how the resident feels.
    for s in corpus.scripts.values():
        said = " ".join([step.get("say", "") for step in s.steps] + [a.get("instead", "") for a in s.avoid])
        assert "委屈" not in said, s.id
    assert "让您受委屈" not in (ROOT / "docs" / "handbook" / "03-complaints.md").read_text(encoding="utf-8")


def test_one_figure_per_fact_for_the_satisfaction_survey(corpus):
    # The dimensions the handbook names are the feedback form's ratings, in chapter 1 as in 7; the
    # survey call takes as long on the script as in chapter 7.
    ratings = corpus.source["feedback"]["ratings"].values()
    basics = (ROOT / "docs" / "handbook" / "01-basics.md").read_text(encoding="utf-8")
    section = basics[basics.index("### 满意度评估"):basics.index("## 本章要点")]
    assert all(f"**{label}**" in section for label in ratings), section
    assert section.count("- **") == len(ratings)
    chapter7 = (ROOT / "docs" / "handbook" / "07-satisfaction.md").read_text(encoding="utf-8")
    script = " ".join(step.get("say", "") for step in corpus.scripts["satisfaction.survey-call"].steps)
    # written in words (五分钟): a typed 5分钟 would read as the guard's 5-minute commitment
    minutes = re.compile(r"大概([0-9]+|[一二三四五六七八九十]+)分钟")
    assert minutes.search(script) and set(minutes.findall(chapter7)) == {minutes.search(script).group(1)}


NEIGHBOURS = [("repair.urgent", "repair.intake"), ("inquiry.repair-process", "repair.paid-service"),
              ("inquiry.access-card", "inquiry.personal-information"),
              ("complaint.followup-callback", "satisfaction.survey-call"),
              ("complaint.cleaning", "complaint.garbage"),
              ("complaint.corridor-clutter", "complaint.neighbor-dispute")]


@pytest.mark.parametrize("a, b", NEIGHBOURS)
def test_scripts_that_compete_in_search_have_their_own_aliases_and_a_boundary(corpus, a, b):
    # Two scripts about nearby things: no alias in both (each query has one right answer), and
    # each says when to use the other one instead.
    first, second = corpus.scripts[a], corpus.scripts[b]
    assert not set(first.aliases) & set(second.aliases)
    assert f"“{second.title}”" in first.applies_when and f"“{first.title}”" in second.applies_when

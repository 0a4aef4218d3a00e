"""`kb lint` catches each class of problem, at the right file, line and column."""

import shutil
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from kb_service.content.load import load_corpus
from kb_service.content.fmt import format_files
from kb_service.content.lint import lint

from conftest import CONTENT_ROOT, ROOT, copy_project, settings_for


@pytest.fixture
def project(tmp_path) -> Path:
    return copy_project(tmp_path / "p")


def edit(path: Path, old: str, new: str) -> int:
    """Replace once; returns the 1-based line where the new text starts."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    before = text[: text.index(old)]
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return before.count("\n") + 1


def problems(project: Path) -> list[str]:
    return [str(p) for p in lint(settings_for(project, project / "var"))]


def script(project, sid="complaint.intake") -> Path:
    return project / "snippets" / "scripts" / f"{sid}.yaml"


def template(project, tid="notice.water-outage") -> Path:
    return project / "snippets" / "templates" / f"{tid}.yaml"


def test_real_content_is_clean(project):
    assert [p for p in problems(project) if "warning" not in p] == []


def test_every_scenario_exists_with_its_kind():
    corpus, _ = load_corpus(CONTENT_ROOT / "snippets")
    rows = [line.split("\t") for line in (ROOT / "tests" / "contract" / "scenarios.tsv")
            .read_text(encoding="utf-8").splitlines()[1:] if line.strip()]
    assert len(rows) >= 98 and len({r[0] for r in rows}) == len(rows)
    for sid, kind, title, _ in rows:
        assert sid in corpus.snippets, sid
        assert corpus.snippets[sid].kind == kind, sid
        assert corpus.snippets[sid].title == title, sid


def test_unknown_key(project):
    line = edit(script(project), "owner:", "colour: red\nowner:")
    assert f"snippets/scripts/complaint.intake.yaml:{line}:1: 未知的键 'colour'" in " ".join(problems(project))


def test_wrong_type(project):
    path = script(project)
    text = path.read_text(encoding="utf-8")
    old = next(l for l in text.splitlines() if l.startswith("tags:"))
    line = edit(path, old, "tags: 投诉")
    assert any(p.startswith(f"snippets/scripts/complaint.intake.yaml:{line}:7:") and "应为列表" in p
               for p in problems(project))


def test_duplicate_id(project):
    shutil.copy(script(project), script(project, "complaint.copy"))
    line = next(i for i, l in enumerate(script(project).read_text(encoding="utf-8").splitlines(), 1)
                if l.startswith("id:"))
    found = problems(project)
    # the copy is told to take a new id, not to be renamed onto the original's file name
    assert [p for p in found if "complaint.copy.yaml" in p and "warning" not in p] == [
        f"snippets/scripts/complaint.copy.yaml:{line}:5: 这个 id 已被 snippets/scripts/complaint.intake.yaml 使用："
        "请给新文件一个新的 id，并让文件名与 id 一致"]
    assert not any("与文件名" in p for p in found)


def test_duplicate_key_in_one_file(project):
    line = edit(script(project), "owner:", "owner: 甲\nowner:")
    assert f"snippets/scripts/complaint.intake.yaml:{line + 1}:1: 键 'owner' 在同一层出现了两次：请删掉或合并其中一个" in problems(project)


def test_related_and_standard_ids_must_exist(project):
    edit(script(project), "related: [", "related: [no.such-id, ")
    edit(script(project), "commitments: [", "commitments: [no.such-standard, ")
    found = " ".join(problems(project))
    assert "related 指向不存在的 id：no.such-id" in found
    assert "standards.yaml 中没有承诺 'no.such-standard'" in found


def test_undeclared_placeholder(project):
    edit(template(project), "sms: ", "sms: 请注意{nobody}")
    assert any("占位符 {nobody} 不是已声明的字段" in p for p in problems(project))


def test_required_field_never_used(project):
    path = template(project)
    text = path.read_text(encoding="utf-8")
    text = text.replace("{reason}", "维修")
    path.write_text(text, encoding="utf-8")
    assert any("必填字段 reason 没有在任何渠道的文字里用到" in p for p in problems(project))


def test_sms_over_70_characters(project):
    edit(template(project), "sms: ", "sms: 这是一段为了让短信超过七十个字而特意加长的说明文字，请各位业主注意查看并互相转告家人，谢谢配合。")
    assert any("超过一条短信的 70 字" in p for p in problems(project))


def test_forbidden_phrase_in_say(project):
    path = script(project)
    corpus, _ = load_corpus(CONTENT_ROOT / "snippets")
    first_say = corpus.scripts["complaint.intake"].steps[0]["say"]
    edit(path, first_say, first_say + "我们会尽快处理。")
    assert any("禁用词“尽快”" in p for p in problems(project))
    own = corpus.scripts["complaint.intake"].avoid[0]["phrase"]
    edit(path, first_say, first_say + own)
    assert any(f"本话术禁用的说法“{own}”" in p for p in problems(project))


def test_old_review_date_is_a_warning(project):
    path = script(project)
    text = path.read_text(encoding="utf-8")
    old = next(l for l in text.splitlines() if l.startswith("reviewed:"))
    edit(path, old, "reviewed: 2020-01-01")
    found = problems(project)
    assert any("warning: 审核日期 2020-01-01 已超过一年" in p for p in found)
    corpus, _ = load_corpus(project / "snippets")
    assert corpus is not None  # a warning does not block the build


def test_bad_example_for_its_type(project):
    path = template(project)
    edit(path, "example: 3栋1单元", "example: 99栋")
    assert any("示例值不符合 building 类型" in p for p in problems(project))


def test_broken_snippet_link_in_docs(project):
    page = project / "docs" / "handbook" / "01-basics.md"
    page.write_text(page.read_text(encoding="utf-8") + "\n见[不存在](snippet:no.such-id)。\n", encoding="utf-8")
    assert any(p.startswith("docs/handbook/01-basics.md:") and "snippet:no.such-id" in p for p in problems(project))


def test_fmt_is_lossless_and_idempotent(project):
    path = script(project)
    shuffled = path.read_text(encoding="utf-8")
    lines = shuffled.splitlines(keepends=True)
    owner = next(l for l in lines if l.startswith("owner:"))
    lines.remove(owner)
    lines.insert(2, "# 注释要保留\n" + owner)
    path.write_text("".join(lines), encoding="utf-8")
    before = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    # every other shipped file is canonical already: tests/content/test_communities.py checks all of them
    assert format_files(project / "snippets", only={path.resolve()}) == [path]
    after_text = path.read_text(encoding="utf-8")
    assert "# 注释要保留" in after_text
    assert after_text.index("owner:") > after_text.index("steps:")
    assert YAML(typ="safe").load(after_text) == before       # the same data, only reordered
    assert format_files(project / "snippets", only={path.resolve()}) == []   # idempotent


def test_unknown_standard_in_docs(project):
    page = project / "docs" / "residents" / "repair.md"
    text = page.read_text(encoding="utf-8")
    line = text.count("\n") + 2
    page.write_text(text + "\n师傅在 [[std:repair.nope]]内上门，`[[std:not.checked]]` 是代码。\n", encoding="utf-8")
    found = problems(project)
    assert any(p.startswith(f"docs/residents/repair.md:{line}:5: [[std:repair.nope]] 不是 standards.yaml 中的承诺 id")
               for p in found), found
    assert not any("not.checked" in p for p in found)


def test_feedback_settings_must_name_real_standards(project):
    path = project / "snippets" / "feedback.yaml"
    line = edit(path, "response: feedback.response", "response: feedback.respnse")
    edit(path, "retention: complaint.record-retention", "retention: complaint.response")
    found = problems(project)
    assert any(p.startswith(f"snippets/feedback.yaml:{line}:") and "feedback.respnse" in p for p in found), found
    assert any("不是保存期" in p for p in found), found


def test_feedback_settings_keep_contract_ids(project):
    path = project / "snippets" / "feedback.yaml"
    edit(path, "  inquiry:\n", "  question:\n")
    found = problems(project)
    assert any(p.startswith("snippets/feedback.yaml:") and "inquiry" in p for p in found), found

"""What an editor sees for the mistakes editors make: each broken fixture file (one mistake each, in
tests/fixtures/editors/broken/) dropped into a tiny fixture corpus, every message asserted word for
word with its line and column. The corpus is the fixture's own, so a change to the real content
never moves a line here."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kb_service.content import yamldoc
from kb_service.content.load import load_corpus

from conftest import CONTENT_ROOT

FIXTURES = Path(__file__).parents[1] / "fixtures" / "editors"
SCRIPT = "snippets/scripts/complaint.intake.yaml"
TEMPLATE = "snippets/templates/notice.demo.yaml"


@pytest.fixture
def corpus_dir(tmp_path) -> Path:
    """The fixture corpus with the real schema files (the rules under test)."""
    root = tmp_path / "p"
    shutil.copytree(FIXTURES / "snippets", root / "snippets")
    shutil.copytree(CONTENT_ROOT / "snippets" / "schema", root / "snippets" / "schema")
    return root


def problems(root: Path, broken: str | None = None, dest: str | None = None) -> list[str]:
    if broken:
        shutil.copy(FIXTURES / "broken" / broken, root / dest)
    _, found = load_corpus(root / "snippets")
    return [str(p) for p in found]


def test_fixture_corpus_is_clean(corpus_dir):
    assert problems(corpus_dir) == []


# -- YAML syntax, in Chinese, at the line of the mistake ----------------------------------------

@pytest.mark.parametrize("broken,expected", [
    ("tab.yaml", f"{SCRIPT}:11:1: 缩进里有 Tab 字符：请用空格缩进，不要用 Tab"),
    ("indent.yaml", f"{SCRIPT}:11:6: 缩进不对：这一行比上一行多缩进了，同一层的键要对齐（请用空格，每深一层多 2 个空格）"),
    ("fullwidth-colon.yaml", f"{SCRIPT}:10:8: 键 say 后面是全角冒号“：”：冒号要用半角 : 并在后面加空格"),
    # the last step: YAML reads `say：...` as a text item, so the schema check says it
    ("fullwidth-colon-last-step.yaml", f"{SCRIPT}:12:8: 键 say 后面是全角冒号“：”：冒号要用半角 : 并在后面加空格"),
])
def test_syntax_errors(corpus_dir, broken, expected):
    assert problems(corpus_dir, broken, SCRIPT) == [expected]


@pytest.mark.parametrize("text,expected", [
    ("a: 1\nb:\n  - x: 1\n    y: 2\n   z: 3\n",
     "t.yaml:5:4: 缩进不对：这一行和上面同一层的键没有对齐，请用空格对齐（每深一层多 2 个空格）"),
    ("id: a\ntitle:标题\nkind: c\n", "t.yaml:2:6: 键 title 的冒号后面缺少空格：冒号要用半角 : 并在后面加空格"),
    ("id: a\ntitle：标题\nkind: c\n", "t.yaml:2:6: 键 title 后面是全角冒号“：”：冒号要用半角 : 并在后面加空格"),
    ("id: a\nsay: 注意: 不要\n", "t.yaml:2:8: 值里有“冒号加空格”：请把整个值用引号括起来，或改用中文冒号“：”"),
    ('id: a\nsay: "没有结束\nkind: c\n', "t.yaml:2:6: 引号没有结束：从这里开始的引号要在这个值的末尾用同样的引号闭合"),
    ("id: a\ntags: [a, b\nkind: c\n", "t.yaml:2:7: 括号 [ ] 没有正确结束：请检查逗号（用半角 ,）和右括号"),
    ("id: a\nsay: *注意\n", "t.yaml:2:6: 值不能以“*”开头：请把整个值用引号括起来"),
    ("id: a\nsay: @注意\n", "t.yaml:2:6: 值不能以“@”开头：请把整个值用引号括起来"),
    ("id: a\nsay: x\nsay: y\n", "t.yaml:3:1: 键 'say' 在同一层出现了两次：请删掉或合并其中一个"),
    ("a: [b\n", "t.yaml:1:4: 括号 [ ] 没有正确结束：请检查逗号（用半角 ,）和右括号"),
    ("body: |\n  标题：正文\n  x: y\n- z\n",       # `标题：` inside a block is text, not a key
     "t.yaml:4:1: 缩进不对：这一行和上面同一层的键没有对齐，请用空格对齐（每深一层多 2 个空格）"),
    ("a: 'x' y\n", "t.yaml:1:8: 引号后面还有文字：引号要括住整个值（或者去掉引号）"),
    ("a: b\n---\nc: d\n", "t.yaml:2:1: 一个文件里只能有一份内容：请删掉这一行的 ---（以及它后面多出来的内容）"),
    ("a: !!int x\n", "t.yaml:1:1: YAML 格式有误：请检查这一行和上一行的缩进、冒号和引号"
                    "（解析器说：invalid literal for int() with base 10: 'x'）"),
])
def test_more_syntax_errors(tmp_path, text, expected):
    (tmp_path / "t.yaml").write_text(text, encoding="utf-8")
    assert [str(p) for p in yamldoc.load(tmp_path / "t.yaml", tmp_path).problems] == [expected]


# -- ids, placeholders and keys: the message offers the valid choices ----------------------------

def test_copied_script_with_its_id_unchanged(corpus_dir):
    assert problems(corpus_dir, "copied-script.yaml", "snippets/scripts/complaint.copy.yaml") == [
        "snippets/scripts/complaint.copy.yaml:1:5: 这个 id 已被 snippets/scripts/complaint.intake.yaml 使用："
        "请给新文件一个新的 id，并让文件名与 id 一致"]


def test_duplicate_standard_reports_the_cause_alone(corpus_dir):
    assert problems(corpus_dir, "standards-duplicate.yaml", "snippets/standards.yaml") == [
        "snippets/standards.yaml:11:9: 承诺 id 重复：complaint.response 已在第 2 行使用（第 1 项）：请给这一项一个新的 id"]


def test_placeholder_typo_in_instead(corpus_dir):
    assert problems(corpus_dir, "instead-typo.yaml", SCRIPT) == [
        f"{SCRIPT}:15:21: {{complaint.respons}} 不是 standards.yaml 中的承诺 id（最接近的：complaint.response）"]


def test_unknown_commitment_lists_the_nearest(corpus_dir):
    assert problems(corpus_dir, "unknown-commitment.yaml", SCRIPT) == [
        f"{SCRIPT}:7:20: 用到了 {{complaint.response}}，请把 complaint.response 也列入 commitments",
        f"{SCRIPT}:12:19: 用到了 {{complaint.response}}，请把 complaint.response 也列入 commitments",
        f"{SCRIPT}:15:21: 用到了 {{complaint.response}}，请把 complaint.response 也列入 commitments",
        f"{SCRIPT}:17:15: standards.yaml 中没有承诺 'complaint.respose'（最接近的：complaint.response）",
    ]


def test_undeclared_placeholder_at_its_line_in_the_body(corpus_dir):
    assert problems(corpus_dir, "template-placeholder.yaml", TEMPLATE) == [
        f"{TEMPLATE}:35:15: 占位符 {{hotlin}} 不是已声明的字段（是不是 hotline？已声明：area, hotline, reason）"]


def test_missing_key_points_at_the_item(corpus_dir):
    assert problems(corpus_dir, "missing-key.yaml", SCRIPT) == [f"{SCRIPT}:14:5: 缺少必填的键 'instead'"]


def test_too_few_callers_words_counted_at_the_list(corpus_dir):
    path = corpus_dir / SCRIPT
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(", 我要个说法]", "]"), encoding="utf-8")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith("callers_say:"))
    assert problems(corpus_dir) == [f"{SCRIPT}:{line}:14: callers_say 至少要有 6 项"]


def test_misspelled_key(corpus_dir):
    assert problems(corpus_dir, "misspelled-key.yaml", SCRIPT) == [
        f"{SCRIPT}:20:1: 未知的键 'reviwed'（是不是 reviewed？允许的键：aliases, applies_when, avoid, callers_say, category, "
        "channels, commitments, fields, id, kind, owner, related, reviewed, steps, summary, tags, title）"]


# -- placeholders are filled the same way everywhere --------------------------------------------

def test_every_placeholder_field_is_expanded(corpus_dir):
    from kb_service.content.model import placeholder_texts
    from kb_service.site.pages import snippet_page
    from kb_service.web.api.serializers import structured
    from kb_service.search.engine import snippet_doc
    import datetime as dt

    corpus, found = load_corpus(corpus_dir / "snippets")
    assert corpus is not None, found
    script = corpus.scripts["complaint.intake"]
    paths = [p for p, text in placeholder_texts(script.data) if "{complaint.response}" in text]
    assert {tuple(p) for p in paths} == {("summary",), ("steps", 1, "say"), ("avoid", 0, "instead")}
    text = corpus.standards["complaint.response"].text
    api = structured(corpus, script)
    assert text in api["summary"] and text in api["steps"][1]["say"] and text in api["avoid"][0]["instead"]
    page = snippet_page(corpus, script, now=dt.datetime(2026, 11, 26, 9, 0))
    doc = snippet_doc(corpus, script)
    for out in (str(api), page, doc.body):
        assert "{complaint." not in out
    assert page.count(text) >= 3


# -- editor support: the ids an editor may pick, for VS Code's completion ------------------------

def test_id_schema_lists_the_corpus_ids_and_validates_like_the_editor(corpus_dir):
    import json

    from jsonschema import Draft202012Validator
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    from kb_service.content.editor_schema import write_id_schema

    corpus, _ = load_corpus(corpus_dir / "snippets")
    schema_dir = corpus_dir / "snippets" / "schema"
    assert write_id_schema(corpus, schema_dir) is True
    assert write_id_schema(corpus, schema_dir) is False          # unchanged: not rewritten
    ids = json.loads((schema_dir / "ids.schema.json").read_text(encoding="utf-8"))["$defs"]
    assert ids["category"]["enum"] == ["complaint", "notice"]
    assert ids["standard_id"]["enum"] == ["complaint.record-retention", "complaint.reply", "complaint.response"]
    assert ids["standard_id"]["enumDescriptions"][2] == "投诉首次响应（24小时）"
    assert ids["snippet_id"]["enum"] == ["complaint.intake", "notice.demo"]
    assert ids["law_id"] == {"x-kb-generated": True, "type": "string", "description": "laws.yaml 中的法规 id，引用写 [[law:<id>]]"}
    # What the YAML extension does with snippet.schema.json + ids.schema.json: a typo is flagged.
    snippet = json.loads((schema_dir / "snippet.schema.json").read_text(encoding="utf-8"))
    registry = Registry().with_resource("ids.schema.json", DRAFT202012.create_resource(
        json.loads((schema_dir / "ids.schema.json").read_text(encoding="utf-8"))))
    editor = Draft202012Validator(snippet, registry=registry)
    data = corpus.scripts["complaint.intake"].data
    assert list(editor.iter_errors(data)) == []
    bad = dict(data, commitments=["complaint.respons"], related=["notice.dem"], category="complain")
    assert sorted(".".join(map(str, e.absolute_path)) for e in editor.iter_errors(bad)) == [
        "category", "commitments.0", "related.0"]
    # kb lint does not depend on the generated file (its own messages name the nearest ids)
    (schema_dir / "ids.schema.json").unlink()
    assert problems(corpus_dir) == []


def test_vscode_settings_know_the_custom_tags_of_mkdocs_yml():
    import json
    import re

    from conftest import ROOT

    settings = json.loads((ROOT / ".vscode" / "settings.json").read_text(encoding="utf-8"))
    known = " ".join(settings["yaml.customTags"])
    mkdocs = (CONTENT_ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for tag in set(re.findall(r"(![!A-Za-z/:._]+)", mkdocs)):
        name = tag.replace("!!", "tag:yaml.org,2002:") if tag.startswith("!!") else tag
        assert name in known, tag
    assert "redhat.vscode-yaml" in json.loads((ROOT / ".vscode" / "extensions.json").read_text())["recommendations"]

"""`kb export-log` publishes the 你说我改 page: aggregates and approved text only.

Every write to the log is stamped with one `now` taken when the test starts (the store and the
snapshot take it as a parameter), so a run across a month boundary still finds all entries in the
month it expects. The real builder runs once in this module (the CLI test, on SQLite); the same
figures on each database are checked on the staged Markdown (site/generate.py), rendered here."""

from __future__ import annotations

import json
import re

import markdown

from conftest import copy_built, kb
from kb_service import db
from kb_service.build import build, load_content
from kb_service.feedback import public_log
from kb_service.feedback.forms import parse_submission
from kb_service.feedback.store import Store
from kb_service.settings import Settings
from kb_service.site import generate
from kb_service.site import public_log as public_page
from kb_service.times import utcnow

SECRET = {"type": "complaint", "content": "原话不公开：电梯里有异味", "contact_name": "赵先生",
          "contact_phone": "13912345678", "location": "5栋1单元1502", "consent": True,
          "ratings": {"service": 5, "communication": 3}, "category": "elevator"}
CHANGES_PAGE = "residents/changes"
EXTENSIONS = ["tables", "attr_list", "admonition", "md_in_html"]


def fill_log(database_url: str, settings: Settings, now) -> str:
    """Three entries, one public finished action, one internal one, one approved summary, all at
    `now`. Returns the first entry's reference (which must never be published)."""
    engine = db.connect(database_url)
    try:
        store = Store(engine, load_content(settings).feedback)
        first, _ = store.submit(parse_submission(SECRET, store.config), now=now)
        store.submit(parse_submission({**SECRET, "ratings": {"service": 2}}, store.config), now=now)
        store.submit(parse_submission({"type": "praise", "content": "保洁阿姨很认真"}, store.config), now=now)
        store.update(first["id"], {"action": {"what": "电梯异味处理写进保洁巡查表", "kind": "process",
                                              "owner": "客服主管", "public": True}}, actor="tester", now=now)
        store.update(first["id"], {"action": {"what": "内部：追究外包责任", "kind": "process", "owner": "经理"}},
                     actor="tester", now=now)
        store.update(first["id"], {"action_done": {"id": 1, "pr_url": "https://git.example/kb/pull/7"},
                                   "publish": "电梯每天开窗通风两次，异味投诉已处理"}, actor="tester", now=now)
        store.update(first["id"], {"action_done": {"id": 2}}, actor="tester", now=now)
    finally:
        engine.dispose()
    return first["reference"]


def check_page(html: str, month: str, reference: str) -> None:
    cells = re.findall(r"<tr>\s*<td>(\d{4}-\d\d)</td>((?:\s*<td[^>]*>[^<]*</td>)+)", html)
    # first table: complaint 2, suggestion 0, praise 1, inquiry 0, repair 0 (page feedback is left out); closed 0
    assert cells[0][0] == month
    assert re.findall(r">([^<]*)</td>", cells[0][1]) == ["2", "0", "1", "0", "0", "0"]
    assert "62.5" in html and "50.0" in html          # service: mean 3.5; communication: mean 3
    assert "电梯异味处理写进保洁巡查表" in html and "https://git.example/kb/pull/7" in html
    assert "电梯每天开窗通风两次" in html and "<svg" in html
    for private in ("追究外包责任", "原话不公开", "赵先生", "13912345678", "139****5678", "1502", reference):
        assert private not in html, private


def test_empty_log_says_so(built_project):
    """Before any export (the session's build has no public-log.json) the page says there is no data."""
    page = built_project / "site" / CHANGES_PAGE / "index.html"
    assert "暂无数据" in page.read_text(encoding="utf-8")


def test_snapshot_publishes_only_aggregates_and_approved_text(built_project, tmp_path, database_url):
    """The same figures from each database, through the page block the builder is given."""
    settings = Settings.from_env({"KB_PROJECT_DIR": str(built_project), "KB_DATA_DIR": str(built_project / "var"),
                                  "KB_DATABASE_URL": database_url})
    now = utcnow()
    reference = fill_log(database_url, settings, now)
    engine = db.connect(database_url)
    try:
        data = public_log.snapshot(Store(engine, load_content(settings).feedback), now=now)
    finally:
        engine.dispose()
    assert "13912345678" not in json.dumps(data, ensure_ascii=False)
    corpus = load_content(settings)
    staged = generate.stage(built_project, tmp_path / "staged", corpus, {"public-log": data})
    text = (staged.root / generate.DOCS / f"{CHANGES_PAGE}.md").read_text(encoding="utf-8")
    assert "kb:public-log" not in text
    check_page(markdown.markdown(text, extensions=EXTENSIONS), public_log.month_of(now), reference)


def test_export_log_rebuilds_the_page(built_project, tmp_path):
    """`kb export-log` end to end: the snapshot file, the rebuilt page, nothing stale after it."""
    project = copy_built("project", tmp_path / "project")    # as kb build left it
    database_url = f"sqlite:///{tmp_path / 'kb.sqlite3'}"
    env = {"KB_PROJECT_DIR": str(project), "KB_DATA_DIR": str(project / "var"), "KB_DATABASE_URL": database_url}
    settings = Settings.from_env(env)
    now = utcnow()
    reference = fill_log(database_url, settings, now)

    result = kb("export-log", env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "3 条反馈" in result.stdout and "1 项已公开的改进" in result.stdout
    assert "重新生成 1 个页面" in result.stdout, result.stdout    # only the 你说我改 page, not the site
    html = (project / "site" / CHANGES_PAGE / "index.html").read_text(encoding="utf-8")
    check_page(html, public_log.month_of(now), reference)
    data = json.loads((project / "var" / "public-log.json").read_text(encoding="utf-8"))
    assert "13912345678" not in json.dumps(data, ensure_ascii=False)
    report = build(settings, force=False)                # the export left nothing stale for kb serve
    assert not report.site_built and not report.index_built


def test_public_text_cannot_inject_markup():
    data = {"generated_at": "2026-11-26T00:00:00+00:00", "months": ["2026-11"], "types": {"complaint": "投诉"},
            "dimensions": {"service": "服务"}, "volume": {"2026-11": {"complaint": 1}}, "closed": {"2026-11": 0},
            "csi": {"2026-11": {"service": None}}, "ratings_count": {"2026-11": 0},
            "changes": [{"date": "2026-11", "what": "[点我](javascript:alert(1)) <script>x</script>",
                         "kind": "page", "target": None, "pr_url": None}],
            "summaries": [{"month": "2026-11", "type": "complaint", "category": None, "status": "closed",
                           "text": "<img src=x onerror=alert(1)>"}]}
    html = markdown.markdown(public_page.render(None, data), extensions=["tables", "attr_list", "admonition"])
    assert "<script>" not in html and "<img" not in html and 'href="javascript' not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html

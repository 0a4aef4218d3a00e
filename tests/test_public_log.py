"""`kb export-log` publishes the 你说我改 page: aggregates and approved text only."""

from __future__ import annotations

import json

from conftest import copy_project, kb
from kb_service import db
from kb_service.site import public_log as public_page
from kb_service.build import load_content
from kb_service.feedback.forms import parse_submission
from kb_service.feedback.store import Store
from kb_service.settings import Settings
from kb_service.times import local_now

SECRET = {"type": "complaint", "content": "原话不公开：电梯里有异味", "contact_name": "赵先生",
          "contact_phone": "13912345678", "location": "5栋1单元1502", "consent": True,
          "ratings": {"service": 5, "communication": 3}, "category": "elevator"}


def test_export_log_publishes_only_aggregates_and_approved_text(tmp_path, database_url):
    project = copy_project(tmp_path / "project")
    env = {"KB_PROJECT_DIR": str(project), "KB_DATA_DIR": str(tmp_path / "var"), "KB_DATABASE_URL": database_url}
    settings = Settings.from_env(env)
    empty = kb("build", env=env)
    assert empty.returncode == 0, empty.stderr
    page = project / "site" / "residents" / "changes" / "index.html"
    assert "暂无数据" in page.read_text(encoding="utf-8")

    engine = db.connect(database_url)
    store = Store(engine, load_content(settings).feedback)
    first, _ = store.submit(parse_submission(SECRET, store.config))
    store.submit(parse_submission({**SECRET, "ratings": {"service": 2}}, store.config))
    store.submit(parse_submission({"type": "praise", "content": "保洁阿姨很认真"}, store.config))
    store.update(first["id"], {"action": {"what": "电梯异味处理写进保洁巡查表", "kind": "process",
                                          "owner": "客服主管", "public": True}}, actor="tester")
    store.update(first["id"], {"action": {"what": "内部：追究外包责任", "kind": "process", "owner": "经理"}},
                 actor="tester")
    store.update(first["id"], {"action_done": {"id": 1, "pr_url": "https://git.example/kb/pull/7"},
                               "publish": "电梯每天开窗通风两次，异味投诉已处理"}, actor="tester")
    store.update(first["id"], {"action_done": {"id": 2}}, actor="tester")
    engine.dispose()

    result = kb("export-log", env=env)
    assert result.returncode == 0, result.stderr
    assert "3 条反馈" in result.stdout and "1 项已公开的改进" in result.stdout
    html = page.read_text(encoding="utf-8")
    month = local_now().strftime("%Y-%m")
    import re

    cells = re.findall(r"<tr>\s*<td>(\d{4}-\d\d)</td>((?:\s*<td[^>]*>[^<]*</td>)+)", html)
    # first table: complaint 2, suggestion 0, praise 1, inquiry 0 (page feedback is left out); closed 0
    assert cells[0][0] == month
    assert re.findall(r">([^<]*)</td>", cells[0][1]) == ["2", "0", "1", "0", "0"]
    assert "62.5" in html and "50.0" in html          # service: mean 3.5; communication: mean 3
    assert "电梯异味处理写进保洁巡查表" in html and "https://git.example/kb/pull/7" in html
    assert "电梯每天开窗通风两次" in html and "<svg" in html
    for private in ("追究外包责任", "原话不公开", "赵先生", "13912345678", "139****5678", "1502", first["reference"]):
        assert private not in html, private
    data = json.loads((tmp_path / "var" / "public-log.json").read_text(encoding="utf-8"))
    assert "13912345678" not in json.dumps(data, ensure_ascii=False)
    from kb_service.build import build

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
    import markdown

    html = markdown.markdown(public_page.render(None, data), extensions=["tables", "attr_list", "admonition"])
    assert "<script>" not in html and "<img" not in html and 'href="javascript' not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html

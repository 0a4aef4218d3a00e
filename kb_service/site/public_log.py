"""The `kb:public-log` block: the "你说我改" snapshot (written by `kb export-log`, see
feedback/public_log.py) as Markdown with an inline SVG chart. Every value that a person typed is
escaped for HTML and for Markdown; links are written as HTML, never as Markdown link syntax."""

from __future__ import annotations

import json
from pathlib import Path

from kb_service.content.markup import esc, md_text
from kb_service.content.model import Corpus
from kb_service.site.svg import line_chart
from kb_service.times import local_time

# The service replaces what lies between these with the log as it is now (web/pages/public_pages.py).
LIVE_START, LIVE_END = "<!--kb-live:public-log-->", "<!--/kb-live:public-log-->"


def load(path: Path | None) -> dict | None:
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# -- rendering (Markdown + inline SVG for the site) -------------------------------------------

def render(corpus: Corpus, data: dict | None) -> str:
    return f"{LIVE_START}\n\n{render_markdown(corpus, data)}\n{LIVE_END}\n"


# Residents read this page: the satisfaction score is explained in words, without the staff's
# abbreviation (CSI) or its formula notation.
SCORE_TEXT = ("满意度分把业主评分（1 到 5 分）的平均值换算成 0 到 100 分：1 分为 0，5 分为 100，"
              "即（平均分 − 1）÷ 4 × 100。")


def render_markdown(corpus: Corpus, data: dict | None) -> str:
    if not data:
        return ('!!! info "暂无数据"\n    改进日志还没有导出到本站。管理员运行 `kb export-log` 后，'
                "这里会显示每月收到的反馈、满意度和已经完成的改进。\n")
    months = [m for m in data["months"] if sum(data["volume"][m].values())] or data["months"][-1:]
    types = data["types"]
    out = [f"*统计截至 {esc(local_time(data['generated_at'], '%Y-%m-%d %H:%M'))}（北京时间），每次导出时更新。*", "",
           "## 每月收到的反馈", "",
           "| 月份 | " + " | ".join(esc(v) for v in types.values()) + " | 已办结 |",
           "| --- | " + " | ".join("---:" for _ in types) + " | ---: |"]
    for m in months:
        out.append(f"| {m} | " + " | ".join(str(data["volume"][m].get(t, 0)) for t in types)
                   + f" | {data['closed'][m]} |")
    dims = data["dimensions"]
    out += ["", "## 满意度", "", SCORE_TEXT, "",
            csi_chart(data, dims), "",
            "| 月份 | " + " | ".join(esc(v) for v in dims.values()) + " | 评分人数 |",
            "| --- | " + " | ".join("---:" for _ in dims) + " | ---: |"]
    for m in months:
        row = data["csi"][m]
        out.append(f"| {m} | " + " | ".join("—" if row[k] is None else f"{row[k]:.1f}" for k in dims)
                   + f" | {data['ratings_count'][m]} |")
    out += ["", "## 我们改了什么", ""]
    if data["changes"]:
        kinds = {"script": "话术", "template": "模板", "page": "页面", "process": "流程"}
        for c in data["changes"]:
            link = (f'（<a href="{esc(c["pr_url"])}" rel="nofollow noopener">修改记录</a>）'
                    if c.get("pr_url") else "")
            out.append(f"- **{c['date']}** {kinds.get(c['kind'], '')}：{md_text(c['what'])}{link}")
    else:
        out.append("本期还没有完成并公开的改进。")
    if data["summaries"]:
        out += ["", "## 反馈与处理", ""]
        for s in data["summaries"]:
            label = types.get(s["type"], s["type"]) + (f" · {md_text(s['category'])}" if s.get("category") else "")
            out.append(f"- **{s['month']}** {esc(label)}：{md_text(s['text'])}")
    return "\n".join(out) + "\n"


def csi_chart(data: dict, dims: dict) -> str:
    """CSI per dimension per month as an inline SVG line chart (no scripts, no outside host)."""
    months = data["months"]
    return line_chart([m[2:] for m in months],
                      [(label, [data["csi"][m][key] for m in months]) for key, label in dims.items()],
                      title="每月满意度走势", top=100)

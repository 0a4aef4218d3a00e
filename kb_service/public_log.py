"""The public "你说我改" page: what residents told us and what changed, without personal data.

`kb export-log` takes a snapshot of the improvement log (counts per month, CSI per month, the
actions staff marked public and finished, summaries staff approved for publication) into
KB_DATA_DIR/public-log.json and rebuilds the site; the `kb:public-log` block renders it. Only
aggregates and text written for publication leave the database: never contact details, locations,
references or what residents wrote.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from . import reports
from .content import Corpus
from .db import BEIJING, actions, entries, utcnow
from .improvement_log import Store

from .build import PUBLIC_LOG as FILE
MONTHS = 12


def month_of(value: dt.datetime) -> str:
    return (value + BEIJING).strftime("%Y-%m")


def snapshot(store: Store, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Aggregates from reports (the same figures as the staff dashboard) plus approved text.
    Page feedback ("was this page helpful?") is about the website, not the service: left out."""
    now = now or utcnow()
    volume = reports.volume_by_month(store, months=MONTHS, now=now)
    scores = reports.csi_by_month(store, months=MONTHS, now=now)
    months = volume["months"]
    statuses = reports._counts_by(store, reports.month_starts(now, MONTHS), entries.c.status, now)
    types = {t: spec["label"] for t, spec in volume["types"].items() if t != "page"}
    dims = scores["dimensions"]
    with store._read() as conn:
        done = conn.execute(sa.select(actions.c.what, actions.c.target_kind, actions.c.target, actions.c.pr_url,
                                      actions.c.done_at)
                            .where(actions.c.public.is_(True), actions.c.done_at.is_not(None))
                            .order_by(actions.c.done_at.desc()).limit(100)).mappings().all()
        published = conn.execute(sa.select(entries.c.created_at, entries.c.type, entries.c.category,
                                           entries.c.status, entries.c.public_summary)
                                 .where(entries.c.public_summary.is_not(None))
                                 .order_by(entries.c.created_at.desc()).limit(100)).mappings().all()
    return {
        "generated_at": now.replace(tzinfo=dt.UTC).isoformat(timespec="seconds"),
        "months": months,
        "types": types,
        "dimensions": {d: spec["label"] for d, spec in dims.items()},
        "volume": {m: {t: volume["types"][t]["counts"][i] for t in types} for i, m in enumerate(months)},
        "closed": {m: statuses.get("closed", [0] * len(months))[i] for i, m in enumerate(months)},
        "csi": {m: {d: spec["csi"][i] for d, spec in dims.items()} for i, m in enumerate(months)},
        "ratings_count": {m: max((spec["n"][i] for spec in dims.values()), default=0) for i, m in enumerate(months)},
        "changes": [{"date": month_of(a["done_at"]), "what": a["what"], "kind": a["target_kind"],
                     "target": a["target"], "pr_url": a["pr_url"]} for a in done],
        "summaries": [{"month": month_of(e["created_at"]), "type": e["type"],
                       "category": store.config.categories.get(e["category"] or "", None),
                       "status": e["status"], "text": e["public_summary"]} for e in published],
    }


def write(path: Path, data: dict) -> None:
    """Atomically: a reader (the site build) never sees half a file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def load(data_dir: Path | None) -> dict | None:
    if data_dir is None:
        return None
    try:
        return json.loads((data_dir / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# -- rendering (Markdown + inline SVG for the site) -------------------------------------------

def text(value: str) -> str:
    """Free text as literal Markdown: HTML escaped, Markdown punctuation backslash-escaped, one line."""
    from .pages import esc

    return re.sub(r"([\\`*_{}\[\]()!|~])", r"\\\1", esc(" ".join(str(value).split())))


def render(corpus: Corpus, data: dict | None) -> str:
    from .pages import esc

    if not data:
        return ('!!! info "暂无数据"\n    改进日志还没有导出到本站。管理员运行 `kb export-log` 后，'
                "这里会显示每月收到的反馈、满意度和已经完成的改进。\n")
    months = [m for m in data["months"] if sum(data["volume"][m].values())] or data["months"][-1:]
    types = data["types"]
    out = [f"*统计截至 {esc(data['generated_at'][:10])}，每次导出时更新。*", "", "## 每月收到的反馈", "",
           "| 月份 | " + " | ".join(esc(v) for v in types.values()) + " | 已办结 |",
           "| --- | " + " | ".join("---:" for _ in types) + " | ---: |"]
    for m in months:
        out.append(f"| {m} | " + " | ".join(str(data["volume"][m].get(t, 0)) for t in types)
                   + f" | {data['closed'][m]} |")
    dims = data["dimensions"]
    out += ["", "## 满意度（CSI）", "",
            "CSI 把业主评分（1 到 5 分）的平均值换算到 0 到 100：1 分为 0，5 分为 100"
            f"（{reports.CSI_FORMULA}）。", "",
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
            link = f"（[修改记录]({esc(c['pr_url'])})）" if c.get("pr_url") else ""
            out.append(f"- **{c['date']}** {kinds.get(c['kind'], '')}：{text(c['what'])}{link}")
    else:
        out.append("本期还没有完成并公开的改进。")
    if data["summaries"]:
        out += ["", "## 反馈与处理", ""]
        for s in data["summaries"]:
            label = types.get(s["type"], s["type"]) + (f" · {text(s['category'])}" if s.get("category") else "")
            out.append(f"- **{s['month']}** {esc(label)}：{text(s['text'])}")
    return "\n".join(out) + "\n"


def csi_chart(data: dict, dims: dict) -> str:
    """CSI per dimension per month as an inline SVG line chart (no scripts, no outside host)."""
    from .svg import line_chart

    months = data["months"]
    return line_chart([m[2:] for m in months],
                      [(label, [data["csi"][m][key] for m in months]) for key, label in dims.items()],
                      title="每月满意度（CSI）走势", top=100)

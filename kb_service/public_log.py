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

from .content import Corpus
from .db import actions, entries, utcnow
from .improvement_log import RATING_COLUMNS, Store
from .views import LOCAL

from .build import PUBLIC_LOG as FILE
MONTHS = 12


def month_of(value: dt.datetime) -> str:
    return value.replace(tzinfo=dt.UTC).astimezone(LOCAL).strftime("%Y-%m")


def last_months(now: dt.datetime, n: int = MONTHS) -> list[str]:
    local = now.replace(tzinfo=dt.UTC).astimezone(LOCAL)
    y, m = local.year, local.month
    out = []
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


def csi(mean: float) -> float:
    """Customer satisfaction index: a mean rating on the 1-5 scale mapped onto 0-100."""
    return round((mean - 1) / 4 * 100, 1)


def snapshot(store: Store, *, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    months = last_months(now)
    start = dt.datetime.strptime(months[0] + "-01", "%Y-%m-%d") - dt.timedelta(hours=8)
    cols = [entries.c.created_at, entries.c.type, entries.c.status,
            *[entries.c[f"rating_{k}"] for k in RATING_COLUMNS]]
    with store.engine.connect() as conn:
        conn.execution_options(write=False)
        rows = conn.execute(sa.select(*cols).where(entries.c.created_at >= start)).mappings().all()
        done = conn.execute(sa.select(actions.c.what, actions.c.target_kind, actions.c.target, actions.c.pr_url,
                                      actions.c.done_at)
                            .where(actions.c.public.is_(True), actions.c.done_at.is_not(None))
                            .order_by(actions.c.done_at.desc()).limit(100)).mappings().all()
        published = conn.execute(sa.select(entries.c.created_at, entries.c.type, entries.c.category,
                                           entries.c.status, entries.c.public_summary)
                                 .where(entries.c.public_summary.is_not(None))
                                 .order_by(entries.c.created_at.desc()).limit(100)).mappings().all()
    volume = {m: {t: 0 for t in store.config.types} for m in months}
    closed = {m: 0 for m in months}
    sums = {m: {k: [0, 0] for k in RATING_COLUMNS} for m in months}
    for r in rows:
        m = month_of(r["created_at"])
        if m not in volume:
            continue
        volume[m][r["type"]] = volume[m].get(r["type"], 0) + 1
        closed[m] += r["status"] == "closed"
        for k in RATING_COLUMNS:
            if r[f"rating_{k}"] is not None:
                sums[m][k][0] += r[f"rating_{k}"]
                sums[m][k][1] += 1
    csi_table = {m: {k: (csi(s / n) if n else None) for k, (s, n) in dims.items()} for m, dims in sums.items()}
    ratings_count = {m: max(n for _, n in dims.values()) for m, dims in sums.items()}
    return {
        "generated_at": now.replace(tzinfo=dt.UTC).isoformat(timespec="seconds"),
        "months": months,
        "types": {t: k.label for t, k in store.config.types.items()},
        "dimensions": dict(store.config.ratings),
        "volume": volume,
        "closed": closed,
        "csi": csi_table,
        "ratings_count": ratings_count,
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
            "CSI 是业主评分（1 到 5 分）的平均值换算到 0 到 100：1 分为 0，5 分为 100。", "",
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
    """A small inline SVG line chart of CSI per dimension per month (no scripts, no outside host)."""
    from html import escape

    months = data["months"]
    w, h, left, top, bottom = 640, 220, 36, 10, 40
    step = (w - left - 10) / max(1, len(months) - 1)
    colours = ["#3949ab", "#00897b", "#f4511e", "#8e24aa", "#6d4c41"]

    def y(v: float) -> float:
        return top + (h - top - bottom) * (1 - v / 100)

    parts = [f'<svg class="kb-chart" viewBox="0 0 {w} {h}" role="img" aria-label="每月满意度（CSI）走势" '
             f'xmlns="http://www.w3.org/2000/svg">']
    for v in (0, 50, 100):
        parts.append(f'<line x1="{left}" x2="{w - 10}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ccc"/>'
                     f'<text x="{left - 4}" y="{y(v) + 4:.1f}" font-size="11" text-anchor="end">{v}</text>')
    for i, m in enumerate(months):
        if i % 2 == len(months) % 2:
            parts.append(f'<text x="{left + i * step:.1f}" y="{h - bottom + 16}" font-size="11" '
                         f'text-anchor="middle">{escape(m[2:])}</text>')
    for n, (key, label) in enumerate(dims.items()):
        colour = colours[n % len(colours)]
        points = [(left + i * step, y(data["csi"][m][key])) for i, m in enumerate(months)
                  if data["csi"][m][key] is not None]
        if points:
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
                         + " ".join(f"{x:.1f},{yy:.1f}" for x, yy in points) + '"/>')
            parts += [f'<circle cx="{x:.1f}" cy="{yy:.1f}" r="3" fill="{colour}"/>' for x, yy in points]
        parts.append(f'<text x="{left + n * 110}" y="{h - 6}" font-size="12" fill="{colour}">■ {escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)

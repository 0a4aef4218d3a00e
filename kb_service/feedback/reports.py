"""Figures from the improvement log: weekly volume, status counts, satisfaction (CSI), CSV export.

Plain functions over a Store, tested directly. Counts are aggregated in SQL with portable
expressions (time buckets are computed here in Python and handed to SQL as a CASE over
`created_at`), so the same queries run on SQLite and PostgreSQL. Nothing returned by
`csi_by_month` or `volume_by_month` identifies a person: the public "你说我改" page may use them.

Times are stored as naive UTC; weeks and months are Beijing time (UTC+8, no daylight saving).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import sqlalchemy as sa

from kb_service.db import entries
from kb_service.feedback.forms import mask_text
from kb_service.feedback.insights import week_label
from kb_service.feedback import deadlines
from kb_service.feedback.store import MAX_LIMIT, STATUSES, Store
from kb_service.times import from_local, local_time, to_local

WEEKS = 12
MONTHS = 12
UNCATEGORISED = ""          # key for entries without a category
CSI_FORMULA = "CSI = (平均分 − 1) ÷ 4 × 100"


def csi(mean: float) -> float:
    """Customer satisfaction index: a 1..5 mean mapped linearly onto 0..100, one decimal."""
    return round((mean - 1) / 4 * 100, 1)


# -- time buckets ---------------------------------------------------------------------------------

def week_starts(now: dt.datetime, weeks: int = WEEKS) -> list[tuple[str, dt.datetime]]:
    """The last `weeks` ISO weeks (this one included), oldest first: (label, start as naive UTC)."""
    local = to_local(_naive_utc(now))
    monday = dt.datetime.combine(local.date() - dt.timedelta(days=local.weekday()), dt.time())
    out = []
    for back in range(weeks - 1, -1, -1):
        start = monday - dt.timedelta(weeks=back)
        year, week, _ = start.isocalendar()
        out.append((f"{year}-W{week:02d}", from_local(start)))
    return out


def month_starts(now: dt.datetime, months: int = MONTHS) -> list[tuple[str, dt.datetime]]:
    """The last `months` calendar months (this one included), oldest first: (label, start UTC)."""
    local = to_local(_naive_utc(now))
    out = []
    for back in range(months - 1, -1, -1):
        index = local.year * 12 + local.month - 1 - back
        year, month = divmod(index, 12)
        out.append((f"{year}-{month + 1:02d}", from_local(dt.datetime(year, month + 1, 1))))
    return out


def _naive_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _bucket(starts: list[tuple[str, dt.datetime]]):
    """SQL: the index of the bucket `created_at` falls into (newest first in the CASE)."""
    return sa.case(*[(entries.c.created_at >= start, i) for i, (_, start) in reversed(list(enumerate(starts)))],
                   else_=-1)


def _window(starts, now: dt.datetime):
    return sa.and_(entries.c.created_at >= starts[0][1], entries.c.created_at <= _naive_utc(now))


def _scope(community: str | None) -> list:
    """Extra WHERE for one community's entries (the dashboard's community= filter)."""
    return [entries.c.community == community] if community else []


def counts_by(store: Store, starts, column, now: dt.datetime, community: str | None = None) -> dict[str, list[int]]:
    # Grouped over a subquery's columns: PostgreSQL would not match a GROUP BY expression whose
    # bound parameters differ from the selected one's.
    inner = sa.select(_bucket(starts).label("bucket"), sa.func.coalesce(column, UNCATEGORISED).label("key")) \
        .where(_window(starts, now), *_scope(community)).subquery()
    with store.read() as conn:
        rows = conn.execute(sa.select(inner.c.bucket, inner.c.key, sa.func.count().label("n"))
                            .group_by(inner.c.bucket, inner.c.key)).all()
    out: dict[str, list[int]] = {}
    for index, name, n in rows:
        if 0 <= index < len(starts):
            out.setdefault(name, [0] * len(starts))[index] += int(n)
    return out


# -- public-safe aggregates -----------------------------------------------------------------------

def volume_by_month(store: Store, *, months: int = MONTHS, now: dt.datetime) -> dict[str, Any]:
    """Entries per feedback type per Beijing month. Counts only; no personal data."""
    starts = month_starts(now, months)
    counts = counts_by(store, starts, entries.c.type, now)
    types = store.config.types
    return {"months": [label for label, _ in starts],
            "types": {t: {"label": types[t].label, "counts": counts.get(t, [0] * len(starts))} for t in types}}


def csi_by_month(store: Store, *, months: int = MONTHS, now: dt.datetime, community: str | None = None) -> dict[str, Any]:
    """Per rating dimension and Beijing month: mean score, CSI and the number of ratings behind
    it; months without ratings have None. Aggregates only; no personal data."""
    starts = month_starts(now, months)
    dims = list(store.config.ratings)
    inner = sa.select(_bucket(starts).label("bucket"), *[entries.c[f"rating_{d}"] for d in dims]) \
        .where(_window(starts, now), *_scope(community)).subquery()
    cols = []
    for dim in dims:
        col = inner.c[f"rating_{dim}"]
        cols += [sa.func.sum(col).label(f"{dim}_sum"), sa.func.count(col).label(f"{dim}_n")]
    with store.read() as conn:
        rows = conn.execute(sa.select(inner.c.bucket, *cols).group_by(inner.c.bucket)).mappings().all()
    by_bucket = {r["bucket"]: r for r in rows}
    out: dict[str, Any] = {"months": [label for label, _ in starts], "formula": CSI_FORMULA, "dimensions": {}}
    for dim in dims:
        means, values, ns = [], [], []
        for i in range(len(starts)):
            row = by_bucket.get(i)
            n = int(row[f"{dim}_n"]) if row is not None else 0
            mean = int(row[f"{dim}_sum"]) / n if n else None
            means.append(round(mean, 2) if mean is not None else None)
            values.append(csi(mean) if mean is not None else None)
            ns.append(n)
        out["dimensions"][dim] = {"label": store.config.ratings[dim], "mean": means, "csi": values, "n": ns}
    return out


# -- staff dashboard --------------------------------------------------------------------------------

def dashboard(store: Store, *, now: dt.datetime, community: str | None = None) -> dict[str, Any]:
    now = _naive_utc(now)
    weeks = week_starts(now)
    by_type = counts_by(store, weeks, entries.c.type, now, community)
    by_category = counts_by(store, weeks, entries.c.category, now, community)
    with store.read() as conn:
        # the same predicates as the list's overdue= filters (feedback/deadlines.py), so the tiles
        # and the list agree
        overdue, late_response, late_result = (
            conn.scalar(sa.select(sa.func.count()).select_from(entries).where(deadlines.overdue_clause(now, m),
                                                                              *_scope(community)))
            for m in (None, "response", "result"))
        status_rows = conn.execute(sa.select(entries.c.status, sa.func.count()).where(*_scope(community))
                                   .group_by(entries.c.status)).all()
    status_counts = dict.fromkeys(STATUSES, 0)
    for status, n in status_rows:
        status_counts[status] = int(n)
    config = store.config
    zero = [0] * len(weeks)
    categories = {name: {"label": config.categories.get(name, "未分类" if name == UNCATEGORISED else name),
                         "counts": counts}
                  for name, counts in sorted(by_category.items(), key=lambda kv: (-sum(kv[1]), kv[0]))}
    return {
        "generated_at": now.replace(tzinfo=dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "weeks": [label for label, _ in weeks],
        "week_labels": [week_label(to_local(start).date()) for _, start in weeks],     # 11月24日–30日
        "volume_by_type": {t: {"label": config.types[t].label, "counts": by_type.get(t, zero)}
                           for t in config.types},
        "volume_by_category": categories,
        "overdue_open": int(overdue or 0),
        "overdue_by_measure": {"response": int(late_response or 0), "result": int(late_result or 0)},
        "status_counts": {s: {"label": STATUSES[s], "count": status_counts[s]} for s in STATUSES},
        "total": sum(status_counts.values()),
        "csi": csi_by_month(store, now=now, community=community),
        "community": community,
    }


# -- CSV export -------------------------------------------------------------------------------------

CSV_COLUMNS = ("编号", "提交时间", "类型", "来源", "分类", "状态", "负责人", "答复时限", "处理时限",
               "超时", "电话", "小区", "内容")
SOURCES = {"resident": "业主", "page": "页面", "staff": "员工登记"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """A spreadsheet cell that cannot run as a formula: = + - @ (and tab/CR) get a leading '."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def export_csv(store: Store, filters: dict[str, Any], *, now: dt.datetime | None = None,
               community_names: dict[str, str] | None = None) -> str:
    """One row per entry with the list columns; phones masked, also inside the text; the community
    by name (`community_names`: id -> name). UTF-8 with BOM so that Excel opens the Chinese text
    correctly. 超时 names every deadline the entry is past (feedback/deadlines.py, as the list)."""
    names = community_names or {}

    _total, rows = store.list(**filters, limit=MAX_LIMIT, now=now)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for e in rows:
        late = "、".join(deadlines.LATE_LABELS[k] for k in e["overdue_kinds"])
        writer.writerow([safe_cell(v) for v in (
            e["reference"], local_time(e["created_at"], "%Y-%m-%d %H:%M"), e["type_label"],
            SOURCES.get(e["source"], e["source"]), e["category_label"] or "", e["status_label"],
            e["owner"] or "", local_time(e["respond_by"], "%Y-%m-%d %H:%M"),
            local_time(e["resolve_by"], "%Y-%m-%d %H:%M"), late,
            e["contact_phone"] or "",       # Store.list masks it with mask_phone already
            names.get(e["community"], e["community"]) if e["community"] else "", mask_text(e["content"]))])
    return "\ufeff" + buf.getvalue()

"""Promises and overdue in one place: which commitment each deadline of an entry comes from, and
whether it was kept, broken or is still running.

Each entry is measured against its own tier: a repair recorded as 紧急报修 has the 30-minute
on-site promise, not the type's default two hours (its `respond_by` was set from that tier when it
was recorded). The staff list's filters (超答复时限, 超处理时限), the dashboard's overdue tiles and
promise table, and the CSV all ask the functions here, so for the same data they show the same
numbers: the entries "overdue now" for a measure are exactly the ones the list filter shows, and
the promise table's "超时未完成" column summed over the tiers of a measure is that count.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

import sqlalchemy as sa

from kb_service.content.model import FeedbackConfig, Standard
from kb_service.db import entries

OPEN = ("received", "triaged", "in_progress")
# measure -> (deadline column, done column, what is promised)
MEASURES = {"response": ("respond_by", "responded_at", "首次联系"), "result": ("resolve_by", "resolved_at", "给出结果")}
LATE_LABELS = {"response": "超答复时限", "result": "超处理时限"}
def standard(config: FeedbackConfig, row, measure: str) -> Standard | None:
    """The commitment behind one deadline of an entry: its own repair tier for the first response
    when it has one, else its type's default."""
    kind = config.types.get(row["type"])
    if kind is None:
        return None
    if measure == "response":
        tier = row.get("tier")
        return kind.tiers.get(tier) if tier and tier in kind.tiers else kind.response
    return kind.result


def late_now(row, measure: str, now: dt.datetime) -> bool:
    """Open, not yet done, and the deadline has passed."""
    due_col, done_col, _ = MEASURES[measure]
    return (row["status"] in OPEN and row[due_col] is not None and row[due_col] < now
            and (measure == "result" or row[done_col] is None))


def overdue_kinds(row, now: dt.datetime) -> list[str]:
    """Every measure this entry is overdue on now (an entry can be past both deadlines)."""
    return [m for m in MEASURES if late_now(row, m, now)]


def overdue_clause(now: dt.datetime, measure: str | None = None):
    """SQL for late_now: one measure, or either (measure None)."""
    response = sa.and_(entries.c.status.in_(OPEN), entries.c.responded_at.is_(None), entries.c.respond_by < now)
    result = sa.and_(entries.c.status.in_(OPEN), entries.c.resolve_by < now)
    if measure == "response":
        return response
    if measure == "result":
        return result
    return sa.or_(response, result)


def filter_clause(value: bool | str | None, now: dt.datetime):
    """The list's overdue= filter as SQL (None: no filter)."""
    if value is None:
        return None
    if value is True or value == "true":
        return overdue_clause(now)
    if value is False or value == "false":
        return sa.not_(overdue_clause(now))
    return overdue_clause(now, value)


def outcome(row, measure: str, now: dt.datetime) -> str | None:
    """met / late / pending for one promise of one entry (None: the entry has no such promise).
    Late is done after the deadline, or not done and the deadline passed (open or not)."""
    due_col, done_col, _ = MEASURES[measure]
    due, done = row[due_col], row[done_col]
    if due is None:
        return None
    if done is not None:
        return "met" if done <= due else "late"
    return "late" if due < now else "pending"


def tiers(config: FeedbackConfig) -> dict[str, dict[str, Any]]:
    """One row per commitment the feedback types can promise (each repair tier its own row, the
    30-minute one included), in the order of feedback.yaml: id -> {id, label, measure, ...}."""
    out: dict[str, dict[str, Any]] = {}
    for kind in config.types.values():
        for measure in MEASURES:
            found = [kind.response, *kind.tiers.values()] if measure == "response" else [kind.result]
            for s in found:
                if s is not None and f"{measure}:{s.id}" not in out:
                    out[f"{measure}:{s.id}"] = {"id": s.id, "label": f"{s.name}（{s.text}）", "measure": measure,
                                                "measure_label": MEASURES[measure][2], "minutes": _minutes(s)}
    return out


def _minutes(s: Standard) -> int:
    return s.duration * {"minute": 1, "hour": 60, "day": 1440, "workday": 1440, "month": 43200}.get(s.unit, 1)


def evaluate(config: FeedbackConfig, rows: Iterable, now: dt.datetime) -> dict[str, dict[str, Any]]:
    """Each entry's promises sorted into their tiers: {tier key: {met, late, pending, overdue_now}}
    with entry ids. `overdue_now` are the open entries past that deadline (what the list filter shows)."""
    table = {k: {**v, "met": [], "late": [], "pending": [], "overdue_now": [], "rows": []}
             for k, v in tiers(config).items()}
    for r in rows:
        for measure in MEASURES:
            s = standard(config, r, measure)
            if s is None:
                continue
            cell = table.get(f"{measure}:{s.id}")
            result = outcome(r, measure, now)
            if cell is None or result is None:
                continue
            cell[result].append(r["id"])
            cell["rows"].append(r)
            if late_now(r, measure, now):
                cell["overdue_now"].append(r["id"])
    return table


def summary(config: FeedbackConfig, rows: Iterable, now: dt.datetime) -> dict[str, Any]:
    """The overdue figures of the dashboard's tiles: entries overdue on either deadline, and per measure."""
    rows = list(rows)
    per = {m: [r["id"] for r in rows if late_now(r, m, now)] for m in MEASURES}
    either = sorted({i for ids in per.values() for i in ids})
    return {"overdue": either, **{m: ids for m, ids in per.items()}}

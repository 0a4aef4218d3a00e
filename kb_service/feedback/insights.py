"""What a supervisor asks the dashboard: which community needs attention, are we keeping our
promises, which problems are growing.

Entries of the chosen period are read once (a handful of columns, no personal data) and the
figures computed here in Python, so the same code runs on SQLite and PostgreSQL. Every figure that
counts entries keeps their ids, so the page can link each number to the entries behind it.
Times are stored as naive UTC; weeks are Beijing weeks, labelled with dates (11月24日–30日).
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from dataclasses import dataclass
from typing import Any, Iterable

import sqlalchemy as sa

from kb_service.content.model import Community
from kb_service.db import entries, reading
from kb_service.feedback.store import RATING_COLUMNS, Store, overdue_kind
from kb_service.times import from_local, to_local

PERIODS = {7: "最近 7 天", 30: "最近 30 天", 90: "最近 90 天", 365: "最近一年"}
DEFAULT_PERIOD = 30
TREND_WEEKS = 8
MEASURES = {"response": ("respond_by", "responded_at", "首次联系"), "result": ("resolve_by", "resolved_at", "给出结果")}
PAGE = "page"
COLUMNS = ("id", "type", "category", "community", "status", "created_at", "respond_by", "resolve_by",
           "responded_at", "resolved_at", *(f"rating_{d}" for d in RATING_COLUMNS))


@dataclass
class Window:
    """The chosen period [start, end) and the one before it, as naive UTC."""
    days: int
    end: dt.datetime

    @property
    def start(self) -> dt.datetime:
        return self.end - dt.timedelta(days=self.days)

    @property
    def previous_start(self) -> dt.datetime:
        return self.start - dt.timedelta(days=self.days)


def period_days(raw: str | None) -> int:
    """The period picker's value; anything else falls back to the default period."""
    # compared as text: int() of 5,000 typed digits raises (Python's digit limit), "٣" would pass
    return int(raw) if raw in {str(p) for p in PERIODS} else DEFAULT_PERIOD


def week_label(start_local: dt.date) -> str:
    """11月24日–30日, or 12月29日–1月4日 across a month."""
    end = start_local + dt.timedelta(days=6)
    tail = f"{end.day}日" if end.month == start_local.month else f"{end.month}月{end.day}日"
    return f"{start_local.month}月{start_local.day}日–{tail}"


def local_weeks(now: dt.datetime, weeks: int) -> list[tuple[str, dt.datetime, dt.datetime]]:
    """The last `weeks` Beijing weeks (Monday to Sunday), oldest first: (label, start, end) in UTC."""
    local = to_local(now)
    monday = local.date() - dt.timedelta(days=local.weekday())
    out = []
    for back in range(weeks - 1, -1, -1):
        day = monday - dt.timedelta(weeks=back)
        start = from_local(dt.datetime.combine(day, dt.time()))
        out.append((week_label(day), start, start + dt.timedelta(weeks=1)))
    return out


def load(store: Store, since: dt.datetime, community: str | None = None) -> list[dict]:
    where = [entries.c.created_at >= since]
    if community:
        where.append(entries.c.community == community)
    with reading(store.engine) as conn:
        rows = conn.execute(sa.select(*[entries.c[c] for c in COLUMNS]).where(*where)).mappings().all()
    return [dict(r) for r in rows]


def hours(delta: dt.timedelta) -> float:
    return round(delta.total_seconds() / 3600, 1)


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def p90(values: list[float]) -> float | None:
    """Nearest-rank 90th percentile: 9 in 10 were at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


def csi_cell(scores: list[int], minimum: int) -> dict[str, Any]:
    """CSI with its sample size; None below the minimum number of ratings."""
    n = len(scores)
    value = round((sum(scores) / n - 1) / 4 * 100, 1) if n and n >= minimum else None
    return {"csi": value, "n": n}


# -- which community needs attention ----------------------------------------------------------------

def compare(store: Store, communities: Iterable[Community], *, window: Window) -> dict[str, Any]:
    """Side by side per community over the period: volume per 100 households, overdue open entries
    (now), CSI per rating dimension with its sample size, median hours to first contact and to result."""
    rows = [r for r in load(store, window.start) if r["created_at"] < window.end]
    open_rows = _open_overdue(store, window.end)
    config = store.config
    out = []
    for c in communities:
        mine = [r for r in rows if r["community"] == c.id and r["type"] != PAGE]
        late = [i for i, cid in open_rows if cid == c.id]
        out.append({
            "id": c.id, "name": c.label, "households": c.households, "volume": len(mine),
            "per_100": round(len(mine) / c.households * 100, 2),
            "overdue": len(late), "overdue_ids": late,
            "csi": {d: csi_cell([r[f"rating_{d}"] for r in mine if r[f"rating_{d}"] is not None], config.csi_min_ratings)
                    for d in config.ratings},
            "first_response_h": median([hours(r["responded_at"] - r["created_at"]) for r in mine if r["responded_at"]]),
            "result_h": median([hours(r["resolved_at"] - r["created_at"]) for r in mine if r["resolved_at"]]),
        })
    out.sort(key=lambda x: (-x["overdue"], -x["per_100"], x["id"]))
    return {"rows": out, "dimensions": dict(config.ratings), "min_ratings": config.csi_min_ratings}


def _open_overdue(store: Store, now: dt.datetime) -> list[tuple[int, str | None]]:
    with reading(store.engine) as conn:
        rows = conn.execute(sa.select(entries.c.id, entries.c.community, entries.c.status, entries.c.respond_by,
                                      entries.c.responded_at,
                                      entries.c.resolve_by).where(entries.c.status.in_(("received", "triaged", "in_progress"))
                                                                   )).mappings().all()
    return [(r["id"], r["community"]) for r in rows if overdue_kind(r, now) is not None]


# -- are we keeping our promises ---------------------------------------------------------------------

def outcome(row: dict, measure: str, now: dt.datetime) -> str | None:
    """met / late / pending for one promise of one entry (None: the entry has no such promise)."""
    due_col, done_col, _ = MEASURES[measure]
    due, done = row[due_col], row[done_col]
    if due is None:
        return None
    if done is not None:
        return "met" if done <= due else "late"
    return "late" if due < now else "pending"


def promises(store: Store, *, window: Window, community: str | None = None,
             weeks: int = TREND_WEEKS) -> dict[str, Any]:
    """Per commitment tier (each standard the feedback types promise), over entries created in the
    period, open and closed alike: how many were met on time, how many late (done late, or still
    not done after the deadline), the share met, median and p90 hours, and a weekly trend."""
    trend_weeks = local_weeks(window.end, weeks)
    since = min(window.start, trend_weeks[0][1])
    rows = [r for r in load(store, since, community) if r["created_at"] < window.end]
    tiers: dict[str, dict[str, Any]] = {}
    for kind in store.config.types.values():
        for measure in MEASURES:
            standard = kind.response if measure == "response" else kind.result
            if standard is None:
                continue
            tier = tiers.setdefault(standard.id, {
                "id": standard.id, "label": f"{standard.name}（{standard.text}）", "measure": measure,
                "measure_label": MEASURES[measure][2], "types": [], "met": [], "late": [], "pending": [],
                "hours": [], "weekly": [{"met": 0, "late": 0} for _ in trend_weeks]})
            tier["types"].append(kind.id)
    for tier in tiers.values():
        _, done_col, _ = MEASURES[tier["measure"]]
        for r in rows:
            if r["type"] not in tier["types"]:
                continue
            result = outcome(r, tier["measure"], window.end)
            if result is None:
                continue
            if r["created_at"] >= window.start:
                tier[result].append(r["id"])
                if r[done_col] is not None:
                    tier["hours"].append(hours(r[done_col] - r["created_at"]))
            for i, (_, start, end) in enumerate(trend_weeks):
                if start <= r["created_at"] < end and result != "pending":
                    tier["weekly"][i][result] += 1
    out = []
    for tier in tiers.values():
        decided = len(tier["met"]) + len(tier["late"])
        out.append({**{k: tier[k] for k in ("id", "label", "measure", "measure_label", "met", "late", "pending")},
                    "share": round(len(tier["met"]) / decided * 100, 1) if decided else None,
                    "median_h": median(tier["hours"]), "p90_h": p90(tier["hours"]),
                    "trend": [round(w["met"] / (w["met"] + w["late"]) * 100, 1) if w["met"] + w["late"] else None
                              for w in tier["weekly"]],
                    "trend_n": [w["met"] + w["late"] for w in tier["weekly"]]})
    return {"tiers": out, "weeks": [label for label, _, _ in trend_weeks]}


# -- which problems are growing ------------------------------------------------------------------------

def growing(store: Store, *, window: Window, community: str | None = None) -> dict[str, Any]:
    """Per category: entries this period against the period before, biggest rise first. Page
    feedback (about the site) and uncategorised entries are kept apart, not mixed into the ranking."""
    rows = [r for r in load(store, window.previous_start, community) if r["created_at"] < window.end]
    config = store.config

    def split(selected: list[dict]) -> dict[str, Any]:
        now_ids = [r["id"] for r in selected if r["created_at"] >= window.start]
        before = sum(1 for r in selected if r["created_at"] < window.start)
        return {"current": len(now_ids), "previous": before, "change": len(now_ids) - before,
                "pct": round((len(now_ids) - before) / before * 100) if before else None, "ids": now_ids}

    categories = []
    for cid, label in config.categories.items():
        mine = [r for r in rows if r["category"] == cid and r["type"] != PAGE]
        if mine:
            categories.append({"id": cid, "label": label, **split(mine)})
    categories.sort(key=lambda x: (-x["change"], -x["current"], x["id"]))
    uncategorised = {tid: {"label": kind.label, **split([r for r in rows if r["type"] == tid and not r["category"]])}
                     for tid, kind in config.types.items() if tid != PAGE}
    return {"categories": categories,
            "uncategorised": {k: v for k, v in uncategorised.items() if v["current"] or v["previous"]},
            "page": split([r for r in rows if r["type"] == PAGE])}

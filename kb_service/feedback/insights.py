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
from kb_service.feedback import deadlines
from kb_service.feedback.store import RATING_COLUMNS, Store
from kb_service.times import add_months, from_local, to_local

# Rolling windows and calendar months (a supervisor reports by month): 本月 is the 1st until now.
PERIODS: dict[int | str, str] = {7: "最近 7 天", 30: "最近 30 天", 90: "最近 90 天", 365: "最近一年",
                                 "month": "本月", "last-month": "上月"}
DEFAULT_PERIOD = 30
TREND_WEEKS = 8
MEASURES = deadlines.MEASURES
PAGE = "page"
COLUMNS = ("id", "type", "tier", "category", "community", "status", "created_at", "respond_by", "resolve_by",
           "responded_at", "resolved_at", *(f"rating_{d}" for d in RATING_COLUMNS))


@dataclass
class Window:
    """The chosen period [start, end) and the one before it, as naive UTC: the last `days` days, or
    a calendar month (`begin`, `previous`). Promises are judged at `now` (for 上月 too)."""
    days: int
    end: dt.datetime
    begin: dt.datetime | None = None
    previous: dt.datetime | None = None
    at: dt.datetime | None = None

    @property
    def start(self) -> dt.datetime:
        return self.begin if self.begin is not None else self.end - dt.timedelta(days=self.days)

    @property
    def previous_start(self) -> dt.datetime:
        return self.previous if self.previous is not None else self.start - dt.timedelta(days=self.days)

    @property
    def now(self) -> dt.datetime:
        return self.at if self.at is not None else self.end


def period_days(raw: str | None) -> int | str:
    """The period for the picker's value (a key of PERIODS as text, checked by the dashboard's
    declared input, web/api/queries.py); none given: the default period."""
    return next((p for p in PERIODS if str(p) == raw), DEFAULT_PERIOD)


def month_start(now: dt.datetime, back: int = 0) -> dt.datetime:
    """The first moment (naive UTC) of the Beijing calendar month `back` months before now's."""
    local = to_local(now)
    return from_local(add_months(dt.datetime(local.year, local.month, 1), -back))


def window(period: int | str, now: dt.datetime) -> Window:
    """The period picker's choice as a Window: rolling days, 本月 (1st until now) or 上月 (whole)."""
    if period == "month":
        start = month_start(now)
        return Window((now - start).days or 1, now, begin=start, previous=month_start(now, 1), at=now)
    if period == "last-month":
        start, end = month_start(now, 1), month_start(now)
        return Window((end - start).days, end, begin=start, previous=month_start(now, 2), at=now)
    return Window(int(period), now)


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
    open_rows = _open_overdue(store, window.now)
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


def load_open(store: Store, community: str | None = None) -> list[dict]:
    """Every open entry (whenever it came in): what can be overdue now."""
    where = [entries.c.status.in_(deadlines.OPEN)]
    if community:
        where.append(entries.c.community == community)
    with reading(store.engine) as conn:
        return [dict(r) for r in conn.execute(sa.select(*[entries.c[c] for c in COLUMNS]).where(*where)).mappings()]


def _open_overdue(store: Store, now: dt.datetime) -> list[tuple[int, str | None]]:
    return [(r["id"], r["community"]) for r in load_open(store) if deadlines.overdue_kinds(r, now)]


# -- are we keeping our promises ---------------------------------------------------------------------

outcome = deadlines.outcome


def promises(store: Store, *, window: Window, community: str | None = None,
             weeks: int = TREND_WEEKS) -> dict[str, Any]:
    """One row per commitment tier (feedback/deadlines.py: each entry against its own tier, so an
    urgent repair counts under the 30-minute promise), over entries created in the period, open and
    closed alike: how many were met on time, how many late (done late, or still not done after the
    deadline), the share met, median and p90 hours, a weekly trend; and, whenever they came in, the
    open entries past that deadline now (the list's 超答复时限 / 超处理时限 filters show exactly these)."""
    config = store.config
    now = window.now
    trend_weeks = local_weeks(window.end, weeks)
    since = min(window.start, trend_weeks[0][1])
    rows = [r for r in load(store, since, community) if r["created_at"] < window.end]
    table = deadlines.evaluate(config, [r for r in rows if r["created_at"] >= window.start], now)
    open_now = deadlines.evaluate(config, load_open(store, community), now)
    weekly = [deadlines.evaluate(config, [r for r in rows if start <= r["created_at"] < end], now)
              for _, start, end in trend_weeks]
    out = []
    for key, tier in table.items():
        _, done_col, _ = MEASURES[tier["measure"]]
        spent = [hours(r[done_col] - r["created_at"]) for r in tier["rows"] if r[done_col] is not None]
        decided = len(tier["met"]) + len(tier["late"])
        counts = [(len(w[key]["met"]), len(w[key]["late"])) for w in weekly]
        out.append({**{k: tier[k] for k in ("id", "label", "measure", "measure_label", "met", "late", "pending")},
                    "key": key, "overdue_now": open_now[key]["overdue_now"],
                    "share": round(len(tier["met"]) / decided * 100, 1) if decided else None,
                    "median_h": median(spent), "p90_h": p90(spent),
                    "trend": [round(m / (m + n) * 100, 1) if m + n else None for m, n in counts],
                    "trend_n": [m + n for m, n in counts]})
    return {"tiers": out, "weeks": [label for label, _, _ in trend_weeks],
            "overdue_now": {m: sum(len(t["overdue_now"]) for t in out if t["measure"] == m) for m in MEASURES}}


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

"""The public "你说我改" page: what residents told us and what changed, without personal data.

`kb export-log` takes a snapshot of the improvement log (counts per month, CSI per month, the
actions staff marked public and finished, summaries staff approved for publication) into
KB_DATA_DIR/public-log.json (Settings.public_log_path) and rebuilds the site; the `kb:public-log`
block (site/public_log.py) renders it. Only
aggregates and text written for publication leave the database: never contact details, locations,
references or what residents wrote.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from kb_service.db import actions, entries, reading
from kb_service.feedback import reports
from kb_service.feedback.store import Store
from kb_service.times import iso, to_local, utcnow

MONTHS = 12


def month_of(value: dt.datetime) -> str:
    return to_local(value).strftime("%Y-%m")


def snapshot(store: Store, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Aggregates from reports (the same figures as the staff dashboard) plus approved text.
    Page feedback ("was this page helpful?") is about the website, not the service: left out."""
    now = now or utcnow()
    volume = reports.volume_by_month(store, months=MONTHS, now=now)
    scores = reports.csi_by_month(store, months=MONTHS, now=now)
    months = volume["months"]
    statuses = reports.counts_by(store, reports.month_starts(now, MONTHS), entries.c.status, now)
    types = {t: spec["label"] for t, spec in volume["types"].items() if t != "page"}
    dims = scores["dimensions"]
    with reading(store.engine) as conn:
        done = conn.execute(sa.select(actions.c.what, actions.c.target_kind, actions.c.target, actions.c.pr_url,
                                      actions.c.done_at)
                            .where(actions.c.public.is_(True), actions.c.done_at.is_not(None))
                            .order_by(actions.c.done_at.desc()).limit(100)).mappings().all()
        published = conn.execute(sa.select(entries.c.created_at, entries.c.type, entries.c.category,
                                           entries.c.status, entries.c.public_summary)
                                 .where(entries.c.public_summary.is_not(None))
                                 .order_by(entries.c.created_at.desc()).limit(100)).mappings().all()
    return {
        "generated_at": iso(now),
        "months": months,
        "formula": scores["formula"],
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

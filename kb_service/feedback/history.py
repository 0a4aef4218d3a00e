"""A caller's earlier entries, found by phone number, and whether this call repeats one.

Phones are stored as staff or residents typed them (after forms' parse_phone); matching is on
the digits alone, with a leading +86/0086 dropped, so 138-1234-5678, 138 1234 5678 and
+8613812345678 are the same caller. The lookup narrows by the last four digits in SQL and
compares the normalised numbers in Python (the stored formats vary)."""

from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa

from kb_service.db import entries, reading
from kb_service.feedback.store import Store, entry_filters
from kb_service.times import utcnow


def normalize_phone(text: str | None) -> str:
    digits = re.sub(r"\D", "", text or "")
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def by_phone(store: Store, phone: str, *, limit: int = 50, offset: int = 0,
             now: dt.datetime | None = None, community: str | None = None) -> tuple[int, list[dict]]:
    """(total, entries newest first, masked like the list) for one caller's number."""
    want = normalize_phone(phone)
    if len(want) < 7:
        return 0, []
    where = [entries.c.contact_phone.like(f"%{want[-4:]}")]
    if community:
        where.append(entries.c.community == community)
    with reading(store.engine) as conn:
        rows = conn.execute(sa.select(entries).where(*where)
                            .order_by(entries.c.created_at.desc(), entries.c.id.desc())).mappings().all()
    same = [r for r in rows if normalize_phone(r["contact_phone"]) == want]
    return len(same), [store.summary(r, now=now) for r in same[offset:offset + limit]]


def recent_categories(found: list[dict], window_days: int, *, now: dt.datetime | None = None) -> list[str]:
    """Categories of this caller's entries within the repeat window, most recent first."""
    since = (now or utcnow()) - dt.timedelta(days=window_days)
    out: list[str] = []
    for e in found:
        created = dt.datetime.fromisoformat(e["created_at"]).astimezone(dt.timezone.utc).replace(tzinfo=None)
        if created >= since and e["category"] and e["category"] not in out:
            out.append(e["category"])
    return out


def search(store: Store, q: str, *, status: str | None = None, type: str | None = None,
           category: str | None = None, overdue: bool | str | None = None, exclude: tuple[str, ...] = (),
           community: str | None = None, ids: list[int] | None = None,
           limit: int = 50, offset: int = 0, now: dt.datetime | None = None) -> tuple[int, list[dict]]:
    """The staff list searched by reference (FB20261127-…, any case, any part), room or place
    (location), or phone (any typing, any part of four or more digits), with the list's filters."""
    now = now or utcnow()
    q = q.strip()[:60]
    digits = normalize_phone(q) if len(re.sub(r"\D", "", q)) >= 4 else ""
    like = f"%{q.replace('%', '').replace('_', '')}%"
    match = [sa.func.upper(entries.c.reference).like(like.upper()), entries.c.location.like(like)]
    if digits:
        match.append(entries.c.contact_phone.like(f"%{digits[-4:]}%"))
    filters = {"status": status, "type": type, "category": category, "overdue": overdue, "community": community,
               "ids": ids, "exclude": exclude}
    if not q:   # the plain list: the store's own query, counted and paged in SQL
        return store.list(**filters, limit=limit, offset=offset, now=now)
    where = [sa.or_(*match), *entry_filters(**filters, now=now)]
    with reading(store.engine) as conn:
        rows = conn.execute(sa.select(entries).where(*where)
                            .order_by(entries.c.created_at.desc(), entries.c.id.desc())).mappings().all()
    lowered = q.lower()

    def hit(r) -> bool:
        return (lowered in r["reference"].lower() or (r["location"] and q in r["location"])
                or bool(digits and digits in normalize_phone(r["contact_phone"])))
    found = [r for r in rows if hit(r)]
    return len(found), [store.summary(r, now=now) for r in found[offset:offset + limit]]

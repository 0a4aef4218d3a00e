"""The improvement log: every feedback entry, its lifecycle, its history and its actions.

One Store per process wraps the engine. Writes are short transactions; each change to an entry
appends an event in the same transaction, and events are never updated or deleted, so the
history of an entry is the events table read in order.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kb_service.content.model import FeedbackConfig
from kb_service.db import actions, entries, events, lookup_picks, reading, search_gaps
from kb_service.errors import Conflict, NotFound, ValidationFailed
from kb_service.feedback.fields_spec import MISSING, PATCH, STATUSES, Errors, check, choices, clean
from kb_service.feedback import contact, deadlines
from kb_service.feedback.forms import Submission, mask_location, mask_name, mask_phone, mask_text
from kb_service.inputs import CONTROL
from kb_service.times import iso, to_local, utcnow

TRANSITIONS = {
    "received": {"triaged"},
    "triaged": {"in_progress"},
    "in_progress": {"resolved"},
    "resolved": {"followed_up"},
    "followed_up": {"closed", "in_progress"},   # not satisfied at follow-up: work on it again
    "closed": set(),
}
OPEN = deadlines.OPEN
RATING_COLUMNS = ("service", "communication", "management", "price", "care")
MAX_LIMIT = 100_000
_REF_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"   # no 0/O, 1/I: read out over the phone
# A replayed idempotency key returns the first entry only when the submission is the same.
SAME_CONTENT = ("type", "source", "category", "location", "content", "page", "helpful", "consent",
                "contact_name", "contact_phone", *(f"rating_{k}" for k in RATING_COLUMNS))


GAPS_DAYS, GAPS_MAX, GAPS_PER_FLUSH = 90, 20_000, 2_000
PICKS_DAYS = 90   # agents' picks from the lookup (queries may hold what a caller said)


@dataclass
class Store:
    engine: Engine
    config: FeedbackConfig

    # -- submissions -------------------------------------------------------------------------

    def __post_init__(self):
        self._writer = GroupCommit(self._write_batch)

    def submit(self, sub: Submission, *, actor: str = "resident", now: dt.datetime | None = None,
               access_hash: str | None = None) -> tuple[dict, bool]:
        """Store a submission durably (committed before this returns). Returns (entry summary,
        created); a repeated idempotency key returns the entry stored the first time."""
        row = self._new_row(sub, now or utcnow())
        row["access_hash"] = access_hash
        stored, created = self._writer.submit((row, actor))
        if not created and any(stored[k] != row[k] for k in SAME_CONTENT):
            # Someone else's key (or a reused one): say nothing about the entry stored under it.
            raise Conflict("这个 idempotency_key 已用于另一份内容不同的提交；重新提交时请换一个新的键",
                           field="idempotency_key")
        return self.summary(stored), created

    def _new_row(self, sub: Submission, now: dt.datetime) -> dict:
        kind = self.config.types[sub.type]
        response = kind.tiers.get(sub.tier) if sub.tier else kind.response
        return {
            "type": sub.type, "source": sub.source, "category": sub.category,
            "location": sub.location, "content": sub.content, "page": sub.page,
            "helpful": sub.helpful, "consent": sub.consent, "contact_name": sub.contact_name,
            "contact_phone": sub.contact_phone, "record": sub.record,
            "script_id": sub.script_id, "tier": sub.tier,
            **{f"rating_{k}": sub.ratings.get(k) for k in RATING_COLUMNS},
            "status": "received", "created_at": now,
            "respond_by": response.deadline(now) if response else None,
            "resolve_by": kind.result.deadline(now) if kind.result else None,
            "idempotency_key": sub.idempotency_key, "community": sub.community,
        }

    def _write_batch(self, items: list[tuple[dict, str]]) -> list[tuple[dict, bool]]:
        """One transaction for many submissions: one disk sync instead of one per submission."""
        try:
            return self._insert(items)
        except sa.exc.IntegrityError:
            # Another process stored one of these keys in the meantime, or a reference collided:
            # go one by one (each insert looks its key up again) so each item gets its own answer.
            return [self._insert([item])[0] for item in items]

    def _insert(self, items: list[tuple[dict, str]]) -> list[tuple[dict, bool]]:
        out: list[tuple[dict, bool] | None] = [None] * len(items)
        fresh: list[int] = []
        with self.engine.begin() as conn:
            keys = [row["idempotency_key"] for row, _ in items if row["idempotency_key"]]
            existing = {}
            if keys:
                existing = {r["idempotency_key"]: dict(r) for r in conn.execute(
                    sa.select(entries).where(entries.c.idempotency_key.in_(set(keys)))).mappings()}
            batch_keys: dict[str, int] = {}
            for i, (row, _actor) in enumerate(items):
                key = row["idempotency_key"]
                if key in existing:
                    out[i] = (existing[key], False)
                elif key and key in batch_keys:
                    out[i] = None            # same key twice in one batch: answered below
                else:
                    if key:
                        batch_keys[key] = i
                    row["reference"] = new_reference(row["created_at"])
                    fresh.append(i)
            if fresh:
                ids = conn.execute(entries.insert().returning(entries.c.id, sort_by_parameter_order=True),
                                   [items[i][0] for i in fresh]).scalars().all()
                conn.execute(events.insert(), [
                    {"entry_id": entry_id, "at": items[i][0]["created_at"], "actor": items[i][1],
                     "kind": "created", "to_status": "received", "from_status": None, "note": None,
                     "data": {"source": items[i][0]["source"]}}
                    for i, entry_id in zip(fresh, ids)])
                for i, entry_id in zip(fresh, ids):
                    out[i] = (_full_row({**items[i][0], "id": entry_id}), True)
        for i, (row, _actor) in enumerate(items):
            if out[i] is None:
                out[i] = (out[batch_keys[row["idempotency_key"]]][0], False)
        return out

    # -- reading -----------------------------------------------------------------------------

    def read(self) -> sa.Connection:
        return reading(self.engine)

    def list(self, *, status: str | None = None, type: str | None = None, category: str | None = None,
             overdue: bool | str | None = None, limit: int = 50, offset: int = 0,
             now: dt.datetime | None = None, community: str | None = None,
             ids: list[int] | None = None, exclude: tuple[str, ...] = ()) -> tuple[int, list[dict]]:
        now = now or utcnow()
        where = entry_filters(status=status, type=type, category=category, overdue=overdue, community=community,
                              ids=ids, exclude=exclude, now=now)
        query = sa.select(entries).where(*where)
        with self.read() as conn:
            total = conn.scalar(sa.select(sa.func.count()).select_from(entries).where(*where))
            rows = conn.execute(query.order_by(entries.c.created_at.desc(), entries.c.id.desc())
                                .limit(limit).offset(offset)).mappings().all()
        return total, [self.summary(r, now=now) for r in rows]

    def get(self, entry_id: int, *, now: dt.datetime | None = None) -> dict:
        with self.read() as conn:
            row = conn.execute(sa.select(entries).where(entries.c.id == entry_id)).mappings().first()
            if row is None:
                raise NotFound(f"没有编号为 {entry_id} 的条目", id=entry_id)
            history = conn.execute(sa.select(events).where(events.c.entry_id == entry_id)
                                   .order_by(events.c.id)).mappings().all()
            acts = conn.execute(sa.select(actions).where(actions.c.entry_id == entry_id)
                                .order_by(actions.c.id)).mappings().all()
        out = self.summary(row, now=now, masked=False)
        out["events"] = [event_json(e) for e in history]
        out["actions"] = [action_json(a) for a in acts]
        out["transitions"] = sorted(TRANSITIONS[row["status"]])
        return out

    def summary(self, row, *, now: dt.datetime | None = None, masked: bool = True) -> dict:
        now = now or utcnow()
        kind = self.config.types.get(row["type"])
        late = deadlines.overdue_kinds(row, now)
        phone = row["contact_phone"]
        return {
            "id": row["id"], "reference": row["reference"], "type": row["type"],
            "type_label": kind.label if kind else row["type"], "source": row["source"],
            "status": row["status"], "status_label": STATUSES[row["status"]],
            "category": row["category"],
            "category_label": self.config.categories.get(row["category"] or "", None),
            "location": mask_location(row["location"]) if masked else row["location"],
            "content": mask_text(row["content"]) if masked else row["content"],
            "page": row["page"], "helpful": row["helpful"], "consent": bool(row["consent"]),
            "contact_name": mask_name(row["contact_name"]) if masked else row["contact_name"],
            "contact_phone": mask_phone(phone) if masked else phone,
            "ratings": {k: row[f"rating_{k}"] for k in RATING_COLUMNS if row[f"rating_{k}"] is not None},
            "record": mask_record(row["record"]) if masked else row["record"], "owner": row["owner"],
            "script_id": row["script_id"], "tier": row["tier"],
            "created_at": iso(row["created_at"]), "respond_by": iso(row["respond_by"]),
            "resolve_by": iso(row["resolve_by"]), "responded_at": iso(row["responded_at"]),
            "resolved_at": iso(row["resolved_at"]), "closed_at": iso(row["closed_at"]),
            # every deadline it is past now (both can be); overdue_kind is the first, the result one
            "overdue": bool(late), "overdue_kind": late[-1] if late else None, "overdue_kinds": late,
            "public_summary": row["public_summary"], "resident_reply": row["resident_reply"], "purged": row["purged_at"] is not None, "claim": bool(row["claim"]),
            "community": row["community"],
        }

    # -- changes -----------------------------------------------------------------------------

    def update(self, entry_id: int, patch: dict[str, Any], *, actor: str, now: dt.datetime | None = None) -> dict:
        """Apply a staff change: owner, category, a status transition (or a note), publication, a new
        action, an action done. Everything in one transaction; each operation appends its own event."""
        now = now or utcnow()
        change = parse_patch(patch, self.config)
        with self.engine.begin() as conn:
            # FOR UPDATE: two staff changing one entry at once on PostgreSQL must not both pass the
            # transition check (SQLite's BEGIN IMMEDIATE already serialises writers).
            row = conn.execute(sa.select(entries).where(entries.c.id == entry_id).with_for_update()).mappings().first()
            if row is None:
                raise NotFound(f"没有编号为 {entry_id} 的条目", id=entry_id)
            c = Change(conn, entry_id, row, actor, now)
            if change.get("status") == "triaged" and not (change.get("owner") or row["owner"]):
                change["owner"] = actor   # assigning always names an owner: whoever assigns, unless told
            if "owner" in change:
                self.set_owner(c, change["owner"])
            if "category" in change:
                self.set_category(c, change["category"])
            if "status" in change:
                self.set_status(c, change["status"], note=change.get("note"), satisfied=change.get("satisfied"))
            elif "note" in change:
                self.add_note(c, change["note"])
            if change.get("contacted"):
                self.contacted(c, change["contacted"])
            if "claim" in change:
                self.set_claim(c, change["claim"])
            if "publish" in change:
                self.publish(c, change["publish"])
            if "reply" in change:
                self.reply(c, change["reply"])
            if "action" in change:
                self.add_action(c, change["action"])
            if "action_done" in change:
                self.action_done(c, change["action_done"])
            if not c.log:
                raise ValidationFailed([{"field": "status", "message":
                                         "没有要修改的内容：可提交 status、owner、category、note、contacted、claim、action、action_done、publish 或 reply"}])
            if c.values:
                conn.execute(entries.update().where(entries.c.id == entry_id).values(**c.values))
            for item in c.log:
                conn.execute(events.insert().values(entry_id=entry_id, at=now, actor=actor, **item))
        return self.get(entry_id, now=now)

    # One method per operation of a change. Each records what it sets in `c.values` and its event
    # in `c.log`; `update` writes both in its transaction.

    @staticmethod
    def set_owner(c: Change, owner: str) -> None:
        if owner != c.row["owner"]:
            c.values["owner"] = owner
            c.log.append({"kind": "owner", "data": {"from": c.row["owner"], "to": owner}})

    @staticmethod
    def set_category(c: Change, category: str) -> None:
        if category != c.row["category"]:
            c.values["category"] = category
            c.log.append({"kind": "category", "data": {"from": c.row["category"], "to": category}})

    def set_status(self, c: Change, target: str, *, note: str | None = None, satisfied: bool | None = None) -> None:
        status = c.row["status"]
        if target not in TRANSITIONS[status]:
            allowed = choices({s: STATUSES[s] for s in sorted(TRANSITIONS[status])}) or "无（已关闭）"
            raise Conflict(f"不能从 {status}（{STATUSES[status]}）变为 {target}（{STATUSES[target]}）；"
                           f"当前可以变为：{allowed}", status=status, allowed=sorted(TRANSITIONS[status]))
        if target == "closed" and self._last_satisfied(c.conn, c.entry_id) is False:
            raise Conflict("回访时业主不满意，不能直接关闭；请转回 in_progress（处理中）继续处理",
                           status=status, allowed=["in_progress"])
        c.values["status"] = target
        if target == "resolved":
            c.values["resolved_at"] = c.now
        if target == "closed":
            c.values["closed_at"] = c.now
        if target == "in_progress" and status == "followed_up":
            c.values["resolved_at"] = None
        c.log.append({"kind": "status", "from_status": status, "to_status": target, "note": note,
                      "data": {"satisfied": satisfied} if satisfied is not None else None})

    @staticmethod
    def add_note(c: Change, note: str) -> None:
        c.log.append({"kind": "note", "note": note})

    @staticmethod
    def contacted(c: Change, how_when: dict) -> None:
        """The resident was actually reached: the first time meets the response deadline. Not
        before the entry existed (to the minute: a phone intake is saved just after the call)."""
        if how_when["at"] < c.row["created_at"].replace(second=0, microsecond=0):
            raise ValidationFailed([{"field": "contacted.at", "message": "联系时间不能早于这条反馈登记的时间"
                                     f"（{iso(c.row['created_at'])}）"}])
        if c.row["responded_at"] is None:
            c.values["responded_at"] = how_when["at"]
        c.log.append({"kind": "contacted", "data": {"how": how_when["how"], "at": iso(how_when["at"])}})

    @staticmethod
    def set_claim(c: Change, claim: bool) -> None:
        if claim != bool(c.row["claim"]):
            c.values["claim"] = claim
            c.log.append({"kind": "claim", "data": {"claim": claim}})

    @staticmethod
    def reply(c: Change, text: str) -> None:
        """The answer written for the resident, on their status page only (never public)."""
        c.values["resident_reply"] = text
        c.log.append({"kind": "reply", "note": text})

    @staticmethod
    def publish(c: Change, text: str) -> None:
        c.values["public_summary"] = text
        c.log.append({"kind": "publish", "note": text})

    @staticmethod
    def add_action(c: Change, action: dict[str, Any]) -> None:
        action_id = c.conn.execute(actions.insert().values(
            entry_id=c.entry_id, created_at=c.now, created_by=c.actor, **action)).inserted_primary_key[0]
        c.log.append({"kind": "action", "data": {"action_id": action_id, **_jsonable(action)}})

    @staticmethod
    def action_done(c: Change, done: dict[str, Any]) -> None:
        act = c.conn.execute(sa.select(actions).where(actions.c.id == done["id"],
                                                      actions.c.entry_id == c.entry_id)).mappings().first()
        if act is None:
            raise ValidationFailed([{"field": "action_done.id", "message": "这个条目下没有该改进措施"}])
        if act["done_at"] is not None:
            raise Conflict("这项改进措施已经标记完成", action_id=done["id"])
        c.conn.execute(actions.update().where(actions.c.id == done["id"])
                       .values(done_at=c.now, pr_url=done.get("pr_url") or act["pr_url"]))
        c.log.append({"kind": "action_done", "data": {"action_id": done["id"], "pr_url": done.get("pr_url")}})

    @staticmethod
    def _last_satisfied(conn, entry_id: int) -> bool | None:
        data = conn.scalar(sa.select(events.c.data).where(
            events.c.entry_id == entry_id, events.c.to_status == "followed_up").order_by(events.c.id.desc()).limit(1))
        return (data or {}).get("satisfied")

    def adopt_entries(self, community: str) -> int:
        """Entries stored before communities existed (no community; page feedback aside) belong to
        the default community. Run at start-up; a no-op once done."""
        with self.engine.begin() as conn:
            return conn.execute(entries.update().where(entries.c.community.is_(None), entries.c.type != "page")
                                .values(community=community)).rowcount

    def action_is_public(self, entry_id: int, action_id) -> bool:
        """Whether an action of this entry shows on the public 你说我改 page."""
        if isinstance(action_id, str) and action_id.strip().isdecimal() and len(action_id) < 12:
            action_id = int(action_id)
        if not isinstance(action_id, int) or isinstance(action_id, bool):
            return False
        with self.read() as conn:
            return bool(conn.scalar(sa.select(actions.c.public).where(actions.c.id == action_id,
                                                                      actions.c.entry_id == entry_id)))

    # -- content gaps --------------------------------------------------------------------------

    def record_gaps(self, gaps: list[tuple[str, int, float | None, dt.datetime]]) -> None:
        """(query, results, top score, when) rows, in one transaction."""
        if gaps:
            with self.engine.begin() as conn:
                # Masked before it is stored: a resident may type a phone or ID number into search.
                conn.execute(search_gaps.insert(), [{"query": mask_text(CONTROL.sub("", q))[:200], "results": n, "top_score": top, "at": at}
                                                    for q, n, top, at in gaps[:GAPS_PER_FLUSH]])
                # (a NUL, which PostgreSQL refuses in text, would lose the whole batch)
                # Anonymous queries are kept GAPS_DAYS and at most GAPS_MAX rows (oldest go first).
                conn.execute(search_gaps.delete().where(search_gaps.c.at < utcnow() - dt.timedelta(days=GAPS_DAYS)))
                newest = conn.scalar(sa.select(search_gaps.c.id).order_by(search_gaps.c.id.desc())
                                     .offset(GAPS_MAX).limit(1))
                if newest is not None:
                    conn.execute(search_gaps.delete().where(search_gaps.c.id <= newest))

    def gaps(self, *, limit: int = 100) -> list[dict]:
        with self.read() as conn:
            rows = conn.execute(
                sa.select(search_gaps.c.query, sa.func.count().label("count"),
                          sa.func.max(search_gaps.c.at).label("last_at"),
                          sa.func.max(search_gaps.c.results).label("max_results"))
                .group_by(search_gaps.c.query)
                .order_by(sa.func.count().desc(), sa.func.max(search_gaps.c.at).desc())
                .limit(limit)).mappings().all()
        return [{"query": r["query"], "count": r["count"], "last_at": iso(r["last_at"]),
                 "zero_results": r["max_results"] == 0} for r in rows]

    # -- lookup picks --------------------------------------------------------------------------

    def record_pick(self, query: str, chosen: str, match: str, *, now: dt.datetime | None = None) -> None:
        """One pick; the caller masks the query first (web/api/api.py)."""
        with self.engine.begin() as conn:
            conn.execute(lookup_picks.insert().values(query=query[:200], chosen=chosen[:100],
                                                      match=match[:10], at=now or utcnow()))

    def pick_counts(self, *, now: dt.datetime | None = None) -> list[tuple[str, str, int]]:
        """(query, chosen id, times) over the kept picks, for search.picks.PickBook."""
        since = (now or utcnow()) - dt.timedelta(days=PICKS_DAYS)
        with self.read() as conn:
            rows = conn.execute(sa.select(lookup_picks.c.query, lookup_picks.c.chosen, sa.func.count())
                                .where(lookup_picks.c.at >= since)
                                .group_by(lookup_picks.c.query, lookup_picks.c.chosen)).all()
        return [(q, c, n) for q, c, n in rows]

    def picks(self, *, limit: int = 50, now: dt.datetime | None = None) -> list[dict]:
        """Per frequent query (most picks first): what agents chose, most chosen first."""
        since = (now or utcnow()) - dt.timedelta(days=PICKS_DAYS)
        with self.read() as conn:
            top = conn.execute(sa.select(lookup_picks.c.query, sa.func.count().label("n"),
                                         sa.func.max(lookup_picks.c.at).label("last_at"))
                               .where(lookup_picks.c.at >= since).group_by(lookup_picks.c.query)
                               .order_by(sa.func.count().desc(), sa.func.max(lookup_picks.c.at).desc())
                               .limit(limit)).mappings().all()
            queries = [r["query"] for r in top]
            rows = conn.execute(sa.select(lookup_picks.c.query, lookup_picks.c.chosen,
                                          lookup_picks.c.match, sa.func.count().label("n"))
                                .where(lookup_picks.c.at >= since, lookup_picks.c.query.in_(queries))
                                .group_by(lookup_picks.c.query, lookup_picks.c.chosen, lookup_picks.c.match)
                                ).mappings().all() if queries else []
        chosen: dict[str, dict[str, dict]] = {}
        for r in rows:
            c = chosen.setdefault(r["query"], {}).setdefault(r["chosen"], {"id": r["chosen"], "count": 0, "matches": {}})
            c["count"] += r["n"]
            c["matches"][r["match"]] = c["matches"].get(r["match"], 0) + r["n"]
        return [{"query": r["query"], "count": r["n"], "last_at": iso(r["last_at"]),
                 "chosen": sorted(chosen.get(r["query"], {}).values(), key=lambda c: (-c["count"], c["id"]))}
                for r in top]

    def purge_picks(self, *, now: dt.datetime | None = None, dry_run: bool = False) -> int:
        """Remove picks older than PICKS_DAYS; the number removed (or that would be)."""
        cutoff = (now or utcnow()) - dt.timedelta(days=PICKS_DAYS)
        with self.engine.begin() as conn:
            old = lookup_picks.c.at < cutoff
            if dry_run:
                return conn.scalar(sa.select(sa.func.count()).select_from(lookup_picks).where(old)) or 0
            return conn.execute(lookup_picks.delete().where(old)).rowcount

    # -- retention -----------------------------------------------------------------------------

    def purge(self, before: dt.datetime, *, claims_closed_before: dt.datetime | None = None,
              actor: str = "kb purge", now: dt.datetime | None = None, dry_run: bool = False) -> dict:
        """Remove personal data from entries created before `before`: name, phone and location,
        and the same wherever else they can stand: the content, the complaint record (its place
        goes, its free texts are scrubbed) and the notes of the entry's events. Scrubbing masks
        every phone and ID number (forms.mask_text) and blanks the entry's own name, phone and
        location where they were typed into a text. Entries purged by an older version (which
        left the texts) are scrubbed too. The search gap log is scrubbed the same way.

        Entries marked as a damage or compensation claim keep theirs while open and until
        `claims_closed_before` (the limitation period after closing); they are counted as kept."""
        now = now or utcnow()
        personal = sa.or_(entries.c.contact_name.is_not(None), entries.c.contact_phone.is_not(None),
                          entries.c.location.is_not(None))
        held = sa.and_(entries.c.claim.is_(True),
                       sa.or_(entries.c.closed_at.is_(None), entries.c.closed_at >= (claims_closed_before or before)))
        counts = {"entries": 0, "names": 0, "phones": 0, "locations": 0, "texts": 0, "gaps": 0}
        with self.engine.begin() as conn:
            counts["kept_claims"] = conn.scalar(sa.select(sa.func.count()).select_from(entries)
                                                .where(entries.c.created_at < before, personal, held))
            rows = conn.execute(sa.select(entries.c.id, entries.c.contact_name, entries.c.contact_phone,
                                          entries.c.location, entries.c.content, entries.c.record)
                                .where(entries.c.created_at < before, sa.not_(held))).mappings().all()
            notes = {}
            for e in conn.execute(sa.select(events.c.id, events.c.entry_id, events.c.note, events.c.data).where(
                    events.c.entry_id.in_(sa.select(entries.c.id).where(entries.c.created_at < before, sa.not_(held))))
                    ).mappings():
                notes.setdefault(e["entry_id"], []).append(e)
            for r in rows:
                own = [v for v in (r["contact_name"], r["contact_phone"], r["location"]) if v]
                content = scrub(r["content"], own)
                record = scrub_record(r["record"], own)
                changed_events = [(e["id"], scrub(e["note"], own), scrub_record(e["data"], own))
                                  for e in notes.get(r["id"], ())]
                changed_events = [(i, n, d) for (i, n, d), e in zip(changed_events, notes.get(r["id"], ()))
                                  if n != e["note"] or d != e["data"]]
                texts = content != r["content"] or record != r["record"] or bool(changed_events)
                if not own and not texts:
                    continue
                counts["entries"] += 1
                counts["names"] += r["contact_name"] is not None
                counts["phones"] += r["contact_phone"] is not None
                counts["locations"] += r["location"] is not None
                counts["texts"] += texts
                if dry_run:
                    continue
                conn.execute(entries.update().where(entries.c.id == r["id"]).values(
                    contact_name=None, contact_phone=None, location=None, content=content, record=record,
                    purged_at=now))
                for event_id, note, data in changed_events:
                    conn.execute(events.update().where(events.c.id == event_id).values(note=note, data=data))
                conn.execute(events.insert().values(entry_id=r["id"], at=now, actor=actor, kind="purge",
                                                    note="已按保存期删除联系方式与位置（含正文、记录和备注中的）"))
            for g in conn.execute(sa.select(search_gaps.c.id, search_gaps.c.query)).mappings().all():
                masked = mask_text(g["query"])[:200]
                if masked != g["query"]:
                    counts["gaps"] += 1
                    if not dry_run:
                        conn.execute(search_gaps.update().where(search_gaps.c.id == g["id"]).values(query=masked))
        return counts


def mask_record(record: dict | None) -> dict | None:
    """The complaint record as lists show it: the place masked like `location`, numbers in texts masked."""
    if not record:
        return record
    return {k: mask_location(v) if k == "place" and isinstance(v, str) else mask_text(v) if isinstance(v, str) else v
            for k, v in record.items()}


PURGED = "（已删除）"


def scrub(text: str | None, own: list[str]) -> str | None:
    """`text` with phone and ID numbers masked and the entry's own name, phone and location
    blanked (as typed, and the phone's digits however they are spaced)."""
    if not text:
        return text
    out = mask_text(text)
    for value in sorted(own, key=len, reverse=True):
        value = value.strip()
        if len(value) >= 2:
            out = out.replace(value, PURGED)
        # the entry's own phone already masked by mask_text above: its masked form goes too
        if value.isascii() and sum(c.isdigit() for c in value) >= 7:
            masked = mask_text(value)
            if masked and masked != value:
                out = out.replace(masked, PURGED)
    return out


def scrub_record(record, own: list[str]):
    """The complaint record (or an event's data) with its place gone and every text scrubbed."""
    if not isinstance(record, dict):
        return record
    out = {}
    for key, value in record.items():
        if key == "place" and value:
            out[key] = None
        elif isinstance(value, str):
            out[key] = scrub(value, own)
        else:
            out[key] = value
    return out


# -- patch parsing ------------------------------------------------------------------------------

def parse_patch(body: dict[str, Any], config: FeedbackConfig) -> dict[str, Any]:
    """A staff change (PATCH body) checked against the form spec; every problem at once."""
    errors = Errors()
    out = clean(PATCH, body, config, errors, skip=frozenset({"satisfied"}))
    if "contacted" in out:
        out["contacted"] = contact.settle(out["contacted"], errors.add)
    if "satisfied" in body:
        satisfied = check(PATCH["satisfied"], body["satisfied"], config, errors, partial=True)
        if satisfied is not MISSING:
            if body.get("status") != "followed_up":
                errors.add("satisfied", "satisfied 只在 status 为 followed_up（回访）时填写")
            else:
                out["satisfied"] = satisfied
    for e in errors.items:
        # A malformed action_done is one problem with the whole object (the API has said so since v1).
        if e["field"] == "action_done.id":
            e.update(field="action_done", message="action_done 应为 {\"id\": 措施编号, \"pr_url\": \"https://...\"}")
    errors.raise_if_any()
    if "action" in out:
        action = dict(out["action"])
        action["target_kind"] = action.pop("kind")
        action.setdefault("public", False)
        out["action"] = action
    return out


@dataclass
class Change:
    """One change to one entry in progress: the locked row, what to set, the events to append."""
    conn: sa.Connection
    entry_id: int
    row: Any
    actor: str
    now: dt.datetime
    values: dict[str, Any] = field(default_factory=dict)
    log: list[dict] = field(default_factory=list)


# -- helpers ----------------------------------------------------------------------------------

def _full_row(row: dict) -> dict:
    """A freshly inserted row with the columns the database filled in."""
    return {**{c: None for c in entries.c.keys()}, **row}


class GroupCommit:
    """Group commit: concurrent callers share one transaction (and one disk sync).

    The first caller to arrive writes everything queued so far; callers that arrive meanwhile
    wait and are written in the next batch, by whichever of them gets there first. Each caller
    returns only after the batch holding its item has been committed.
    """

    MAX_BATCH = 256

    def __init__(self, write):
        self._write = write
        self._cv = threading.Condition()
        self._pending: list[list] = []
        self._busy = False

    def submit(self, item):
        slot = [item, None, None, False]          # item, result, error, done
        with self._cv:
            self._pending.append(slot)
            while self._busy and not slot[3]:
                self._cv.wait()
            if slot[3]:
                return self._result(slot)
            self._busy = True
            self._pending.remove(slot)
            batch = [slot, *self._pending[:self.MAX_BATCH - 1]]
            del self._pending[:self.MAX_BATCH - 1]
        try:
            results = self._write([s[0] for s in batch])
            for s, result in zip(batch, results):
                s[1] = result
        except BaseException as exc:
            for s in batch:
                s[2] = exc
        finally:
            with self._cv:
                for s in batch:
                    s[3] = True
                self._busy = False
                self._cv.notify_all()
        return self._result(slot)

    @staticmethod
    def _result(slot):
        if slot[2] is not None:
            raise slot[2]
        return slot[1]

def new_reference(now: dt.datetime) -> str:
    local = to_local(now)     # references carry the Beijing date people expect
    return f"FB{local:%Y%m%d}-" + "".join(secrets.choice(_REF_ALPHABET) for _ in range(5))


def entry_filters(*, status: str | None = None, type: str | None = None, category: str | None = None,
                  overdue: bool | str | None = None, community: str | None = None, ids: list[int] | None = None,
                  exclude: tuple[str, ...] = (), now: dt.datetime) -> list:
    """The list's filters as SQL conditions: the one definition the list, the staff search and
    the CSV export share. `exclude`: types left out unless one is asked for (page feedback)."""
    where = []
    if community:
        where.append(entries.c.community == community)
    if ids is not None:      # the entries behind one dashboard figure
        where.append(entries.c.id.in_(ids))
    if status:
        where.append(entries.c.status == status)
    if type:
        where.append(entries.c.type == type)
    elif exclude:
        where.append(entries.c.type.not_in(exclude))
    if category:
        where.append(entries.c.category == category)
    if overdue is not None:     # true, false, or one measure: "response" / "result"
        where.append(deadlines.filter_clause(overdue, now))
    return where


def event_json(e) -> dict:
    return {"id": e["id"], "at": iso(e["at"]), "actor": e["actor"], "kind": e["kind"],
            "from_status": e["from_status"], "to_status": e["to_status"], "note": e["note"],
            "data": e["data"]}


def action_json(a) -> dict:
    return {"id": a["id"], "what": a["what"], "kind": a["target_kind"], "target": a["target"],
            "owner": a["owner"], "due": iso(a["due"]), "public": a["public"], "pr_url": a["pr_url"],
            "created_at": iso(a["created_at"]), "created_by": a["created_by"],
            "done_at": iso(a["done_at"]), "done": a["done_at"] is not None}


def _jsonable(d: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in d.items()}

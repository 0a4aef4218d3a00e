"""The improvement log: every feedback entry, its lifecycle, its history and its actions.

One Store per process wraps the engine. Writes are short transactions; each change to an entry
appends an event in the same transaction, and events are never updated or deleted, so the
history of an entry is the events table read in order.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import threading
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kb_service.content.model import FeedbackConfig
from kb_service.db import actions, entries, events, reading, search_gaps
from kb_service.errors import Conflict, NotFound, ValidationFailed
from kb_service.feedback.forms import Submission, choices, mask_phone, mask_text
from kb_service.times import BEIJING, utcnow

STATUSES = {"received": "已受理", "triaged": "已分派", "in_progress": "处理中",
            "resolved": "已解决", "followed_up": "已回访", "closed": "已关闭"}
TRANSITIONS = {
    "received": {"triaged"},
    "triaged": {"in_progress"},
    "in_progress": {"resolved"},
    "resolved": {"followed_up"},
    "followed_up": {"closed", "in_progress"},   # not satisfied at follow-up: work on it again
    "closed": set(),
}
OPEN = ("received", "triaged", "in_progress")
ACTION_KINDS = {"script": "话术", "template": "模板", "page": "页面", "process": "流程"}
RATING_COLUMNS = ("service", "communication", "management", "price", "care")
MAX_LIMIT = 100_000
_REF_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"   # no 0/O, 1/I: read out over the phone
PR_URL = re.compile(r"^https?://[^\s<>\"']{1,290}$")


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
        return self.summary(stored), created

    def _new_row(self, sub: Submission, now: dt.datetime) -> dict:
        kind = self.config.types[sub.type]
        return {
            "type": sub.type, "source": sub.source, "category": sub.category,
            "location": sub.location, "content": sub.content, "page": sub.page,
            "helpful": sub.helpful, "consent": sub.consent, "contact_name": sub.contact_name,
            "contact_phone": sub.contact_phone, "record": sub.record,
            **{f"rating_{k}": sub.ratings.get(k) for k in RATING_COLUMNS},
            "status": "received", "created_at": now,
            "respond_by": kind.response.deadline(now) if kind.response else None,
            "resolve_by": kind.result.deadline(now) if kind.result else None,
            "idempotency_key": sub.idempotency_key,
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

    def _read(self) -> sa.Connection:
        return reading(self.engine)

    def list(self, *, status: str | None = None, type: str | None = None, category: str | None = None,
             overdue: bool | None = None, limit: int = 50, offset: int = 0,
             now: dt.datetime | None = None) -> tuple[int, list[dict]]:
        now = now or utcnow()
        where = []
        if status:
            where.append(entries.c.status == status)
        if type:
            where.append(entries.c.type == type)
        if category:
            where.append(entries.c.category == category)
        if overdue is not None:
            where.append(overdue_clause(now) if overdue else sa.not_(overdue_clause(now)))
        query = sa.select(entries).where(*where)
        with self._read() as conn:
            total = conn.scalar(sa.select(sa.func.count()).select_from(entries).where(*where))
            rows = conn.execute(query.order_by(entries.c.created_at.desc(), entries.c.id.desc())
                                .limit(limit).offset(offset)).mappings().all()
        return total, [self.summary(r, now=now) for r in rows]

    def get(self, entry_id: int, *, now: dt.datetime | None = None) -> dict:
        with self._read() as conn:
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
        late = overdue_kind(row, now)
        phone = row["contact_phone"]
        return {
            "id": row["id"], "reference": row["reference"], "type": row["type"],
            "type_label": kind.label if kind else row["type"], "source": row["source"],
            "status": row["status"], "status_label": STATUSES[row["status"]],
            "category": row["category"],
            "category_label": self.config.categories.get(row["category"] or "", None),
            "location": row["location"],
            "content": mask_text(row["content"]) if masked else row["content"],
            "page": row["page"], "helpful": row["helpful"], "consent": bool(row["consent"]),
            "contact_name": row["contact_name"],
            "contact_phone": mask_phone(phone) if masked else phone,
            "ratings": {k: row[f"rating_{k}"] for k in RATING_COLUMNS if row[f"rating_{k}"] is not None},
            "record": row["record"], "owner": row["owner"],
            "created_at": iso(row["created_at"]), "respond_by": iso(row["respond_by"]),
            "resolve_by": iso(row["resolve_by"]), "responded_at": iso(row["responded_at"]),
            "resolved_at": iso(row["resolved_at"]), "closed_at": iso(row["closed_at"]),
            "overdue": late is not None, "overdue_kind": late,
            "public_summary": row["public_summary"], "purged": row["purged_at"] is not None,
        }

    # -- changes -----------------------------------------------------------------------------

    def update(self, entry_id: int, patch: dict[str, Any], *, actor: str, now: dt.datetime | None = None) -> dict:
        """Apply a staff change: a status transition, owner, category, note, action, publication.
        Everything in one transaction; each part appends its own event."""
        now = now or utcnow()
        change = parse_patch(patch, self.config)
        with self.engine.begin() as conn:
            # FOR UPDATE: two staff changing one entry at once on PostgreSQL must not both pass the
            # transition check (SQLite's BEGIN IMMEDIATE already serialises writers).
            row = conn.execute(sa.select(entries).where(entries.c.id == entry_id).with_for_update()).mappings().first()
            if row is None:
                raise NotFound(f"没有编号为 {entry_id} 的条目", id=entry_id)
            values: dict[str, Any] = {}
            log: list[dict] = []
            status = row["status"]
            if change.get("owner") is not None and change["owner"] != row["owner"]:
                values["owner"] = change["owner"]
                log.append({"kind": "owner", "data": {"from": row["owner"], "to": change["owner"]}})
            if change.get("category") is not None and change["category"] != row["category"]:
                values["category"] = change["category"]
                log.append({"kind": "category", "data": {"from": row["category"], "to": change["category"]}})
            if "status" in change:
                target = change["status"]
                if target not in TRANSITIONS[status]:
                    allowed = choices({s: STATUSES[s] for s in sorted(TRANSITIONS[status])}) or "无（已关闭）"
                    raise Conflict(f"不能从 {status}（{STATUSES[status]}）变为 {target}（{STATUSES[target]}）；"
                                   f"当前可以变为：{allowed}", status=status, allowed=sorted(TRANSITIONS[status]))
                if target == "closed" and self._last_satisfied(conn, entry_id) is False:
                    raise Conflict("回访时业主不满意，不能直接关闭；请转回 in_progress（处理中）继续处理",
                                   status=status, allowed=["in_progress"])
                values["status"] = target
                if status == "received" and row["responded_at"] is None:
                    values["responded_at"] = now
                if target == "resolved":
                    values["resolved_at"] = now
                if target == "closed":
                    values["closed_at"] = now
                if target == "in_progress" and status == "followed_up":
                    values["resolved_at"] = None
                data = {"satisfied": change["satisfied"]} if "satisfied" in change else None
                log.append({"kind": "status", "from_status": status, "to_status": target,
                            "note": change.get("note"), "data": data})
            elif change.get("note"):
                log.append({"kind": "note", "note": change["note"]})
            if "publish" in change:
                values["public_summary"] = change["publish"]
                log.append({"kind": "publish", "note": change["publish"]})
            if "action" in change:
                a = change["action"]
                action_id = conn.execute(actions.insert().values(
                    entry_id=entry_id, created_at=now, created_by=actor, **a)).inserted_primary_key[0]
                log.append({"kind": "action", "data": {"action_id": action_id, **_jsonable(a)}})
            if "action_done" in change:
                done = change["action_done"]
                act = conn.execute(sa.select(actions).where(actions.c.id == done["id"],
                                                            actions.c.entry_id == entry_id)).mappings().first()
                if act is None:
                    raise ValidationFailed([{"field": "action_done.id", "message": "这个条目下没有该改进措施"}])
                if act["done_at"] is not None:
                    raise Conflict("这项改进措施已经标记完成", action_id=done["id"])
                conn.execute(actions.update().where(actions.c.id == done["id"])
                             .values(done_at=now, pr_url=done.get("pr_url") or act["pr_url"]))
                log.append({"kind": "action_done", "data": {"action_id": done["id"], "pr_url": done.get("pr_url")}})
            if not log:
                raise ValidationFailed([{"field": "status", "message":
                                         "没有要修改的内容：可提交 status、owner、category、note、action、action_done 或 publish"}])
            if values:
                conn.execute(entries.update().where(entries.c.id == entry_id).values(**values))
            for item in log:
                conn.execute(events.insert().values(entry_id=entry_id, at=now, actor=actor, **item))
        return self.get(entry_id, now=now)

    @staticmethod
    def _last_satisfied(conn, entry_id: int) -> bool | None:
        data = conn.scalar(sa.select(events.c.data).where(
            events.c.entry_id == entry_id, events.c.to_status == "followed_up").order_by(events.c.id.desc()).limit(1))
        return (data or {}).get("satisfied")

    # -- content gaps --------------------------------------------------------------------------

    def record_gaps(self, gaps: list[tuple[str, int, float | None, dt.datetime]]) -> None:
        """(query, results, top score, when) rows, in one transaction."""
        if gaps:
            with self.engine.begin() as conn:
                conn.execute(search_gaps.insert(), [{"query": q[:200], "results": n, "top_score": top, "at": at}
                                                    for q, n, top, at in gaps])

    def gaps(self, *, limit: int = 100) -> list[dict]:
        with self._read() as conn:
            rows = conn.execute(
                sa.select(search_gaps.c.query, sa.func.count().label("count"),
                          sa.func.max(search_gaps.c.at).label("last_at"),
                          sa.func.max(search_gaps.c.results).label("max_results"))
                .group_by(search_gaps.c.query)
                .order_by(sa.func.count().desc(), sa.func.max(search_gaps.c.at).desc())
                .limit(limit)).mappings().all()
        return [{"query": r["query"], "count": r["count"], "last_at": iso(r["last_at"]),
                 "zero_results": r["max_results"] == 0} for r in rows]

    # -- retention -----------------------------------------------------------------------------

    def purge(self, before: dt.datetime, *, actor: str = "kb purge", now: dt.datetime | None = None,
              dry_run: bool = False) -> dict:
        """Remove personal data (name, phone, location) from entries created before `before`."""
        now = now or utcnow()
        personal = sa.or_(entries.c.contact_name.is_not(None), entries.c.contact_phone.is_not(None),
                          entries.c.location.is_not(None))
        with self.engine.begin() as conn:
            rows = conn.execute(sa.select(entries.c.id, entries.c.contact_name, entries.c.contact_phone,
                                          entries.c.location)
                                .where(entries.c.created_at < before, personal)).mappings().all()
            counts = {"entries": len(rows),
                      "names": sum(r["contact_name"] is not None for r in rows),
                      "phones": sum(r["contact_phone"] is not None for r in rows),
                      "locations": sum(r["location"] is not None for r in rows)}
            ids = [] if dry_run else [r["id"] for r in rows]
            for chunk in range(0, len(ids), 500):
                part = ids[chunk:chunk + 500]
                conn.execute(entries.update().where(entries.c.id.in_(part)).values(
                    contact_name=None, contact_phone=None, location=None, purged_at=now))
                conn.execute(events.insert(), [{"entry_id": i, "at": now, "actor": actor, "kind": "purge",
                                                "note": "已按保存期删除联系方式与位置"} for i in part])
        return counts


# -- patch parsing ------------------------------------------------------------------------------

PATCH_KEYS = {"status", "owner", "category", "note", "satisfied", "action", "action_done", "publish"}


def parse_patch(body: dict[str, Any], config: FeedbackConfig) -> dict[str, Any]:
    errors: list[dict[str, str]] = []
    out: dict[str, Any] = {}

    def bad(name, message):
        errors.append({"field": name, "message": message})

    for key in sorted(set(body) - PATCH_KEYS):
        bad(str(key)[:50], f"未知字段；可用：{', '.join(sorted(PATCH_KEYS))}")
    if "status" in body:
        if not isinstance(body["status"], str) or body["status"] not in STATUSES:
            bad("status", f"状态只能是：{choices(STATUSES)}")
        else:
            out["status"] = body["status"]
    for key, limit in (("owner", 50), ("note", 2000), ("publish", 500)):
        if key in body and body[key] is not None:
            value = body[key]
            if not isinstance(value, str) or not value.strip():
                bad(key, "应为非空文字")
            elif len(value.strip()) > limit:
                bad(key, f"最多 {limit} 个字")
            else:
                out[key] = value.strip()
    if "category" in body and body["category"] is not None:
        if not isinstance(body["category"], str) or body["category"] not in config.categories:
            bad("category", f"未知的分类；可选：{'、'.join(config.categories)}")
        else:
            out["category"] = body["category"]
    if "satisfied" in body:
        if not isinstance(body["satisfied"], bool):
            bad("satisfied", "satisfied 应为 true 或 false")
        elif body.get("status") != "followed_up":
            bad("satisfied", "satisfied 只在 status 为 followed_up（回访）时填写")
        else:
            out["satisfied"] = body["satisfied"]
    if "action" in body:
        out["action"] = _action(body["action"], bad)
    if "action_done" in body:
        done = body["action_done"]
        if not isinstance(done, dict) or not isinstance(done.get("id"), int) or isinstance(done.get("id"), bool):
            bad("action_done", "action_done 应为 {\"id\": 措施编号, \"pr_url\": \"https://...\"}")
        else:
            out["action_done"] = {"id": done["id"], "pr_url": _pr_url(done.get("pr_url"), "action_done.pr_url", bad)}
    if errors:
        raise ValidationFailed(errors)
    return out


def _action(raw: Any, bad) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        bad("action", "action 应为对象：what、kind、target、owner、due、public、pr_url")
        return None
    out: dict[str, Any] = {}
    what = raw.get("what")
    if not isinstance(what, str) or not what.strip() or len(what) > 500:
        bad("action.what", "写明要改什么（1 到 500 个字）")
    else:
        out["what"] = what.strip()
    kind = raw.get("kind")
    if not isinstance(kind, str) or kind not in ACTION_KINDS:
        bad("action.kind", f"kind 只能是：{choices(ACTION_KINDS)}")
    else:
        out["target_kind"] = kind
    owner = raw.get("owner")
    if not isinstance(owner, str) or not owner.strip() or len(owner) > 50:
        bad("action.owner", "写明负责人（最多 50 个字）")
    else:
        out["owner"] = owner.strip()
    target = raw.get("target")
    if target is not None:
        if not isinstance(target, str) or len(target) > 200:
            bad("action.target", "target 应为文字（话术 id、页面路径或流程名称），最多 200 个字")
        else:
            out["target"] = target.strip() or None
    due = raw.get("due")
    if due is not None:
        try:
            out["due"] = dt.date.fromisoformat(due)
        except (TypeError, ValueError):
            bad("action.due", "due 应为日期，例如 2026-12-31")
    public = raw.get("public", False)
    if not isinstance(public, bool):
        bad("action.public", "public 应为 true 或 false（是否在“你说我改”页面公开）")
    else:
        out["public"] = public
    pr = _pr_url(raw.get("pr_url"), "action.pr_url", bad)
    if pr is not None:
        out["pr_url"] = pr
    return out


def _pr_url(value: Any, field: str, bad) -> str | None:
    if value is not None and (not isinstance(value, str) or not PR_URL.match(value)):
        bad(field, "pr_url 应为 http(s) 开头的合并请求链接")
        return None
    return value


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
    local = now + BEIJING     # references carry the Beijing date people expect
    return f"FB{local:%Y%m%d}-" + "".join(secrets.choice(_REF_ALPHABET) for _ in range(5))


def overdue_clause(now: dt.datetime):
    return sa.or_(
        sa.and_(entries.c.status == "received", entries.c.respond_by < now),
        sa.and_(entries.c.status.in_(OPEN), entries.c.resolve_by < now),
    )


def overdue_kind(row, now: dt.datetime) -> str | None:
    if row["status"] in OPEN and row["resolve_by"] is not None and row["resolve_by"] < now:
        return "result"
    if row["status"] == "received" and row["respond_by"] is not None and row["respond_by"] < now:
        return "response"
    return None


def iso(value: dt.datetime | dt.date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return value.isoformat()


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

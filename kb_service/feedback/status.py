"""Progress look-up for residents: access codes, the public timeline, "not satisfied", throttling.

A submission's answer carries a short random access code, shown once; only its scrypt hash is
stored. A resident looks up progress with the reference plus that code, or plus the last four
digits of the phone they left with consent. What comes back is the public timeline only: the
status steps, the team (never a person), the published reply and the promised dates; never
content, contact data, owners or internal notes.

Guessing: every failed look-up is recorded (a SHA-256 of the reference and of the address, never
the values) in the shared database, so all nodes on one database enforce the same limits. A
wrong code, a wrong phone, an unknown or malformed reference all answer the same `NotFound`; the
code is always hashed (against a dummy hash when there is no entry) and compared in constant time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kb_service.content.model import FeedbackConfig
from kb_service.db import entries, events, reading, status_attempts
from kb_service.errors import Conflict, KBError, NotFound, ValidationFailed
from kb_service.feedback.store import STATUSES, Store
from kb_service.inputs import Body, Choice, Text
from kb_service.times import iso, utcnow

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"   # 32 symbols, no 0/O, 1/I
CODE_LENGTH = 8                                      # 8 x 5 bits = 40 bits
SCRYPT = {"n": 2 ** 12, "r": 8, "p": 1}              # 4 MiB, ~10 ms per hash on one core
REFERENCE = re.compile(r"^FB\d{8}-[23456789A-HJ-NP-Z]{5}$")


@dataclass(frozen=True)
class Limits:
    """Failed look-ups allowed before further attempts answer 429 (nothing is checked then)."""
    per_reference: int = 10                      # any method, per reference, per day
    phone_per_reference: int = 5                 # last-4 guesses per reference, per 30 days
    per_address: int = 30                        # per client address, per day
    day: dt.timedelta = dt.timedelta(days=1)
    month: dt.timedelta = dt.timedelta(days=30)


LIMITS = Limits()
NOT_FOUND = ("没有查到：编号和查询码（或电话后四位）对不上。请核对后重试；"
             "编号形如 FB20261201-ABCDE，查询码在提交成功的页面上（8 位字母和数字）。")


class TooManyAttempts(KBError):
    status_code = 429


# -- access codes ---------------------------------------------------------------------------------

def new_code() -> str:
    """`ABCD-EF23`: 40 random bits, easy to read out and type on a phone."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return raw[:4] + "-" + raw[4:]


def normalize_code(text: str) -> str:
    return re.sub(r"[\s\-－—_]", "", text or "").upper()[:40]


def hash_code(code: str, *, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(normalize_code(code).encode(), salt=salt, dklen=32, maxmem=64 * 1024 * 1024, **SCRYPT)
    return f"scrypt${SCRYPT['n']}${salt.hex()}${digest.hex()}"


_DUMMY = hash_code("XXXXXXXX", salt=b"\0" * 16)


def code_matches(code: str, stored: str | None) -> bool:
    """Hash `code` with `stored`'s salt and compare in constant time; hashes even without an entry."""
    real = stored is not None and stored.startswith("scrypt$")
    _, _, salt, _ = (stored if real else _DUMMY).split("$")
    candidate = hash_code(code, salt=bytes.fromhex(salt))
    return hmac.compare_digest(candidate, stored if real else _DUMMY) and real


def set_code(engine: Engine, entry_id: int, code: str) -> None:
    """A replayed submission (same idempotency key, i.e. the same browser) gets a fresh code, so
    the result page the resident sees always shows a code that works."""
    with engine.begin() as conn:
        conn.execute(entries.update().where(entries.c.id == entry_id).values(access_hash=hash_code(code)))


# -- the request ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Query:
    reference: str
    access_code: str | None
    phone_last4: str | None
    action: str | None = None          # None | "not_satisfied"
    comment: str | None = None

    @property
    def method(self) -> str:
        return "code" if self.access_code is not None else "phone"


# What a progress query may carry (the API document reads these declarations too).
QUERY = Body((
    Text("reference", "编号", "例如 FB20261201-ABCDE", limit=40),
    Text("access_code", "查询码", "提交时给出的查询码", limit=40),
    Text("phone_last4", "手机号后四位", "没有查询码时：留电话时填写的手机号后四位", limit=10),
    Choice("action", "操作", options={"not_satisfied": "对处理结果不满意，重新处理"}),
    Text("comment", "意见", limit=2000, multiline=True),
))


def parse_query(data: dict) -> Query:
    errors: list[dict[str, str]] = []
    values = QUERY.check(data, None, errors)
    reference, code, last4 = values.get("reference"), values.get("access_code"), values.get("phone_last4")
    action, comment = values.get("action"), values.get("comment")
    if reference is None and "reference" not in {e["field"] for e in errors}:
        errors.append({"field": "reference", "message": "请填写编号，例如 FB20261201-ABCDE"})
    if code is None and last4 is None and not {"access_code", "phone_last4"} & {e["field"] for e in errors}:
        errors.append({"field": "access_code", "message": "请填写查询码，或留电话时填写的手机号后四位"})
    if errors:
        raise ValidationFailed(errors)
    return Query(reference=re.sub(r"\s", "", reference).upper(), access_code=code if code is not None else None,
                 phone_last4=None if code is not None else last4, action=action, comment=comment)


# -- throttling -------------------------------------------------------------------------------------

def _key(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def check_allowed(engine: Engine, query: Query, address: str, *, now: dt.datetime | None = None,
                  limits: Limits = LIMITS) -> None:
    """429 when this reference or this address has used up its failed attempts."""
    now = now or utcnow()
    ref, addr = _key("ref", query.reference), _key("addr", address)
    count = sa.select(sa.func.count()).select_from(status_attempts)
    with reading(engine) as conn:
        by_ref = conn.scalar(count.where(status_attempts.c.key == ref, status_attempts.c.at > now - limits.day))
        by_addr = conn.scalar(count.where(status_attempts.c.key == addr, status_attempts.c.at > now - limits.day))
        by_phone = 0
        if query.method == "phone":
            by_phone = conn.scalar(count.where(status_attempts.c.key == ref, status_attempts.c.method == "phone",
                                               status_attempts.c.at > now - limits.month))
    if by_ref >= limits.per_reference or by_addr >= limits.per_address:
        raise TooManyAttempts("查询失败次数太多，暂停查询 24 小时。请核对编号和查询码，或拨打物业服务电话查询。",
                              retry_after=int(limits.day.total_seconds()))
    if by_phone >= limits.phone_per_reference:
        raise TooManyAttempts("用电话后四位查询失败次数太多，这个编号暂时只能用查询码查询，或拨打物业服务电话查询。",
                              retry_after=int(limits.month.total_seconds()))


def record_failure(engine: Engine, query: Query, address: str, *, now: dt.datetime | None = None,
                   limits: Limits = LIMITS) -> None:
    now = now or utcnow()
    with engine.begin() as conn:
        conn.execute(status_attempts.delete().where(status_attempts.c.at < now - limits.month))
        conn.execute(status_attempts.insert(), [
            {"key": _key("ref", query.reference), "method": query.method, "at": now},
            {"key": _key("addr", address), "method": query.method, "at": now}])


# -- look-up ----------------------------------------------------------------------------------------

def find(engine: Engine, query: Query) -> dict | None:
    """The entry row when the pair matches, else None (always the same work either way)."""
    with reading(engine) as conn:
        row = None
        if REFERENCE.match(query.reference):
            row = conn.execute(sa.select(entries).where(entries.c.reference == query.reference)).mappings().first()
    if query.access_code is not None:
        ok = code_matches(query.access_code, row["access_hash"] if row else None)
    else:
        digits = re.sub(r"\D", "", (row["contact_phone"] or "") if row else "")
        stored = digits[-4:] if row and row["consent"] and len(digits) >= 4 else "\0\0\0\0"
        given = re.sub(r"\s", "", query.phone_last4 or "")
        ok = hmac.compare_digest(stored.encode(), given.encode("utf-8", "replace")) and stored != "\0\0\0\0"
    return dict(row) if ok and row else None


def look_up(store: Store, query: Query, address: str, *, now: dt.datetime | None = None,
            limits: Limits = LIMITS) -> dict:
    """The public status for a matching pair; NotFound otherwise (after recording the failure)."""
    check_allowed(store.engine, query, address, now=now, limits=limits)
    row = find(store.engine, query)
    if row is None:
        record_failure(store.engine, query, address, now=now, limits=limits)
        raise NotFound(NOT_FOUND)
    return public_status(store, row, now=now)


def not_satisfied(store: Store, query: Query, address: str, *, now: dt.datetime | None = None,
                  limits: Limits = LIMITS) -> dict:
    """The resident says the result did not satisfy them: that is the follow-up result, and the
    entry goes back to 处理中 through the lifecycle (resolved -> followed_up -> in_progress)."""
    check_allowed(store.engine, query, address, now=now, limits=limits)
    row = find(store.engine, query)
    if row is None:
        record_failure(store.engine, query, address, now=now, limits=limits)
        raise NotFound(NOT_FOUND)
    note = "业主在进度查询页表示对处理结果不满意" + (f"：{query.comment}" if query.comment else "")
    if row["status"] == "resolved":
        store.update(row["id"], {"status": "followed_up", "satisfied": False, "note": note}, actor="resident", now=now)
        store.update(row["id"], {"status": "in_progress", "note": "业主不满意，重新处理"}, actor="resident", now=now)
    elif row["status"] == "followed_up":
        store.update(row["id"], {"status": "in_progress", "note": note}, actor="resident", now=now)
    else:
        raise Conflict("现在还不能提出不满意：这条反馈还没有处理完（或已关闭）。"
                       "有新的问题请重新提交反馈，或拨打物业服务电话。", status=row["status"])
    with reading(store.engine) as conn:
        fresh = conn.execute(sa.select(entries).where(entries.c.id == row["id"])).mappings().first()
    return public_status(store, dict(fresh), now=now)


# -- what a resident sees ---------------------------------------------------------------------------

STEP_TEXT = {
    "received": "已受理：我们收到了您的反馈",
    "triaged": "已分派：交给{team}处理",
    "in_progress": "处理中",
    "resolved": "已解决：处理完毕",
    "followed_up": "已回访",
    "closed": "已关闭",
}


def team(config: FeedbackConfig, category: str | None) -> str:
    """Who handles it, as a team (a category's team), never a person's name."""
    label = config.categories.get(category or "")
    return f"{label}方面的负责团队" if label else "物业服务中心"


def public_status(store: Store, row: dict, *, now: dt.datetime | None = None) -> dict:
    now = now or utcnow()
    config = store.config
    with reading(store.engine) as conn:
        history = conn.execute(sa.select(events.c.at, events.c.kind, events.c.from_status, events.c.to_status,
                                         events.c.data).where(events.c.entry_id == row["id"])
                               .order_by(events.c.id)).mappings().all()
    timeline = []
    for e in history:
        if e["kind"] == "created":
            timeline.append({"at": iso(e["at"]), "status": "received", "text": STEP_TEXT["received"]})
        elif e["kind"] == "status":
            target = e["to_status"]
            text = STEP_TEXT[target].format(team=team(config, row["category"]))
            if target == "followed_up" and (e["data"] or {}).get("satisfied") is False:
                text = "回访：您表示不满意"
            elif target == "followed_up" and (e["data"] or {}).get("satisfied") is True:
                text = "回访：您表示满意"
            elif target == "in_progress" and e["from_status"] == "followed_up":
                text = "重新处理"
            timeline.append({"at": iso(e["at"]), "status": target, "text": text})
        elif e["kind"] == "publish":
            timeline.append({"at": iso(e["at"]), "status": None, "text": "答复已发布"})
    kind = config.types.get(row["type"])
    status = row["status"]
    late = status in ("received", "triaged", "in_progress") and row["resolve_by"] is not None and row["resolve_by"] < now
    late = late or (status == "received" and row["respond_by"] is not None and row["respond_by"] < now)
    return {
        "reference": row["reference"], "status": status, "status_label": STATUSES[status],
        "type": row["type"], "type_label": kind.label if kind else row["type"],
        "category_label": config.categories.get(row["category"] or ""),
        "team": team(config, row["category"]) if status != "received" else None,
        "created_at": iso(row["created_at"]),
        "respond_by": iso(row["respond_by"]), "respond_within": kind.response.text if kind and kind.response else None,
        "resolve_by": iso(row["resolve_by"]), "resolve_within": kind.result.text if kind and kind.result else None,
        "responded_at": iso(row["responded_at"]), "resolved_at": iso(row["resolved_at"]),
        "overdue": late, "reply": row["public_summary"], "timeline": timeline,
        "can_say_not_satisfied": status in ("resolved", "followed_up"),
    }


# -- the page widget's comment ------------------------------------------------------------------------

COMMENT_WINDOW = dt.timedelta(hours=1)


def add_page_comment(store: Store, query: Query, address: str, *, now: dt.datetime | None = None,
                     limits: Limits = LIMITS) -> dict:
    """"没帮助" is stored the moment it is tapped; the comment typed after it joins that entry
    (proved by the vote's own reference and access code), once, within an hour."""
    now = now or utcnow()
    if not query.comment:
        raise ValidationFailed([{"field": "comment", "message": "请写几句哪里需要改进"}])
    check_allowed(store.engine, query, address, now=now, limits=limits)
    row = find(store.engine, query)
    if row is None:
        record_failure(store.engine, query, address, now=now, limits=limits)
        raise NotFound(NOT_FOUND)
    if row["type"] != "page" or row["content"] or row["created_at"] < now - COMMENT_WINDOW:
        raise Conflict("这条页面反馈已经不能再补充说明；可以在“反馈与投诉”页另外提交")
    with store.engine.begin() as conn:
        conn.execute(entries.update().where(entries.c.id == row["id"]).values(content=query.comment))
        conn.execute(events.insert().values(entry_id=row["id"], at=now, actor="resident", kind="note",
                                            note="补充说明（页面反馈）"))
    return {"reference": row["reference"], "comment_saved": True}

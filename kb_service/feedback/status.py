"""Progress look-up for residents: access codes, the public timeline, "not satisfied", throttling.

A submission's answer carries an access code; only its scrypt hash is stored. A resident looks up
progress with the reference plus that code, or plus the last four digits of the phone they left
with consent. What comes back is the public timeline only: the status steps, the team (never a
person), the reply written for the resident and the promised dates; never content, contact
data, owners or internal notes.

The code of a submission with an idempotency key is derived from that key with the service's
secret (db.service_secret), so every replay of one submission shows the same code, and every
code the service has shown works.

Guessing (issue 29). The code is 12 symbols of 32 (60 bits), so limits can be short and need not
lock the owner out for days. Each attempt is counted BEFORE it is checked, in one database step
with the limit check (db.take), so a burst of concurrent guesses is never checked more often than
the limit; a right answer hands its count back. The counters, all sliding one-hour windows except
the phone's:

- per reference and client network (an IPv4 address, an IPv6 /64): 10 wrong tries an hour. A
  person guessing from one network stops there; the owner on another network is not affected.
- per reference, every network together: 100 wrong tries an hour. Only someone guessing from
  more than 10 networks at once reaches it; the owner then waits at most until the hour's wrong
  tries fall out of the window (Retry-After says how long), never days.
- phone endings per reference: 5 wrong tries per 7 days; this stops the phone method only, the
  code still works.

No counter covers a network across all references: a carrier NAT shares one address among many
households, and one household's typos must not stop the others (the per-minute request limit in
web/pages/resident_pages.py only slows floods; it is not a lock-out).

Odds for someone who knows a reference and guesses for a year at the highest rate allowed
(100 an hour, doubled for the window boundary: at most 1.75 million tries a year):
1.75e6 / 2^60 = 1.5e-12 for a 12-symbol code (8-symbol codes issued before: 1.75e6 / 2^40 =
1.6e-6); phone endings: 5 per 7 days = 261 a year out of 10,000 = 2.6 % (a reference is known
only to the resident; the lookup shows the public timeline only).

A wrong code, a wrong phone, an unknown or malformed reference all answer the same `NotFound`;
the code is always hashed (against a dummy hash when there is no entry) and compared in constant
time. Counter names carry a SHA-256 of the reference and of the network, never the values.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import re
import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kb_service.content.model import FeedbackConfig
from kb_service.db import entries, events, give_back, rate_counters, reading, service_secret, take
from kb_service.errors import Conflict, KBError, NotFound, ValidationFailed
from kb_service.feedback.store import STATUSES, Store
from kb_service.inputs import Body, Choice, Text
from kb_service.times import iso, utcnow

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"   # 32 symbols, no 0/O, 1/I
CODE_LENGTH = 12                                     # 12 x 5 bits = 60 bits
SCRYPT = {"n": 2 ** 12, "r": 8, "p": 1}              # 4 MiB, ~10 ms per hash on one core
REFERENCE = re.compile(r"^FB\d{8}-[23456789A-HJ-NP-Z]{5}$")


@dataclass(frozen=True)
class Limits:
    """Wrong look-ups allowed per sliding window before further attempts answer 429 (unchecked)."""
    per_network: int = 10                        # per reference and client network, per hour
    per_reference: int = 100                     # per reference, all networks together, per hour
    phone_per_reference: int = 5                 # last-4 guesses per reference, per week
    hour: int = 3600
    week: int = 7 * 24 * 3600


LIMITS = Limits()
NOT_FOUND = ("没有查到：编号和查询码（或电话后四位）对不上。请核对后重试；"
             "编号形如 FB20261201-ABCDE，查询码在提交成功的页面上（12 位字母和数字，早先的是 8 位）。")


class TooManyAttempts(KBError):
    status_code = 429


# -- access codes ---------------------------------------------------------------------------------

def _format(raw: str) -> str:
    return "-".join(raw[i:i + 4] for i in range(0, len(raw), 4))


def new_code() -> str:
    """`ABCD-EF23-GHJK`: 60 random bits, easy to read out and type on a phone."""
    return _format("".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH)))


def code_for_key(engine: Engine, idempotency_key: str | None) -> str:
    """The code for a submission: derived from its idempotency key with the service's secret
    (kept in the database, so every node derives the same), so a replay shows the same code;
    random when there is no key."""
    if not idempotency_key:
        return new_code()
    digest = hmac.new(service_secret(engine), b"access-code\0" + idempotency_key.encode(), hashlib.sha256).digest()
    number = int.from_bytes(digest, "big")
    raw = "".join(CODE_ALPHABET[(number >> (5 * i)) & 31] for i in range(CODE_LENGTH))
    return _format(raw)


def normalize_code(text: str) -> str:
    return re.sub(r"[\s\-－—_]", "", text or "").upper()[:40]


def hash_code(code: str, *, salt: bytes | None = None, n: int | None = None) -> str:
    """`n`: the cost a stored hash was made with (code_matches); a new hash takes SCRYPT's."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    cost = {**SCRYPT, "n": n or SCRYPT["n"]}
    digest = hashlib.scrypt(normalize_code(code).encode(), salt=salt, dklen=32, maxmem=64 * 1024 * 1024, **cost)
    return f"scrypt${cost['n']}${salt.hex()}${digest.hex()}"


_DUMMY = hash_code("XXXXXXXXXXXX", salt=b"\0" * 16)


def code_matches(code: str, stored: str | None) -> bool:
    """Hash `code` with `stored`'s salt and compare in constant time; hashes even without an entry."""
    real = stored is not None and stored.startswith("scrypt$")
    _, n, salt, _ = (stored if real else _DUMMY).split("$")
    # with the cost the stored hash names: a later change of SCRYPT keeps every code given out working
    try:
        candidate = hash_code(code, salt=bytes.fromhex(salt), n=int(n))
    except ValueError:   # a damaged stored hash: no code matches it
        return False
    return hmac.compare_digest(candidate, stored if real else _DUMMY) and real


def set_code(engine: Engine, entry_id: int, code: str) -> None:
    with engine.begin() as conn:
        conn.execute(entries.update().where(entries.c.id == entry_id).values(access_hash=hash_code(code)))


def adopt_code(engine: Engine, entry_id: int, code: str) -> None:
    """A replay: the derived code already works, unless the entry was stored before codes were
    derived from the key (its random code was shown once, by an older version): then it gets the
    derived one, which every later replay shows too."""
    with reading(engine) as conn:
        stored = conn.scalar(sa.select(entries.c.access_hash).where(entries.c.id == entry_id))
    if not code_matches(code, stored):
        set_code(engine, entry_id, code)


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


def network(address: str) -> str:
    """The part of a client address one household or one attacker holds: IPv4 whole, IPv6 /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _counters(query: Query, address: str, limits: Limits) -> list[tuple[str, int, int]]:
    ref = _key("ref", query.reference)
    counters = [(f"status-net:{ref[:32]}:{_key('net', network(address))[:32]}", limits.per_network, limits.hour),
                (f"status-ref:{ref}", limits.per_reference, limits.hour)]
    if query.method == "phone":
        counters.append((f"status-phone:{ref}", limits.phone_per_reference, limits.week))
    return counters


def reserve(engine: Engine, query: Query, address: str, *, now: float | None = None,
            limits: Limits = LIMITS) -> list[tuple[str, int]]:
    """Count this attempt as a wrong one before it is checked (one database step with the limit
    check); 429 when a counter is used up. Returns what `release` hands back if it was right."""
    now = time.time() if now is None else now
    counters = _counters(query, address, limits)
    refused = take(engine, counters, now=now)
    if refused is not None:
        name, wait = refused
        if name.startswith("status-phone:"):
            raise TooManyAttempts("用电话后四位查询这个编号的错误次数太多，请改用查询码查询，"
                                  f"或拨打物业服务电话；约 {_duration(wait)}后可再用电话后四位查询。",
                                  retry_after=wait)
        raise TooManyAttempts(f"这个编号的查询错误次数太多，为防止他人猜测查询码，暂停查询约 {_duration(wait)}。"
                              "请核对编号和查询码；着急的话请拨打物业服务电话查询。", retry_after=wait)
    return [(name, window) for name, _, window in counters]


def release(engine: Engine, reserved: list[tuple[str, int]], *, now: float | None = None) -> None:
    give_back(engine, reserved, now=time.time() if now is None else now)


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f" {seconds} 秒"
    if seconds < 5400:
        return f" {round(seconds / 60)} 分钟"
    if seconds < 2 * 86400:
        return f" {round(seconds / 3600)} 小时"
    return f" {round(seconds / 86400)} 天"


def tries_left(engine: Engine, query: Query, address: str, *, now: float | None = None,
               limits: Limits = LIMITS) -> int:
    """Wrong tries left for this reference from this network in the current hour (for the page)."""
    now = time.time() if now is None else now
    left = None
    for name, limit, window in _counters(query, address, limits):
        used = estimate(engine, name, window, now)
        left = min(left if left is not None else limit, max(0, int(limit - used)))
    return left or 0


def estimate(engine: Engine, name: str, window: int, now: float) -> float:
    start = int(now // window * window)
    weight = 1 - (now - start) / window
    with reading(engine) as conn:
        rows = dict(conn.execute(sa.select(rate_counters.c.bucket, rate_counters.c.count).where(
            rate_counters.c.name == name[:200], rate_counters.c.bucket.in_([start, start - window]))).all())
    return rows.get(start, 0) + rows.get(start - window, 0) * weight


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


def checked(store: Store, query: Query, address: str, *, limits: Limits = LIMITS, clock=time.time) -> dict:
    """The entry row for a matching pair. The attempt is counted before the check and handed
    back when right; NotFound (counted, with the tries left) otherwise, 429 when used up."""
    reserved = reserve(store.engine, query, address, now=clock(), limits=limits)
    row = find(store.engine, query)
    if row is None:
        # The tries left go to the resident's page only (not into the JSON: the contract wants a
        # wrong pair to answer byte for byte like an unknown reference, whatever came before).
        wrong = NotFound(NOT_FOUND)
        wrong.tries_left = tries_left(store.engine, query, address, now=clock(), limits=limits)
        raise wrong
    release(store.engine, reserved, now=clock())
    return row


def row_for(engine: Engine, reference: str) -> dict | None:
    """The entry of a reference, for a device that already proved it (the status page's cookie)."""
    if not REFERENCE.match(reference):
        return None
    with reading(engine) as conn:
        row = conn.execute(sa.select(entries).where(entries.c.reference == reference)).mappings().first()
    return dict(row) if row else None


def look_up(store: Store, query: Query, address: str, *, now: dt.datetime | None = None,
            limits: Limits = LIMITS, clock=time.time) -> dict:
    """The public status for a matching pair; NotFound otherwise (the failure stays counted)."""
    row = checked(store, query, address, limits=limits, clock=clock)
    return public_status(store, row, now=now)


def not_satisfied(store: Store, query: Query, address: str, *, now: dt.datetime | None = None,
                  limits: Limits = LIMITS, clock=time.time) -> dict:
    """The resident says the result did not satisfy them: that is the follow-up result, and the
    entry goes back to 处理中 through the lifecycle (resolved -> followed_up -> in_progress)."""
    row = checked(store, query, address, limits=limits, clock=clock)
    return reopen(store, row, query.comment, now=now)


def reopen(store: Store, row: dict, comment: str | None, *, now: dt.datetime | None = None) -> dict:
    """"Not satisfied" for an entry whose owner has already proved who they are (the code, the
    phone ending, or the status page's signed cookie)."""
    note = "业主在进度查询页表示对处理结果不满意" + (f"：{comment}" if comment else "")
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

# What each step means for the resident, said on their status page (issue 28: 处理中 had no
# explanation).
STEP_HELP = {
    "received": "我们已经登记了您的反馈，会在答复时限内联系您或在这里答复。",
    "triaged": "已交给负责这类事情的团队，他们会安排人员处理。",
    "in_progress": "负责团队正在处理：可能需要上门查看、联系相关单位或等配件。处理完会在这里更新，超过承诺时限也会在这里标出。",
    "resolved": "处理完毕。如果问题没有解决或您不满意，可以在下面点“我不满意”，这条反馈会重新处理。",
    "followed_up": "我们已回访了解您对处理结果的意见。",
    "closed": "这条反馈已经结束。有新的问题请重新提交反馈。",
}

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
            timeline.append({"at": iso(e["at"]), "status": "received", "text": STEP_TEXT["received"],
                             "help": STEP_HELP["received"]})
        elif e["kind"] == "status":
            target = e["to_status"]
            text = STEP_TEXT[target].format(team=team(config, row["category"]))
            if target == "followed_up" and (e["data"] or {}).get("satisfied") is False:
                text = "回访：您表示不满意"
            elif target == "followed_up" and (e["data"] or {}).get("satisfied") is True:
                text = "回访：您表示满意"
            elif target == "in_progress" and e["from_status"] == "followed_up":
                text = "重新处理"
            timeline.append({"at": iso(e["at"]), "status": target, "text": text, "help": STEP_HELP[target]})
        elif e["kind"] == "reply":
            timeline.append({"at": iso(e["at"]), "status": None, "text": "给您的答复已更新"})
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
        "overdue": late, "explanation": STEP_HELP[status],
        # written for this resident (entries.resident_reply), not the public summary of 你说我改
        "reply": row.get("resident_reply"), "timeline": timeline,
        "can_say_not_satisfied": status in ("resolved", "followed_up"),
    }


# -- the page widget's comment ------------------------------------------------------------------------

COMMENT_WINDOW = dt.timedelta(hours=1)


def add_page_comment(store: Store, query: Query, address: str, *, now: dt.datetime | None = None,
                     limits: Limits = LIMITS, clock=time.time) -> dict:
    """"没帮助" is stored the moment it is tapped; the comment typed after it joins that entry
    (proved by the vote's own reference and access code), once, within an hour."""
    now = now or utcnow()
    if not query.comment:
        raise ValidationFailed([{"field": "comment", "message": "请写几句哪里需要改进"}])
    row = checked(store, query, address, limits=limits, clock=clock)
    if row["type"] != "page" or row["content"] or row["created_at"] < now - COMMENT_WINDOW:
        raise Conflict("这条页面反馈已经不能再补充说明；可以在“反馈与投诉”页另外提交")
    with store.engine.begin() as conn:
        conn.execute(entries.update().where(entries.c.id == row["id"]).values(content=query.comment))
        conn.execute(events.insert().values(entry_id=row["id"], at=now, actor="resident", kind="note",
                                            note="补充说明（页面反馈）"))
    return {"reference": row["reference"], "comment_saved": True}

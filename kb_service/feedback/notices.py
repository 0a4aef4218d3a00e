"""The 小区公告 board: notices staff publish from the fill page, read by residents on the site.

Stored in the shared database and rendered at request time, so a notice published through one
node is on every node at once. A correction appends a version (the history "已于…更正" stays
visible); a withdrawal hides the text but keeps the notice's URL answering "已撤回". Nothing
personal goes on the board: phone numbers other than the service hotline, ID numbers and the like
are refused before anything is stored.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kb_service.content.model import Corpus
from kb_service.db import notice_versions, notices, reading
from kb_service.errors import Conflict, NotFound, ValidationFailed
from kb_service.feedback.forms import find_numbers, readable
from kb_service.inputs import Body, Choice, Invalid, Moment, Text
from kb_service.times import iso, utcnow


# Numbers that identify a person, or a number residents should not be sent to: found by the same
# finder that masks lists (feedback/forms.find_numbers: every spacing, width and invisible
# character); the service hotline(s) of the company and the communities are allowed.
_LABELS = {"mobile": "手机号", "id": "身份证号", "landline": "座机号", "service": "服务号码"}
_WARN = re.compile(r"(?<![\d:：.\-/年月日])\d{7,8}(?![\d:：.\-/年月日])")


@dataclass(frozen=True)
class Draft:
    title: str
    body: str
    community: str | None
    valid_from: dt.datetime          # naive UTC
    valid_until: dt.datetime | None  # naive UTC
    template: str | None
    reason: str | None
    warnings: tuple[str, ...] = ()


def communities(corpus: Corpus) -> dict[str, str]:
    """id -> name of the configured communities; empty when the company has none set up."""
    found = getattr(corpus, "communities", None) or {}
    return {cid: getattr(c, "name", cid) for cid, c in found.items()}


def hotlines(corpus: Corpus) -> set[str]:
    numbers = {corpus.site.hotline}
    for c in (getattr(corpus, "communities", None) or {}).values():
        if getattr(c, "hotline", None):
            numbers.add(c.hotline)
    return {re.sub(r"\D", "", n) for n in numbers if n}


def personal_numbers(text: str, allowed: set[str]) -> tuple[list[str], list[str]]:
    """(refused, warned) descriptions of numbers found in `text`, masked."""
    refused, warned = [], []
    text = readable(text)
    spans = []
    for kind, digits, span in find_numbers(text):
        spans.append(span)
        if kind == "id" and not re.fullmatch(r"\d{6}(?:19|20)\d{2}[01]\d[0-3]\d\d{3}[\dXx]", digits):
            continue                          # 18 digits that are not a birth-dated ID number
        if digits not in allowed:
            refused.append(f"{_LABELS[kind]} {mask(digits)}")
    for m in _WARN.finditer(text):
        inside = any(a <= m.start() and m.end() <= b for a, b in spans)
        if m.group(0) not in allowed and not inside:
            warned.append(mask(m.group(0)))
    return refused, warned


def mask(digits: str) -> str:
    return digits[:3] + "*" * max(0, len(digits) - 7) + digits[-4:] if len(digits) >= 7 else digits


# The notice form, declared once: the checks here, the OpenAPI body (web/openapi.py), the page's inputs.
DRAFT = Body((
    Text("title", "标题", "请写标题", required=True, limit=100, multiline=True),
    Text("body", "正文", "请写正文", required=True, limit=5000, multiline=True),
    Choice("community", "小区", "小区 id；不填是全公司的公告", options=communities),
    Moment("valid_from", "生效时间", "北京时间，例如 2026-12-01 或 2026-12-01 08:00；不填为现在"),
    Moment("valid_until", "截止时间", "北京时间；只写日期时到当天 23:59", end_of_day=True),
    Text("template", "所用模板", limit=80),
    Text("reason", "更正原因", "更正时写明原因", limit=200, multiline=True),
), extra=("csrf", "op"))
FIELDS = {i.name for i in DRAFT.inputs}
# Withdrawing: the reason residents see on the notice and in the archive (optional through the
# API, so a caller sending no body keeps working; the staff page requires it).
WITHDRAWAL = Body((Text("reason", "撤回原因", "业主在公告上看到的撤回原因，例如：停水取消", limit=200, multiline=True),))


def parse_draft(data: dict[str, Any], corpus: Corpus, *, now: dt.datetime | None = None,
                partial: dict | None = None) -> Draft:
    """A notice from JSON or a form; `partial` (the current notice) fills what a correction leaves out."""
    now = now or utcnow()
    errors: list[dict[str, str]] = []

    def bad(name: str, message: str) -> None:
        errors.append({"field": name, "message": message})

    for key in sorted(set(data) - FIELDS - set(DRAFT.extra), key=str):
        bad(str(key)[:50], f"未知字段；可用：{', '.join(sorted(FIELDS))}")
    values: dict[str, Any] = {}
    for field in DRAFT.inputs:
        raw = data.get(field.name)
        given = field.name in data if field.name in ("community", "valid_until") else raw not in (None, "")
        if not given and partial is not None and field.name in partial:
            values[field.name] = partial[field.name]
            continue
        if field.name == "community" and raw not in (None, "") and not communities(corpus):
            bad("community", "没有设置小区：公告对全部业主公开，不用填 community")
            continue
        try:
            values[field.name] = field.read(raw, corpus)
        except Invalid as exc:
            bad(field.name, exc.message)
    title, body = values.get("title"), values.get("body")
    valid_from = values.get("valid_from") or now.replace(microsecond=0)
    valid_until = values.get("valid_until")
    if valid_until is not None and valid_until <= valid_from:
        bad("valid_until", "有效期截止时间要晚于开始时间")
    warnings: list[str] = []
    if title and body:
        refused, warned = personal_numbers(f"{title}\n{body}", hotlines(corpus))
        if refused:
            bad("body", "公告会公开给所有人，不能写个人电话、证件号或服务电话以外的号码（发现："
                + "、".join(refused) + f"）。请只留服务电话 {corpus.site.hotline}。")
        if warned:
            warnings.append("正文里有像电话的数字（" + "、".join(warned) + "），请确认不是个人号码。")
    if errors:
        raise ValidationFailed(errors)
    return Draft(title=title, body=body, community=values.get("community"), valid_from=valid_from,
                 valid_until=valid_until, template=values.get("template"), reason=values.get("reason"),
                 warnings=tuple(warnings))


# -- storing ----------------------------------------------------------------------------------------

def publish(engine: Engine, draft: Draft, *, actor: str, now: dt.datetime | None = None) -> int:
    now = now or utcnow()
    with engine.begin() as conn:
        notice_id = conn.execute(notices.insert().values(
            community=draft.community, title=draft.title, body=draft.body, template=draft.template,
            valid_from=draft.valid_from, valid_until=draft.valid_until, created_at=now, created_by=actor,
            updated_at=now)).inserted_primary_key[0]
        conn.execute(notice_versions.insert().values(
            notice_id=notice_id, at=now, by=actor, title=draft.title, body=draft.body,
            valid_from=draft.valid_from, valid_until=draft.valid_until, reason=None))
    return notice_id


def correct(engine: Engine, notice_id: int, draft: Draft, *, actor: str, now: dt.datetime | None = None) -> None:
    now = now or utcnow()
    with engine.begin() as conn:
        row = conn.execute(sa.select(notices).where(notices.c.id == notice_id).with_for_update()).mappings().first()
        if row is None:
            raise NotFound(f"没有编号为 {notice_id} 的公告", id=notice_id)
        if row["withdrawn_at"] is not None:
            raise Conflict("这条公告已撤回，不能再更正；请重新发布一条")
        if (row["title"], row["body"], row["valid_from"], row["valid_until"], row["community"]) == (
                draft.title, draft.body, draft.valid_from, draft.valid_until, draft.community):
            raise ValidationFailed([{"field": "body", "message": "没有改动：更正时请修改标题、正文或有效期"}])
        conn.execute(notices.update().where(notices.c.id == notice_id).values(
            title=draft.title, body=draft.body, community=draft.community, valid_from=draft.valid_from,
            valid_until=draft.valid_until, updated_at=now))
        conn.execute(notice_versions.insert().values(
            notice_id=notice_id, at=now, by=actor, title=draft.title, body=draft.body,
            valid_from=draft.valid_from, valid_until=draft.valid_until, reason=draft.reason))


def withdraw(engine: Engine, notice_id: int, *, actor: str, reason: str | None = None,
             now: dt.datetime | None = None) -> None:
    """Withdraw a notice. The reason (shown to residents: "已撤回：停水取消") is kept as a version
    row with the notice's text unchanged, stamped with the withdrawal's time, so the history
    stays append-only and no column is added."""
    now = now or utcnow()
    reason = WITHDRAWAL.read({"reason": reason})["reason"]
    reason = (reason or "").strip() or None
    with engine.begin() as conn:
        row = conn.execute(sa.select(notices).where(notices.c.id == notice_id).with_for_update()).mappings().first()
        if row is None:
            raise NotFound(f"没有编号为 {notice_id} 的公告", id=notice_id)
        if row["withdrawn_at"] is None:
            conn.execute(notices.update().where(notices.c.id == notice_id).values(withdrawn_at=now, withdrawn_by=actor))
            conn.execute(notice_versions.insert().values(
                notice_id=notice_id, at=now, by=actor, title=row["title"], body=row["body"],
                valid_from=row["valid_from"], valid_until=row["valid_until"], reason=reason or WITHDRAWN_UNSTATED))


WITHDRAWN_UNSTATED = "发布方撤回，未说明原因"


# -- reading ----------------------------------------------------------------------------------------

def state(row, now: dt.datetime) -> str:
    if row["withdrawn_at"] is not None:
        return "withdrawn"
    if row["valid_until"] is not None and row["valid_until"] <= now:
        return "expired"
    if row["valid_from"] > now:
        return "upcoming"
    return "current"


STATE_TEXT = {"current": "有效", "upcoming": "即将生效", "expired": "已过期", "withdrawn": "已撤回"}


def to_json(row, now: dt.datetime, *, versions: list | None = None, staff: bool = False) -> dict:
    s = state(row, now)
    out = {"id": row["id"], "url": f"/notices/{row['id']}/", "state": s, "state_label": STATE_TEXT[s],
           "community": row["community"], "title": row["title"],
           "body": None if s == "withdrawn" and not staff else row["body"],
           "valid_from": iso(row["valid_from"]), "valid_until": iso(row["valid_until"]),
           "published_at": iso(row["created_at"]), "updated_at": iso(row["updated_at"]),
           "corrected": row["updated_at"] != row["created_at"], "withdrawn_at": iso(row["withdrawn_at"])}
    if staff:
        out["created_by"] = row["created_by"]
        out["template"] = row["template"]
    if versions is not None:
        # the withdrawal's own row (same time as withdrawn_at) carries its reason, not a correction
        withdrawal = [v for v in versions[1:] if row["withdrawn_at"] is not None and v["at"] == row["withdrawn_at"]]
        out["withdraw_reason"] = withdrawal[-1]["reason"] if withdrawal else None
        out["corrections"] = [{"at": iso(v["at"]), "reason": v["reason"],
                               **({"title": v["title"], "body": v["body"], "by": v["by"]} if staff else {})}
                              for v in versions[1:] if not any(v is w for w in withdrawal)]
    return out


def board(engine: Engine, *, community: str | None = None, now: dt.datetime | None = None,
          staff: bool = False, limit: int = 200) -> dict[str, list[dict]]:
    """{'current': [...], 'archive': [...]} newest first; current includes upcoming ones, the
    archive the expired and the withdrawn ones (residents still find what was announced and
    see that it no longer holds; a withdrawn notice's text stays hidden).
    A community's board shows its own notices and the company-wide ones."""
    now = now or utcnow()
    query = sa.select(notices)
    if community is not None:
        query = query.where(sa.or_(notices.c.community == community, notices.c.community.is_(None)))
    with reading(engine) as conn:
        rows = conn.execute(query.order_by(notices.c.valid_from.desc(), notices.c.id.desc()).limit(limit)).mappings().all()
        withdrawn = {r["id"]: r["withdrawn_at"] for r in rows if r["withdrawn_at"] is not None}
        reasons = {v["notice_id"]: v["reason"] for v in conn.execute(
            sa.select(notice_versions.c.notice_id, notice_versions.c.at, notice_versions.c.reason)
            .where(notice_versions.c.notice_id.in_(list(withdrawn)))).mappings()
            if v["at"] == withdrawn[v["notice_id"]]} if withdrawn else {}
    out: dict[str, list[dict]] = {"current": [], "archive": []}
    for row in rows:
        item = to_json(row, now, staff=staff)
        if row["id"] in withdrawn:
            item["withdraw_reason"] = reasons.get(row["id"])
        out["current" if item["state"] in ("current", "upcoming") else "archive"].append(item)
    return out


def get(engine: Engine, notice_id: int, *, now: dt.datetime | None = None, staff: bool = False) -> dict:
    now = now or utcnow()
    with reading(engine) as conn:
        row = conn.execute(sa.select(notices).where(notices.c.id == notice_id)).mappings().first()
        if row is None:
            raise NotFound(f"没有编号为 {notice_id} 的公告", id=notice_id)
        versions = conn.execute(sa.select(notice_versions).where(notice_versions.c.notice_id == notice_id)
                                .order_by(notice_versions.c.id)).mappings().all()
    return to_json(row, now, versions=list(versions), staff=staff)


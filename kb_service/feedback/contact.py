"""The "已联系业主" step: how and when staff actually reached the resident. This, not triage,
meets the first-response deadline (entries.responded_at)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kb_service.times import BEIJING, utcnow

WAYS = {"phone": "电话", "visit": "上门", "sms": "短信", "wechat": "微信", "in_person": "当面（前台）"}


def parse(raw: Any, bad, *, now: dt.datetime | None = None) -> dict | None:
    """{"how": one of WAYS, "at": optional time} -> {"how", "at" (naive UTC)}; errors via bad().

    `at` is Beijing time as staff type it ("2026-11-27T10:30" or "2026-11-27 10:30"), or ISO
    with an offset or Z; it defaults to now and cannot lie in the future."""
    now = now or utcnow()
    if not isinstance(raw, dict):
        bad("contacted", "contacted 应为 {\"how\": \"phone\", \"at\": \"2026-11-27T10:30\"}")
        return None
    how = raw.get("how")
    if how not in WAYS:
        bad("contacted.how", "联系方式只能是：" + "、".join(f"{k}（{v}）" for k, v in WAYS.items()))
        return None
    at = raw.get("at")
    if at in (None, ""):
        when = now
    else:
        try:
            parsed = dt.datetime.fromisoformat(str(at).strip().replace(" ", "T", 1))
        except ValueError:
            bad("contacted.at", "联系时间应为 2026-11-27T10:30 这样的北京时间")
            return None
        when = (parsed - BEIJING if parsed.tzinfo is None
                else parsed.astimezone(dt.timezone.utc).replace(tzinfo=None))
        if when > now + dt.timedelta(minutes=5):
            bad("contacted.at", "联系时间不能晚于现在")
            return None
    return {"how": how, "at": when.replace(microsecond=0)}

"""The "已联系业主" step: how and when staff actually reached the resident. This, not triage,
meets the first-response deadline (entries.responded_at)."""

from __future__ import annotations

import datetime as dt

from kb_service.inputs import Body, Choice, Moment
from kb_service.times import utcnow

WAYS = {"phone": "电话", "visit": "上门", "sms": "短信", "wechat": "微信", "in_person": "当面（前台）"}

# `at` is Beijing time as staff type it ("2026-11-27T10:30" or "2026-11-27 10:30"), or ISO with an
# offset or Z; it defaults to now (see `settle`).
CONTACTED = Body((
    Choice("how", "联系方式", required=True, options=WAYS),
    Moment("at", "联系时间", "北京时间，例如 2026-11-27T10:30；不填为现在"),
))


def settle(values: dict, bad, *, now: dt.datetime | None = None) -> dict | None:
    """Checked {"how", "at"} -> {"how", "at" (naive UTC, now when not given)}; a time in the future
    is refused via bad()."""
    now = now or utcnow()
    when = values.get("at") or now
    if when > now + dt.timedelta(minutes=5):
        bad("contacted.at", "联系时间不能晚于现在")
        return None
    return {"how": values["how"], "at": when.replace(microsecond=0)}

"""Time ranges as staff type them, and local dates in Beijing time."""

from __future__ import annotations

import datetime as dt

import pytest

from kb_service.content import fields as F

TODAY = dt.date(2026, 11, 27)


@pytest.mark.parametrize("typed, start, end", [
    ("明天 9:00-15:00", (2026, 11, 28, 9, 0), (2026, 11, 28, 15, 0)),
    ("12月1日 9:00-15:00", (2026, 12, 1, 9, 0), (2026, 12, 1, 15, 0)),
    ("9点到3点", (2026, 11, 27, 9, 0), (2026, 11, 27, 15, 0)),
    ("上午9点至下午3点", (2026, 11, 27, 9, 0), (2026, 11, 27, 15, 0)),
    ("明天9点-15点", (2026, 11, 28, 9, 0), (2026, 11, 28, 15, 0)),
    ("2026-12-01 08:00-18:00", (2026, 12, 1, 8, 0), (2026, 12, 1, 18, 0)),
    ("2026-12-01 08:00 至 2026-12-01 18:00", (2026, 12, 1, 8, 0), (2026, 12, 1, 18, 0)),
])
def test_time_ranges_staff_type(typed, start, end):
    r = F.parse_timerange(typed, TODAY)
    assert (r.start, r.end) == (dt.datetime(*start), dt.datetime(*end))


@pytest.mark.parametrize("typed", ["2026-12-01 18:00 至 2026-12-01 08:00", "明天", "9点", "下午3点到上午9点"])
def test_impossible_ranges_are_clear_errors(typed):
    with pytest.raises(F.FieldError):
        F.parse_timerange(typed, TODAY)


def test_render_reads_tomorrow_in_beijing_time(client):
    """At 03:00 Beijing (19:00 UTC the day before) 明天 is the Beijing tomorrow: the API renders
    with kb_service.times.local_now, never the server's UTC clock."""
    from kb_service.times import local_today

    templates = client.get("/api/templates").json()["templates"]
    tid, name = next((t["id"], f["name"]) for t in templates
                     for f in client.get(f"/api/templates/{t['id']}").json()["fields"] if f["type"] == "timerange")
    detail = client.get(f"/api/templates/{tid}").json()
    fields = {f["name"]: f.get("example", "") for f in detail["fields"] if f.get("required")}
    fields[name] = "明天 9:00-15:00"
    body = client.post(f"/api/templates/{tid}/render", json={"channel": detail["channels"][0], "fields": fields}).json()
    tomorrow = local_today() + dt.timedelta(days=1)
    assert body["values"][name]["start"] == f"{tomorrow.isoformat()} 09:00"

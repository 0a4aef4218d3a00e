"""Template filling: typed fields, computed deadlines, channels, warnings, injection safety."""

import datetime as dt
from decimal import Decimal

import pytest

from kb_service.content import fields as F
from kb_service.content.load import load_corpus
from kb_service.errors import ValidationFailed
from kb_service.content.filling import examples, render, to_html

from conftest import CONTENT_ROOT, copy_project

NOW = dt.datetime(2026, 11, 26, 9, 30)
TODAY = NOW.date()


@pytest.fixture(scope="module")
def corpus():
    c, problems = load_corpus(CONTENT_ROOT / "snippets")
    assert c is not None, problems
    return c


def test_every_template_renders_every_channel_cleanly(corpus):
    for t in corpus.templates.values():
        for channel in t.channels:
            r = render(t, channel, examples(t), corpus, now=NOW, tone=corpus.tone)
            assert r.text.strip(), (t.id, channel)
            assert r.warnings == [], (t.id, channel, r.warnings)
            assert "{" not in r.text, (t.id, channel)
            if channel == "sms":
                assert r.segments == 1, (t.id, r.length)


@pytest.mark.parametrize("raw,expected", [
    ("2026-12-01", dt.date(2026, 12, 1)), ("2026/12/1", dt.date(2026, 12, 1)),
    ("12月1日", dt.date(2026, 12, 1)), ("2027年1月3日", dt.date(2027, 1, 3)), ("明天", dt.date(2026, 11, 27)),
])
def test_dates(raw, expected):
    assert F.parse_date(raw, TODAY) == expected


@pytest.mark.parametrize("raw", ["", "2026-13-01", "2月30日", "下周", "12/1/2026"])
def test_bad_dates(raw):
    with pytest.raises(F.FieldError):
        F.parse_date(raw, TODAY)


@pytest.mark.parametrize("raw,expected", [
    ("2026-12-01 09:30", dt.datetime(2026, 12, 1, 9, 30)), ("12月1日 14:00", dt.datetime(2026, 12, 1, 14)),
    ("明天 14:00", dt.datetime(2026, 11, 27, 14)), ("明天下午2点", dt.datetime(2026, 11, 27, 14)),
    ("12月1日 9点半", dt.datetime(2026, 12, 1, 9, 30)),
])
def test_datetimes(raw, expected):
    assert F.parse_datetime(raw, TODAY) == expected


@pytest.mark.parametrize("raw", ["明天", "14:00", "2026-12-01 25:00", "12月1日 下午13点61分"])
def test_bad_datetimes(raw):
    with pytest.raises(F.FieldError):
        F.parse_datetime(raw, TODAY)


def test_timerange_end_after_start():
    r = F.parse_timerange("2026-12-01 08:00 至 18:00", TODAY)
    assert (r.start.hour, r.end.hour, r.end.date()) == (8, 18, dt.date(2026, 12, 1))
    with pytest.raises(F.FieldError, match="结束时间必须晚于开始时间"):
        F.parse_timerange("2026-12-01 18:00 至 2026-12-01 08:00", TODAY)
    with pytest.raises(F.FieldError, match="至"):
        F.parse_timerange("2026-12-01 08:00", TODAY)


@pytest.mark.parametrize("raw,expected", [
    ("13800001234", "13800001234"), ("138 0000 1234", "13800001234"), ("+8613800001234", "13800001234"),
    ("0571-12345678", "0571-12345678"), ("01062345678", "010-62345678"), ("400-000-0000", "400-000-0000"),
])
def test_phones(raw, expected):
    assert F.parse_phone(raw) == expected


@pytest.mark.parametrize("raw", ["12345", "23800001234", "0571-0123456", "1380000123", "电话"])
def test_bad_phones(raw):
    with pytest.raises(F.FieldError, match="手机号"):
        F.parse_phone(raw)


def test_money_and_numbers():
    assert F.parse_money("1280") == Decimal("1280.00")
    assert F.parse_money("¥1,280.5元") == Decimal("1280.50")
    for bad in ("12.345", "-5", "abc", "1e5"):
        with pytest.raises(F.FieldError, match="两位小数"):
            F.parse_money(bad)
    assert F.parse_number("2.5") == Decimal("2.5")
    with pytest.raises(F.FieldError):
        F.parse_number("三")


def test_building_from_the_default_community(corpus):
    assert F.parse_building("3栋1单元", corpus.default_community) == "3栋1单元"
    assert F.parse_building("3号楼", corpus.default_community) == "3栋"
    with pytest.raises(F.FieldError, match="没有 9栋"):
        F.parse_building("9栋", corpus.default_community)
    with pytest.raises(F.FieldError, match="没有4单元"):
        F.parse_building("3栋4单元", corpus.default_community)


def test_all_problems_in_one_422(corpus):
    t = corpus.templates["notice.water-outage"]
    with pytest.raises(ValidationFailed) as exc:
        render(t, "sms", {"area": "99栋", "period": "18:00 至 08:00", "bogus": "x"}, corpus, now=NOW)
    fields = {e["field"] for e in exc.value.errors}
    assert {"area", "period", "reason", "bogus"} <= fields
    assert all(e["message"] for e in exc.value.errors)


def test_injection_strings_stay_literal(corpus):
    t = corpus.templates["notice.water-outage"]
    evil = "{0.__class__} {{7*7}} ${x} <script>alert(1)</script> {area}"
    values = dict(examples(t), extra=evil)
    r = render(t, "wechat", values, corpus, now=NOW)
    assert evil in r.text
    assert "49" not in r.text.replace(examples(t)["extra"], "")
    html = to_html(r)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_tone_warnings(corpus):
    t = corpus.templates["notice.water-outage"]
    values = dict(examples(t), extra="我们会尽快联系有关部门处理。")
    r = render(t, "wechat", values, corpus, now=NOW, tone=corpus.tone)
    assert any("尽快" in w for w in r.warnings) and any("有关部门" in w for w in r.warnings)
    values["extra"] = "这不归我们管"
    r = render(t, "wechat", values, corpus, now=NOW, tone=corpus.tone)
    assert any("指责或推诿" in w for w in r.warnings)


def test_deadline_follows_the_standards_file(tmp_path):
    """The computed deadline is the standard's duration after the start: read from standards.yaml
    (never typed here), and it follows a change of that file."""
    project = copy_project(tmp_path / "p")
    c, _ = load_corpus(project / "snippets")
    t = c.templates["reply.complaint-received"]
    spec = next(f["computed"] for f in t.fields if f["name"] == "reply_by")
    received = dt.datetime(2026, 12, 1, 9, 30)
    values = dict(examples(t), received_at=f"{received:%Y-%m-%d %H:%M}")
    r = render(t, "sms", values, c, now=NOW)
    assert r.values["reply_by"] == f"{c.standards[spec['key']].deadline(received):%Y-%m-%d %H:%M}"
    old = c.standards[spec["key"]]
    standards = project / "snippets" / "standards.yaml"
    text = standards.read_text(encoding="utf-8")
    block = text[text.index(f"id: {old.id}\n"):]
    changed = old.duration * 2
    standards.write_text(text.replace(block, block.replace(f"duration: {old.duration}", f"duration: {changed}", 1)),
                         encoding="utf-8")
    c2, _ = load_corpus(project / "snippets")
    assert c2.standards[old.id].duration == changed
    r2 = render(c2.templates["reply.complaint-received"], "sms", values, c2, now=NOW)
    assert r2.values["reply_by"] == f"{c2.standards[old.id].deadline(received):%Y-%m-%d %H:%M}"
    assert r2.values["reply_by"] != r.values["reply_by"]


def test_api_render(client):
    t = client.get("/api/templates/notice.water-outage").json()
    ex = {f["name"]: f["example"] for f in t["fields"] if not f["computed"]}
    # the example's own date is fixed and passes with the calendar: a period that is still to come
    r = client.post("/api/templates/notice.water-outage/render",
                    json={"channel": "sms", "fields": dict(ex, period="明天 8:00 至 18:00")})
    assert r.status_code == 200
    body = r.json()
    assert body["segments"] == 1 and body["length"] == len(body["text"]) and body["warnings"] == []
    bad = client.post("/api/templates/notice.water-outage/render",
                      json={"channel": "sms", "fields": dict(ex, period="2026-12-01 18:00 至 2026-12-01 08:00")})
    assert bad.status_code == 422
    assert bad.json()["errors"] == [{"field": "period", "message": "停水时间：结束时间必须晚于开始时间"}]
    assert client.post("/api/templates/nope/render", json={}).status_code == 404
    assert client.post("/api/templates/notice.water-outage/render", content=b"not json").status_code == 400
    assert client.post("/api/templates/notice.water-outage/render", json=[1]).status_code == 400
    assert client.post("/api/templates/notice.water-outage/render", json={"channel": "fax"}).status_code == 422
    big = client.post("/api/templates/notice.water-outage/render", content=b"{" + b" " * 70000 + b"}",
                      headers={"content-type": "application/json"})
    assert big.status_code == 413
    listed = client.get("/api/templates").json()["templates"]
    assert {"id", "title", "channels"} <= set(listed[0])
    corpus, _ = load_corpus(CONTENT_ROOT / "snippets")
    assert sorted(t["id"] for t in listed) == sorted(corpus.templates)


def test_dates_in_notices_carry_the_weekday(corpus):
    from kb_service.times import weekday

    t = corpus.templates["notice.water-outage"]
    fields = dict(examples(t), period="2026-12-01 08:00 至 2026-12-01 18:00")
    text = render(t, "notice", fields, corpus, now=NOW).text
    assert f"12月1日（{weekday(dt.date(2026, 12, 1))}）8:00—18:00" in text
    assert F.show("date", dt.date(2027, 1, 3), today=TODAY) == f"2027年1月3日（{weekday(dt.date(2027, 1, 3))}）"


def test_fee_adjustment_warns_when_it_applies_less_than_a_month_after_posting(corpus):
    t = corpus.templates["notice.fee-adjustment"]
    rule = next(f["after"] for f in t.fields if f["name"] == "effective_date")
    law = corpus.laws[rule["law"]]
    ok = render(t, "notice", examples(t), corpus, now=NOW)
    assert not [w for w in ok.warnings if law.text in w]
    early = render(t, "notice", dict(examples(t), publicity_start="2026-12-01", effective_date="2026-12-20"),
                   corpus, now=NOW)
    assert [w for w in early.warnings if law.text in w and "生效日期" in w]

"""Every declared input (kb_service/inputs.py) over generated dates, ids and text: a value is either
refused with a Chinese message or comes out inside the bounds the rest of the service relies on;
and each 500 that fuzzing and the probe found where an input bypassed the declarations (issue 25),
reproduced on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import STAFF, STAFF_TOKEN
from kb_service import inputs, times
from kb_service.content.load import load_corpus
from kb_service.feedback import fields_spec as spec
from kb_service.feedback import contact
from kb_service.feedback import notices as board
from kb_service.feedback import status as progress
from kb_service.web.api import queries
from kb_service.web.openapi import ENTRY_ID, NOTICE_ID

DECLARED = [queries.SEARCH, queries.LOG_FILTERS, queries.PAGING, queries.CALLER, queries.GAPS, queries.LIST_PAGE,
            queries.PICK, board.DRAFT, contact.CONTACTED, progress.QUERY, ENTRY_ID, NOTICE_ID]
# Day is declared inside the form specs (fields_spec.DATE, covered below with the forms) and here
# on its own, so that every kind of input has its property in this one test.
ALL = [i for group in DECLARED for i in group.inputs] + [inputs.Day("day", "日期")]
CJK = re.compile(r"[\u4e00-\u9fff]")
BIG = 2**31      # one past PostgreSQL's integer

quick = settings(max_examples=300, deadline=None, derandomize=True)


class Ctx:
    """Stands in for the loaded content: the options that come from snippets/feedback.yaml."""

    class feedback:
        types = {"complaint": type("T", (), {"label": "投诉"})()}
        categories = {"repair": "报修"}

    communities = {"east": type("C", (), {"id": "east", "name": "东区"})()}
    snippets = {"emergency.fire": type("S", (), {"title": "着火"})()}


def stamps(low=dt.datetime(1, 1, 1), high=dt.datetime(9999, 12, 31, 23, 59)):
    """Times as people and clients write them, across the whole calendar (year 1 to 9999)."""
    return st.builds(lambda t, style: style(t), st.datetimes(low, high), st.sampled_from([
        lambda t: t.date().isoformat(), lambda t: t.strftime("%Y-%m-%d %H:%M"), lambda t: t.strftime("%Y-%m-%dT%H:%M"),
        lambda t: t.isoformat() + "Z", lambda t: t.isoformat(timespec="minutes") + "+08:00",
        lambda t: t.isoformat() + "-12:00"]))


raw_values = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63), st.text(max_size=60),
                       st.sampled_from([str(BIG), str(inputs.MAX_ID), "0", "-1", "²", "1,2", "true", "\x00"]),
                       # accepted choices, so that the property sees them pass too
                       st.sampled_from(["complaint", "repair", "east", "emergency.fire", "strong", "response", " result"]),
                       stamps(), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.none(), max_size=2))


def test_every_input_is_declared_with_a_label_and_a_schema():
    assert len(ALL) >= 30
    for i in ALL:
        schema = i.schema(Ctx)
        assert schema["type"] in ("string", "integer", "boolean"), i
        assert i.label and CJK.search(i.describe()), i
        assert i.html(Ctx)["name"] == i.name


@quick
@given(st.sampled_from(ALL), raw_values)
def test_every_input_refuses_in_chinese_or_returns_a_value_in_bounds(field, raw):
    try:
        value = field.read(raw, Ctx)
    except inputs.Invalid as exc:
        assert CJK.search(exc.message), exc.message
        return
    if value is None or value == field.default:
        return
    if isinstance(field, inputs.Text):
        assert isinstance(value, str) and len(value) <= field.limit and not inputs.CONTROL.search(value)
        assert re.fullmatch(inputs.NO_CONTROL, value)
    elif isinstance(field, inputs.Integer):
        assert type(value) is int and field.lo <= value <= field.hi <= inputs.MAX_ID
    elif isinstance(field, inputs.IdList):
        assert value and all(1 <= v <= inputs.MAX_ID for v in value)
    elif isinstance(field, inputs.Moment):
        # what the service does with a time next: the Beijing offset, a deadline, the API's ISO
        assert times.EARLIEST <= (value + times.BEIJING).date() <= times.LATEST + dt.timedelta(days=1)
        assert times.iso(value + dt.timedelta(days=400)) and times.local_time(value)
    elif isinstance(field, inputs.Day):
        assert times.EARLIEST <= value <= times.LATEST
    elif isinstance(field, inputs.Choice):
        assert value in field.mapping(Ctx)
    elif isinstance(field, inputs.Overdue):
        assert value in (True, False, *field.measures)
    elif isinstance(field, inputs.Flag):
        assert isinstance(value, bool)
    else:
        raise AssertionError(f"no property for {field!r}")


@cache
def feedback_settings():
    """The shipped feedback settings, loaded at the first test that needs them (at import, every
    pytest process paid seconds of YAML parsing to collect this module)."""
    return load_corpus(Path(__file__).resolve().parents[2] / "snippets")[0].feedback
FORM_FIELDS = [(form, f) for form in (*spec.FORMS, spec.PATCH) for f in form.fields]


@quick
@given(st.sampled_from(FORM_FIELDS), raw_values)
def test_every_form_field_refuses_or_returns_a_value_in_bounds(pair, raw):
    """The forms of feedback/fields_spec over the same values: a problem for the error list, or a
    clean value the database and the deadline arithmetic can take."""
    form, f = pair
    errors = spec.Errors()
    value = spec.check(f, raw, feedback_settings(), errors, partial=form.partial, html=form.html)
    for e in errors.items:
        assert CJK.search(e["message"]) or e["message"].startswith(f.name), e
    if value is spec.MISSING or errors:      # with errors the whole form is refused
        return
    if f.kind in (spec.TEXT, spec.MULTILINE, spec.PHONE, spec.URL):
        assert isinstance(value, str) and len(value) <= f.limit and not inputs.CONTROL.search(value)
    elif f.kind == spec.DATE:
        assert times.EARLIEST <= value <= times.LATEST
    elif f.kind == spec.INT:
        assert 1 <= value <= inputs.MAX_ID
    elif f.kind == spec.DATETIME:
        assert dt.datetime.fromisoformat(value)
    elif f.kind == spec.CHOICE:
        assert value in f.mapping(feedback_settings())


@quick
@given(stamps(dt.datetime(2000, 1, 2), dt.datetime(2099, 12, 30)))
def test_times_in_range_are_accepted_and_mean_beijing_time(text):
    value = times.parse_local(text)
    typed = dt.datetime.fromisoformat(text.replace(" ", "T").replace("Z", "+00:00"))
    if typed.tzinfo is None:     # typed by staff: Beijing time, to the minute
        assert value == typed - times.BEIJING
    else:                        # an API time sent back: kept to the second
        assert value == typed.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)


@quick
@given(st.integers(-2**70, 2**70))
def test_ids_are_the_databases_integers(n):
    for field in (ENTRY_ID.inputs[0], inputs.Id("id")):
        for raw in (n, str(n)):
            try:
                assert 1 <= field.read(raw) <= inputs.MAX_ID == 2147483647
            except inputs.Invalid:
                assert not 1 <= n <= inputs.MAX_ID or len(str(n)) > 12


@quick
@given(st.text(max_size=250))
def test_text_never_keeps_a_control_character(text):
    field = inputs.Text("t", "文字", limit=200, multiline=True)
    try:
        value = field.read(text)
    except inputs.Invalid:
        assert inputs.CONTROL.search(text.strip()) or len(text.strip()) > 200
        return
    assert value is None or not inputs.CONTROL.search(value)


# -- the 500s of issue 25, on SQLite and PostgreSQL ------------------------------------------------------

def test_contacted_with_a_wrong_how_or_a_far_time_is_a_422(db_client):
    entry = db_client.post("/api/improvement-log", json={"type": "complaint", "content": "电梯异响"}, headers=STAFF).json()
    url = f"/api/improvement-log/{entry['id']}"
    for bad, field in (({"how": {}}, "contacted.how"), ({"how": ["phone"]}, "contacted.how"),
                       ({"how": "phone", "at": "0001-01-01"}, "contacted.at"),
                       ({"how": "phone", "at": "9999-12-31T23:59Z"}, "contacted.at"),
                       ({"how": "phone", "at": {"x": 1}}, "contacted.at")):
        r = db_client.patch(url, json={"contacted": bad}, headers=STAFF)
        assert r.status_code == 422, (bad, r.text)
        assert field in {e["field"] for e in r.json()["errors"]}
    # a contact cannot predate the entry (privacy branch), so the typed Beijing time is the entry's own minute
    created = dt.datetime.fromisoformat(entry["created_at"].removesuffix("Z")).replace(second=0)
    typed = (created + dt.timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")
    r = db_client.patch(url, json={"contacted": {"how": "phone", "at": typed}}, headers=STAFF)
    assert r.status_code == 200 and r.json()["events"][-1]["data"]["at"] == times.iso(created)


def test_notice_times_outside_the_calendar_are_a_422(db_client):
    for name, value in (("valid_from", "9999-12-31T23:59Z"), ("valid_from", "0001-01-01"),
                        ("valid_until", "9999-12-31"), ("valid_from", "2026-02-30"), ("valid_from", "20260-01-01")):
        r = db_client.post("/api/notices", json={"title": "停水通知", "body": "明天停水", name: value}, headers=STAFF)
        assert r.status_code == 422, (name, value, r.text)
        assert r.json()["errors"][0]["field"] == name
    assert db_client.get("/notices/").status_code == 200


def test_ids_beyond_the_database_integer_are_unknown(db_client):
    for big in (str(BIG), "9" * 12, "99999999999999999999"):
        assert db_client.get(f"/api/notices/{big}").status_code == 404
        assert db_client.get(f"/notices/{big}/").status_code == 404
        assert db_client.patch(f"/api/notices/{big}", json={"title": "x"}, headers=STAFF).status_code == 404
        assert db_client.delete(f"/api/notices/{big}", headers=STAFF).status_code == 404
        assert db_client.get(f"/api/improvement-log/{big}", headers=STAFF).status_code == 404
        assert db_client.patch(f"/api/improvement-log/{big}", json={"owner": "王"}, headers=STAFF).status_code == 404
        r = db_client.get("/api/improvement-log", params={"ids": f"1,{big}"}, headers=STAFF)
        assert r.status_code == 400 and r.json()["field"] == "ids"
    assert db_client.get(f"/api/notices/{inputs.MAX_ID}").status_code == 404


def test_nul_in_text_is_refused_before_the_database(db_client):
    r = db_client.get("/api/search", params={"q": "漏水\x00"})
    assert r.status_code == 400 and r.json()["field"] == "q"
    r = db_client.post("/api/feedback/comment", json={"reference": "FB20261201-ABCDE", "access_code": "x",
                                                      "comment": "没写清楚\x00"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "comment"
    r = db_client.post("/api/feedback", json={"type": "complaint", "content": "楼道\x00灯坏了"})
    assert r.status_code == 422
    assert db_client.post("/staff/login", data={"token": STAFF_TOKEN}, follow_redirects=False).status_code == 303
    r = db_client.get("/staff/entries/", params={"q": "\x00"})
    assert r.status_code == 400 and "控制字符" in r.text
    # 5,000 typed digits: a declared choice, compared as text (int() would refuse them: Python's digit limit)
    r = db_client.get("/staff/dashboard", params={"days": "1" * 5000})
    assert r.status_code == 400 and "最近 90 天" in r.text


def test_a_nul_in_one_search_does_not_lose_the_gap_batch(db_client):
    svc = db_client.app.state.services
    svc.gaps.add("电梯\x00困人", 0, None)
    svc.gaps.add("地下室漏水无结果", 0, None)
    assert svc.gaps.flush() == 2
    found = {g["query"] for g in svc.store.gaps(limit=100)}
    assert {"电梯困人", "地下室漏水无结果"} <= found


@pytest.mark.parametrize("group", DECLARED, ids=lambda g: ",".join(i.name for i in g.inputs))
def test_declared_text_limits_fit_the_html(group):
    for i in group.inputs:
        if isinstance(i, inputs.Text):
            assert i.html()["maxlength"] == str(i.limit) == str(i.schema()["maxLength"])


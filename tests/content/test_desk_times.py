"""Time input as the desk types it (kb_service/times.py, Beijing wall-clock time): weekdays, 明早/今晚,
impossible dates explained, and a warning for a time range that is already over."""

from __future__ import annotations

import datetime as dt

import pytest

from kb_service import times
from kb_service.content import fields as F
from kb_service.content.filling import render
from kb_service.content.load import load_corpus

from conftest import ROOT

TODAY = dt.date(2026, 12, 3)      # a Thursday


@pytest.mark.parametrize("typed, start, end", [
    ("周六 9:00 至 15:00", (12, 5, 9, 0), (12, 5, 15, 0)),
    ("星期六上午9点到下午3点", (12, 5, 9, 0), (12, 5, 15, 0)),
    ("周四 9:00-10:00", (12, 3, 9, 0), (12, 3, 10, 0)),           # today is a Thursday: today
    ("本周二 9:00-10:00", (12, 1, 9, 0), (12, 1, 10, 0)),         # this week's, even if past
    ("下周一 9:00-17:00", (12, 7, 9, 0), (12, 7, 17, 0)),
    ("下星期三下午2点到4点", (12, 9, 14, 0), (12, 9, 16, 0)),
    ("明早8点到12点", (12, 4, 8, 0), (12, 4, 12, 0)),
    ("今晚8点到10点", (12, 3, 20, 0), (12, 3, 22, 0)),
    ("明晚7点半至9点", (12, 4, 19, 30), (12, 4, 21, 0)),
    ("12月10日晚上10点至12月11日早上6点", (12, 10, 22, 0), (12, 11, 6, 0)),
    ("１２月８日 ９：００－１７：００", (12, 8, 9, 0), (12, 8, 17, 0)),
])
def test_ranges_with_weekdays_and_parts_of_the_day(typed, start, end):
    r = times.parse_range(typed, TODAY)
    assert (r.start, r.end) == (dt.datetime(2026, *start), dt.datetime(2026, *end))


@pytest.mark.parametrize("typed, expected", [
    ("明早8点", dt.datetime(2026, 12, 4, 8)), ("今晚8点", dt.datetime(2026, 12, 3, 20)),
    ("下周一 9:30", dt.datetime(2026, 12, 7, 9, 30)), ("周日下午3点", dt.datetime(2026, 12, 6, 15)),
    ("1月5日 9:00", dt.datetime(2027, 1, 5, 9)),                 # typed in December: next January
])
def test_points(typed, expected):
    assert times.parse_datetime(typed, TODAY) == expected


@pytest.mark.parametrize("typed, says", [
    ("2月30日", "2月没有30日：2027年2月只有28天"),
    ("2028年2月30日", "2月没有30日：2028年2月只有29天"),
    ("4月31日", "4月没有31日"),
    ("13月1日", "没有13月"),
])
def test_impossible_dates_say_why(typed, says):
    with pytest.raises(times.TimeInputError, match=says):
        times.parse_date(typed, TODAY)
    with pytest.raises(F.FieldError, match=says):        # the fill page shows the same message
        F.parse_timerange(typed + " 9:00-12:00", TODAY)


def test_a_part_of_the_day_without_an_hour_asks_for_one():
    with pytest.raises(times.TimeInputError, match="请写上几点"):
        times.parse_datetime("明早", TODAY)


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(ROOT / "snippets")[0]


def test_a_range_already_over_is_warned_about(corpus):
    template = corpus.templates["notice.water-outage"]
    now = dt.datetime(2026, 12, 3, 10, 0)
    fields = {f["name"]: f["example"] for f in template.fields if "example" in f and "computed" not in f}
    over = render(template, "sms", {**fields, "period": "12月1日 8:00-18:00"}, corpus, now=now)
    assert any("已经结束" in w for w in over.warnings)
    ahead = render(template, "sms", {**fields, "period": "周六 9:00 至 15:00"}, corpus, now=now)
    assert not any("已经" in w for w in ahead.warnings)
    assert "12月5日（周六）9:00—15:00" in ahead.text

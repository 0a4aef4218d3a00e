"""The dashboard's three questions, on SQLite and PostgreSQL: which community needs attention,
are we keeping our promises (closed entries included), which problems are growing."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from starlette.testclient import TestClient

from kb_service import db
from kb_service.content.load import load_corpus
from kb_service.feedback import community as communities
from kb_service.feedback import insights
from kb_service.feedback.store import Store
from kb_service.times import BEIJING, utcnow
from kb_service.web.app import create_app

from conftest import STAFF_TOKEN, settings_for

NOW = utcnow().replace(microsecond=0)        # the page computes with the real clock: so does the scene
HOUR = dt.timedelta(hours=1)


@pytest.fixture(scope="module")
def corpus(multi_project):
    return load_corpus(multi_project / "snippets")[0]


@pytest.fixture
def store(database_url, corpus):
    engine = db.connect(database_url)
    yield Store(engine, corpus.feedback)
    engine.dispose()


def put(store, corpus, community, at, *, type="complaint", category=None, ratings=None, page=None):
    data = {"type": type, "content": "测试", "community": community}
    if category:
        data["category"] = category
    if ratings:
        data["ratings"] = ratings
    if type == "page":
        data = {"type": "page", "page": page or "/residents/fees/", "helpful": False}
    entry, _ = store.submit(communities.parse(data, corpus), now=at)
    return entry["id"]


def move(store, entry_id, at, *statuses):
    """Assign (which is not an answer) and record the first contact with the resident at `at`
    (which is), then the remaining steps."""
    if statuses and statuses[0] == "triaged":
        store.update(entry_id, {"status": "triaged", "owner": "tester"}, actor="tester", now=at)
        store.update(entry_id, {"contacted": {"how": "phone", "at": (at + BEIJING).strftime("%Y-%m-%dT%H:%M")}},
                     actor="tester", now=at)
        statuses = statuses[1:]
    for status in statuses:
        patch = {"status": status, **({"satisfied": True} if status == "followed_up" else {})}
        store.update(entry_id, patch, actor="tester", now=at)


@pytest.fixture
def scene(store, corpus):
    """Two communities. In A: a complaint answered in time and closed, one answered late and closed
    late, one never answered; in B one suggestion with a single rating."""
    a, b = list(corpus.communities.values())[:2]
    respond = corpus.feedback.types["complaint"].response.deadline(NOW) - NOW
    result = corpus.feedback.types["complaint"].result.deadline(NOW) - NOW
    start = NOW - dt.timedelta(days=10)
    on_time = put(store, corpus, a.id, start, category="noise", ratings={"service": 4})
    move(store, on_time, start + respond - HOUR, "triaged", "in_progress")
    move(store, on_time, start + result - HOUR, "resolved", "followed_up", "closed")
    late = put(store, corpus, a.id, start, category="noise")
    move(store, late, start + respond + HOUR, "triaged", "in_progress")
    move(store, late, start + result + HOUR, "resolved", "followed_up", "closed")
    never = put(store, corpus, a.id, start, category="parking")
    old = put(store, corpus, a.id, NOW - dt.timedelta(days=40), category="parking")   # the period before
    put(store, corpus, b.id, NOW - HOUR, type="suggestion", ratings={"service": 5})
    put(store, corpus, b.id, NOW - HOUR, type="suggestion")                        # both uncategorised
    put(store, corpus, None, NOW - HOUR, type="page")
    return {"a": a, "b": b, "on_time": on_time, "late": late, "never": never, "old": old}


def test_week_labels_are_dates():
    assert insights.week_label(dt.date(2026, 11, 23)) == "11月23日–29日"
    assert insights.week_label(dt.date(2026, 11, 30)) == "11月30日–12月6日"
    weeks = insights.local_weeks(dt.datetime(2026, 11, 25, 4, 0), 2)    # Wednesday 12:00 Beijing
    assert [w[0] for w in weeks] == ["11月16日–22日", "11月23日–29日"]


def test_communities_side_by_side(store, corpus, scene):
    window = insights.Window(30, NOW)
    rows = {r["id"]: r for r in insights.compare(store, corpus.communities.values(), window=window)["rows"]}
    a, b = rows[scene["a"].id], rows[scene["b"].id]
    assert a["volume"] == 3 and a["per_100"] == round(3 / scene["a"].households * 100, 2)
    # overdue: open and past a deadline now, whenever it came in
    assert a["overdue"] == 2 and sorted(a["overdue_ids"]) == sorted([scene["never"], scene["old"]])
    assert b["volume"] == 2 and b["overdue"] == 0
    assert b["csi"]["service"] == {"csi": None, "n": 1}          # below csi_min_ratings: no figure
    assert a["first_response_h"] is not None and a["result_h"] is not None
    assert list(rows)[0] == scene["a"].id                          # the one needing attention first


def test_promises_count_closed_and_open_entries(store, corpus, scene):
    tiers = {t["id"]: t for t in insights.promises(store, window=insights.Window(30, NOW))["tiers"]}
    response = tiers[corpus.feedback.types["complaint"].response.id]
    result = tiers[corpus.feedback.types["complaint"].result.id]
    assert sorted(response["met"]) == [scene["on_time"]]
    assert sorted(response["late"]) == sorted([scene["late"], scene["never"]])    # closed late stays visible
    assert response["share"] == round(1 / 3 * 100, 1)
    assert sorted(result["late"]) == sorted([scene["late"], scene["never"]]) and result["met"] == [scene["on_time"]]
    assert response["median_h"] is not None and response["p90_h"] >= response["median_h"]
    assert len(response["trend"]) == insights.TREND_WEEKS and any(v is not None for v in response["trend"])


def test_growing_problems_keep_page_feedback_and_uncategorised_apart(store, corpus, scene):
    g = insights.growing(store, window=insights.Window(30, NOW))
    by = {c["id"]: c for c in g["categories"]}
    assert by["noise"]["current"] == 2 and by["noise"]["previous"] == 0
    assert by["parking"]["current"] == 1 and by["parking"]["previous"] == 1 and by["parking"]["change"] == 0
    assert g["categories"][0]["id"] == "noise"
    assert g["uncategorised"]["suggestion"]["current"] == 2
    assert g["page"]["current"] == 1 and "page" not in by
    only_b = insights.growing(store, window=insights.Window(30, NOW), community=scene["b"].id)
    assert only_b["categories"] == []


def test_dashboard_page_answers_with_links(multi_project, database_url, corpus, scene):
    s = settings_for(multi_project, multi_project / "var", KB_DATABASE_URL=database_url,
                     KB_STAFF_TOKENS=f"tester:{STAFF_TOKEN}")
    with TestClient(create_app(s)) as app:
        app.post("/staff/login", data={"token": STAFF_TOKEN})
        html = app.get("/staff/dashboard?days=90").text
        assert 'id="compare-table"' in html and 'id="promises-table"' in html and 'id="growing-table"' in html
        assert html.count("<svg") >= 5 and "http://" not in re.sub(r'xmlns="http://www.w3.org/2000/svg"', "", html)
        assert not re.search(r"\d{4}-W\d\d", html)                    # weeks are dates, not ISO codes
        tier = corpus.feedback.types["complaint"].response.id
        row = re.search(rf'<tr data-tier="{re.escape(tier)}">(.*?)</tr>', html, re.S).group(1)
        late_link = re.search(r'class="kb-overdue" href="/staff/entries/\?ids=([0-9,]+)">3</a>', row)
        assert late_link, row
        assert sorted(map(int, late_link.group(1).split(","))) == sorted([scene["late"], scene["never"], scene["old"]])
        behind = app.get(f"/staff/entries/?ids={late_link.group(1)}").text
        assert "共 3 条" in behind
        one = app.get(f"/staff/dashboard?days=30&community={scene['b'].id}")
        assert one.status_code == 200 and 'id="growing-table"' not in one.text
        assert app.get("/staff/dashboard?community=atlantis").status_code == 400

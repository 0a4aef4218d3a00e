"""Several communities through the real app, on SQLite and PostgreSQL: GET /api/communities, the
`community` of feedback and staff intake (required, unknown ids listed), the community= filter of
the staff list, CSV and stats, and old entries adopted by the default community."""

from __future__ import annotations

import csv
import io
import re

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from kb_service import db
from kb_service.content.load import load_corpus
from kb_service.times import utcnow
from kb_service.staff import accounts
from kb_service.web.app import create_app

from conftest import STAFF, STAFF_TOKEN, copy_project, settings_for

COMPLAINT = {"type": "complaint", "content": "车库的灯坏了一周", "category": "parking"}


@pytest.fixture(scope="module")
def corpus(multi_project):
    return load_corpus(multi_project / "snippets")[0]


@pytest.fixture
def app(multi_app):
    return multi_app


def ids(corpus):
    return list(corpus.communities)


def post(client, body):
    return client.post("/api/feedback", json=body)


def log(client, query=""):
    return client.get(f"/api/improvement-log?limit=1000&{query}", headers=STAFF)


# -- the list -------------------------------------------------------------------------------------

def test_communities_endpoint_lists_id_name_and_landing_page(app, corpus, multi_project):
    body = app.get("/api/communities").json()
    assert [c["id"] for c in body["communities"]] == ids(corpus)
    for c in body["communities"]:
        assert c["name"] == corpus.communities[c["id"]].name
        page = app.get(c["url"])
        assert page.status_code == 200 and c["name"] in page.text and "KB-COMMUNITY" not in page.text
        assert 'class="md-header' in page.text                     # the site's theme around it
        assert app.get(c["url"] + "fees/").status_code == 200
    assert app.get("/communities/atlantis/").status_code == 404
    assert app.get("/communities/_shell/").status_code == 404


def test_an_edited_community_is_served_without_a_build(multi_project, tmp_path, database_url):
    """The service reloads snippets/communities/ when a file changes (web/services.CommunityWatcher);
    a broken edit keeps the last good version. The built site and index are borrowed: no build."""
    project = copy_project(tmp_path / "edit")
    (project / "site").symlink_to(multi_project / "site", target_is_directory=True)
    s = settings_for(project, multi_project / "var", KB_DATABASE_URL=database_url)
    c = load_corpus(project / "snippets")[0].default_community
    path = project / "snippets" / "communities" / f"{c.id}.yaml"
    price = c.fees["items"][0]["unit_price"]
    with TestClient(create_app(s)) as app:
        watcher = app.app.state.services.watcher
        assert price in app.get(c.url + "fees/").text
        path.write_text(path.read_text(encoding="utf-8").replace(f'unit_price: "{price}"', 'unit_price: "9.99"', 1),
                        encoding="utf-8")
        before = app.get(c.url + "fees/")
        assert watcher.refresh() is True
        after = app.get(c.url + "fees/", headers={"If-None-Match": before.headers["etag"]})
        assert after.status_code == 200 and "9.99" in after.text     # the edit is a new version
        assert after.headers["etag"] != before.headers["etag"]
        path.write_text(path.read_text(encoding="utf-8").replace("households:", "households: lots\nx:", 1),
                        encoding="utf-8")
        assert watcher.refresh() is False and watcher.problems
        assert "9.99" in app.get(c.url + "fees/").text            # the last good version stays


def test_community_pages_revalidate_with_an_etag_and_come_compressed(app, corpus):
    """A revisit is a 304 (no rendering, no body); a phone that accepts gzip gets the page
    compressed once per version; every community has its own ETag, canonical URL and description."""
    tags = set()
    for cid, c in corpus.communities.items():
        for page in ("", "fees/", "revenue/", "feedback/"):
            url = f"/communities/{cid}/{page}"
            first = app.get(url, headers={"Accept-Encoding": "gzip"})
            assert first.status_code == 200 and first.headers["content-encoding"] == "gzip"
            assert "Accept-Encoding" in first.headers["vary"]
            assert first.headers["cache-control"] == "no-cache"
            tag = first.headers["etag"]
            tags.add(tag)
            again = app.get(url, headers={"If-None-Match": tag, "Accept-Encoding": "gzip"})
            assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag
            plain = app.get(url, headers={"Accept-Encoding": "identity"})
            assert "content-encoding" not in plain.headers and plain.text == first.text
            assert f'<link rel="canonical" href="http://127.0.0.1:8000/communities/{cid}/{page}">' in plain.text
            assert "_shell" not in plain.text
            [desc] = re.findall(r'<meta name="description" content="([^"]*)">', plain.text)
            assert c.name in desc
    assert len(tags) == 4 * len(corpus.communities)          # one per community and page
    assert app.get("/communities/atlantis/", headers={"If-None-Match": next(iter(tags))}).status_code == 404
    assert app.get("/communities/", headers={"Accept-Encoding": "gzip"}).headers["content-encoding"] == "gzip"


def test_community_pages_link_their_own_numbers(app, corpus):
    """The service centre's number is a tel: link on every page of its community, and the
    community index links every centre's number."""
    for cid, c in corpus.communities.items():
        digits = re.sub(r"[^0-9+]", "", c.hotline)
        for page in ("", "fees/"):
            html = app.get(f"/communities/{cid}/{page}").text
            assert f'<a href="tel:{digits}">{c.hotline}</a>' in html, (cid, page)
            others = [o for o in corpus.communities.values() if o.id != cid and o.hotline != c.hotline]
            assert not any(o.hotline in html for o in others)
    index = app.get("/communities/").text
    for c in corpus.communities.values():
        assert f'href="tel:{re.sub(r"[^0-9+]", "", c.hotline)}"' in index


# -- feedback carries the community ---------------------------------------------------------------

def test_community_is_required_and_unknown_ids_list_the_valid_ones(app, corpus):
    missing = post(app, COMPLAINT)
    assert missing.status_code == 422
    [err] = [e for e in missing.json()["errors"] if e["field"] == "community"]
    # residents read the message (names, no ids); API callers get the ids as choices
    assert all(c.name in err["message"] and cid not in err["message"] for cid, c in corpus.communities.items())
    assert err["choices"] == ids(corpus)
    # the same without JavaScript (a form post gets the HTML result page): field names in Chinese
    page = app.post("/api/feedback", data={"type": "suggestion", "content": "多装几个充电桩"},
                    headers={"Accept": "text/html"})
    text = re.sub(r"<[^>]+>", "", page.text)
    assert page.status_code == 422 and "小区" in text and "community" not in text
    assert not any(cid in text for cid in ids(corpus))
    unknown = post(app, {**COMPLAINT, "community": "atlantis"})
    assert unknown.status_code == 422 and all(cid in unknown.text for cid in ids(corpus))
    both = post(app, {"type": "complaint", "community": "atlantis"})   # every problem in one answer
    assert {e["field"] for e in both.json()["errors"]} == {"community", "content"}
    for cid in ids(corpus):
        r = post(app, {**COMPLAINT, "community": cid})
        assert r.status_code == 201, r.text
        assert app.get(f"/api/improvement-log/{r.json()['id']}", headers=STAFF).json()["community"] == cid


def test_form_post_carries_the_community(app, corpus):
    cid = ids(corpus)[-1]
    r = app.post("/api/feedback", data={"type": "suggestion", "content": "多装几个充电桩", "community": cid})
    assert r.status_code == 201
    assert app.get(f"/api/improvement-log/{r.json()['id']}", headers=STAFF).json()["community"] == cid


def test_page_feedback_needs_no_community(app):
    r = post(app, {"type": "page", "page": "/residents/fees/", "helpful": True})
    assert r.status_code == 201, r.text


def test_staff_intake_picks_the_community(app, corpus):
    cid = ids(corpus)[0]
    assert app.post("/api/improvement-log", json=COMPLAINT, headers=STAFF).status_code == 422
    r = app.post("/api/improvement-log", json={**COMPLAINT, "community": cid}, headers=STAFF)
    assert r.status_code == 201 and r.json()["community"] == cid


def test_staff_filters_by_community(app, corpus):
    a, b = ids(corpus)[:2]
    for cid, n in ((a, 2), (b, 1)):
        for _ in range(n):
            assert post(app, {**COMPLAINT, "community": cid}).status_code == 201
    assert log(app).json()["total"] == 3
    only_a = log(app, f"community={a}").json()
    assert only_a["total"] == 2 and {e["community"] for e in only_a["entries"]} == {a}
    bad = log(app, "community=atlantis")
    assert bad.status_code == 400 and all(cid in bad.json()["error"] for cid in ids(corpus))
    text = app.get(f"/api/improvement-log/export.csv?community={b}", headers=STAFF).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    column = rows[0].index("小区")
    assert len(rows) == 2 and rows[1][column] == corpus.communities[b].label     # the name staff know
    stats = app.get(f"/api/improvement-log/stats?community={a}", headers=STAFF).json()
    assert stats["total"] == 2 and stats["community"] == a
    assert app.get("/api/improvement-log/stats", headers=STAFF).json()["total"] == 3


def test_staff_pages_offer_the_community(app, corpus):
    r = app.post("/staff/login", data={"token": STAFF_TOKEN}, follow_redirects=False)
    assert r.status_code == 303
    intake = app.get("/staff/intake").text
    assert 'name="community" required' in intake
    csrf = re.search(r'name="csrf" value="([^"]+)"', intake).group(1)
    cid = ids(corpus)[-1]
    made = app.post("/staff/intake", data={"csrf": csrf, "type": "complaint", "content": "门禁坏了",
                                           "community": cid}, follow_redirects=False)
    assert made.status_code == 303, made.text
    listing = app.get(f"/staff/entries/?community={cid}").text
    assert "共 1 条" in listing and corpus.communities[cid].label in listing
    refused = app.post("/staff/intake", data={"csrf": csrf, "type": "complaint", "content": "门禁坏了"})
    assert refused.status_code == 422 and "小区" in refused.text


# -- migration ----------------------------------------------------------------------------------------

@pytest.mark.fresh_schema
def test_old_entries_join_the_default_community(multi_project, database_url, corpus):
    engine = db.connect(database_url)
    now = utcnow()
    with engine.begin() as conn:
        for kind in ("complaint", "page"):
            conn.execute(db.entries.insert().values(reference=f"FBOLD-{kind}", type=kind, source="resident",
                                                    content="旧记录", status="received", created_at=now,
                                                    consent=False, page="/x/" if kind == "page" else None))
    engine.dispose()
    s = settings_for(multi_project, multi_project / "var", KB_DATABASE_URL=database_url,
                     KB_STAFF_TOKENS=f"tester:{STAFF_TOKEN}")
    with TestClient(create_app(s)):
        pass
    engine = db.connect(database_url)
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.select(db.entries.c.type, db.entries.c.community)).all())
    engine.dispose()
    assert rows == {"complaint": corpus.default_community.id, "page": None}


# -- template filling knows the community -------------------------------------------------------------

def _water(app, corpus, community=None):
    tid = "notice.water-outage"
    query = f"?community={community.id}" if community else ""
    detail = app.get(f"/api/templates/{tid}{query}").json()
    fields = {f["name"]: f.get("example", "") for f in detail["fields"] if not f["computed"]}
    area = next(f for f in detail["fields"] if f["type"] == "building")
    fields[area["name"]] = area["choices"][0]
    return tid, detail, area, fields


def test_template_fields_and_render_follow_the_community(app, corpus):
    for c in corpus.communities.values():
        tid, detail, area, fields = _water(app, corpus, c)
        assert set(area["choices"]) == {b.name + u for b in c.buildings for u in ("",) + b.units}
        r = app.post(f"/api/templates/{tid}/render", json={"channel": "sms", "fields": fields, "community": c.id})
        assert r.status_code == 200, r.text
        assert c.hotline in r.json()["text"] and r.json()["community"] == c.id
    other = next(c for c in corpus.communities.values() if c.id != corpus.default_community.id)
    tid, _, area, fields = _water(app, corpus, other)
    missing = next(b.name for b in other.buildings if b.name not in {x.name for x in corpus.default_community.buildings})
    fields[area["name"]] = missing
    wrong = app.post(f"/api/templates/{tid}/render", json={"channel": "sms", "fields": fields})
    assert wrong.status_code == 422 and corpus.default_community.name in wrong.text


def test_unknown_community_in_filling_lists_the_valid_ones(app, corpus):
    tid, _, _, fields = _water(app, corpus)
    r = app.post(f"/api/templates/{tid}/render", json={"channel": "sms", "fields": fields, "community": "atlantis"})
    assert r.status_code == 422 and all(cid in r.text for cid in ids(corpus))
    assert app.get(f"/api/templates/{tid}?community=atlantis").status_code == 400
    unscoped = app.post(f"/api/templates/{tid}/render", json={"channel": "sms", "fields": fields})
    assert any("没有选择小区" in w for w in unscoped.json()["warnings"])


# -- accounts tied to one community (kb staff add NAME --role ROLE --community ID) -----------------------

def test_a_community_account_sees_and_changes_only_its_own_community(app, corpus):
    mine, other = ids(corpus)[:2]
    engine = app.app.state.services.store.engine
    agent = {"authorization": "Bearer " + accounts.add(engine, "小区客服", "agent", community=mine)}
    boss = {"authorization": "Bearer " + accounts.add(engine, "小区主管", "supervisor", community=mine)}
    own = post(app, {"type": "complaint", "content": "本小区的投诉", "community": mine}).json()
    foreign = post(app, {"type": "complaint", "content": "别的小区的投诉", "community": other}).json()

    listed = app.get("/api/improvement-log?limit=1000", headers=agent).json()["entries"]
    assert {e["community"] for e in listed} == {mine} and own["id"] in {e["id"] for e in listed}
    refused = app.get(f"/api/improvement-log?community={other}", headers=agent)
    assert refused.status_code == 403 and mine in refused.json()["error"]
    # another community's entry is simply not there (nothing about it is revealed)
    assert app.get(f"/api/improvement-log/{foreign['id']}", headers=agent).status_code == 404
    assert app.patch(f"/api/improvement-log/{foreign['id']}", json={"status": "triaged"}, headers=agent).status_code == 404
    assert app.patch(f"/api/improvement-log/{own['id']}", json={"status": "triaged"}, headers=agent).status_code == 200
    assert log(app).json()["total"] >= 2  # company-wide staff still see everything

    intake = {"type": "complaint", "content": "电话登记", "community": other}
    assert app.post("/api/improvement-log", json=intake, headers=agent).status_code == 403
    assert app.post("/api/improvement-log", json={**intake, "community": mine}, headers=agent).status_code == 201
    assert app.get(f"/api/improvement-log/stats?community={other}", headers=boss).status_code == 403
    assert app.get("/api/improvement-log/stats", headers=boss).status_code == 200

    notice = {"title": "停水通知", "body": "12月3日 9:00-11:00 停水。"}
    assert app.post("/api/notices", json=notice, headers=boss).status_code == 403                 # company-wide
    assert app.post("/api/notices", json={**notice, "community": other}, headers=boss).status_code == 403
    theirs = app.post("/api/notices", json={**notice, "community": other}, headers=STAFF).json()["id"]
    assert app.delete(f"/api/notices/{theirs}", headers=boss).status_code == 403
    made = app.post("/api/notices", json={**notice, "community": mine}, headers=boss)
    assert made.status_code == 201
    assert app.delete(f"/api/notices/{made.json()['id']}", headers=boss).status_code == 200

    # the staff notice board is the one the community's residents see, and offers only its community
    app.post("/api/notices", json={"title": "全公司停电演练", "body": "全公司公告。"}, headers=STAFF)
    app.post("/api/notices", json={"title": "别的小区清洗水箱", "body": "别的小区。", "community": other}, headers=STAFF)
    board_page = app.get("/staff/notices/", headers=boss)
    assert board_page.status_code == 200
    assert "全公司停电演练" in board_page.text and "别的小区清洗水箱" not in board_page.text
    assert f'value="{mine}"' in board_page.text and f'value="{other}"' not in board_page.text
    assert "全部小区" not in board_page.text
    company_board = app.get("/staff/notices/", headers=STAFF).text
    assert "别的小区清洗水箱" in company_board and "全部小区" in company_board

    # the staff pages apply the same rule
    assert app.get(f"/staff/entries/{foreign['id']}", headers=agent).status_code == 404
    page = app.get("/staff/entries/", headers=agent)
    assert page.status_code == 200 and "别的小区的投诉" not in page.text and "本小区的投诉" in page.text


def _options(html: str, name: str) -> list[str]:
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no <select name={name}>"
    return re.findall(r'<option value="([^"]*)"', select.group(1))


def test_a_community_account_is_offered_only_its_community(app, corpus):
    mine, other = ids(corpus)[:2]
    engine = app.app.state.services.store.engine
    boss = {"authorization": "Bearer " + accounts.add(engine, "小区主管", "supervisor", community=mine)}
    post(app, {"type": "complaint", "content": "别的小区的投诉", "community": other})

    assert _options(app.get("/staff/entries/", headers=boss).text, "community") == [mine]
    intake = app.get("/staff/intake", headers=boss).text
    assert _options(intake, "community") == [mine] and f'<option value="{mine}" selected' in intake
    dashboard = app.get("/staff/dashboard", headers=boss).text
    assert _options(dashboard, "community") == [mine]
    # the comparison of communities is company-wide: not on a community's dashboard
    assert 'id="compare"' not in dashboard and corpus.communities[other].label not in dashboard

    company = {"authorization": f"Bearer {STAFF_TOKEN}"}
    assert _options(app.get("/staff/entries/", headers=company).text, "community") == ["", *ids(corpus)]
    assert _options(app.get("/staff/intake", headers=company).text, "community") == ["", *ids(corpus)]
    company_dashboard = app.get("/staff/dashboard", headers=company).text
    assert 'id="compare"' in company_dashboard and corpus.communities[other].label in company_dashboard


def test_entries_are_assigned_to_accounts_of_their_community(app, corpus):
    """Owners are the accounts that handle entries (not only KB_STAFF_TOKENS names): for an entry,
    those of its community and the company-wide ones; an editor handles no entries."""
    mine, other = ids(corpus)[:2]
    engine = app.app.state.services.store.engine
    accounts.add(engine, "王芳", "agent", community=mine)
    accounts.add(engine, "赵强", "agent", community=other)
    accounts.add(engine, "周敏", "supervisor")
    accounts.add(engine, "编辑小陈", "editor")
    gone = "离职员工"
    accounts.add(engine, gone, "agent")
    accounts.disable(engine, gone)
    entry = post(app, {"type": "complaint", "content": "楼道灯不亮", "community": mine}).json()

    assert app.post("/staff/login", data={"token": STAFF_TOKEN}, follow_redirects=False).status_code == 303
    detail = app.get(f"/staff/entries/{entry['id']}").text
    assert set(_options(detail, "owner")) == {"tester", "王芳", "周敏"}
    csrf = re.search(r'name="csrf" value="([^"]+)"', detail).group(1)

    def assign(owner):
        return app.post(f"/staff/entries/{entry['id']}", data={"csrf": csrf, "op": "owner", "owner": owner},
                        follow_redirects=False)

    assert assign("赵强").status_code == 422 and "王芳" in assign("赵强").text
    assert assign(gone).status_code == 422
    assert assign("王芳").status_code == 303
    assert app.get(f"/api/improvement-log/{entry['id']}", headers=STAFF).json()["owner"] == "王芳"


def test_another_communitys_notice_staff_page_is_not_there_for_a_community_account(app, corpus):
    """Issue 29: a binjiang-bound account opened a yangguang notice's staff page (publisher names,
    history, edit form): 404, as for entries."""
    mine, other = ids(corpus)[:2]
    engine = app.app.state.services.store.engine
    boss = {"authorization": "Bearer " + accounts.add(engine, "小区主管", "supervisor", community=mine)}
    theirs = app.post("/api/notices", json={"title": "停水通知", "body": "明天上午停水。", "community": other}, headers=STAFF)
    ours = app.post("/api/notices", json={"title": "停电通知", "body": "明天上午停电。", "community": mine}, headers=STAFF)
    assert theirs.status_code == ours.status_code == 201, theirs.text
    assert app.get(f"/staff/notices/{theirs.json()['id']}", headers=boss).status_code == 404
    assert app.post(f"/staff/notices/{theirs.json()['id']}", data={"op": "withdraw"}, headers=boss).status_code == 404
    assert app.get(f"/staff/notices/{ours.json()['id']}", headers=boss).status_code == 200

"""The 小区公告 board: staff API, public pages from the database, corrections, withdrawal, refusal of
personal numbers; on SQLite and PostgreSQL, and across two `kb serve` nodes sharing PostgreSQL."""

from __future__ import annotations

import time

import httpx
import pytest

from conftest import STAFF, STAFF_TOKEN, Server, postgres_schema, with_index

XSS = "<script>alert(1)</script>"


def notice(**over):
    return {"title": "3栋停水通知", "body": "因管道维修，12月3日 9:00-12:00 3栋停水，请提前储水。", **over}


def publish(client, **over):
    r = client.post("/api/notices", json=notice(**over), headers=STAFF)
    assert r.status_code == 201, r.text
    return r.json()


def test_publish_needs_staff(db_client):
    assert db_client.post("/api/notices", json=notice()).status_code == 401
    assert db_client.delete("/api/notices/1").status_code == 401


def test_publish_shows_on_the_board_and_its_own_page(db_client):
    hotline = db_client.app.state.services.corpus.site.hotline
    made = publish(db_client, body=f"有疑问请拨打 {hotline}。{XSS}", valid_until="2099-01-01")
    assert made["url"] == f"/notices/{made['id']}/"
    board = db_client.get("/notices/")
    assert board.status_code == 200 and "3栋停水通知" in board.text
    one = db_client.get(made["url"])
    assert one.status_code == 200 and XSS not in one.text and "&lt;script&gt;" in one.text
    assert f'tel:{"".join(c for c in hotline if c.isdigit())}' in one.text
    assert db_client.get(made["url"] + "print").status_code == 200
    assert db_client.get("/api/notices").json()["current"][0]["id"] == made["id"]


def test_current_first_expired_in_archive_newest_first(db_client):
    old = publish(db_client, title="旧通知", valid_from="2020-01-01", valid_until="2020-01-02")
    a = publish(db_client, title="较早", valid_from="2026-01-01 08:00")
    b = publish(db_client, title="较新", valid_from="2026-02-01 08:00")
    data = db_client.get("/api/notices").json()
    assert [n["id"] for n in data["current"]][:2] == [b["id"], a["id"]]
    assert [n["id"] for n in data["archive"]] == [old["id"]]
    html = db_client.get("/notices/").text
    assert html.index("较新") < html.index("较早") < html.index("旧通知")


def test_correction_keeps_history_and_withdraw_hides_text(db_client):
    made = publish(db_client)
    r = db_client.patch(f"/api/notices/{made['id']}", json={"body": "改为 10:00-13:00 停水。", "reason": "时间调整"},
                        headers=STAFF)
    assert r.status_code == 200, r.text
    assert r.json()["corrections"][0]["reason"] == "时间调整"
    page = db_client.get(made["url"]).text
    assert "改为 10:00-13:00" in page and "更正：时间调整" in page and "已于" in page
    assert db_client.delete(f"/api/notices/{made['id']}", headers=STAFF).status_code == 200
    page = db_client.get(made["url"])
    assert page.status_code == 200 and "已撤回" in page.text and "10:00-13:00" not in page.text
    assert db_client.get("/api/notices").json()["current"] == []
    # withdrawn notices stay in the archive, without their text
    [gone] = db_client.get("/api/notices").json()["archive"]
    assert gone["id"] == made["id"] and gone["state"] == "withdrawn" and gone["body"] is None
    assert db_client.patch(f"/api/notices/{made['id']}", json={"body": "x"}, headers=STAFF).status_code == 409


def test_withdrawal_reason_is_shown_and_the_notice_stays_in_the_archive(db_client):
    made = publish(db_client, valid_until="2099-01-01")
    r = db_client.request("DELETE", f"/api/notices/{made['id']}", headers=STAFF, json={"reason": "停水取消，今天正常供水"})
    assert r.status_code == 200, r.text
    page = db_client.get(made["url"]).text
    assert "撤回原因：停水取消，今天正常供水" in page and "9:00-12:00" not in page
    assert "撤回原因：停水取消" in db_client.get(made["url"] + "print").text
    got = db_client.get(f"/api/notices/{made['id']}").json()
    assert got["withdraw_reason"] == "停水取消，今天正常供水" and got["corrections"] == []
    board = db_client.get("/api/notices").json()
    assert [n["id"] for n in board["current"]] == []
    [gone] = board["archive"]
    assert gone["withdraw_reason"] == "停水取消，今天正常供水" and gone["community_name"]
    html = db_client.get("/notices/").text
    assert "以往公告" in html and "停水取消，今天正常供水" in html and "3栋停水通知" in html
    too_long = publish(db_client)
    r = db_client.request("DELETE", f"/api/notices/{too_long['id']}", headers=STAFF, json={"reason": "长" * 201})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    r = db_client.request("DELETE", f"/api/notices/{too_long['id']}", headers=STAFF, json={"reason": 5})
    assert r.status_code == 422


def test_every_list_names_the_community(db_client):
    corpus = db_client.app.state.services.corpus
    c = corpus.default_community
    publish(db_client, title="本小区停电", community=c.id)
    publish(db_client, title="全公司通知")
    items = {n["title"]: n for n in db_client.get("/api/notices").json()["current"]}
    assert items["本小区停电"]["community_name"] == c.name and items["全公司通知"]["community_name"] == "全部小区"
    html = db_client.get("/notices/").text
    assert f'<span class="kb-notice-community">{c.name}</span> · <a' in html
    assert '<span class="kb-notice-community">全部小区</span> · <a' in html
    assert '<meta name="description" content="' in html
    one = db_client.get(f"/notices/?community={c.id}").text
    # the community's own service centre, as a tel: link
    assert f'<a href="tel:{"".join(ch for ch in c.hotline if ch.isdigit())}">{c.hotline}</a>' in one


def test_current_notices_are_in_the_site_search_index(db_client):
    made = publish(db_client, title="5栋停水通知", body="5栋明天停水检修。", valid_until="2099-01-01")
    old = publish(db_client, title="过期停电通知", valid_from="2020-01-01", valid_until="2020-01-02")
    r = db_client.get("/search/search_index.json", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    docs = r.json()["docs"]
    first = docs[0]
    assert first["location"] == made["url"].lstrip("/") and first["title"].replace("\u200b", "").startswith("小区公告 · ")
    # cut into words like the builder's index: Material matches word prefixes (停水 finds 停水通知)
    assert first["boost"] > 3 and "停水" in first["text"].split("\u200b")
    assert any(w.startswith("停水") for w in first["title"].replace(" ", "\u200b").split("\u200b"))
    assert not any(d["location"] == old["url"].lstrip("/") for d in docs)
    # labelled staff entries are still there, boosted below the residents' pages
    assert any(d["title"].startswith("员工话术 · ") and d.get("boost", 1) < 0.01 for d in docs)
    again = db_client.get("/search/search_index.json", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    db_client.request("DELETE", f"/api/notices/{made['id']}", headers=STAFF, json={"reason": "检修取消"})
    after = db_client.get("/search/search_index.json", headers={"If-None-Match": r.headers["etag"]})
    assert after.status_code == 200 and not any(d["location"] == made["url"].lstrip("/") for d in after.json()["docs"])


def test_the_board_is_rendered_once_and_revalidated(db_client):
    publish(db_client, title="8栋停水通知", valid_until="2099-01-01")
    first = db_client.get("/notices/", headers={"Accept-Encoding": "gzip"})
    assert first.status_code == 200 and first.headers["content-encoding"] == "gzip" and "8栋停水通知" in first.text
    again = db_client.get("/notices/", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    publish(db_client, title="9栋停电通知", valid_until="2099-01-01")     # a change through this worker: at once
    after = db_client.get("/notices/", headers={"If-None-Match": first.headers["etag"]})
    assert after.status_code == 200 and "9栋停电通知" in after.text


def test_personal_numbers_are_refused(db_client):
    for body in ("联系王师傅 13812345678", "联系 138-1234-5678", "身份证 110101199003071234 的业主",
                 "请拨 021-12345678", "请拨 400-123-4567"):
        r = db_client.post("/api/notices", json=notice(body=body), headers=STAFF)
        assert r.status_code == 422, body
        assert "13812345678" not in r.text and "110101199003071234" not in r.text
    r = db_client.post("/api/notices", json=notice(body="电话 6123456 咨询"), headers=STAFF)
    assert r.status_code == 201 and r.json()["warnings"]


def test_bad_input_is_a_clear_4xx(db_client):
    for body in ({"title": "", "body": "x"}, {"title": "t", "body": "x", "valid_until": "明天"},
                 {"title": "t", "body": "x", "valid_from": "2026-02-01", "valid_until": "2026-01-01"},
                 {"title": "t", "body": "x", "community": "nowhere"}, {"title": "t" * 101, "body": "x"},
                 {"title": "t", "body": "x", "extra": 1}):
        r = db_client.post("/api/notices", json=body, headers=STAFF)
        assert r.status_code == 422 and r.json()["errors"], body
    assert db_client.get("/notices/abc/").status_code == 404
    assert db_client.get("/notices/999999/").status_code == 404
    assert db_client.get("/api/notices/999999").status_code == 404
    assert db_client.delete("/api/notices/999999", headers=STAFF).status_code == 404


def test_staff_pages_publish_correct_withdraw(db_client):
    r = db_client.post("/staff/login", data={"token": STAFF_TOKEN, "next": "/staff/notices/"}, follow_redirects=False)
    assert r.status_code == 303
    page = db_client.get("/staff/notices/")
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    r = db_client.post("/staff/notices/", data={"csrf": csrf, "title": "电梯维保", "body": "5栋电梯周三维保。",
                                               "valid_from": "", "valid_until": ""}, follow_redirects=False)
    assert r.status_code == 303, r.text
    detail = db_client.get(r.headers["location"])
    assert "已发布" in detail.text and "/notices/" in detail.text
    nid = r.headers["location"].split("/")[3].split("?")[0]
    r = db_client.post(f"/staff/notices/{nid}", data={"csrf": csrf, "op": "correct", "title": "电梯维保",
                                                     "body": "5栋电梯周四维保。", "valid_until": "", "reason": "改期"},
                       follow_redirects=False)
    assert r.status_code == 303
    r = db_client.post(f"/staff/notices/{nid}", data={"csrf": csrf, "op": "withdraw"}, follow_redirects=False)
    assert r.status_code == 422 and "请写撤回原因" in r.text          # residents are told why
    assert "已撤回" not in db_client.get(f"/notices/{nid}/").text
    r = db_client.post(f"/staff/notices/{nid}", data={"csrf": csrf, "op": "withdraw", "reason": "维保改到下周"},
                       follow_redirects=False)
    assert r.status_code == 303
    assert "撤回原因：维保改到下周" in db_client.get(f"/notices/{nid}/").text
    bad = db_client.post("/staff/notices/", data={"csrf": "wrong", "title": "t", "body": "b"})
    assert bad.status_code == 403


@pytest.mark.postgres
def test_two_nodes_on_one_postgresql_see_the_same_board(built_project, tmp_path):
    nodes = []
    with postgres_schema() as url:
        try:
            for name in ("a", "b"):
                data = with_index(built_project, tmp_path / name)
                nodes.append(Server(built_project, data, env={"KB_DATABASE_URL": url,
                                                              "KB_STAFF_TOKENS": f"tester:{STAFF_TOKEN}"}))
            a, b = (n.wait() for n in nodes)
            r = httpx.post(a.url + "/api/notices", json=notice(title="台风预警"), headers=STAFF, timeout=10)
            assert r.status_code == 201, r.text
            started = time.monotonic()
            while "台风预警" not in httpx.get(b.url + "/notices/", timeout=10).text:
                assert time.monotonic() - started < 5, "node b does not show the notice within 5 s"
                time.sleep(0.05)
            seen_after = time.monotonic() - started
            assert httpx.get(b.url + r.json()["url"], timeout=10).status_code == 200
            assert httpx.delete(b.url + f"/api/notices/{r.json()['id']}", headers=STAFF, timeout=10).status_code == 200
            current = httpx.get(a.url + "/api/notices", timeout=10).json()["current"]
            assert all(n["title"] != "台风预警" for n in current)      # withdrawn: in the archive only
            print(f"visible on the second node after {seen_after * 1000:.0f} ms")
        finally:
            for n in nodes:
                n.stop()

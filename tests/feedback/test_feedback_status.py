"""Progress look-up (POST /api/feedback/status) through the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import sqlalchemy as sa

from conftest import STAFF
from kb_service import db
from kb_service.feedback import status as progress

COMPLAINT = {"type": "complaint", "content": "地库B区灯坏了一周，晚上很黑。电话 13812345678", "category": "repair",
             "location": "地库B区", "contact_name": "王女士", "contact_phone": "138 1234 5678", "consent": True}


def submit(client, **over):
    r = client.post("/api/feedback", json={**COMPLAINT, **over})
    assert r.status_code == 201, r.text
    return r.json()


def status(client, **body):
    return client.post("/api/feedback/status", json=body)


def move(client, entry_id, *steps, **extra):
    for s in steps:
        body = {"status": s, **({"satisfied": True} if s == "followed_up" else {}), **extra}
        r = client.patch(f"/api/improvement-log/{entry_id}", json=body, headers=STAFF)
        assert r.status_code == 200, r.text


def test_access_code_is_shown_once_and_stored_hashed(db_client, app_settings):
    body = submit(db_client)
    code = body["access_code"]
    assert re.fullmatch(r"[23456789A-HJ-NP-Z]{4}-[23456789A-HJ-NP-Z]{4}-[23456789A-HJ-NP-Z]{4}", code)
    engine = sa.create_engine(app_settings.database_url)
    with engine.connect() as conn:
        stored = conn.scalar(sa.select(db.entries.c.access_hash).where(db.entries.c.id == body["id"]))
    engine.dispose()
    assert stored.startswith("scrypt$") and code not in stored and code.replace("-", "") not in stored
    # the staff views never show it either
    assert code not in db_client.get(f"/api/improvement-log/{body['id']}", headers=STAFF).text


def test_public_timeline_only(db_client):
    body = submit(db_client)
    r = status(db_client, reference=body["reference"], access_code=body["access_code"].lower().replace("-", " "))
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["reference"] == body["reference"] and s["status"] == "received"
    assert s["respond_by"] == body["respond_by"] and s["resolve_by"] == body["resolve_by"]
    assert [t["status"] for t in s["timeline"]] == ["received"]
    db_client.patch(f"/api/improvement-log/{body['id']}", json={"owner": "李师傅", "note": "内部：业主脾气急"}, headers=STAFF)
    move(db_client, body["id"], "triaged", "in_progress", note="内部备注：找电工老张")
    db_client.patch(f"/api/improvement-log/{body['id']}", json={"publish": "地库灯具已全部更换。"}, headers=STAFF)
    # issue 28: the resident's reply is a field of its own, not the public summary of 你说我改
    assert status(db_client, reference=body["reference"], access_code=body["access_code"]).json()["reply"] is None
    db_client.patch(f"/api/improvement-log/{body['id']}", json={"reply": "地库B区灯已全部更换。"}, headers=STAFF)
    s = status(db_client, reference=body["reference"], access_code=body["access_code"]).json()
    text = str(s)
    for secret in ("李师傅", "业主脾气急", "老张", "王女士", "1381234", "5678", "地库B区灯坏了", "tester"):
        assert secret not in text, secret
    assert s["reply"] == "地库B区灯已全部更换。" and s["status"] == "in_progress"
    assert [t["status"] for t in s["timeline"]] == ["received", "triaged", "in_progress", None]
    assert "维修" in s["team"]
    assert s["explanation"] and all(t["help"] for t in s["timeline"] if t["status"])


def test_phone_last4_only_with_consent(db_client):
    with_phone = submit(db_client)
    assert status(db_client, reference=with_phone["reference"], phone_last4="5678").status_code == 200
    without = submit(db_client, consent=False)
    r = status(db_client, reference=without["reference"], phone_last4="5678")
    assert r.status_code == 404


def test_wrong_pair_answers_like_unknown_reference(db_client):
    body = submit(db_client)
    wrong = status(db_client, reference=body["reference"], access_code="2222-2222")
    unknown = status(db_client, reference="FB20200101-AAAAA", access_code=body["access_code"])
    malformed = status(db_client, reference="nonsense", access_code="x")
    wrong_phone = status(db_client, reference=body["reference"], phone_last4="0000")
    answers = {(r.status_code, r.text) for r in (wrong, unknown, malformed, wrong_phone)}
    assert len(answers) == 1 and wrong.status_code == 404, answers


def test_missing_fields_are_a_clear_422(db_client):
    r = status(db_client, reference="FB20261201-ABCDE")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "access_code"
    assert db_client.post("/api/feedback/status", content=b"[1]",
                          headers={"content-type": "application/json"}).status_code == 400


def test_guessing_is_throttled_per_reference_without_locking_out_the_owner(db_client):
    """Issue 29: wrong codes from one network stop that network for this reference (about an
    hour, not a day); the owner on another network still gets in with the right code."""
    body = submit(db_client)
    svc = db_client.app.state.services
    limits = progress.LIMITS
    ref, code = body["reference"], body["access_code"]
    look = lambda address, **q: progress.look_up(svc.store, progress.parse_query({"reference": ref, **q}), address,
                                                  clock=svc.limits.clock)
    for i in range(limits.per_network):
        try:
            look("203.0.113.7", access_code="2222-2222-2222")
        except progress.NotFound as exc:
            assert exc.tries_left == limits.per_network - i - 1
    try:
        look("203.0.113.7", access_code=code)
        raise AssertionError("the guessing network should be stopped")
    except progress.TooManyAttempts as exc:
        assert 0 < exc.extra["retry_after"] <= 2 * limits.hour and "24" not in exc.message
    # the owner, elsewhere: the right code passes
    assert look("198.51.100.20", access_code=code)["reference"] == ref
    # IPv6: one /64 is one network
    for _ in range(limits.per_network):
        try:
            look(f"2001:db8:1:2::{_ + 1}", access_code="2222-2222-2222")
        except progress.NotFound:
            pass
    try:
        look("2001:db8:1:2::ffff", access_code=code)
        raise AssertionError("the same /64 should be stopped")
    except progress.TooManyAttempts:
        pass
    assert look("2001:db8:1:3::1", access_code=code)["reference"] == ref


def test_no_block_for_a_whole_address_across_references(db_client):
    """Issue 29: a carrier NAT is one address for many households: 40 wrong look-ups for other
    references from it do not stop a household behind it from checking its own."""
    svc = db_client.app.state.services
    body = submit(db_client)
    for i in range(40):
        try:
            progress.look_up(svc.store, progress.parse_query(
                {"reference": f"FB20200101-AAA{'23456789'[i % 8]}{'ABCDE'[i % 5]}", "access_code": "2222-2222-2222"}),
                "100.64.0.1", clock=svc.limits.clock)
        except (progress.NotFound, progress.TooManyAttempts):
            pass
    found = progress.look_up(svc.store, progress.parse_query(
        {"reference": body["reference"], "access_code": body["access_code"]}), "100.64.0.1", clock=svc.limits.clock)
    assert found["reference"] == body["reference"]


def test_many_networks_together_stop_the_reference_for_at_most_hours(db_client):
    svc = db_client.app.state.services
    body = submit(db_client)
    limits = progress.LIMITS
    query = progress.parse_query({"reference": body["reference"], "access_code": "2222-2222-2222"})
    for i in range(limits.per_reference):
        try:
            progress.look_up(svc.store, query, f"198.18.{i // limits.per_network}.1", clock=svc.limits.clock)
        except progress.NotFound:
            pass
    right = progress.parse_query({"reference": body["reference"], "access_code": body["access_code"]})
    try:
        progress.look_up(svc.store, right, "192.0.2.99", clock=svc.limits.clock)
        raise AssertionError("the reference should be paused")
    except progress.TooManyAttempts as exc:
        assert 0 < exc.extra["retry_after"] <= 2 * limits.hour
    # an hour and a half later the weighted count has fallen under the limit: the owner gets in
    later = lambda: svc.limits.clock() + 1.5 * limits.hour
    assert progress.look_up(svc.store, right, "192.0.2.99", clock=later)["reference"] == body["reference"]


def test_phone_guesses_stop_the_phone_method_only(db_client):
    body = submit(db_client)
    limits = progress.LIMITS
    for _ in range(limits.phone_per_reference):
        assert status(db_client, reference=body["reference"], phone_last4="0000").status_code == 404
    r = status(db_client, reference=body["reference"], phone_last4="5678")
    assert r.status_code == 429 and 0 < int(r.headers["retry-after"]) <= limits.week
    assert "查询码" in r.json()["error"]
    assert status(db_client, reference=body["reference"], access_code=body["access_code"]).status_code == 200


def test_wrong_answer_is_the_same_for_an_unknown_reference_on_the_page_too(db_client):
    body = submit(db_client)
    html = {"accept": "text/html"}
    wrong = db_client.post("/api/feedback/status", data={"reference": body["reference"], "access_code": "2222-2222-2222"},
                           headers=html)
    unknown = db_client.post("/api/feedback/status", data={"reference": "FB20200101-AAAAA", "access_code": "2222-2222-2222"},
                             headers=html)
    assert wrong.status_code == unknown.status_code == 200
    assert wrong.text.replace(body["reference"], "FB20200101-AAAAA") == unknown.text
    left = f"还可以再试 {progress.LIMITS.per_network - 1} 次"
    assert left in wrong.text and left in unknown.text


def _concurrently(n, fn):
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(lambda i: fn(i), range(n)))


def test_concurrent_wrong_codes_are_checked_at_most_the_limit(db_client):
    """Issue 29: 60 wrong codes at once for one reference were checked 19 times against a limit
    of 10: the count and the check are one database step now."""
    svc = db_client.app.state.services
    body = submit(db_client)
    query = progress.parse_query({"reference": body["reference"], "access_code": "2222-2222-2222"})

    def one(_):
        try:
            progress.look_up(svc.store, query, "203.0.113.9", clock=svc.limits.clock)
        except progress.NotFound:
            return "checked"
        except progress.TooManyAttempts:
            return "refused"
    outcomes = _concurrently(60, one)
    assert outcomes.count("checked") == progress.LIMITS.per_network, outcomes


def test_concurrent_bad_bearer_tokens_are_checked_at_most_the_limit(db_client):
    from kb_service.web import access

    svc = db_client.app.state.services

    def one(i):
        try:
            access.bearer_user(svc, f"wrong-token-{i}", "203.0.113.10")
        except access.AuthFailed as exc:
            return exc.status_code
    outcomes = _concurrently(100, one)
    assert outcomes.count(401) == access.BEARER_FAILURES, outcomes
    # a right token (another network) still works: the limit is per network
    assert access.bearer_user(svc, "test-staff-token-0001", "203.0.113.11").name == "tester"


def test_not_satisfied_after_resolved_reopens_through_the_lifecycle(db_client):
    body = submit(db_client)
    pair = {"reference": body["reference"], "access_code": body["access_code"]}
    early = status(db_client, **pair, action="not_satisfied")
    assert early.status_code == 409
    move(db_client, body["id"], "triaged", "in_progress", "resolved")
    s = status(db_client, **pair).json()
    assert s["can_say_not_satisfied"] is True
    r = status(db_client, **pair, action="not_satisfied", comment="灯还是不亮")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "in_progress"
    entry = db_client.get(f"/api/improvement-log/{body['id']}", headers=STAFF).json()
    steps = [(e["from_status"], e["to_status"], (e["data"] or {}).get("satisfied")) for e in entry["events"] if e["kind"] == "status"]
    assert steps[-2:] == [("resolved", "followed_up", False), ("followed_up", "in_progress", None)]
    assert any("灯还是不亮" in (e["note"] or "") for e in entry["events"])
    # staff cannot close it now without working on it again
    assert db_client.patch(f"/api/improvement-log/{body['id']}", json={"status": "closed"}, headers=STAFF).status_code == 409


def test_replays_show_the_same_working_code(db_client):
    """Issue 29: 8 concurrent replays of one submission showed 8 codes of which only the last
    worked; now the code comes from the key (and the service's secret), the same every time."""
    answers = _concurrently(8, lambda _: submit(db_client, idempotency_key="k-123"))
    assert len({a["reference"] for a in answers}) == 1
    assert len({a["access_code"] for a in answers}) == 1
    assert status(db_client, reference=answers[0]["reference"], access_code=answers[0]["access_code"]).status_code == 200
    other = submit(db_client, idempotency_key="k-124")
    assert other["access_code"] != answers[0]["access_code"]


def test_replay_of_an_entry_from_before_derived_codes_gets_a_working_code(db_client):
    first = submit(db_client, idempotency_key="k-old")
    progress.set_code(db_client.app.state.services.store.engine, first["id"], "AAAA-BBBB")   # an old random code
    again = submit(db_client, idempotency_key="k-old")
    assert status(db_client, reference=first["reference"], access_code=again["access_code"]).status_code == 200
    assert submit(db_client, idempotency_key="k-old")["access_code"] == again["access_code"]


def test_status_page_is_a_site_page_that_survives_reload_back_and_bookmark(db_client):
    """Issue 28: POST, then a redirect to a page of the site whose address carries the reference
    only; reload shows it again; another device (no cookie) gets the form with the reference."""
    body = submit(db_client)
    move(db_client, body["id"], "triaged", "in_progress")
    html = {"accept": "text/html"}
    r = db_client.post("/api/feedback/status", data={"reference": body["reference"], "access_code": body["access_code"]},
                       headers=html, follow_redirects=False)
    assert r.status_code == 303
    where = r.headers["location"]
    assert where == f"/residents/status/?ref={body['reference']}" and body["access_code"] not in where
    page = db_client.get(where)
    assert page.status_code == 200 and "md-header" in page.text        # the site's own page, with its menu
    assert "处理中" in page.text and progress.STEP_HELP["in_progress"] in page.text
    assert body["access_code"] not in page.text
    assert db_client.get(where).text.count('id="kb-status-result"') == 1           # reload
    db_client.cookies.clear()                                                   # another device
    stranger = db_client.get(where)
    assert 'id="kb-status-result"' not in stranger.text
    assert f'value="{body["reference"]}"' in stranger.text and 'name="access_code"' in stranger.text


def test_a_wrong_try_keeps_what_was_typed_and_says_tries_left(db_client):
    body = submit(db_client)
    r = db_client.post("/api/feedback/status", data={"reference": body["reference"], "access_code": "2222-3333-4444"},
                       headers={"accept": "text/html"}, follow_redirects=False)
    # POST, then a page: a reload shows the same answer and sends no code again
    assert r.status_code == 303 and "2222" not in r.headers["location"]
    assert r.headers["location"] == f"/residents/status/?ref={body['reference']}&wrong=code"
    for _ in range(2):
        page = db_client.get(r.headers["location"])
        assert page.status_code == 200 and "md-header" in page.text
        assert f'value="{body["reference"]}"' in page.text and "对不上" in page.text
        assert f"还可以再试 {progress.LIMITS.per_network - 1} 次" in page.text
        assert "每个地址" not in page.text
    for _ in range(progress.LIMITS.per_network - 1):
        db_client.post("/api/feedback/status", data={"reference": body["reference"], "access_code": "2222-3333-4444"},
                       headers={"accept": "text/html"})
    page = db_client.get(r.headers["location"])
    assert "错误次数太多" in page.text and "还可以再试" not in page.text


def test_reply_for_the_resident_shows_on_their_page_only(db_client):
    body = submit(db_client)
    db_client.patch(f"/api/improvement-log/{body['id']}", json={"reply": "王女士您好，灯已换好，请晚上看看。"}, headers=STAFF)
    db_client.post("/api/feedback/status", data={"reference": body["reference"], "access_code": body["access_code"]},
                   headers={"accept": "text/html"})
    page = db_client.get(f"/residents/status/?ref={body['reference']}")
    assert "灯已换好" in page.text
    entry = db_client.get(f"/api/improvement-log/{body['id']}", headers=STAFF).json()
    assert entry["public_summary"] is None and "灯已换好" in entry["resident_reply"]


def test_html_form_lookup_and_reopen(db_client):
    body = submit(db_client)
    move(db_client, body["id"], "triaged", "in_progress", "resolved")
    html = {"accept": "text/html"}
    r = db_client.post("/api/feedback/status", data={"reference": body["reference"], "access_code": body["access_code"]},
                       headers=html)
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert "已解决" in r.text and 'name="action" value="not_satisfied"' in r.text and "（周" in r.text
    r = db_client.post(f"/residents/status/?ref={body['reference']}", data={"action": "not_satisfied", "comment": "<b>没修好</b>"})
    assert r.status_code == 200 and "处理中" in r.text and "<b>没修好" not in r.text and "已重新回到" in r.text
    entry = db_client.get(f"/api/improvement-log/{body['id']}", headers=STAFF).json()
    assert entry["status"] == "in_progress" and any("<b>没修好</b>" in (e["note"] or "") for e in entry["events"])
    r = db_client.post("/api/feedback/status", data={"reference": body["reference"], "access_code": "bad"}, headers=html)
    assert r.status_code == 200 and "没有查到" in r.text and "已解决" not in r.text   # this device saw it, yet a wrong code is wrong


def test_result_page_shows_code_copy_and_how_to_check(db_client):
    r = db_client.post("/api/feedback", data={"type": "suggestion", "content": "希望增加快递柜"},
                       headers={"accept": "text/html"})
    assert r.status_code == 201
    code = re.search(r'id="kb-access-code">([^<]+)<', r.text).group(1)
    assert "data-copy" in r.text and "/residents/status/" in r.text and "tel:" in r.text
    ref = re.search(r'id="kb-reference">([^<]+)<', r.text).group(1)
    assert status(db_client, reference=ref, access_code=code).status_code == 200


def test_page_vote_is_stored_at_once_and_the_comment_joins_it(db_client):
    vote = db_client.post("/api/feedback", json={"type": "page", "page": "/residents/fees/", "helpful": False})
    assert vote.status_code == 201
    v = vote.json()
    r = db_client.post("/api/feedback/comment", json={"reference": v["reference"], "access_code": v["access_code"],
                                                      "comment": "没找到车位费怎么交"})
    assert r.status_code == 200, r.text
    entry = db_client.get(f"/api/improvement-log/{v['id']}", headers=STAFF).json()
    assert entry["content"] == "没找到车位费怎么交" and entry["helpful"] is False
    again = db_client.post("/api/feedback/comment", json={"reference": v["reference"], "access_code": v["access_code"],
                                                          "comment": "再补充"})
    assert again.status_code == 409
    wrong = db_client.post("/api/feedback/comment", json={"reference": v["reference"], "access_code": "2222-2222",
                                                          "comment": "x"})
    assert wrong.status_code == 404

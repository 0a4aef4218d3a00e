"""Property-based fuzzing of the public and staff write endpoints: no input may produce a 500.

Hypothesis generates arbitrary JSON (wrong types, huge and odd strings, nested objects, control
characters, unknown keys) around the real field names, plus raw bodies and form posts. Every answer
must be a documented 4xx or a 201/200, with a JSON error message for each 4xx.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import STAFF

FIELDS = ["type", "content", "category", "location", "contact_name", "contact_phone", "consent",
          "ratings", "page", "helpful", "idempotency_key", "website", "record"]
PATCH_FIELDS = ["status", "owner", "category", "note", "satisfied", "action", "action_done", "publish"]
OK_WRITE = {201, 400, 413, 415, 422}
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63), st.floats(allow_nan=False, allow_infinity=False),
                    st.text(max_size=300), st.sampled_from(["complaint", "page", "received", "triaged", "closed",
                                                           "repair", "13812345678", "/handbook/", "true", "5"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                      max_leaves=12)
fuzz = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def check(r, allowed):
    assert r.status_code in allowed, (r.status_code, r.text[:300])
    if r.status_code >= 400:
        assert r.json()["error"]


@fuzz
@given(st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=20)), values, max_size=10))
def test_feedback_json_never_500(client, body):
    check(client.post("/api/feedback", json=body), OK_WRITE)


@fuzz
@given(st.lists(st.tuples(st.one_of(st.sampled_from(FIELDS + ["ratings.service", "ratings.x", "record.cause"]),
                                    st.text(max_size=20)), st.text(max_size=200)), max_size=12))
def test_feedback_form_never_500(client, pairs):
    from urllib.parse import urlencode

    check(client.post("/api/feedback", content=urlencode(pairs).encode(),
                      headers={"content-type": "application/x-www-form-urlencoded"}), OK_WRITE)


@fuzz
@given(st.binary(max_size=2000), st.sampled_from(["application/json", "application/x-www-form-urlencoded",
                                                  "multipart/form-data; boundary=x", "text/plain", ""]))
@example(b'{"type": Infinity, "content": NaN, "ratings": {"service": -Infinity}}', "application/json")
@example(b'{"type": "complaint", "content": "\\ud800"}', "application/json")
@example(b"type=complaint&content=%FF%FE", "application/x-www-form-urlencoded")
@example(b"--x\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\nhi\r\n--x--\r\n",
         "multipart/form-data; boundary=x")
def test_feedback_raw_bodies_never_500(client, raw, ctype):
    check(client.post("/api/feedback", content=raw, headers={"content-type": ctype}), OK_WRITE)


@fuzz
@given(st.dictionaries(st.one_of(st.sampled_from(PATCH_FIELDS), st.text(max_size=20)), values, max_size=6))
def test_patch_never_500(fuzz_entry, body):
    client, path = fuzz_entry
    check(client.patch(path, json=body, headers=STAFF), {200, 400, 409, 413, 422})


@fuzz
@given(st.dictionaries(st.sampled_from(["status", "type", "category", "overdue", "limit", "offset"]),
                       st.text(max_size=30), max_size=6))
def test_list_params_never_500(fuzz_entry, params):
    client, _ = fuzz_entry
    check(client.get("/api/improvement-log", params=params, headers=STAFF), {200, 400})


@pytest.fixture
def fuzz_entry(built_project, tmp_path):
    from starlette.testclient import TestClient

    from conftest import STAFF_TOKEN, settings_for
    from kb_service.web.app import create_app

    s = settings_for(built_project, built_project / "var", KB_DATABASE_URL=f"sqlite:///{tmp_path / 'kb.sqlite3'}",
                     KB_STAFF_TOKENS=f"tester:{STAFF_TOKEN}")
    with TestClient(create_app(s)) as c:
        entry = c.post("/api/feedback", json={"type": "complaint", "content": "模糊测试用"}).json()
        yield c, f"/api/improvement-log/{entry['id']}"


def test_fuzz_inputs_are_really_varied():
    """Guard against a strategy that silently produces only trivial bodies: among the bodies a
    run generates (generation only: hypothesis.find shrank its find for seven seconds) are
    nested ratings, long bodies and values of every JSON type."""
    from hypothesis import Phase

    bodies: list[dict] = []

    @settings(max_examples=150, derandomize=True, database=None, phases=[Phase.generate])
    @given(st.dictionaries(st.sampled_from(FIELDS), values, max_size=10))
    def collect(body):
        bodies.append(body)

    collect()
    assert any(isinstance(b.get("ratings"), dict) and len(json.dumps(b)) > 50 for b in bodies)
    assert sum(len(json.dumps(b, ensure_ascii=False)) > 300 for b in bodies) >= 5
    kinds = {type(v).__name__ for b in bodies for v in b.values()}
    assert kinds >= {"NoneType", "bool", "int", "float", "str", "list", "dict"}, kinds

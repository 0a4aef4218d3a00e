"""`match` in GET /api/search: strong only when a script or template answers the query."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def labelled() -> list[tuple[str, str, list[str]]]:
    out = []
    for line in (ROOT / "tests/contract/dev-queries.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        if line.strip():
            q, _style, ids = line.split("\t")
            out.append((q, "strong", ids.split()))
    for line in (ROOT / "tests/data/match-queries.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        if line.strip() and not line.startswith("#"):
            q, expect, *ids = line.split("\t")
            out.append((q, expect, ids[0].split() if ids else []))
    return out


QUERIES = labelled()


@pytest.fixture(scope="module")
def answers(built_project, tmp_path_factory):
    from starlette.testclient import TestClient

    from kb_service.web.app import create_app
    from tests.conftest import settings_for

    db = tmp_path_factory.mktemp("match") / "kb.sqlite3"
    s = settings_for(built_project, built_project / "var", KB_DATABASE_URL=f"sqlite:///{db}")
    with TestClient(create_app(s)) as c:
        yield {q: c.get("/api/search", params={"q": q, "limit": 3}).json() for q, _, _ in QUERIES}


def test_every_answer_has_a_match_field(answers):
    assert {a["match"] for a in answers.values()} <= {"strong", "weak", "none"}


def test_unrelated_and_related_only_queries_are_never_strong(answers):
    wrong = [q for q, expect, _ in QUERIES if expect != "strong" and answers[q]["match"] == "strong"]
    assert not wrong, f"无关或只有相关材料的查询被判为 strong：{wrong}"


def test_answered_in_scope_queries_are_mostly_strong(answers):
    scope = [(q, ids) for q, expect, ids in QUERIES if expect == "strong"]
    strong = [q for q, _ in scope if answers[q]["match"] == "strong"]
    assert len(strong) >= 0.85 * len(scope), f"只有 {len(strong)}/{len(scope)} 为 strong"
    # strong means the first result answers it, not just that something scored high
    wrong_top = [q for q, ids in scope if answers[q]["match"] == "strong"
                 and answers[q]["results"][0]["id"] not in ids]
    assert len(wrong_top) <= 0.05 * len(scope), wrong_top


def test_the_parcel_query_is_answered_by_the_parcel_script_not_the_access_card(answers):
    answer = answers["快递放门口丢了"]
    assert answer["results"][0]["id"] == "inquiry.parcel-delivery"
    assert "inquiry.access-card" not in [r["id"] for r in answer["results"][:1]]


def test_empty_and_gibberish_queries_are_none(client):
    for q in ("", "   ", "qqzzxxkkvv", "！！！"):
        assert client.get("/api/search", params={"q": q}).json()["match"] == "none"

"""The form spec (feedback/fields_spec): its limits fit the database, drive the resident form's
HTML, and every form reports all its problems at once through one error collector."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from kb_service import db
from kb_service.content import fields as F
from kb_service.content.load import load_corpus
from kb_service.errors import ValidationFailed
from kb_service.feedback import fields_spec as spec
from kb_service.feedback.forms import parse_submission
from kb_service.feedback.store import parse_patch
from kb_service.site.pages import feedback_form
from kb_service.web.pages.staff_pages import patch_from_form

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def corpus():
    corpus, _problems = load_corpus(ROOT / "snippets")
    assert corpus is not None
    return corpus


def column(path: str) -> sa.Column:
    table, name = path.split(".")
    return db.metadata.tables[table].c[name]


def declared():
    seen = set()
    for form in spec.FORMS:
        for f in form.fields:
            if f.column and (form.name, f.name) not in seen:
                seen.add((form.name, f.name))
                yield pytest.param(f, id=f"{form.name}.{f.name}")


@pytest.mark.parametrize("field", list(declared()))
def test_every_limit_matches_its_database_column(field, corpus):
    col = column(field.column)
    if isinstance(col.type, sa.String) and not isinstance(col.type, sa.Text):
        if field.kind == spec.CHOICE:
            # every value that can be chosen fits, and a declared limit is the column's size
            longest = max(len(v) for v in field.mapping(corpus.feedback))
            assert longest <= col.type.length, (field.name, longest, col.type.length)
            assert field.limit in (None, col.type.length)
        elif field.stored_limit is not None:
            # normalised before storing (phone numbers): what is stored fits, the input may be longer
            assert field.stored_limit <= col.type.length <= field.limit
        else:
            assert field.limit == col.type.length, f"{field.name}: spec {field.limit}, {field.column} {col.type.length}"
    elif isinstance(col.type, (sa.Text, sa.JSON)):
        assert field.limit is not None or field.kind == spec.OBJECT, f"{field.name}: unbounded text"
    elif isinstance(col.type, sa.Boolean):
        assert field.kind == spec.BOOL
    elif isinstance(col.type, sa.Date):
        assert field.kind == spec.DATE


def test_longest_normalised_phone_fits_stored_limit():
    field = spec.SUBMISSION["contact_phone"]
    longest = ["13812345678", "0571 1234 5678", "+86 (0571) 12345678", "400 123 4567"]
    assert max(len(F.parse_phone(p)) for p in longest) == field.stored_limit


def test_resident_form_maxlength_comes_from_the_spec(corpus):
    html = feedback_form(corpus)
    found = dict(re.findall(r'name="([a-z_]+)"[^>]*?maxlength="(\d+)"', html))
    limits = spec.limits(spec.SUBMISSION)
    assert found and {k: int(v) for k, v in found.items()} == {k: limits[k] for k in found}
    assert set(found) == {"location", "content", "contact_name", "contact_phone"}


def test_resident_form_escapes_content(corpus):
    """The form is a Jinja template with autoescaping: a category label with markup stays text."""
    corpus.feedback.categories["x-test"] = '<img src=x onerror=alert(1)>"'
    try:
        html = feedback_form(corpus)
    finally:
        del corpus.feedback.categories["x-test"]
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;&#34;" in html
    assert "\n\n" not in html   # one raw HTML block in the Markdown page


def test_submission_reports_every_problem_at_once(corpus):
    with pytest.raises(ValidationFailed) as exc:
        parse_submission({"type": "nope", "content": "x" * 2001, "contact_phone": "12", "consent": "maybe",
                          "ratings": {"service": 9}, "extra": 1}, corpus.feedback)
    fields = [e["field"] for e in exc.value.errors]
    assert set(fields) == {"type", "content", "contact_phone", "consent", "ratings.service", "extra"}
    assert all(e["message"] for e in exc.value.errors)


def test_patch_and_its_action_report_every_problem_at_once(corpus):
    with pytest.raises(ValidationFailed) as exc:
        parse_patch({"status": "done", "owner": " ", "note": "\x07", "action": {"what": "", "kind": "x", "due": "明年"}},
                    corpus.feedback)
    fields = {e["field"] for e in exc.value.errors}
    assert fields == {"status", "owner", "note", "action.what", "action.kind", "action.owner", "action.due"}


def test_staff_page_forms_become_the_same_patch(corpus):
    op, patch = patch_from_form({"op": "action", "what": " 改话术 ", "kind": "script", "owner": "王",
                                 "public": "on", "due": "", "target": ""})
    assert op == "action" and patch == {"action": {"what": "改话术", "kind": "script", "owner": "王", "public": True}}
    change = parse_patch(patch, corpus.feedback)
    assert change["action"] == {"what": "改话术", "target_kind": "script", "owner": "王", "public": True}
    assert patch_from_form({"op": "action_done", "action_id": "7", "pr_url": ""}) == ("action_done", {"action_done": {"id": 7}})
    with pytest.raises(ValidationFailed) as exc:
        patch_from_form({"op": "status", "status": "followed_up"})
    assert exc.value.errors[0]["field"] == "satisfied"


def test_rating_with_a_non_ascii_digit_is_a_field_error(corpus):
    """'²'.isdigit() is true but int('²') fails: it must be a 422, not a crash."""
    with pytest.raises(ValidationFailed) as exc:
        parse_submission({"type": "praise", "content": "好", "ratings": {"service": "²"}}, corpus.feedback)
    assert exc.value.errors[0]["field"] == "ratings.service"

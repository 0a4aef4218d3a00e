"""Which community a submission or a staff filter is about, checked against snippets/communities/.

With one community configured it is implied everywhere (no field to fill, no selector). With
more, a resident's or staff member's submission must name one (page feedback about the site
itself may leave it out); an unknown id is a 422 that lists the valid ones.
"""

from __future__ import annotations

from typing import Any

from kb_service.content.model import Corpus
from kb_service.errors import ValidationFailed
from kb_service.feedback.forms import Submission, parse_submission


def valid_ids(corpus: Corpus) -> str:
    """`id（名称）、...`: the accepted values, in messages."""
    return "、".join(f"{c.id}（{c.name}）" for c in corpus.communities.values())


def valid_names(corpus: Corpus) -> str:
    return "、".join(c.name for c in corpus.communities.values())


def pick(raw: Any, corpus: Corpus, *, required: bool) -> tuple[str | None, list[dict[str, str]]]:
    """(community id or None, field errors) for a submitted `community` value."""
    if raw in (None, ""):
        if corpus.single_community:
            only = corpus.default_community
            return (only.id if only else None), []
        if required:
            # residents read this (the form's error list): names only; API callers get the ids
            # in `choices` and in the unknown-id message below
            return None, [{"field": "community", "message": f"请选择您住的小区：{valid_names(corpus)}",
                           "choices": list(corpus.communities)}]
        return None, []
    if not isinstance(raw, str) or raw.strip() not in corpus.communities:
        shown = str(raw)[:40]
        return None, [{"field": "community", "message": f"没有编号为 {shown!r} 的小区；可选：{valid_ids(corpus)}"}]
    return raw.strip(), []


def parse(data: dict[str, Any], corpus: Corpus, *, source: str = "resident") -> Submission:
    """feedback.forms.parse_submission plus the community; one 422 lists every problem."""
    data = dict(data)
    raw = data.pop("community", None)
    community, errors = pick(raw, corpus, required=data.get("type") != "page")
    try:
        sub = parse_submission(data, corpus.feedback, source=source)
    except ValidationFailed as exc:
        raise ValidationFailed(errors + exc.errors) from None
    if errors:
        raise ValidationFailed(errors)
    sub.community = community
    return sub



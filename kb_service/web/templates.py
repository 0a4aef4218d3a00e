"""HTML pages the service renders itself: the form result page and the staff pages.

Jinja2 with autoescaping on, from files in kb_service/html/; user input is only ever passed as
values, never as template source.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from kb_service.content.model import Corpus
from kb_service.feedback import fields_spec
from kb_service.site import phones
from kb_service.times import local_time, naive_utc, to_local, weekday

HTML_DIR = Path(__file__).parent / "html"


@cache
def env() -> Environment:
    e = Environment(loader=FileSystemLoader(HTML_DIR), autoescape=select_autoescape(default=True),
                    undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    e.filters["local"] = local_time
    e.filters["when"] = when
    e.filters["tel"] = tel
    e.filters["phones"] = phones.link_phones_html
    return e


def when(value) -> str:
    """`2026年12月01日（周二）14:00`: a UTC time (ISO text or naive UTC) as people read it."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = naive_utc(value)
    local = to_local(value)
    return f"{local:%Y年%m月%d日}（{weekday(local.date())}）{local:%H:%M}"


def tel(number: str) -> str:
    """A phone number as a tel: link target (digits and +)."""
    return "".join(c for c in str(number) if c in "0123456789+")


def render(name: str, **context) -> str:
    return env().get_template(name).render(**context)


def feedback_result(corpus: Corpus, *, reply: dict | None = None, errors: list | None = None,
                    unsaved: dict | None = None, message: str | None = None) -> str:
    """The answer page of the plain feedback form: the reference and code, the fields to fix, or
    (database down) what the resident typed, in a form that sends it again."""
    kept = None
    if unsaved is not None:
        kept = [(k, v) for k, v in unsaved.items() if isinstance(v, str) and k not in ("content", "website")]
        kept += [(f"ratings.{k}", str(v)) for k, v in (unsaved.get("ratings") or {}).items()]
        kept += [(f"record.{k}", str(v)) for k, v in (unsaved.get("record") or {}).items()]
    return render("feedback_result.html", reply=reply, errors=errors or [], unsaved=unsaved, kept=kept, message=message,
                  labels={**fields_spec.labels(fields_spec.SUBMISSION, corpus.feedback), "community": "小区"},
                  site=corpus.site, kinds=corpus.feedback.types)

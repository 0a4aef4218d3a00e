"""HTML pages the service renders itself: the form result page and the staff pages.

Jinja2 with autoescaping on, from files in kb_service/html/; user input is only ever passed as
values, never as template source.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from kb_service.content.model import Corpus
from kb_service.feedback import fields_spec
from kb_service.site import phones
from kb_service.times import local_time, parse_iso, to_local, weekday

HTML_DIR = Path(__file__).parent / "html"
# Service pages load nothing but this site's own files.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


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
        value = parse_iso(value).astimezone(dt.UTC).replace(tzinfo=None)
    local = to_local(value)
    return f"{local:%Y年%m月%d日}（{weekday(local.date())}）{local:%H:%M}"


def tel(number: str) -> str:
    """A phone number as a tel: link target (digits and +)."""
    return "".join(c for c in str(number) if c in "0123456789+")


def render(name: str, **context) -> str:
    return env().get_template(name).render(**context)


def feedback_result(corpus: Corpus, *, reply: dict | None = None, errors: list | None = None) -> str:
    return render("feedback_result.html", reply=reply, errors=errors or [],
                  labels={**fields_spec.labels(fields_spec.SUBMISSION, corpus.feedback), "community": "小区"},
                  site=corpus.site, kinds=corpus.feedback.types)

"""The one Jinja environment for every piece of HTML the package writes: the blocks and charts
the site generator puts into pages (site/html/) and the pages the service renders itself
(web/html/). Autoescaping is on for every template; content and user input are only ever passed
as values, never as template source, so nothing a resident or an editor types becomes markup.

It sits in site/ because both the generator and the service (a layer above) use it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined
from kb_service.site import phones
from kb_service.times import local_time, naive_utc, to_local, weekday

PACKAGE = Path(__file__).parent.parent
FOLDERS = (PACKAGE / "site" / "html", PACKAGE / "web" / "html")


@cache
def env() -> Environment:
    # One name space over both folders: a name in both would silently pick the first.
    names = [p.name for folder in FOLDERS for p in folder.iterdir()]
    assert len(names) == len(set(names)), "a template name is in both site/html and web/html"
    e = Environment(loader=ChoiceLoader([FileSystemLoader(f) for f in FOLDERS]), autoescape=True,
                    undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    e.filters["local"] = local_time
    e.filters["when"] = when
    e.filters["tel"] = tel
    e.filters["phones"] = phones.link_phones_html
    e.filters["num"] = num
    return e


def render(name: str, **context) -> str:
    """A template rendered. Plain text, not Markup: a page is often put together with `+` and
    replace(), where Markup would escape the other side; wrap it in Markup to pass it to another
    template."""
    return env().get_template(name).render(**context)


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


def num(value: float, digits: int = 1) -> str:
    """A number as a chart writes it: `12`, `12.5`, `0.3` (no trailing zeros)."""
    if isinstance(value, float):
        return f"{value:.{digits}f}".rstrip("0").rstrip(".") or "0"
    return str(value)

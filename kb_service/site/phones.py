"""Tappable phone numbers on the residents' pages: the service hotline and the emergency numbers
written in prose become `tel:` links, so a resident on a phone calls with one tap.

Works on the Markdown (before any builder runs). Numbers inside code (fenced or inline), links, HTML
lines, headings and front matter are left alone; a number is matched only as a whole (110 in 1100 is not).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from markupsafe import Markup, escape

EMERGENCY = ("110", "119", "120", "122", "12315", "12345")
_CODE = re.compile(r"`+[^`]*`+")
_LINK = re.compile(r"\[[^\]]*\]\([^)]*\)|<[^>]+>")


def applies(src_uri: str) -> bool:
    return src_uri == "index.md" or src_uri.startswith("residents/")


def _pattern(hotlines: Iterable[str]) -> re.Pattern:
    numbers = sorted({*hotlines, *EMERGENCY} - {""}, key=len, reverse=True)
    return re.compile(r"(?<![\w.\-/#:])(" + "|".join(re.escape(n) for n in numbers) + r")(?![\w\-/])")


def link_phones(markdown: str, hotline: str | Iterable[str]) -> str:
    """`hotline`: the number (or numbers: a community's and the company's) to make tappable,
    besides the emergency numbers."""
    pattern = _pattern([hotline] if isinstance(hotline, str) else hotline)
    out, fenced, front = [], False, markdown.startswith("---\n")
    for i, line in enumerate(markdown.split("\n")):
        stripped = line.strip()
        if front:
            out.append(line)
            if i > 0 and stripped == "---":
                front = False
            continue
        if stripped.startswith(("```", "~~~")):
            fenced = not fenced
        if fenced or stripped.startswith(("#", "<")) or stripped.startswith(("```", "~~~")):
            out.append(line)
            continue
        out.append(_outside(line, pattern))
    return "\n".join(out)


def _outside(line: str, pattern: re.Pattern) -> str:
    """Replace numbers only in the parts of a line that are not code, links or tags."""
    skip = sorted([m.span() for m in _CODE.finditer(line)] + [m.span() for m in _LINK.finditer(line)])
    pieces, pos = [], 0
    for a, b in skip:
        if a < pos:
            continue
        pieces.append(pattern.sub(_tel, line[pos:a]))
        pieces.append(line[a:b])
        pos = b
    pieces.append(pattern.sub(_tel, line[pos:]))
    return "".join(pieces)


def _tel(m: re.Match) -> str:
    number = m.group(1)
    return f"[{number}](tel:{re.sub(r'[^0-9+]', '', number)})"


def link_phones_html(text: str, hotlines: Iterable[str]) -> Markup:
    """Plain text (a notice's body) as escaped HTML with the known numbers as tel: links: the
    service's own pages, where no Markdown runs."""
    pattern = _pattern(hotlines)
    html = str(escape(text))
    return Markup(pattern.sub(lambda m: f'<a href="tel:{re.sub(r"[^0-9+]", "", m.group(1))}">{m.group(1)}</a>', html))

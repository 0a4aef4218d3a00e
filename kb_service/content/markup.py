"""The Markdown syntax that content adds, defined once for the site generation, the linter and
the search index:

- `[text](snippet:<id>#anchor)`: a link to a script or template page;
- a line `<!-- kb:<block> -->`: a data block (standards table, fees, the feedback form ...);
- `[[std:<id>]]`: a service commitment's text ("24小时") from standards.yaml;
- `[[law:<id>]]`: a legal reference ("《民法典》第944条") from laws.yaml.

Inline references are not expanded inside `inline code`, so the editors' guide can show the
syntax itself. Escaping for HTML and Markdown tables lives here too.
"""

from __future__ import annotations

import html
import re
from typing import Callable, Iterator

SNIPPET_LINK = re.compile(r"\]\(snippet:([^)#\s]*)(#[^)\s]*)?\)")
BLOCK = re.compile(r"^<!--\s*kb:([a-z-]+)\s*-->[ \t]*$", re.MULTILINE)  # [ \t]: keep the blank line after it
INLINE = re.compile(r"\[\[(std|law):([^\]\n]*)\]\]")
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`).+?(?<!`)\1(?!`)")


def inline_refs(line: str, kind: str | None = None) -> Iterator[re.Match]:
    """Every `[[std:..]]` / `[[law:..]]` in one line, outside inline code. group(1) is the kind,
    group(2) the id."""
    code = [m.span() for m in CODE_SPAN.finditer(line)]
    for m in INLINE.finditer(line):
        if (kind is None or m.group(1) == kind) and not any(a <= m.start() < b for a, b in code):
            yield m


def expand_inline(text: str, standards: dict, laws: dict,
                  unknown: Callable[[int, int, str, str], None] | None = None) -> str:
    """Replace each inline reference with its text; `unknown(line, col, kind, id)` for the rest
    (left as typed, so a strict build or the linter can point at it)."""
    out = []
    for lineno, line in enumerate(text.split("\n"), 1):
        pieces, pos = [], 0
        for m in inline_refs(line):
            kind, rid = m.group(1), m.group(2).strip()
            table = standards if kind == "std" else laws
            if rid in table:
                pieces += [line[pos:m.start()], table[rid].text]
                pos = m.end()
            elif unknown is not None:
                unknown(lineno, m.start() + 1, kind, rid)
        out.append("".join(pieces) + line[pos:])
    return "\n".join(out)


def esc(text: str) -> str:
    return html.escape(str(text), quote=True)


def cell(text: str) -> str:
    """A Markdown table cell: escaped, no pipes or newlines."""
    return esc(text).replace("|", "&#124;").replace("\n", "<br>")


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()!|~])")


def md_text(text: str) -> str:
    """Free text for Markdown: HTML-escaped and every Markdown-significant character escaped, so
    nothing a person typed can become a link, an image or an attribute list."""
    return _MD_SPECIAL.sub(r"\\\1", esc(" ".join(str(text).split())))


# The data blocks a page may use (`<!-- kb:<name> -->`); site/pages.py renders each. One list,
# so the linter knows the names without importing the site generation.
BLOCK_NAMES = ("standards", "community-list", "public-log", "feedback-form")

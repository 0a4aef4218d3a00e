"""snippets/outside.yaml: words for what property management does not handle (社保, 护照过期,
话费, 学区...). A query that says one of them is told 没有专门的话术 unless a script or template
answers it outright (match `strong` with every meaningful character of the query found in the first
result: 社保卡丢了去哪里补办 is strong on the access card's 卡丢了…补办 only; rank25): the everyday words
such a question shares with a script (补交, 孩子, 两个月) would otherwise make that script look related
(bench/README.md, rank10).

Matched like the danger lexicon (danger.py): against the query as the search normalises it, spaces
taken out. Checked by `kb lint`: schema, every pattern compiles, and no pattern matches a script's
or template's title, alias, tag or callers_say line, where it would say a question the corpus
answers is about something else. The search loads it and ignores it whole when it has a problem.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from kb_service.content.checks import checked_once, load_settings_file
from kb_service.content.danger import compile_words, first_chars
from kb_service.content.yamldoc import Problem

FILE = "outside.yaml"
SCHEMA = "outside.schema.json"


@dataclass(frozen=True)
class Lexicon:
    # The words one by one, filed under every character a match of each can begin with (words that
    # can begin anywhere, ^.{0,4}…, under ""): a query tries only those its characters can begin, not
    # 150 alternatives at each of its positions (one alternation of all took 0.036 ms a query, more
    # than all the patterns one by one; this about 0.004 ms).
    by_first: dict[str, tuple[re.Pattern, ...]] | None = None

    def hit(self, text: str) -> bool:
        """Whether the normalised query names a topic outside property management."""
        if not self.by_first:   # no file, or no words in it
            return False
        flat = re.sub(r"\s+", "", text)
        tried: set[re.Pattern] = set()
        for c in ("", *set(flat)):
            for rx in self.by_first.get(c, ()):
                if rx not in tried:
                    tried.add(rx)
                    if rx.search(flat) is not None:
                        return True
        return False


def _index(words: list[str]) -> dict[str, tuple[re.Pattern, ...]]:
    out: dict[str, list[re.Pattern]] = {}
    for w in words:
        rx = re.compile(w)
        for c in first_chars(w) or {""}:
            out.setdefault(c, []).append(rx)
    return {c: tuple(v) for c, v in out.items()}


EMPTY = Lexicon()


def _flat(text: str) -> str:
    # what the search does to a query (textproc.normalize; the content is written in Simplified),
    # spaces taken out as for the query
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text).lower())


def heads(snippets) -> list[tuple[str, str, str]]:
    """(snippet id, which field, text) of every title, alias, tag and callers_say line."""
    out = []
    for sid, s in snippets.items():
        out.append((sid, "标题", s.title))
        out += [(sid, "别名", a) for a in s.aliases]
        out += [(sid, "标签", t) for t in s.tags]
        out += [(sid, "业主常说", c) for c in getattr(s, "callers_say", ())]
    return out


def check(snippets_dir: Path, snippets: dict | None) -> tuple[Lexicon | None, list[Problem]]:
    """The lexicon and its problems; (EMPTY, []) when the file does not exist.

    `snippets` maps ids to the corpus's scripts and templates (None when the corpus does not load:
    then only the patterns are checked)."""
    if not (snippets_dir / FILE).exists():
        return EMPTY, []
    doc, data, problems = load_settings_file(snippets_dir, FILE, SCHEMA)
    if doc is None:
        return None, problems
    said = [(sid, field, text, _flat(text)) for sid, field, text in heads(snippets or {})]
    # Every open of the search checks this (a few thousand lines against each word): one pass of
    # all the words over all the lines first, and line by line only to name a word that is found.
    lines = "\n".join(flat for *_, flat in said)
    for n, topic in enumerate(data["topics"]):
        keys = ["topics", n, "words"]
        words = compile_words(doc, keys, topic["words"], problems)
        if words is None or words.search(lines) is None:
            continue   # a word that did not compile is a problem already; or none is said in a script
        for i, word in enumerate(topic["words"]):
            try:
                pattern = re.compile(word)
            except re.error:
                continue   # reported by compile_words
            if re.search(pattern, "") is not None:
                continue   # reported by compile_words
            shadowed = next(((sid, field, text) for sid, field, text, flat in said if pattern.search(flat)), None)
            if shadowed is not None:
                sid, field, text = shadowed
                problems.append(doc.problem([*keys, i], f"“{word}”出现在 {sid} 的{field}“{text}”里：这件事有话术管，"
                                                       "不能写进物业管不了的话题（去掉这个词，或加上只在别的事里才说的上下文）"))
    if problems:
        return None, problems
    return Lexicon(_index([w for t in data["topics"] for w in t["words"]]) or None), []


def load(snippets_dir: Path, snippets: dict | None) -> Lexicon:
    """The checked lexicon; EMPTY when the file has problems (kb lint reports them)."""
    return checked_once(snippets_dir, FILE, SCHEMA, tuple(heads(snippets or {})),
                        lambda: check(snippets_dir, snippets)[0] or EMPTY)

"""The danger lexicon (content/danger.py) read as pinyin, for a query typed in pinyin
(dianti li you ren chu bu lai): the same rules, so an emergency typed without characters still
comes first.

Each pattern is rewritten for the query's syllables, each followed by SEP: a character becomes
any of its readings, a class of characters any reading of one of them, `.` any one syllable.
Lookbehinds (fixed width in characters, not in letters) are left out, so a rule read as pinyin is
a little more permissive than in characters: for a caller in danger, the safe side. A rule whose
`words` or `with` cannot be rewritten is left out; an `unless` or `not_after` that cannot is
dropped from its rule. Every syllable starts where one does (after SEP or at the start): 挥舞 (hui'wu')
is not found inside 坠物 (zhui'wu').
"""

from __future__ import annotations

import re
from functools import lru_cache

from pypinyin import Style, pinyin

from kb_service.content.danger import Lexicon, Rule

SEP = "'"    # after every syllable: not whitespace, which Lexicon.match takes out
SYLLABLE = 7  # letters of the longest syllable (zhuang) and SEP: a negation's reach in letters
_CJK = re.compile(r"[\u3400-\u9fff]")


def text(syllables: list[str]) -> str:
    """What the rules read as pinyin are matched against: dian'ti'li'you'ren'"""
    return "".join(f"{s}{SEP}" for s in syllables)


def read(lexicon: Lexicon) -> Lexicon:
    rules = []
    for r in lexicon.rules:
        words, with_ = _pattern(r.words), _pattern(r.with_)
        if not words or with_ is False:
            continue
        unless, not_after = _pattern(r.unless), _pattern(r.not_after)
        rules.append(Rule(r.script, words, with_ or None, unless or None, not_after or None, r.reach * SYLLABLE))
    return Lexicon(tuple(rules))


def _pattern(pattern: re.Pattern | None) -> re.Pattern | bool | None:
    return None if pattern is None else _rewrite(pattern.pattern)


def _readings(chars: str) -> str:
    """One syllable of any reading of any of the characters, with SEP after it."""
    found = dict.fromkeys(r for c in chars for r in pinyin(c, style=Style.NORMAL, heteronym=True)[0])
    return "(?:(?<![a-z])(?:" + "|".join(found) + f"){SEP})"


@lru_cache(maxsize=1024)
def _rewrite(source: str) -> re.Pattern | bool:
    """The pattern rewritten for syllables (see the module docstring); False when the result does
    not compile."""
    out, i, n = [], 0, len(source)
    while i < n:
        c = source[i]
        if c == "\\":
            out.append(source[i:i + 2])
            i += 2
        elif source.startswith(("(?<!", "(?<="), i):
            depth, i = 1, i + 4
            while i < n and depth:
                depth += {"(": 1, ")": -1}.get(source[i], 0) if source[i - 1] != "\\" else 0
                i += 1
        elif c == "[":
            end = source.index("]", i + 1)
            chars = "".join(_CJK.findall(source[i + 1:end]))
            out.append(_readings(chars) if chars and source[i + 1] != "^" else source[i:end + 1])
            i = end + 1
        elif c == ".":
            out.append(f"(?:(?<![a-z])[a-z]+{SEP})")
            i += 1
        elif _CJK.match(c):
            out.append(_readings(c))
            i += 1
        else:
            out.append(c)
            i += 1
    try:
        return re.compile("".join(out))
    except re.error:
        return False

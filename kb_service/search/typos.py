"""Homophone typos from a pinyin keyboard, corrected before the search (物叶费 -> 物业费,
地裤 -> 地库, 停车为 -> 停车位).

The index already scores syllable pairs of titles, aliases and tags (the `pyb` field), but only as
a weak hint: the typed word itself still finds nothing, so the script whose head holds the right
word competes with every script that shares a generic word. A pair of characters that no document
has anywhere, that sounds like a pair in a title, alias or tag and keeps one of its two characters,
is that pair mistyped; the query is searched as corrected. A pair that is in some document is left
alone (it may be what the caller meant), and so is a word that shares no character (股市 is not 故事).
"""

from __future__ import annotations

from kb_service.search import textproc

BIGRAM_FIELDS = ("t_bi", "b_bi", "c_bi")
HEAD_WORDS = ("t_words", "a_words", "g_words")
# Particles and adverbs that stand next to any word: sharing one of them makes no pair a typo of
# another (not textproc.STOP as a whole: its 地 is also the 地 of 地库, 地裤 a typo of it)
PARTICLES = frozenset("了吗呢啊吧呀哦嘛么着过的得太很都也就还又")


class Typos:
    def __init__(self, fields: dict[str, dict]):
        self._known = set().union(*(fields.get(f, {}).keys() for f in BIGRAM_FIELDS))
        by_pair: dict[str, tuple[int, str]] = {}
        heads = set().union(*(fields.get(f, {}).keys() for f in HEAD_WORDS))
        for gram, entry in fields.get("t_bi", {}).items():
            # only a word of a title, alias or tag (物业, 地库, 车位), not any two characters
            # that happen to stand together in one (损子 of 有损子女, 一章)
            if len(gram) != 2 or gram not in heads or not all(textproc.CJK.match(c) for c in gram):
                continue
            sylls = textproc.syllables(gram)
            if len(sylls) != 2:
                continue
            pair = f"{sylls[0]}-{sylls[1]}"
            docs = len(entry[0])
            if docs > by_pair.get(pair, (0, ""))[0]:
                by_pair[pair] = (docs, gram)
        self._by_pair = {pair: gram for pair, (_, gram) in by_pair.items()}

    def correct(self, norm: str) -> str:
        """The query with each mistyped pair replaced (see the module docstring)."""
        chars = list(norm)
        changed = False
        for run in textproc.CJK_RUN.finditer(norm):
            text = run.group()
            if len(text) < 2:
                continue
            sylls = textproc.syllables(text)
            if len(sylls) != len(text):
                continue
            for i in range(len(text) - 1):
                gram = text[i:i + 2]
                if gram in self._known:
                    continue
                right = self._by_pair.get(f"{sylls[i]}-{sylls[i + 1]}")
                if not right or right == gram or (right[0] != gram[0]) == (right[1] != gram[1]):
                    continue
                wrong = i if right[0] != gram[0] else i + 1
                if text[i + (wrong == i)] in PARTICLES:   # a kept 了 or 太 says nothing (叫了 is not 交了)
                    continue
                # the character to change makes no known pair with its other neighbour either
                # (盗 of 被盗了 is in 被盗: 盗了 is not 倒了; 金 of 交押金吗 is in 押金)
                if any(text[j:j + 2] in self._known for j in (wrong - 1, wrong) if 0 <= j and j + 2 <= len(text)
                       and j != i):
                    continue
                chars[run.start() + wrong] = right[wrong - i]
                changed = True
        return "".join(chars) if changed else norm

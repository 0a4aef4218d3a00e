"""Homophone typos from a pinyin keyboard, corrected before the search (物叶费 -> 物业费,
地裤 -> 地库, 停车为 -> 停车位).

The index already scores syllable pairs of titles, aliases and tags (the `pyb` field), but only as
a weak hint: the typed word itself still finds nothing, so the script whose head holds the right
word competes with every script that shares a generic word. A pair of characters that no document
has anywhere, that sounds like a pair in a title, alias or tag and keeps one of its two characters,
is that pair mistyped; the query is searched as corrected. A pair that is in some document is left
alone (it may be what the caller meant), and so is a word that shares no character (股市 is not 故事).

Sounding like a head word is not enough: 大人 sounds like 打人 (an alias of the neighbour-dispute
script), 杯子 like 被子, 高考 like 告考, 上吊 like 上调, and none is a typo. A change is made only when
it makes the caller's words more likely in jieba's general dictionary (the unigram model jieba cuts
with), so that a common word is never rewritten into another one:
- ten times as likely (MARGIN) - 地裤 is no word, 地库 is one;
- or, when the documents confirm the corrected character on both sides (燃气味: 燃气 and 气味 are
  both pairs of the content), at least as likely: 燃起 and 燃气 are equally common words.
"""

from __future__ import annotations

from functools import lru_cache
from math import log

import rjieba

from kb_service.search import textproc

BIGRAM_FIELDS = ("t_bi", "b_bi", "c_bi")
HEAD_WORDS = ("t_words", "a_words", "g_words")
# Particles and adverbs that stand next to any word: sharing one of them makes no pair a typo of
# another (not textproc.STOP as a whole: its 地 is also the 地 of 地库, 地裤 a typo of it)
# (不 too: 不像 is not 不想)
PARTICLES = frozenset("了吗呢啊吧呀哦嘛么着过的得太很都也就还又不")
# How much more likely (log) the corrected words must be than the typed ones in jieba's dictionary
# (ln 10: ten times). Measured on the tuning sets (bench/typo_corrections.py, issue 23 rank19): every
# false correction found gains less (洗澡漏下来 -> 洗澡楼下来 +1.9, 不像 +3.2 is held back by 不 above),
# every real typo whose corrected character the documents confirm on one side only gains more (的车味
# -> 的车位 +3.2, 燥音 -> 噪音 +4.3).
MARGIN = log(10)
# The sum of the frequencies of jieba's dictionary (dict.txt, the one rjieba ships): a word's
# probability is its frequency over it, as jieba's own cut computes it
JIEBA_TOTAL = 60_101_967
LONGEST = 6   # the longest dictionary word tried at each position (longer ones change nothing here)


@lru_cache(maxsize=65536)
def _log_freq(word: str) -> float | None:
    """log of the word's frequency in jieba's dictionary; None when it is no word (a single
    character is always one: frequency 1 when the dictionary lacks it, as in jieba)."""
    if rjieba.has_word(word):
        # suggest_freq of a dictionary word is its frequency (+1 at most, from rounding)
        return log(max(rjieba.suggest_freq(word) - 1, 1))
    return 0.0 if len(word) == 1 else None


def likelihood(text: str) -> float:
    """log-probability of the text's most likely cut into jieba's words (jieba's own route: the
    product of each word's frequency over the dictionary's total)."""
    n = len(text)
    logtotal = log(JIEBA_TOTAL)
    best = [0.0] * (n + 1)
    for i in range(n - 1, -1, -1):
        top = None
        for j in range(i + 1, min(n, i + LONGEST) + 1):
            lf = _log_freq(text[i:j])
            if lf is not None:
                score = lf - logtotal + best[j]
                if top is None or score > top:
                    top = score
        best[i] = top
    return best[0]


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
            now = list(text)   # the run with the corrections made so far
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
                if not self._likelier(now, wrong, right[wrong - i]):
                    continue
                now[wrong] = right[wrong - i]
                chars[run.start() + wrong] = right[wrong - i]
                changed = True
        return "".join(chars) if changed else norm

    def _likelier(self, run: list[str], at: int, char: str) -> bool:
        """Whether putting char at run[at] makes the run likelier enough (see the module docstring)."""
        before = "".join(run)
        after = before[:at] + char + before[at + 1:]
        gain = likelihood(after) - likelihood(before)
        sides = [after[j:j + 2] for j in (at - 1, at) if 0 <= j and j + 2 <= len(after)]
        if len(sides) == 2 and all(pair in self._known for pair in sides):
            return gain >= 0
        return gain >= MARGIN

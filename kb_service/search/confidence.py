"""How sure a search answer is: `strong` (a script or template answers the query), `weak`
(related material only) or `none`.

BM25F scores grow with the length of the query, so a score alone cannot tell "快递放门口丢了"
(one word, 丢了, shared with the access-card script) from "门禁卡丢了怎么补办". What does tell them
apart is how much of the query the best script's own title, aliases and tags account for:
every meaningful character of the query is either covered by a word, bigram, synonym or
homophone pair found in that script's head fields, covered only by its body, or not at all.

The thresholds are calibrated by bench/calibrate_match.py on tests/contract/dev-queries.tsv and
tests/data/match-queries.tsv (in-scope, related-only and unrelated queries).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

from kb_service.search import textproc

HEAD_FIELDS = ("t_words", "a_words", "g_words")
# Thresholds (see the module docstring; bench/calibrate_match.py prints the confusion table).
STRONG_HEAD = 0.5       # at least half the query's meaningful characters in the script's head
STRONG_ANY = 0.75       # or three quarters anywhere in it, with some of them in the head
STRONG_ANY_HEAD = 0.3
WEAK_ANY = 0.34         # a third of the query found somewhere in a result: related material
MIN_UNITS_SCORE = 20.0
CALLERS_ANCHOR = 0.3    # callers_say counts once the script's head or body covers this much
CALLERS_PHRASE = 4      # ... or the query shares this many characters of bigrams with its lines
CALLERS_UNITS = 5       # ... or its head and callers_say together hold this many of the query's
                        # meaningful characters (a long spoken query told in the callers' words)
CALLERS_SHORT = 0.8     # ... or a short one said almost wholly in them (服务这么烂 这钱我不给: 4 of 5), with
CALLERS_SHORT_LEAST = 4 # at least this many (你叫什么名字 has 3, all in one line of the privacy script; 3 and
                        # 0.75 turned it strong: rank21, issue 23)
# Strong with anything the script has nowhere (买 in 基金怎么买, 明天 in 明天会下雨吗) only when its
# head covers most of the rest; two such words (2+ characters) and under UNKNOWN_ANY covered:
# the query is about something else (附近有什么好吃的饭店), not even weak. A one-character match
# (叫 in 你叫什么名字, against 狗叫) is never more than none.
STRONG_WITH_UNKNOWN = 0.75
UNKNOWN_WORDS = 2
RARE_CHAR = 3.0         # a character rarer than most (its weight; the median is about 3)
# A query with a word no document has (cov.foreign) is about that, not this result (a short one: rank21; any
# length since rank25, issue 23: 孩子明年就上初中了 咱们这一片对口的是哪个中学啊, 12-17 characters, had a
# third covered by everyday words; dev19a +5 unrelated told none, no other set changed; a caller's long story
# with such a word (烟熏火燎, 橱柜) stays weak through the LONG rule below, which does not ask this) ...
# ... unless the result's own head (title, aliases, tags) holds half of it and that word is the only run
# of two or more characters the result leaves unknown: a fragment typed mid-call names the situation and
# adds one picture of it no document has (烟感 半夜 嘀嘀叫; rank21, issue 23: dev15a +3, dev9b +1, no
# unrelated query of any set turned weak; 0.4 turns 汽车站 末班车 几点 weak, two runs turn one of dev2)
FOREIGN_HEAD = 0.5
FOREIGN_RUNS = 1
UNITS_PER_UNKNOWN = 4   # a long query may leave one such word per this many meaningful characters
UNKNOWN_ANY = 0.6
# A caller's long sentence whose best script scores high (many of its words weigh in that script) is
# related even when no third of it is covered (one word per phrase: 我去年那个物业费忘了交了 现在补还要交
# 滞纳金吗): weak, so the page shows that script first. Unrelated questions score far lower (few of their
# words are in any script): on dev..dev9a none of them reached 240 with a fifth covered by a word
# (帮我叫个外卖 要一份黄焖鸡米饭: 317 with 0.18; 社保卡丢了去哪里补办: 345 but a short query with a
# foreign word). 200 and 240 gave the same on every set, 300 lost two; SPOKEN_ANY 0.25 lost two.
SPOKEN_SCORE = 240.0
SPOKEN_ANY = 0.2
# A long sentence (LONG_UNITS meaningful characters or more) spends most of them on the story around
# what it asks (我想搞清楚一平米两块五这个价里面都包括些什么; 厨房想重新贴个砖换个橱柜 开工前要跟物业打招呼吗):
# the best script's share stays near a fifth, and its score below SPOKEN_SCORE, although it is the right
# one. Weak from 150 and 0.18 there (rank9, issue 23: page first dev2 +1, dev10a +3, dev6 +1, no unrelated
# query of any set turned weak; the nearest, 帮我叫个外卖 要一份黄焖鸡米饭, stays just under 0.18, and 0.2
# or a score of 180 lose one or two of the gains: the thresholds are close to the queries on both sides).
LONG_UNITS = 10
LONG_SCORE = 150.0
LONG_ANY = 0.18
UNSEEN = 6.0            # weight of a character no document has (rarer than any that occurs)


# Question words say how the caller asks, not what about: 停电了什么时候来 is about 停电 (a unit
# here only; they stay indexed, so 多少钱 still finds the fee scripts).
QUESTION_WORDS = ("时候", "多少", "哪里", "哪儿", "几点", "能不能", "可不可以", "是不是", "有没有",
                  # ... and the same said in dialect, northern (咋, 啥, 咋整, 俺), southern (么子, 啷个, 晓得, 侬, 阿拉,
                  # 点解): 停电 啥时候来 is about 停电, 物业费咋算的 about 物业费 (rank18, issue 23)
                  "咋整", "咋办", "咋弄", "咋搞", "咋回事", "怎么回事", "怎么搞", "啷个搞", "咋个", "咋", "啥子", "为啥", "干啥", "啥", "俺们", "俺", "咱们", "咱",
                  "搞么子", "么子", "啷个", "晓得", "侬", "阿拉", "点解",
                  # ... and the grammar words of Cantonese (咗 了, 哋 们, 啲 些, 咩 什么, 系咪 是不是, 点算 怎么办, 俾 被),
                  # Sichuan (别个 别人, 遭 被, 莫得 没有, 整嘛) and Shanghainese (伐 吗): 我个车位俾人霸咗 点算 is about
                  # 车位 and 霸 (rank30, issue 23: dialect calls the search ranked right fell to 没有专门的话术)
                  "系咪", "点算", "点样", "乜嘢", "咗", "哋", "啲", "咩", "嘅", "俾", "别个", "莫得", "遭", "整嘛", "伐",
                  # ... and how it came about, which no script says either: 水费 莫名其妙 多 is about 水费 (rank24, issue 23)
                  "莫名其妙", "无缘无故", "平白无故")
STOP_RUNS = re.compile("|".join(sorted((re.escape(w) for w in (*textproc.STOP, *QUESTION_WORDS)), key=len, reverse=True)))


def char_weights(texts: list[str]) -> dict[str, float]:
    """Inverse document frequency of every character over the indexed documents: 多, 少, 小, 区
    appear everywhere and say little about which script answers; 基, 金, 汇 say a lot."""
    n = len(texts)
    df: dict[str, int] = {}
    for t in texts:
        for c in set(textproc.normalize(t)):
            df[c] = df.get(c, 0) + 1
    return {c: math.log((n + 1) / (k + 0.5)) for c, k in df.items()}


class Judged(NamedTuple):
    """What a document accounts for of the query (Coverage.judged)."""
    head: float          # share found in the title/aliases/tags (and callers_say, see _judge)
    any: float           # share found anywhere in the document (callers_say only as for head)
    unknown: int         # runs of meaningful characters the document has nowhere
    unknown_words: int   # ... of them two or more characters long
    word: bool           # what the document holds includes a piece of two or more characters
    # the document leaves out a word of the query that no document has at all (社保 in
    # 社保卡丢了去哪里补办, 话费 in 手机话费怎么充值): the query names another subject
    foreign: bool


class Coverage:
    """How much of the query a document accounts for, as shares of the query's weight.

    `rank_head` (head fields and callers_say, for Searcher.rerank) is computed for every
    re-ranked hit; the rest, which only the match needs (on three hits), when first asked."""

    def __init__(self, units: int, rank_head: float, parts: QueryParts | None = None,
                 found: tuple = (), doc: int = -1, located: Located | None = None):
        self.units = units          # meaningful characters (or pinyin letters) in the query
        self.rank_head = rank_head
        self._parts, self._found, self._doc, self._located = parts, found, doc, located

    @cached_property
    def judged(self) -> Judged:
        if self._parts is None:   # nothing to judge, or a pinyin phrase found in the head
            return Judged(self.rank_head, self.rank_head, 0, 0, self.rank_head > 0, False)
        return _judge(self._parts, self._doc, self._located, *self._found)


# Where it happens (3栋1201, 5号楼2单元, 1201室) is not what happens: an address would otherwise
# be most of a short query (3栋1201楼上漏水 is about 漏水). Bare numbers (12345, 110) still count.
ADDRESS = re.compile(r"\d+\s*(?:号楼|栋|幢|座|单元|室|层|楼|号|户)(?:\d+(?:室|号|户)?)?")


def units_of(norm: str) -> list[tuple[int, str]]:
    """Positions and characters of the query that carry meaning: CJK characters outside the
    stop words (怎么, 什么, 的) and the address, and ASCII letters or digits."""
    stopped = {i for pattern in (STOP_RUNS, ADDRESS) for m in pattern.finditer(norm)
               for i in range(m.start(), m.end())}
    return [(i, c) for i, c in enumerate(norm) if i not in stopped
            and (textproc.CJK.match(c) or c.isascii() and c.isalnum())]


# Sets of query positions and of documents are bits of an int (bit i: position i, document i): a
# query has a few dozen positions and the index a few hundred documents, and the coverage of 20
# hits is then a handful of integer operations per piece of the query rather than set lookups.
@dataclass
class QueryParts:
    """What coverage needs from a query, computed once per search (not once per document).
    Positions are bit masks (see above)."""
    units: int
    weight: dict[int, float]                     # position -> weight of the character there
    total: float
    words: list[tuple[str, int]]                 # word -> positions it covers
    grams: list[tuple[str, int]]
    synonyms: list[tuple[list[str], int]]        # other words of a group -> positions
    pairs: list[tuple[str, int]]                 # syllable pair -> its two positions
    weights: dict[str, float] | None = None      # char_weights of the documents
    mask: int = 0                                # the positions of weight

    def char_weight(self, c: str) -> float:
        return (self.weights or {}).get(c, UNSEEN)

    def weigh(self, at: int) -> float:
        """The weight of the meaningful positions in `at`, summed in position order (its set bits,
        lowest first: a hit covers a few of the query's positions, and reading all of them for each
        of twenty hits was a twentieth of a search)."""
        weight = self.weight
        at &= self.mask
        total = 0.0
        while at:
            low = at & -at
            total += weight[low.bit_length() - 1]
            at ^= low
        return total


def _positions(norm: str, term: str) -> int:
    out = 0
    run = (1 << len(term)) - 1
    start = norm.find(term)
    while start >= 0:
        out |= run << start
        start = norm.find(term, start + 1)
    return out


def query_parts(norm: str, synonyms: list[tuple[list[str], set[str]]], weights: dict[str, float]) -> QueryParts:
    """`synonyms`: the groups the query names, each with the words of it the query holds
    (engine.Synonyms.found)."""
    units = units_of(norm)
    weight = {i: weights.get(c, UNSEEN) for i, c in units}
    words = [(w, _positions(norm, w)) for w in dict.fromkeys(textproc.words(norm, stop=False))]
    grams = [(g, _positions(norm, g)) for g in dict.fromkeys(textproc.bigrams(norm))]
    syn = []
    for group, present in synonyms:
        at = 0
        for w in group:
            if w in present:
                at |= _positions(norm, w)
        syn.append(([w for w in group if w not in present], at))
    pairs = []
    for m in textproc.CJK_RUN.finditer(norm):
        sylls = textproc.syllables(m.group())
        if len(sylls) == len(m.group()):
            pairs += [(p, 3 << (m.start() + i)) for i, p in enumerate(textproc.syllable_pairs(sylls))]
    mask = 0
    for i in weight:
        mask |= 1 << i
    return QueryParts(len(units), weight, sum(weight.values()) or 1.0, words, grams, syn, pairs, weights, mask)


@dataclass
class Located:
    """Each piece of the query with the documents that hold it in their head, their callers_say
    and their body, looked up once per query (not once per query and document: coverage runs
    on 20 hits). Positions and documents are bit masks (see above QueryParts)."""
    pieces: list[tuple[int, int, int, int, bool]]
    # (positions, head docs, callers_say docs, body docs, whether the piece is a bigram)
    # each word (2+ characters) no document has, neither as a word nor as any of its bigrams:
    # its positions, and the documents whose head holds one of its rarer characters (扰 of a
    # typed 扰明 in the noise script's 扰民; 脏 of 好脏 in the cleaning script's 脏)
    unseen: list[tuple[int, int]] = ()


def locate(parts: QueryParts, docs) -> Located:
    """`docs(field, term)` is the bit mask of the documents whose indexed field holds the term."""
    pieces = []
    for w, at in parts.words:
        head = 0
        for f in HEAD_FIELDS:
            head |= docs(f, w)
        pieces.append((at, head, docs("c_words", w), docs("b_words", w), False))
    for g, at in parts.grams:
        pieces.append((at, docs("t_bi", g), docs("c_bi", g), docs("b_bi", g), True))
    for others, at in parts.synonyms:
        head = 0
        for o in others:
            for f in HEAD_FIELDS:
                head |= docs(f, o)
        pieces.append((at, head, 0, 0, False))
    # Homophone typos (停税 for 停水): a syllable pair of the query found in the head.
    for pair, at in parts.pairs:
        pieces.append((at, docs("pyb", pair), 0, 0, False))
    seen_grams = {g for (g, _), (_, h, c, b, _) in zip(parts.grams, pieces[len(parts.words):]) if h or c or b}
    # a word of a synonym group (snippets/search/synonyms.yaml) is property management's subject said
    # the caller's way (平米 for 平方, 厕所 for 卫生间), not another subject, though no document says it
    named = 0
    for _, at in parts.synonyms:
        named |= at
    unseen = []
    for (w, at), (_, h, c, b, _) in zip(parts.words, pieces):
        if len(w) >= 2 and textproc.CJK.match(w) and not (h or c or b) \
                and not any(g in seen_grams for g in textproc.bigrams(w)) and at & ~named:
            explained = 0
            for ch in w:
                if parts.char_weight(ch) >= RARE_CHAR:
                    explained |= docs("t_uni", ch)
            unseen.append((at, explained))
    return Located(pieces, unseen)


def _unknown_runs(parts: QueryParts, known: int, least: int) -> int:
    """Runs of `least` or more adjacent meaningful characters of the query that are not in
    `known`: what the query says that the document has nowhere (好吃 and 附近 in
    附近有什么好吃的饭店, against 饭店油烟; 买 in 基金怎么买, against 维修基金)."""
    runs = length = 0
    last = -2
    for i in sorted(parts.weight):
        if known >> i & 1:
            length = 0
        else:
            length = length + 1 if i == last + 1 else 1
            runs += length == least
        last = i
    return runs


def coverages(parts: QueryParts, docs: list[int], located: Located,
              pinyin_shares: dict[int, float] | None = None) -> dict[int, Coverage]:
    """How much of the query (see query_parts, locate) each of the documents accounts for, in one
    pass over the query's pieces. `pinyin_shares`: for a query typed in pinyin, the share of its
    letters found as phrases in each document's head (documents without one are judged by
    their pieces as any other query)."""
    if not parts.units:
        return {d: Coverage(0, 0.0) for d in docs}
    if pinyin_shares is not None:   # a query typed in pinyin
        rest = coverages(parts, [d for d in docs if not pinyin_shares.get(d)], located)
        return {d: rest[d] if d in rest else Coverage(parts.units, pinyin_shares[d]) for d in docs}
    wanted = 0
    for d in docs:
        wanted |= 1 << d
    head = dict.fromkeys(docs, 0)
    callers = dict.fromkeys(docs, 0)
    phrased = dict.fromkeys(docs, 0)   # positions in a bigram that a callers_say line holds as such
    body = dict.fromkeys(docs, 0)
    for at, in_head, in_callers, in_body, gram in located.pieces:
        # each document counts a piece once: in its head, else its callers_say, else its body
        # (the bits loops written out: a generator per piece and field cost more than the work)
        m = in_head & wanted
        while m:
            low = m & -m
            head[low.bit_length() - 1] |= at
            m ^= low
        m = in_callers & wanted & ~in_head
        while m:
            low = m & -m
            callers[low.bit_length() - 1] |= at
            if gram:
                phrased[low.bit_length() - 1] |= at
            m ^= low
        m = in_body & wanted & ~in_head & ~in_callers
        while m:
            low = m & -m
            body[low.bit_length() - 1] |= at
            m ^= low
    total = parts.total
    return {d: Coverage(parts.units, parts.weigh(head[d] | callers[d]) / total, parts,
                        (head[d], callers[d], phrased[d], body[d]), d, located) for d in docs}


class Covering:
    """The coverage of documents for one query, each computed when first asked for and kept;
    `many` computes a batch in one pass (the re-ranked hits)."""

    def __init__(self, parts: QueryParts, located: Located, pinyin_shares: dict[int, float] | None = None):
        self.parts, self.located, self.shares = parts, located, pinyin_shares
        self._known: dict[int, Coverage] = {}

    def many(self, docs: list[int]) -> None:
        todo = [d for d in dict.fromkeys(docs) if d not in self._known]
        if todo:
            self._known.update(coverages(self.parts, todo, self.located, self.shares))

    def __call__(self, doc: int) -> Coverage:
        found = self._known.get(doc)
        if found is None:
            self.many([doc])
            found = self._known[doc]
        return found


def _judge(parts: QueryParts, doc: int, located: Located, head: int, callers: int,
           phrased: int, body: int) -> Judged:
    weight = parts.weight
    units = parts.mask
    total = parts.total
    hw = hb = 0.0   # weight in the head, in head or body
    for i, w in weight.items():
        if head >> i & 1:
            hw += w
            hb += w
        elif body >> i & 1:
            hb += w
    # callers_say lines are spoken, full of words that are not what they are about (名字, 今天,
    # 孩子, 谢谢): they confirm a script the query's other words already point to (its head, or
    # its body), or count when the query says a phrase of one of them (楼上…拖椅子: CALLERS_PHRASE
    # characters in bigrams of a line), and one word alone says nothing (你叫什么名字).
    anchored = (hw >= CALLERS_ANCHOR * total or hb >= CALLERS_ANCHOR * total
                or (phrased & units).bit_count() >= CALLERS_PHRASE
                or ((head | callers) & units).bit_count() >= CALLERS_UNITS
                or ((head | callers) & units).bit_count() >= max(CALLERS_SHORT_LEAST, CALLERS_SHORT * units.bit_count()))
    counted = head | callers if anchored else head
    known = counted | body
    cw = sum(w for i, w in weight.items() if counted >> i & 1)
    kw = sum(w for i, w in weight.items() if known >> i & 1)
    # a piece of two or more meaningful characters (or the one there is: 过户 is 户 once 过 is a
    # stop word)
    least = min(2, len(weight))
    word = any((at & units).bit_count() >= least and not at & ~known
               and (in_head >> doc & 1 or in_body >> doc & 1 or anchored and in_callers >> doc & 1)
               for at, in_head, in_callers, in_body, _ in located.pieces)
    foreign = any((at & units).bit_count() >= 2 and not at & known and not explained >> doc & 1
                  for at, explained in located.unseen)
    return Judged(cw / total, kw / total, _unknown_runs(parts, known, 1), _unknown_runs(parts, known, 2), word, foreign)


def about_else(cov: Coverage) -> bool:
    """A query that says a word no document has (cov.foreign) is about that, not this result,
    unless the result's head covers FOREIGN_HEAD of it and that word is all it leaves unknown."""
    j = cov.judged
    return j.foreign and not (j.head >= FOREIGN_HEAD and j.unknown_words <= FOREIGN_RUNS)


def support(cov: Coverage) -> float:
    """How much of the query a result accounts for, as evidence that the query is related at all:
    none when the result leaves two words of the query unknown and covers less than
    UNKNOWN_ANY (孩子上小学怎么报名 is not about 孩子反锁在家 although it says 孩子)."""
    j = cov.judged
    if not j.word:   # one character in common (叫 in 你叫什么名字, against docs' 狗叫) relates nothing
        return 0.0
    if about_else(cov):
        return 0.0
    # A caller's long sentence carries words no script has (一肚子火, 消停): what counts there is
    # how many for its length, not that there are two.
    unknown_ok = (j.unknown_words < UNKNOWN_WORDS
                  or j.unknown_words * UNITS_PER_UNKNOWN <= cov.units)
    return j.any if unknown_ok or j.any >= UNKNOWN_ANY else 0.0


def classify(cov: Coverage | None, score: float, any_cov: float) -> str:
    """`strong`, `weak` or `none` from the best script/template's coverage and the best result's.

    `cov` is the coverage of the best script or template among the first results (None when
    there is none), `any_cov` the best coverage of any of the first results."""
    if cov is not None and score >= MIN_UNITS_SCORE and cov.units >= 1:
        j = cov.judged
        if j.word and (j.unknown == 0 or j.head >= STRONG_WITH_UNKNOWN) and (
                j.head >= STRONG_HEAD or (j.any >= STRONG_ANY and j.head >= STRONG_ANY_HEAD)):
            return "strong"
    if any_cov >= WEAK_ANY:
        return "weak"
    if cov is not None and score >= SPOKEN_SCORE:
        j = cov.judged
        if j.word and j.any >= SPOKEN_ANY and not about_else(cov):
            return "weak"
    if cov is not None and score >= LONG_SCORE and cov.units >= LONG_UNITS:
        j = cov.judged
        if j.word and j.any >= LONG_ANY:
            return "weak"
    return "none"


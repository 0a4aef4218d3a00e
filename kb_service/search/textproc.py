"""How text becomes search tokens: Simplified characters, words, character n-grams, pinyin.

Index and query go through the same functions, so a query matches exactly when its tokens
were produced from the content the same way.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc
import rjieba
from pypinyin import Style, lazy_pinyin
from pypinyin.seg.simpleseg import seg as pinyin_seg

SEP = "_"  # between list items, so phrases never span two aliases
CJK = re.compile(r"[\u3400-\u9fff]")
CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
TOKEN_OK = re.compile(r"^[\u3400-\u9fffa-z0-9]+$")
# Words that carry no meaning in a staff query ("what to do", "my", particles).
STOP = frozenset("""的 了 吗 呢 啊 吧 呀 哦 嘛 么 着 过 和 与 及 或 是 在 有 我 你 他 她 它 我们 你们 他们
都 也 就 还 又 很 太 把 被 给 让 对 从 到 向 要 会 能 说 这 那 这个 那个 什么 怎么 怎么办 怎样 如何
为什么 一下 一直 一个 吗 么 呢 该 应该 可以 请问 个 些 得 地""".split())

_t2s = opencc.OpenCC("t2s")


def normalize(text: str) -> str:
    """Traditional -> Simplified, full-width -> half-width, lower case."""
    return _t2s.convert(unicodedata.normalize("NFKC", text)).lower()


def words(text: str, *, stop: bool = True) -> list[str]:
    return [tok for tok in _cut(text) if not (stop and tok in STOP)]


@lru_cache(maxsize=256)
def _cut(text: str) -> tuple[str, ...]:
    """jieba's words of the text (search mode), as tokens; kept for the few texts a search cuts
    more than once (the query, with and without stop words)."""
    out = []
    for tok in rjieba.cut_for_search(text):
        tok = tok.strip().lower()
        if tok and TOKEN_OK.match(tok):
            out.append(tok)
    return tuple(out)


def bigrams(text: str) -> list[str]:
    out = []
    for run in CJK_RUN.findall(text):
        out.extend(run[i:i + 2] for i in range(len(run) - 1))
    return out


def unigrams(text: str) -> list[str]:
    return [c for c in CJK.findall(text) if c not in STOP]


@lru_cache(maxsize=256)
def _syllables_of_run(run: str) -> tuple[str, ...]:
    """lazy_pinyin of the run, converted word by word as pypinyin cuts it (its own segmenter,
    the one lazy_pinyin runs): a caller's sentence is new every time, its words are not, so the
    words' syllables are kept (converting a sentence cost a sixth of a search; tests/search
    checks the result equals lazy_pinyin's on every run of the content). The last few runs are
    kept too: one search reads the same run three times (typos, the query, its coverage)."""
    out: list[str] = []
    for word in pinyin_seg(run):
        out.extend(_syllables_of_word(word))
    return tuple(out)


@lru_cache(maxsize=65536)
def _syllables_of_word(word: str) -> tuple[str, ...]:
    return tuple(lazy_pinyin(word, style=Style.NORMAL, v_to_u=False, errors="ignore"))


def syllables(text: str) -> list[str]:
    out: list[str] = []
    for run in CJK_RUN.findall(text):
        out.extend(_syllables_of_run(run))
    return out


def syllable_pairs(sylls: list[str]) -> list[str]:
    return [f"{a}-{b}" for a, b in zip(sylls, sylls[1:])]


def initials(sylls: list[str]) -> list[str]:
    return [s[0] for s in sylls if s]


def join(items: list[list[str]]) -> str:
    """Token lists of several items -> one space-separated field, items kept apart by SEP."""
    return f" {SEP} ".join(" ".join(toks) for toks in items if toks)


def split_pinyin(text: str, vocabulary: frozenset[str]) -> list[str] | None:
    """`diantikunren` -> [dian, ti, kun, ren] using the syllables that occur in the content.

    Prefers fewer, longer syllables (xian over xi+an); None when the letters are not pinyin.
    """
    n = len(text)
    best: list[list[str] | None] = [None] * (n + 1)
    best[0] = []
    for i in range(n):
        if best[i] is None:
            continue
        for j in range(min(n, i + 6), i, -1):
            piece = text[i:j]
            if piece in vocabulary:
                candidate = best[i] + [piece]
                if best[j] is None or len(candidate) < len(best[j]):
                    best[j] = candidate
    return best[n]


_NUM = r"(?:\d+|[a-z]|[一二三四五六七八九十两零]+)"
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段钱汤尹黎易常武乔贺赖龚文"

# What callers say before they say what happened: greetings, fillers, who and where they are, a
# phone number. Not what the query is about (喂 你好 我是3栋1201的 我姓王 今天怎么没水 is about
# 没水), so the search and the match judge the rest. 我是租房的 stays: it says something.
_PREAMBLE = re.compile("|".join([
    r"(?<!\d)(?:\+?86[\s-]?)?1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}(?!\d)",      # a mobile number
    r"(?<!\d)0\d{2,3}[\s-]?\d{7,8}(?!\d)",                                  # a landline
    r"我是[^\s，,。！？!?]{0,12}?\d[^\s，,。！？!?]{0,12}?(?:的|业主|住户)(?:业主|住户)?",  # 我是3栋1201的
    r"我是[^\s，,。！？!?]{0,8}?(?:业主|住户)",                                 # 我是阳光花园的业主
    r"我是[\u4e00-\u9fff](?:女士|先生|阿姨|大爷|师傅|老师)",                       # 我是王女士
    r"(?:^|(?<=[\s，,。]))(?:我|免贵)?姓[\u4e00-\u9fff](?:[，,。\s]|$)",    # 我姓王, 姓李
    # 我住三栋二单元, 我3栋501的, 住20栋, 我是b区的: an address said with 我/住 and nothing else
    rf"(?:我(?:是|住在?|家住)?|住在?){_NUM}\s*(?:号楼|栋|幢|座|单元|区|期)(?:\s*{_NUM}\s*(?:号楼|栋|幢|座|单元|室|号|户|楼)?)*"
    r"(?:的(?:业主|住户)?|业主|住户)?",
    # 老王, 小张啊 said on its own after who is calling (a surname, not 老人 or 小孩)
    rf"(?:^|(?<=[\s，,。的]))[老小][{_SURNAMES}](?:啊|呀)?(?=[\s，,。]|$)",
    r"喂+|你好+|您好+|侬好|哈喽|那个|就是说|就是|嗯+|呃+|额+|麻烦(?:你|您)?|打扰(?:一下)?|请问|我想问(?:一下)?|问一下",
    # 是物业吗, 是物业服务中心吧, 是不是物业啊, 这里是物业客服吧
    r"(?:这里|这边|你们)?(?:是不是|是)?(?:物业|物管|客服|管理处|服务中心|服务台)(?:服务|客服|管理)?(?:公司|中心|处|部|台)?"
    r"(?:吗|嘛|吧|啊|呀|是吧|是不是|对吧|对不对)",
]))


# 有人吗 / 在吗 / 听得到吗 said on its own is "is anyone there": part of the greeting, and never 有人 of
# 有人打架 (喂 你好 有人吗 was a strong answer for public order). 电梯里有人吗 keeps it.
_ANYONE = re.compile(r"(?:^|(?<=[\s，,。！？!?]))(?:有人在?吗|在吗|有没有人在?|(?:你|您)?能?听(?:得|不)?(?:到|见|清|清楚)(?:了)?(?:吗|嘛|么)?)"
                     r"(?=[\s，,。！？!?]|$)")
_EDGES = re.compile(r"^[\s，,。！？!?、]+|[\s，,。！？!?、]+$")
_MEANT = re.compile(r"[\u3400-\u9fffa-z0-9]")


def core(norm: str) -> str:
    """The normalised query without the preamble (see _PREAMBLE); when that would leave
    nothing, the greeting itself (喂 你好: the phone-opening script), without 有人吗."""
    greeting, rest = _split(norm)
    if rest:
        return rest
    return greeting if _MEANT.search(greeting) else norm


def without_preamble(norm: str) -> str:
    """What the caller said the call is about, and nothing of the preamble: "" when the query is
    only a greeting, a self-introduction, a name or a phone number (我姓张 typed so far). What
    may be kept of a query; `core` falls back to the greeting for the search itself."""
    return _split(norm)[1]


def only_preamble(norm: str) -> bool:
    """Whether the query says something, and all of it is greeting, who is calling or a phone
    number (喂 你好 是物业吗; 我是3栋1201的 我姓陈): the call is at its opening."""
    return _MEANT.search(norm) is not None and not without_preamble(norm)


def _split(norm: str) -> tuple[str, str]:
    """(the query without 有人吗, what is left without the preamble or "")."""
    greeting = _EDGES.sub("", _ANYONE.sub(" ", norm))
    rest = _EDGES.sub("", _PREAMBLE.sub(" ", greeting))
    return greeting, rest if _MEANT.search(rest) else ""

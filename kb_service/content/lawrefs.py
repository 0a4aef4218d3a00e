"""Legal references typed by hand: a law's title in book-title marks (《物业管理条例》) or an article
number (第944条) anywhere but snippets/laws.yaml.

The laws file is the one list a compliance reviewer reads (the generated 法规依据 page lists every
place that cites each entry), so a law named in plain text is a legal statement nobody reviews.
Every mention goes through `[[law:<id>]]`; the message names the id to write, or says that the
entry is missing from laws.yaml.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping

from kb_service.content.markup import CODE_SPAN, INLINE

# An error: the corpus cites laws.yaml by id (set to "warning" only while converting a corpus).
SEVERITY = "error"

# What a law's title ends with. A contract, the owners' rules or a plan in book-title marks
# (《物业服务合同》《管理规约》《调整方案》) is not a law and stays as it is.
LAW_ENDINGS = ("法", "法典", "条例", "规定", "办法", "规则", "细则", "解释")
TITLE = re.compile(r"《([^《》\n]{1,80})》")
NUMBER = r"[0-9０-９]+|[一二三四五六七八九十百千零〇两]+|【[^】\n]*】"
AFTER_TITLE = re.compile(rf"\s*第\s*({NUMBER})\s*条")
ARTICLE = re.compile(rf"第\s*({NUMBER})\s*条")
# A bare Chinese number in 第一条 is ordinary Chinese ("第一条通报", "合同第五条"): it counts only
# right after a law's name. Arabic digits and numbers with 十/百/千 are article numbers anywhere.
BIG = re.compile(r"^(?:[0-9０-９]+|[一二三四五六七八九十百千零〇两]*[十百千][一二三四五六七八九十百千零〇两]*)$")
LAW_NAME_BEFORE = re.compile(r"([\u4e00-\u9fff]{1,30}?(?:" + "|".join(LAW_ENDINGS) + r"))\s*$")
NOT_LAW_BEFORE = re.compile(r"(?:合同|规约|协议|方案|》)\s*$")
SHOWN = 6   # a law with many entries: the first few ids say enough
DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
UNITS = {"十": 10, "百": 100, "千": 1000}


@dataclass(frozen=True)
class Mention:
    start: int                 # 0-based offset in the line
    text: str                  # what to quote in the message
    name: str | None           # the law's name as typed (with or without 《》), if any
    article: int | str | None  # the article number; text for a placeholder such as 【条号】


def is_law_title(title: str) -> bool:
    bare = title.strip().strip("【】").removesuffix("名称").strip("【】")
    return bare.startswith("中华人民共和国") or bare.endswith(LAW_ENDINGS)


def number(text: str) -> int | str:
    """第二百八十二条 -> 282, 第944条 -> 944; a placeholder (【条号】) stays text."""
    text = text.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    if text.isdecimal():
        return int(text)
    if not all(c in DIGITS or c in UNITS for c in text):
        return text
    total, digit = 0, None
    for c in text:
        if c in UNITS:
            total += (digit if digit is not None else 1) * UNITS[c]
            digit = None
        else:
            digit = DIGITS[c]
    return total + (digit or 0)


def mentions(line: str) -> Iterator[Mention]:
    """Law titles and article numbers typed in one line, outside `[[law:..]]` and inline code."""
    skip = [m.span() for m in CODE_SPAN.finditer(line)] + [m.span() for m in INLINE.finditer(line)]
    taken: list[tuple[int, int]] = []

    def free(start: int) -> bool:
        return not any(a <= start < b for a, b in skip + taken)

    for m in TITLE.finditer(line):
        if not free(m.start()) or not is_law_title(m.group(1)):
            continue
        art = AFTER_TITLE.match(line, m.end())
        end = art.end() if art else m.end()
        taken.append((m.start(), end))
        yield Mention(m.start(), line[m.start():end], m.group(1), number(art.group(1)) if art else None)
    for m in ARTICLE.finditer(line):
        if not free(m.start()):
            continue
        before = line[:m.start()]
        if NOT_LAW_BEFORE.search(before):
            continue   # a contract's clause, or an article after a title that is not a law
        named = LAW_NAME_BEFORE.search(before)
        if named or BIG.match(m.group(1)):
            yield Mention(m.start(), m.group(0), named.group(1) if named else None, number(m.group(1)))


def same_law(name: str, entry: Mapping) -> bool:
    name = name.strip("【】")
    return any(name == n or name.endswith(n) for n in (entry["law"], entry["short"]))


def advice(mention: Mention, laws: Iterable[Mapping]) -> str:
    """What to write instead: the id when laws.yaml has the entry, else how to add it."""
    entries = list(laws)
    same = [e for e in entries if mention.name and same_law(mention.name, e)]
    ids = "、".join(f"[[law:{e['id']}]]" for e in same[:SHOWN]) + (f" 等 {len(same)} 条" if len(same) > SHOWN else "")
    add = "核实条文后在 snippets/laws.yaml 加一条，再写 [[law:<新 id>]]"
    if mention.article is None:
        whole = [e for e in same if not e.get("article")]
        if len(whole or same) == 1:
            return f"请写 [[law:{(whole or same)[0]['id']}]]"
        if same:
            return f"请写其中说到的那一条：{ids}"
        return f"laws.yaml 中没有这部法规：{add}"
    exact = [e for e in same if e.get("article") == mention.article]
    if exact:
        return f"请写 [[law:{exact[0]['id']}]]"
    if same:
        return f"laws.yaml 中还没有这一条：{add}（这部法规已有：{ids}）"
    if mention.name:
        return f"laws.yaml 中没有这部法规：{add}"
    return "请用 [[law:<id>]] 引用 snippets/laws.yaml 中的条目"


def message(mention: Mention, laws: Iterable[Mapping]) -> str:
    what = "条号" if mention.article is not None else "法规名称"
    return f"不要手打{what}“{mention.text}”：{advice(mention, laws)}"

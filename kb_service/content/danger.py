"""snippets/danger.yaml: the words callers use for an emergency, mapped to the emergency script
to show first on the lookup page, whatever else the search ranks.

Each rule: `words` (any one of them, plain text or a regular expression), optionally `with` (one
of these must be said too: 困 only counts with 电梯), `unless` (these cancel it: 消防演习) and
`not_after` (a word said right after one of these is negated or supposed, not happening: 没看见哪
冒烟, 打不着火, 万一着火; the same word said plainly elsewhere in the query still counts, so a
negation never cancels the whole query the way `unless` does).
Matched against the query as the search normalises it (Simplified, lower case), with the spaces
taken out, so 停了 里面有人 and 停了里面有人 are the same. Checked by `kb lint` (schema, every
pattern compiles, every script exists and is an emergency script) and loaded by the search.

Rules are tried in file order; every rule that matches contributes its script, first rule first.
A script the query names only to deny it (an `unless` said, or every word of it negated: 没有漏气,
消防演习, 台风过去了) and no rule matches is `denied`: the search does not open the page on it.
"""

from __future__ import annotations

import re
import re._constants as sre   # the parse tree of a pattern (required_chars); no public API has it
import re._parser as sre_parse
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path


from kb_service.content.checks import checked_once, load_settings_file
from kb_service.content.yamldoc import Problem

FILE = "danger.yaml"
SCHEMA = "danger.schema.json"


@dataclass(frozen=True)
class Rule:
    script: str
    words: re.Pattern
    with_: re.Pattern | None
    unless: re.Pattern | None
    not_after: re.Pattern | None = None   # compiled to end at the end of the text before a word
    reach: int = 8                         # how far before a word a negation may start (NEGATION_REACH)
    # characters one of which every match of `words` holds (required_chars), None when unknown
    needs: frozenset[str] | None = field(init=False, default=None, compare=False)
    # `words` as the scan for them reads it (guarded: the same matches, found sooner)
    scan: re.Pattern | None = field(init=False, default=None, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "needs", required_chars(self.words.pattern))
        object.__setattr__(self, "scan", guarded(self.words))

    def hit(self, text: str) -> bool:
        # `with` first: a short list, absent from most queries, that spares the long `words` scan;
        # then whether the text holds any character a word needs (most queries hold none of
        # most rules': the scan of a long alternation cost ten times that look)
        return ((self.with_ is None or self.with_.search(text) is not None)
                and (self.needs is None or not self.needs.isdisjoint(text))
                and self._said(text)
                and (self.unless is None or self.unless.search(text) is None))

    def denied(self, text: str) -> bool:
        """The caller named this danger only to say it is not happening: its `with` said, and an
        `unless` said (消防演习, 燃气费, 台风过去了) or every word of it negated (没有漏气)."""
        if self.with_ is not None and self.with_.search(text) is None:
            return False
        if self.unless is not None and self.unless.search(text) is not None:
            return True
        return self.words.search(text) is not None and not self._said(text)

    def _said(self, text: str) -> bool:
        """A word of the rule said, and not right after a negation (not_after)."""
        for m in self.scan.finditer(text):
            if self.not_after is None or self.not_after.search(text, max(0, m.start() - self.reach), m.start()) is None:
                return True
        return False


# How far before a word a negation may start (没看见哪里 冒烟: five characters).
NEGATION_REACH = Rule.reach

# Frequent in callers' sentences: a required character among these lets most queries through to
# the full scan, so another one of the same pattern is chosen where there is one.
_COMMON = frozenset("的了是我你他她们有在不没这那个一人家里上下大小说去来到就都也还要会能好水电门楼")


def required_chars(pattern: str) -> frozenset[str] | None:
    """A set of characters one of which every match of the pattern holds (or None when the
    pattern's shape does not say): a match of 臭鸡蛋|漏气 holds 臭 or 漏. Read off the pattern's
    parse tree: a sequence needs what one of its parts needs, an alternation the union of what
    each branch needs, a repeat what its body needs if it must occur, lookarounds nothing.
    A text holding none of them cannot match, so the scan can be skipped; one that holds some is
    scanned as before, so the answer never changes."""
    try:
        tree = sre_parse.parse(pattern)
    except (re.error, RecursionError):
        return None
    if tree.state.flags & (sre.SRE_FLAG_IGNORECASE | sre.SRE_FLAG_VERBOSE):
        return None
    found = _needs(list(tree))
    return frozenset(found) if found else None


def first_chars(pattern: str) -> frozenset[str] | None:
    """The characters a match of the pattern can begin with (None when any, or when the pattern
    can match empty text): 煤气|(?<!没)漏气 begins with 煤 or 漏. Read off the parse tree like
    required_chars; lookarounds and anchors at the start consume nothing and are passed over."""
    try:
        tree = sre_parse.parse(pattern)
    except (re.error, RecursionError):
        return None
    if tree.state.flags & (sre.SRE_FLAG_IGNORECASE | sre.SRE_FLAG_VERBOSE) or tree.getwidth()[0] == 0:
        return None
    found = _firsts(list(tree))
    return frozenset(found) if found else None


def _firsts(items: list) -> set[str] | None:
    out: set[str] = set()
    for op, av in items:
        if op in (sre.ASSERT, sre.ASSERT_NOT, sre.AT):
            continue
        if op is sre.LITERAL:
            return out | {chr(av)}
        if op is sre.IN:
            if any(o is not sre.LITERAL for o, _ in av):   # a negated set, a range, a category
                return None
            return out | {chr(c) for _, c in av}
        if op is sre.SUBPATTERN:
            _group, add_flags, _del_flags, sub = av
            if add_flags & sre.SRE_FLAG_IGNORECASE:
                return None
            branches = [sub]
        elif op is sre.BRANCH:
            branches = av[1]
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) and av[0] <= 1:
            branches = [av[2]] if av[0] == 1 else [av[2], []]   # {0,n}: it, or what follows
        else:
            return None   # any character, a back reference, a repeat of many
        optional = False
        for branch in branches:
            found = _firsts(list(branch))
            if found is None:
                if branch:   # any character may begin it (or nothing said it cannot)
                    return None
                optional = True   # an empty branch: what follows begins the match
                continue
            out |= found
            if sre_parse.SubPattern(sre_parse.State(), list(branch)).getwidth()[0] == 0:
                optional = True
        if not optional:
            return out
    return None   # all of it may be empty: any character may begin a match


def guarded(rx: re.Pattern) -> re.Pattern:
    """The pattern behind a lookahead for the characters its matches begin with (first_chars):
    the same matches, but a position no match can begin at is passed by one class test instead of
    trying every alternative (a rule of a hundred words, a lookbehind among them, took 25 us a
    sentence to scan, 6.5 us guarded). The pattern itself when they are not known."""
    chars = first_chars(rx.pattern)
    if not chars:
        return rx
    return _compiled("(?=[" + "".join(re.escape(c) for c in sorted(chars)) + "])(?:" + rx.pattern + ")")


def _needs(items: list) -> set[str] | None:
    best = None
    for op, av in items:
        need = _need(op, av)
        if need is not None and (best is None or _cost(need) < _cost(best)):
            best = need
    return best


def _cost(chars: set[str]) -> int:
    return len(chars) + 10 * len(chars & _COMMON)


def _need(op, av) -> set[str] | None:
    if op is sre.LITERAL:
        return {chr(av)}
    if op is sre.IN:
        if any(o is not sre.LITERAL for o, _ in av):   # a negated set, a range, a category
            return None
        return {chr(c) for _, c in av}
    if op is sre.SUBPATTERN:
        _group, add_flags, _del_flags, sub = av
        return None if add_flags & sre.SRE_FLAG_IGNORECASE else _needs(list(sub))
    if op is sre.ATOMIC_GROUP:
        return _needs(list(av))
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
        least, _most, sub = av
        return _needs(list(sub)) if least >= 1 else None
    if op is sre.BRANCH:
        union: set[str] = set()
        for branch in av[1]:
            need = _needs(list(branch))
            if need is None:
                return None
            union |= need
        return union
    return None   # lookarounds, anchors, any character, back references: no character needed


@dataclass(frozen=True)
class Lexicon:
    rules: tuple[Rule, ...] = ()
    # `calm`: a call asking about a fee, a purchase or an inspection, or about something over (and
    # not happening again): see calm_call
    asking: re.Pattern | None = None
    over: re.Pattern | None = None
    again: re.Pattern | None = None

    def calm_call(self, text: str) -> bool:
        """Whether the normalised query asks about a fee, a purchase or an inspection (地下车库停车费
        怎么收) or speaks of something over (上个月停水那两天) without saying it is happening again (又,
        现在): with no rule matched, an emergency script first by its words alone is not the first option."""
        flat = re.sub(r"\s+", "", text)
        if self.asking is not None and self.asking.search(flat) is not None:
            return True
        return self.over is not None and self.over.search(flat) is not None \
            and (self.again is None or self.again.search(flat) is None)

    def match(self, text: str) -> list[str]:
        """Emergency script ids for the normalised query, in rule order, each once."""
        flat = re.sub(r"\s+", "", text)
        out: list[str] = []
        for rule in self.rules:
            if rule.script not in out and rule.hit(flat):
                out.append(rule.script)
        return out

    def ordered(self, scripts) -> list[str]:
        """These emergency scripts in the lexicon's order (the order of their first rules)."""
        place = {}
        for n, rule in enumerate(self.rules):
            place.setdefault(rule.script, n)
        return sorted(dict.fromkeys(scripts), key=lambda sid: place.get(sid, len(place)))

    def denied(self, text: str) -> set[str]:
        """Emergency scripts the normalised query names only to deny (Rule.denied) and no rule
        matches: the page does not open on them (an ordinary script answers 没有漏气 只是想改管道)."""
        flat = re.sub(r"\s+", "", text)
        said = set(self.match(text))
        return {r.script for r in self.rules if r.script not in said and r.denied(flat)}


EMPTY = Lexicon()


def compile_words(doc, keys, patterns: list[str], problems: list[Problem], *, at_end: bool = False) -> re.Pattern | None:
    """An editor's list of words and patterns as one alternation (anchored at the end with
    `at_end`), or None when none is usable; a problem at the place of each one that does not
    compile or matches empty text. Shared with outside.py, whose lists are written the same way."""
    good = []
    for i, p in enumerate(patterns):
        try:
            rx = _compiled(p)
        except re.error as exc:
            problems.append(doc.problem_at([*keys, i], exc.pos or 0,
                                           f"“{p}”不是有效的正则表达式：{exc.msg}（只想写普通的词时，去掉 ( ) [ ] . * ? + 等符号）"))
            continue
        if rx.search("") is not None:
            problems.append(doc.problem([*keys, i], f"“{p}”能匹配空文本，任何查询都会命中"))
            continue
        good.append(f"(?:{p})")
    if not good:
        return None
    return _compiled("(?:" + "|".join(good) + ")$") if at_end else _compiled("|".join(good))


@lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern:
    """re.compile with a cache of its own: the lexicons hold some 600 patterns, more than re's
    own cache keeps (512), so every opening of the search compiled all of them again (60 ms)."""
    return re.compile(pattern)


def check(snippets_dir: Path, scripts: dict | None) -> tuple[Lexicon | None, list[Problem]]:
    """The lexicon and its problems; (EMPTY, []) when the file does not exist.

    `scripts` maps script ids to scripts (their category is checked), None when unknown."""
    if not (snippets_dir / FILE).exists():
        return EMPTY, []
    doc, data, problems = load_settings_file(snippets_dir, FILE, SCHEMA)
    if doc is None:
        return None, problems
    rules = []
    for n, raw in enumerate(data["rules"]):
        sid = raw["script"]
        if scripts is not None:
            if sid not in scripts:
                problems.append(doc.problem(["rules", n, "script"], f"{sid} 不是话术 id（snippets/scripts/ 里没有）"))
            elif getattr(scripts[sid], "category", "emergency") != "emergency":
                problems.append(doc.problem(["rules", n, "script"], f"{sid} 不是紧急情况话术（分类应为 emergency）"))
        words = compile_words(doc, ["rules", n, "words"], raw["words"], problems)
        with_ = compile_words(doc, ["rules", n, "with"], raw.get("with") or [], problems)
        unless = compile_words(doc, ["rules", n, "unless"], raw.get("unless") or [], problems)
        not_after = compile_words(doc, ["rules", n, "not_after"], raw.get("not_after") or [], problems, at_end=True)
        if words is not None:
            rules.append(Rule(sid, words, with_, unless, not_after))
    calm = data.get("calm") or {}
    asking, over, again = (compile_words(doc, ["calm", key], calm.get(key) or [], problems)
                           for key in ("asking", "over", "again"))
    if problems:
        return None, problems
    return Lexicon(tuple(rules), asking, over, again), []


def load(snippets_dir: Path, scripts: dict | None) -> Lexicon:
    """The checked lexicon; EMPTY when the file has problems (kb lint reports them)."""
    checked_against = None if scripts is None else tuple(
        sorted((sid, getattr(s, "category", "emergency")) for sid, s in scripts.items()))
    return checked_once(snippets_dir, FILE, SCHEMA, checked_against,
                        lambda: check(snippets_dir, scripts)[0] or EMPTY)

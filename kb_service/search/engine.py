"""Script search with Whoosh: index scripts, templates and handbook sections; answer staff queries.

Tokens are produced by textproc (words, character n-grams, pinyin) and stored space-separated,
so the index holds only Whoosh's own analyzer classes and opens anywhere. The index is built by
`kb build` and opened read-only by the service: several processes can share one build.

A query is a Plan (build_query): its pieces, each looked up in several fields with a boost, and
pinyin phrases; Plan.query() is the same search as a Whoosh query (an Or of boosted Terms and
Phrases). The corpus is small (a few hundred documents), so answering it through Whoosh's
generic matcher tree costs far more than the arithmetic: `kb build` therefore also writes every
posting's BM25F score as Whoosh computes it (plus term positions for the phrase fields) to
search-postings.json. The service loads that file at open and evaluates plans in memory, by
summing the exported scores: the ranking is Whoosh's BM25F, checked against Whoosh itself by
tests/search/test_search.py.
"""

from __future__ import annotations

import gc
import itertools
import html
import json
import re
import time
from array import array
from dataclasses import dataclass
from functools import cached_property
from math import log
from pathlib import Path
from typing import Callable, Iterable

from pymdownx.slugs import slugify
from ruamel.yaml import YAML
from whoosh import index as windex
from whoosh import query as Q
from whoosh import scoring
from whoosh.analysis import LowercaseFilter, SpaceSeparatedTokenizer
from whoosh.codec.whoosh3 import W3Codec
from whoosh.fields import ID, STORED, TEXT, Schema
from whoosh.util.numeric import byte_to_length, length_to_byte

from kb_service.content import danger, intents, outside
from kb_service.content.markup import expand_inline
from kb_service.content.model import AVOID_TEXT, STEP_TEXT, Corpus, Script, Snippet, Template
from kb_service.errors import UsageError
from kb_service.search import confidence, pinyin_danger, textproc
from kb_service.search.typos import Typos

INDEX_NAME = "kb"
META = "search-meta.json"
POSTINGS = "search-postings.json"
POSTINGS_VERSION = 2   # 2: callers_say fields (c_words, c_bi)
STORED_FIELDS = ("id", "kind", "title", "url", "text")
SCORED_FIELDS = ("t_words", "a_words", "g_words", "b_words", "t_bi", "b_bi", "t_uni", "py", "pyi", "pyb",
                 "c_words", "c_bi")
PHRASE_FIELDS = ("py", "pyi")  # the only fields build_query puts phrases on: keep their positions
_analyzer = SpaceSeparatedTokenizer() | LowercaseFilter()
_slug = slugify(case="lower")

# Query-time weights: title and aliases above tags above body; homophones below all exact fields.
WEIGHTS = {
    "t_words": 6.0, "a_words": 5.0, "g_words": 3.0, "b_words": 1.0,
    "t_bi": 3.0, "b_bi": 0.6, "t_uni": 0.4,
    "homophone": 2.0, "pinyin": 4.0, "initials": 3.0, "synonym": 0.8,
    # callers_say (业主原话): spoken, so their words weigh less than an alias but more than the
    # body; their bigrams catch the phrasings jieba cuts differently (没水 in 怎么没水了). With
    # 8-10 lines for every script, callers' own words are the best evidence a spoken query has:
    # 3.5/2.0 rather than 2.5/1.2 (bench/README.md, issue 23: dev2 recall@1 up, dev unchanged).
    "c_words": 3.5, "c_bi": 2.0,
}
# A template (a notice to post, a written reply) is what staff write after the call; a script is what
# they say during it. At 1.0 templates often came first for a caller's own words (这事我已经打了四五次电话了
# 每次都说会处理 -> the written "complaint resolved" reply; 停车场的道闸 -> the parking-change notice):
# 0.9 (rank8, issue 23) puts the script first when the two are close. A search for a template by its own
# words still finds it in the top 3 (tests/data/queries-templates.tsv recall@3 0.967, recall@1 0.767 -> 0.667).
KIND_PRIOR = {"script": 1.0, "template": 0.9, "page": 0.75}


def schema() -> Schema:
    # Positions only where build_query puts phrases: writing them for every field cost a third
    # of the index's commit, and a Term's score does not depend on them.
    scored = {f: TEXT(analyzer=_analyzer, phrase=f in PHRASE_FIELDS) for f in SCORED_FIELDS}
    return Schema(id=ID(stored=True, unique=True), kind=ID(stored=True), title=STORED(), url=STORED(),
                  text=STORED(), **scored)


@dataclass
class Doc:
    id: str
    kind: str
    title: str
    url: str
    aliases: list[str]
    tags: list[str]
    body: str
    callers: list[str] = None   # callers_say: what callers say, indexed on its own

    def __post_init__(self):
        self.callers = list(self.callers or [])


# -- documents --------------------------------------------------------------------------------

def snippet_doc(corpus: Corpus, s: Snippet) -> Doc:
    parts = [corpus.expand(s.summary), corpus.expand(s.applies_when)]
    if isinstance(s, Script):
        for step in s.steps:
            parts += [corpus.expand(step.get(k, "")) for k in STEP_TEXT]
        parts += [corpus.expand(a.get(k, "")) for a in s.avoid for k in AVOID_TEXT]
    elif isinstance(s, Template):
        parts += [f["label"] + " " + f.get("help", "") for f in s.fields]
        sms = s.channels.get("sms", "")
        parts.append(re.sub(r"\{[a-z0-9_]+\}", " ", sms))
    return Doc(s.id, s.kind, s.title, s.url, list(s.aliases), list(s.tags),
               "\n".join(p for p in parts if p), list(getattr(s, "callers_say", []) or []))


FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
FRONT = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)
MD_NOISE = [
    (re.compile(r"<!--.*?-->", re.DOTALL), " "),
    (re.compile(r"<[^>]+>"), " "),
    (re.compile(r"!\[[^\]]*\]\([^)]*\)"), " "),
    (re.compile(r"\[([^\]]*)\]\([^)]*\)"), r"\1"),
    (re.compile(r"^\s*(!!!|\?\?\?\+?|===)\s*\S*\s*", re.MULTILINE), ""),
    (re.compile(r"[*_`>#|]|:material-[a-z-]+:|-{3,}"), " "),
    (re.compile(r"^\s*[-+] \[[ xX]\]\s*", re.MULTILINE), ""),
]


def page_docs(docs_dir: Path, standards: dict | None = None, laws: dict | None = None) -> Iterable[Doc]:
    """Every `##` section of the Markdown pages, with a link to its heading.

    `[[std:<id>]]` and `[[law:<id>]]` are expanded as on the built page ("24小时")."""
    for path in sorted(docs_dir.rglob("*.md")):
        rel = path.relative_to(docs_dir).as_posix()
        url = "/" + (rel[:-len("index.md")] if rel.endswith("index.md") else rel[:-3] + "/")
        text = path.read_text(encoding="utf-8")
        text = expand_inline(text, standards or {}, laws or {})
        text = FENCE.sub(" ", FRONT.sub("", text))
        h1 = re.search(r"^# (.+)$", text, re.MULTILINE)
        page_title = h1.group(1).strip() if h1 else rel
        sections = re.split(r"^## ", text, flags=re.MULTILINE)
        head = sections[0][h1.end():] if h1 else sections[0]
        if clean(head).strip():
            yield Doc(f"page:{rel}", "page", page_title, url, [], [], clean(head))
        for section in sections[1:]:
            heading, _, body = section.partition("\n")
            heading = heading.strip()
            yield Doc(f"page:{rel}#{_slug(heading, '-')}", "page", f"{page_title} › {heading}",
                      f"{url}#{_slug(heading, '-')}", [], [], clean(body))


def clean(markdown: str) -> str:
    for pattern, repl in MD_NOISE:
        markdown = pattern.sub(repl, markdown)
    return re.sub(r"[ \t]+", " ", re.sub(r"\n\s*\n+", "\n", markdown)).strip()


def fields_for(doc: Doc) -> dict[str, str]:
    title = textproc.normalize(doc.title)
    aliases, tags = [textproc.normalize(a) for a in doc.aliases], [textproc.normalize(t) for t in doc.tags]
    body = textproc.normalize(doc.body)
    callers = [textproc.core(textproc.normalize(c)) for c in doc.callers]
    heads = [title] + aliases + tags
    sylls = [textproc.syllables(h) for h in heads]
    return {
        "id": doc.id, "kind": doc.kind, "title": doc.title, "url": doc.url, "text": doc.body,
        "t_words": textproc.join([textproc.words(title, stop=False)]),
        "a_words": textproc.join([textproc.words(a, stop=False) + [a] for a in aliases]),
        "g_words": textproc.join([textproc.words(t, stop=False) + [t] for t in tags]),
        "b_words": textproc.join([textproc.words(line) for line in body.splitlines()]),
        "t_bi": textproc.join([textproc.bigrams(h) for h in heads]),
        "b_bi": textproc.join([textproc.bigrams(line) for line in body.splitlines()]),
        "t_uni": textproc.join([textproc.unigrams(h) for h in heads]),
        "py": textproc.join(sylls),
        "pyi": textproc.join([textproc.initials(s) for s in sylls]),
        "pyb": textproc.join([textproc.syllable_pairs(s) for s in sylls]),
        "c_words": textproc.join([textproc.words(c) for c in callers]),
        "c_bi": textproc.join([textproc.bigrams(c) for c in callers]),
    }


def build_index(corpus: Corpus, docs_dir: Path, index_dir: Path) -> int:
    index_dir.mkdir(parents=True, exist_ok=True)
    ix = windex.create_in(str(index_dir), schema(), indexname=INDEX_NAME)
    docs = [snippet_doc(corpus, s) for s in corpus.snippets.values()] + list(page_docs(docs_dir, corpus.standards, corpus.laws))
    values = [fields_for(doc) for doc in docs]
    # Uncompressed blocks: the service reads its postings from POSTINGS, and the Whoosh index only
    # when that file is missing or older (and in the tests, as the reference for the scores), so
    # zlib's 55,000 block compressions were a tenth of every build for a few percent of disk.
    with ix.writer(codec=W3Codec(compression=0)) as writer:
        for f in values:
            writer.add_document(**f)
    vocabulary = {syllable for f in values for syllable in f["py"].split()} - {textproc.SEP}
    (index_dir / META).write_text(json.dumps({"syllables": sorted(vocabulary), "documents": len(values)},
                                             ensure_ascii=False))
    (index_dir / POSTINGS).write_text(json.dumps(postings_of(values), ensure_ascii=False,
                                                 separators=(",", ":")), encoding="utf-8")
    return len(values)


# BM25F's parameters (Whoosh's defaults), with no length normalisation for callers_say: how many
# lines editors wrote for a script says nothing about how well one of them matches (and while few
# scripts have any, the average length is near zero and would crush the scripts that do).
BM25_K1, BM25_B = 1.2, 0.75
FIELD_B = {"c_words": 0.0, "c_bi": 0.0}


def weighting() -> scoring.BM25F:
    return scoring.BM25F(B=BM25_B, K1=BM25_K1, **{f"{field}_B": b for field, b in FIELD_B.items()})


def postings_of(values: list[dict[str, str]]) -> dict:
    """What export_postings reads back from a Whoosh index of these documents (fields_for's
    values, in the order they were added), computed from the documents themselves: reading 50,000
    postings back through Whoosh's scorers cost half of `build_index`.

    Every number is made the way Whoosh makes it, so that the two are equal to the last bit
    (tests/search/test_search.py): the analyzer's tokens; the term's weight, its frequency in the
    field; the field length as the index stores it, a byte (length_to_byte, lossy above 8); the
    average field length from the exact total; Whoosh's idf; and scoring.bm25 itself."""
    count = len(values)
    docs = [[f.get(k, "") for k in STORED_FIELDS] for f in values]
    fields: dict[str, dict[str, list]] = {}
    for field in SCORED_FIELDS:
        found: dict[str, dict[int, list[int]]] = {}   # term -> document -> positions
        lengths = [0] * count
        for n, f in enumerate(values):
            for token in _analyzer(f.get(field, ""), positions=True):
                found.setdefault(token.text, {}).setdefault(n, []).append(token.pos)
                lengths[n] += 1
        stored = [byte_to_length(b) if (b := length_to_byte(length)) else 0 for length in lengths]
        average = sum(lengths) / (count or 1) or 1
        b = FIELD_B.get(field, BM25_B)
        table = fields[field] = {}
        for term in sorted(found, key=lambda t: t.encode("utf-8")):   # Whoosh's term order
            where = found[term]
            idf = log(count / (len(where) + 1)) + 1
            ids = sorted(where)
            scores = [scoring.bm25(idf, float(len(where[d])), stored[d], average, b, BM25_K1) for d in ids]
            table[term] = [ids, scores, [where[d] for d in ids]] if field in PHRASE_FIELDS else [ids, scores]
    return {"version": POSTINGS_VERSION, "stored": list(STORED_FIELDS), "docs": docs, "fields": fields}


def export_postings(ix) -> dict:
    """Stored fields by document number, and for every term of the scored fields its documents
    with Whoosh's own BM25F score (and, for phrase fields, the term's positions in each): for an
    index from a build older than its postings file, and as the reference postings_of is tested
    against."""
    with ix.searcher(weighting=weighting()) as searcher:
        reader = searcher.reader()
        docs = [None] * searcher.doc_count_all()
        for docnum, stored in reader.iter_docs():
            docs[docnum] = [stored.get(k, "") for k in STORED_FIELDS]
        fields: dict[str, dict[str, list]] = {}
        for field in SCORED_FIELDS:
            table = fields[field] = {}
            if field not in reader.indexed_field_names():
                continue
            for term in reader.field_terms(field):
                m = searcher.postings(field, term)
                ids, scores, positions = [], [], []
                while m.is_active():
                    ids.append(m.id())
                    scores.append(m.score())
                    if field in PHRASE_FIELDS:
                        positions.append(list(m.value_as("positions")))
                    m.next()
                table[term] = [ids, scores, positions] if field in PHRASE_FIELDS else [ids, scores]
    return {"version": POSTINGS_VERSION, "stored": list(STORED_FIELDS), "docs": docs, "fields": fields}


# -- queries ----------------------------------------------------------------------------------

_SYNONYMS: dict[tuple, list[list[str]]] = {}


@dataclass
class Synonyms:
    groups: list[list[str]]

    @classmethod
    def load(cls, path: Path) -> "Synonyms":
        try:
            st = path.stat()
        except OSError:
            return cls([])
        key = (str(path), st.st_mtime_ns, st.st_size)
        groups = _SYNONYMS.get(key)
        if groups is None:   # every service start and preview reload reads the same file
            data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8")) or {}
            groups = [[textproc.normalize(str(w)) for w in g] for g in data.get("groups", [])]
            _SYNONYMS.clear()
            _SYNONYMS[key] = groups
        return cls([list(g) for g in groups])

    def __post_init__(self):
        # words by their first character: a query is read once, not once per group and word
        self._by_char: dict[str, list[tuple[str, int]]] = {}
        self._last: tuple[str | None, list] = (None, [])
        for n, group in enumerate(self.groups):
            for w in group:
                if w:
                    self._by_char.setdefault(w[0], []).append((w, n))

    def found(self, text: str) -> list[tuple[list[str], set[str]]]:
        """Each group the text names (in file order), with the words of it the text holds."""
        last = self._last   # read once: searches may run in several threads
        if last[0] == text:   # a search asks twice: for the query and for its coverage
            return last[1]
        hits: dict[int, set[str]] = {}
        by_char = self._by_char
        for i, c in enumerate(text):
            for w, n in by_char.get(c, ()):
                if text.startswith(w, i):
                    hits.setdefault(n, set()).add(w)
        found = [(self.groups[n], hits[n]) for n in sorted(hits)]
        self._last = (text, found)
        return found

    def expand(self, text: str) -> list[str]:
        """The words of every named group that the text does not hold."""
        return [w for group, present in self.found(text) for w in group if w not in present]


# The fields each kind of query piece is looked up in, with their boosts: build_query says which
# pieces a query has, and Plan.query() spells them out as Whoosh's Or of Terms.
CLAUSES: dict[str, tuple[tuple[str, float], ...]] = {
    "word": tuple((f, WEIGHTS[f]) for f in ("t_words", "a_words", "g_words", "b_words", "c_words")),
    "gram": tuple((f, WEIGHTS[f]) for f in ("t_bi", "b_bi", "c_bi")),
    "uni": (("t_uni", WEIGHTS["t_uni"]),),
    # a synonym the query does not say: below the word itself, and not in callers' lines
    "synonym": (("a_words", WEIGHTS["synonym"] * WEIGHTS["a_words"] / 2),
                ("t_words", WEIGHTS["synonym"] * WEIGHTS["t_words"] / 2), ("b_words", WEIGHTS["synonym"])),
    "pair": (("pyb", WEIGHTS["homophone"]),),
}


@dataclass(frozen=True)
class Plan:
    """What a query looks for: pieces (kind, token), each scored in CLAUSES[kind]'s fields, and
    pinyin phrases (field, syllables, boost). The service sums the pieces' postings merged over
    their fields (Postings.scores); `query()` is the same search as a Whoosh query, which the
    tests check the sums against."""
    pieces: tuple[tuple[str, str], ...]
    phrases: tuple[tuple[str, tuple[str, ...], float], ...] = ()

    def query(self) -> Q.Query:
        return Q.Or([_phrase(field, list(tokens), boost) for field, tokens, boost in self.phrases]
                    + [Q.Term(field, token, boost=boost)
                       for kind, token in self.pieces for field, boost in CLAUSES[kind]])


def build_query(text: str, vocabulary: frozenset[str], synonyms: Synonyms) -> tuple[Plan | None, list[str]]:
    """What to look for, plus the plain terms used for highlighting."""
    norm = textproc.normalize(text).strip()
    if not norm:
        return None, []
    phrases: list[tuple[str, tuple[str, ...], float]] = []
    marks: list[str] = []
    letters = re.sub(r"[\s']+", "", norm)
    if re.fullmatch(r"[a-z]{2,40}", letters):
        sylls = textproc.split_pinyin(letters, vocabulary)
        if sylls:
            phrases.append(("py", tuple(sylls), WEIGHTS["pinyin"]))
        if len(letters) <= 8:
            phrases.append(("pyi", tuple(letters), WEIGHTS["initials"]))
        # Pinyin typed word by word (wuyefei zenme jiao, louxia hen chao): the whole is no phrase
        # of any title, but each word may be; question words and particles say nothing.
        for chunk in pinyin_chunks(norm) if chunk_count(norm) > 1 else ():
            sylls = textproc.split_pinyin(chunk, vocabulary)
            if sylls and len(sylls) >= 2:
                phrases.append(("py", tuple(sylls), WEIGHTS["pinyin"]))
        spans = pinyin_words(norm, vocabulary) if chunk_count(norm) > 1 else []
        # Words split where a title does not split them (tingchewei bei zhan le: 车位被占 runs across
        # two words): runs of three or more syllables across a word boundary, as phrases too.
        flat = [s for span in spans for s in span]
        ends = set(itertools.accumulate(len(span) for span in spans))
        for size in range(3, min(len(flat), PINYIN_RUN) + 1):
            for i in range(len(flat) - size + 1):
                if any(i < e < i + size for e in ends):
                    phrases.append(("py", tuple(flat[i:i + size]), WEIGHTS["pinyin"]))
    words = textproc.words(norm)
    pieces = [("word", w) for w in dict.fromkeys(words)]
    marks += words
    grams = list(dict.fromkeys(textproc.bigrams(norm)))
    pieces += [("gram", g) for g in grams]
    pieces += [("uni", c) for c in dict.fromkeys(textproc.unigrams(norm))]
    # A synonym's words once each, and none the query already has: 物业费's group (管理费,
    # 物业管理费, 物业服务费) would otherwise count 物业 and 管理 two and three times more, and a
    # generic word outweigh the one that says what is asked (退 in 退物业费).
    seen = set(words)
    for extra in synonyms.expand(norm):
        for w in textproc.words(extra, stop=False) or [extra]:
            if w in seen:
                continue
            seen.add(w)
            pieces.append(("synonym", w))
        marks.append(extra)
    # Homophone typos from a pinyin keyboard (停税 for 停水): adjacent syllable pairs of the query
    # against those of titles, aliases and tags. Plain terms, not phrases, to stay fast;
    # weighted below the exact fields so they never outrank a real match.
    pieces += [("pair", p) for p in dict.fromkeys(textproc.syllable_pairs(textproc.syllables(norm)))]
    marks += grams
    return (Plan(tuple(pieces), tuple(phrases)) if pieces or phrases else None), marks


PINYIN_RUN = 5   # the longest run of syllables across words tried as a phrase

# Pinyin of question words and particles: how a pinyin query asks, not what about.
PINYIN_FILLERS = frozenset("""zenme zenmeban shenme weishenme nage zhege ma ne le de a ba ya ne wo ni
qingwen wen yixia keyi neng buneng shi bushi you meiyou""".split())


def pinyin_chunks(norm: str) -> list[str]:
    """The space-separated words of an all-letters query, without PINYIN_FILLERS."""
    return [c for c in re.split(r"[\s']+", norm) if c and c not in PINYIN_FILLERS]


def pinyin_words(norm: str, vocabulary: frozenset[str]) -> list[list[str]]:
    """The syllables of each word of an all-letters query (a word that is not pinyin: none)."""
    return [textproc.split_pinyin(chunk, vocabulary) or [] for chunk in re.split(r"[\s']+", norm) if chunk]


def chunk_count(norm: str) -> int:
    return len([c for c in re.split(r"[\s']+", norm) if c])


_LETTER_RUN = re.compile(r"[a-z]{3}")   # a query with pinyin typed among other things (a cheap first look)
_LETTERS_OR_CJK = re.compile(r"[a-z]+|[\u3400-\u9fff]+")


def pinyin_letters(norm: str) -> int:
    """How many letters of an all-letters query say what it is about (0 for any other query)."""
    letters = re.sub(r"[\s']+", "", norm)
    if not re.fullmatch(r"[a-z]{2,40}", letters):
        return 0
    return sum(map(len, pinyin_chunks(norm))) or len(letters)


def _phrase(field: str, tokens: list[str], boost: float) -> Q.Query:
    if len(tokens) == 1:
        return Q.Term(field, tokens[0], boost=boost)
    return Q.Phrase(field, tokens, boost=boost)


def highlight(text: str, marks: list[str], width: int = 64) -> str:
    """A window of the text around the first match, escaped, with matches in <mark>."""
    return _highlight(*flatten(text), Marks(marks), width)


_CJK_PAIR = re.compile(r"[\u3400-\u9fff]{2}")


class Marks:
    """The terms to mark in results, matched as an alternation longest first would (停水通知 is
    marked whole rather than 停水 + 通知). Not a regular expression: every query has new terms,
    and compiling their alternation cost a fifth of a search (bench/README.md, session 14)."""

    __slots__ = ("terms", "heads", "_in")

    def __init__(self, marks: Iterable[str], docs_with: Callable[[str], int] | None = None):
        self.terms = sorted({m for m in marks if m}, key=len, reverse=True)
        # Where the earliest match starts, only terms that begin no longer one need looking for: 停水
        # is found wherever 停水通知 is, never later (the query's bigrams begin most of its words).
        known = set(self.terms)
        self.heads = [t for t in self.terms if not any(t[:k] in known for k in range(1, len(t)))]
        # docs_with(term): the documents whose text may hold the term, as bits (see Postings.docs_mask;
        # -1: any). Looked up once per query, it spares reading a result's whole text for a term that
        # is not in it: most of a long query's, and the reading was a tenth of a search.
        self._in = {t: docs_with(t) for t in self.terms} if docs_with is not None else None

    def first(self, text: str, chars: frozenset[str] | None = None, doc: int = -1) -> int:
        """Where the earliest match starts (-1: none). `chars`, the text's characters, and `doc`,
        the document's number for docs_with, spare reading the whole text for a term it cannot hold."""
        best = len(text)
        present = self._in if doc >= 0 else None
        for t in self.heads:   # each look stops where a match would no longer be the earliest
            if present is not None:
                if not present[t] >> doc & 1:
                    continue
            elif chars is not None and not chars.issuperset(t):
                continue
            at = text.find(t, 0, best + len(t) - 1)
            if at >= 0:
                best = at
        return best if best < len(text) else -1

    def spans(self, text: str, doc: int = -1) -> list[tuple[int, int]]:
        """Non-overlapping matches from left to right, the longest term at each position."""
        found = []
        present = self._in if doc >= 0 else None
        for t in self.terms:
            if present is not None and not present[t] >> doc & 1:
                continue
            at = text.find(t)
            while at >= 0:
                found.append((at, -len(t)))
                at = text.find(t, at + 1)
        out, pos = [], 0
        for at, negative in sorted(found):
            if at >= pos:
                pos = at - negative
                out.append((at, pos))
        return out


def flatten(text: str) -> tuple[str, str, frozenset[str]]:
    """The text on one line, its normalised form to find query terms in (same length), and the
    characters of that form."""
    flat = re.sub(r"\s+", " ", text).strip()
    norm = textproc.normalize(flat)  # same length as flat for CJK/ASCII text; used only to find positions
    norm = norm if len(norm) == len(flat) else flat
    return flat, norm, frozenset(norm)


def _highlight(flat: str, norm: str, chars: frozenset[str], marks: Marks, width: int = 64, doc: int = -1) -> str:
    first = max(marks.first(norm, chars, doc), 0)
    start = max(0, first - width // 4)
    end = min(len(flat), start + width)
    window, nwindow = flat[start:end], norm[start:end]
    out, pos = [], 0
    for a, b in marks.spans(nwindow, doc):
        out += [html.escape(window[pos:a]), "<mark>", html.escape(window[a:b]), "</mark>"]
        pos = b
    out.append(html.escape(window[pos:]))
    return ("…" if start > 0 else "") + "".join(out) + ("…" if end < len(flat) else "")


class Postings:
    """The exported postings in memory: evaluates build_query's plans."""

    def __init__(self, data: dict):
        if data.get("version") != POSTINGS_VERSION or data.get("stored") != list(STORED_FIELDS):
            raise ValueError("postings file from another version")
        self.docs = [dict(zip(STORED_FIELDS, d)) for d in data["docs"]]
        # field -> term -> (doc numbers, scores), as arrays: compact, and nothing for the cyclic
        # garbage collector to walk on every collection; phrase fields also doc -> (score, positions)
        self.fields: dict[str, dict[str, tuple[array, array]]] = {}
        self.positions: dict[str, dict[str, dict[int, tuple[float, frozenset[int]]]]] = {}
        for field, table in data["fields"].items():
            self.fields[field] = {t: (array("i", e[0]), array("d", e[1])) for t, e in table.items()}
            if field in PHRASE_FIELDS:
                self.positions[field] = {t: {d: (sc, frozenset(ps)) for d, sc, ps in zip(*e)}
                                         for t, e in table.items()}
        self.by_kind: dict[str, frozenset[int]] = {}
        for n, d in enumerate(self.docs):
            self.by_kind.setdefault(d["kind"], set()).add(n)
        self.by_kind = {k: frozenset(v) for k, v in self.by_kind.items()}
        # scripts and templates by their id, as tickets and the handbook cite them (complaint.noise)
        self.by_id = {d["id"].lower(): n for n, d in enumerate(self.docs) if d["kind"] != "page"}
        self._sets: dict[tuple[str, str], int] = {}
        self._merged: dict[tuple[str, str], tuple[list[int], list[float]]] = {}

    @cached_property
    def char_weights(self) -> dict[str, float]:
        """confidence.char_weights of the documents: once per postings (they are shared by every
        Searcher opened on the same index), not once per service start."""
        return confidence.char_weights([d["title"] + " " + d["text"] for d in self.docs])

    @cached_property
    def typos(self) -> Typos:
        """Homophone typos of head words (search/typos.py), once per postings."""
        return Typos(self.fields)

    def docs_mask(self, field: str, term: str) -> int:
        """The documents whose indexed field holds the term, as the bits of an int (bit n:
        document n; memoised: the postings never change)."""
        key = (field, term)
        found = self._sets.get(key)
        if found is None:
            found = 0
            for d in self.fields.get(field, {}).get(term, ((), ()))[0]:
                found |= 1 << d
            if len(self._sets) < 200_000:   # queries are unbounded; the memo must not be
                self._sets[key] = found
        return found

    def in_text(self, term: str) -> int:
        """The documents whose text (the stored body results are highlighted in) may hold the term,
        as bits: for two or more CJK characters those whose body has its first two, else all (-1)."""
        if len(term) >= 2 and _CJK_PAIR.match(term):
            return self.docs_mask("b_bi", term[:2])
        return -1

    def merged(self, kind: str, token: str) -> tuple[list[int], list[float]]:
        """The documents holding the token in any of CLAUSES[kind]'s fields, each with its boosted
        scores summed over them (memoised: one loop per piece instead of one per field)."""
        key = (kind, token)
        found = self._merged.get(key)
        if found is None:
            acc: dict[int, float] = {}
            for field, boost in CLAUSES[kind]:
                entry = self.fields.get(field, {}).get(token)
                if entry is not None:
                    for d, sc in zip(*entry):
                        acc[d] = acc.get(d, 0.0) + sc * boost
            found = (list(acc), list(acc.values()))
            if len(self._merged) < 200_000:   # queries are unbounded; the memo must not be
                self._merged[key] = found
        return found

    def scores(self, plan: Plan | None, phrase_hits: dict[int, int] | None = None) -> dict[int, float]:
        """Document number -> score, as Whoosh's BM25F searcher would give for plan.query().
        `phrase_hits`, when given, collects the documents a phrase (pinyin) clause matched, with
        the letters of the matched phrases."""
        if plan is None:
            return {}
        # A score slot per document (a few hundred): list indexing beats dict lookups here. Every
        # match adds a positive score (BM25 with Whoosh's idf, positive boosts), so the documents
        # hit are those whose total is not zero.
        total = [0.0] * len(self.docs)
        merged = self.merged
        for kind, token in plan.pieces:
            for d, sc in zip(*merged(kind, token)):
                total[d] += sc
        for field, tokens, boost in plan.phrases:
            if len(tokens) == 1:
                entry = self.fields.get(field, {}).get(tokens[0])
                for d, sc in zip(*entry) if entry is not None else ():
                    total[d] += sc * boost
            else:
                acc: dict[int, float] = {}
                self._phrase(field, tokens, boost, acc, phrase_hits)
                for d, sc in acc.items():
                    total[d] += sc
        return {d: t for d, t in enumerate(total) if t}

    def _phrase(self, field: str, words: tuple[str, ...], boost: float, acc: dict[int, float],
                hits: dict[int, int] | None = None) -> None:
        table = self.positions.get(field, {})
        entries = [table.get(w) for w in words]
        if not entries or any(e is None for e in entries):
            return
        common = set(entries[0]).intersection(*entries[1:])
        for d in common:
            first, rest = entries[0][d][1], [e[d][1] for e in entries[1:]]
            if any(all(p + i in ps for i, ps in enumerate(rest, 1)) for p in first):
                acc[d] = acc.get(d, 0.0) + sum(e[d][0] for e in entries) * boost
                if hits is not None:
                    hits[d] = hits.get(d, 0) + sum(map(len, words))


# Postings are read-only once built (Postings._sets is a memo of the same data), so a process
# that opens the same unchanged index again (a second app in one process, the preview's reload
# after a build that left the index alone) shares them instead of parsing the file again.
_POSTINGS: dict[tuple[str, int, int], Postings] = {}


def _shared_postings(index_dir: Path, meta: dict, ix) -> Postings:
    path = index_dir / POSTINGS
    try:
        st = path.stat()
        key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    except OSError:
        key = None
    if key is not None and key in _POSTINGS and len(_POSTINGS[key].docs) == meta["documents"]:
        return _POSTINGS[key]
    gc_enabled = gc.isenabled()
    gc.disable()  # tens of thousands of new lists, and no cycles among them: don't scan them
    try:
        postings = Postings(json.loads(path.read_text(encoding="utf-8")))
        if len(postings.docs) != meta["documents"]:
            raise ValueError("postings file does not match the index")
    except (OSError, ValueError, KeyError, TypeError):
        return Postings(export_postings(ix))  # an index from an older build: slower open
    finally:
        if gc_enabled:
            gc.enable()
    if key is not None:
        if len(_POSTINGS) >= 4:  # a long preview session makes a new index per edit
            _POSTINGS.pop(next(iter(_POSTINGS)))
        _POSTINGS[key] = postings
    return postings


WHOLE_HEAD = 1.5
# A script whose intent words the query says (snippets/intents.yaml: 你们得赔, 打12345, 报修的进度) has its
# re-ranked score multiplied by this: a caller's purpose outranks the topic named in passing (rank23: 2 did
# less on the tuning sets; 4.5 and more gained on dev17a but gave back a validation query of dev13b; a factor,
# not a forced first place, so a topic the query is plainly about still wins)...
INTENT = 3.0
# ... and by this for an intent marked `firm` (money demanded or refused: 赔多少, 这钱我不交了), which no
# caller says in passing: 4 to 8 gave the same on every set (rank23: dev17a +2, nothing else moved).
INTENT_FIRM = 5.0


def _in_order(seq: str, text: str) -> bool:
    """Whether the characters of seq occur in text in this order, each at most 4 after the last."""
    pos = text.find(seq[0])
    while pos >= 0:
        at = pos
        for c in seq[1:]:
            at = text.find(c, at + 1, at + 5)
            if at < 0:
                break
        else:
            return True
        pos = text.find(seq[0], pos + 1)
    return False


def put_first(ranked: list[tuple[float, int]], first: list[int]) -> list[tuple[float, int]]:
    """`first` above every hit (scored just above the best), in its order, and nowhere else."""
    if not first:
        return ranked
    lead = (ranked[0][0] if ranked else 0.0) + 1.0
    return [(lead, d) for d in first] + [h for h in ranked if h[1] not in first]


RERANK = 20      # hits re-ordered by how much of the query their head fields cover (Searcher.rerank)
# A query that is only a greeting, who is calling or a phone number (喂 你好 是物业吗; 我是3栋1201的 我姓陈):
# the call is at its opening, and that script is the answer (weak: nothing of the matter is said yet).
OPENING = "greeting.phone-opening"


class Searcher:
    def __init__(self, ix, vocabulary: frozenset[str], synonyms: Synonyms, corpus: Corpus,
                 postings: Postings, lexicon: danger.Lexicon = danger.EMPTY,
                 outside_topics: outside.Lexicon = outside.EMPTY, intent_words: intents.Lexicon = intents.EMPTY):
        self.ix = ix
        self.vocabulary = vocabulary
        self.synonyms = synonyms
        self.corpus = corpus
        self.postings = postings
        self._flat: dict[int, tuple[str, str, frozenset[str]]] = {}  # document number -> flatten(text)
        self.weights = postings.char_weights
        self.prior = [KIND_PRIOR[d["kind"]] for d in postings.docs]
        self.gap_sink = None  # set by the service: callable(query, total, top_score)
        self.lexicon = lexicon
        self.urgent = {r.script for r in lexicon.rules}   # scripts that get the 紧急 badge
        self.outside = outside_topics
        self.intents = intent_words
        self._first_action: dict[str, str] = {}

    @classmethod
    def open(cls, index_dir: Path, corpus: Corpus) -> "Searcher":
        if not windex.exists_in(str(index_dir), indexname=INDEX_NAME):
            raise UsageError(f"检索索引不存在：{index_dir}；请先运行 kb build")
        meta = json.loads((index_dir / META).read_text(encoding="utf-8"))
        ix = windex.open_dir(str(index_dir), indexname=INDEX_NAME, readonly=True)
        postings = _shared_postings(index_dir, meta, ix)
        synonyms = Synonyms.load(corpus.root / "snippets" / "search" / "synonyms.yaml")
        lexicon = danger.load(corpus.root / "snippets", corpus.scripts)
        topics = outside.load(corpus.root / "snippets", corpus.snippets)
        wants = intents.load(corpus.root / "snippets", corpus.scripts)
        return cls(ix, frozenset(meta["syllables"]), synonyms, corpus, postings, lexicon, topics, wants)

    def close(self) -> None:
        pass  # nothing held open: the postings are in memory, Whoosh searchers are opened per use

    def search(self, text: str, *, limit: int = 10, kind: str | None = None) -> dict:
        started = time.perf_counter()
        full = textproc.normalize(text).strip()
        # Greetings, fillers and who is calling (喂 我是3栋1201的) are not what the query is about.
        said_as = textproc.core(full)
        norm = self.postings.typos.correct(said_as)   # 物叶费 -> 物业费 (search/typos.py)
        plan, marks = build_query(norm, self.vocabulary, self.synonyms)
        results: list[dict] = []
        pinyin_docs: dict[int, int] = {}   # document -> letters of the query found as pinyin phrases
        scores = self.postings.scores(plan, pinyin_docs)
        letters = pinyin_letters(norm)
        if kind:
            allowed = self.postings.by_kind.get(kind, frozenset())
            scores = {d: sc for d, sc in scores.items() if d in allowed}
        docs = self.postings.docs
        prior = self.prior
        # Whoosh's order (score, then document number), with the kind prior applied to every hit:
        # a few hundred at most, which one sort in C orders faster than a heap in Python.
        ranked = [(-negative, d) for negative, d in
                  sorted([(-sc * prior[d], d) for d, sc in scores.items()])[:max(limit, 3, RERANK)]]
        parts = confidence.query_parts(norm, self.synonyms.found(norm), self.weights)
        located = confidence.locate(parts, self.postings.docs_mask)
        covered = confidence.Covering(parts, located, {d: min(1.0, n / letters) for d, n in pinyin_docs.items()}
                                      if letters else None)
        cued = self.intents.said(norm.replace(" ", ""))   # what the caller wants done (snippets/intents.yaml)
        ranked = self.rerank(ranked, covered, norm, parts.total, cued)[:max(limit, 3)]
        # An id typed or pasted from a ticket is that script, whatever else its words match.
        exact = self.postings.by_id.get(norm)
        if exact is not None and kind and docs[exact]["kind"] != kind:
            exact = None
        opening = self.postings.by_id.get(OPENING) if exact is None and kind in (None, "script") \
            and textproc.only_preamble(full) else None
        ranked = put_first(ranked, [d for d in (exact, opening) if d is not None])
        # A caller describing an emergency in their own words (snippets/danger.yaml) gets that
        # emergency script first, whatever else ranks; the first step shows on the page too.
        # Typed in pinyin (dianti li you ren chu bu lai), the same words read as pinyin.
        said = (self.lexicon.match(full) if not letters
                else self.pinyin_lexicon.match(pinyin_danger.text(
                    [s for word in pinyin_words(norm, self.vocabulary) for s in word])))
        if not said and not letters and _LETTER_RUN.search(norm) is not None:
            # Pinyin typed among digits or characters (zhao huo le 3 dong 15 lou, tai feng lai le 窗户要碎了):
            # its letters read as pinyin, and the characters around them by their reading, so a danger
            # said half in letters, half in characters is read whole; words that are not pinyin (wifi,
            # app) are left out.
            syllables = [s for run in _LETTERS_OR_CJK.findall(norm) for s in (
                textproc.syllables(run) if textproc.CJK.match(run) else textproc.split_pinyin(run, self.vocabulary) or ())]
            if len(syllables) >= 2:
                said = self.pinyin_lexicon.match(pinyin_danger.text(syllables))
        if not letters and kind in (None, "script"):
            # A homophone mistyped (电题里有人, 燃起味): the query read as the search corrected it names
            # that danger too, counted when the search ranks its script near the top as well (a
            # correction can also make a danger of an everyday word: 大人不在 -> 打人不在).
            fixed = norm if said_as == full else self.postings.typos.correct(full)
            if fixed != full:
                near = {docs[d]["id"] for _sc, d in ranked[:3]}
                more = [sid for sid in self.lexicon.match(fixed) if sid not in said and sid in near]
                if more:
                    said = self.lexicon.ordered([*said, *more])
        urgent = [] if kind not in (None, "script") else [
            d for d in (self.postings.by_id.get(sid) for sid in said) if d is not None]
        ranked = put_first(ranked, urgent)
        if not urgent and not letters and ranked and docs[ranked[0][1]]["id"] in self.urgent:
            # An emergency named only to deny it (没有漏气, 台风过去了, 消防演习) is not the first option.
            denied = self.lexicon.denied(full)
            if self.lexicon.calm_call(full):
                # No danger word said, and the call is about one that is over (上个月停水那两天,
                # 之前那个扔东西的人找到没有) or asks about a fee, a purchase, an inspection (地下车库停车费
                # 怎么收, 流感疫苗在哪打): the emergency's own script is not the first option either.
                denied = {*denied, *(docs[d]["id"] for _sc, d in ranked if docs[d]["id"] in self.urgent)}
            calm = [d for _sc, d in ranked if docs[d]["id"] not in denied]
            if calm and docs[ranked[0][1]]["id"] in denied:
                # a script close behind answers the call better than a notice that shares its words
                # (上个月车库进水 泡坏的车谁管: the claim, not the garage-closure notice)
                ranked = put_first(ranked, [next((d for d in calm[:3] if docs[d]["kind"] == "script"), calm[0])])
        top = ranked[0][0] if ranked else 0.0
        marking = Marks(marks, self.postings.in_text)
        for score, d in ranked[:limit]:
            doc = docs[d]
            flat = self._flat.get(d)
            if flat is None:
                flat = self._flat[d] = flatten(doc["text"])
            results.append({
                "id": doc["id"].removeprefix("page:") if doc["kind"] != "page" else doc["id"],
                "kind": doc["kind"], "title": doc["title"], "url": doc["url"],
                "snippet": _highlight(*flat, marking, doc=d), "score": round(score, 3),
            })
        # every document the answer holds: the hits and what was put first without matching
        total = len(scores.keys() | {d for d in (exact, opening, *urgent) if d is not None})
        match = "strong" if exact is not None or urgent else "weak" if opening is not None \
            else self.match(norm, ranked, covered)
        # A question about something property management does not handle (snippets/outside.yaml: 社保,
        # 护照过期, 话费) shares everyday words with some script; only a script that answers it outright
        # (strong) is worth showing. An emergency said in it is strong above, so it stays first.
        # The first script is what the caller said they want done (你们得赔, 我要找记者): related, even when
        # the topic's words leave too little of the query covered to say so; unless the caller spoke of
        # something else altogether (航班延误了 能要赔偿吗: a word no document has, and not to us).
        if match == "none" and ranked and docs[ranked[0][1]]["id"] in cued \
                and (self.intents.to_us(norm) or not covered(ranked[0][1]).judged.foreign):
            match = "weak"
        if match == "weak" and self.outside.hit(full):
            match = "none"
        # ... and a `strong` one too when the script leaves some of the query unknown: no word of that file
        # is in a script's head or callers' lines (kb lint), so what it matched is the rest (补办 of
        # 社保卡丢了去哪里补办, against the access card: rank25; 话费 of 话费 充值, against the prepaid meter's
        # 充值, judged on the script the match judged: rank24; issue 23)
        elif match == "strong" and not urgent and exact is None and ranked and self.outside.hit(full) \
                and (covered(ranked[0][1]).judged.unknown or self._leaves_word(ranked, covered)):
            match = "none"
        if results and match == "strong" and results[0]["id"] in self.urgent:
            results[0]["emergency"] = True
            results[0]["first_action"] = self.first_action(results[0]["id"])
        took = (time.perf_counter() - started) * 1000
        if self.gap_sink is not None and text.strip() and (total == 0 or match != "strong"):
            self.gap_sink(text.strip(), total, top)
        return {"query": text, "total": total, "took_ms": round(took, 2), "match": match,
                "results": results}

    @cached_property
    def pinyin_lexicon(self) -> danger.Lexicon:
        """The danger lexicon read as pinyin (search/pinyin_danger.py), made at the first query
        typed in pinyin: about 0.1 s once, which no other query and no start pays."""
        return pinyin_danger.read(self.lexicon)

    def first_action(self, sid: str) -> str:
        """The first thing to say (or do) in an emergency script, as the page shows it."""
        found = self._first_action.get(sid)
        if found is None:
            script = self.corpus.scripts.get(sid)
            step = script.steps[0] if script and script.steps else {}
            found = self._first_action[sid] = self.corpus.expand(step.get("say") or step.get("do") or "")
        return found

    @cached_property
    def heads(self) -> tuple[dict[str, int], dict[str, list[tuple[int, int, str, float]]]]:
        """The titles, aliases and tags of scripts and templates for whole_heads: the bit of every
        character in them, and each of them (document number, bits of its meaningful characters,
        those characters in order, their weight) filed under its rarest character, so a query
        looks only at those that can be whole in it (bits make "the query has every character"
        one integer operation)."""
        bits: dict[str, int] = {}
        by_char: dict[str, list[tuple[int, int, str, float]]] = {}
        for d, doc in enumerate(self.postings.docs):
            snip = self.corpus.snippets.get(doc["id"]) if doc["kind"] != "page" else None
            for h in ([snip.title, *snip.aliases, *snip.tags] if snip else []):
                chars = "".join(c for _, c in confidence.units_of(textproc.normalize(h)) if textproc.CJK.match(c))
                if len(chars) < 2:
                    continue
                mask = 0
                for c in chars:
                    mask |= bits.setdefault(c, 1 << len(bits))
                weight = sum(self.weights.get(c, confidence.UNSEEN) for c in chars)
                rarest = max(chars, key=lambda c: self.weights.get(c, confidence.UNSEEN))
                by_char.setdefault(rarest, []).append((d, mask, chars, weight))
        return bits, by_char

    def whole_heads(self, norm: str, total: float) -> dict[int, float]:
        """Per document, the weight (as a share of the query's) of its heaviest title, alias or
        tag whose meaningful characters the query says in the same order and close together
        (租户门禁 in 租户怎么办门禁, 电瓶被偷 in 电瓶被人偷了)."""
        bits, by_char = self.heads
        present = set(norm)
        mask = 0
        for c in present:
            mask |= bits.get(c, 0)
        out: dict[int, float] = {}
        for c in present:
            for d, need, seq, weight in by_char.get(c, ()):
                if need & mask == need and weight > out.get(d, 0.0) and _in_order(seq, norm):
                    out[d] = weight
        return {d: min(1.0, w / total) for d, w in out.items()}

    def rerank(self, ranked: list[tuple[float, int]], covered: confidence.Covering, norm: str = "", total: float = 1.0,
               cued: frozenset[str] | set[str] = frozenset()) -> list[tuple[float, int]]:
        """The first RERANK hits again, each score times (1 + the share of the query its title,
        aliases and tags account for). BM25F adds up every field a word is found in, so a generic
        word (物业费: in dozens of titles, and its synonyms, bigrams and characters on top) could
        outweigh the one word that says what is asked (退 in 我要退物业费); the script whose head
        holds both then comes first. Measured in bench/README.md (recall@1 up on every query set).
        A script in `cued` (the caller said they want it done: snippets/intents.yaml) is multiplied by
        INTENT on top."""
        whole = self.whole_heads(norm, total) if norm else {}
        covered.many([d for _, d in ranked[:RERANK]])
        docs = self.postings.docs
        head = [(score * (1 + covered(d).rank_head + WHOLE_HEAD * whole.get(d, 0.0))
                 * ((INTENT_FIRM if docs[d]["id"] in self.intents.firm else INTENT)
                    if cued and docs[d]["id"] in cued else 1.0), d)
                for score, d in ranked[:RERANK]]
        return sorted(head, key=lambda hit: (-hit[0], hit[1])) + ranked[RERANK:]

    def judged(self, ranked: list[tuple[float, int]]) -> tuple[float, int] | None:
        """The hit the match is judged on: the first script or template among the first three that
        scores at least 0.6 of the first (None: only pages come close)."""
        docs = self.postings.docs
        top = ranked[0][0] if ranked else 0.0
        return next(((score, d) for score, d in ranked[:3] if docs[d]["kind"] != "page" and score >= top * 0.6), None)

    def _leaves_word(self, ranked: list[tuple[float, int]], covered: confidence.Covering) -> bool:
        """Whether the hit the match judged has a run of two or more of the query's meaningful
        characters nowhere in it."""
        hit = self.judged(ranked)
        return hit is not None and covered(hit[1]).judged.unknown_words >= 1

    def match(self, norm: str, ranked: list[tuple[float, int]], covered: confidence.Covering) -> str:
        """strong / weak / none for the ranked hits of the normalised query (see search/confidence.py)."""
        if not ranked:
            return "none"
        best_any = max([0.0, *(confidence.support(covered(d)) for _score, d in ranked[:3])])
        hit = self.judged(ranked)
        cov, score = (covered(hit[1]), hit[0]) if hit else (None, 0.0)
        if norm.isdigit():   # a bare number (a room, a phone, 123456) names no situation
            return "weak" if best_any >= confidence.WEAK_ANY else "none"
        return confidence.classify(cov, score, best_any)

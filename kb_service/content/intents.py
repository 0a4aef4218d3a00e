"""snippets/intents.yaml: words that say what the caller wants done (a compensation demand, a
threat to call 12345, how a repair is going, refusing to pay) rather than what it is about. A
caller whose purpose is such a process names a topic in passing (漏水, 电梯, 停车), and the
topic's script outranked the process's on the words alone (bench/README.md, rank23): the search
multiplies the score of a script whose intent words the query says (engine.INTENT).

Matched like the danger lexicon (danger.py): against the query as the search normalises it,
spaces taken out. Checked by `kb lint`: schema, every pattern compiles and matches no empty text,
every id is a script and none is one danger.yaml puts first (emergencies are put first whatever
ranks). The search loads it and ignores it whole when it has a problem.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from kb_service.content.checks import checked_once, load_settings_file
from kb_service.content import danger
from kb_service.content.danger import compile_words, required_chars
from kb_service.content.yamldoc import Problem

FILE = "intents.yaml"
SCHEMA = "intents.schema.json"


@dataclass(frozen=True)
class Lexicon:
    # per intent: its words as one pattern, the scripts it names, and the characters one of which
    # every match of its words holds (danger.required_chars; None when the pattern does not say)
    intents: tuple[tuple[re.Pattern, tuple[str, ...], frozenset[str] | None], ...] = ()
    addressed: re.Pattern | None = None
    firm: frozenset[str] = frozenset()       # the scripts of intents marked `firm`

    def said(self, text: str) -> frozenset[str]:
        """The scripts whose intent words the normalised query (spaces taken out) says. An intent
        whose words need characters the text does not hold is not scanned (a quarter of the time
        of one alternation of every intent's words)."""
        chars = set(text)
        return frozenset(sid for words, scripts, needs in self.intents
                         if (needs is None or not needs.isdisjoint(chars)) and words.search(text)
                         for sid in scripts)

    def to_us(self, text: str) -> bool:
        """Whether the caller is talking to property management (你们, 物业)."""
        return self.addressed is not None and self.addressed.search(text) is not None


EMPTY = Lexicon()


def check(snippets_dir: Path, scripts: dict | None) -> tuple[Lexicon | None, list[Problem]]:
    """The lexicon and its problems; (EMPTY, []) when the file does not exist.

    `scripts` maps ids to the corpus's scripts (None when the corpus does not load: then only the
    patterns are checked)."""
    if not (snippets_dir / FILE).exists():
        return EMPTY, []
    doc, data, problems = load_settings_file(snippets_dir, FILE, SCHEMA)
    if doc is None:
        return None, problems
    found, firm = [], set()
    # the scripts danger.yaml puts first (emergency.after-action, what to say once it is over, is not one)
    urgent = {r.script for r in danger.load(snippets_dir, scripts).rules} if scripts is not None \
        else {sid for n in data["intents"] for sid in n["scripts"] if sid.startswith("emergency.")}
    for n, intent in enumerate(data["intents"]):
        for i, sid in enumerate(intent["scripts"]):
            if sid in urgent:
                problems.append(doc.problem(["intents", n, "scripts", i],
                                            f"{sid} 是紧急话术：紧急情况写在 danger.yaml 里，那里的话术总排第一"))
            elif scripts is not None and sid not in scripts:
                problems.append(doc.problem(["intents", n, "scripts", i], f"没有 id 为 {sid} 的话术"))
        words = compile_words(doc, ["intents", n, "words"], intent["words"], problems)
        if words is not None:
            found.append((words, tuple(intent["scripts"]), required_chars(words.pattern)))
            if intent.get("firm"):
                firm.update(intent["scripts"])
    addressed = compile_words(doc, ["addressed"], data.get("addressed") or [], problems) \
        if data.get("addressed") else None
    if problems:
        return None, problems
    return Lexicon(tuple(found), addressed, frozenset(firm)), []


def load(snippets_dir: Path, scripts: dict | None) -> Lexicon:
    """The checked lexicon; EMPTY when the file has problems (kb lint reports them)."""
    danger_file = snippets_dir / danger.FILE   # which scripts it may not name is read from there
    said = hashlib.sha1(danger_file.read_bytes()).digest() if danger_file.exists() else None
    return checked_once(snippets_dir, FILE, SCHEMA, (tuple(sorted(scripts or ())), said),
                        lambda: check(snippets_dir, scripts)[0] or EMPTY)

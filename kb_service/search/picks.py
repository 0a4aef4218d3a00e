"""What agents open from the lookup, turned into a hint for the next agent (同事常选).

A pick is (masked query, chosen id, match). A query that agents resolved the same way at least
MIN_PICKS times, with that choice at least SHARE of that query's picks, may put the choice
first: it is marked `colleagues` so the page says 同事常选. Never above an emergency (the
danger lexicon's answer stays first).

Queries are compared by their core (textproc.core: no fillers, self-introductions or numbers),
so 喂 我是3栋的 今天怎么没水 and 今天怎么没水 count as the same question.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from kb_service.search import textproc

MIN_PICKS = 3      # fewer could be one agent's habit, or a mis-click
SHARE = 0.6        # the same choice for most of the picks of that query


def key(query: str) -> str:
    core = textproc.core(textproc.normalize(query))
    return "".join(core.split())


@dataclass
class PickBook:
    """Counts of chosen ids per query key (loaded from the picks table, or built in a bench)."""
    counts: dict[str, Counter] = field(default_factory=dict)

    def add(self, query: str, chosen: str, times: int = 1) -> None:
        k = key(query)
        if k:
            self.counts.setdefault(k, Counter())[chosen] += times

    def lookup(self, query: str) -> str | None:
        """The id colleagues chose for this query often enough, or None."""
        c = self.counts.get(key(query))
        if not c:
            return None
        chosen, n = c.most_common(1)[0]
        return chosen if n >= MIN_PICKS and n >= SHARE * sum(c.values()) else None


def apply(answer: dict, chosen: str | None, *, found: dict | None = None) -> dict:
    """The answer with the colleagues' choice first (marked), unless an emergency is first.

    `found` is the result entry to use when the choice is not among the results (the service
    passes it from the content); without it such a choice is ignored."""
    if not chosen:
        return answer
    results = answer["results"]
    if results and results[0].get("emergency"):
        return answer
    hit = next((r for r in results if r["id"] == chosen), None) or found
    if hit is None:
        return answer
    hit = dict(hit, colleagues=True)
    rest = [r for r in results if r["id"] != chosen]
    match = answer["match"] if answer["match"] == "strong" else "strong"
    return dict(answer, results=[hit] + rest, match=match)

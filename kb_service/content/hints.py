"""Suggestions for messages that know the valid choices: the nearest ids to a typo, the list to
pick from. One wording for every check, so an editor learns it once."""

from __future__ import annotations

import difflib
from typing import Iterable

LIST_MAX = 12   # longer lists are cut: the nearest ids say more than forty names


def nearest(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The closest choices to a misspelled word, best first: those about as close as the best one
    (ids share prefixes like `complaint.`, which alone should not make a match)."""
    scored = []
    for choice in choices:
        m = difflib.SequenceMatcher(None, word, choice)
        if m.real_quick_ratio() >= 0.6 and m.quick_ratio() >= 0.6:
            scored.append((m.ratio(), choice))
    scored = sorted((s for s in scored if s[0] >= 0.6), key=lambda s: (-s[0], s[1]))
    if not scored:
        return []
    best = scored[0][0]
    return [c for r, c in scored if r >= best - 0.08][:n]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """"是不是 reviewed？" or ""."""
    close = nearest(word, choices, n=1)
    return f"是不是 {close[0]}？" if close else ""


def choice_list(choices: Iterable[str]) -> str:
    items = sorted(choices)
    shown = ", ".join(items[:LIST_MAX])
    return shown + (f" 等 {len(items)} 个" if len(items) > LIST_MAX else "") if items else "无"


def suggest(word: str, choices: Iterable[str], what: str = "可用") -> str:
    """"（最接近的：a, b）" when something is close, else "（可用：...）"."""
    choices = list(choices)
    close = nearest(word, choices)
    if close:
        return f"（最接近的：{', '.join(close)}）"
    return f"（{what}：{choice_list(choices)}）"

"""`kb eval-search FILE`: recall@1, recall@3 and MRR of the search over a queries file.

File format (tab-separated, header row): query, style, acceptable ids (space-separated; any one
in the top 3 is a hit), as in shared/contract/dev-queries.tsv.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from kb_service.errors import UsageError


@dataclass
class Case:
    query: str
    style: str
    accept: set[str]


@dataclass
class Outcome:
    case: Case
    rank: int | None  # 1-based rank of the first acceptable id, None if not in the results
    top: list[str]


def read_cases(path: Path) -> list[Case]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"无法读取查询文件 {path}：{exc.strerror}") from None
    cases = []
    rows = csv.reader(text.splitlines(), delimiter="\t")
    for lineno, row in enumerate(rows, 1):
        if lineno == 1 and row and row[0].strip().lower() == "query":
            continue
        if not row or not row[0].strip() or row[0].startswith("#"):
            continue
        if len(row) < 3:
            raise UsageError(f"{path}:{lineno}: 每行需要 3 列（查询、风格、可接受的 id），用 Tab 分隔")
        cases.append(Case(row[0].strip(), row[1].strip(), set(row[2].split())))
    if not cases:
        raise UsageError(f"{path} 里没有查询")
    return cases


def evaluate(searcher, cases: list[Case], depth: int = 10) -> list[Outcome]:
    outcomes = []
    for case in cases:
        ids = [r["id"] for r in searcher.search(case.query, limit=depth)["results"]]
        rank = next((i for i, rid in enumerate(ids, 1) if rid in case.accept), None)
        outcomes.append(Outcome(case, rank, ids[:3]))
    return outcomes


def metrics(outcomes: list[Outcome]) -> dict[str, float]:
    n = len(outcomes)
    return {
        "n": n,
        "recall@1": sum(1 for o in outcomes if o.rank == 1) / n,
        "recall@3": sum(1 for o in outcomes if o.rank and o.rank <= 3) / n,
        "mrr": sum(1 / o.rank for o in outcomes if o.rank) / n,
    }


def report(outcomes: list[Outcome]) -> str:
    by_style = defaultdict(list)
    for o in outcomes:
        by_style[o.case.style].append(o)
    lines = [f"{'style':<12} {'n':>4} {'recall@1':>9} {'recall@3':>9} {'MRR':>6}"]
    for style in sorted(by_style):
        m = metrics(by_style[style])
        lines.append(f"{style:<12} {m['n']:>4} {m['recall@1']:>9.3f} {m['recall@3']:>9.3f} {m['mrr']:>6.3f}")
    m = metrics(outcomes)
    lines.append(f"{'overall':<12} {m['n']:>4} {m['recall@1']:>9.3f} {m['recall@3']:>9.3f} {m['mrr']:>6.3f}")
    misses = [o for o in outcomes if not o.rank or o.rank > 3]
    if misses:
        lines.append("")
        lines.append("未进前三：")
        lines += [f"  {o.case.query}\t[{o.case.style}]\t期望 {' '.join(sorted(o.case.accept))}\t得到 {' '.join(o.top)}"
                  for o in misses]
    return "\n".join(lines)

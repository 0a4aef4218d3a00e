"""What the homophone typo corrector (kb_service/search/typos.py) changes in the queries of the sets.

    .venv/bin/python bench/typo_corrections.py [--half dev|dev2|...|tuning] [--count-only]

Runs `Typos.correct` on each query as Searcher.search does (normalised, fillers stripped) and prints
every change: the query, and each pair before -> after. `--count-only` prints only the number of
queries changed and of pairs rewritten: the only form allowed on validation sets (dev6, dev8b, dev9b,
dev10b, dev11b, unrelb; never heldout). `tuning` runs every tuning half of /work/wt/COMMON.md.

JUDGED lists the changes judged by hand (issue 23, rank19) as right (a real typo fixed) or wrong (a
correct word rewritten); a change not in it is printed as `?`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from kb_service.content.load import require_corpus  # noqa: E402
from kb_service.search import textproc  # noqa: E402
from kb_service.search.engine import Searcher, build_index  # noqa: E402
from lookup_quality import HALVES, read  # noqa: E402

TUNING = ("dev", "dev2", "dev4", "dev5", "dev7", "dev8a", "dev9a", "dev10a", "dev11a", "unrela")
VALIDATION = ("dev6", "dev8b", "dev9b", "dev10b", "dev11b", "unrelb")

# (pair before, pair after) -> True: a real typo fixed / False: a correct word rewritten. Keys are the
# changed character with its neighbours in the run, as printed. Judged by hand on the tuning sets.
JUDGED: dict[tuple[str, str], bool] = {
    # real typos: a character that makes no word there, replaced by the head word's
    ("停税了", "停水了"): True, ("媒气", "煤气"): True, ("燥音", "噪音"): True, ("装袖申", "装修申"): True, ("电悌坏", "电梯坏"): True,
    ("门尽卡", "门禁卡"): True, ("暖汽不", "暖气不"): True, ("拉圾", "垃圾"): True, ("监空能", "监控能"): True,
    ("地裤进", "地库进"): True, ("车为被", "车位被"): True, ("发漂在", "发票在"): True, ("不栓绳", "不拴绳"): True,
    ("的间控", "的监控"): True, ("装秀押", "装修押"): True, ("押进要", "押金要"): True, ("蟑郎特", "蟑螂特"): True,
    ("物叶费", "物业费"): True, ("发漂怎", "发票怎"): True, ("漏谁了", "漏水了"): True, ("电悌老", "电梯老"): True,
    ("上造音", "上噪音"): True, ("快第丢", "快递丢"): True, ("装秀要", "装修要"): True, ("里挺电", "里停电"): True,
    ("天化板", "天花板"): True, ("车味怎", "车位怎"): True, ("不里解", "不理解"): True, ("装秀太", "装修太"): True,
    ("车味", "车位"): True, ("电题卡", "电梯卡"): True, ("要头诉", "要投诉"): True, ("问五业", "问物业"): True,
    ("燃起味", "燃气味"): True,
    # correct words rewritten: 接点水 (a little water), 不像好人, 高考, 洗澡漏下来, 原来房主, 证明吗, 一长道,
    # 上吊下来 (hung down), 杯子, 饭点 (mealtime), 公积金
    ("接点", "接电"): False, ("不像好", "不想好"): False, ("要高考", "要告考"): False, ("澡漏下", "澡楼下"): False,
    ("来房主", "来访主"): False, ("明吗", "明码"): False, ("一长道", "一章道"): False, ("上吊下", "上调下"): False,
    ("杯子", "被子"): False, ("饭点全", "饭店全"): False, ("公积金", "公基金"): False,
}


def changes(before: str, after: str) -> list[tuple[str, str]]:
    """The pairs around each changed character: (before, after)."""
    out = []
    for i, (a, b) in enumerate(zip(before, after)):
        if a != b:
            lo = i - 1 if i > 0 and textproc.CJK.match(before[i - 1]) else i
            hi = i + 2 if i + 1 < len(before) and textproc.CJK.match(before[i + 1]) else i + 1
            out.append((before[lo:hi], after[lo:hi]))
    return out


def run(searcher: Searcher, half: str, count_only: bool) -> tuple[int, int, int, int]:
    typos = searcher.postings.typos
    queries = pairs = right = wrong = 0
    for name in HALVES[half]:
        for q, _style, _ids in read(name):
            norm = textproc.core(textproc.normalize(q).strip())
            fixed = typos.correct(norm)
            if fixed == norm:
                continue
            queries += 1
            found = changes(norm, fixed)
            pairs += len(found)
            for pair in found:
                verdict = JUDGED.get(pair)
                right += verdict is True
                wrong += verdict is False
            if not count_only:
                verdicts = [{None: "?", True: "RIGHT", False: "WRONG"}[JUDGED.get(pair)] for pair in found]
                shown = ", ".join(f"{a} -> {b} {v}" for (a, b), v in zip(found, verdicts))
                print(f"  {q!r}: {shown}")
    return queries, pairs, right, wrong


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--half", default="tuning", choices=("tuning", "validation") + TUNING + VALIDATION)
    ap.add_argument("--count-only", action="store_true")
    args = ap.parse_args(argv)
    halves = TUNING if args.half == "tuning" else VALIDATION if args.half == "validation" else (args.half,)
    count_only = args.count_only or any(h in VALIDATION for h in halves)
    corpus = require_corpus(ROOT / "snippets")
    total = [0, 0, 0, 0]
    with tempfile.TemporaryDirectory() as tmp:
        build_index(corpus, ROOT / "docs", Path(tmp))
        searcher = Searcher.open(Path(tmp), corpus)
        for half in halves:
            if not count_only:
                print(f"== {half}")
            q, p, r, w = run(searcher, half, count_only)
            total = [a + b for a, b in zip(total, (q, p, r, w))]
            line = f"{half}: {q} queries changed, {p} pairs"
            print(line if count_only else f"{line} ({r} right, {w} wrong, {p - r - w} unjudged)")
    q, p, r, w = total
    judged = "" if count_only else f" ({r} right, {w} wrong, {p - r - w} unjudged)"
    print(f"total: {q} queries changed, {p} pairs{judged}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

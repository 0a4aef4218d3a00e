"""Calibrate the `match` field of /api/search: run labelled queries, print the confusion table.

    .venv/bin/python bench/calibrate_match.py [--verbose]

Queries: tests/contract/dev-queries.tsv (every one answered in scope: expected `strong`) and
tests/data/match-queries.tsv (own in-scope queries `strong`, related-only `weak`, unrelated
`none`). Uses the built index in KB_DATA_DIR (run `kb build` first). A `weak` answer to an
unrelated query is tolerated; `strong` for anything out of scope is the error that matters.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb_service.build import load_content  # noqa: E402
from kb_service.search.engine import Searcher  # noqa: E402
from kb_service.settings import Settings  # noqa: E402

LABELS = ("strong", "weak", "none")


def labelled(root: Path = ROOT) -> list[tuple[str, str, list[str], str]]:
    """(query, expected match, acceptable ids, source) for every calibration query."""
    out = []
    for line in (root / "tests/contract/dev-queries.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        if line.strip():
            q, _style, ids = line.split("\t")
            out.append((q, "strong", ids.split(), "dev"))
    for line in (root / "tests/data/match-queries.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        if line.strip() and not line.startswith("#"):
            q, expect, *ids = line.split("\t")
            out.append((q, expect, ids[0].split() if ids else [], "own"))
    return out


def evaluate(searcher, queries) -> tuple[Counter, list[tuple]]:
    table: Counter = Counter()
    rows = []
    for q, expect, ids, source in queries:
        r = searcher.search(q, limit=3)
        top = r["results"][0]["id"] if r["results"] else None
        # A strong answer whose first result is not an acceptable script is a wrong strong.
        got = r["match"]
        right_top = not ids or top in ids
        table[(expect, got)] += 1
        rows.append((q, expect, got, top, right_top, source))
    return table, rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--verbose", action="store_true", help="print every query that is off the diagonal")
    args = ap.parse_args(argv)
    settings = Settings.from_env()
    searcher = Searcher.open(settings.index_dir, load_content(settings))
    table, rows = evaluate(searcher, labelled())
    print("expected \\ got | " + " | ".join(LABELS) + " | total")
    print("--- | " + " | ".join("---:" for _ in LABELS) + " | ---:")
    for e in LABELS:
        print(f"{e} | " + " | ".join(str(table[(e, g)]) for g in LABELS) + f" | {sum(table[(e, g)] for g in LABELS)}")
    wrong_top = [r for r in rows if r[2] == "strong" and r[1] == "strong" and not r[4]]
    print(f"\nstrong with a wrong first result: {len(wrong_top)}")
    for r in rows:
        if args.verbose and (r[1] != r[2] or (r[2] == "strong" and not r[4])):
            print(f"  {r[0]!r}: expected {r[1]}, got {r[2]}, first {r[3]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

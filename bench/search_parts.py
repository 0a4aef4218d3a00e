"""Where the time of one /api/search answer goes, in process: search (scoring, ranking, the
match), highlighting (inside the search: timed by searching with the highlighter switched off),
serialising (Starlette's JSONResponse.render) and compressing (gzip level 6, as the app does for
answers over 1 KB).

    .venv/bin/python bench/search_parts.py [--repeat 5]

Queries: the phrasings of calls-dev.tsv and calls-heldout.tsv ("calls"), the long spoken sentences of
the later development sets ("spoken"), and 1-3 common keywords at once (bench/search.py).
Prints p50/p95 per part and per query set. The machine's load average is printed: on a busy
machine compare the parts with each other, not with numbers from another run.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from starlette.responses import JSONResponse  # noqa: E402

from kb_service.content.load import require_corpus  # noqa: E402
from kb_service.search import engine  # noqa: E402
from kb_service.search.engine import Searcher, build_index  # noqa: E402
from measure import pct  # noqa: E402
from search import call_queries, keyword_queries  # noqa: E402


def spoken_queries() -> list[str]:
    """The long spoken phrasings of the later development sets (calls-dev2..dev11, about 22
    characters on average): a caller's own sentence, which costs about twice a short phrasing."""
    return [line.split("\t")[0] for path in sorted((ROOT / "bench" / "queries").glob("calls-dev*.tsv"))
            if path.name != "calls-dev.tsv"
            for line in path.read_text(encoding="utf-8").splitlines()[1:] if line.strip()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    corpus = require_corpus(ROOT / "snippets")
    with tempfile.TemporaryDirectory() as tmp:
        build_index(corpus, ROOT / "docs", Path(tmp))
        s = Searcher.open(Path(tmp), corpus)
        sets = {"calls": call_queries(155), "spoken": spoken_queries(), "keywords": keyword_queries(155)}
        for qs in sets.values():
            for q in qs:
                s.search(q, limit=8)
        load = os.getloadavg()[0]
        print(f"load average {load:.2f} ({'quiet' if load < 1.5 else 'NOT quiet'})\n")
        print("| queries | part | p50 ms | p95 ms |")
        print("| --- | --- | ---: | ---: |")
        for name, qs in sets.items():
            parts: dict[str, list[float]] = {"search (all)": [], "search without highlighting": [],
                                             "serialise": [], "gzip": []}
            real = engine._highlight
            for _ in range(args.repeat):
                for q in qs:
                    t0 = time.perf_counter()
                    answer = s.search(q, limit=8)
                    t1 = time.perf_counter()
                    body = JSONResponse(answer).body
                    t2 = time.perf_counter()
                    if len(body) >= 1024:
                        gzip.compress(body, 6)
                    t3 = time.perf_counter()
                    parts["search (all)"].append((t1 - t0) * 1000)
                    parts["serialise"].append((t2 - t1) * 1000)
                    parts["gzip"].append((t3 - t2) * 1000)
                engine._highlight = lambda flat, norm, chars, marks, width=64, doc=-1: ""
                try:
                    for q in qs:
                        t0 = time.perf_counter()
                        s.search(q, limit=8)
                        parts["search without highlighting"].append((time.perf_counter() - t0) * 1000)
                finally:
                    engine._highlight = real
            for part, values in parts.items():
                print(f"| {name} | {part} | {pct(values, 50):.3f} | {pct(values, 95):.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

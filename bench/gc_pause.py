"""How long one full pass of Python's cyclic garbage collector takes in a worker that has opened
the service (content, database, search index), before and after gc.freeze() as the app's lifespan
calls it. A full pass runs when enough new objects have outlived two younger passes (the search's
memos grow with new queries); the request that sets it off waits for all of it.

    .venv/bin/python bench/gc_pause.py [--passes 5]

Needs a built project (kb build) in the current settings (KB_* environment, as kb serve).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb_service.settings import Settings  # noqa: E402
from kb_service.web.services import Services  # noqa: E402


def full_pass_ms(passes: int) -> list[float]:
    out = []
    for _ in range(passes):
        t0 = time.perf_counter()
        gc.collect()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passes", type=int, default=5)
    args = ap.parse_args(argv)
    services = Services.open(Settings.from_env())
    try:
        for q in ("电梯困人", "喂 你好 我是3栋的 楼上漏水到我家了", "物业费 停车费 发票"):
            services.searcher.search(q, limit=8)
        print(f"load average {os.getloadavg()[0]:.2f}; objects the collector tracks: {len(gc.get_objects()):,}")
        before = full_pass_ms(args.passes)
        gc.freeze()
        after = full_pass_ms(args.passes)
        print(f"frozen: {gc.get_freeze_count():,}")
        print("| full collection | median ms | max ms |\n| --- | ---: | ---: |")
        for name, values in (("as loaded", before), ("after gc.freeze()", after)):
            print(f"| {name} | {statistics.median(values):.1f} | {max(values):.1f} |")
    finally:
        gc.unfreeze()
        services.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

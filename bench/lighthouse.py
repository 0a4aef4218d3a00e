"""Lighthouse (mobile) on the pages residents open most: the home page, a community's fee page,
the feedback page and the notice board, against one real `kb serve` on a built site.

    .venv/bin/python bench/lighthouse.py [--runs 1]

Needs Node and npm's `lighthouse` (`npm install lighthouse` somewhere; set LIGHTHOUSE to its
bin/lighthouse, else `npx lighthouse` is used) and Debian's Chromium (CHROME_PATH, default
/usr/bin/chromium). Prints a Markdown table of the four category scores (0-100) per page, the
median of --runs runs, with the performance metrics that move most (FCP, LCP, TBT, CLS).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from measure import kb_serve

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb_service.content.load import require_corpus  # noqa: E402

CATEGORIES = ["performance", "accessibility", "best-practices", "seo"]
METRICS = {"first-contentful-paint": "FCP", "largest-contentful-paint": "LCP", "total-blocking-time": "TBT",
           "cumulative-layout-shift": "CLS"}


def lighthouse(url: str, out: Path) -> dict:
    command = shlex.split(os.environ.get("LIGHTHOUSE", "npx lighthouse"))
    env = {**os.environ, "CHROME_PATH": os.environ.get("CHROME_PATH", "/usr/bin/chromium")}
    subprocess.run([*command, url, "--form-factor=mobile", "--output=json", f"--output-path={out}", "--quiet",
                    "--chrome-flags=--headless=new --no-sandbox --disable-gpu"], check=True, env=env)
    return json.loads(out.read_text(encoding="utf-8"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    corpus = require_corpus(ROOT / "snippets")
    cid = corpus.default_community.id
    pages = {"home": "/", "community fee page": f"/communities/{cid}/fees/", "feedback": "/residents/feedback/",
             "notices": "/notices/"}
    with kb_serve(ROOT) as (base, _):
        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            for name, path in pages.items():
                scores: dict[str, list[float]] = {c: [] for c in CATEGORIES}
                metrics: dict[str, list[float]] = {m: [] for m in METRICS}
                for run in range(args.runs):
                    report = lighthouse(base + path, Path(tmp) / f"{name}-{run}.json")
                    for c in CATEGORIES:
                        scores[c].append(report["categories"][c]["score"] * 100)
                    for m in METRICS:
                        metrics[m].append(report["audits"][m]["numericValue"])
                rows.append((name, path, {c: statistics.median(v) for c, v in scores.items()},
                             {m: statistics.median(v) for m, v in metrics.items()}))
        print(f"Lighthouse mobile, median of {args.runs} run(s); load average at the end "
              f"{os.getloadavg()[0]:.1f}\n")
        print("| page | performance | accessibility | best practices | SEO | FCP | LCP | TBT | CLS |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for name, path, s, m in rows:
            print(f"| {name} (`{path}`) | {s['performance']:.0f} | {s['accessibility']:.0f} | {s['best-practices']:.0f} "
                  f"| {s['seo']:.0f} | {m['first-contentful-paint'] / 1000:.1f} s | "
                  f"{m['largest-contentful-paint'] / 1000:.1f} s | {m['total-blocking-time']:.0f} ms | "
                  f"{m['cumulative-layout-shift']:.3f} |")


if __name__ == "__main__":
    main()

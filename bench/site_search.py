"""The site's built-in search on both builders, and both build times.

    .venv/bin/python bench/site_search.py [--queries tests/contract/dev-queries.tsv] [--rounds 3]

1. Copies the content to a temporary project and builds the site there with each engine in a
   fresh process (`build_site`, as `kb build` runs it), interleaved, `--rounds` times: a cold build
   (empty staged folder: no Zensical cache) and a warm one (staged folder and cache kept, nothing
   changed). Wall and CPU seconds (the child's user+sys), median per engine.
2. Serves each built site on 127.0.0.1 and, in Chromium, types every query of the queries file into
   the site's own search box, exactly as a person would, and reads the result list the page shows
   (Material: lunr with jieba-segmented text from the build; Zensical: its own index, segmented in
   the browser by Intl.Segmenter). A result counts by its page: the top 3 distinct pages decide
   recall@3, as for `kb eval-search`.
3. For comparison, the service's own search (`/api/search`, what the 话术速查 page uses) on the
   same queries, in-process.

Prints Markdown tables for bench/README.md.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import CHROMIUM, copy_project, settings_for  # noqa: E402
from kb_service.content.load import require_corpus  # noqa: E402
from kb_service.search.evaluation import read_cases  # noqa: E402

ENGINES = ("mkdocs", "zensical")
CHILD = """
import json, resource, sys, time
from kb_service.build import build_site
from kb_service.settings import Settings
settings = Settings.from_env({"KB_PROJECT_DIR": sys.argv[1], "KB_DATA_DIR": sys.argv[2]})
t = time.perf_counter()
pages = build_site(settings, engine=sys.argv[3])
wall = time.perf_counter() - t
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"pages": pages, "wall": wall,
                  "cpu": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime}))
"""


def build_once(project: Path, data: Path, engine: str) -> dict:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, str(project), str(data), engine],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process"] = time.perf_counter() - started  # with interpreter start and imports
    return result


def measure_builds(work: Path, rounds: int) -> tuple[dict, dict]:
    projects = {e: copy_project(work / e) for e in ENGINES}
    times: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for _ in range(rounds):
        for engine in ENGINES:
            data = projects[engine] / "var"
            shutil.rmtree(data / "staged", ignore_errors=True)
            times[engine, "cold"].append(build_once(projects[engine], data, engine))
            times[engine, "warm"].append(build_once(projects[engine], data, engine))
    return projects, times


# -- search in Chromium ---------------------------------------------------------------------------

class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


# What each theme shows: the links of the result list, and a status line while it loads.
RESULTS = {"mkdocs": ("li.md-search-result__item > a.md-search-result__link", ".md-search-result__meta"),
           "zensical": ("dialog ol[role=listbox] a[role=option]", "dialog [role=status]")}
BOX = {"mkdocs": "input.md-search__input", "zensical": "dialog input[role=combobox]"}


def site_search(browser, url: str, engine: str, query: str, timeout: float = 20.0) -> tuple[list[str], float]:
    """Page paths in the order the site's search shows them, and ms from typing to a stable list."""
    links, status = RESULTS[engine]
    page = browser.new_page()
    try:
        page.goto(url + "/")
        page.keyboard.press("/")
        box = page.locator(BOX[engine])
        box.wait_for(timeout=15000)
        # both load their index in a web worker: wait until the search says something else than "loading"
        started = time.perf_counter()
        box.fill(query)
        box.press("End")  # Material searches on key-up; fill() sends none
        last, same, shown = None, 0, started
        while time.perf_counter() - started < timeout:
            hrefs = page.locator(links).evaluate_all("els => els.map(a => a.href)")
            text = page.locator(status).first.inner_text() if page.locator(status).count() else ""
            loading = not text or "Loading" in text or "正在" in text or "初始化" in text or "键入" in text
            if hrefs == last and not loading:
                same += 1
                if same >= 3:
                    break
            else:
                last, same, shown = hrefs, 0, time.perf_counter()
            page.wait_for_timeout(150)
        paths = []
        for href in last or []:
            path = urlsplit(href).path
            if path not in paths:
                paths.append(path)
        return paths, (shown - started) * 1000
    finally:
        page.close()


def score(outcomes: list[tuple]) -> dict:
    n = len(outcomes)
    r1 = sum(1 for _, rank, _ in outcomes if rank == 1) / n
    r3 = sum(1 for _, rank, _ in outcomes if rank and rank <= 3) / n
    mrr = sum(1 / rank for _, rank, _ in outcomes if rank) / n
    return {"n": n, "recall@1": r1, "recall@3": r3, "mrr": mrr}


def rank_of(ids: list[str | None], accept: set[str]) -> int | None:
    return next((i for i, rid in enumerate(ids, 1) if rid in accept), None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=Path, default=ROOT / "tests" / "contract" / "dev-queries.tsv")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cases = read_cases(args.queries)

    with tempfile.TemporaryDirectory(prefix="kb-site-bench-") as tmp:
        work = Path(tmp)
        projects, times = measure_builds(work, args.rounds)
        print("## Build times (median of", args.rounds, "rounds)\n")
        print("| engine | build | pages | wall s | CPU s | process s (with start-up) |")
        print("| --- | --- | ---: | ---: | ---: | ---: |")
        for engine in ENGINES:
            for kind in ("cold", "warm"):
                runs = times[engine, kind]
                print(f"| {engine} | {kind} | {runs[0]['pages']} | {statistics.median(r['wall'] for r in runs):.2f} "
                      f"| {statistics.median(r['cpu'] for r in runs):.2f} | {statistics.median(r['process'] for r in runs):.2f} |")

        corpus = require_corpus(projects["mkdocs"] / "snippets")
        by_path = {s.url: s.id for s in corpus.snippets.values()}
        from playwright.sync_api import sync_playwright

        results: dict[str, list[tuple]] = {}
        latency: dict[str, list[float]] = {}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"])
            for engine in ENGINES:
                httpd, url = serve(projects[engine] / "site")
                results[engine], latency[engine] = [], []
                for case in cases:
                    paths, ms = site_search(browser, url, engine, case.query)
                    ids = [by_path.get(p) for p in paths]
                    results[engine].append((case, rank_of(ids, case.accept), paths[:3]))
                    latency[engine].append(ms)
                httpd.shutdown()
            browser.close()

        from kb_service.build import build
        from kb_service.search.engine import Searcher

        settings = settings_for(projects["mkdocs"], projects["mkdocs"] / "var")
        build(settings, force=False)
        searcher = Searcher.open(settings.index_dir, corpus)
        service = []
        for case in cases:
            ids = [r["id"] for r in searcher.search(case.query, limit=10)["results"]]
            service.append((case, rank_of(ids, case.accept), ids[:3]))
        searcher.close()

    rows = {"MkDocs Material (lunr + jieba at build)": results["mkdocs"],
            "Zensical (its search, Intl.Segmenter in the browser)": results["zensical"],
            "service /api/search (话术速查)": service}
    styles = sorted({c.style for c in cases})
    print(f"\n## Search on {args.queries.name} ({len(cases)} queries; hit = an acceptable id among the top 3 pages)\n")
    print("| search | recall@1 | recall@3 | MRR | " + " | ".join(f"recall@3 {s}" for s in styles) + " |")
    print("| --- | ---: | ---: | ---: | " + " | ".join("---:" for _ in styles) + " |")
    for name, outcomes in rows.items():
        m = score(outcomes)
        per = []
        for style in styles:
            sub = [o for o in outcomes if o[0].style == style]
            per.append(f"{score(sub)['recall@3']:.2f} ({sum(1 for o in sub if o[1] and o[1] <= 3)}/{len(sub)})")
        print(f"| {name} | {m['recall@1']:.2f} | {m['recall@3']:.2f} | {m['mrr']:.2f} | " + " | ".join(per) + " |")
    for engine in ENGINES:
        print(f"\n{engine}: typing to a stable result list, median {statistics.median(latency[engine]):.0f} ms, "
              f"max {max(latency[engine]):.0f} ms")
    print("\n## Per query (top 3 pages; * = hit)\n")
    print("| query | style | " + " | ".join(ENGINES) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in ENGINES) + " |")
    for i, case in enumerate(cases):
        cells = []
        for engine in ENGINES:
            _, rank, paths = results[engine][i]
            cells.append(("* " if rank and rank <= 3 else "") + " ".join(p.strip("/") or "/" for p in paths) or "（无结果）")
        print(f"| {case.query} | {case.style} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

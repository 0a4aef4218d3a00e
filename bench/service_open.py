"""How long the service takes to open what it serves, in one process: Services.open (the content
snapshot, the database, the search with its lexicons, the pick hints) and Searcher.open alone,
the first time and again. The preview reopens them after every edit, and every in-process test
client opens them once.

    .venv/bin/python bench/service_open.py [--repeat 20]

Builds the real content into a temporary project first (kb build). Prints p50/p95 in ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from kb_service.build import build, load_content  # noqa: E402
from kb_service.search.engine import Searcher  # noqa: E402
from kb_service.settings import Settings  # noqa: E402
from kb_service.web.services import Services  # noqa: E402
from measure import pct  # noqa: E402

CONTENT = ("mkdocs.yml", "docs", "snippets", "overrides")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        project.mkdir()
        for name in CONTENT:
            src = ROOT / name
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, project / name)
        env = {"KB_PROJECT_DIR": str(project), "KB_DATA_DIR": str(project / "var")}
        build(Settings.from_env(env))
        timings: dict[str, list[float]] = {"Services.open": [], "Searcher.open": []}
        first: dict[str, float] = {}
        for i in range(args.repeat + 1):
            settings = Settings.from_env({**env, "KB_DATABASE_URL": f"sqlite:///{tmp}/kb{i}.sqlite3"})
            started = time.perf_counter()
            Services.open(settings).close()
            took = (time.perf_counter() - started) * 1000
            if i == 0:
                first["Services.open"] = took
            else:
                timings["Services.open"].append(took)
        corpus = load_content(Settings.from_env(env))
        for _ in range(args.repeat):
            started = time.perf_counter()
            Searcher.open(project / "var" / "index", corpus).close()
            timings["Searcher.open"].append((time.perf_counter() - started) * 1000)
    print(f"load average {os.getloadavg()[0]:.2f}; first Services.open {first['Services.open']:.1f} ms")
    print("| what | p50 ms | p95 ms |\n| --- | ---: | ---: |")
    for name, values in timings.items():
        print(f"| {name} (again) | {pct(values, 50):.1f} | {pct(values, 95):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What a resident's phone downloads: bytes over the wire for a first visit and for the next page.

    .venv/bin/python bench/page_weight.py [--project DIR]

Serves the built site with `kb serve` (the project's own build; `kb build` first if there is none)
and opens resident pages in Chromium with a phone's viewport, each in a fresh context (an empty
cache: a first visit), then a second page in the same context (what the HTTP cache saves). For
every response it counts the encoded body size Chromium reports (what crossed the network) and the
decoded size, and prints Markdown tables for bench/README.md: per page, and the largest resources
of the first visit.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from conftest import CHROMIUM  # noqa: E402
from measure import free_port  # noqa: E402

PAGES = ("/", "/residents/", "/residents/standards/", "/residents/feedback/", "/residents/status/")
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True,
         "has_touch": True, "locale": "zh-CN"}


def serve(project: Path, data: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "KB_PROJECT_DIR": str(project), "KB_DATA_DIR": str(data), "KB_REQUEST_LOG": "off"}
    proc = subprocess.Popen([sys.executable, "-m", "kb_service.cli", "serve", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/api/ready", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("kb serve did not become ready")


def visit(context, url: str) -> list[dict]:
    """Load `url` until the network is quiet; one row per response with its sizes."""
    rows: list[dict] = []
    page = context.new_page()

    def done(request):
        response = request.response()
        sizes = request.sizes()
        rows.append({"url": request.url.split("?")[0], "status": response.status if response else 0,
                     "wire": sizes["responseBodySize"], "decoded": len(response.body()) if response and response.status == 200 else 0,
                     "encoding": (response.headers.get("content-encoding", "") if response else "")})

    page.on("requestfinished", done)
    page.goto(url, wait_until="networkidle")
    page.close()
    return rows


def kb(n: float) -> str:
    return f"{n / 1024:,.0f} KB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", type=Path, default=ROOT)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    data = Path(os.environ.get("TMPDIR", "/tmp")) / f"kb-page-weight-{os.getpid()}"
    proc, url = serve(args.project, data)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
            print("| page | first visit: requests | over the wire | decoded | next page (same cache): over the wire |")
            print("| --- | ---: | ---: | ---: | ---: |")
            first_rows: list[dict] = []
            for path in PAGES:
                context = browser.new_context(**PHONE)
                first = visit(context, url + path)
                nxt = visit(context, url + ("/residents/fees/" if path != "/residents/fees/" else "/"))
                context.close()
                first_rows = first_rows or first
                print(f"| `{path}` | {len(first)} | {kb(sum(r['wire'] for r in first))} | "
                      f"{kb(sum(r['decoded'] for r in first))} | {kb(sum(r['wire'] for r in nxt))} |")
            browser.close()
        print()
        print(f"Largest resources of the first visit to `{PAGES[0]}`:")
        print()
        print("| resource | over the wire | decoded | Content-Encoding |")
        print("| --- | ---: | ---: | --- |")
        for r in sorted(first_rows, key=lambda r: -r["decoded"])[:8]:
            print(f"| `{r['url'].removeprefix(url)}` | {kb(r['wire'])} | {kb(r['decoded'])} | {r['encoding'] or '—'} |")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()

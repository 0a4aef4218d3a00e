"""Preview latency: from saving a file to Chromium showing the new text, with `kb serve --reload`.

    .venv/bin/python bench/preview.py [--rounds 3]

Copies the project to a temporary folder, starts `kb serve --reload` on a free port, opens the
page each edit shows up on, and for each of three edits (a script's first step, a standard's
duration, a handbook chapter's text) saves the file and waits until the open page, reloaded by the
preview script and not by this program, contains the new text. Prints save-to-visible per edit
and the server's own rebuild time and kind (/api/build-status: only the changed pages, or a full
build), the machine's load average, and per edit the median over the rounds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ("mkdocs.yml", "docs", "snippets", "overrides")
CHROMIUM = "/usr/bin/chromium"
sys.path.insert(0, str(ROOT))

from kb_service.content.load import load_corpus  # noqa: E402
from measure import free_port  # noqa: E402


def edit_script(project: Path, n: int) -> tuple[str, str]:
    path = project / "snippets" / "scripts" / "complaint.intake.yaml"
    corpus, _ = load_corpus(project / "snippets")
    first = corpus.scripts["complaint.intake"].steps[0]["say"]
    marker = f"预览测试{n}号"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(first, first + marker, 1), encoding="utf-8")
    return "/scripts/complaint.intake/", marker


def edit_standard(project: Path, n: int) -> tuple[str, str]:
    corpus, _ = load_corpus(project / "snippets")
    s = corpus.standards["complaint.response"]
    path = project / "snippets" / "standards.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index(f"- id: {s.id}\n")
    at = text.index("duration: ", start)
    end = text.index("\n", at)
    new = s.duration + n + 1
    path.write_text(text[:at] + f"duration: {new}" + text[end:], encoding="utf-8")
    edited, _ = load_corpus(project / "snippets")
    return "/scripts/complaint.intake/", edited.standards[s.id].text


def edit_chapter(project: Path, n: int) -> tuple[str, str]:
    path = project / "docs" / "handbook" / "03-complaints.md"
    marker = f"预览测试段落{n}号"
    path.write_text(path.read_text(encoding="utf-8") + f"\n\n{marker}\n", encoding="utf-8")
    return "/handbook/03-complaints/", marker


EDITS = {"script": edit_script, "standard": edit_standard, "chapter": edit_chapter}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="kb-preview-bench-"))
    project = tmp / "p"
    project.mkdir()
    for name in CONTENT:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, project / name)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "KB_PROJECT_DIR": str(project), "KB_DATA_DIR": str(project / "var"),
           "NO_MKDOCS_2_WARNING": "1"}
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "kb_service.cli", "serve", "--reload", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                if httpx.get(url + "/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        print(f"kb serve --reload ready after {time.perf_counter() - started:.1f} s (first build)")
        rows = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"])
            page = browser.new_page()
            n = 0
            for _ in range(args.rounds):
                for name, edit in EDITS.items():
                    n += 1
                    path = {"chapter": "/handbook/03-complaints/"}.get(name, "/scripts/complaint.intake/")
                    with page.expect_response(lambda r: "/api/build-status" in r.url):
                        page.goto(url + path)
                    time.sleep(0.3)                      # the page is idle, as when an editor looks at it
                    load = os.getloadavg()[0]
                    saved = time.perf_counter()
                    _, text = edit(project, n)
                    page.wait_for_function("t => !!document.body && document.body.innerText.includes(t)",
                                           arg=text, timeout=300_000)
                    visible = time.perf_counter() - saved
                    status = httpx.get(url + "/api/build-status").json()
                    rows.append((name, visible, status["seconds"], load))
                    how = status.get("mode") or "?"
                    if how == "pages":
                        how = f"{len(status['pages'])} pages re-rendered"
                    print(f"{name:9} save-to-visible {visible:6.2f} s  (server rebuild {status['seconds']} s, "
                          f"{how}, load average {load:.1f})", flush=True)
            browser.close()
        for name in EDITS:
            times = sorted(v for n_, v, _, _ in rows if n_ == name)
            rebuilds = sorted(r for n_, _, r, _ in rows if n_ == name and r is not None)
            print(f"{name:9} median {statistics.median(times):.2f} s (best {times[0]:.2f}, worst {times[-1]:.2f}, "
                  f"{len(times)} rounds); server rebuild median {statistics.median(rebuilds) if rebuilds else '-'} s")
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

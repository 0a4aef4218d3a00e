"""Keystroke-to-paint on the 话术速查 page, in Chromium, typing like staff on the phone.

    .venv/bin/python bench/lookup_typing.py [--url http://127.0.0.1:8000] [--delay 120]

Without --url it starts `kb serve` on a free port from this checkout (run `kb build` first).
Types >= 50 queries (colloquial, keyword, pinyin, initials, Traditional, homophone): pinyin
letter by letter, Chinese as an input method commits it (two characters at a time), each key
`--delay` ms apart. For every query it measures from the last keystroke's input event to the
first animation frame after the result list shows that query's answer. Prints p50/p95/max.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from measure import free_port, pct

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"

QUERIES = [
    # colloquial and keyword
    "楼上漏水到我家", "电梯困人", "停水通知", "物业费为什么涨了", "业主很生气在电话里骂人", "家里突然没电了",
    "有人在小区遛狗不牵绳", "我的车位被人占了", "装修太吵了", "欠费催缴", "维修师傅一直没来", "要求物业赔钱",
    "台风来了要通知什么", "地库进水了", "闻到煤气味", "楼上扔东西下来", "满意度回访", "消防演习", "门禁卡丢了怎么补办",
    "同一个问题投诉第三次了", "广告收入归谁", "这个不归物业管", "给业主道歉的信", "换锁要收费吗", "快递放门口丢了",
    "楼道里好脏", "保安态度很差", "晚上装修很吵", "月租车位多少钱", "水管爆了", "今天天气",
    # pinyin and initials
    "tingshui", "diantikunren", "dtkr", "qfcj", "tingdian", "menjinka", "dtwb", "fwtd", "zaoyin", "loushangloushui",
    "xiaofang", "ranqi", "tfby",
    # Traditional and homophones
    "停電通知", "投訴處理結果", "電梯困人", "燃氣洩漏", "物業費漲價", "颱風暴雨", "停税通知", "店梯困人", "燃器泄漏",
]

PROBE = """() => {
  window.__kbInput = 0; window.__kbPaint = {};
  const input = document.getElementById('kb-lookup-q');
  const list = document.getElementById('kb-lookup-results');
  input.addEventListener('input', () => { window.__kbInput = performance.now(); }, true);
  new MutationObserver(() => {
    const q = list.dataset.query;
    if (q === undefined) return;
    requestAnimationFrame(() => { if (!(q in window.__kbPaint)) window.__kbPaint[q] = performance.now(); });
  }).observe(list, { childList: true, attributes: true, attributeFilter: ['data-query'] });
}"""


def chunks(q: str) -> list[str]:
    if q.isascii():
        return list(q)
    return [q[i:i + 2] for i in range(0, len(q), 2)]  # an IME commits a word or two at a time


def measure(url: str, delay_ms: int, rounds: int) -> list[tuple[str, float]]:
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page(locale="zh-CN")
        page.goto(url + "/staff/lookup/")
        page.wait_for_function("document.activeElement && document.activeElement.id === 'kb-lookup-q'")
        page.evaluate(PROBE)
        page.keyboard.type("预热")
        page.wait_for_function("document.getElementById('kb-lookup-results').dataset.query === '预热'")
        for _ in range(rounds):
            for q in QUERIES:
                page.fill("#kb-lookup-q", "")
                page.dispatch_event("#kb-lookup-q", "input")
                page.evaluate("window.__kbPaint = {}")
                for part in chunks(q):
                    page.keyboard.insert_text(part)
                    page.wait_for_timeout(delay_ms)
                page.wait_for_function(f"window.__kbPaint[{q!r}] !== undefined", timeout=10000)
                t = page.evaluate(f"window.__kbPaint[{q!r}] - window.__kbInput")
                out.append((q, t))
        browser.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url")
    ap.add_argument("--delay", type=int, default=120, help="ms between keys (or IME commits)")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    proc = None
    url = args.url
    if not url:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen([sys.executable, "-m", "kb_service.cli", "serve", "--port", str(port)], cwd=ROOT,
                                env={**os.environ, "KB_FEEDBACK_RATE_LIMIT": "0"},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/api/health", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
    try:
        rows = measure(url, args.delay, args.rounds)
    finally:
        if proc:
            proc.terminate()
            proc.wait(10)
    times = [t for _, t in rows]
    print(f"{len(rows)} typed queries ({len(QUERIES)} distinct), {args.delay} ms between keys")
    print(f"keystroke-to-paint ms: p50 {pct(times, 50):.1f}  p95 {pct(times, 95):.1f}  max {max(times):.1f}")
    slow = sorted(rows, key=lambda r: -r[1])[:5]
    print("slowest:", ", ".join(f"{q} {t:.0f}" for q, t in slow))
    return 0


if __name__ == "__main__":
    sys.exit(main())

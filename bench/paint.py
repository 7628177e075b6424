#!/usr/bin/env python3
"""How soon a person sees the page: the largest contentful paint (LCP) in Chromium (issue 18).

    python bench/paint.py            # front page, a process page listing 1,000 items, a recommendation with 1,000 comments
    python bench/paint.py --smoke    # 10 items and comments, one run each, nothing recorded

gunicorn (2 workers) serves SQLite seeded by bench/seed.py; Debian's Chromium (through Playwright, as
tests/e2e) opens each page in a fresh browser context (no cache, the stylesheet fetched again) at
1280 px and reads the last ``largest-contentful-paint`` entry, after one untimed visit of each page per
worker. The median of ``--repeat`` runs.
Targets: under 500 ms each, and the two long pages within 2x of the front page.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))

from bench import Server, prepared  # noqa: E402
from load import machine, progress  # noqa: E402

BIN = Path(sys.executable).parent
CHROMIUM = os.environ.get("RATSCHLAG_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
MS_TARGET, RATIO_TARGET = 500, 2
LCP = """() => new Promise(resolve => {
    new PerformanceObserver(list => { const e = list.getEntries(); resolve(e[e.length - 1].startTime); })
        .observe({type: 'largest-contentful-paint', buffered: true});
    setTimeout(() => resolve(null), 5000);
})"""


def measure(base: str, pages: dict[str, str], repeat: int) -> dict[str, dict]:
    from playwright.sync_api import sync_playwright
    figures: dict[str, list[float]] = {name: [] for name in pages}
    first_byte: dict[str, list[float]] = {name: [] for name in pages}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            warm = browser.new_context()  # once, not counted: each gunicorn worker compiles its templates on first use
            for path in pages.values():
                for _worker in range(2):
                    warm.new_page().goto(base + path)
            warm.close()
            for run in range(repeat):
                for name, path in pages.items():  # taking turns, so a busy moment of the machine hits all alike
                    progress(f"paint: run {run + 1} of {repeat}, {name}")
                    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="de")
                    page = context.new_page()
                    response = page.goto(base + path, wait_until="load")
                    assert response is not None and response.status == 200, (path, response and response.status)
                    figures[name].append(page.evaluate(LCP))
                    first_byte[name].append(page.evaluate("() => performance.getEntriesByType('navigation')[0].responseStart"))
                    context.close()
        finally:
            browser.close()
    progress("")
    return {name: {"lcp_ms": round(statistics.median(v), 1), "runs": len(v), "min_ms": round(min(v), 1),
                   "max_ms": round(max(v), 1), "ttfb_ms": round(statistics.median(first_byte[name]), 1)}
            for name, v in figures.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one run, nothing recorded")
    args = parser.parse_args()
    size, repeat = (10, 1) if args.smoke else (args.size, args.repeat)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as instance:
        env = prepared("sqlite", instance, "paint")
        progress("paint: seeding")
        out = subprocess.run([str(BIN / "python"), str(REPO / "bench" / "seed.py"), "main",
                              json.dumps({"comments": [size], "recommendations": [size]})],
                             env=env, cwd=REPO, capture_output=True, text=True, check=True)
        seed = json.loads(out.stdout.strip().splitlines()[-1])
        thread = seed["threads"][str(size)]
        pages = {"front page": "/",
                 f"process page, {size} items": f"/processes/{seed['lists'][str(size)]['slug']}",
                 f"recommendation, {size} comments": f"/processes/bench/recommendations/{thread['number']}"}
        server = Server(env, workers=2)
        try:
            started = time.perf_counter()
            results = measure(f"http://127.0.0.1:{server.port}", pages, repeat)
            seconds = time.perf_counter() - started
        finally:
            server.stop()
    front = results["front page"]["lcp_ms"]
    lines = ["| page | LCP median ms | min | max | first byte ms (median) | runs | × front page |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['lcp_ms']} | {r['min_ms']} | {r['max_ms']} | {r['ttfb_ms']} | {r['runs']} | "
                     f"{r['lcp_ms'] / front:.2f} |")
    verdicts = []
    for name, r in results.items():
        verdicts.append(f"- {'met' if r['lcp_ms'] < MS_TARGET else 'MISSED'}: {name} under {MS_TARGET} ms ({r['lcp_ms']} ms)")
        if name != "front page":
            ratio = r["lcp_ms"] / front
            verdicts.append(f"- {'met' if ratio <= RATIO_TARGET else 'MISSED'}: {name} within {RATIO_TARGET}× of the front page "
                            f"({ratio:.2f}×)")
    entry = (f"## Largest contentful paint (issue 18) — {machine()}\n\n"
             f"Chromium {chromium_version()} headless at 1280 px, each page in a fresh context (nothing cached), against "
             f"gunicorn with 2 sync workers on SQLite on the same machine; median of {repeat} runs taking turns "
             f"({seconds:.0f} s); load average {load_before:.1f} when the run began, {os.getloadavg()[0]:.1f} when it ended.\n\n"
             + "\n".join(lines) + "\n\nTargets (issue 18):\n\n" + "\n".join(verdicts) + "\n")
    print(entry)
    if not args.smoke:
        results_file = REPO / "bench" / "RESULTS.md"
        text = results_file.read_text(encoding="utf-8")
        head, _sep, rest = text.partition("Newest first.\n\n")
        results_file.write_text(f"{head}Newest first.\n\n{entry}\n{rest}", encoding="utf-8")
    return 0


def chromium_version() -> str:
    try:
        return subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=20).stdout.split()[1]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


if __name__ == "__main__":
    sys.exit(main())

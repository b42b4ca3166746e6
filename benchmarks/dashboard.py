"""The dashboard in Chromium: time to first render and bytes transferred.

Two pages, each opened ``--repeat`` times in a fresh browser context (a cold
cache, as a first visit), served by a real ``wattline up`` on loopback:

* ``fleet``: the fleet page with ``--devices`` devices (default 1,000), each
  with latest values: from navigation start until its first page of rows (50,
  ``PAGE_ROWS`` in ``web/static/pages/fleet.js``) is in the table and the
  counts show every device;
* ``device chart, 1 year``: one device's page at its ``1y`` range over a year
  of one-minute power readings (525,600 samples; the page asks for 6-hour buckets
  and the API answers them from the hour tier): until the chart is drawn.

Bytes are the transfer sizes the browser reports for the page and every
resource it fetched (the API answers included). The floor is a blank page
from the same server (``/ui/style.css``, shown as text), timed the same way.
Data is loaded straight into the SQLite file, as ``benchmarks/query.py`` loads
it (``day_rows``: the rows the commit path writes), ending now.

    python benchmarks/dashboard.py --devices 1000 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, sync_playwright

sys.path.insert(0, str(Path(__file__).parent))
from query import ROLLUP_COLUMNS, SAMPLE_COLUMNS, day_rows
from served import free_port

from wattline.storage.rollups import DAY_MS, MINUTE_MS
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sqlite import open_sqlite_store

TOKEN = "bench-dashboard-Zq3vT8mWn5Lr2Hc7Kp4Yb9Xd"
CHART_DEVICE = "year-plug"
CHROMIUM = "/usr/bin/chromium"
PAGE_ROWS = 50  # the fleet page's rows per page (web/static/pages/fleet.js)


def daylight(minute_of_day: int) -> float:
    """0 at night, 1 at noon: a plausible daily shape for the chart to draw."""
    return max(0.0, math.sin(math.pi * (minute_of_day - 420) / 720))


def load(db_path: Path, devices: int, now_ms: int) -> None:
    store = open_sqlite_store(db_path)
    for i in range(devices):
        store.register_device(f"fleet-{i:04d}", "smart_plug", now_ms, tenant_id=DEFAULT_TENANT)
    store.register_device(CHART_DEVICE, "smart_plug", now_ms, tenant_id=DEFAULT_TENANT)
    start_ms = (now_ms // DAY_MS - 365) * DAY_MS
    with closing(sqlite3.connect(db_path, isolation_level=None)) as db:
        db.execute("PRAGMA synchronous=OFF")
        db.execute("BEGIN")
        latest = []
        for day in range(366):
            day_start = start_ms + day * DAY_MS
            stamps = [t for t in range(day_start, day_start + DAY_MS, MINUTE_MS) if t < now_ms]
            if not stamps:
                break
            power = [round(200 + 800 * daylight((t // MINUTE_MS) % 1440), 1) for t in stamps]
            samples, rollups, latest = day_rows(CHART_DEVICE, (stamps, {"power_w": power}))
            db.executemany(f"INSERT INTO samples ({SAMPLE_COLUMNS}) VALUES (?,?,?,?,?,?)", samples)
            for table, rows in rollups.items():
                db.executemany(
                    f"INSERT INTO {table} ({ROLLUP_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows
                )
        fleet_latest = [
            (f"fleet-{i:04d}", metric, now_ms, value)
            for i in range(devices)
            for metric, value in (("power_w", 100.0 + i), ("energy_wh", 5000.0 + i))
        ]
        db.executemany("INSERT INTO latest VALUES (?,?,?,?)", [*latest, *fleet_latest])
        db.execute("COMMIT")


def start(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "WATTLINE_ADMIN_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [sys.executable, "-m", "wattline", "up", "--http-port", str(port), "--mqtt-port",
         str(free_port()), "--data-dir", str(data_dir)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("wattline up did not answer /health within 60 s")


# Reads, after the page is ready: ms since navigation start, and bytes over the wire.
MEASURE = """() => {
  const entries = [...performance.getEntriesByType('navigation'),
                   ...performance.getEntriesByType('resource')];
  return {ms: performance.now(),
          bytes: entries.reduce((n, e) => n + (e.transferSize || 0), 0),
          requests: entries.length};
}"""


def visit(browser: Browser, url: str, ready: str) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    session = json.dumps({"access_token": TOKEN})
    context.add_init_script(f"sessionStorage.setItem('wattline.session', {json.dumps(session)})")
    try:
        page = context.new_page()
        page.goto(url)
        page.wait_for_function(f"() => {ready}", timeout=60_000, polling="raf")
        return page.evaluate(MEASURE)
    finally:
        context.close()


def measure(browser: Browser, url: str, ready: str, repeat: int) -> dict[str, float]:
    runs = [visit(browser, url, ready) for _ in range(repeat)]
    times = sorted(r["ms"] for r in runs)
    return {
        "median_ms": statistics.median(times),
        "min_ms": times[0],
        "max_ms": times[-1],
        "bytes": statistics.median(r["bytes"] for r in runs),
        "requests": statistics.median(r["requests"] for r in runs),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    now_ms = time.time_ns() // 1_000_000
    with tempfile.TemporaryDirectory(prefix="wattline-dashboard-bench-") as tmp:
        data_dir = Path(tmp)
        began = time.monotonic()
        load(data_dir / "wattline.db", args.devices, now_ms)
        load_s = time.monotonic() - began
        proc, url = start(data_dir)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
                try:
                    results = run_pages(browser, url, args)
                finally:
                    browser.close()
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    report(results, args, load_s)


def run_pages(browser: Browser, url: str, args: argparse.Namespace) -> dict[str, Any]:
    rows = args.devices + 1  # the fleet, and the chart's device
    return {
        "floor (static file)": measure(
            browser, f"{url}/ui/style.css", "document.body !== null", args.repeat
        ),
        f"fleet, {rows} devices": measure(
            browser,
            f"{url}/#/fleet",
            f"document.querySelectorAll('main table tbody tr').length === {min(rows, PAGE_ROWS)}"
            " && [...document.querySelectorAll('.stat-value')].some("
            f"e => e.textContent === '{rows}')",
            args.repeat,
        ),
        "device chart, 1 year of 1-min data": measure(
            browser,
            f"{url}/#/device/{CHART_DEVICE}/1y",
            "document.querySelector('#chart canvas') !== null"
            " && document.querySelector('#chart').dataset.ready === '1'",
            args.repeat,
        ),
    }


def report(results: dict[str, Any], args: argparse.Namespace, load_s: float) -> None:
    floor = results["floor (static file)"]["median_ms"]
    print(
        f"Chromium {CHROMIUM} headless, 1280x800, a fresh context (cold cache) per visit,"
        f" {args.repeat} visits each; data loaded in {load_s:.0f} s. The machine is shared"
        " with other engineers' builds and tests: compare the ratios to the floor,"
        " measured in the same run.\n"
    )
    print("| page | first render, median (min-max) | x floor | bytes transferred | requests |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['median_ms']:.0f} ms ({r['min_ms']:.0f}-{r['max_ms']:.0f}) |"
            f" {r['median_ms'] / floor:.1f} | {r['bytes'] / 1024:.0f} KiB | {r['requests']:.0f} |"
        )


if __name__ == "__main__":
    main()

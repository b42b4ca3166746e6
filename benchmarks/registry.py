"""A registry of 20,000 devices: paged device lists over HTTP, and retention runs and stops.

For each backend (SQLite in a temporary directory; PostgreSQL in a database of
its own on 127.0.0.1:5432, dropped at the end) it registers ``--devices``
devices with one bulk INSERT, then commits through ``SqlStore.commit`` two
metrics per device at 1, 3, 8, 10, 35 and 400 days ago, so every retention
tier but the daily one has rows to remove from every device. Then it times:

* ``devices first page``: ``GET /api/v1/devices`` (default page of 100) over
  HTTP on loopback, the app on uvicorn as ``wattline up`` runs it;
* ``devices deep page``: the same from a cursor half-way through the registry
  (keyset: it should cost what the first page costs);
* ``devices max page``: ``?limit=1000``;
* ``retention run``: ``python -m wattline retention run`` as a subprocess, wall
  clock, after the old rows are committed again;
* ``retention stop``: ``RetentionScheduler.stop()`` called once its thread has
  finished its first chunk, until the thread has ended.

Results go to stdout as Markdown.

    python benchmarks/registry.py --devices 2000 --backends sqlite --reps 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
from prometheus_client import CollectorRegistry
from served import served as served_app

from wattline.api.app import create_app
from wattline.api.cursors import encode
from wattline.api.services import ApiServices
from wattline.model.messages import Reading
from wattline.storage import schema
from wattline.storage.base import CommitBatch
from wattline.storage.postgres import open_postgres_store
from wattline.storage.retention import RetentionPolicy, RetentionProgress, RetentionScheduler
from wattline.storage.rollups import DAY_MS
from wattline.storage.sql import SqlStore
from wattline.storage.sqlite import open_sqlite_store

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TOKEN = "bench-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROOT = Path(__file__).resolve().parent.parent
# Days ago of each device's readings: kept by raw (1, 3), by 1m (8, 10), by 1h (35), by 1d (400).
DAYS_AGO = (1, 3, 8, 10, 35, 400)
OLD_DAYS_AGO = tuple(d for d in DAYS_AGO if d > RetentionPolicy().raw_days)
COMMIT_BATCH = 5_000  # readings per commit while loading


def device_name(index: int) -> str:
    return f"dev-{index:05d}"


def register(store: SqlStore, devices: int) -> float:
    """Seconds to register every device in one bulk INSERT."""
    now_ms = time.time_ns() // 1_000_000
    rows = [
        {
            "device_id": device_name(i),
            "device_type": ("meter", "plug", "inverter")[i % 3],
            "registered_ms": now_ms,
            "capabilities": "[]",
            "state": "unknown",
            "tags": "[]",
        }
        for i in range(devices)
    ]
    started = time.perf_counter()
    with store.engine.begin() as conn:
        conn.execute(schema.devices.insert(), rows)
    return time.perf_counter() - started


def commit_readings(store: SqlStore, devices: int, days_ago: Sequence[int]) -> None:
    now_ms = time.time_ns() // 1_000_000
    readings = [
        Reading(
            device_name(i), now_ms - d * DAY_MS + i, {"power_w": float(i), "energy_wh": float(d)}
        )
        for i in range(devices)
        for d in days_ago
    ]
    for first in range(0, len(readings), COMMIT_BATCH):
        batch = readings[first : first + COMMIT_BATCH]
        store.commit(CommitBatch(readings=batch, seen_ms={r.device_id: now_ms for r in batch}))


@contextmanager
def served(store: SqlStore) -> Iterator[httpx.Client]:
    """The API on a real uvicorn server on loopback, and a keep-alive HTTP client."""
    app = create_app(
        ApiServices(
            store=store, admin_token=TOKEN, registry=CollectorRegistry(), offline_after_ms=120_000
        )
    )
    with served_app(app) as client:
        yield client


def time_get(client: httpx.Client, params: dict[str, Any], reps: int) -> list[float]:
    timings = []
    for rep in range(reps + 2):  # two warm-up requests
        started = time.perf_counter()
        response = client.get("/api/v1/devices", params=params, headers=AUTH)
        elapsed = time.perf_counter() - started
        response.raise_for_status()
        if rep >= 2:  # after the warm-up above
            timings.append(elapsed)
    return timings


def time_retention_cli(env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "wattline", "retention", "run", "-q"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - started, result.stdout.strip()


def time_stop(store: SqlStore) -> tuple[float, int]:
    """Seconds from stop() to the thread's end, once a run is under way; and devices done then."""
    running = threading.Event()
    reached: list[RetentionProgress] = []

    def first_chunk(at: RetentionProgress) -> None:
        reached.append(at)
        running.set()

    scheduler = RetentionScheduler(store, RetentionPolicy(), progress=first_chunk)
    scheduler.start()
    if not running.wait(120):
        raise RuntimeError("retention reported no progress")
    started = time.perf_counter()
    scheduler.stop()
    elapsed = time.perf_counter() - started
    if scheduler.running:
        raise RuntimeError("the retention thread is still running")
    return elapsed, reached[-1].devices_done


def bench(name: str, store: SqlStore, env: dict[str, str], args: argparse.Namespace) -> list[str]:
    print(f"== {name}: registering {args.devices:,} devices", file=sys.stderr, flush=True)
    register_s = register(store, args.devices)
    started = time.perf_counter()
    commit_readings(store, args.devices, DAYS_AGO)
    load_s = time.perf_counter() - started
    print(f"   registered in {register_s:.2f} s, readings in {load_s:.1f} s", file=sys.stderr)
    with served(store) as client:
        first = time_get(client, {}, args.reps)
        half = {"cursor": encode("devices", device_name(args.devices // 2))}
        deep = time_get(client, half, args.reps)
        biggest = time_get(client, {"limit": 1000}, args.reps)
        body = client.get("/api/v1/devices", headers=AUTH).content
    retention: list[float] = []
    summary = ""
    for rep in range(args.retention_reps):
        if rep:
            commit_readings(store, args.devices, OLD_DAYS_AGO)
        seconds, output = time_retention_cli(env)
        retention.append(seconds)
        summary = summary or output
        print(f"   retention run {rep + 1}: {seconds:.2f} s", file=sys.stderr, flush=True)
    stops: list[float] = []
    for _ in range(args.retention_reps):
        commit_readings(store, args.devices, OLD_DAYS_AGO)
        seconds, done = time_stop(store)
        stops.append(seconds)
        print(f"   stop after {done} devices: {seconds:.3f} s", file=sys.stderr, flush=True)
    retention_note = "target < 30 s; first run: " + summary.replace("\n", "; ").replace("|", "/")
    return [
        row(name, "registration (bulk INSERT)", [register_s], "ms", ""),
        row(name, "devices first page (100)", first, "ms", f"{len(body):,} B, target < 100 ms"),
        row(name, "devices deep page (cursor at half)", deep, "ms", ""),
        row(name, "devices max page (1,000)", biggest, "ms", ""),
        row(name, "`wattline retention run`", retention, "s", retention_note),
        row(name, "retention scheduler stop mid-run", stops, "ms", "target < 5 s"),
    ]


def row(backend: str, what: str, seconds: list[float], unit: str, notes: str) -> str:
    median = statistics.median(seconds)
    shown = f"{median:.2f} s" if unit == "s" else f"{median * 1000:,.1f} ms"
    return f"| {backend} | {what} | {len(seconds)} | {shown} | {notes} |"


def env_for(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATTLINE_")}
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env.update(settings)
    return env


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=20_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--reps", type=int, default=30, help="timed requests per page kind")
    parser.add_argument("--retention-reps", type=int, default=3)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    rows: list[str] = []
    for name in args.backends.split(","):
        if name == "sqlite":
            with tempfile.TemporaryDirectory(prefix="wattline-registry-") as tmp:
                store = open_sqlite_store(Path(tmp) / "wattline.db")
                try:
                    rows += bench(name, store, env_for(WATTLINE_DATA_DIR=tmp), args)
                finally:
                    store.close()
            continue
        database = f"wattline_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {database}")
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + database
        try:
            store = open_postgres_store(url)
            try:
                with tempfile.TemporaryDirectory(prefix="wattline-registry-") as tmp:
                    env = env_for(WATTLINE_DATA_DIR=tmp, WATTLINE_DATABASE_URL=url)
                    rows += bench(name, store, env, args)
            finally:
                store.close()
        finally:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    print(
        f"{args.devices:,} devices, each with two metrics at {', '.join(map(str, DAYS_AGO))}"
        " days ago. Medians.\n"
    )
    print("| backend | what | runs | median | notes |")
    print("|---|---|---:|---:|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()

"""The store's commit alone, in process: microseconds per reading for one batch shape.

Batches shaped like the ingest benchmark's stream (``ingest.py``: readings of five
metrics round-robin over the devices, 10 ms apart per device, increasing seq),
dated today so that no commit takes the path that reopens compacted days, are
committed one after the other into a fresh store; the median over the last two
thirds of the batches is reported (the first third warms the page cache and the
statement cache), in wall time and in this process's CPU time (what a collector's
threads share one GIL for; the wall time also holds the fsync, which varies more
between runs than the rest). No broker, no collector threads, no archive: what changes in
``storage/`` shows here without the end-to-end run's noise.

    python benchmarks/commit_batch.py                      # 10 devices, 2,000 readings
    python benchmarks/commit_batch.py --devices 100 --batch 330
    python benchmarks/commit_batch.py --postgres
    python benchmarks/commit_batch.py --devices 100 --batch 100 --batches 900 \
        --step-ms 60000 --wal-frames      # long series: the steady state's pages per commit
    python benchmarks/commit_batch.py --devices 100 --batch 450 --staged 16

``--staged N`` stages each batch (``SqlStore.stage``) and then folds the staged
rows of N devices (``SqlStore.fold``), as the collector does (ADR 0033), and
reports the two transactions apart, at the median and the 90th and 99th
percentiles (a batch that comes during a fold waits for it: its tail is the
live stream's).

``--postgres`` commits into a database of its own on the machine's PostgreSQL
(``ingest.py``'s: created for the run, dropped after).
"""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from wattline.model.messages import Reading
from wattline.storage.base import CommitBatch
from wattline.storage.sql import SqlStore
from wattline.storage.sqlite import open_sqlite_store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import postgres_database

DAY_MS = 86_400_000
METRICS = ("voltage_v", "current_a", "power_w", "energy_wh", "frequency_hz")


class Stream:
    """Readings round-robin over the devices, each device's ``step_ms`` apart."""

    def __init__(self, devices: list[str], first_ms: int, step_ms: int = 10) -> None:
        self.devices = devices
        self.seq = [0] * len(devices)
        self.ts_ms = first_ms
        self.step_ms = step_ms

    def batch(self, size: int, seen_ms: int) -> CommitBatch:
        readings = []
        for k in range(size):
            i = k % len(self.devices)
            if i == 0:
                self.ts_ms += self.step_ms
            self.seq[i] += 1
            values = (230.0 + k % 7, 1.0 + k % 3, 230.0, float(self.seq[i]), 50.0)
            metrics = dict(zip(METRICS, values, strict=True))
            readings.append(Reading(self.devices[i], self.ts_ms, metrics, self.seq[i]))
        return CommitBatch(readings=readings, seen_ms=dict.fromkeys(self.devices, seen_ms))


@contextlib.contextmanager
def opened_store(postgres: bool) -> Iterator[tuple[SqlStore, Path | None]]:
    """A fresh store, and its SQLite file (None on PostgreSQL)."""
    with contextlib.ExitStack() as stack:
        path: Path | None = None
        if postgres:
            from wattline.storage.postgres import open_postgres_store  # noqa: PLC0415

            store = open_postgres_store(stack.enter_context(postgres_database()))
        else:
            path = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "wattline.db"
            store = open_sqlite_store(path)
        try:
            yield store, path
        finally:
            store.close()


def wal_frames_since_last_call(path: Path) -> int:
    """Pages the commits since the last call wrote to SQLite's WAL: a checkpoint reports
    how many frames the WAL holds, then one that truncates it starts the count again
    (run between commits, untimed)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        _busy, frames, _copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return int(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--batch", type=int, default=2_000, help="readings per commit")
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument(
        "--step-ms",
        type=int,
        default=10,
        help="between a device's readings (60000: a new minute each)",
    )
    parser.add_argument(
        "--wal-frames", action="store_true", help="SQLite: also count the WAL pages per commit"
    )
    parser.add_argument(
        "--staged",
        type=int,
        default=0,
        metavar="N",
        help="stage each batch, then fold N devices' staged rows (the collector's way)",
    )
    args = parser.parse_args()

    now_ms = time.time_ns() // 1_000_000
    # Today, from just after midnight: a reading of a closed day takes the reopen path.
    first_ms = now_ms - now_ms % DAY_MS + 60_000
    devices = [f"bench-dev-{i:04d}" for i in range(args.devices)]
    with opened_store(args.postgres) as (store, path):
        store.commit(CommitBatch(register=devices, seen_ms=dict.fromkeys(devices, now_ms)))
        stream = Stream(devices, first_ms, args.step_ms)
        per_reading_us = []
        cpu_per_reading_us = []
        wal_frames = []
        stage_ms: list[float] = []
        fold_ms: list[float] = []
        for _ in range(args.batches):
            batch = stream.batch(args.batch, now_ms)
            started, cpu_started = time.perf_counter(), time.process_time()
            if args.staged:
                store.stage(batch)
                staged = time.perf_counter()
                store.fold(args.staged)
                stage_ms.append((staged - started) * 1000)
                fold_ms.append((time.perf_counter() - staged) * 1000)
            else:
                store.commit(batch)
            per_reading_us.append((time.perf_counter() - started) / args.batch * 1e6)
            cpu_per_reading_us.append((time.process_time() - cpu_started) / args.batch * 1e6)
            if args.wal_frames and path is not None:
                wal_frames.append(wal_frames_since_last_call(path))
    kept = per_reading_us[args.batches // 3 :]
    cpu = statistics.median(cpu_per_reading_us[args.batches // 3 :])
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"{backend}, {args.devices} devices, {args.batch} readings per commit:"
        f" {statistics.median(kept):.2f} us per reading"
        f" ({statistics.median(kept) * args.batch / 1000:.1f} ms per commit,"
        f" median of {len(kept)});"
        f" this process's CPU {cpu:.2f} us per reading"
    )
    if stage_ms:
        print(
            f"staged, folding {args.staged} devices after each, ms (p50 / p90 / p99):"
            f" stage {spread(stage_ms[args.batches // 3 :])},"
            f" fold {spread(fold_ms[args.batches // 3 :])}"
        )
    if wal_frames:
        frames = statistics.median(wal_frames[args.batches // 3 :])
        print(
            f"WAL: {frames:.0f} pages per commit ({frames * 4096 / 2**20:.1f} MiB,"
            f" {frames * 4096 / args.batch / 1024:.1f} KiB per reading)"
        )


def spread(values: list[float]) -> str:
    """p50 / p90 / p99."""
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return " / ".join(f"{cuts[q - 1]:.1f}" for q in (50, 90, 99))


if __name__ == "__main__":
    main()

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

``--postgres`` commits into a database of its own on the machine's PostgreSQL
(``ingest.py``'s: created for the run, dropped after).
"""

from __future__ import annotations

import argparse
import contextlib
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
    """Readings round-robin over the devices, each device's 10 ms apart."""

    def __init__(self, devices: list[str], first_ms: int) -> None:
        self.devices = devices
        self.seq = [0] * len(devices)
        self.ts_ms = first_ms

    def batch(self, size: int, seen_ms: int) -> CommitBatch:
        readings = []
        for k in range(size):
            i = k % len(self.devices)
            if i == 0:
                self.ts_ms += 10
            self.seq[i] += 1
            values = (230.0 + k % 7, 1.0 + k % 3, 230.0, float(self.seq[i]), 50.0)
            metrics = dict(zip(METRICS, values, strict=True))
            readings.append(Reading(self.devices[i], self.ts_ms, metrics, self.seq[i]))
        return CommitBatch(readings=readings, seen_ms=dict.fromkeys(self.devices, seen_ms))


@contextlib.contextmanager
def opened_store(postgres: bool) -> Iterator[SqlStore]:
    with contextlib.ExitStack() as stack:
        if postgres:
            from wattline.storage.postgres import open_postgres_store  # noqa: PLC0415

            store = open_postgres_store(stack.enter_context(postgres_database()))
        else:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            store = open_sqlite_store(directory / "wattline.db")
        try:
            yield store
        finally:
            store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--batch", type=int, default=2_000, help="readings per commit")
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    args = parser.parse_args()

    now_ms = time.time_ns() // 1_000_000
    # Today, from just after midnight: a reading of a closed day takes the reopen path.
    first_ms = now_ms - now_ms % DAY_MS + 60_000
    devices = [f"bench-dev-{i:04d}" for i in range(args.devices)]
    with opened_store(args.postgres) as store:
        store.commit(CommitBatch(register=devices, seen_ms=dict.fromkeys(devices, now_ms)))
        stream = Stream(devices, first_ms)
        per_reading_us = []
        cpu_per_reading_us = []
        for _ in range(args.batches):
            batch = stream.batch(args.batch, now_ms)
            started, cpu_started = time.perf_counter(), time.process_time()
            store.commit(batch)
            per_reading_us.append((time.perf_counter() - started) / args.batch * 1e6)
            cpu_per_reading_us.append((time.process_time() - cpu_started) / args.batch * 1e6)
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


if __name__ == "__main__":
    main()

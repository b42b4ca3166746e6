"""The store's commit alone, and beside a busy Python thread: the GIL convoy.

One SQLite store (``synchronous=FULL``), 100 devices, readings of two metrics
round-robin over them, committed in batches of 1, 100, 250 and 1,000 readings
(15 commits each, the median reported). Then the same while another thread of
the same process runs pure Python (what the planner's decoding or the event
loop's WebSocket writes are to the committer): sqlite3 releases the GIL for
every statement step, and each time it wants it back it may wait for the busy
thread's switch interval. Also with that interval at 1 ms instead of 5, and
through the commit process (ADR 0025) beside the same busy thread: the batch
pickled to a child with a GIL of its own, the round trip timed.

    python benchmarks/commit_convoy.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from wattline.model.messages import Reading
from wattline.runtime.commit_process import CommitProcess, StoreAddress
from wattline.storage.base import CommitBatch
from wattline.storage.sql import SqlStore
from wattline.storage.sqlite import open_sqlite_store

DEVICES = [f"dev{i}" for i in range(100)]
BATCHES = (1, 100, 250, 1_000)
REPEAT = 15


class Stream:
    """Readings with live timestamps (today's rows) and increasing seq per device."""

    def __init__(self) -> None:
        self.ts_ms = time.time_ns() // 1_000_000 - 3_600_000
        self.seq = dict.fromkeys(DEVICES, 0)

    def batch(self, n: int) -> CommitBatch:
        readings = []
        for k in range(n):
            device = DEVICES[k % len(DEVICES)]
            self.ts_ms += 1
            metrics = {"power_w": float(k), "sent_ms": float(self.ts_ms)}
            readings.append(Reading(device, self.ts_ms, metrics, self.seq[device]))
            self.seq[device] += 1
        # as the collector does: the batch's own devices, at their newest arrival
        return CommitBatch(readings=readings, seen_ms={r.device_id: self.ts_ms for r in readings})


@contextmanager
def busy_thread(switch_interval_s: float | None) -> Iterator[None]:
    stop = threading.Event()

    def burn() -> None:
        total = 0
        while not stop.is_set():
            for i in range(1_000):
                total += i * i

    default = sys.getswitchinterval()
    if switch_interval_s is not None:
        sys.setswitchinterval(switch_interval_s)
    thread = threading.Thread(target=burn, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(default)


def medians(store: SqlStore | CommitProcess, stream: Stream) -> list[float]:
    out = []
    for n in BATCHES:
        times = []
        for _ in range(REPEAT):
            batch = stream.batch(n)
            started = time.perf_counter()
            store.commit(batch)
            times.append((time.perf_counter() - started) * 1000)
        out.append(statistics.median(times))
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_sqlite_store(Path(tmp) / "convoy.db")
        stream = Stream()
        store.commit(CommitBatch(seen_ms={}, register=DEVICES))
        store.commit(stream.batch(100))
        alone = medians(store, stream)
        with busy_thread(None):
            busy = medians(store, stream)
        with busy_thread(0.001):
            busy_1ms = medians(store, stream)
        child = CommitProcess(StoreAddress(None, Path(tmp) / "convoy.db", "full"))
        child.start()
        try:
            with busy_thread(None):
                in_child = medians(child, stream)
        finally:
            child.close()
    print("Median commit, ms (100 devices, 2 metrics per reading, SQLite, synchronous=FULL):\n")
    print(
        "| readings per batch | alone | beside a busy thread | busy thread, 1 ms switch "
        "| busy thread, commit process |"
    )
    print("|---:|---:|---:|---:|---:|")
    rows = zip(BATCHES, alone, busy, busy_1ms, in_child, strict=True)
    for n, a, b, c, d in rows:
        print(
            f"| {n:,} | {a:.1f} | {b:.1f} ({b / a:.1f}x) | {c:.1f} ({c / a:.1f}x) "
            f"| {d:.1f} ({d / a:.1f}x) |"
        )


if __name__ == "__main__":
    main()

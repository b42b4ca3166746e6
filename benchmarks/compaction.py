"""First compaction of a loaded SQLite store: milliseconds per series-day, by transaction size.

Loads ``--devices`` x ``--days`` x 4 metrics at one reading a minute with the
query benchmark's bulk loader, then packs every day into blocks on fresh copies
of that store, alternating a transaction per series-day (``ROWS_PER_TRANSACTION``
= 1: the transaction ends after its first day) with the shipped budget. Prints
a Markdown table on stdout.

    python benchmarks/compaction.py --devices 5 --days 20 --repeat 3
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import query

from wattline.storage import compaction
from wattline.storage.sqlite import open_sqlite_store


def compact_copy(loaded: Path, workdir: Path, budget: int, cutoff_ms: int) -> tuple[int, float]:
    """(series-days packed, seconds) on a fresh copy of the loaded store."""
    copy = workdir / "run.db"
    shutil.copy(loaded, copy)
    compaction.ROWS_PER_TRANSACTION = budget
    store = open_sqlite_store(copy)
    try:
        started = time.perf_counter()
        done = store.compact_before(cutoff_ms)
        return done.series_days, time.perf_counter() - started
    finally:
        store.close()
        copy.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=5)
    parser.add_argument("--days", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    scale = query.Scale(args.devices, args.days, 4)
    shipped = compaction.ROWS_PER_TRANSACTION
    budgets = {"a transaction per series-day": 1, f"up to {shipped:,} rows": shipped}
    per_day: dict[str, list[float]] = {label: [] for label in budgets}
    with tempfile.TemporaryDirectory(prefix="wl-compaction-") as tmp:
        workdir = Path(tmp)
        loaded = workdir / "loaded.db"
        query.load_sqlite(loaded, scale, lambda _n: None)  # checkpointed: one file
        cutoff_ms = query.T0_MS + scale.days * query.DAY_MS
        for _ in range(args.repeat):
            for label, budget in budgets.items():
                series_days, seconds = compact_copy(loaded, workdir, budget, cutoff_ms)
                per_day[label].append(seconds * 1000 / series_days)
                print(f"  {label}: {series_days} series-days in {seconds:.1f} s",
                      file=sys.stderr, flush=True)  # fmt: skip
    print(f"{scale} loaded, then every day packed; {args.repeat} alternating runs each.\n")
    print("| transactions | ms per series-day (median) | runs |")
    print("|---|---:|---|")
    for label, values in per_day.items():
        runs = ", ".join(f"{v:.2f}" for v in values)
        print(f"| {label} | {statistics.median(values):.2f} | {runs} |")


if __name__ == "__main__":
    main()

"""The raw archive's append alone, and beside a busy thread: the GIL convoy (ADR 0037).

A batch of 200 telemetry records, received now, appended to a folder archive
``--appends`` times; the median and p99 of one append. Then the same while
another thread of the same process runs pure Python, as the API's event loop
writing WebSockets does in ``wattline up``: each system call of the append
releases the GIL, and taking it back may wait for the busy thread's switch
interval (5 ms).

    python benchmarks/archive_convoy.py
    PYTHONPATH=/path/to/other/checkout/src python benchmarks/archive_convoy.py  # compare
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from wattline.archive.base import ArchiveRecord
from wattline.archive.folder import FolderArchive

sys.path.insert(0, str(Path(__file__).resolve().parent))
from commit_convoy import busy_thread

RECORDS = 200


def batch() -> list[ArchiveRecord]:
    now_ms = time.time_ns() // 1_000_000
    return [
        ArchiveRecord(
            received_ms=now_ms,
            topic=f"wattline/v1/t/dev{i % 100}/telemetry",
            payload=b'{"ts":%d,"seq":%d,"metrics":{"power_w":12.5,"voltage_v":230.1}}'
            % (now_ms, i),
            outcome="accepted",
            category="telemetry",
        )
        for i in range(RECORDS)
    ]


def appends_ms(archive: FolderArchive, records: list[ArchiveRecord], count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        archive.append(records)
        times.append((time.perf_counter() - started) * 1000)
    return sorted(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--appends", type=int, default=200)
    args = parser.parse_args()
    records = batch()
    with tempfile.TemporaryDirectory() as folder:
        archive = FolderArchive(Path(folder))
        archive.append(records)  # the hour's file exists, as it does for all but one append
        alone = appends_ms(archive, records, args.appends)
        with busy_thread(None):
            beside = appends_ms(archive, records, args.appends)
        archive.close()
    print(f"One append of {RECORDS} records to a folder archive, ms ({args.appends} appends):\n")
    print("| | p50 | p99 |")
    print("|---|---:|---:|")
    for name, times in (("alone", alone), ("beside a busy thread", beside)):
        p50, p99 = times[len(times) // 2], times[int(len(times) * 0.99)]
        print(f"| {name} | {p50:.2f} | {p99:.2f} |")


if __name__ == "__main__":
    main()

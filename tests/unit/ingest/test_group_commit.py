"""Group commit: batches planned while a commit runs are committed together next."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from tests.unit.ingest.test_collector_run_once import T0, ListArchive, deliver, make, telemetry

from wattline.archive.base import ArchiveRecord
from wattline.ingest.sources.base import Delivery
from wattline.storage.base import CommitBatch, CommitResult
from wattline.storage.memory import MemoryStore


class GatedStore(MemoryStore):
    """Its first commit waits for ``release``; every commit's readings are recorded."""

    def __init__(self) -> None:
        super().__init__(clock_ms=lambda: T0)
        self.entered = threading.Event()
        self.release = threading.Event()
        self.batches: list[list[int | None]] = []

    def commit(self, batch: CommitBatch) -> CommitResult:
        self.batches.append([reading.seq for reading in batch.readings])
        self.entered.set()
        assert self.release.wait(10)
        return super().commit(batch)


class CountingArchive(ListArchive):
    def __init__(self) -> None:
        super().__init__()
        self.appends: list[int] = []

    def append(self, records: Sequence[ArchiveRecord]) -> None:
        self.appends.append(len(records))
        super().append(records)

    def holds(self, appends: int) -> Callable[[], bool]:
        return lambda: len(self.appends) == appends


def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_batches_planned_during_a_commit_go_into_the_next_commit_together() -> None:
    store = GatedStore()
    archive = CountingArchive()
    collector, source, _ = make(store, archive=archive)
    collector.start()
    try:
        deliver(source, telemetry("m1", 0, 1.0))
        assert store.entered.wait(10)  # the first commit holds the committer
        # each message gathered, planned and archived on its own
        for seq in range(1, 6):
            source.deliver(telemetry("m1", seq, float(seq)), Delivery(10 + seq, 1, 1))
            wait_until(archive.holds(seq + 1))
        store.release.set()
        wait_until(lambda: len(source.acked) == 6)
    finally:
        collector.stop()

    assert archive.appends == [1, 1, 1, 1, 1, 1]
    assert store.batches == [[0], [1, 2, 3, 4, 5]]
    assert source.acked == [1, 11, 12, 13, 14, 15]
    assert sorted(ts for (_, _, ts) in store.samples) == [T0 + seq * 1000 for seq in range(6)]

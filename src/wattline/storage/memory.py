"""The ingest and quarantine ports in memory, for unit tests of the pipeline.

It keeps the contract the SQL store keeps for these ports (tested against it
in tests/integration/storage/test_ingest_port_contract.py): devices registered on first
contact, readings whose (device, seq) was seen dropped, one sample per
(device, metric, ts) with the newest arrival winning, one quarantine entry per
topic and bytes. A commit is all or nothing: nothing changes until it has
worked out everything it writes. Subclass it to make a store fail on cue.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from wattline.model.messages import Hello, Reading
from wattline.model.sequence import SeqState, sequence_batch
from wattline.storage.base import (
    CommitBatch,
    CommitResult,
    QuarantineEntry,
    QuarantineRecord,
    quarantine_fingerprint,
)

SampleKey = tuple[str, str, int]  # (device_id, metric, ts_ms)


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class MemoryStore:
    def __init__(self, clock_ms: Callable[[], int] = _wall_clock_ms) -> None:
        # Sequence tracking dates the gaps it opens by this clock.
        self._clock_ms = clock_ms
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        # device id -> last seen (ms), None before its first accepted message
        self.devices: dict[str, int | None] = {}
        self.samples: dict[SampleKey, float] = {}
        self.sequences: dict[str, SeqState] = {}
        self._quarantine: dict[str, QuarantineRecord] = {}  # by fingerprint
        self.commits = 0

    # -- IngestStore ----------------------------------------------------------

    def existing_devices(self, device_ids: Iterable[str]) -> set[str]:
        with self._lock:
            return self.devices.keys() & set(device_ids)

    def stage(self, batch: CommitBatch) -> CommitResult:
        """Nothing to gain from staging in memory: the batch is committed whole."""
        return self.commit(batch)

    def fold(self, max_devices: int, min_age_ms: int = 0) -> CommitResult | None:  # noqa: ARG002
        return None

    def commit(self, batch: CommitBatch) -> CommitResult:
        events: Sequence[Reading | Hello] = (
            batch.arrival_order
            if batch.arrival_order is not None
            else [*batch.hellos, *batch.readings]
        )
        with self._lock:
            changed, kept, seq_duplicates = sequence_batch(self.sequences, events, self._clock_ms())
            rows = [(r.device_id, m, r.ts_ms, v) for r in kept for m, v in r.metrics.items()]
            staged: dict[SampleKey, float] = {}
            corrected = 0
            for device_id, metric, ts_ms, value in rows:
                key = (device_id, metric, ts_ms)
                # A key repeated with a new value inside one batch is a correction.
                if staged.get(key, value) != value:
                    corrected += 1
                staged[key] = value
            inserted = sum(key not in self.samples for key in staged)
            corrected += sum(
                key in self.samples and self.samples[key] != value for key, value in staged.items()
            )
            # Everything worked out: apply it.
            for device_id in batch.register:
                self.devices.setdefault(device_id, None)
            self.sequences.update(changed)
            self.samples.update(staged)
            seen = _newest_ms(batch.readings) if batch.historical else batch.seen_ms
            for device_id, seen_ms in seen.items():
                if device_id in self.devices:
                    self.devices[device_id] = max(self.devices[device_id] or seen_ms, seen_ms)
            self._resolve(batch.resolved_quarantine)
            for entry in batch.quarantined:
                self._add_quarantined(entry)
            self.commits += 1
        return CommitResult(
            samples_offered=len(rows),
            samples_inserted=inserted,
            samples_corrected=corrected,
            readings_seq_duplicate=seq_duplicates,
        )

    # -- QuarantineStore ------------------------------------------------------

    def quarantine(
        self,
        limit: int,
        reason: str | None = None,
        ids: Sequence[int] | None = None,
        before_id: int | None = None,
    ) -> list[QuarantineRecord]:
        """Newest first; ``before_id`` (the last id of the previous page) starts a keyset page."""
        with self._lock:
            records = sorted(self._quarantine.values(), key=lambda r: r.id, reverse=True)
        return [
            r
            for r in records
            if (before_id is None or r.id < before_id)
            and (reason is None or r.reason == reason)
            and (ids is None or r.id in ids)
        ][:limit]

    def _add_quarantined(self, entry: QuarantineEntry) -> None:
        fingerprint = quarantine_fingerprint(entry.topic, entry.payload)
        known = self._quarantine.get(fingerprint)
        if known is not None:
            self._quarantine[fingerprint] = replace(
                known,
                occurrences=known.occurrences + 1,
                last_received_ms=entry.received_ms,
                reason=entry.reason,
                detail=entry.detail,
            )
            return
        self._quarantine[fingerprint] = QuarantineRecord(
            id=next(self._ids),
            received_ms=entry.received_ms,
            topic=entry.topic,
            reason=entry.reason,
            detail=entry.detail,
            payload=entry.payload,
            fingerprint=fingerprint,
        )

    def _resolve(self, ids: Sequence[int]) -> None:
        if ids:
            gone = set(ids)
            self._quarantine = {f: r for f, r in self._quarantine.items() if r.id not in gone}


def _newest_ms(readings: Sequence[Reading]) -> dict[str, int]:
    newest: dict[str, int] = {}
    for r in readings:
        newest[r.device_id] = max(newest.get(r.device_id, r.ts_ms), r.ts_ms)
    return newest

"""The storage interface every backend implements.

Callers (ingest, API, CLI) depend only on ``TelemetryStore``; SQLite is the
first implementation and PostgreSQL follows without changing them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from wattline.model.devices import Device, LatestValue
from wattline.model.messages import Hello, Reading, StatusReport
from wattline.model.sequence import SeqState
from wattline.storage.bucketing import BucketPlan, SeriesBucket
from wattline.storage.keyset import DeviceFilter
from wattline.storage.retention import Progress, Removed


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    received_ms: int
    topic: str
    reason: str
    detail: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class QuarantineRecord:
    id: int
    received_ms: int
    topic: str
    reason: str
    detail: str
    payload: bytes
    # the same topic and bytes received again (a redelivery or a repeating device)
    occurrences: int = 1
    last_received_ms: int | None = None
    fingerprint: str | None = None


@dataclass(frozen=True, slots=True)
class CommitBatch:
    """Everything one transaction writes."""

    readings: Sequence[Reading] = ()
    hellos: Sequence[Hello] = ()
    statuses: Sequence[StatusReport] = ()
    quarantined: Sequence[QuarantineEntry] = ()
    # device id -> newest arrival time of an accepted message from it
    seen_ms: dict[str, int] = field(default_factory=dict)
    # devices to create on first contact (demo mode's auto-registration)
    register: Sequence[str] = ()
    # hellos and readings in arrival order, for sequence tracking; None: hellos first
    arrival_order: Sequence[Reading | Hello] | None = None
    # quarantine ids stored by this batch after all (a replay): removed from quarantine
    resolved_quarantine: Sequence[int] = ()
    # past readings brought in by `wattline import`, not heard from the device now:
    # last_seen moves only to the newest reading's own time
    historical: bool = False


@dataclass(frozen=True, slots=True)
class CommitResult:
    samples_offered: int
    samples_inserted: int
    # existing (device, metric, ts) whose value changed: the newest arrival won
    samples_corrected: int = 0
    # readings dropped because their (device, seq) was already seen
    readings_seq_duplicate: int = 0

    @property
    def samples_duplicate(self) -> int:
        return self.samples_offered - self.samples_inserted - self.samples_corrected


@dataclass(frozen=True, slots=True)
class DedupCounts:
    """What deduplication by (device, metric, ts) did to one device's samples."""

    # dropped: the same value was already stored for that metric and time
    duplicate_samples: int
    # replaced: a later arrival carried another value for a stored metric and time
    corrected_samples: int


@dataclass(frozen=True, slots=True)
class RawPoint:
    ts_ms: int
    seq: int | None
    metrics: dict[str, float]


class StoreUnavailableError(Exception):
    """The database cannot be reached; callers retry or report unhealthy."""


class TelemetryStore(Protocol):
    def commit(self, batch: CommitBatch) -> CommitResult: ...

    def existing_devices(self, device_ids: Iterable[str]) -> set[str]: ...

    def register_device(
        self,
        device_id: str,
        device_type: str | None,
        now_ms: int,
        tags: Sequence[str] | None = None,
    ) -> tuple[Device, bool]: ...

    def list_devices(self) -> list[Device]: ...

    def device_page(
        self, after: str | None, limit: int, where: DeviceFilter | None = None
    ) -> list[Device]: ...

    def get_device(self, device_id: str) -> Device | None: ...

    def latest_values(
        self, device_ids: Sequence[str] | None = None
    ) -> dict[str, list[LatestValue]]: ...

    def raw_points(  # noqa: PLR0913 - the range, its filter and the page
        self,
        device_id: str,
        start_ms: int,
        end_ms: int,
        fields: Sequence[str] | None,
        limit: int,
        *,
        after_ms: int | None = None,
        descending: bool = False,
    ) -> list[RawPoint]: ...

    def delete_device(self, device_id: str) -> dict[str, int]: ...

    def device_rows(self, table_name: str, device_id: str) -> Iterator[list[dict[str, object]]]: ...

    def metric_points(
        self, device_id: str, metric: str, start_ms: int, end_ms: int
    ) -> list[tuple[int, float]]: ...

    def series(
        self,
        device_ids: Sequence[str],
        plan: BucketPlan,
        fields: Sequence[str] | None,
        with_ends: bool = False,
    ) -> dict[str, list[SeriesBucket]]: ...

    def quarantine(
        self,
        limit: int,
        reason: str | None = None,
        ids: Sequence[int] | None = None,
        before_id: int | None = None,
    ) -> list[QuarantineRecord]: ...

    def sequence_state(self, device_id: str) -> SeqState | None: ...

    def dedup_counts(self, device_id: str) -> DedupCounts | None: ...

    def remove_before(
        self,
        cutoffs_ms: Mapping[str, int],
        *,
        stop: threading.Event | None = None,
        progress: Progress | None = None,
    ) -> dict[str, Removed]: ...

    def ping(self) -> None: ...

    def close(self) -> None: ...

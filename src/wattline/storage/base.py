"""The values that cross the store boundary: what a commit writes, what reads return.

The protocols a backend implements are in ``ports.py``, one per consumer;
``SqlStore`` (SQLite and PostgreSQL) and the in-memory store implement them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from wattline.model.messages import Hello, Reading, StatusReport


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
    # time inside the store's transaction, timed where it ran (the commit process);
    # a measurement, not part of what was committed: results compare without it
    store_seconds: float = field(default=0.0, compare=False)

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


def quarantine_fingerprint(topic: str, payload: bytes) -> str:
    """What makes two quarantined messages the same one: its topic and its bytes."""
    return hashlib.sha256(topic.encode() + b"\0" + payload).hexdigest()

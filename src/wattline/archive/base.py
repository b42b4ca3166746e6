"""The raw archive: every message, accepted or rejected, byte for byte."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from msgspec import Struct

HOUR_MS = 3_600_000


class ArchiveRecord(Struct, frozen=True):
    received_ms: int
    topic: str
    payload: bytes
    # "accepted" or the quarantine reason
    outcome: str
    # what kind of message this was ("telemetry", "hello", ...; "rejected" when unknown)
    category: str


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    category: str
    # "/"-separated path below the archive root, beginning with the category
    key: str
    # start of the UTC hour the segment's records were received in
    hour_ms: int
    size_bytes: int
    # "local" (folder or not-yet-uploaded spool) or "s3"
    location: str


class ArchiveWriter(Protocol):
    """What ingest needs of the archive: appending a batch."""

    def append(self, records: Sequence[ArchiveRecord]) -> None:
        """Write one batch as (part of) a segment; never one object per message.

        Returning means the batch is durable: the broker is acknowledged after this.
        """


@dataclass(frozen=True, slots=True)
class CompactionReport:
    # segments rewritten into larger ones, and how many they became
    segments_before: int = 0
    segments_after: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    # segments left alone because part of them does not decode (a torn tail)
    skipped: tuple[str, ...] = field(default=())

    def describe(self) -> str:
        text = (
            f"{self.segments_before} segments into {self.segments_after}, "
            f"{self.bytes_before} -> {self.bytes_after} bytes"
        )
        if self.skipped:
            text += f"; left alone (do not decode whole): {', '.join(self.skipped)}"
        return text

    def __add__(self, other: CompactionReport) -> CompactionReport:
        return CompactionReport(
            self.segments_before + other.segments_before,
            self.segments_after + other.segments_after,
            self.bytes_before + other.bytes_before,
            self.bytes_after + other.bytes_after,
            self.skipped + other.skipped,
        )


class ArchiveLifecycle(Protocol):
    """What the retention job needs of an archive (archive/lifecycle.py)."""

    def expire_before(self, cutoff_ms: int) -> int:
        """Delete the segments of hours ending at or before cutoff_ms; return how many."""

    def compact(self, now_ms: int, stop: threading.Event | None = None) -> CompactionReport:
        """Rewrite the small segments of closed hours into larger ones; nothing is lost if
        this is interrupted at any point (the new segment is written before the old go).
        A set ``stop`` ends the run between two segments."""


class RawArchive(ArchiveWriter, ArchiveLifecycle, Protocol):
    def read(
        self,
        category: str | None = None,
        *,
        since_ms: int | None = None,
        until_ms: int | None = None,
    ) -> Iterator[ArchiveRecord]:
        """Records with since_ms <= received_ms < until_ms, by category, hour, then append order."""

    def segments(self, category: str | None = None) -> list[SegmentInfo]:
        """The segments holding data, in read order."""

    def close(self) -> None:
        """Flush what is buffered and stop background work."""


def hour_overlaps(hour_ms: int, since_ms: int | None, until_ms: int | None) -> bool:
    """Whether [hour_ms, hour_ms + 1 h) can hold a record in [since_ms, until_ms)."""
    if since_ms is not None and hour_ms + HOUR_MS <= since_ms:
        return False
    return until_ms is None or hour_ms < until_ms


def in_range(record: ArchiveRecord, since_ms: int | None, until_ms: int | None) -> bool:
    if since_ms is not None and record.received_ms < since_ms:
        return False
    return until_ms is None or record.received_ms < until_ms

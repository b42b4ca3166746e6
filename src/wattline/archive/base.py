"""The raw archive: every message, accepted or rejected, byte for byte."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class ArchiveRecord:
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


class RawArchive(ArchiveWriter, Protocol):
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

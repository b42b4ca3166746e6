from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ArchiveRecord:
    received_ms: int
    topic: str
    payload: bytes
    # "accepted" or the quarantine reason
    outcome: str
    # what kind of message this was ("telemetry", "hello", ...; "rejected" when unknown)
    category: str


class RawArchive(Protocol):
    def append(self, records: Sequence[ArchiveRecord]) -> None:
        """Write one batch as (part of) a segment; never one object per message."""

    def read(self, category: str | None = None) -> Iterator[ArchiveRecord]: ...

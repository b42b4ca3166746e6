"""What a replay feeds ingest, and in which order.

The archive reads category by category (``hello`` before ``telemetry``), but
sequencing depends on the order hellos and readings arrived in: a hello replayed
before the readings of the boot it ended would split them wrongly. ``in_time_order``
merges the categories back into one stream by receive time, as ingest saw it.

``AlreadySequenced`` leaves out what the store had sequenced before the replay
began: a reading whose (device, seq) the stored sequence state calls a
duplicate, and a hello older than the device's newest sequenced reading. Live
ingest would drop the first (counting it as a duplicate) and re-apply the second
(starting a new boot), so without this a second replay over the same hours would
move the duplicate counters and the boot numbers though it stores nothing.
What the store did not hold before the replay is sequenced exactly as live.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import Protocol

from wattline.archive.base import ArchiveRecord, RawArchive
from wattline.model.messages import Interpreted
from wattline.model.sequence import SeqState, SeqVerdict, observe


def in_time_order(
    archive: RawArchive,
    category: str | None,
    since_ms: int | None,
    until_ms: int | None,
) -> Iterator[ArchiveRecord]:
    """Every category's records merged by receive time (ties: by category name)."""
    if category is not None:
        return archive.read(category, since_ms=since_ms, until_ms=until_ms)
    categories = sorted({segment.category for segment in archive.segments()})
    streams = [archive.read(name, since_ms=since_ms, until_ms=until_ms) for name in categories]
    return heapq.merge(*streams, key=lambda record: record.received_ms)


class SequenceStates(Protocol):
    def sequence_state(self, device_id: str) -> SeqState | None: ...


class AlreadySequenced:
    def __init__(self, states: SequenceStates) -> None:
        self._states = states
        # each device's state as the replay found it, read before its first commit
        self._before: dict[str, SeqState | None] = {}

    def covers(self, outcome: Interpreted, received_ms: int) -> bool:
        """Whether the store had sequenced this message before the replay began."""
        before = self._state_before(outcome.device_id)
        if before is None:
            return False
        if outcome.hello is not None:
            return before.last_ts_ms is not None and received_ms <= before.last_ts_ms
        readings = outcome.readings
        return bool(readings) and all(
            reading.seq is not None
            and observe(before, reading.seq, reading.ts_ms, 0)[1] is SeqVerdict.DUPLICATE
            for reading in readings
        )

    def _state_before(self, device_id: str) -> SeqState | None:
        if device_id not in self._before:
            self._before[device_id] = self._states.sequence_state(device_id)
        return self._before[device_id]

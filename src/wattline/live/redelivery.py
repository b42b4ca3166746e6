"""Readings already streamed, recognised when ingest hands them over again.

Ingest tells its listeners every reading of a committed batch, including the
ones the store dropped as duplicates (a QoS 1 redelivery after a reconnect or a
collector restart). The store keeps them out of the database; this keeps them
off the live stream: a reading with the same device, timestamp and values as
one streamed recently is skipped. A new value for the same timestamp (a
correction, which the store keeps) is streamed.
"""

from __future__ import annotations

from collections import OrderedDict

from wattline.live.events import LiveEvent

# Readings remembered: at 5,000 readings/s, the last 20 s, about 10 MB. A
# redelivery older than that reaches clients again (the store still dedups).
DEFAULT_CAPACITY = 100_000


class RecentlyStreamed:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._values: OrderedDict[tuple[str | None, int], int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._values)

    def first_time(self, event: LiveEvent) -> bool:
        """False when this reading (device, timestamp, values) was streamed recently."""
        key = (event.device_id, event.ts_ms)
        values = hash(frozenset(event.payload.get("metrics", {}).items()))
        remembered = self._values
        # Taken out and put back: the key moves to the newest end either way.
        previous = remembered.pop(key, None)
        remembered[key] = values
        if previous == values:
            return False
        if len(remembered) > self._capacity:
            remembered.popitem(last=False)
        return True

"""An in-process message source for driving a real Collector without a broker.

It stands in for the MQTT client only: the collector, committer, stores and
archives under test are the real ones.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from wattline.ingest.sources.base import DeliverFn, DeliverManyFn, Delivery


class FakeSource:
    """Hands the collector messages and records what it acknowledges."""

    def __init__(self, deliver: DeliverFn) -> None:
        self.deliver = deliver
        self.connected = threading.Event()
        self.acked: list[int] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        self.connected.set()

    def stop(self) -> None:
        self.connected.clear()

    def ack(self, deliveries: Sequence[Delivery]) -> int:
        with self._lock:
            self.acked += [d.mid for d in deliveries]
        return len(deliveries)


class SourceFactory:
    """`make_source` for a Collector, keeping the source it made."""

    def __init__(self) -> None:
        self.sources: list[FakeSource] = []

    def __call__(self, deliver: DeliverFn, _deliver_many: DeliverManyFn) -> FakeSource:
        self.sources.append(FakeSource(deliver))
        return self.sources[-1]

    @property
    def source(self) -> FakeSource:
        return self.sources[-1]

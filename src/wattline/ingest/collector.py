"""The collector: MQTT source -> bounded queue -> batches -> commit -> acknowledge."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from wattline.ingest.committer import BatchPlan, Committer
from wattline.ingest.mqtt_source import Delivery, MessageSource
from wattline.model.messages import InboundMessage
from wattline.observability.metrics import IngestMetrics
from wattline.storage.base import StoreUnavailableError

log = logging.getLogger("wattline.ingest")

Item = tuple[InboundMessage, Delivery]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    max_messages: int = 2000
    # Upper bound on the latency batching adds to a reading.
    max_wait_s: float = 0.05
    # Flush as soon as the stream pauses this long. A broker holds back further
    # messages once its in-flight window (Mosquitto: 20 for MQTT 3.1.1) is
    # unacknowledged, so waiting out max_wait_s would only add latency.
    idle_gap_s: float = 0.002
    queue_max_messages: int = 20_000
    retry_delay_s: float = 0.5


@dataclass(frozen=True, slots=True)
class CollectorStatus:
    running: bool
    connected: bool
    queued: int
    last_commit_ms: int | None
    store_healthy: bool


def gather_batch(items: queue.Queue[T], policy: BatchPolicy, first_wait_s: float) -> list[T]:
    """Block up to first_wait_s for one item, then take more until the batch is full,
    max_wait_s has passed, or the stream pauses for idle_gap_s."""
    try:
        batch = [items.get(timeout=first_wait_s)]
    except queue.Empty:
        return []
    deadline = time.monotonic() + policy.max_wait_s
    while len(batch) < policy.max_messages:
        try:
            batch.append(items.get_nowait())
            continue
        except queue.Empty:
            pass
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            batch.append(items.get(timeout=min(remaining, policy.idle_gap_s)))
        except queue.Empty:
            break
    return batch


class Collector:
    def __init__(
        self,
        make_source: Callable[[Callable[[InboundMessage, Delivery], None]], MessageSource],
        committer: Committer,
        metrics: IngestMetrics,
        policy: BatchPolicy | None = None,
    ) -> None:
        self._policy = policy or BatchPolicy()
        self._queue: queue.Queue[Item] = queue.Queue(maxsize=self._policy.queue_max_messages)
        self._source = make_source(self._enqueue)
        self._committer = committer
        self._metrics = metrics
        self._stopping = threading.Event()
        # set when the collector thread died of an unexpected error
        self.failed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wattline-collector", daemon=True)
        self._last_commit_ms: int | None = None
        self._store_healthy = True

    @property
    def committer(self) -> Committer:
        return self._committer

    def start(self) -> None:
        self._thread.start()
        self._source.start()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._source.connected.wait(timeout_s)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Commit and acknowledge everything already received, then disconnect."""
        self._stopping.set()
        self._thread.join(timeout_s)
        self._source.stop()

    def status(self) -> CollectorStatus:
        return CollectorStatus(
            running=self._thread.is_alive(),
            connected=self._source.connected.is_set(),
            queued=self._queue.qsize(),
            last_commit_ms=self._last_commit_ms,
            store_healthy=self._store_healthy,
        )

    def _enqueue(self, message: InboundMessage, delivery: Delivery) -> None:
        self._queue.put((message, delivery))

    def _run(self) -> None:
        try:
            self._drain()
        except Exception:
            # Whatever it was, retrying blindly could loop forever; stop instead so the
            # process exits and a supervisor restarts it. Nothing is lost: messages not
            # yet committed were never acknowledged and the broker redelivers them.
            log.exception("collector stopped by an unexpected error")
            self.failed.set()

    def _drain(self) -> None:
        policy = self._policy
        while True:
            batch = gather_batch(self._queue, policy, first_wait_s=0.2)
            if batch:
                if not self._commit_until_done(batch):
                    return
            elif self._stopping.is_set():
                return

    def _commit_until_done(self, batch: list[Item]) -> bool:
        """Retry a failed plan or commit until it lands: unacknowledged data must not be dropped."""
        messages = [message for message, _ in batch]
        plan: BatchPlan | None = None
        while True:
            started = time.perf_counter()
            try:
                # Inside the retry: planning looks devices not seen before up in
                # the registry, so a database outage fails it just like a commit.
                if plan is None:
                    plan = self._committer.plan(messages)
                self._committer.commit(plan)
            except (StoreUnavailableError, OSError) as exc:
                self._store_healthy = False
                self._metrics.store_errors.inc()
                log.warning("commit failed, will retry: %s", exc)
                if self._stopping.wait(self._policy.retry_delay_s):
                    # Leaving un-acked: the broker redelivers on the next session.
                    log.warning("stopping with %d uncommitted messages left unacked", len(batch))
                    return False
                continue
            self._metrics.commit_seconds.observe(time.perf_counter() - started)
            self._store_healthy = True
            self._last_commit_ms = time.time_ns() // 1_000_000
            self._source.ack([delivery for _, delivery in batch])
            return True

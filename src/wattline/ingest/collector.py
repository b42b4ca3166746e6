"""The collector: MQTT source -> bounded queue -> batches -> commit -> acknowledge.

Two threads, so that batches are planned and archived while the one before
them commits: the planner gathers a few milliseconds of messages at a time,
plans them (decode, validate, route) and appends them to the raw archive; the
committer takes everything planned so far as one batch, commits it and
acknowledges it. So a batch is what arrived during the commit before it (group
commit): a reading waits for the commit in progress and then its own, never for
a batch queued in between, and the batch grows with the load, which keeps the
committer's fixed cost per batch (every device's sequence, latest and rollup
rows) from taking over at high rates. Much of a commit runs in SQLite, the
network or the commit process without the GIL (and both stages wait on fsync),
so the overlap is real even in one process. Between them sits a backlog bounded
in messages: a slow database holds the planner back, which holds the MQTT
thread back, which holds the broker back.

``run_once`` does the same for one batch in the calling thread, and the clocks
are injected, so a test drives the collector step by step.

With ``traces`` (OpenTelemetry on), a sample of messages is traced from the
broker's callback through decode, archive and commit to the acknowledgement;
without, the collector makes no tracing call at all.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from wattline.ingest.committer import Committer
from wattline.ingest.inbox import Inbox
from wattline.ingest.plan import BatchPlan, merge_plans
from wattline.ingest.poison import describe_store_error, isolate
from wattline.ingest.sources.base import DeliverFn, DeliverManyFn, Delivery, MessageSource
from wattline.model.messages import InboundMessage, Rejection, RejectReason
from wattline.observability.metrics import IngestMetrics
from wattline.observability.tracing import MessageTraces
from wattline.storage.base import StoreUnavailableError

log = logging.getLogger("wattline.ingest")

Item = tuple[InboundMessage, Delivery]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    # A gathered batch at most; the committer's backlog holds about as many more.
    max_messages: int = 2000
    # Upper bound on the latency gathering adds to a reading: the committer merges
    # whatever was gathered while it committed, so its batches still grow with the
    # load (a 50 ms gather made a reading wait for it on top of two commits).
    max_wait_s: float = 0.005
    # Flush as soon as the stream pauses this long. A broker holds back further
    # messages once its in-flight window (Mosquitto: 20 for MQTT 3.1.1) is
    # unacknowledged, so waiting out max_wait_s would only add latency.
    idle_gap_s: float = 0.002
    queue_max_messages: int = 20_000
    retry_delay_s: float = 0.5
    # Commit batches with their readings staged, and fold them into samples,
    # rollups and latest values between commits, a few devices at a time (ADR
    # 0033): a commit then costs a few pages however many series it touches.
    staging: bool = False
    # A batch of this many devices or more, with fewer readings a device than
    # stage_below_per_device, is staged. A batch of a few devices touches few
    # series, and one with many readings a device (a backlog draining, a large
    # fleet at full speed) shares each series' cost among many: both are
    # committed whole, their devices' staged rows first.
    stage_from_devices: int = 16
    stage_below_per_device: int = 10
    # Devices one fold takes at most: bounds how long a batch can wait for one.
    fold_devices: int = 16
    # Under load, staged rows are folded once this old: a device folded less often
    # has more readings folded at once, for the same fixed cost per series.
    fold_after_s: float = 0.25
    # When no batch has come for this long, everything staged is folded, a part at
    # a time. Not sooner: at a moderate load, folding at every short lull folds
    # each device more often and delays the batch arriving meanwhile (20 ms, two
    # runs at 7,000 readings/s: p50 / p99 192-220 / 409-497 ms; 0.25 s, three
    # runs: 74-162 / 159-698 ms; docs/benchmarks.md).
    idle_fold_s: float = 0.25


@dataclass(frozen=True, slots=True)
class CollectorStatus:
    running: bool
    connected: bool
    queued: int
    last_commit_ms: int | None
    store_healthy: bool


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def gather_batch(
    items: Inbox[T],
    policy: BatchPolicy,
    first_wait_s: float,
    monotonic: Callable[[], float] = time.monotonic,
) -> list[T]:
    """Block up to first_wait_s for one item, then take more until the batch is full,
    max_wait_s has passed since its first item arrived, or the stream pauses for
    idle_gap_s.

    ``monotonic`` is the clock ``items`` dates arrivals by. Counting from the
    arrival, not from the take, matters under load: what arrived while the
    planner planned the batch before has waited already, and another max_wait_s
    on top only made every reading wait longer (the committer merges whatever
    was planned while it committed, so batches still grow with the load).
    """
    batch, first_arrived = items.take_dated(policy.max_messages, first_wait_s)
    if not batch:
        return batch
    deadline = first_arrived + policy.max_wait_s
    while len(batch) < policy.max_messages:
        more = items.take(policy.max_messages - len(batch), 0.0)
        if not more:
            remaining = deadline - monotonic()
            if remaining <= 0:
                break
            more = items.take(policy.max_messages - len(batch), min(remaining, policy.idle_gap_s))
            if not more:
                break
        batch += more
    return batch


@dataclass(slots=True)
class _Planned:
    plan: BatchPlan
    messages: list[InboundMessage]
    deliveries: list[Delivery]
    # when its oldest message was received (epoch ms)
    oldest_ms: int


def _merged(parts: Sequence[_Planned]) -> _Planned:
    if len(parts) == 1:
        return parts[0]
    return _Planned(
        merge_plans([part.plan for part in parts]),
        [message for part in parts for message in part.messages],
        [delivery for part in parts for delivery in part.deliveries],
        min(part.oldest_ms for part in parts),
    )


class _Backlog:
    """Planned batches waiting for the committer, which takes them all as one.

    Bounded in messages: ``put`` waits while ``max_messages`` or more are waiting
    (one more batch may then bring it to just under twice that)."""

    def __init__(self, max_messages: int) -> None:
        self._max_messages = max_messages
        self._parts: list[_Planned] = []
        self._messages = 0
        self._ended = False
        self._changed = threading.Condition()

    def put(self, planned: _Planned, timeout_s: float) -> bool:
        """Queue a batch; False if the backlog stayed full for ``timeout_s``."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._messages < self._max_messages, timeout_s):
                return False
            self._parts.append(planned)
            self._messages += len(planned.messages)
            self._changed.notify_all()
            return True

    def end(self) -> None:
        """No more batches: ``take`` answers None once the backlog is empty."""
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def take(self, timeout_s: float | None = None) -> _Planned | None:
        """Everything waiting, merged in order (blocks until there is some, or for at most
        ``timeout_s``); None at the end or when nothing came in time (``finished`` tells)."""
        with self._changed:
            self._changed.wait_for(lambda: bool(self._parts) or self._ended, timeout_s)
            if not self._parts:
                return None
            parts, self._parts, self._messages = self._parts, [], 0
            self._changed.notify_all()
        return _merged(parts)

    def waiting(self) -> bool:
        """Some batch is waiting to be taken."""
        with self._changed:
            return bool(self._parts)

    def finished(self) -> bool:
        """Ended, and every batch taken."""
        with self._changed:
            return self._ended and not self._parts


class StoreFaultError(Exception):
    """The store refuses whatever it is given: a fault of ours, not of a message."""


class _StoppedError(Exception):
    """The collector was told to stop while a store outage held a batch back."""


# How many of a failed batch's topics a crash report names.
_TOPICS_IN_CRASH_REPORT = 5


class Collector:
    def __init__(  # noqa: PLR0913 - collaborators, then the clocks
        self,
        make_source: Callable[[DeliverFn, DeliverManyFn], MessageSource],
        committer: Committer,
        metrics: IngestMetrics,
        policy: BatchPolicy | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        clock_ms: Callable[[], int] = _wall_clock_ms,
        traces: MessageTraces | None = None,
        before_ack: Callable[[], object] | None = None,
    ) -> None:
        """``monotonic`` (seconds) times batches and commits; ``clock_ms`` (epoch
        milliseconds) dates the last commit; ``traces``: None when tracing is off;
        ``before_ack``: called after each commit, before the broker is told (the
        live feed's bounded wait until the batch is on the bus)."""
        self._policy = policy or BatchPolicy()
        self._monotonic = monotonic
        self._clock_ms = clock_ms
        self._queue: Inbox[Item] = Inbox(self._policy.queue_max_messages, monotonic)
        self._planned = _Backlog(self._policy.max_messages)
        self._traces = traces
        self._before_ack = before_ack
        if traces is None:
            self._source = make_source(self._enqueue, self._queue.put_many)
        else:
            self._source = make_source(self._enqueue_traced, self._enqueue_many_traced)
        metrics.queued.set_function(lambda: len(self._queue))
        metrics.connected.set_function(lambda: float(self._source.connected.is_set()))
        self._committer = committer
        self._metrics = metrics
        self._waits = {
            stage: metrics.oldest_wait_seconds.labels(stage) for stage in ("planned", "committed")
        }
        self._stopping = threading.Event()
        # set when either stage ended early (gave up in an outage at stop, or failed)
        self._halted = threading.Event()
        # set when a stage died of an unexpected error
        self.failed = threading.Event()
        self._planner = threading.Thread(
            target=self._guarded, args=(self._plan_all,), name="wattline-planner", daemon=True
        )
        self._thread = threading.Thread(
            target=self._guarded, args=(self._commit_all,), name="wattline-collector", daemon=True
        )
        self._last_commit_ms: int | None = None
        self._store_healthy = True
        # What each stage is working on, so that a crash report names the topics.
        self._in_hand: dict[str, Sequence[InboundMessage]] = {}

    @property
    def committer(self) -> Committer:
        return self._committer

    def start(self) -> None:
        self._thread.start()
        self._planner.start()
        self._source.start()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._source.connected.wait(timeout_s)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Commit and acknowledge everything already received, then disconnect."""
        self._stopping.set()
        deadline = time.monotonic() + timeout_s
        if self._planner.is_alive():
            self._planner.join(timeout_s)
        if self._thread.is_alive():
            self._thread.join(max(0.0, deadline - time.monotonic()))
        self._source.stop()
        if self._traces is not None:
            self._traces.abandon()

    def status(self) -> CollectorStatus:
        return CollectorStatus(
            running=self._thread.is_alive() and self._planner.is_alive(),
            connected=self._source.connected.is_set(),
            queued=len(self._queue),
            last_commit_ms=self._last_commit_ms,
            store_healthy=self._store_healthy,
        )

    def run_once(self, wait_s: float = 0.0) -> int:
        """Gather, plan, archive, commit and acknowledge one batch in the calling thread.

        Waits up to ``wait_s`` for the batch's first message; returns how many
        messages it handled (0: none came, or told to stop during an outage).
        For tests and tools: use it instead of ``start``, never beside it.
        """
        batch = gather_batch(self._queue, self._policy, wait_s, self._monotonic)
        if not batch:
            return 0
        planned = self._prepare(batch)
        if planned is None:
            return 0
        try:
            self._commit_and_ack(planned)
        except _StoppedError:
            return 0
        if self._policy.staging:
            self._fold_all()
        return len(batch)

    def _enqueue(self, message: InboundMessage, delivery: Delivery) -> None:
        self._queue.put((message, delivery))

    def _enqueue_traced(self, message: InboundMessage, delivery: Delivery) -> None:
        assert self._traces is not None
        receiving = self._traces.received(message)
        # Blocks while the queue is full: the receive span shows the back-pressure.
        self._queue.put((message, delivery))
        if receiving is not None:
            receiving.end()

    def _enqueue_many_traced(self, items: Sequence[Item]) -> None:
        for message, delivery in items:
            self._enqueue_traced(message, delivery)

    def _traced(
        self, stage: str, messages: Sequence[InboundMessage]
    ) -> contextlib.AbstractContextManager[None]:
        if self._traces is None:
            return contextlib.nullcontext()
        return self._traces.stage(stage, messages)

    def _guarded(self, stage: Callable[[], None]) -> None:
        try:
            stage()
        except Exception:
            # Not a message's content (those are quarantined) but a fault of ours:
            # retrying blindly could loop forever; stop instead so the process
            # exits and a supervisor restarts it. Nothing is lost: messages not
            # yet committed were never acknowledged and the broker redelivers them.
            batch = self._in_hand.get(threading.current_thread().name, ())
            topics = sorted({m.topic for m in batch})
            log.exception(
                "collector stopped by an unexpected error in %s with %d messages in hand "
                "(topics %s%s)",
                threading.current_thread().name,
                len(batch),
                ", ".join(topics[:_TOPICS_IN_CRASH_REPORT]) or "none",
                ", ..." if len(topics) > _TOPICS_IN_CRASH_REPORT else "",
            )
            self.failed.set()
        finally:
            self._halted.set()

    # -- planner thread -----------------------------------------------------------

    def _plan_all(self) -> None:
        policy = self._policy
        try:
            while not self._halted.is_set():
                batch = gather_batch(self._queue, policy, 0.2, self._monotonic)
                if batch:
                    planned = self._prepare(batch)
                    if planned is None or not self._hand_over(planned):
                        return
                elif self._stopping.is_set():
                    return
        finally:
            # the committer commits what is planned, then ends
            self._planned.end()

    def _prepare(self, batch: list[Item]) -> _Planned | None:
        """Plan and archive a batch, retrying through outages; None if stopped meanwhile."""
        messages = [message for message, _ in batch]
        self._in_hand[threading.current_thread().name] = messages
        plan: BatchPlan | None = None

        def prepare() -> None:
            nonlocal plan
            # Planning looks devices not seen before up in the registry, so a
            # database outage fails it just like a commit.
            if plan is None:
                with self._traced("decode", messages):
                    plan = self._committer.plan(messages)
            with self._traced("archive", messages):
                self._committer.archive(plan)

        if not self._until_done(prepare, len(batch)):
            return None
        assert plan is not None
        planned = _Planned(
            plan,
            messages,
            [delivery for _, delivery in batch],
            min(message.received_ms for message in messages),
        )
        self._observe_wait("planned", planned)
        return planned

    def _observe_wait(self, stage: str, planned: _Planned) -> None:
        """How long the batch's oldest message has waited since its receipt, at ``stage``:
        where a reading's latency goes, without timing each one."""
        waited_ms = max(0, self._clock_ms() - planned.oldest_ms)
        self._waits[stage].observe(waited_ms / 1000)

    def _hand_over(self, planned: _Planned) -> bool:
        """Queue a batch for the committer; False if it has halted."""
        while not self._planned.put(planned, timeout_s=0.2):
            if self._halted.is_set():
                return False
        return True

    # -- committer thread ---------------------------------------------------------

    def _commit_all(self) -> None:
        """Commit each planned batch; when staging, fold what is staged (ADR 0033): under
        load one part of the rows ``fold_after_s`` old after each commit, and whenever
        no batch has come for ``idle_fold_s`` everything, a part at a time.

        A batch then waits for at most one fold of ``fold_devices`` devices, and
        under a steady load each device is folded about every ``fold_after_s``.
        Rows an earlier run left staged (a crash) are folded at the first lull.
        """
        staging = self._policy.staging
        maybe_staged = staging
        while True:
            timeout_s = self._policy.idle_fold_s if maybe_staged else None
            planned = self._planned.take(timeout_s=timeout_s)
            if planned is None:
                if self._planned.finished():
                    break
                maybe_staged = self._fold_until_a_batch_waits()
                continue
            try:
                self._commit_and_ack(planned)
            except _StoppedError:
                return
            if staging:
                maybe_staged = True
                self._fold_part(self._fold_age_ms)
        if staging:
            self._fold_all()

    def _fold_until_a_batch_waits(self) -> bool:
        """Fold staged rows of any age, a part at a time, until none are left (False) or a
        batch waits or the store is down (True: some may be left)."""
        while self._fold_part(0):
            if self._planned.waiting():
                return True
        return not self._store_healthy

    def _stages(self, plan: BatchPlan) -> bool:
        """Whether a batch is staged (ADR 0033): with staging on, when it holds many
        devices and few readings of each."""
        policy = self._policy
        if not policy.staging:
            return False
        devices = len({r.device_id for r in plan.readings})
        return (
            devices >= policy.stage_from_devices
            and len(plan.readings) < policy.stage_below_per_device * devices
        )

    @property
    def _fold_age_ms(self) -> int:
        return round(self._policy.fold_after_s * 1000)

    def _fold_part(self, min_age_ms: int) -> bool:
        """Fold one part of the staged readings at least ``min_age_ms`` old; False once
        there are none.

        An outage is waited out here (the next commit would meet it too) but
        not retried in a loop of its own: staged rows are committed, and any
        later fold takes them."""
        try:
            folded = self._committer.fold(self._policy.fold_devices, min_age_ms)
        except (StoreUnavailableError, OSError) as exc:
            self._store_healthy = False
            self._metrics.store_errors.inc()
            log.warning("store unavailable while folding staged readings, will retry: %s", exc)
            self._stopping.wait(self._policy.retry_delay_s)
            return False
        self._store_healthy = True
        return folded is not None

    def _fold_all(self) -> None:
        """Fold everything staged; stops at an outage (what stays staged is folded later)."""
        while self._fold_part(0):
            pass

    def _commit_and_ack(self, planned: _Planned) -> None:
        self._in_hand[threading.current_thread().name] = planned.messages
        started = self._monotonic()
        with self._traced("commit", planned.messages):
            self._commit_isolating(planned)
        self._metrics.commit_seconds.observe(self._monotonic() - started)
        self._observe_wait("committed", planned)
        self._metrics.batch_messages.observe(len(planned.messages))
        self._last_commit_ms = self._clock_ms()
        self._metrics.last_commit.set(self._last_commit_ms / 1000)
        if self._before_ack is not None:
            self._before_ack()
        with self._traced("ack", planned.messages):
            self._source.ack(planned.deliveries)
        if self._traces is not None:
            self._traces.finished(planned.messages)

    def _commit_isolating(self, planned: _Planned) -> None:
        """Commit a batch; if the store refuses its content, quarantine the culprits alone."""
        error = self._attempt(planned.plan, len(planned.messages))
        if error is None:
            return
        log.warning(
            "a batch of %d messages was refused by the store (%s); isolating the culprits",
            len(planned.messages),
            describe_store_error(error),
        )
        culprits = isolate(planned.messages, self._commit_part, error)
        if len(culprits) == len(planned.messages) > 1:
            # Every message refused on its own: the fault is the store's (a schema
            # or partition problem), not in the messages. Quarantining them all
            # would hide it; stop loudly instead, acknowledging nothing.
            raise StoreFaultError(
                f"the store refused each of {len(culprits)} messages on its own "
                f"({describe_store_error(culprits[0][1])})"
            )
        for message, refusal in culprits:
            self._reject(message, refusal)
        log.warning("%d message(s) quarantined as store_rejected", len(culprits))

    def _commit_part(self, messages: Sequence[InboundMessage]) -> Exception | None:
        plan = self._retrying(lambda: self._committer.plan(messages), len(messages))
        # The planner archived the whole batch already.
        plan.archived = True
        return self._attempt(plan, len(messages))

    def _reject(self, message: InboundMessage, error: Exception) -> None:
        detail = describe_store_error(error)
        log.warning("quarantined a message on %s: %s", message.topic[:200], detail)
        plan = self._committer.plan_rejection(
            message, Rejection(RejectReason.STORE_REJECTED, detail)
        )
        plan.archived = True
        refused = self._attempt(plan, 1)
        if refused is not None:
            # Even a quarantine row was refused: the fault is the store's, not the
            # message's. Stop loudly, acknowledging nothing, rather than drop it.
            raise StoreFaultError(
                f"the store refused a quarantine row too ({describe_store_error(refused)}); "
                "the fault is not in the messages"
            ) from refused

    def _attempt(self, plan: BatchPlan, size: int) -> Exception | None:
        """Commit through outages; the content error that refused the plan, else None."""
        refused: Exception | None = None

        def commit() -> None:
            nonlocal refused
            try:
                self._committer.commit(plan, staged=self._stages(plan))
            except (StoreUnavailableError, OSError):
                raise
            except Exception as exc:
                refused = exc

        self._retrying(commit, size)
        return refused

    def _retrying(self, action: Callable[[], T], size: int) -> T:
        """``action()``, retried through store outages; _StoppedError if told to stop."""
        result: list[T] = []
        if not self._until_done(lambda: result.append(action()), size):
            raise _StoppedError
        return result[0]

    def _until_done(self, action: Callable[[], object], size: int) -> bool:
        """Retry an action through store outages; unacknowledged data must not be dropped.

        False if the collector is stopping meanwhile: the batch stays unacknowledged
        and the broker redelivers it on the next session.
        """
        while True:
            try:
                action()
            except (StoreUnavailableError, OSError) as exc:
                self._store_healthy = False
                self._metrics.store_errors.inc()
                log.warning("store unavailable, will retry: %s", exc)
                if self._stopping.wait(self._policy.retry_delay_s):
                    log.warning("stopping with uncommitted messages left unacked (%d)", size)
                    return False
                continue
            self._store_healthy = True
            return True

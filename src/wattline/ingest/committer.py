"""Turns a batch of inbound messages into one archive append and one store commit."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from wattline.archive.base import ArchiveRecord, RawArchive
from wattline.ingest.interpret import InterpretConfig, interpret
from wattline.model.messages import (
    DOWNLINK,
    Hello,
    InboundMessage,
    Interpreted,
    Reading,
    Rejection,
    RejectReason,
    StatusReport,
)
from wattline.observability.metrics import IngestMetrics
from wattline.storage.base import (
    CommitBatch,
    CommitResult,
    QuarantineEntry,
    QuarantineRecord,
)
from wattline.storage.ports import IngestStore

log = logging.getLogger(__name__)


@dataclass(slots=True)
class BatchPlan:
    """What one batch will write; built without I/O besides the registry look-up."""

    readings: list[Reading] = field(default_factory=list)
    hellos: list[Hello] = field(default_factory=list)
    statuses: list[StatusReport] = field(default_factory=list)
    quarantined: list[QuarantineEntry] = field(default_factory=list)
    archive: list[ArchiveRecord] = field(default_factory=list)
    seen_ms: dict[str, int] = field(default_factory=dict)
    register: list[str] = field(default_factory=list)
    # hellos and readings in arrival order, for sequence tracking
    arrival: list[Reading | Hello] = field(default_factory=list)
    # set once the archive holds this batch, so a retried commit does not archive it twice
    archived: bool = False
    # quarantine entries this batch stores after all (a replay)
    resolved_quarantine: list[int] = field(default_factory=list)
    # an import of past readings (CommitBatch.historical)
    historical: bool = False


@dataclass(frozen=True, slots=True)
class ReplayReport:
    accepted: list[int]
    # quarantine id -> the reason it is still rejected for
    still_rejected: dict[int, str]
    result: CommitResult


class Committer:
    def __init__(  # noqa: PLR0913 - collaborators, then keyword-only options
        self,
        store: IngestStore,
        archive: RawArchive,
        interpret_config: InterpretConfig,
        metrics: IngestMetrics,
        *,
        auto_register: bool,
        on_committed: Callable[[Sequence[Reading]], None] | None = None,
    ) -> None:
        self._store = store
        # Told the readings of each committed batch (the live window); never fails a commit.
        self._on_committed = on_committed
        self._archive = archive
        self._config = interpret_config
        self._metrics = metrics
        self._auto_register = auto_register
        self._known: set[str] = set()
        # The collector thread commits while an API request may replay.
        self._lock = threading.RLock()
        # The collector archives one batch while committing the one before.
        self._archive_lock = threading.Lock()

    def plan(self, messages: Sequence[InboundMessage], *, historical: bool = False) -> BatchPlan:
        plan = BatchPlan(historical=historical)
        for message, outcome in zip(messages, self._classify(messages), strict=True):
            if isinstance(outcome, Rejection):
                _add_rejection(plan, message, outcome)
            else:
                _add_accepted(plan, message, outcome)
        plan.register = [d for d in plan.seen_ms if d not in self._known]
        return plan

    def forget(self, device_id: str) -> None:
        """A deleted device is unknown again: its next message is judged as a stranger's."""
        with self._lock:
            self._known.discard(device_id)

    def plan_rejection(self, message: InboundMessage, rejection: Rejection) -> BatchPlan:
        """A plan that only quarantines and archives one message rejected before parsing."""
        plan = BatchPlan()
        _add_rejection(plan, message, rejection)
        return plan

    def replay(self, records: Sequence[QuarantineRecord]) -> ReplayReport:
        """Run quarantined messages through today's rules and registry.

        Accepted ones are stored and leave the quarantine in the same
        transaction; the rest stay, and the report says why. The raw archive
        already holds every one of them, so nothing is archived again.
        """
        # The original arrival time: protocols without device timestamps take it
        # as the reading's time, and the skew rule judges the message as it came.
        messages = [InboundMessage(r.topic, r.payload, r.received_ms) for r in records]
        with self._lock:
            return self._replay(records, messages)

    def _replay(
        self, records: Sequence[QuarantineRecord], messages: Sequence[InboundMessage]
    ) -> ReplayReport:
        plan = BatchPlan(archived=True)
        accepted: list[int] = []
        still_rejected: dict[int, str] = {}
        for record, message, outcome in zip(
            records, messages, self._classify(messages), strict=True
        ):
            if isinstance(outcome, Rejection):
                still_rejected[record.id] = outcome.reason.value
            else:
                _add_accepted(plan, message, outcome)
                accepted.append(record.id)
        plan.register = [d for d in plan.seen_ms if d not in self._known]
        plan.resolved_quarantine = accepted
        result = self.commit(plan)
        return ReplayReport(accepted=accepted, still_rejected=still_rejected, result=result)

    def _classify(self, messages: Sequence[InboundMessage]) -> list[Interpreted | Rejection]:
        outcomes = [interpret(m, self._config) for m in messages]
        admitted = self._admit({o.device_id for o in outcomes if isinstance(o, Interpreted)})
        return [
            Rejection(
                RejectReason.UNKNOWN_DEVICE, f"device {outcome.device_id!r} is not registered"
            )
            if isinstance(outcome, Interpreted) and outcome.device_id not in admitted
            else outcome
            for outcome in outcomes
        ]

    def archive(self, plan: BatchPlan) -> None:
        """Append the batch's messages to the raw archive, once however often it is called.

        ``commit`` does it too; the collector calls it earlier, so that one batch
        is archived while the one before it commits.
        """
        if plan.archive and not plan.archived:
            with self._archive_lock:
                self._archive.append(plan.archive)
            plan.archived = True

    def commit(self, plan: BatchPlan) -> CommitResult:
        """Archive first, then commit: an acknowledged message is always in both."""
        with self._lock:
            return self._commit(plan)

    def _commit(self, plan: BatchPlan) -> CommitResult:
        self.archive(plan)
        result = self._store.commit(
            CommitBatch(
                readings=plan.readings,
                hellos=plan.hellos,
                statuses=plan.statuses,
                quarantined=plan.quarantined,
                seen_ms=plan.seen_ms,
                register=plan.register,
                arrival_order=plan.arrival,
                resolved_quarantine=plan.resolved_quarantine,
                historical=plan.historical,
            )
        )
        self._known.update(plan.register)
        self._count(plan, result)
        if self._on_committed is not None and plan.readings:
            try:
                self._on_committed(plan.readings)
            except Exception:
                # The batch is committed; failing here would retry and delay its ack.
                log.exception("on_committed hook failed")
        return result

    def _admit(self, device_ids: set[str]) -> set[str]:
        unknown = device_ids - self._known
        if unknown:
            self._known |= self._store.existing_devices(unknown)
        if self._auto_register:
            return device_ids
        return device_ids & self._known

    def _count(self, plan: BatchPlan, result: CommitResult) -> None:
        accepted = len(plan.archive) - len(plan.quarantined)
        self._metrics.messages.labels("accepted").inc(accepted)
        self._metrics.messages.labels("quarantined").inc(len(plan.quarantined))
        for entry in plan.quarantined:
            self._metrics.quarantined.labels(entry.reason).inc()
        self._metrics.samples.labels("stored").inc(result.samples_inserted)
        self._metrics.samples.labels("duplicate").inc(result.samples_duplicate)
        self._metrics.samples.labels("corrected").inc(result.samples_corrected)
        self._metrics.seq_duplicates.inc(result.readings_seq_duplicate)


def _add_rejection(plan: BatchPlan, message: InboundMessage, rejection: Rejection) -> None:
    plan.quarantined.append(
        QuarantineEntry(
            received_ms=message.received_ms,
            topic=message.topic,
            reason=rejection.reason.value,
            detail=rejection.detail,
            payload=message.payload,
        )
    )
    plan.archive.append(
        ArchiveRecord(
            received_ms=message.received_ms,
            topic=message.topic,
            payload=message.payload,
            outcome=rejection.reason.value,
            category="rejected",
        )
    )


def _add_accepted(plan: BatchPlan, message: InboundMessage, outcome: Interpreted) -> None:
    plan.archive.append(
        ArchiveRecord(
            received_ms=message.received_ms,
            topic=message.topic,
            payload=message.payload,
            outcome="accepted",
            category=outcome.kind,
        )
    )
    if outcome.kind == DOWNLINK:
        return  # our own command to the device: archived, but it says nothing about the device
    plan.readings.extend(outcome.readings)
    plan.arrival.extend(outcome.readings)
    if outcome.hello is not None:
        plan.hellos.append(outcome.hello)
        plan.arrival.append(outcome.hello)
    if outcome.status is not None:
        plan.statuses.append(outcome.status)
    previous = plan.seen_ms.get(outcome.device_id, 0)
    plan.seen_ms[outcome.device_id] = max(previous, message.received_ms)

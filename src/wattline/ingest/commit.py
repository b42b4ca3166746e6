"""Commit: a plan into the raw archive, then into the store, in one transaction.

Archive first, then commit: an acknowledged message is always in both. The
store's transaction also runs the sequence stage (``model/sequence.py``:
dedup by (device, seq), gaps, reboots), because the sequence state it reads
and writes must change with the samples or not at all.
"""

from __future__ import annotations

import logging
import threading

from wattline.archive.base import ArchiveWriter
from wattline.ingest.admit import Admission
from wattline.ingest.plan import BatchPlan
from wattline.model.events import Committed, OnCommitted, QuarantineNotice
from wattline.observability.metrics import IngestMetrics
from wattline.storage.base import CommitBatch, CommitResult
from wattline.storage.ports import IngestStore

log = logging.getLogger(__name__)

__all__ = ["OnCommitted", "PlanWriter"]


class PlanWriter:
    def __init__(
        self,
        store: IngestStore,
        archive: ArchiveWriter,
        admission: Admission,
        metrics: IngestMetrics,
        on_committed: OnCommitted | None = None,
    ) -> None:
        self._store = store
        self._archive = archive
        self._admission = admission
        self._metrics = metrics
        # Told what each committed batch said (live window, bus, alerts, commands);
        # never fails a commit.
        self._on_committed = on_committed
        # The collector archives one batch while committing the one before.
        self._archive_lock = threading.Lock()

    def archive(self, plan: BatchPlan) -> None:
        """Append the batch's messages to the raw archive, once however often it is called.

        ``commit`` does it too; the collector calls it earlier, so that one batch
        is archived while the one before it commits.
        """
        if plan.archive and not plan.archived:
            with self._archive_lock:
                self._archive.append(plan.archive)
            plan.archived = True

    def commit(self, plan: BatchPlan, *, staged: bool = False) -> CommitResult:
        """``staged``: its readings committed to the staging table, for ``fold`` (ADR 0033);
        they are committed either way, and listeners are told at once."""
        self.archive(plan)
        write = self._store.stage if staged else self._store.commit
        result = write(
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
        self._admission.registered(plan.register)
        self._count(plan, result)
        event = _event(plan)
        if self._on_committed is not None and event:
            try:
                self._on_committed(event)
            except Exception:
                # The batch is committed; failing here would retry and delay its ack.
                log.exception("on_committed hook failed")
        return result

    def fold(self, max_devices: int, min_age_ms: int = 0) -> CommitResult | None:
        """Fold staged readings of up to ``max_devices`` devices (``IngestStore.fold``)."""
        result = self._store.fold(max_devices, min_age_ms)
        if result is not None:
            self._count_samples(result)
            self._metrics.fold_seconds.observe(result.store_seconds)
        return result

    def _count(self, plan: BatchPlan, result: CommitResult) -> None:
        accepted = len(plan.archive) - len(plan.quarantined)
        self._metrics.messages.labels("accepted").inc(accepted)
        self._metrics.messages.labels("quarantined").inc(len(plan.quarantined))
        for entry in plan.quarantined:
            self._metrics.quarantined.labels(entry.reason).inc()
        self._count_samples(result)
        self._metrics.store_seconds.observe(result.store_seconds)

    def _count_samples(self, result: CommitResult) -> None:
        self._metrics.samples.labels("stored").inc(result.samples_inserted)
        self._metrics.samples.labels("duplicate").inc(result.samples_duplicate)
        self._metrics.samples.labels("corrected").inc(result.samples_corrected)
        self._metrics.seq_duplicates.inc(result.readings_seq_duplicate)


def _event(plan: BatchPlan) -> Committed:
    return Committed(
        readings=plan.readings,
        hellos=plan.hellos,
        statuses=plan.statuses,
        command_acks=plan.command_acks,
        ota_statuses=plan.ota_statuses,
        quarantined=[
            QuarantineNotice(entry.topic, entry.reason, entry.received_ms)
            for entry in plan.quarantined
        ],
        seen_ms=plan.seen_ms,
    )

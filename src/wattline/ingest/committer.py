"""The ingest stages behind one object, for the collector, HTTP ingest, import and replay.

decode + validate (``plan.decode``) → identify (``admit.Admission``) → plan
(``plan.plan_batch``) → archive + commit, sequencing inside the store's
transaction (``commit.PlanWriter``); ``replay.py`` runs quarantined messages
through the same stages. The collector acknowledges what was committed.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from wattline.archive.base import ArchiveWriter
from wattline.ingest.admit import Admission, Verdict
from wattline.ingest.commit import OnCommitted, PlanWriter
from wattline.ingest.interpret import InterpretConfig
from wattline.ingest.plan import BatchPlan, Outcome, decode, devices_heard, plan_batch
from wattline.ingest.plan import plan_rejection as _plan_rejection
from wattline.ingest.replay import ReplayReport, replay
from wattline.model.messages import InboundMessage, Rejection
from wattline.observability.metrics import IngestMetrics
from wattline.storage.base import CommitResult, QuarantineRecord
from wattline.storage.ports import IngestStore

__all__ = ["BatchPlan", "Committer", "ReplayReport"]


class Committer:
    def __init__(  # noqa: PLR0913 - collaborators, then keyword-only options
        self,
        store: IngestStore,
        archive: ArchiveWriter,
        interpret_config: InterpretConfig,
        metrics: IngestMetrics,
        *,
        auto_register: bool = False,
        admission: Admission | None = None,
        on_committed: OnCommitted | None = None,
    ) -> None:
        """``admission``: one registry cache shared with other committers (MQTT and
        HTTP ingest); without it the committer keeps its own, by ``auto_register``."""
        self._config = interpret_config
        self.admission = admission or Admission(store, auto_register=auto_register)
        self._writer = PlanWriter(store, archive, self.admission, metrics, on_committed)
        # The collector thread commits while an API request may replay.
        self._lock = threading.RLock()

    def plan(self, messages: Sequence[InboundMessage], *, historical: bool = False) -> BatchPlan:
        """Decode, validate and identify a batch; the registry look-up is its only I/O."""
        outcomes, verdict = self._judge(messages)
        return plan_batch(messages, outcomes, verdict, historical=historical)

    def decoded(self, message: InboundMessage) -> Outcome:
        """One message decoded and validated, not judged: its device, readings or hello,
        or why it is rejected before a device is known (for replay's filters)."""
        return decode([message], self._config)[0]

    def plan_rejection(self, message: InboundMessage, rejection: Rejection) -> BatchPlan:
        """A plan that only quarantines and archives one message rejected before parsing."""
        return _plan_rejection(message, rejection)

    def archive(self, plan: BatchPlan) -> None:
        self._writer.archive(plan)

    def commit(self, plan: BatchPlan, *, staged: bool = False) -> CommitResult:
        """Archive first, then commit: an acknowledged message is always in both.

        ``staged``: the readings are committed to the staging table and reach
        samples, rollups and latest values when ``fold`` moves them (ADR 0033)."""
        with self._lock:
            return self._writer.commit(plan, staged=staged)

    def fold(self, max_devices: int, min_age_ms: int = 0) -> CommitResult | None:
        """Fold staged readings of up to ``max_devices`` devices (``IngestStore.fold``)."""
        with self._lock:
            return self._writer.fold(max_devices, min_age_ms)

    def replay(self, records: Sequence[QuarantineRecord]) -> ReplayReport:
        """Run quarantined messages through today's rules and registry (see replay.py)."""
        with self._lock:
            return replay(records, self._judge, self._writer.commit)

    def forget(self, device_id: str) -> None:
        """A deleted device is unknown again: its next message is judged as a stranger's."""
        self.admission.forget(device_id)

    def _judge(self, messages: Sequence[InboundMessage]) -> tuple[list[Outcome], Verdict]:
        outcomes = decode(messages, self._config)
        return outcomes, self.admission.judge(devices_heard(outcomes))

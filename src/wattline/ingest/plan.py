"""Decode, validate and sort a batch: what it will write, without I/O.

``decode`` runs every message through its protocol adapter and the limits
(``interpret.py``); the admission stage (``admit.py``) then says which of the
devices heard may send; ``plan_batch`` turns both into a ``BatchPlan``: the
readings, hellos and status reports to store, the rejections to quarantine,
every message's archive record, and the devices to register on first contact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from wattline.archive.base import ArchiveRecord
from wattline.ingest.admit import Verdict
from wattline.ingest.interpret import InterpretConfig, interpret
from wattline.model.messages import (
    DOWNLINK,
    CommandAck,
    Hello,
    InboundMessage,
    Interpreted,
    OtaStatus,
    Reading,
    Rejection,
    RejectReason,
    StatusReport,
)
from wattline.storage.base import QuarantineEntry

Outcome = Interpreted | Rejection


@dataclass(slots=True)
class BatchPlan:
    """What one batch will write."""

    readings: list[Reading] = field(default_factory=list)
    hellos: list[Hello] = field(default_factory=list)
    statuses: list[StatusReport] = field(default_factory=list)
    # not stored by ingest: told to the command tracker after the commit
    command_acks: list[CommandAck] = field(default_factory=list)
    ota_statuses: list[OtaStatus] = field(default_factory=list)
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


def decode(messages: Sequence[InboundMessage], config: InterpretConfig) -> list[Outcome]:
    """Each message decoded and validated, or the reason it is rejected."""
    return [interpret(m, config) for m in messages]


def devices_heard(outcomes: Sequence[Outcome]) -> set[str]:
    """The devices whose messages passed decoding: the ones admission must judge."""
    return {o.device_id for o in outcomes if isinstance(o, Interpreted)}


def admitted(outcomes: Sequence[Outcome], verdict: Verdict) -> list[Outcome]:
    """The outcomes with a message from a device admission refused turned into a rejection."""
    return [
        Rejection(RejectReason.UNKNOWN_DEVICE, f"device {o.device_id!r} is not registered")
        if isinstance(o, Interpreted) and o.device_id not in verdict.admitted
        else o
        for o in outcomes
    ]


def plan_batch(
    messages: Sequence[InboundMessage],
    outcomes: Sequence[Outcome],
    verdict: Verdict,
    *,
    historical: bool = False,
) -> BatchPlan:
    """The plan for messages already decoded and judged (``outcomes`` in message order)."""
    plan = BatchPlan(historical=historical)
    for message, outcome in zip(messages, admitted(outcomes, verdict), strict=True):
        if isinstance(outcome, Rejection):
            add_rejected(plan, message, outcome)
        else:
            add_accepted(plan, message, outcome)
    plan.register = [d for d in plan.seen_ms if d in verdict.unregistered]
    return plan


def plan_rejection(message: InboundMessage, rejection: Rejection) -> BatchPlan:
    """A plan that only quarantines and archives one message rejected before decoding."""
    plan = BatchPlan()
    add_rejected(plan, message, rejection)
    return plan


def add_rejected(plan: BatchPlan, message: InboundMessage, rejection: Rejection) -> None:
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


def add_accepted(plan: BatchPlan, message: InboundMessage, outcome: Interpreted) -> None:
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
    if outcome.command_ack is not None:
        plan.command_acks.append(outcome.command_ack)
    if outcome.ota_status is not None:
        plan.ota_statuses.append(outcome.ota_status)
    previous = plan.seen_ms.get(outcome.device_id, 0)
    plan.seen_ms[outcome.device_id] = max(previous, message.received_ms)


def merge_plans(plans: Sequence[BatchPlan]) -> BatchPlan:
    """Plans of consecutive batches as one plan, in order: what the committer commits
    when several batches were planned while it was busy (see ``collector.py``).

    Everything listed is concatenated; a device's last contact is the latest of
    its plans'; a device to register is registered once. The merged plan is
    archived only if every part was; an import (``historical``) merges only with
    imports, since the store treats those batches differently."""
    if len(plans) == 1:
        return plans[0]
    if len({plan.historical for plan in plans}) > 1:
        raise ValueError("an import's plan cannot merge with live plans")
    merged = BatchPlan(
        archived=all(plan.archived for plan in plans), historical=plans[0].historical
    )
    for plan in plans:
        merged.readings += plan.readings
        merged.hellos += plan.hellos
        merged.statuses += plan.statuses
        merged.command_acks += plan.command_acks
        merged.ota_statuses += plan.ota_statuses
        merged.quarantined += plan.quarantined
        merged.archive += plan.archive
        merged.arrival += plan.arrival
        merged.resolved_quarantine += plan.resolved_quarantine
        for device_id, seen_ms in plan.seen_ms.items():
            merged.seen_ms[device_id] = max(merged.seen_ms.get(device_id, 0), seen_ms)
    merged.register = list(dict.fromkeys(d for plan in plans for d in plan.register))
    return merged
